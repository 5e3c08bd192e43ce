"""The numbers of a live room (DESIGN.md §7, §9), and their batch computation from the KPI layer.

:class:`RoomSnapshot` is what the streaming :class:`~trustecon.live.monitor.RoomMonitor` reports per
session; :func:`room_stats` computes the same columns in batch from the one definition of each
number (:func:`trustecon.kpis.live_visits`, :func:`trustecon.kpis.live.visit_products`,
:func:`trustecon.kpis.live_room_metrics`, :func:`trustecon.live.funnel.funnel_visits`), so the
monitor is tested against it and never becomes a second definition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from trustecon.kpis import live_room_metrics, live_sessions, live_visits
from trustecon.kpis._base import INTERACTION_KINDS, ratio
from trustecon.kpis.live import visit_products
from trustecon.live.funnel import funnel_visits

__all__ = ["MONITOR_STAGES", "RoomSnapshot", "differences", "room_stats", "snapshots_table"]

#: The funnel stages the monitor keeps (DESIGN.md §7; repurchase needs the future and stays batch-only).
MONITOR_STAGES: tuple[str, ...] = ("entered", "watched_1min", "clicked", "ordered", "kept")


@dataclass(frozen=True)
class RoomSnapshot:
    """A live session's numbers now. Formulas (DESIGN.md §9; null = None when the denominator is 0):

    watch_minutes_per_visit = watch_minutes / closed_visits; interactions_per_minute = interactions /
    watch_minutes; products_seen_per_visit = products_seen / closed_visits (None when no pin at all
    was seen, as the batch KPI); aov = gmv / orders; uv_value = gmv / unique_viewers; gpm = 1000 · gmv /
    visits; follower_conversion = new_followers / unique_viewers; old_fan_buyer_share = old_fan_buyers
    / buyers. ``concurrent_per_minute`` is ((minute start, peak concurrent viewers in it), ...) from the
    first to the last minute with a change; concurrent viewers at an instant = visits with enter ≤ t <
    end (open ones have no end), counted after the instant's events.
    """

    session_id: int
    creator_id: int | None
    start: dt.datetime | None
    end: dt.datetime | None
    live: bool  # no live_end yet
    visits: int  # entries (live_enter events)
    closed_visits: int  # exits: visits closed by a leave, a re-enter or the live_end
    unique_viewers: int
    concurrent: int
    peak_concurrent: int
    watch_minutes: float
    watch_minutes_per_visit: float | None
    interactions: int
    interactions_per_minute: float | None
    products_pinned: int
    products_seen: int
    products_seen_per_visit: float | None
    entered: int
    watched_1min: int
    clicked: int
    ordered: int
    kept: int
    gmv: float
    orders: int
    buyers: int
    aov: float | None
    uv_value: float | None
    gpm: float | None
    new_followers: int
    follower_conversion: float | None
    old_fan_buyers: int
    old_fan_buyer_share: float | None
    late_dropped: int
    concurrent_per_minute: tuple[tuple[dt.datetime, int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["concurrent_per_minute"] = [[m.isoformat(), n] for m, n in self.concurrent_per_minute]
        return d


def snapshots_table(snaps: Iterable[RoomSnapshot]) -> pa.Table:
    """The snapshots as an Arrow table (one row per session; the per-minute series left out)."""
    rows = [{k: v for k, v in asdict(s).items() if k != "concurrent_per_minute"} for s in snaps]
    names = [f for f in RoomSnapshot.__dataclass_fields__ if f != "concurrent_per_minute"]
    return pa.Table.from_pylist(rows) if rows else pa.table({n: pa.array([], pa.null()) for n in names})


def room_stats(events: ir.Table, *, min_watch_ms: int = 60_000) -> ir.Table:
    """The monitor's numbers computed in batch, one row per session, from the KPI layer's definitions.

    Columns as :class:`RoomSnapshot` except the live-only ones (concurrency, ``live``, ``late_dropped``).
    Money and follower columns are :func:`trustecon.kpis.live_room_metrics` ``by="session"``; visits
    are :func:`trustecon.kpis.live_visits`; products seen :func:`trustecon.kpis.live.visit_products`;
    the funnel :func:`trustecon.live.funnel.funnel_visits` summed per session.
    """
    m = live_room_metrics(events, by="session")
    v = live_visits(events)
    va = v.group_by(a_id=v.session_id).aggregate(closed_visits=v.end.notnull().sum(), watch_ms=v.watch_ms.sum())
    vp = visit_products(events)
    pa_ = vp.group_by(p_id=vp.session_id).aggregate(products_seen=vp.products.sum())
    pins = events.filter(events.kind == "product_pin")
    pn = pins.group_by(n_id=pins.session_id).aggregate(products_pinned=pins.product_id.nunique())
    n_pins = pins.aggregate(n_pins=ibis._.count())
    inter = events.filter(events.kind.isin(list(INTERACTION_KINDS)) & events.session_id.notnull())
    ia = inter.group_by(i_id=inter.session_id).aggregate(interactions=inter.count())
    f = funnel_visits(events, min_watch_ms=min_watch_ms)
    fa = f.group_by(f_id=f.session_id).aggregate(**{st: f[st].sum() for st in MONITOR_STAGES})
    se = live_sessions(events).select(t_id="session_id", start="start", end="end")
    t = m
    for tab, key in ((se, "t_id"), (va, "a_id"), (pa_, "p_id"), (pn, "n_id"), (ia, "i_id"), (fa, "f_id")):
        t = t.left_join(tab, t.session_id == tab[key]).drop(key)
    t = t.cross_join(n_pins)
    zero = ["closed_visits", "watch_ms", "products_seen", "products_pinned", "interactions", *MONITOR_STAGES]
    t = t.mutate(**{c: t[c].fill_null(0).cast("int64") for c in zero})
    minutes = t.watch_ms.cast("float64") / 60000.0
    return t.select(
        "session_id",
        "creator_id",
        "start",
        "end",
        "visits",
        "closed_visits",
        "unique_viewers",
        watch_minutes=minutes,
        watch_minutes_per_visit=ratio(minutes, t.closed_visits),
        interactions=t.interactions,
        interactions_per_minute=ratio(t.interactions, minutes),
        products_pinned=t.products_pinned,
        products_seen=t.products_seen,
        products_seen_per_visit=ibis.ifelse(
            t.n_pins > 0, ratio(t.products_seen, t.closed_visits), ibis.null("float64")
        ),
        **{st: t[st] for st in MONITOR_STAGES},
        gmv=t.gmv,
        orders=t.orders,
        buyers=t.buyers,
        aov=ratio(t.gmv, t.orders),
        uv_value=t.uv_value,
        gpm=t.gpm,
        new_followers=t.new_followers,
        follower_conversion=t.follower_conversion,
        old_fan_buyers=t.old_fan_buyers,
        old_fan_buyer_share=t.old_fan_buyer_share,
    ).order_by("session_id")


def _same(a: Any, b: Any, rel: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
    return bool(a == b)


def differences(snaps: Iterable[RoomSnapshot], events: ir.Table, *, rel: float = 1e-9) -> list[str]:
    """Where the monitor's snapshots differ from :func:`room_stats` on ``events`` (any engine): one
    line per differing (session, column), empty when they agree (floats to ``rel`` relative)."""
    got = {r["session_id"]: r for r in snapshots_table(snaps).to_pylist()}
    want = {r["session_id"]: r for r in room_stats(events).to_pyarrow().to_pylist()}
    out = [f"session {s}: only in the batch" for s in sorted(set(want) - set(got))]
    out += [f"session {s}: only in the monitor" for s in sorted(set(got) - set(want))]
    for s in sorted(set(got) & set(want)):
        for col, w in want[s].items():
            g = got[s][col]
            if isinstance(w, dt.datetime) and isinstance(g, dt.datetime):
                w, g = w.replace(tzinfo=None), g.replace(tzinfo=None)  # the engine may drop the zone
            if not _same(g, w, rel):
                out.append(f"session {s}: {col}: monitor {g!r}, batch {w!r}")
    return out
