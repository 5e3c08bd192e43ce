"""``trustecon build`` / ``explain``: one commit, empty and commerce-free workspaces, unknown ids,
and resuming OnlineTrust from what build wrote."""

from __future__ import annotations

import json
import math

import pytest
from test_trust_helpers import Log, at, events_table
from typer.testing import CliRunner

from trustecon.cli import app
from trustecon.store import Workspace
from trustecon.trust.build import TABLES
from trustecon.trust.online import OnlineTrust

runner = CliRunner()


def _run(*args: str):
    res = runner.invoke(app, [str(a) for a in args])
    return res


def _shop_log() -> Log:
    log = Log()
    for u in range(20, 40):
        for d in range(0, 10):  # ten active days: long enough history for the seed rule
            log.add("view", at(d), user_id=u, creator_id=1, content_id=5, watch_ms=900, duration_ms=1000)
        log.add("order", at(1), user_id=u, creator_id=1, order_id=1000 + u, amount=50.0, brand_id=7)
        log.add("order", at(2), user_id=u, creator_id=2, order_id=2000 + u, amount=50.0, brand_id=8)
    log.add("refund", at(5), order_id=1020, amount=50.0)
    log.add("live_enter", at(9), user_id=20, creator_id=1, session_id=77)
    return log


def test_build_writes_all_tables_in_one_commit(ws) -> None:
    ws.append(_shop_log().table())
    version = ws.manifest()["version"]
    res = _run("build", ws.path, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["rows"]["pair_trust"] == 40 and out["rows"]["seller_reliability"] == 4
    assert out["seed_rule"] == "commerce" and out["seeds"] == 19  # user 20's order with creator 1 was refunded
    assert ws.manifest()["version"] == version + 1  # one transaction for every table
    assert set(TABLES) <= set(ws.table_names())
    pt = ws.read_table("pair_trust")
    assert all(0 <= t <= 1 for t in pt["trust"].to_pylist())
    # explain each kind of score
    pair = json.loads(_run("explain", ws.path, "--user", 21, "--creator", 1, "--json").stdout)
    assert pair["channels"][0]["channel"] in ("order", "view") and pair["trust"] > 0.5
    assert sum(c["share"] for c in pair["channels"]) == pytest_approx(1.0)
    cred = json.loads(_run("explain", ws.path, "--creator", 1, "--json").stdout)
    assert cred["seed_trusters"] == 19 and cred["rank"] in (1, 2)
    sel = json.loads(_run("explain", ws.path, "--seller", 1, "--json").stdout)
    assert sel["refunded"] == 1 and sel["orders_that_moved_it"][0]["order_id"] == 1020
    assert _run("explain", ws.path, "--seller", 8, "--seller-kind", "brand").exit_code == 0


def test_stored_types_do_not_depend_on_the_data(ws, tmp_path) -> None:
    # Every trust table has one schema whatever the log holds: a log with orders once stored the
    # ledger's buyer_weight as DECIMAL(2,1) and buyer_orders as DECIMAL(38,0) (DuckDB's literal
    # types), where a log without orders stored float64 and int64.
    ws.append(_shop_log().table())
    assert _run("build", ws.path).exit_code == 0
    empty = Workspace.init(tmp_path / "empty")
    assert _run("build", empty.path).exit_code == 0
    for name in TABLES:
        full, none = ws.read_table(name).schema, empty.read_table(name).schema
        assert [(f.name, f.type) for f in full] == [(f.name, f.type) for f in none], name
    assert ws.read_table("seller_ledger").num_rows > 0


def pytest_approx(x: float):
    import pytest

    return pytest.approx(x, abs=1e-9)


def _error(res) -> str:
    """The one error line of a failed command (rich may wrap it at the terminal width: rejoined)."""
    return " ".join(res.output.split())


def test_empty_workspace(ws) -> None:
    """Every explain form on an empty (built) log: exit 2 with one line naming the id and why."""
    res = _run("build", ws.path, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["as_of"] is None and all(n == 0 for n in out["rows"].values())
    assert "no events" in out["messages"][0]
    for args, who in ((("--creator", 1), "creator 1"), (("--user", 2, "--creator", 1), "creator 1"),
                      (("--seller", 3), "creator 3"), (("--seller", 4, "--seller-kind", "brand"), "brand 4")):
        res = _run("explain", ws.path, *args)
        assert res.exit_code == 2, (args, res.output)
        assert _error(res) == f"error: {who}: not in the event log (the log is empty)", args


def _views_log() -> Log:
    """Views only (no commerce): creators 100 and 101 watched, 102 only published."""
    log = Log()
    for u in range(1, 30):
        for d in range(u % 5 + 1):
            log.add("like", at(d), user_id=u, creator_id=100)
    log.add("view", at(1), user_id=3, creator_id=101, content_id=8, watch_ms=900, duration_ms=1000)
    log.add("publish", at(2), creator_id=102, content_id=9)
    return log


def test_no_commerce_still_scores_what_it_can(ws) -> None:
    """A log without orders: a known creator gets credibility and creator trust (equal to the built
    tables) with a note that seller reliability cannot be computed, exit 0; ids with no score exit 2."""
    ws.append(_views_log().table())
    res = _run("build", ws.path, "--json")
    out = json.loads(res.stdout)
    assert out["rows"]["pair_trust"] == 30 and out["rows"]["seller_reliability"] == 0
    assert any("no commerce" in m for m in out["messages"])
    assert out["seed_rule"] == "activity"
    cred = ws.read_table("creator_credibility").to_pylist()
    assert cred[0]["credibility"] > 0 and not math.isnan(cred[0]["credibility"])
    res = _run("explain", ws.path, "--creator", 100, "--json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    row = next(r for r in ws.read_table("creator_trust").to_pylist() if r["creator_id"] == 100)
    assert got["creator_trust"]["trust"] == pytest.approx(row["trust"], abs=1e-9) and row["users"] == 29
    assert got["credibility"] == pytest.approx(next(r["credibility"] for r in cred if r["creator_id"] == 100))
    assert got["notes"] == {"seller_reliability": "no seller reliability for creator 100: the workspace has no orders"}
    text = _run("explain", ws.path, "--creator", 100)
    assert text.exit_code == 0 and "note: no seller reliability for creator 100" in _error(text)
    assert "nan" not in text.output.lower()
    when = "as of the build (2024-01-05 00:00 UTC)"  # the latest event: user 29's fifth day
    res = _run("explain", ws.path, "--seller", 100)
    assert res.exit_code == 2
    assert _error(res) == f"error: creator 100: no seller reliability {when}: the workspace has no orders"
    res = _run("explain", ws.path, "--creator", 102)  # in the log, but nobody's evidence names it
    assert res.exit_code == 2
    assert _error(res) == f"error: creator 102: no trust evidence {when}: no user event toward this creator counts " \
        "as evidence"
    # Both ids in the log, no evidence between them: a score that can be computed (the prior).
    pair = json.loads(_run("explain", ws.path, "--user", 3, "--creator", 102, "--json").stdout)
    assert pair["trust"] == 0.5 and pair["confidence"] == 0.0 and "no evidence" in pair["summary"]


def test_unknown_ids_and_bad_arguments(ws) -> None:
    res = _run("explain", ws.path, "--creator", 1)
    assert res.exit_code == 2 and "trustecon build" in res.output
    ws.append(_shop_log().table())
    _run("build", ws.path)
    for args, msg in [
        (("--creator", 999), "creator 999: not in the event log (no event names this creator)"),
        (("--user", 999, "--creator", 1), "user 999: not in the event log (no event names this user)"),
        (("--user", 20, "--creator", 999), "creator 999: not in the event log (no event names this creator)"),
        (("--seller", 999), "creator 999: not in the event log (no event names this creator)"),
        (("--seller", 20), "creator 20: not in the event log (no event names this creator)"),  # a buyer, not a seller
        (("--seller", 999, "--seller-kind", "brand"), "brand 999: not in the event log (no event names this brand)"),
    ]:
        for fmt in ((), ("--json",)):
            res = _run("explain", ws.path, *args, *fmt)
            assert res.exit_code == 2 and _error(res) == f"error: {msg}", (args, fmt, res.output)
    # A creator whose first event came after the build: rebuild to score it.
    ws.append(events_table([{"event_id": "late", "ts": at(20), "kind": "like", "user_id": 21, "creator_id": 5}]))
    res = _run("explain", ws.path, "--creator", 5)
    assert res.exit_code == 2 and _error(res) == ("error: creator 5: no trust evidence as of the build "
                                                  "(2024-01-10 00:00 UTC): its first event is later; run "
                                                  "'trustecon build' again")
    assert _run("explain", ws.path, "--user", 5).exit_code == 2
    assert _run("explain", ws.path).exit_code == 2
    assert _run("build", ws.path, "--as-of", "yesterday").exit_code == 2
    assert _run("build", ws.path / "nope").exit_code == 2
    # An instant before the log's first event scores nothing: an error, and the built tables stay.
    version = ws.manifest()["version"]
    early = _run("build", ws.path, "--as-of", "2020-01-01")
    assert early.exit_code == 2 and "before the log's first event" in early.output
    assert ws.manifest()["version"] == version
    for cmd in (("build", ws.path), ("explain", ws.path, "--creator", 1)):
        bad = _run(*cmd, "--engine", "bogus")
        assert bad.exit_code == 2 and "unknown engine" in bad.output


def test_explain_names_only_positive_channels_as_raising(ws) -> None:
    """User 20's trust in creator 1: views and an order raised it, the refund held it back; the
    summary never lists the refund among what raised it."""
    ws.append(_shop_log().table())
    _run("build", ws.path)
    out = json.loads(_run("explain", ws.path, "--user", 20, "--creator", 1, "--json").stdout)
    raised = out["summary"].split("raised most by ")[1].split(";")[0].split(", ")
    assert "refund" in {c["channel"] for c in out["channels"]} and "refund" not in raised
    assert set(raised) <= {c["channel"] for c in out["channels"] if c["sign"] == "+"}
    assert "held back by refund" in out["summary"]


def test_resume_online_across_build(ws, duck_con, tmp_path) -> None:
    """Build as of day 9.5 (an open live visit, orders without outcome), then a late refund, the
    visit's exit and new orders arrive online; equal to a rebuild over everything."""
    log = _shop_log()
    ws.append(log.table())
    _run("build", ws.path, "--as-of", at(9.5).isoformat())
    online = OnlineTrust.from_table(
        ws.read_table("pair_trust"), ws.read_table("trust_orders"), ws.read_table("trust_sessions")
    )
    later = Log()
    later.rows = []
    extra = [
        {"event_id": "x1", "ts": at(10), "kind": "live_leave", "user_id": 20, "creator_id": 1, "session_id": 77},
        {"event_id": "x2", "ts": at(11), "kind": "refund", "order_id": 1025, "amount": 50.0},
        {"event_id": "x3", "ts": at(11), "kind": "complaint", "order_id": 2030},
        {"event_id": "x4", "ts": at(12), "kind": "order", "user_id": 21, "creator_id": 1, "order_id": 9, "amount": 5.0},
    ]
    online.update(extra)
    full = Workspace.init(tmp_path / "full")
    full.append(events_table(log.rows + extra))
    _run("build", full.path)
    batch = {(r["user_id"], r["creator_id"]): r for r in full.read_table("pair_trust").to_pylist()}
    for r in online.scores(at(12)).to_pylist():
        b = batch[(r["user_id"], r["creator_id"])]
        assert abs(r["trust"] - b["trust"]) < 1e-9 and abs(r["alpha"] - b["alpha"]) < 1e-9
    assert batch[(20, 1)]["e_live_minutes"] > 0


@pytest.mark.spark
def test_build_on_spark_equals_duckdb(tmp_path, spark_con) -> None:
    """The fused build (materialised pass, side table, ledger; DuckDB reads time by ``epoch_us``) gives
    the same tables on Spark (creator trust included): integers and flags equal, floats within 1e-9
    relative. Two orders have a second line (one later, one earlier than the first line): an order
    counts once, with its lines' amounts summed, on both engines; so does a refunded order (two
    orders refunded by several lines)."""
    import numpy as np

    from trustecon.trust.build import build

    log = _shop_log()
    log.add("order", at(1.1), user_id=21, creator_id=1, order_id=1021, amount=20.0, brand_id=7)
    log.add("order", at(1.9), user_id=22, creator_id=2, order_id=2022, amount=5.0, brand_id=8)
    log.add("view", at(3), user_id=21, creator_id=2, content_id=6, watch_ms=100, duration_ms=1000)
    log.add("live_leave", at(9.02), user_id=20, creator_id=1, session_id=77)
    log.add("complaint", at(6), order_id=2021)
    # Order 1020 refunded by two more lines (one earlier than its first refund) and order 2023 by two
    # lines and a complaint twice: each counts once per order, at its earliest event, on both engines.
    log.add("refund", at(4.5), order_id=1020, amount=10.0)
    log.add("refund", at(7), order_id=1020, amount=5.0)
    log.add("refund", at(3), order_id=2023, amount=20.0)
    log.add("refund", at(3.5), order_id=2023, amount=30.0)
    log.add("complaint", at(8), order_id=2021)
    out = {}
    types: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for eng, con in (("duckdb", None), ("spark", spark_con)):
        w = Workspace.init(tmp_path / eng)
        w.append(log.table())
        res = build(w, engine=eng, con=con)
        out[eng] = (res, {n: w.read_table(n).to_pandas() for n in TABLES})
        types[eng] = {n: [(f.name, str(f.type)) for f in w.read_table(n).schema] for n in TABLES}
    assert types["duckdb"] == types["spark"]  # one stored schema per table, whichever engine built it
    assert out["duckdb"][0].rows == out["spark"][0].rows and out["duckdb"][0].seed_rule == out["spark"][0].seed_rule
    for name in TABLES:
        a, b = out["duckdb"][1][name], out["spark"][1][name]
        keys = [c for c in a.columns if c in ("user_id", "creator_id", "node", "seller_kind", "seller_id", "order_id",
                                              "session_id")]
        a, b = a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
        for c in a.columns:
            if a[c].dtype.kind == "f":
                np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-9, atol=1e-12,
                                           err_msg=f"{name}.{c}")
            elif a[c].dtype.kind in "iub":
                assert (a[c].to_numpy() == b[c].to_numpy()).all(), f"{name}.{c}"


def test_explanation_rows_fit_the_terminal_and_lose_nothing() -> None:
    # At 80 columns rich squeezed every column alike: a ledger's reason became one letter per line and
    # numbers were cut to "0.0042…". rows_view picks the first layout that fits; whatever it picks,
    # no line is wider than the terminal, nothing is cut, and every letter and digit of every cell and
    # header is printed.
    import io
    from collections import Counter

    from rich.console import Console

    from trustecon.cli._app import _cell, rows_view

    assert [_cell(v) for v in (0.004241, 1.0, 156.93, True, None, 12345, 7)] == [
        "0.00424", "1", "157", "yes", "—", "12,345", "7"
    ]
    assert _cell("2026-01-03T16:37:04.222000+00:00") == "2026-01-03 16:37 UTC"
    assert _cell("2026-01-03 16:37:04+08:00") == "2026-01-03 16:37 +08:00"
    assert _cell("2026-01-03T16:37") == "2026-01-03 16:37" and _cell("2026-01-03 is a day") == "2026-01-03 is a day"
    rows = [
        {"order_id": 6, "buyer_id": 87, "time": "2026-01-03T16:37:04.222000+00:00", "outcome": "kept",
         "buyer_weight": 1.0, "d_alpha": 0.9454, "d_beta": 0.0, "delta": 0.1607,
         "reason": "kept, buyer engaged with the seller before ordering"},
        {"order_id": 1, "buyer_id": 81, "time": "2026-01-01T16:26:29.773000+00:00", "outcome": "refunded",
         "buyer_weight": 0.1, "d_alpha": 0.0, "d_beta": 0.9309, "delta": -0.1586,
         "reason": "refunded, unvetted buyer with no engagement before ordering"},
    ]
    want = Counter(ch for k in rows[0] for ch in k if ch.isalnum())  # the headers once, the cells
    want += Counter(ch for r in rows for v in r.values() for ch in _cell(v) if ch.isalnum())
    layouts = set()
    for width in range(24, 200, 5):
        out = io.StringIO()
        Console(file=out, width=width, color_system=None).print(rows_view(rows, width))
        text = out.getvalue()
        layouts.add("bordered" if "┏" in text else "records" if "┌" in text else "borderless")
        assert max(len(line) for line in text.splitlines()) <= width, width
        assert "…" not in text
        got = Counter(ch for ch in text if ch.isalnum())
        assert not want - got, (width, want - got)
    assert layouts == {"bordered", "borderless", "records"}
    # Bordered at its natural width: 1 + Σ(widest cell or header + 3) = 1 + (8+8+20+8+12+7+6+6+59 + 27) = 162
    # ("order id", "buyer id", "2026-01-03 16:37 UTC", "refunded", "buyer weight", "d alpha", "d beta",
    # "-0.159", and the second reason, 59 characters).
    assert "┏" in _render(rows_view(rows, 162), 162) and "┏" not in _render(rows_view(rows, 161), 161)
    # Below the bordered width, the borderless table; below its least width, one table per row.
    assert _render(rows_view(rows, 80), 80).count("order id") == 0 and "reason" in _render(rows_view(rows, 80), 80)
    assert _render(rows_view(rows, 40), 40).count("order id") == 2


def _render(renderable: object, width: int) -> str:
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()
