"""Refunds and complaints count once per (user, creator, order_id), at the latest event
(evidence.py's module doc; trustecon/trust/orders.py).

Known answers: an order refunded by three refund lines is one refund at the latest line's time,
two refunded orders are two, refunds without an order id count each, as of τ only lines at or before
τ count (the latest of those: batch, reference rows, explanation, online in any arrival order; a
build that a refund spans, resumed). Hypothesis: splitting a refund or complaint over several events
of its order changes nothing against the refund as one event at the latest of them (batch and
online); another event of an order at ANY time changes e_refund by exactly the documented amount and
never raises T (DESIGN.md §5, without exception); online equals batch within 1e-9 in any arrival
order and across a build; the engine sums equal the reference rows and a plain-Python count of
refunded orders; the in-memory build path equals the engine. (Spark: test_trust_cli's build test
has an order refunded twice.)"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_helpers import (
    CREATORS,
    USERS,
    Log,
    assert_fused_sums_equal_rows,
    at,
    events_table,
    resumed_after_build,
    scores,
)
from test_trust_order_lines import _assert_online_is_batch, _same_sums, online_over_calls_equals_batch, split_logs
from test_trust_pivot import _assert_same

from trustecon.store import Workspace
from trustecon.trust.build import build
from trustecon.trust.evidence import DEFAULT_WEIGHTS as W
from trustecon.trust.evidence import evidence_rows, to_seconds
from trustecon.trust.explain import explain_pair
from trustecon.trust.online import OnlineTrust
from trustecon.trust.pair import PairTrust

SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
AS_OF = at(60)
H = 30 * 86_400.0
NEG = ("refund", "complaint")


def _w(ts: dt.datetime, as_of: dt.datetime = AS_OF) -> float:
    return 2.0 ** ((to_seconds(ts) - to_seconds(as_of)) / H)


# ----------------------------------------------------------------------------- known answers
def _refund_log() -> Log:
    """Order 1 (¥135, day 0) refunded by three lines (days 45, 30, 60) and complained about twice
    (days 60, 30); order 2 (¥0, day 30) refunded once (day 60); two refunds naming the pair but no
    order (day 0)."""
    log = Log()
    log.add("order", at(0), user_id=1, creator_id=10, order_id=1, amount=135.0)
    log.add("order", at(30), user_id=1, creator_id=10, order_id=2, amount=0.0)
    for d, a in ((45, 50.0), (30, 50.0), (60, 35.0)):
        log.add("refund", at(d), order_id=1, amount=a)
    log.add("refund", at(60), order_id=2, amount=1.0)
    log.add("refund", at(0), user_id=1, creator_id=10, amount=5.0)  # no order id: each counts
    log.add("refund", at(0), user_id=1, creator_id=10, amount=5.0)
    log.add("complaint", at(60), order_id=1)
    log.add("complaint", at(30), order_id=1)
    return log


def test_refund_lines_of_one_order_count_once(duck_con) -> None:
    # As of day 60 (h = 30 days): order 1's refund is its latest (day-60) line, 1; order 2's refund
    # 1; the two order-less refunds 0.25 each: e_refund = 2.5 (per event it would be 2^-½ + 0.5 + 1
    # + 1 + 0.5 ≈ 3.71). Complaints: order 1's day-60 one, 1 (per event 1.5). Orders: 2·0.25 + 1·0.5
    # = 1 and one repurchase (order 2), 0.5. α = 1 + 2·1 + 4·0.5 = 5, β = 1 + 5·2.5 + 8·1 = 21.5,
    # T = 5 / 26.5 = 10/53.
    log = _refund_log()
    model = PairTrust(user_prior=False)
    r = scores(duck_con, log.rows, AS_OF, model=model)[(1, 10)]
    assert r["e_refund"] == pytest.approx(2.5, abs=1e-12)
    assert r["e_complaint"] == pytest.approx(1.0, abs=1e-12)
    assert r["e_order"] == pytest.approx(1.0, abs=1e-12) and r["e_repurchase"] == pytest.approx(0.5, abs=1e-12)
    assert r["n_events"] == 7  # two orders, four refunds (two orders + two order-less), one complaint
    assert r["first_s"] == to_seconds(at(0)) and r["last_s"] == to_seconds(at(60))
    alpha, beta = 1 + W["order"] * 1.0 + W["repurchase"] * 0.5, 1 + W["refund"] * 2.5 + W["complaint"] * 1.0
    assert (alpha, beta) == (5.0, 21.5)
    assert r["alpha"] == pytest.approx(alpha, abs=1e-12) and r["beta"] == pytest.approx(beta, abs=1e-12)
    assert r["trust"] == pytest.approx(10 / 53, abs=1e-12)
    # The reference rows (what explanations list): one refund row per order, at its latest line.
    ev = ibis.memtable(log.table())
    rows = duck_con.to_pyarrow(evidence_rows(ev, AS_OF)).to_pylist()
    got = sorted((x["channel"], x["t"], x["intensity"]) for x in rows if x["channel"] in NEG)
    assert got == [("complaint", to_seconds(at(60)), 1.0), ("refund", to_seconds(at(0)), 1.0),
                   ("refund", to_seconds(at(0)), 1.0), ("refund", to_seconds(at(60)), 1.0),
                   ("refund", to_seconds(at(60)), 1.0)]
    # The explanation counts what the score counts.
    a0, b0 = model.priors
    ex = explain_pair(ev, r, weights=model.weights, prior_alpha=a0, prior_beta=b0)
    by = {c["channel"]: c for c in ex["channels"]}
    assert (by["refund"]["events"], by["refund"]["decayed"]) == (4, pytest.approx(2.5, abs=1e-10))
    assert (by["complaint"]["events"], by["complaint"]["contribution"]) == (1, pytest.approx(8.0, abs=1e-9))
    # As of day 50 only the lines at or before it count, the latest of them: order 1's day-45 refund
    # line (2^(−5/30)) and day-30 complaint (2^(−20/30)); not order 2's refund; the order-less two
    # 2^(−50/30) each.
    s50 = scores(duck_con, log.rows, at(50), model=model)[(1, 10)]
    assert s50["e_refund"] == pytest.approx(2 ** (-5 / 30) + 2 * 2 ** (-50 / 30), abs=1e-12)
    assert s50["e_complaint"] == pytest.approx(2 ** (-20 / 30), abs=1e-12) and s50["n_events"] == 6
    # Online, in any arrival order (refunds before their order, the earliest line last): the same.
    rs = log.rows
    for perm in (rs, rs[::-1], [*rs[2:], *rs[:2]], [rs[2], rs[4], rs[9], rs[0], rs[8], rs[3], rs[1], rs[6], rs[7],
                                                    rs[5]]):
        online = OnlineTrust(model)
        for row in perm:
            online.update_one(row)
        s = online.sums(1, 10, AS_OF)
        assert s is not None
        assert s["refund"] == pytest.approx(2.5, abs=1e-12) and s["complaint"] == pytest.approx(1.0, abs=1e-12)
        assert online.score(1, 10, AS_OF)["trust"] == pytest.approx(10 / 53, abs=1e-12)


def test_online_later_refund_line_moves_it_forward_and_earlier_adds_nothing(duck_con) -> None:
    """As of day 60: the day-45 refund (held until its order arrives) is 2^(−15/30); a day-30 line
    arriving late changes nothing; a day-60 line moves the refund to day 60: 1."""
    log = Log()
    log.add("refund", at(45), order_id=1, amount=50.0)  # arrives before its order: held
    log.add("order", at(0), user_id=1, creator_id=10, order_id=1, amount=135.0)
    log.add("refund", at(30), order_id=1, amount=50.0)  # earlier line, late: nothing
    log.add("refund", at(60), order_id=1, amount=35.0)  # later line: the refund moves forward
    online = OnlineTrust(PairTrust(user_prior=False))
    online.update_one(log.rows[0])
    assert online.sums(1, 10, AS_OF) is None
    expected = (2 ** (-15 / 30), 2 ** (-15 / 30), 1.0)
    for row, e in zip(log.rows[1:], expected, strict=True):
        online.update_one(row)
        s = online.sums(1, 10, AS_OF)
        assert s is not None and s["refund"] == pytest.approx(e, abs=1e-12)
        assert online.user_sums(1, AS_OF)["refund"] == pytest.approx(e, abs=1e-12)  # the user's prior moved too
    b = scores(duck_con, log.rows, AS_OF)[(1, 10)]
    assert b["e_refund"] == pytest.approx(1.0, abs=1e-12) and b["n_events"] == 2
    assert online.score(1, 10, AS_OF)["trust"] == pytest.approx(b["trust"], abs=1e-12)


def test_resume_with_a_refund_spanning_the_build(tmp_path, duck_con) -> None:
    """Order 1 refunded at day 30 and complained about at day 35 before a build at day 40; after it a
    refund line at day 50 (moves the refund forward), one at day 20 (late and earlier: nothing) and a
    complaint at day 55 (moves the complaint forward). As of day 60: e_refund = 2^(−10/30),
    e_complaint = 2^(−5/30). Resumed with the build's ``trust_order_negatives``: the batch; without it
    the later lines would count again."""
    log = Log()
    log.add("order", at(0), user_id=1, creator_id=10, order_id=1, amount=135.0)
    log.add("like", at(1), user_id=1, creator_id=10)
    log.add("refund", at(30), order_id=1, amount=50.0)
    log.add("complaint", at(35), user_id=1, creator_id=10, order_id=1)
    later = [{"event_id": f"x{i}", "ts": at(d), "kind": k, "order_id": 1, "amount": 10.0}
             for i, (k, d) in enumerate((("refund", 50), ("refund", 20), ("complaint", 55)))]
    ws = Workspace.init(tmp_path / "w")
    ws.append(log.table())
    build(ws, con=duck_con, as_of=at(40))
    assert ws.read_table("trust_order_negatives").to_pylist() == [
        {"user_id": 1, "creator_id": 10, "order_id": 1, "refund_last_s": to_seconds(at(30)),
         "complaint_last_s": to_seconds(at(35))}]
    b = scores(duck_con, [*log.rows, *later], AS_OF)[(1, 10)]
    assert b["e_refund"] == pytest.approx(2 ** (-10 / 30), abs=1e-12)
    assert b["e_complaint"] == pytest.approx(2 ** (-5 / 30), abs=1e-12)
    resumed = OnlineTrust.from_workspace(ws).update(later)
    s = resumed.sums(1, 10, AS_OF)
    assert s is not None
    assert s["refund"] == pytest.approx(b["e_refund"], abs=1e-12)
    assert s["complaint"] == pytest.approx(b["e_complaint"], abs=1e-12)
    assert resumed.score(1, 10, AS_OF)["trust"] == pytest.approx(b["trust"], abs=1e-12)
    args = (ws.read_table("pair_trust"), ws.read_table("trust_orders"), ws.read_table("trust_sessions"))
    blind = OnlineTrust.from_table(*args, order_totals=ws.read_table("trust_order_totals")).update(later)
    assert blind.score(1, 10, AS_OF)["trust"] < b["trust"] - 1e-3
    old = ws.read_table("trust_order_negatives").rename_columns(
        ["user_id", "creator_id", "order_id", "refund_s", "complaint_s"])
    with pytest.raises(ValueError, match=r"trust_order_negatives has 'refund_s'.*rebuild"):
        OnlineTrust.from_table(*args, order_negatives=old)


# ----------------------------------------------------------------------------- logs with refund lines
def _lines(draw: st.DrawFn, row: dict[str, Any], earlier: bool) -> list[dict[str, Any]]:
    """A refund or complaint as 1–4 events of its order: the first at its time, the others at the
    same or later times up to AS_OF (``earlier``: or up to 5 days before it). The refund is then at
    the latest of them (:func:`refund_logs` moves the unsplit row there)."""
    k = draw(st.integers(1, 4))
    steps = [-5.0, -0.5] if earlier else []
    out = []
    for j in range(k):
        ts = row["ts"]
        if j:
            ts = min(ts + dt.timedelta(days=draw(st.sampled_from([*steps, 0.0, 0.1, 2.0, 9.0]))), AS_OF)
        extra = {"amount": row["amount"] / k} if row["kind"] == "refund" else {}
        out.append({**row, "event_id": f"{row['event_id']}.r{j}", "ts": ts, **extra})
    return out


@st.composite
def refund_logs(draw: st.DrawFn, max_events: int = 16, earlier: bool = False,
                no_order_id: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A random log with multi-line orders (``split_logs``) whose refunds and complaints sometimes
    name a pair (their own, or only the user), and the same log with each refund or complaint split
    into events of its order (the unsplit one at its latest event's time). ``no_order_id``: a few
    refunds/complaints naming a pair without an order id are added to both (they count each; a
    workspace would reject them)."""
    _, rows = draw(split_logs(max_events, earlier=earlier))
    whole: list[dict[str, Any]] = []
    split: list[dict[str, Any]] = []
    for r in rows:
        if r["kind"] not in NEG:
            whole.append(r)
            split.append(r)
            continue
        ids = draw(st.sampled_from(["order", "order", "pair", "user"]))
        if ids != "order":
            r = {**r, "user_id": draw(st.sampled_from(USERS))}
        if ids == "pair":
            r = {**r, "creator_id": draw(st.sampled_from(CREATORS))}
        lines = _lines(draw, r, earlier)
        whole.append({**r, "ts": max(x["ts"] for x in lines)})
        split.extend(lines)
    if no_order_id:
        for i in range(draw(st.integers(0, 3))):
            loose = {"event_id": f"n{i}", "ts": at(draw(st.integers(0, 59))), "kind": draw(st.sampled_from(NEG)),
                     "user_id": draw(st.sampled_from(USERS)), "creator_id": draw(st.sampled_from(CREATORS))}
            whole.append(loose)
            split.append(loose)
    return whole, split


