"""KPI catalogue: known answers on tiny hand-built logs, nulls with reasons, DuckDB == Spark.

Every expected number is worked out by hand in the comments next to its fixture. Times are minutes
or days after T0 = 2024-01-01 00:00 UTC unless said otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustecon import kpis
from trustecon.events import SCHEMA
from trustecon.store import Workspace

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def m(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def d(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def table(rows: list[dict[str, Any]], prefix: str = "e") -> pa.Table:
    """Rows (ts, kind, fields...) → an event table; event ids are ``prefix`` + row number."""
    cols: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    for i, r in enumerate(rows):
        r = {"event_id": f"{prefix}{i}", **r}
        for f in SCHEMA:
            cols[f.name].append(r.get(f.name))
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in SCHEMA}, schema=SCHEMA)


def load(tmp_path: Path, rows: list[dict[str, Any]], con, timezone: str = "UTC"):
    ws = Workspace.init(tmp_path / f"ws{len(list(tmp_path.iterdir()))}", timezone=timezone)
    res = ws.append(table(rows))
    assert res.quarantined == 0, ws.quarantine_arrow().to_pylist()
    return ws.events(con)


def rows_of(expr, sort: list[str] | None = None) -> list[dict[str, Any]]:
    out = expr.to_pyarrow().to_pylist()
    return sorted(out, key=lambda r: tuple(str(r[k]) for k in sort)) if sort else out


def one(expr) -> dict[str, Any]:
    out = rows_of(expr)
    assert len(out) == 1, out
    return out[0]


def by(expr, key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows_of(expr)}


# --------------------------------------------------------------------------------------------- live
# Session 1 (host 100): live_start 0, live_end 60. Pins: p1@0, p2@12, p3@25, p1@50.
#   u1: enter 0 leave 10 | enter 20 leave 30 | leave 30 then enter 30 (same instant) leave 35
#       → visits 10, 10, 5 min (at one instant the leave is ordered first).
#   u2: enter 5, no leave → ends at live_end 60: 55 min.
#   u3: enter 10, enter 15 (re-enter: first visit ends there, 5 min), leave 40: 25 min.
#   u4: a leave at 45 with no enter: ignored.
# Session 2 (host 200): no live_end. u1 enter 100 leave 106: 6 min. u5 enter 100, no leave: open.
# Visits 8, closed 7, minutes 10+10+5+55+5+25+6 = 116 → 116/7 per visit.
# Products seen (anchor = last pin at/before enter):
#   u1 [0,10] p1 → 1; u1 [20,30] anchor p2@12: p2,p3 → 2; u1 [30,35] anchor p3@25: p3 → 1;
#   u2 [5,60] anchor p1@0: p1,p2,p3 → 3; u3 [10,15] p1,p2 → 2; u3 [15,40] anchor p2: p2,p3 → 2;
#   u1 session 2: no pins → 0. Total 11 over 7 closed visits.
# Interactions: live (with session): u1 like@3, u1 comment@4, u2 gift@30, u3 product_click@26 (s1),
#   u1 like@101 (s2) → 5 over 116 live minutes. Video (no session, with content): u1 like c11,
#   u2 share c11 → 2 over views 1 + 2 + 3 = 6 min. An interaction with neither is not counted.
#   Ratio = (5/116) / (2/6) = 15/116.
LIVE_ROWS: list[dict[str, Any]] = [
    dict(ts=m(0), kind="live_start", creator_id=100, session_id=1),
    dict(ts=m(60), kind="live_end", creator_id=100, session_id=1),
    dict(ts=m(0), kind="product_pin", creator_id=100, session_id=1, product_id=1),
    dict(ts=m(12), kind="product_pin", creator_id=100, session_id=1, product_id=2),
    dict(ts=m(25), kind="product_pin", creator_id=100, session_id=1, product_id=3),
    dict(ts=m(50), kind="product_pin", creator_id=100, session_id=1, product_id=1),
    dict(ts=m(0), kind="live_enter", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(10), kind="live_leave", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(20), kind="live_enter", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(30), kind="live_enter", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(30), kind="live_leave", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(35), kind="live_leave", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(5), kind="live_enter", user_id=2, creator_id=100, session_id=1),
    dict(ts=m(10), kind="live_enter", user_id=3, creator_id=100, session_id=1),
    dict(ts=m(15), kind="live_enter", user_id=3, creator_id=100, session_id=1),
    dict(ts=m(40), kind="live_leave", user_id=3, creator_id=100, session_id=1),
    dict(ts=m(45), kind="live_leave", user_id=4, creator_id=100, session_id=1),
    dict(ts=m(100), kind="live_start", creator_id=200, session_id=2),
    dict(ts=m(100), kind="live_enter", user_id=1, creator_id=200, session_id=2),
    dict(ts=m(106), kind="live_leave", user_id=1, creator_id=200, session_id=2),
    dict(ts=m(100), kind="live_enter", user_id=5, creator_id=200, session_id=2),
    dict(ts=m(3), kind="like", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(4), kind="comment", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(30), kind="gift", user_id=2, creator_id=100, session_id=1, amount=10.0),
    dict(ts=m(26), kind="product_click", user_id=3, creator_id=100, session_id=1, product_id=3),
    dict(ts=m(101), kind="like", user_id=1, creator_id=200, session_id=2),
    dict(ts=m(200), kind="view", user_id=1, creator_id=100, content_id=11, watch_ms=60_000, duration_ms=90_000),
    dict(ts=m(201), kind="view", user_id=2, creator_id=100, content_id=11, watch_ms=120_000, duration_ms=90_000),
    dict(ts=m(202), kind="view", user_id=3, creator_id=300, content_id=12, watch_ms=180_000, duration_ms=90_000),
    dict(ts=m(203), kind="like", user_id=1, creator_id=100, content_id=11),
    dict(ts=m(204), kind="share", user_id=2, creator_id=100, content_id=11),
    dict(ts=m(205), kind="like", user_id=3, creator_id=300),
]


def test_live_visits_pairing(tmp_path, duck_con):
    ev = load(tmp_path, LIVE_ROWS, duck_con)
    v = rows_of(kpis.live_visits(ev), ["session_id", "user_id", "enter"])
    got = [(r["session_id"], r["user_id"], r["watch_ms"], r["closed_by"]) for r in v]
    assert got == [
        (1, 1, 600_000, "leave"),
        (1, 1, 600_000, "leave"),
        (1, 1, 300_000, "leave"),
        (1, 2, 3_300_000, "live_end"),
        (1, 3, 300_000, "next_enter"),
        (1, 3, 1_500_000, "leave"),
        (2, 1, 360_000, "leave"),
        (2, 5, None, None),
    ]


def test_live_watch_time_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, LIVE_ROWS, duck_con)
    r = one(kpis.live_watch_time(ev))
    assert (r["visits"], r["closed_visits"]) == (8, 7)
    assert r["value"] == pytest.approx(116 / 7)
    per = by(kpis.live_watch_time(ev, by_creator=True), "creator_id")
    assert per[100]["value"] == pytest.approx(110 / 6)  # 10+10+5+55+5+25
    assert per[200]["value"] == pytest.approx(6.0) and per[200]["visits"] == 2


def test_products_seen_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, LIVE_ROWS, duck_con)
    r = one(kpis.products_seen_per_visit(ev))
    assert (r["closed_visits"], r["products_seen"]) == (7, 11)
    assert r["value"] == pytest.approx(11 / 7)


def test_interactions_per_minute_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, LIVE_ROWS, duck_con)
    r = one(kpis.interactions_per_minute(ev))
    assert (r["live_interactions"], r["video_interactions"]) == (5, 2)
    assert r["live_minutes"] == pytest.approx(116) and r["video_minutes"] == pytest.approx(6)
    assert r["live_per_minute"] == pytest.approx(5 / 116)
    assert r["video_per_minute"] == pytest.approx(1 / 3)
    assert r["value"] == pytest.approx(15 / 116)


# ------------------------------------------------------------------------------------- live money
# Session 1 (host 100): start 0, end 60. u1: enter 0–10, 20–30; u2: 5–50; u3: enter 10 (→ end 60).
#   visits 4, unique viewers 3. u9 never entered but buys in the room.
# Follows of 100: u9 at −1000 min (old fan); u1 at −500, unfollow −100 (not a fan at start);
#   u2 at 15 (after entering at 5: new follower); u3 at 70 (after the end: not counted).
# Orders with session 1: u1 o1 30 @25; u2 o2 lines 50 + 20 @40; u9 o3 100 @45.
#   GMV 200, orders 3, buyers 3. new followers 1 → conversion 1/3; old-fan buyers {u9} → 1/3.
#   UV value 200/3; GPM 1000·200/4 = 50,000.
# Session 2 (host 200): start 100, end 110, nobody came → null "no live visits".
MONEY_ROWS: list[dict[str, Any]] = [
    dict(ts=m(0), kind="live_start", creator_id=100, session_id=1),
    dict(ts=m(60), kind="live_end", creator_id=100, session_id=1),
    dict(ts=m(0), kind="live_enter", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(10), kind="live_leave", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(20), kind="live_enter", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(30), kind="live_leave", user_id=1, creator_id=100, session_id=1),
    dict(ts=m(5), kind="live_enter", user_id=2, creator_id=100, session_id=1),
    dict(ts=m(50), kind="live_leave", user_id=2, creator_id=100, session_id=1),
    dict(ts=m(10), kind="live_enter", user_id=3, creator_id=100, session_id=1),
    dict(ts=m(-1000), kind="follow", user_id=9, creator_id=100),
    dict(ts=m(-500), kind="follow", user_id=1, creator_id=100),
    dict(ts=m(-100), kind="unfollow", user_id=1, creator_id=100),
    dict(ts=m(15), kind="follow", user_id=2, creator_id=100),
    dict(ts=m(70), kind="follow", user_id=3, creator_id=100),
    dict(ts=m(25), kind="order", user_id=1, creator_id=100, session_id=1, order_id=1, amount=30.0),
    dict(ts=m(40), kind="order", user_id=2, creator_id=100, session_id=1, order_id=2, amount=50.0),
    dict(ts=m(40), kind="order", user_id=2, creator_id=100, session_id=1, order_id=2, amount=20.0),
    dict(ts=m(45), kind="order", user_id=9, creator_id=100, session_id=1, order_id=3, amount=100.0),
    dict(ts=m(100), kind="live_start", creator_id=200, session_id=2),
    dict(ts=m(110), kind="live_end", creator_id=200, session_id=2),
]


def test_live_room_money_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, MONEY_ROWS, duck_con)
    s = by(kpis.live_room_metrics(ev, by="session"), "session_id")
    s1 = s[1]
    assert (s1["visits"], s1["unique_viewers"], s1["orders"], s1["buyers"]) == (4, 3, 3, 3)
    assert (s1["new_followers"], s1["old_fan_buyers"]) == (1, 1)
    assert s1["gmv"] == pytest.approx(200)
    assert s1["uv_value"] == pytest.approx(200 / 3)
    assert s1["gpm"] == pytest.approx(50_000)
    assert s1["follower_conversion"] == pytest.approx(1 / 3)
    assert s1["old_fan_buyer_share"] == pytest.approx(1 / 3)
    assert s1["reason"] is None
    assert s[2]["uv_value"] is None and s[2]["reason"] == "no live visits"
    r = one(kpis.live_room_metrics(ev))
    assert r["sessions"] == 2 and r["uv_value"] == pytest.approx(200 / 3) and r["gpm"] == pytest.approx(50_000)


# ------------------------------------------------------------------------------------- fan reach
# Creator 100. Follows: u1 day 0; u2 day 0, unfollow day 3; u3 day 4; u4 follow and unfollow at
# one instant on day 1 (not a follower); u5 follows at day 2 exactly when A is published (counts).
# Publishes: A day 2, B day 5, C day 15 (log ends day 20: C is in the last 7 days, left out).
# Creator 200 publishes D on day 2 and has no followers.
# Followers at A: u1, u2, u5; at B: u1, u3, u5 → 6 pairs.
# Seen: u1 impression of A day 3 ✓; u2 view of A day 10 (> 7 days) ✗; u5 impression of A at exactly
# day 9 = publish + 7 days ✗ (window is [publish, publish + 7d)); u1 impression of B day 6 ✓;
# u3 view of B day 5 ✓. Reached 3 of 6 = 0.5; A's day 1/3, B's day 2/3.
REACH_ROWS: list[dict[str, Any]] = [
    dict(ts=d(0), kind="follow", user_id=1, creator_id=100),
    dict(ts=d(0), kind="follow", user_id=2, creator_id=100),
    dict(ts=d(3), kind="unfollow", user_id=2, creator_id=100),
    dict(ts=d(4), kind="follow", user_id=3, creator_id=100),
    dict(ts=d(1), kind="unfollow", user_id=4, creator_id=100),
    dict(ts=d(1), kind="follow", user_id=4, creator_id=100),
    dict(ts=d(2), kind="follow", user_id=5, creator_id=100),
    dict(ts=d(2), kind="publish", creator_id=100, content_id=1),
    dict(ts=d(5), kind="publish", creator_id=100, content_id=2),
    dict(ts=d(15), kind="publish", creator_id=100, content_id=3),
    dict(ts=d(2), kind="publish", creator_id=200, content_id=4),
    dict(ts=d(3), kind="impression", user_id=1, creator_id=100, content_id=1, surface="follow"),
    dict(ts=d(10), kind="view", user_id=2, creator_id=100, content_id=1, watch_ms=1000, duration_ms=2000),
    dict(ts=d(9), kind="impression", user_id=5, creator_id=100, content_id=1),
    dict(ts=d(6), kind="impression", user_id=1, creator_id=100, content_id=2),
    dict(ts=d(5), kind="view", user_id=3, creator_id=100, content_id=2, watch_ms=1000, duration_ms=2000),
    dict(ts=d(20), kind="impression", user_id=7, creator_id=100, content_id=3),
]


def test_follow_spells_tie_rule(tmp_path, duck_con):
    ev = load(tmp_path, REACH_ROWS, duck_con)
    s = rows_of(kpis.follow_spells(ev), ["user_id", "start"])
    got = [(r["user_id"], r["start"], r["end"]) for r in s]
    assert (4, d(1), d(1)) in got  # an empty spell: follow and unfollow at one instant
    assert (2, d(0), d(3)) in got and (1, d(0), None) in got


def test_fan_content_reach_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, REACH_ROWS, duck_con)
    r = one(kpis.fan_content_reach(ev))
    assert (r["contents"], r["pairs"], r["reached"]) == (3, 6, 3)  # A, B, D eligible
    assert r["value"] == pytest.approx(0.5)
    days = by(kpis.fan_content_reach(ev, period="day"), "period")
    assert days["2024-01-03"]["value"] == pytest.approx(1 / 3)
    assert days["2024-01-06"]["value"] == pytest.approx(2 / 3)
    assert days["2024-01-16"]["value"] is None  # C: published in the log's last 7 days
    assert days["2024-01-16"]["reason"].startswith("no content published at least 7 days")
    per = by(kpis.fan_content_reach(ev, by_creator=True), "creator_id")
    assert per[100]["value"] == pytest.approx(0.5)
    assert per[200]["value"] is None and per[200]["reason"] == "no followers at publish time"


# Follow conversion: u1 views c1 on day 0 and follows at that instant ✓; u2 views c1 on day 1
# (twice) but followed on day 0.5, before viewing ✗; u3 views c2 on day 1 and follows on day 3 ✓
# (not within the same day); u4 follows c2 without a view (not a viewer).
# All: 2 of 3 viewer pairs; c1 1/2, c2 1/1; day 2024-01-02: pairs (u2,c1), (u3,c2) → 0/2.
FOLLOW_ROWS: list[dict[str, Any]] = [
    dict(ts=d(0), kind="view", user_id=1, creator_id=1, content_id=1, watch_ms=5, duration_ms=9),
    dict(ts=d(0), kind="follow", user_id=1, creator_id=1),
    dict(ts=d(0.5), kind="follow", user_id=2, creator_id=1),
    dict(ts=d(1), kind="view", user_id=2, creator_id=1, content_id=1, watch_ms=5, duration_ms=9),
    dict(ts=d(1.1), kind="view", user_id=2, creator_id=1, content_id=1, watch_ms=6, duration_ms=9),
    dict(ts=d(1), kind="view", user_id=3, creator_id=2, content_id=2, watch_ms=5, duration_ms=9),
    dict(ts=d(3), kind="follow", user_id=3, creator_id=2),
    dict(ts=d(3), kind="follow", user_id=4, creator_id=2),
]


def test_follow_conversion_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, FOLLOW_ROWS, duck_con)
    r = one(kpis.follow_conversion(ev))
    assert (r["viewers"], r["followers"]) == (3, 2) and r["value"] == pytest.approx(2 / 3)
    per = by(kpis.follow_conversion(ev, by_creator=True), "creator_id")
    assert per[1]["value"] == 0.5 and per[2]["value"] == 1.0
    days = by(kpis.follow_conversion(ev, period="day"), "period")
    assert days["2024-01-02"]["value"] == 0.0 and days["2024-01-04"]["reason"] == "no short-video views"


# ------------------------------------------------------------------------------------ repurchase
# The log runs 2024-01-15 .. 2024-05-10: complete months Feb, Mar, Apr → pairs (Feb,Mar), (Mar,Apr).
# Orders (user, creator): Jan u1 c1; Feb u1 c1, u2 c1, u3 c2; Mar u1 c2, u2 c1, u4 c1;
# Apr u1 c2, u4 c2; May u2 c1.
# Overall: Feb buyers {1,2,3}, Mar {1,2,4} → 2/3; Mar → Apr {1,4}: 2/3; pooled 4/6.
# Same creator: Feb c1 {1,2} → Mar c1 {2,4}: 1/2; Feb c2 {3} → Mar c2 {1}: 0/1;
# Mar c1 {2,4} → Apr c1 {}: 0/2; Mar c2 {1} → Apr c2 {1,4}: 1/1. Per creator: c1 1/4, c2 1/2.
def _date(y: int, mo: int, day: int, h: int = 12) -> dt.datetime:
    return dt.datetime(y, mo, day, h, tzinfo=dt.UTC)


REPURCHASE_ROWS: list[dict[str, Any]] = [
    dict(ts=_date(2024, 1, 15, 0), kind="view", user_id=1, creator_id=1, content_id=1),
    dict(ts=_date(2024, 5, 10), kind="view", user_id=1, creator_id=1, content_id=1),
    *[
        dict(ts=_date(2024, mo, 20), kind="order", user_id=u, creator_id=c, order_id=i, amount=10.0)
        for i, (mo, u, c) in enumerate(
            [(1, 1, 1), (2, 1, 1), (2, 2, 1), (2, 3, 2), (3, 1, 2), (3, 2, 1), (3, 4, 1), (4, 1, 2), (4, 4, 2)]
        )
    ],
    dict(ts=_date(2024, 5, 5), kind="order", user_id=2, creator_id=1, order_id=99, amount=10.0),
]


def test_complete_months(tmp_path, duck_con):
    ev = load(tmp_path, REPURCHASE_ROWS, duck_con)
    r = one(kpis.complete_months(ev))
    assert (r["first_month"], r["last_month"]) == (2024 * 12 + 1, 2024 * 12 + 3)  # Feb .. Apr


def test_monthly_repurchase_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, REPURCHASE_ROWS, duck_con)
    r = one(kpis.monthly_repurchase(ev))
    assert (r["buyers"], r["repeaters"]) == (6, 4) and r["value"] == pytest.approx(4 / 6)
    months = by(kpis.monthly_repurchase(ev, period="month"), "period")
    assert set(months) == {"2024-02", "2024-03"}
    assert months["2024-02"]["value"] == pytest.approx(2 / 3)
    per = by(kpis.monthly_repurchase(ev, by_creator=True), "creator_id")
    assert per[1]["value"] == pytest.approx(1 / 4) and per[2]["value"] == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="period"):
        kpis.monthly_repurchase(ev, period="day")


# ------------------------------------------------------------------------ order value and refunds
# o1: c1 lines 50 + 30 (u1); o2: c1 20 (u2); o3: c2 100 (u3); o4: c3 10; o5: c4 5; o6: no creator 15.
# GMV 230 over 6 orders. Creators' GMV: c1 100, c2 100 (tie → smaller id), c3 10, c4 5:
# top ⌈0.1·4⌉ = 1 creator = c1 → 100 over {o1, o2} = 50.
# Refunds: o2 (20), o3 twice (30, 20), o99 (not in the log: ignored) → 2/6 refunded.
# Private domain: u1 follows c1 before o1 → 80 private; u3 followed c2 and unfollowed before o3;
# u2 follows c1 after o2. Over lines with a creator (215): 80/215.
COMMERCE_ROWS: list[dict[str, Any]] = [
    dict(ts=d(0), kind="follow", user_id=1, creator_id=1),
    dict(ts=d(0), kind="follow", user_id=3, creator_id=2),
    dict(ts=d(0.5), kind="unfollow", user_id=3, creator_id=2),
    dict(ts=d(1), kind="order", user_id=1, creator_id=1, order_id=1, product_id=1, amount=50.0),
    dict(ts=d(1), kind="order", user_id=1, creator_id=1, order_id=1, product_id=2, amount=30.0),
    dict(ts=d(1), kind="order", user_id=2, creator_id=1, order_id=2, amount=20.0),
    dict(ts=d(2), kind="follow", user_id=2, creator_id=1),
    dict(ts=d(1), kind="order", user_id=3, creator_id=2, order_id=3, amount=100.0),
    dict(ts=d(1), kind="order", user_id=4, creator_id=3, order_id=4, amount=10.0),
    dict(ts=d(1), kind="order", user_id=5, creator_id=4, order_id=5, amount=5.0),
    dict(ts=d(1), kind="order", user_id=6, order_id=6, amount=15.0),
    dict(ts=d(3), kind="refund", order_id=2, amount=20.0),
    dict(ts=d(3), kind="refund", order_id=3, product_id=7, amount=30.0),
    dict(ts=d(4), kind="refund", order_id=3, amount=20.0),
    dict(ts=d(4), kind="refund", order_id=99, amount=1.0),
]


def test_order_value_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, COMMERCE_ROWS, duck_con)
    r = one(kpis.order_value(ev))
    assert (r["gmv"], r["orders"]) == (230.0, 6) and r["value"] == pytest.approx(230 / 6)
    top = one(kpis.order_value(ev, top_share=0.1))
    assert (top["gmv"], top["orders"]) == (100.0, 2) and top["value"] == pytest.approx(50.0)
    per = by(kpis.order_value(ev, by_creator=True), "creator_id")
    assert per[2]["value"] == pytest.approx(100.0) and per[1]["orders"] == 2


def test_refund_rate_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, COMMERCE_ROWS, duck_con)
    r = one(kpis.refund_rate(ev))
    assert (r["orders"], r["refunded"]) == (6, 2) and r["value"] == pytest.approx(1 / 3)


def test_private_domain_gmv_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, COMMERCE_ROWS, duck_con)
    r = one(kpis.private_domain_gmv_share(ev))
    assert (r["gmv"], r["private_gmv"]) == (215.0, 80.0) and r["value"] == pytest.approx(80 / 215)
    per = by(kpis.private_domain_gmv_share(ev, by_creator=True), "creator_id")
    assert per[1]["value"] == pytest.approx(0.8) and per[2]["value"] == 0.0


# --------------------------------------------------------------------------------- creator income
# N = 2 followers. Jan: c1 {u1,u2}; c2 {u1,u2,u3}; c3 {u1}. On Feb 5 u3 unfollows c2 (2 left).
# Income: c1 payout 10 on Jan 2 and 0 on Feb 3 (zero is no income); c3 gift 5 in Jan; c2 payout
# 7 on Feb 2. Jan: eligible c1, c2; earning c1 → 1/2; earning creators c1, c3 = 2.
# Feb: eligible c1, c2; earning c2 → 1/2; earning creators 1. All: c1, c2 earn → 1; earning 3.
INCOME_ROWS: list[dict[str, Any]] = [
    *[
        dict(ts=d(0), kind="follow", user_id=u, creator_id=c)
        for u, c in [(1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (1, 3)]
    ],
    dict(ts=d(35), kind="unfollow", user_id=3, creator_id=2),
    dict(ts=d(1), kind="payout", creator_id=1, amount=10.0),
    dict(ts=d(33), kind="payout", creator_id=1, amount=0.0),
    dict(ts=d(3), kind="gift", user_id=2, creator_id=3, amount=5.0),
    dict(ts=d(32), kind="payout", creator_id=2, amount=7.0),
]


def test_creator_income_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, INCOME_ROWS, duck_con)
    r = one(kpis.creator_income(ev, min_followers=2))
    assert (r["eligible"], r["eligible_earning"], r["earning_creators"]) == (2, 2, 3)
    assert r["value"] == 1.0
    months = by(kpis.creator_income(ev, period="month", min_followers=2), "period")
    assert months["2024-01"]["value"] == 0.5 and months["2024-01"]["earning_creators"] == 2
    assert months["2024-02"]["value"] == 0.5 and months["2024-02"]["earning_creators"] == 1
    fc = {(r["period"], r["creator_id"]): r["followers"] for r in rows_of(kpis.follower_counts(ev, period="month"))}
    assert fc[("2024-01", 2)] == 3 and fc[("2024-02", 2)] == 2
    high = one(kpis.creator_income(ev, min_followers=10_000))
    assert high["value"] is None and high["reason"] == "no creator with >= 10000 followers"


# --------------------------------------------------------------------------------------- exposure
# Active creators (publish or live_start): c1, c2, c3 (publish), c4 (live_start); c5 has
# impressions but was not active: left out. Impressions: c1 6, c2 2, c3 0, c4 0.
# Sorted 0, 0, 2, 6; n = 4, Σ = 8: Σ(2i − n − 1)x = (6−5)·2 + (8−5)·6 = 20 → G = 20/32 = 0.625.
# Share exposed 2/4. Lorenz (ties by id): c3 0, c4 0, c2 0.25, c1 1.
EXPOSURE_ROWS: list[dict[str, Any]] = [
    *[dict(ts=d(0), kind="publish", creator_id=c, content_id=c) for c in (1, 2, 3)],
    dict(ts=d(0), kind="live_start", creator_id=4, session_id=4),
    *[dict(ts=d(1), kind="impression", user_id=u, creator_id=1, content_id=1) for u in range(6)],
    *[dict(ts=d(1), kind="impression", user_id=u, creator_id=2, content_id=2) for u in range(2)],
    dict(ts=d(1), kind="impression", user_id=1, creator_id=5, content_id=5),
]


def test_exposure_gini_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, EXPOSURE_ROWS, duck_con)
    r = one(kpis.exposure_gini(ev))
    assert (r["creators"], r["exposed"], r["impressions"]) == (4, 2, 8)
    assert r["value"] == pytest.approx(0.625) and r["share_exposed"] == 0.5
    assert kpis.gini(np.array([0, 0, 2, 6])) == pytest.approx(0.625)
    lor = rows_of(kpis.exposure_lorenz(ev), ["rank"])
    assert [(x["creator_id"], x["creator_share"], x["exposure_share"]) for x in lor] == [
        (3, 0.25, 0.0),
        (4, 0.5, 0.0),
        (2, 0.75, 0.25),
        (1, 1.0, 1.0),
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=40))
def test_gini_properties(xs):
    g = kpis.gini(np.array(xs))
    if sum(xs) == 0:
        assert math.isnan(g)
        return
    n = len(xs)
    assert -1e-12 <= g <= (n - 1) / n + 1e-12
    assert kpis.gini(np.array(xs) * 3) == pytest.approx(g)  # scale invariant
    assert kpis.gini(np.full(n, max(xs))) == pytest.approx(0.0)  # equal exposure


def test_exposure_gini_engine_matches_numpy(tmp_path, duck_con):
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 12, size=15)
    rows = [dict(ts=d(0), kind="publish", creator_id=c, content_id=c) for c in range(15)]
    for c, k in enumerate(counts):
        rows += [dict(ts=d(1), kind="impression", user_id=u, creator_id=c, content_id=c) for u in range(int(k))]
    ev = load(tmp_path, rows, duck_con)
    r = one(kpis.exposure_gini(ev))
    assert r["value"] == pytest.approx(kpis.gini(counts))
    assert r["share_exposed"] == pytest.approx((counts > 0).mean())


# --------------------------------------------------------------------------------------- campaign
# Campaign 1 (brand 7): spend 60 + 40 = 100. Campaign orders: o1 u1 30, o2 u2 50 (refunded),
# o3 u3 20 → orders 3, kept 2, kept GMV 50; cost per kept order 50, ROI 0.5.
# New repeat buyers: u1 (no brand-7 order before, o4 of brand 7 after) ✓; u3 bought brand 7 before
# (o0) ✗; u2 nothing after ✗ → 1. Campaign 2: an order but no spend → cost and ROI null.
CAMPAIGN_ROWS: list[dict[str, Any]] = [
    dict(ts=d(0), kind="spend", brand_id=7, campaign_id=1, amount=60.0),
    dict(ts=d(1), kind="spend", brand_id=7, campaign_id=1, amount=40.0),
    dict(ts=d(0), kind="order", user_id=3, brand_id=7, order_id=10, amount=5.0),
    dict(ts=d(2), kind="order", user_id=1, brand_id=7, campaign_id=1, order_id=1, amount=30.0),
    dict(ts=d(2), kind="order", user_id=2, brand_id=7, campaign_id=1, order_id=2, amount=50.0),
    dict(ts=d(2), kind="order", user_id=3, brand_id=7, campaign_id=1, order_id=3, amount=20.0),
    dict(ts=d(3), kind="refund", order_id=2, amount=50.0),
    dict(ts=d(5), kind="order", user_id=1, brand_id=7, order_id=4, amount=8.0),
    dict(ts=d(5), kind="order", user_id=3, brand_id=7, order_id=5, amount=8.0),
    dict(ts=d(2), kind="order", user_id=4, brand_id=8, campaign_id=2, order_id=6, amount=9.0),
]


def test_campaign_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, CAMPAIGN_ROWS, duck_con)
    c = by(kpis.campaign_metrics(ev), "campaign_id")
    c1 = c[1]
    assert (c1["brand_id"], c1["spend"], c1["orders"], c1["kept_orders"]) == (7, 100.0, 3, 2)
    assert c1["kept_gmv"] == 50.0 and c1["cost_per_kept_order"] == 50.0 and c1["roi"] == 0.5
    assert c1["new_repeat_buyers"] == 1 and c1["reason"] is None
    assert c[2]["cost_per_kept_order"] is None and c[2]["roi"] is None
    assert c[2]["reason"] == "no spend recorded for the campaign"


# --------------------------------------------------------------------------- time zones, periods
def test_periods_cut_in_the_workspace_time_zone(tmp_path, duck_con):
    # 2024-01-31 20:00 UTC is 2024-02-01 04:00 in Shanghai; America/New_York switches to DST on
    # 2024-03-10 at 07:00 UTC (02:00 EST → 03:00 EDT).
    rows = [
        dict(ts=dt.datetime(2024, 1, 31, 20, tzinfo=dt.UTC), kind="notice", creator_id=1),
        dict(ts=dt.datetime(2024, 3, 10, 4, 30, tzinfo=dt.UTC), kind="notice", creator_id=1),
        dict(ts=dt.datetime(2024, 11, 3, 4, 30, tzinfo=dt.UTC), kind="notice", creator_id=1),
    ]
    ev = load(tmp_path, rows, duck_con)
    labels = [r["p"] for r in rows_of(ev.select(ev.ts, p=kpis.period_label(ev.ts, "Asia/Shanghai", "day")), ["ts"])]
    assert labels == ["2024-02-01", "2024-03-10", "2024-11-03"]
    ny = [r["p"] for r in rows_of(ev.select(ev.ts, p=kpis.period_label(ev.ts, "America/New_York", "day")), ["ts"])]
    # 2024-03-10 04:30 UTC = 23:30 EST on the 9th; 2024-11-03 04:30 UTC = 00:30 EDT on the 3rd.
    assert ny == ["2024-01-31", "2024-03-09", "2024-11-03"]
    months = [r["p"] for r in rows_of(ev.select(ev.ts, p=kpis.period_label(ev.ts, "Asia/Shanghai", "month")), ["ts"])]
    assert months[0] == "2024-02"
    with pytest.raises(ValueError, match="period"):
        kpis.live_watch_time(ev, period="week")


# ------------------------------------------------------------------------------ nulls with reasons
def test_absent_events_give_null_with_reason(tmp_path, duck_con):
    rows = [dict(ts=d(0), kind="view", user_id=1, creator_id=2, content_id=3, watch_ms=1000, duration_ms=2000)]
    ev = load(tmp_path, rows, duck_con)
    h = kpis.headline(ev)
    assert set(h) == set(kpis.ARTICLE_FIGURES)
    for k, v in h.items():
        assert v.value is None and v.reason, k
    assert h["live_watch_minutes_per_visit"].reason == "no live visits"
    assert h["products_seen_per_live_visit"].reason == "no closed live visits"
    assert h["monthly_repurchase_rate"].reason == "no orders"
    assert h["interactions_per_minute_live_vs_video"].reason == "no live watch time"
    assert h["fan_content_reach"].reason.startswith("no content published")
    assert one(kpis.refund_rate(ev))["reason"] == "no orders"
    assert one(kpis.exposure_gini(ev))["reason"] == "no creator published or went live"
    assert one(kpis.live_room_metrics(ev))["reason"] == "no live visits"


def test_products_seen_null_without_pins(tmp_path, duck_con):
    rows = [r for r in LIVE_ROWS if r["kind"] != "product_pin"]
    ev = load(tmp_path, rows, duck_con)
    r = one(kpis.products_seen_per_visit(ev))
    assert r["value"] is None and r["reason"] == "no product pins in the log"


def test_repurchase_null_without_complete_months(tmp_path, duck_con):
    ev = load(tmp_path, COMMERCE_ROWS, duck_con)  # five days: no complete month
    r = one(kpis.monthly_repurchase(ev))
    assert r["value"] is None and r["reason"] == "no complete month pair (m, m+1) in the log"


def test_empty_log_headline(tmp_path, duck_con):
    ws = Workspace.init(tmp_path / "empty")
    h = kpis.headline(ws.events(duck_con))
    assert all(v.value is None and v.reason == "empty event log" for v in h.values())


def test_headline_known_answer(tmp_path, duck_con):
    ev = load(tmp_path, LIVE_ROWS, duck_con)
    h = kpis.headline(ev)
    assert h["live_watch_minutes_per_visit"].value == pytest.approx(116 / 7)
    assert h["live_watch_minutes_per_visit"].unit == "min"
    assert h["products_seen_per_live_visit"].value == pytest.approx(11 / 7)
    assert h["interactions_per_minute_live_vs_video"].value == pytest.approx(15 / 116)


# ----------------------------------------------------------------------------- DuckDB == Spark
def _all_rows() -> list[dict[str, Any]]:
    """Every fixture above in one log (ids shifted apart), plus a seeded random live/commerce log."""
    out: list[dict[str, Any]] = []
    for k, rows in enumerate(
        [
            LIVE_ROWS,
            MONEY_ROWS,
            REACH_ROWS,
            FOLLOW_ROWS,
            REPURCHASE_ROWS,
            COMMERCE_ROWS,
            INCOME_ROWS,
            EXPOSURE_ROWS,
            CAMPAIGN_ROWS,
        ]
    ):
        for r in rows:
            r = dict(r)
            for f in ("user_id", "creator_id", "session_id", "content_id", "order_id", "campaign_id"):
                if r.get(f) is not None:
                    r[f] = r[f] + 1000 * (k + 1)
            out.append(r)
    rng = np.random.default_rng(3)
    for s in range(6):
        host, t0 = 50 + s % 3, float(rng.uniform(0, 20 * 24 * 60))
        out += [
            dict(ts=m(t0), kind="live_start", creator_id=host, session_id=500 + s),
            dict(ts=m(t0 + 90), kind="live_end", creator_id=host, session_id=500 + s),
            dict(
                ts=m(t0 + 1), kind="product_pin", creator_id=host, session_id=500 + s, product_id=int(rng.integers(5))
            ),
        ]
        for u in range(12):
            a = t0 + float(rng.uniform(0, 80))
            out.append(dict(ts=m(a), kind="live_enter", user_id=u, creator_id=host, session_id=500 + s))
            if rng.random() < 0.8:
                out.append(
                    dict(
                        ts=m(a + float(rng.uniform(0, 30))),
                        kind="live_leave",
                        user_id=u,
                        creator_id=host,
                        session_id=500 + s,
                    )
                )
            if rng.random() < 0.3:
                out.append(
                    dict(
                        ts=m(a + 2),
                        kind="order",
                        user_id=u,
                        creator_id=host,
                        session_id=500 + s,
                        order_id=10_000 + 100 * s + u,
                        amount=float(np.round(rng.uniform(1, 300), 2)),
                    )
                )
            if rng.random() < 0.3:
                out.append(dict(ts=m(a + 1), kind="follow", user_id=u, creator_id=host))
    return out


def _canon(t: pa.Table) -> list[tuple]:
    """Rows as (column, value) tuples in an engine-independent order: instants made UTC-aware, and
    floats rounded to 9 significant digits in the sort key only (float noise must not reorder rows)."""

    def norm(v: Any) -> Any:
        return v.replace(tzinfo=v.tzinfo or dt.UTC) if isinstance(v, dt.datetime) else v

    def key(row: tuple) -> str:
        return repr(tuple(float(f"{v:.9g}") if isinstance(v, float) else v for _, v in row))

    names = sorted(t.column_names)
    return sorted((tuple((k, norm(r[k])) for k in names) for r in t.to_pylist()), key=key)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        # Spark hands back naive UTC instants, DuckDB aware ones.
        return a.replace(tzinfo=a.tzinfo or dt.UTC) == b.replace(tzinfo=b.tzinfo or dt.UTC)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


#: One query per KPI function and per option that changes its plan (Spark pays ~2–10 s a query
#: even on a tiny log, so the by-creator and stacked-period variants of compute_all, which reuse
#: these plans, are checked on DuckDB only). Periods vary so day and month labels are compared too.
def _visits(events, timezone, **_):
    return kpis.live_visits(events)


SPARK_CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    # Integer watch_ms compared exactly: the random log's instants carry microseconds.
    "live_visits": (_visits, {}),
    "live_watch_time": (kpis.live_watch_time, {"period": "day"}),
    "products_seen": (kpis.products_seen_per_visit, {"period": "all"}),
    "interactions_per_minute": (kpis.interactions_per_minute, {"period": "all", "by_creator": True}),
    "live_sessions": (kpis.live_room_metrics, {"period": "all", "by": "session"}),
    "fan_content_reach": (kpis.fan_content_reach, {"period": "day"}),
    "follow_conversion": (kpis.follow_conversion, {"period": "all", "by_creator": True}),
    "monthly_repurchase": (kpis.monthly_repurchase, {"period": "month"}),
    "repurchase_by_creator": (kpis.monthly_repurchase, {"period": "all", "by_creator": True}),
    "order_value_top10": (kpis.order_value, {"period": "month", "top_share": 0.1}),
    "refund_rate": (kpis.refund_rate, {"period": "all"}),
    "private_domain_gmv": (kpis.private_domain_gmv_share, {"period": "all", "by_creator": True}),
    "creator_income": (kpis.creator_income, {"period": "month", "min_followers": 2}),
    # Every period kind in one expression, as compute_all builds its per-period tables: the labels'
    # EXPLODE and follower_counts' per-kind spells.
    "creator_income_all_kinds": (kpis.creator_income, {"period": ("all", "month", "day"), "min_followers": 2}),
    "exposure_gini": (kpis.exposure_gini, {"period": "day"}),
    "exposure_lorenz": (kpis.exposure_lorenz, {"period": "all"}),
    "campaigns": (kpis.campaign_metrics, {"period": "all"}),
}


@pytest.mark.spark
def test_duckdb_and_spark_agree(tmp_path, duck_con, spark_con):
    # Asia/Shanghai had DST in 1986–91, so the local-time CASE has branches on both engines.
    ws = Workspace.init(tmp_path / "both", timezone="Asia/Shanghai")
    assert ws.append(table(_all_rows())).quarantined == 0
    duck_ev = ws.events(duck_con)
    spark_ev = ws.events(spark_con).cache()  # one scan of the Parquet files for all queries
    session = spark_con._session
    before = session.conf.get("spark.sql.shuffle.partitions")
    # A tiny log: one shuffle partition halves the per-query overhead; results do not depend on it.
    session.conf.set("spark.sql.shuffle.partitions", "1")
    try:
        results = {
            name: (
                fn(duck_ev, timezone=ws.timezone, **kw).to_pyarrow(),
                fn(spark_ev, timezone=ws.timezone, **kw).to_pyarrow(),
            )
            for name, (fn, kw) in SPARK_CASES.items()
        }
    finally:
        session.conf.set("spark.sql.shuffle.partitions", before)
    for name, (a, b) in results.items():
        assert a.num_rows == b.num_rows and a.num_rows > 0, name
        assert a.schema.names == b.schema.names, name
        for ra, rb in zip(_canon(a), _canon(b), strict=True):
            assert all(_close(x[1], y[1]) for x, y in zip(ra, rb, strict=True)), (name, ra, rb)


def test_compute_all_tables(tmp_path, duck_con):
    """Every table of compute_all runs, is non-empty on the combined log, and its 'all' rows agree
    with the KPI functions called directly."""
    ws = Workspace.init(tmp_path / "all", timezone="Asia/Shanghai")
    assert ws.append(table(_all_rows())).quarantined == 0
    ev = ws.events(duck_con)
    tables = kpis.compute_all(ev, timezone=ws.timezone, min_followers=2)
    for name, expr in tables.items():
        assert expr.to_pyarrow().num_rows > 0, name
    h = kpis.headline(ev, timezone=ws.timezone)
    lw = {r["period"]: r for r in rows_of(tables["live_watch_time"])}
    assert lw["all"]["value"] == pytest.approx(h["live_watch_minutes_per_visit"].value)
    assert set(lw) >= {"all", "2024-01", "2024-01-01"}


def test_shared_intermediates_change_no_number(tmp_path, duck_con):
    """write_kpis builds the shared intermediates once as DuckDB temporary tables: every stored table
    equals compute_all without sharing, row for row; the temporary tables are gone afterwards; and
    outside the block nothing is shared."""
    from trustecon.kpis._base import shared
    from trustecon.kpis.persist import temporary_tables, write_kpis

    ws = Workspace.init(tmp_path / "shared", timezone="Asia/Shanghai")
    assert ws.append(table(_all_rows())).quarantined == 0
    plain = {k: v.to_pyarrow() for k, v in
             kpis.compute_all(ws.events(duck_con), timezone=ws.timezone, min_followers=2).items()}
    write_kpis(ws, duck_con, min_followers=2)
    for name, a in plain.items():
        b = ws.read_table(f"kpis_{name}")
        assert a.num_rows == b.num_rows, name
        for ra, rb in zip(_canon(a), _canon(b.select(a.schema.names)), strict=True):
            assert all(_close(x[1], y[1]) for x, y in zip(ra, rb, strict=True)), (name, ra, rb)
    left = duck_con.raw_sql("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_trustecon_shared_%'")
    assert left.fetchall() == [(0,)]
    built: list[int] = []

    def build():
        built.append(1)
        return ws.events(duck_con).select("ts")

    shared("probe", (1,), build), shared("probe", (1,), build)
    assert len(built) == 2  # outside a block: built every time
    with temporary_tables(duck_con):
        a, b = shared("probe", (1,), build), shared("probe", (1,), build)
        assert len(built) == 3 and a.get_name() == b.get_name()  # inside: once, one table


# ------------------------------------------------------------------------------------------ CLI
def test_cli_writes_kpi_tables_and_prints_json(tmp_path):
    import json

    from typer.testing import CliRunner

    from trustecon.cli import app

    ws = Workspace.init(tmp_path / "cli")
    assert ws.append(table(LIVE_ROWS + [dict(r, ts=r["ts"]) for r in COMMERCE_ROWS], prefix="c")).quarantined == 0
    runner = CliRunner()
    res = runner.invoke(app, ["kpis", str(ws.path), "--json", "--min-followers", "1"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    lw = out["headline"]["live_watch_minutes_per_visit"]
    assert lw["value"] == pytest.approx(116 / 7) and lw["article"] == 24.0
    # Commerce fixture: 6 orders, 2 refunded (the LIVE_ROWS log has no orders).
    assert out["other"]["refund_rate"]["value"] == pytest.approx(1 / 3)
    assert out["headline"]["monthly_repurchase_rate"]["reason"] == "no complete month pair (m, m+1) in the log"
    ws = Workspace.open(ws.path)
    assert "kpis_live_watch_time" in ws.table_names() and "kpis_campaigns" in ws.table_names()
    assert out["tables"]["kpis_live_watch_time"] == len(ws.read_table("kpis_live_watch_time"))
    stored = {r["period"]: r for r in ws.read_table("kpis_live_watch_time").to_pylist()}
    assert stored["all"]["value"] == pytest.approx(116 / 7)
    assert stored["2024-01-01"]["visits"] == 8
    res = runner.invoke(app, ["kpis", str(ws.path)])
    assert res.exit_code == 0 and "16.57" in res.stdout and "24.00" in res.stdout  # ours beside the article
    # KPI names never wrap or get cut, even at 80 columns (the note column wraps instead).
    from trustecon.cli._app import console

    assert console.width <= 80 and "…" not in res.stdout
    assert "interactions_per_minute_live_vs_video" in out["headline"]  # the longest name, 37 characters
    assert all(f"│ {name} " in res.stdout for name in out["headline"])
    res = runner.invoke(app, ["kpis", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "not a trustecon workspace" in res.output


def test_stored_headline_equals_headline_from_the_log(tmp_path):
    # `trustecon kpis` and the demo read the headline back from the tables they just wrote instead of
    # computing it again; the numbers and reasons must be exactly headline()'s.
    import ibis

    from trustecon.kpis import headline
    from trustecon.kpis.persist import stored_headline, write_kpis

    ws = Workspace.init(tmp_path / "h")
    ws.append(table(LIVE_ROWS + [dict(r, ts=r["ts"]) for r in COMMERCE_ROWS], prefix="c"))
    con = ibis.duckdb.connect()
    with pytest.raises(KeyError, match="kpis_live_watch_time: not written yet"):
        stored_headline(ws)
    write_kpis(ws, con, min_followers=1)
    assert stored_headline(ws) == headline(ws.events(con), timezone=ws.timezone)
    got = stored_headline(ws)
    assert got["live_watch_minutes_per_visit"].value == pytest.approx(116 / 7)  # the known answer above
    assert got["monthly_repurchase_rate"].reason == "no complete month pair (m, m+1) in the log"
    day = stored_headline(ws, period="2024-01-01")
    assert day["live_watch_minutes_per_visit"].value is not None
    assert stored_headline(ws, period="1999-01")["fan_content_reach"].reason == "no rows for period 1999-01"


# ------------------------------------------------------------------- pairing rule vs a reference
def _reference_visits(rows: list[dict[str, Any]]) -> list[tuple[int, int, dt.datetime, int | None]]:
    """The live-visit pairing rule of trustecon.kpis.live, written as a plain loop."""
    ends = {}
    for r in rows:
        if r["kind"] == "live_end":
            ends[r["session_id"]] = max(ends.get(r["session_id"], r["ts"]), r["ts"])
    by_pair: dict[tuple[int, int], list[tuple[dt.datetime, int]]] = {}
    for r in rows:
        if r["kind"] in ("live_enter", "live_leave"):
            by_pair.setdefault((r["user_id"], r["session_id"]), []).append((r["ts"], int(r["kind"] == "live_enter")))
    out = []
    for (u, s), evs in by_pair.items():
        evs.sort()  # by time, a leave (0) before an enter (1) at one instant
        for i, (ts, is_enter) in enumerate(evs):
            if not is_enter:
                continue
            if i + 1 < len(evs):
                end = evs[i + 1][0]
            elif s in ends and ends[s] >= ts:
                end = ends[s]
            else:
                end = None
            out.append((u, s, ts, None if end is None else int((end - ts).total_seconds() * 1000)))
    return sorted(out, key=repr)


live_event = st.tuples(
    st.integers(1, 3), st.integers(1, 2), st.integers(0, 30), st.sampled_from(["live_enter", "live_leave"])
)


@settings(max_examples=25, deadline=None)
@given(st.lists(live_event, min_size=1, max_size=14), st.lists(st.integers(10, 40), max_size=2))
def test_live_visit_pairing_matches_reference(evs, end_minutes):
    import ibis

    rows = [dict(ts=m(t), kind=k, user_id=u, creator_id=100 + s, session_id=s) for u, s, t, k in evs] + [
        dict(ts=m(t), kind="live_end", creator_id=100 + s, session_id=s) for s, t in enumerate(end_minutes, 1)
    ]
    ev = ibis.memtable(table(rows))
    got = sorted(
        (
            (r["user_id"], r["session_id"], r["enter"], r["watch_ms"])
            for r in kpis.live_visits(ev).to_pyarrow().to_pylist()
        ),
        key=repr,
    )
    assert got == _reference_visits(rows)
    closed = [v[3] for v in got if v[3] is not None]
    lw = one(kpis.live_watch_time(ev))
    assert lw["closed_visits"] == len(closed) and lw["visits"] == len(got)
    if closed:
        assert lw["value"] == pytest.approx(sum(closed) / len(closed) / 60000)
    else:
        assert lw["value"] is None and lw["reason"]


def test_zone_keeps_only_the_logs_own_offset_changes(tmp_path, duck_con):
    # Europe/London: GMT until 2011-03-27 01:00 UTC, BST until 2011-10-30 01:00 UTC, then GMT.
    stamps = [
        dt.datetime(2010, 12, 31, 23, 30, tzinfo=dt.UTC),
        dt.datetime(2011, 3, 27, 0, 59, tzinfo=dt.UTC),
        dt.datetime(2011, 6, 30, 23, 30, tzinfo=dt.UTC),
        dt.datetime(2011, 10, 30, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2011, 10, 30, 1, 30, tzinfo=dt.UTC),
    ]
    ev = load(tmp_path, [dict(ts=t, kind="notice", creator_id=1) for t in stamps], duck_con)
    zone = kpis.zone_for(ev, "Europe/London")
    assert zone.offsets == (
        (None, 0),
        (dt.datetime(2011, 3, 27, 1, tzinfo=dt.UTC), 3600),
        (dt.datetime(2011, 10, 30, 1, tzinfo=dt.UTC), 0),
    )
    assert kpis.zone_for(ev, "UTC").offsets == ((None, 0),)
    full = [
        r["p"]
        for r in rows_of(ev.select(ev.ts, p=kpis.local_ts(ev.ts, "Europe/London").strftime("%Y-%m-%d %H:%M")), ["ts"])
    ]
    short = [r["p"] for r in rows_of(ev.select(ev.ts, p=kpis.local_ts(ev.ts, zone).strftime("%Y-%m-%d %H:%M")), ["ts"])]
    assert (
        full
        == short
        == ["2010-12-31 23:30", "2011-03-27 00:59", "2011-07-01 00:30", "2011-10-30 01:30", "2011-10-30 01:30"]
    )


def test_write_kpis_on_an_empty_log_and_its_default_income_threshold(tmp_path, duck_con):
    """write_kpis on an empty log stores every table (empty: no period has data) instead of failing
    to build temporary tables from an in-memory table; and its default N is the one the CLI shows:
    10,000 on a real log, users / 200 on a simulated one (so the demo, the API and `kpis` agree)."""
    from trustecon.kpis.catalogue import compute_all
    from trustecon.kpis.persist import REAL_MIN_FOLLOWERS, default_min_followers, write_kpis

    ws = Workspace.init(tmp_path / "empty")
    rows = write_kpis(ws, duck_con)
    assert set(rows) == {f"kpis_{name}" for name in compute_all(ws.events(duck_con), timezone=ws.timezone)}
    assert all(n == 0 and ws.has_table(t) for t, n in rows.items())
    assert default_min_followers(ws) == (REAL_MIN_FOLLOWERS, None)
    ws.set_config("provenance", {"source": "simulator", "config": {"users": 5_000}})
    n, why = default_min_followers(ws)
    assert n == 25 and why is not None and "users / 200" in why
    # The default is used when N is not given: the stored table equals compute_all at N = 25.
    assert ws.append(table(_all_rows())).quarantined == 0
    write_kpis(ws, duck_con)
    want = kpis.compute_all(ws.events(duck_con), timezone=ws.timezone, min_followers=25)["creator_income"].to_pyarrow()
    got = ws.read_table("kpis_creator_income").select(want.schema.names)
    assert _canon(want) == _canon(got)


def test_duckdb_connection_settings(duck_con) -> None:
    # The engine's DuckDB connection: UTC session time zone (days are cut in the workspace's zone
    # explicitly, never in the machine's) and no DuckDB progress bar on stdout (it interleaved with
    # the CLI's own bars and landed in --json output).
    settings = dict(duck_con.raw_sql(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('TimeZone', 'enable_progress_bar')"
    ).fetchall())
    assert settings == {"TimeZone": "UTC", "enable_progress_bar": "false"}
