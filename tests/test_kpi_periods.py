"""Per-period KPI tables built in one expression for every period kind (``period=("all", "month",
"day")``, each row labelled once per kind) equal the reference: one expression per kind stacked with
``union`` (``compute_all(stack_periods=True)``), on random logs that cross months and a DST switch."""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustecon.engine import connect
from trustecon.events import SCHEMA
from trustecon.kpis import compute_all, period_label, zone_for

T0 = dt.datetime(2024, 1, 28, tzinfo=dt.UTC)
WINDOW_MINUTES = 45 * 24 * 60  # Jan, Feb and March, and New York's DST switch of 10 March

KINDS = [
    "publish", "impression", "view", "like", "share", "follow", "unfollow", "live_start", "live_end",
    "live_enter", "live_leave", "gift", "product_pin", "product_click", "order", "refund", "payout", "spend",
]  # fmt: skip

event = st.fixed_dictionaries(
    {
        "minute": st.integers(0, WINDOW_MINUTES),
        "kind": st.sampled_from(KINDS),
        "user_id": st.integers(1, 4),
        "creator_id": st.integers(100, 102),
        "session_id": st.none() | st.integers(1, 2),
        "content_id": st.integers(1, 3),
        "product_id": st.integers(1, 3),
        "order_id": st.integers(1, 5),
        "campaign_id": st.none() | st.integers(7, 8),
        "amount": st.integers(1, 50).map(float),
        "watch_ms": st.integers(0, 300_000),
    }
)


def _log(events: list[dict[str, Any]]) -> pa.Table:
    """Drawn events → an event table (each field the kind requires is set; brand 1 sells everything)."""
    cols: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    for i, e in enumerate(events):
        kind = e["kind"]
        live = kind.startswith("live_") or kind == "product_pin"
        session = e.get("session_id")
        row = {
            **e,
            "event_id": f"e{i}",
            "ts": T0 + dt.timedelta(minutes=e["minute"]),
            "session_id": (session or 1) if live else session,  # a live event always has its session
            "brand_id": 1 if kind in ("spend", "order") else None,
        }
        for f in SCHEMA:
            cols[f.name].append(row.get(f.name))
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in SCHEMA}, schema=SCHEMA)


def _rows(t: pa.Table) -> list[tuple[Any, ...]]:
    keys = [c for c in t.column_names if not pa.types.is_floating(t.schema.field(c).type)]
    return [tuple(r.values()) for r in t.sort_by([(k, "ascending") for k in keys]).to_pylist()]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):  # sums may add up in another order
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
    return a == b


@functools.cache
def _compiled(timezone: str) -> tuple[Any, dict[str, tuple[str, str]]]:
    """A DuckDB connection with an ``events`` table, and the SQL both ways of every KPI table whose
    expression differs between them (the per-period ones).

    Built once (building and compiling is the slow part), so each example only swaps the table's
    rows. The zone's offsets are those of the whole window the examples draw from."""
    con = connect("duckdb")
    con.con.register("log", _log([]))
    con.raw_sql("CREATE TABLE events AS SELECT * FROM log")
    ev = con.table("events")
    edge = dict(kind="payout", creator_id=100, amount=1.0)
    _fill(con, _log([{**edge, "minute": 0}, {**edge, "minute": WINDOW_MINUTES}]))
    zone = zone_for(ev, timezone)
    fast = compute_all(ev, timezone=zone, min_followers=1)
    ref = compute_all(ev, timezone=zone, min_followers=1, stack_periods=True)
    assert fast.keys() == ref.keys()
    differ = [name for name in fast if not fast[name].equals(ref[name])]
    assert len(differ) == 12, differ  # the twelve per-period tables; monthly_repurchase is stacked both ways
    return con, {name: (con.compile(fast[name]), con.compile(ref[name])) for name in differ}


def _fill(con: Any, t: pa.Table) -> None:
    """Replace the rows of ``events`` with ``t``."""
    con.con.register("log", t)
    con.raw_sql("DELETE FROM events")
    con.raw_sql("INSERT INTO events SELECT * FROM log")


# One zone with a DST switch inside the window: the local-time rule is the same code both ways, so
# other zones would add compile time (~5 s each), not cases.
@settings(max_examples=8, deadline=None)
@given(st.lists(event, min_size=1, max_size=60))
def test_one_expression_per_table_equals_stacked_periods(events):
    con, sqls = _compiled("America/New_York")
    _fill(con, _log(events))
    for name, (fast, ref) in sqls.items():
        a, b = con.con.sql(fast).to_arrow_table(), con.con.sql(ref).to_arrow_table()
        assert a.schema == b.schema, name
        ra, rb = _rows(a), _rows(b)
        assert len(ra) == len(rb), (name, ra, rb)
        for x, y in zip(ra, rb, strict=True):
            assert all(_same(u, v) for u, v in zip(x, y, strict=True)), (name, x, y)


def test_period_kinds_must_be_distinct_known_kinds():
    ts = ibis.timestamp("2024-01-01 00:00:00")
    for bad in ((), ("day", "day"), ("all", "week")):
        with pytest.raises(ValueError, match="period"):
            period_label(ts, "UTC", bad)
