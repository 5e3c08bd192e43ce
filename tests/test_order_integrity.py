"""Order integrity (DESIGN.md §4, :mod:`trustecon.order_integrity`): an order's rows agree on who
bought from whom. Ingest refuses a row that names another buyer or seller than its order's binding
(stored rows first, then the first row in file order); OnlineTrust equals the batch on the rows the
store keeps, and on rows fed directly even when an order's lines disagree."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_helpers import CREATORS, USERS, at, events_table, scores
from test_trust_order_lines import AS_OF, _assert_online_is_batch, online_over_calls_equals_batch

from trustecon import ingest
from trustecon.ingest import ingest_files
from trustecon.order_integrity import check_order_owners
from trustecon.store import Workspace
from trustecon.trust.evidence import to_seconds
from trustecon.trust.online import OnlineTrust
from trustecon.trust.pair import PairTrust

HEADER = "event_id,ts,kind,user_id,creator_id,order_id,amount\n"
COLS = HEADER.strip().split(",")


def csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def jsonl(path: Path, rows: list[str]) -> Path:
    """The same rows as JSON Lines (an empty CSV field is an absent key)."""
    out = []
    for r in rows:
        out.append(json.dumps({k: v for k, v in zip(COLS, r.split(","), strict=True) if v != ""}))
    path.write_text("".join(line + "\n" for line in out))
    return path


def stored_ids(ws: Workspace) -> list[str]:
    return sorted(ws.events_arrow()["event_id"].to_pylist())


def quarantined(ws: Workspace) -> dict[str, tuple[int, str, str]]:
    """event_id → (row, field, reason) of every quarantined row."""
    return {json.loads(q["raw"])["event_id"]: (q["row"], q["field"], q["reason"])
            for q in ws.quarantine_arrow().to_pylist()}


# ----------------------------------------------------------------------------- known answers
def test_rows_naming_another_owner_than_the_stored_one_are_quarantined(ws, tmp_path) -> None:
    ingest_files(ws, [csv(tmp_path / "a.csv", [
        "e1,2024-01-01T00:00:00Z,order,3,10,17,5",
        "e2,2024-01-02T00:00:00Z,refund,,,17,5",  # NULL ids: the order's
    ])])
    b = csv(tmp_path / "b.csv", [
        "e3,2024-01-03T00:00:00Z,order,5,10,17,5",  # line 2: another buyer
        "e4,2024-01-03T00:00:00Z,refund,3,11,17,5",  # line 3: another seller
        "e5,2024-01-03T00:00:00Z,order,3,10,17,7",  # line 4: another line of the same order: stored
        "e6,2024-01-04T00:00:00Z,complaint,5,11,17,",  # line 5: both wrong
        "e1,2024-01-01T00:00:00Z,order,3,10,17,5",  # line 6: a duplicate stays a duplicate
        "e7,2024-01-04T00:00:00Z,complaint,,10,17,",  # line 7: the order's buyer, its seller: stored
    ])
    r = ingest_files(ws, [b]).total
    assert (r.read, r.added, r.duplicates, r.quarantined, r.conflicts) == (6, 2, 1, 3, 0)
    assert stored_ids(ws) == ["e1", "e2", "e5", "e7"]
    assert quarantined(ws) == {
        "e3": (2, "user_id", "order_id 17 belongs to user 3 (stored); this row names user 5"),
        "e4": (3, "creator_id", "order_id 17 belongs to creator 10 (stored); this row names creator 11"),
        "e6": (5, "user_id", "order_id 17 belongs to user 3 (stored); this row names user 5; "
                             "order_id 17 belongs to creator 10 (stored); this row names creator 11"),
    }
    again = ingest_files(ws, [b]).total  # idempotent: the same rejections are not stored twice
    assert (again.added, again.duplicates, again.quarantined, again.already_quarantined) == (0, 3, 0, 3)
    assert stored_ids(ws) == ["e1", "e2", "e5", "e7"]


@pytest.mark.parametrize("fmt, first_line", [("csv", 2), ("jsonl", 1)])
def test_within_one_file_the_first_row_binds_and_a_refused_row_binds_nothing(ws, tmp_path, fmt, first_line) -> None:
    rows = [
        "f1,2024-01-01T00:00:00Z,order,4,,18,5",  # binds buyer 4 (no seller named)
        "f2,2024-01-01T01:00:00Z,order,6,12,18,5",  # another buyer: refused, so seller 12 is not bound by it
        "f3,2024-01-02T00:00:00Z,complaint,,12,18,",  # binds seller 12
        "f4,2024-01-02T00:00:00Z,complaint,,13,18,",  # another seller
        "f5,2024-01-03T00:00:00Z,refund,4,,18,5",  # buyer 4, the order's seller
        "f6,2024-01-03T00:00:00Z,order,6,12,19,5",  # another order: its own binding
        "f7,2024-01-03T00:00:00Z,like,6,13,18,",  # not an order row: not concerned
    ]
    f = (csv if fmt == "csv" else jsonl)(tmp_path / f"c.{fmt}", rows)
    r = ingest_files(ws, [f]).total
    assert (r.added, r.quarantined) == (5, 2)
    assert stored_ids(ws) == ["f1", "f3", "f5", "f6", "f7"]
    line = {f"f{i + 1}": first_line + i for i in range(len(rows))}
    assert quarantined(ws) == {
        "f2": (line["f2"], "user_id",
               f"order_id 18 belongs to user 4 (row {line['f1']} of this file); this row names user 6"),
        "f4": (line["f4"], "creator_id",
               f"order_id 18 belongs to creator 12 (row {line['f3']} of this file); this row names creator 13"),
    }


def test_an_early_refund_naming_another_user_binds_the_order(ws, tmp_path) -> None:
    """A refund before its order binds the order like a line would (the store cannot un-store it):
    the order line naming another buyer is the row refused, in one file or across two."""
    ingest_files(ws, [csv(tmp_path / "one.csv", [
        "r1,2024-01-05T00:00:00Z,refund,5,10,20,5",
        "o1,2024-01-01T00:00:00Z,order,3,10,20,5",
        "o2,2024-01-01T00:00:00Z,order,5,10,20,5",
    ])])
    ingest_files(ws, [csv(tmp_path / "r.csv", ["r2,2024-01-05T00:00:00Z,complaint,7,,21,"])])
    ingest_files(ws, [csv(tmp_path / "o.csv", ["o3,2024-01-01T00:00:00Z,order,3,10,21,5",
                                                "o4,2024-01-01T00:00:00Z,order,7,10,21,5"])])
    assert stored_ids(ws) == ["o2", "o4", "r1", "r2"]
    assert quarantined(ws) == {
        "o1": (3, "user_id", "order_id 20 belongs to user 5 (row 2 of this file); this row names user 3"),
        "o3": (2, "user_id", "order_id 21 belongs to user 7 (stored); this row names user 3"),
    }


def test_a_binding_from_an_earlier_chunk_of_the_same_file_holds(ws, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 2)  # JSON Lines in chunks of two rows: one transaction
    f = jsonl(tmp_path / "big.jsonl", [
        "g1,2024-01-01T00:00:00Z,order,1,10,30,5",
        "g2,2024-01-01T00:00:00Z,like,1,10,,",
        "g3,2024-01-02T00:00:00Z,refund,2,,30,5",  # second chunk: the first chunk's line binds
        "g4,2024-01-02T00:00:00Z,refund,1,,30,5",
    ])
    r = ingest_files(ws, [f]).total
    assert (r.added, r.quarantined) == (3, 1)
    assert quarantined(ws) == {"g3": (3, "user_id", "order_id 30 belongs to user 1 (stored); this row names user 2")}


def test_online_moves_a_resolved_refund_when_a_smaller_buyer_arrives(duck_con) -> None:
    """Session 9's defect: an order's lines name buyers 2 and 1 (the batch's pair is the minimum, 1);
    a refund without ids resolved before the second line reached (2, 10) and stayed there."""
    rows = [
        {"event_id": "a", "ts": at(0), "kind": "order", "user_id": 2, "creator_id": 10, "order_id": 1, "amount": 10.0},
        {"event_id": "b", "ts": at(5), "kind": "refund", "order_id": 1, "amount": 10.0},
        {"event_id": "c", "ts": at(1), "kind": "order", "user_id": 1, "creator_id": 10, "order_id": 1, "amount": 5.0},
        {"event_id": "d", "ts": at(6), "kind": "complaint", "user_id": 2, "order_id": 1},  # names the buyer only
    ]
    online = OnlineTrust().update(rows)
    w = 2.0 ** ((to_seconds(at(5)) - to_seconds(AS_OF)) / PairTrust().config.half_life_seconds)
    assert online.sums(1, 10, AS_OF)["refund"] == pytest.approx(w, rel=1e-12)
    assert abs(online.sums(2, 10, AS_OF)["refund"]) < 1e-15
    assert online.sums(2, 10, AS_OF)["complaint"] > 0  # named user 2: it stays with (2, 10)
    _assert_online_is_batch(duck_con, online, rows, PairTrust())


def test_online_credits_a_refund_once_the_seller_is_named(duck_con) -> None:
    """A log without conflicts: the order's first line names no seller, so a refund without ids has
    no pair yet; the batch credits it through the later line's seller, and so must the update."""
    rows = [
        {"event_id": "a", "ts": at(0), "kind": "order", "user_id": 1, "order_id": 1, "amount": 10.0},
        {"event_id": "b", "ts": at(3), "kind": "refund", "order_id": 1, "amount": 10.0},
        {"event_id": "c", "ts": at(1), "kind": "order", "user_id": 1, "creator_id": 10, "order_id": 1, "amount": 5.0},
    ]
    online = OnlineTrust().update(rows)
    assert online.sums(1, 10, AS_OF)["refund"] > 0
    _assert_online_is_batch(duck_con, online, rows, PairTrust())
    assert scores(duck_con, rows, AS_OF)[(1, 10)]["e_refund"] == pytest.approx(online.sums(1, 10, AS_OF)["refund"])


# ----------------------------------------------------------------------------- properties
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def order_logs(draw: st.DrawFn, max_rows: int = 12) -> list[dict[str, Any]]:
    """Order lines, refunds and complaints over 3 orders, 3 buyers and 2 sellers, with conflicting
    owners and NULL ids (a line may omit its seller; a refund or complaint either id), in log order."""
    rows = []
    for i in range(draw(st.integers(1, max_rows))):
        kind = draw(st.sampled_from(["order", "order", "refund", "complaint"]))
        u = draw(st.sampled_from(USERS)) if kind == "order" else draw(st.sampled_from((None, *USERS)))
        c = draw(st.sampled_from((None, *CREATORS)))
        row = {"event_id": f"h{i}", "ts": at(draw(st.integers(0, 40)) + draw(st.sampled_from([0.0, 0.5]))),
               "kind": kind, "user_id": u, "creator_id": c, "order_id": draw(st.integers(1, 3))}
        if kind != "complaint":
            row["amount"] = float(draw(st.integers(0, 300)))
        rows.append(row)
    return rows


def first_binding(files: list[list[dict[str, Any]]], line0: list[int]) -> tuple[list[str], dict[str, tuple]]:
    """The rule, one row at a time: kept event ids, and per refused row (line, field, reason)."""
    bound: dict[int, dict[str, tuple[int, str]]] = {}  # order → field → (value, where)
    kept, refused = [], {}
    for k, rows in enumerate(files):
        for j, r in enumerate(rows):
            b = bound.setdefault(r["order_id"], {})
            wrong = [(f, word) for f, word in (("user_id", "user"), ("creator_id", "creator"))
                     if r[f] is not None and f in b and r[f] != b[f][0]]
            if wrong:
                why = [f"order_id {r['order_id']} belongs to {word} {b[f][0]} ({b[f][1]}); this row names {word} {r[f]}"
                       for f, word in wrong]
                refused[r["event_id"]] = (line0[k] + j, wrong[0][0], "; ".join(why))
                continue
            kept.append(r["event_id"])
            for f in ("user_id", "creator_id"):
                if r[f] is not None and f not in b:
                    b[f] = (r[f], f"row {line0[k] + j} of this file")
        for b in bound.values():  # the next file sees this one's bindings as stored
            for f, (v, _) in list(b.items()):
                b[f] = (v, "stored")
    return kept, refused


def _text(r: dict[str, Any]) -> str:
    ts = r["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")
    vals = [r["event_id"], ts, r["kind"], r["user_id"], r["creator_id"], r["order_id"], r.get("amount")]
    return ",".join("" if v is None else str(v) for v in vals)


@SETTINGS
@given(rows=order_logs(), cuts=st.lists(st.integers(0, 12), max_size=2),
       fmts=st.lists(st.booleans(), min_size=3, max_size=3), seed=st.integers(0, 10**6))
def test_ingest_in_any_split_keeps_the_rows_that_agree_with_the_first_binding(tmp_path_factory, duck_con, rows,
                                                                              cuts, fmts, seed) -> None:
    """Any split of a random log into files (CSV or JSON Lines), ingested in order: the store keeps
    exactly the rows the one-row-at-a-time rule keeps, quarantines the others with the reason it
    gives, and OnlineTrust over the kept rows (in any order) equals the batch build ≤ 1e-9."""
    bounds = sorted({0, len(rows), *(min(c, len(rows)) for c in cuts)})
    files = [rows[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    line0 = [2 if fmts[k] else 1 for k in range(len(files))]  # CSV: header on line 1
    d = tmp_path_factory.mktemp("oi")
    ws = Workspace.init(d / "ws")
    for k, part in enumerate(files):
        text = [_text(r) for r in part]
        ingest_files(ws, [csv(d / f"{k}.csv", text) if fmts[k] else jsonl(d / f"{k}.jsonl", text)])
    kept, refused = first_binding(files, line0)
    assert stored_ids(ws) == sorted(kept)
    assert quarantined(ws) == refused
    stored = [r for r in rows if r["event_id"] in set(kept)]
    online = OnlineTrust().update(random.Random(seed).sample(stored, len(stored)))
    _assert_online_is_batch(duck_con, online, stored, PairTrust())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=order_logs(16), cut=st.integers(0, 16))
def test_the_set_wise_check_equals_the_rule_one_row_at_a_time(tmp_path_factory, rows, cut) -> None:
    """:func:`check_order_owners` itself (no workspace: many more examples), against a stored part
    written as Parquet and a batch: the rows it refuses and its reasons are the rule's."""
    prefix, batch = rows[:cut], rows[cut:]
    kept0, _ = first_binding([prefix], [1])
    stored = []
    if kept0:
        path = tmp_path_factory.mktemp("st") / "s.parquet"
        pq.write_table(events_table([r for r in prefix if r["event_id"] in set(kept0)]), path)
        stored = [str(path)]
    keep, rejected = check_order_owners(events_table(batch), None, lambda: stored, "f", 1, None)
    kept, refused = first_binding([prefix, batch], [1, 1])
    assert keep["event_id"].to_pylist() == [i for i in kept if i not in set(kept0)]
    got = {json.loads(q["raw"])["event_id"]: (q["row"], q["field"], q["reason"]) for q in rejected.to_pylist()}
    assert got == {k: v for k, v in refused.items() if k in {r["event_id"] for r in batch}}


@SETTINGS
@given(rows=order_logs(14), seed=st.integers(0, 10**6), calls=st.integers(1, 3), up=st.booleans())
def test_online_equals_batch_when_an_orders_rows_disagree(duck_con, rows, seed, calls, up) -> None:
    """Rows fed to OnlineTrust directly (no store to refuse them): lines of one order naming several
    buyers and sellers, refunds before and after them, in any order and over calls — after every call
    the state equals a batch over what it has seen (the batch's pair of an order: the minimum ids)."""
    online_over_calls_equals_batch(duck_con, rows, seed, calls, PairTrust(user_prior=up))


def test_the_reference_rule_by_hand() -> None:
    """The one-row-at-a-time rule the property holds ingest to, on a hand case: a buyer bound within
    a file, a seller bound by a refund and held against the next file."""
    a = {"event_id": "x0", "ts": at(0), "kind": "order", "user_id": 1, "creator_id": None, "order_id": 1}
    b = {**a, "event_id": "x1", "user_id": 2}
    c = {**a, "event_id": "x2", "kind": "refund", "user_id": None, "creator_id": 10}
    kept, refused = first_binding([[a, b, c], [{**c, "event_id": "x3", "creator_id": 11}]], [2, 2])
    assert kept == ["x0", "x2"]
    assert refused == {"x1": (3, "user_id", "order_id 1 belongs to user 1 (row 2 of this file); this row names user 2"),
                       "x3": (2, "creator_id", "order_id 1 belongs to creator 10 (stored); this row names creator 11")}