@SETTINGS
@given(logs=refund_logs(no_order_id=True), seed=st.integers(0, 10**6), up=st.booleans())
def test_splitting_a_refund_over_events_of_its_order_never_changes_trust(duck_con, logs, seed, up) -> None:
    whole, split = logs
    model = PairTrust(user_prior=up)
    want = scores(duck_con, whole, AS_OF, model=model)
    _same_sums(scores(duck_con, split, AS_OF, model=model), want)
    shuffled = list(split)
    random.Random(seed).shuffle(shuffled)
    online = OnlineTrust(model)
    for i in range(3):
        online.update(shuffled[i::3])
    _assert_online_is_batch(duck_con, online, whole, model)


@SETTINGS
@given(logs=refund_logs(18, earlier=True, no_order_id=True), seed=st.integers(0, 10**6), calls=st.integers(1, 4),
       up=st.booleans())
def test_online_equals_batch_with_refund_lines_in_any_order(duck_con, logs, seed, calls, up) -> None:
    """Refund lines before their order, an earlier line after a later one, in several calls: after
    every call the online state equals a batch over what it has seen."""
    online_over_calls_equals_batch(duck_con, logs[1], seed, calls, PairTrust(user_prior=up))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(logs=refund_logs(16, earlier=True), cut=st.integers(5, 50), seed=st.integers(0, 10**6))
