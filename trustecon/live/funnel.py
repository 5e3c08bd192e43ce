"""The live-commerce funnel of DESIGN.md §7: enter → watch ≥ 1 min → product click → order → kept →
repurchase, counted over live visits ((user, session) pairs).

Stages, each a subset of the one before it:

- ``entered``: distinct (user, session) with a ``live_enter``;
- ``watched_1min``: of those, total watch time in the session ≥ 60 s (visits paired as in
  :func:`trustecon.kpis.live_visits`);
- ``clicked``: of those, a ``product_click`` carrying the session's id;
- ``ordered``: of those, an ``order`` carrying the session's id;
- ``kept``: of those, at least one of the session's orders not refunded;
- ``repurchased``: of those, a later order (any surface) from the same creator.

The conversion of each stage is its count over the previous stage's.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from trustecon.kpis import live_visits

__all__ = ["FUNNEL_STAGES", "funnel_visits", "live_funnel"]

FUNNEL_STAGES: tuple[str, ...] = ("entered", "watched_1min", "clicked", "ordered", "kept", "repurchased")


def funnel_visits(events: ir.Table, *, min_watch_ms: int = 60_000) -> ir.Table:
    """One row per live visit key (user_id, session_id, creator_id) with ``watch`` (ms) and a 0/1
    column per stage of :data:`FUNNEL_STAGES` (each implies the one before); :func:`live_funnel` sums
    them, the room monitor compares per session."""
    v = live_visits(events)
    per_visit = v.group_by(["user_id", "session_id", "creator_id"]).aggregate(watch=v.watch_ms.sum())
    clicks = events.filter((events.kind == "product_click") & events.session_id.notnull())
    clicks = clicks.select("user_id", "session_id").distinct()
    orders = events.filter(events.kind == "order")
    refunded = events.filter(events.kind == "refund").select(r_order=events.order_id).distinct()
    o = orders.left_join(refunded, orders.order_id == refunded.r_order)
    o = o.mutate(kept=o.r_order.isnull().cast("int64"))
    in_room = o.filter(o.session_id.notnull())
    room_orders = in_room.group_by(["user_id", "session_id"]).aggregate(
        kept_any=in_room.kept.max(), first_order=in_room.ts.min()
    )
    all_orders = o.select(a_user=o.user_id, a_creator=o.creator_id, a_ts=o.ts)

    f = per_visit.mutate(watched=(per_visit.watch.fill_null(0) >= min_watch_ms).cast("int64"))
    f = f.left_join(
        clicks.select(c_user=clicks.user_id, c_session=clicks.session_id, clicked=ibis.literal(1)),
        (f.user_id == clicks.user_id) & (f.session_id == clicks.session_id),
    )
    f = f.drop("c_user", "c_session")
    ro = room_orders.select(r_user="user_id", r_session="session_id", kept_any="kept_any", first_order="first_order")
    f = f.left_join(ro, (f.user_id == ro.r_user) & (f.session_id == ro.r_session)).drop("r_user", "r_session")
    later = f.join(
        all_orders,
        (f.user_id == all_orders.a_user) & (f.creator_id == all_orders.a_creator) & (all_orders.a_ts > f.first_order),
    )
    later = later.select("user_id", "session_id", again=ibis.literal(1)).distinct()
    lt = later.select(l_user="user_id", l_session="session_id", again="again")
    f = f.left_join(lt, (f.user_id == lt.l_user) & (f.session_id == lt.l_session)).drop("l_user", "l_session")
    w = f.watched == 1
    c = w & (f.clicked.fill_null(0) == 1)
    od = c & f.first_order.notnull()
    k = od & (f.kept_any.fill_null(0) == 1)
    r = k & (f.again.fill_null(0) == 1)
    flags = {"entered": ibis.literal(1), "watched_1min": w, "clicked": c, "ordered": od, "kept": k, "repurchased": r}
    return f.select("user_id", "session_id", "creator_id", "watch", **{s: x.cast("int64") for s, x in flags.items()})


def live_funnel(events: ir.Table, *, min_watch_ms: int = 60_000) -> ir.Table:
    """One row per stage: ``stage``, ``step`` (0..5), ``visits`` and ``conversion`` from the step before."""
    f = funnel_visits(events, min_watch_ms=min_watch_ms)
    totals = f.aggregate(entered=f.count(), **{s: f[s].sum() for s in FUNNEL_STAGES[1:]})
    rows = [
        totals.select(
            stage=ibis.literal(stage),
            step=ibis.literal(i),
            visits=totals[stage].fill_null(0).cast("int64"),
            previous=(totals[FUNNEL_STAGES[i - 1]] if i else totals[stage]).fill_null(0).cast("int64"),
        )
        for i, stage in enumerate(FUNNEL_STAGES)
    ]
    out = ibis.union(*rows)
    conv = ibis.ifelse(out.previous > 0, out.visits.cast("float64") / out.previous, ibis.null("float64"))
    return out.select("stage", "step", "visits", conversion=conv).order_by("step")
