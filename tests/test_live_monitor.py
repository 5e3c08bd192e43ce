"""The streaming room monitor: hand-worked answers, incremental == batch (hypothesis), the simulator log.

The batch side is :func:`trustecon.live.monitor.room_stats` on DuckDB, itself built from the KPI
definitions (live_visits, visit_products, live_room_metrics, funnel_visits).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustecon.engine import connect
from trustecon.events import SCHEMA
from trustecon.live.monitor import RoomMonitor, room_stats, snapshots_table
from trustecon.live.rooms import differences

T0 = dt.datetime(2026, 1, 1, 10, 0, 0, tzinfo=dt.UTC)
H = 100  # the host
S = 500  # the session


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def table(rows: list[dict]) -> pa.Table:
    full = [{"event_id": f"e{i}", **r} for i, r in enumerate(rows)]
    return pa.Table.from_pylist(full, schema=SCHEMA)


def batch(events: pa.Table) -> list[dict]:
    return connect("duckdb").to_pyarrow(room_stats(ibis.memtable(events))).to_pylist()


def same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def assert_equal_to_batch(mon: RoomMonitor, events: pa.Table) -> None:
    got = snapshots_table(mon.snapshot_all()).to_pylist()
    want = batch(events)
    assert [r["session_id"] for r in got] == [r["session_id"] for r in want]
    for g, w in zip(got, want, strict=True):
        diff = {k: (g[k], v) for k, v in w.items() if not same(g[k], v)}
        assert not diff, f"session {w['session_id']}: monitor vs batch {diff}"


def ev(t: float, kind: str, **kw: object) -> dict:
    base = {"ts": at(t), "kind": kind, "session_id": S, "creator_id": H}
    if kind in ("follow", "unfollow", "refund"):
        base.pop("session_id")
    return {**base, **kw}


def tiny_room() -> list[dict]:
    """One session (500) of host 100, four viewers; the answers are worked out in the test below."""
    return [
        ev(-100, "follow", user_id=4),  # user 4 is an old fan
        ev(0, "live_start"),
        ev(0, "product_pin", product_id=1),
        ev(10, "live_enter", user_id=4),
        ev(20, "order", user_id=4, order_id=9002, amount=30.0, creator_id=H),
        ev(30, "live_enter", user_id=1),
        ev(40, "live_leave", user_id=4),
        ev(60, "live_enter", user_id=2),
        ev(90, "product_pin", product_id=2),
        ev(100, "follow", user_id=2),
        ev(120, "product_click", user_id=1, product_id=2),
        ev(150, "like", user_id=2),
        ev(180, "order", user_id=1, order_id=9001, amount=50.0),
        ev(200, "live_leave", user_id=2),
        ev(240, "product_pin", product_id=3),
        ev(250, "live_enter", user_id=3),
        ev(260, "live_leave", user_id=3),
        ev(300, "live_end"),
    ]


def test_known_answers_tiny_room() -> None:
    # Visits: u4 [10, 40] 30 s; u1 [30, 300] 270 s (closed by the live_end); u2 [60, 200] 140 s;
    # u3 [250, 260] 10 s. Watch 450 s = 7.5 min over 4 closed visits = 1.875 min per visit.
    # Products seen (pins: p1 at 0, p2 at 90, p3 at 240): u4 anchor 0 → {p1} = 1; u1 anchor 0 →
    # {p1, p2, p3} = 3; u2 anchor 0, up to 200 → {p1, p2} = 2; u3 anchor 240 → {p3} = 1: 7 / 4 = 1.75.
    # Interactions in the room: u1's click and u2's like = 2 → 2 / 7.5 = 0.2667 per minute.
    # Funnel: entered 4; watched ≥ 1 min: u1, u2 = 2; clicked: u1 = 1; ordered: u1 = 1 (u4 ordered but
    # watched 30 s); kept: 9001 not refunded = 1.
    # Money: GMV 50 + 30 = 80 over 2 orders (AOV 40), 2 buyers; UV value 80 / 4 = 20; GPM 1000·80/4 =
    # 20000; new followers: u2 (follow at 100 in [60, 300]) = 1 → 0.25; old fans: u4 followed at -100,
    # before the start (0); u1 did not → 1 / 2 = 0.5.
    # Concurrency after each instant: 10→1, 30→2, 40→1, 60→2, 200→1, 250→2, 260→1, 300→0; per minute
    # (minute 2 has no change and holds 2; minute 5 = [300 s, 360 s) starts with the live_end, so the
    # level 1 before it does not count): peaks 2, 2, 2, 2, 2, 0; peak 2; now 0.
    events = table(tiny_room())
    mon = RoomMonitor()
    mon.feed_batch(events)
    s = mon.snapshot(S)
    assert (s.visits, s.closed_visits, s.unique_viewers) == (4, 4, 4)
    assert s.watch_minutes == pytest.approx(7.5) and s.watch_minutes_per_visit == pytest.approx(1.875)
    assert (s.products_pinned, s.products_seen, s.products_seen_per_visit) == (3, 7, 1.75)
    assert s.interactions == 2 and s.interactions_per_minute == pytest.approx(2 / 7.5)
    assert (s.entered, s.watched_1min, s.clicked, s.ordered, s.kept) == (4, 2, 1, 1, 1)
    assert (s.gmv, s.orders, s.buyers, s.aov, s.uv_value, s.gpm) == (80.0, 2, 2, 40.0, 20.0, 20000.0)
    assert (s.new_followers, s.follower_conversion) == (1, 0.25)
    assert (s.old_fan_buyers, s.old_fan_buyer_share) == (1, 0.5)
    assert (s.concurrent, s.peak_concurrent, s.live) == (0, 2, False)
    assert [n for _, n in s.concurrent_per_minute] == [2, 2, 2, 2, 2, 0]
    assert s.concurrent_per_minute[0][0] == at(0)
    assert s.start == at(0) and s.end == at(300) and s.creator_id == H
    assert_equal_to_batch(mon, events)


def test_while_live_and_late_refund() -> None:
    rows = tiny_room()
    mon = RoomMonitor()
    mon.feed_batch(table(rows[:13]))  # up to u1's order at 180: u1, u2 still in the room
    s = mon.snapshot(S)
    assert s.live and s.concurrent == 2 and s.closed_visits == 1  # only u4 left
    assert s.watched_1min == 0  # open visits have no length yet (the batch rule)
    mon.feed_batch(table(rows[13:]))
    assert mon.snapshot(S).kept == 1
    # A refund of u1's order three days after the room ended: kept drops to 0, as in the batch.
    refund = ev(300 + 3 * 86400, "refund", order_id=9001, amount=50.0)
    mon.feed(refund)
    assert mon.snapshot(S).kept == 0
    # The same refund arriving late (before the newest instant applied) is still applied, once.
    late = RoomMonitor()
    late.feed_batch(table([*rows, ev(400, "like", user_id=3)]))
    late.snapshot(S)
    late.feed(ev(250, "refund", order_id=9001, amount=50.0))
    late.feed(ev(251, "refund", order_id=9001, amount=50.0))
    s = late.snapshot(S)
    assert s.kept == 0 and s.ordered == 1 and s.late_dropped == 0
    fed = [*rows, ev(400, "like", user_id=3), ev(250, "refund", order_id=9001, amount=50.0)]
    assert_equal_to_batch(late, table(fed))


def test_late_visit_events_are_dropped_and_counted() -> None:
    rows = tiny_room()
    mon = RoomMonitor()
    mon.feed_batch(table(rows))
    mon.feed(ev(100, "live_enter", user_id=9))  # before the live_end already applied
    s = mon.snapshot(S)
    assert s.late_dropped == 1 and mon.late_dropped == 1 and s.visits == 4


def test_same_instant_tie_order() -> None:
    # At t=60: u1 leaves and re-enters; a pin arrives after the enter in the feed; the live_end at 120
    # arrives before an enter at 120. Tie rules (the batch's): pins, leaves, enters, ..., live_end.
    rows = [
        ev(0, "live_start"),
        ev(0, "live_enter", user_id=1),
        ev(0, "product_pin", product_id=1),
        ev(60, "live_enter", user_id=1),
        ev(60, "live_leave", user_id=1),
        ev(60, "product_pin", product_id=2),
        ev(120, "live_end"),
        ev(120, "live_enter", user_id=2),
        ev(120, "follow", user_id=2),
        ev(120, "unfollow", user_id=2),
    ]
    mon = RoomMonitor()
    for r in rows:
        mon.feed(r)
    s = mon.snapshot(S)
    # u1: [0, 60] leave, [60, 120] live_end; u2: [120, 120] live_end. 120 s watched over 3 visits.
    assert (s.visits, s.closed_visits, s.watch_minutes) == (3, 3, 2.0)
    # u1's first visit sees p1, p2 (anchor 0 .. 60); the second anchors at 60 → p2; u2 anchors at 60 → p2.
    assert s.products_seen == 4 and s.new_followers == 1
    assert_equal_to_batch(mon, table(rows))


def test_bad_input() -> None:
    mon = RoomMonitor()
    with pytest.raises(ValueError, match="kind"):
        mon.feed({"event_id": "x", "ts": T0})
    with pytest.raises(ValueError, match="ts"):
        mon.feed({"event_id": "x", "kind": "live_enter"})
    with pytest.raises(TypeError, match="datetime"):
        mon.feed({"event_id": "x", "kind": "live_enter", "ts": "2026-01-01"})
    with pytest.raises(KeyError, match="session 7"):
        mon.snapshot(7)
    with pytest.raises(ValueError, match="min_watch_ms"):
        RoomMonitor(min_watch_ms=-1)


# ---------------------------------------------------------------- hypothesis: incremental == batch
KINDS = ["live_start", "live_end", "live_enter", "live_enter", "live_leave", "live_leave", "product_pin"]
KINDS += ["product_click", "like", "gift", "order", "order", "refund", "follow", "unfollow"]


@st.composite
def streams(draw: st.DrawFn) -> list[dict]:
    n = draw(st.integers(1, 45))
    rows = []
    for _ in range(n):
        kind = draw(st.sampled_from(KINDS))
        s = draw(st.integers(1, 3))
        r = {"ts": at(draw(st.integers(0, 15)) * 30), "kind": kind, "session_id": s, "creator_id": 100 + s}
        r["user_id"] = draw(st.integers(1, 4))
        if kind == "product_pin":
            r["product_id"] = draw(st.integers(1, 4))
            del r["user_id"]
        if kind in ("live_start", "live_end"):
            del r["user_id"]
        if kind == "product_click":
            r["product_id"] = 1
        if kind == "order":
            r["order_id"] = draw(st.integers(1, 5))
            r["amount"] = draw(st.sampled_from([0.0, 9.9, 25.5, 100.0]))
        if kind == "refund":
            r = {"ts": r["ts"], "kind": kind, "order_id": draw(st.integers(1, 5)), "amount": 1.0}
        if kind in ("follow", "unfollow"):
            del r["session_id"]
        rows.append(r)
    rows.sort(key=lambda r: r["ts"])  # stable: ties keep their random order
    return rows


def in_room_oracle(rows: list[dict], session: int) -> tuple[int, list[int]]:
    """Concurrent viewers by brute force: per instant, apply leaves, enters, then live_end; returns the
    peak and the per-minute peaks (minutes from the first to the last instant where an enter, a leave
    of an open visit or a live_end happened; a live_end empties the room, a later leave still closes)."""
    rank = {"live_leave": 0, "live_enter": 1, "live_end": 2}
    inside: set[int] = set()
    open_: set[int] = set()
    levels: list[tuple[int, int]] = []  # (second, level after the instant)
    instants = sorted({r["ts"] for r in rows})
    for t in instants:
        evs = [r for r in rows if r["ts"] == t and r.get("session_id") == session and r["kind"] in rank]
        changed = False
        for r in sorted(evs, key=lambda r: rank[r["kind"]]):
            if r["kind"] == "live_leave":
                changed |= r["user_id"] in open_
                inside.discard(r["user_id"])
                open_.discard(r["user_id"])
            elif r["kind"] == "live_enter":
                inside.add(r["user_id"])
                open_.add(r["user_id"])
                changed = True
            else:
                inside.clear()
                changed = True
        if changed:
            levels.append((int((t - T0).total_seconds()), len(inside)))
    if not levels:
        return 0, []
    first, last = levels[0][0] // 60, levels[-1][0] // 60
    peaks = []
    for m in range(first, last + 1):
        before = [lv for s, lv in levels if s < m * 60]
        within = [lv for s, lv in levels if m * 60 <= s < m * 60 + 60]
        start_level = before[-1] if before and not any(s == m * 60 for s, _ in levels) else None
        peaks.append(max([*within, *([start_level] if start_level is not None else [])]))
    return max(lv for _, lv in levels), peaks


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=streams(), cuts=st.lists(st.integers(0, 45), max_size=4))
def test_incremental_equals_batch(rows: list[dict], cuts: list[int]) -> None:
    events = table(rows)
    whole = RoomMonitor()
    whole.feed_batch(events)
    assert_equal_to_batch(whole, events)
    # Any split into batches gives the same numbers; a snapshot between batches is allowed where the
    # split falls between two instants (a snapshot closes the newest instant).
    split = RoomMonitor()
    bounds = sorted({0, len(rows), *(c for c in cuts if c <= len(rows))})
    for a, b in zip(bounds, bounds[1:], strict=False):
        split.feed_batch(rows[a:b])
        if b < len(rows) and rows[b]["ts"] > rows[b - 1]["ts"]:
            split.snapshot_all()
    assert snapshots_table(split.snapshot_all()).equals(snapshots_table(whole.snapshot_all()))
    for snap in whole.snapshot_all():
        peak, minutes = in_room_oracle(rows, snap.session_id)
        assert snap.peak_concurrent == peak
        assert [n for _, n in snap.concurrent_per_minute] == minutes
        assert snap.late_dropped == 0


def test_small_simulated_workspace_replay_equals_batch(tmp_path: Path) -> None:
    from trustecon.simulate import preset, simulate
    from trustecon.store import Workspace

    ws = Workspace.init(tmp_path / "ws")
    simulate(ws, dataclasses.replace(preset("small"), seed=3), calibrate=False)
    ev_ = ws.events_arrow().sort_by([("ts", "ascending")])
    mon = RoomMonitor()
    mon.feed_batch(ev_)
    got = snapshots_table(mon.snapshot_all()).to_pylist()
    want = room_stats(ws.events(connect("duckdb"))).to_pyarrow().to_pylist()
    assert len(got) == len(want) > 50
    assert sum(r["gmv"] for r in want) > 0 and sum(r["kept"] for r in want) > 0
    for g, w in zip(got, want, strict=True):
        diff = {k: (g[k], v) for k, v in w.items() if not same(g[k], v)}
        assert not diff, f"session {w['session_id']}: {diff}"


def test_cli_live_json(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from trustecon.cli import app
    from trustecon.store import Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.append(table(tiny_room()))
    res = CliRunner().invoke(app, ["live", str(ws.path), "--json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)["sessions"]
    assert (row["session_id"], row["kept"], row["gmv"], row["products_seen_per_visit"]) == (S, 1, 80.0, 1.75)
    res = CliRunner().invoke(app, ["live", str(ws.path), "--session", str(S), "--json"])
    assert [n for _, n in json.loads(res.output)["sessions"][0]["concurrent_per_minute"]] == [2, 2, 2, 2, 2, 0]
    # One session is a two-column table: every number named in full, whatever the terminal width.
    res = CliRunner().invoke(app, ["live", str(ws.path), "--session", str(S)], env={"COLUMNS": "60"})
    rows = {ln.strip("│ ").split("│")[0].strip(): ln.strip("│ ").split("│")[-1].strip()
            for ln in res.output.splitlines() if ln.startswith("│")}
    # (known answers of the tiny room, worked out in test_known_answers_tiny_room)
    assert (rows["GMV"], rows["orders / buyers"], rows["products seen per visit"]) == ("80.00", "2 / 2", "1.75")
    res = CliRunner().invoke(app, ["live", str(ws.path), "--session", "1"])
    assert res.exit_code == 2 and "session 1" in res.output
    res = CliRunner().invoke(app, ["live", str(ws.path), "--check"])
    assert res.exit_code == 0 and "monitor == batch KPIs (duckdb) on 1 sessions" in res.output
    # differences() reports a monitor that missed events (here: the last five).
    partial = RoomMonitor()
    partial.feed_batch(tiny_room()[:-5])
    diffs = differences(partial.snapshot_all(), ibis.memtable(table(tiny_room())))
    assert any("closed_visits: monitor 1, batch 4" in d for d in diffs)


def test_two_enters_at_one_instant_are_two_visits() -> None:
    # u1 enters twice at 0 (the first visit is closed by the second, 0 ms) and leaves at 60; p1 pinned
    # at 0: both visits see p1 → 2 closed visits, 2 products. (The batch once merged the two visits,
    # keyed by (user, session, enter): 1 closed visit, 1 product.)
    rows = [ev(0, "product_pin", product_id=1), ev(0, "live_enter", user_id=1), ev(0, "live_enter", user_id=1)]
    rows.append(ev(60, "live_leave", user_id=1))
    mon = RoomMonitor()
    mon.feed_batch(rows)
    s = mon.snapshot(S)
    assert (s.visits, s.closed_visits, s.products_seen, s.watch_minutes) == (2, 2, 2, 1.0)
    assert_equal_to_batch(mon, table(rows))


def test_cli_live_table_fits_the_terminal() -> None:
    # At 80 columns the 15-column table used to print every cell as "0…". Now columns are left out,
    # least important first, until it fits; what is shown is never truncated, and the estimate of the
    # width is the width rich draws.
    import io

    from rich.console import Console

    from trustecon.cli.live import _COLS, rooms_table

    mon = RoomMonitor()
    mon.feed_batch(tiny_room())
    snaps = mon.snapshot_all()
    full = 0
    for width in range(30, 260, 7):
        t, hidden = rooms_table(snaps, "rooms", width)
        out = io.StringIO()
        Console(file=out, width=width, color_system=None).print(t)
        lines = [line for line in out.getvalue().splitlines() if line.strip() and line.strip() != "rooms"]
        drawn = max(len(line) for line in lines)
        shown = [c for c in _COLS if c not in hidden]
        assert "…" not in out.getvalue()
        # The fitting's width formula (widest cell or header + 3 per column, + 1) is what rich draws.
        assert drawn == 1 + sum(max([len(c.header)] + [len(c.cell(s)) for s in snaps]) + 3 for c in shown)
        assert drawn <= width or all(c.priority == 0 for c in shown), (width, drawn)
        if hidden:  # every column left out is at most as important as every column kept (bar the always-kept)
            assert min(c.priority for c in hidden) >= max([c.priority for c in shown if c.priority > 0], default=0)
        else:
            full = full or drawn
    assert full == 167  # all 15 columns of the tiny room at their natural width
    _, hidden80 = rooms_table(snaps, "rooms", 80)
    # By hand at 80: the priority ≤ 2 columns take (7+3)+(4+3)+(11+3)+(6+3)+(7+3)+(9+3)+(5+3)+1 = 71
    # ("01-01 10:00" is 11 wide, "80.00" 5); of the priority-3 columns GPM (listed last) goes first,
    # then inter/min (71+7+12 = 90 > 80), and peak stays (71+7 = 78).
    assert [c.header for c in hidden80] == [
        "seen/visit", "inter/min", "funnel e→w→c→o→k", "UV value", "GPM", "follow conv", "old fans"
    ]