def test_resume_from_build_with_refund_lines_spanning_it(tmp_path_factory, duck_con, logs, cut, seed) -> None:
    _, rows = logs
    online = resumed_after_build(tmp_path_factory, duck_con, rows, at(cut), seed)
    _assert_online_is_batch(duck_con, online, rows, PairTrust())


@SETTINGS
@given(logs=refund_logs(earlier=True), pick=st.integers(0, 10**6), kind=st.sampled_from(NEG),
       anchor=st.sampled_from(["first", "last"]), shift=st.sampled_from([-6.0, -0.5, 0.0, 0.5, 3.0]),
       up=st.booleans())
def test_another_refund_event_changes_evidence_only_as_documented(duck_con, logs, pick, kind, anchor, shift,
                                                                  up) -> None:
    """Adding a ``kind`` event of an order at ANY time up to τ (before the order's earliest such
    event, between them, at or after its latest): a first one adds w(t); one at or before the
    order's latest such event t₁ adds nothing; a later one moves it forward (w(t) − w(t₁) > 0). T
    never rises (DESIGN.md §5, without exception)."""
    _, rows = logs
    orders = [r for r in rows if r["kind"] == "order" and r["user_id"] != r["creator_id"]]
    if not orders:
        return
    o = orders[pick % len(orders)]
    u, c, oid = o["user_id"], o["creator_id"], o["order_id"]
    # (the order's own events: those naming no pair, or this order's pair)
    seen = [r["ts"] for r in rows if r["kind"] == kind and r.get("order_id") == oid and r["ts"] <= AS_OF
            and r.get("user_id") in (None, u) and r.get("creator_id") in (None, c)]
    t1 = max(seen) if seen else None
    if seen:
        base = min(seen) if anchor == "first" else max(seen)
    else:
        base = min(r["ts"] for r in orders if r["order_id"] == oid)
    t = min(base + dt.timedelta(days=shift), AS_OF)
    extra = {"event_id": "extra", "ts": t, "kind": kind, "order_id": oid, **({"amount": 1.0} if kind == "refund"
                                                                              else {})}
    m = PairTrust(user_prior=up)
    before, after = scores(duck_con, rows, AS_OF, model=m)[(u, c)], scores(duck_con, [*rows, extra], AS_OF, model=m)
    change = after[(u, c)][f"e_{kind}"] - before[f"e_{kind}"]
    want = _w(t) if t1 is None else (_w(t) - _w(t1) if t > t1 else 0.0)
    assert change == pytest.approx(want, abs=1e-12) and want >= 0.0
    assert after[(u, c)]["n_events"] == before["n_events"] + (t1 is None)
    assert after[(u, c)]["trust"] <= before["trust"] + 1e-12


# ----------------------------------------------------------------------------- the paths agree
def _refunded_orders(rows: list[dict[str, Any]]) -> dict[tuple[int, int], dict[str, float]]:
    """By hand: per pair the decayed refund and complaint sums, one per (pair, order, kind) at its
    latest event at or before AS_OF (each event without an order id), the pair resolved through the
    order's lines (min buyer, min creator) when the event does not name it."""
    buyer: dict[int, int] = {}
    seller: dict[int, int] = {}
    for r in rows:
        if r["kind"] == "order":
            oid = r["order_id"]
            for m, f in ((buyer, "user_id"), (seller, "creator_id")):
                if r.get(f) is not None:
                    m[oid] = min(m.get(oid, r[f]), r[f])
    latest: dict[tuple[Any, ...], dt.datetime] = {}
    for i, r in enumerate(rows):
        if r["kind"] not in NEG or r["ts"] > AS_OF:
            continue
        oid = r.get("order_id")
        u = r.get("user_id") if r.get("user_id") is not None else buyer.get(oid)
        c = r.get("creator_id") if r.get("creator_id") is not None else seller.get(oid)
        if u is None or c is None or u == c:
            continue
        key = (u, c, r["kind"], oid if oid is not None else f"event {i}")
        latest[key] = max(latest.get(key, r["ts"]), r["ts"])
    out: dict[tuple[int, int], dict[str, float]] = {}
    for (u, c, kind, _), ts in latest.items():
        s = out.setdefault((u, c), {"refund": 0.0, "complaint": 0.0, "n": 0})
        s[kind] += _w(ts)
        s["n"] += 1
    return out


@SETTINGS
@given(logs=refund_logs(18, earlier=True, no_order_id=True))
def test_engine_sums_equal_the_reference_rows_and_a_count_by_hand(duck_con, logs) -> None:
    _, rows = logs
    fused, expect = assert_fused_sums_equal_rows(duck_con, ibis.memtable(events_table(rows)), AS_OF)
    hand = _refunded_orders(rows)
    for k in set(fused) | set(hand):
        got = fused.get(k, {"e_refund": 0.0, "e_complaint": 0.0})
        want = hand.get(k, {"refund": 0.0, "complaint": 0.0})
        assert got["e_refund"] == pytest.approx(want["refund"], abs=1e-12), k
        assert got["e_complaint"] == pytest.approx(want["complaint"], abs=1e-12), k
        assert expect.get(k, {}).get("neg", 0) == hand.get(k, {}).get("n", 0), k  # one row per refunded order


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logs=refund_logs(18, earlier=True, no_order_id=True), up=st.booleans())
def test_in_memory_build_path_equals_engine_with_refund_lines(duck_con, logs, up) -> None:
    _assert_same(duck_con, logs[1], PairTrust(user_prior=up), as_of=AS_OF)
