"""Commerce KPIs: repurchase, order value, refunds, private-domain GMV (DESIGN.md §9).

Orders follow the event contract (DESIGN.md §4): one ``order`` event per order line, ``order_id``
groups lines, ``amount`` is the line total; an order's time is its first line's, and orders are
counted as distinct ``order_id``. GMV is gross (refunds are not subtracted; the refund rate says how
much of it came back).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from trustecon.kpis._base import (
    PeriodSpec,
    Zone,
    check_period,
    follow_spells,
    is_follower_at,
    local_ts,
    log_bounds,
    on_spine,
    period_spine,
    ratio,
    reason_if,
    share_of,
    shared,
    with_period,
    zone_for,
)

__all__ = [
    "complete_months",
    "monthly_repurchase",
    "order_value",
    "private_domain_gmv_share",
    "refund_rate",
]


def _orders(events: ir.Table) -> ir.Table:
    """One row per order: order_id, user_id, ts (first line), gmv (Σ line amounts)."""
    o = events.filter(events.kind == "order")
    return o.group_by("order_id").aggregate(user_id=o.user_id.min(), ts=o.ts.min(), gmv=o.amount.sum())


def _month_index(ts: ir.TimestampValue, timezone: str | Zone) -> ir.IntegerValue:
    loc = local_ts(ts, timezone)
    return (loc.year().cast("int64") * 12 + loc.month().cast("int64") - 1).cast("int64")


def complete_months(events: ir.Table, *, timezone: str | Zone = "UTC") -> ir.Table:
    """One row: first_month, last_month, the indices (year·12 + month − 1) of the first and last
    calendar months lying wholly inside the log, in ``timezone``.

    The log covers every local day from its first event's day to its last event's day, inclusive;
    a month is complete when it starts on or after the first day and ends on or before the last.
    """
    timezone = zone_for(events, timezone)
    b = log_bounds(events)
    first, last = local_ts(b.log_start, timezone), local_ts(b.log_end, timezone)
    first_idx = first.year().cast("int64") * 12 + first.month().cast("int64") - 1
    last_idx = last.year().cast("int64") * 12 + last.month().cast("int64") - 1
    last_is_month_end = (last + ibis.interval(days=1)).day() == 1
    return b.select(
        first_month=(first_idx + ibis.ifelse(first.day() == 1, 0, 1)).cast("int64"),
        last_month=(last_idx - ibis.ifelse(last_is_month_end, 0, 1)).cast("int64"),
    )


def monthly_repurchase(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: str = "all", by_creator: bool = False
) -> ir.Table:
    """Monthly repurchase rate.

    For a month m (cut in ``timezone``): buyers = distinct users with an order in m; repeaters = those
    of them with an order in m + 1. Only months where m and m + 1 both lie wholly inside the log
    count (:func:`complete_months`). ``period='month'`` gives one row per such m (labelled m);
    ``'all'`` pools them: Σ repeaters / Σ buyers. ``by_creator``: buying again from the same creator
    (orders lines carrying ``creator_id``; a user is a buyer of c in m when one of their lines in m
    is c's). Refunded orders are still orders. Null with a reason when there are no orders or no
    complete month pair. Article: 65%.
    """
    timezone = zone_for(events, timezone)
    check_period(period, ("month", "all"))
    o = events.filter(events.kind == "order")
    if by_creator:
        o = o.filter(o.creator_id.notnull())
    o = o.mutate(m=_month_index(o.ts, timezone), label=local_ts(o.ts, timezone).strftime("%Y-%m"))
    who = ["user_id", "creator_id"] if by_creator else ["user_id"]
    buyers = o.group_by([*who, "m"]).aggregate(label=o.label.min())
    nxt = buyers.select(*[buyers[c].name(f"n_{c}") for c in who], n_m=buyers.m - 1)
    cm = complete_months(events, timezone=timezone)
    b = buyers.cross_join(cm)
    b = b.filter((b.m >= b.first_month) & (b.m + 1 <= b.last_month))
    j = b.left_join(nxt, [*(b[c] == nxt[f"n_{c}"] for c in who), b.m == nxt.n_m])
    j = j.select(*who, "m", "label", repeat=ibis.ifelse(j.n_m.notnull(), 1, 0))
    j = j.mutate(period=j.label if period == "month" else ibis.literal("all"))
    keys = ["period", "creator_id"] if by_creator else ["period"]
    agg = j.group_by(keys).aggregate(buyers=j.count(), repeaters=j.repeat.sum())
    if not by_creator and period == "all":
        n_orders = o.aggregate(n_orders=o.count())
        agg = on_spine(period_spine(events, timezone, "all"), agg, keys, ["buyers", "repeaters"])
        agg = agg.cross_join(n_orders)
        reason = reason_if(
            (agg.n_orders == 0, "no orders"), (agg.buyers == 0, "no complete month pair (m, m+1) in the log")
        )
    else:
        reason = ibis.null("string")
    return agg.select(
        *keys,
        buyers=agg.buyers.cast("int64"),
        repeaters=agg.repeaters.cast("int64"),
        value=ratio(agg.repeaters, agg.buyers),
        reason=reason,
    )


def order_value(
    events: ir.Table,
    *,
    timezone: str | Zone = "UTC",
    period: PeriodSpec = "all",
    by_creator: bool = False,
    top_share: float | None = None,
) -> ir.Table:
    """Average order value (客单价): GMV / distinct orders, per period of the order line.

    ``by_creator``: per creator over the lines carrying its ``creator_id``. ``top_share`` (e.g. 0.1):
    only the top ⌈top_share · n⌉ of the period's n creators with GMV > 0, ranked by GMV (ties by
    smaller creator_id), over their own lines: Σ their GMV / their distinct orders. Null with a reason
    when the period has no orders. Article: ¥135 for some top creators.
    """
    timezone = zone_for(events, timezone)
    o = events.filter(events.kind == "order")
    o = with_period(o, timezone, period)
    if by_creator or top_share is not None:
        o = o.filter(o.creator_id.notnull())
    if top_share is not None:
        if not 0 < top_share <= 1:
            raise ValueError(f"top_share must be in (0, 1], not {top_share}")
        cg = o.group_by(["period", "creator_id"]).aggregate(c_gmv=o.amount.sum())
        cg = cg.filter(cg.c_gmv > 0)
        w = ibis.window(group_by=cg.period, order_by=[cg.c_gmv.desc(), cg.creator_id])
        cnt = ibis.window(group_by=cg.period)
        cg = cg.mutate(rank=ibis.row_number().over(w) + 1, n=cg.creator_id.count().over(cnt))
        top = cg.filter(cg.rank <= (cg.n.cast("float64") * top_share).ceil()).select(
            t_period=cg.period, t_creator=cg.creator_id
        )
        o = o.join(top, [o.period == top.t_period, o.creator_id == top.t_creator]).select(o)
    keys = ["period", "creator_id"] if by_creator else ["period"]
    agg = o.group_by(keys).aggregate(gmv=o.amount.sum(), orders=o.order_id.nunique())
    if not by_creator:
        agg = on_spine(period_spine(events, timezone, period), agg, keys, ["gmv", "orders"])
    return agg.select(
        *keys,
        gmv=agg.gmv.cast("float64"),
        orders=agg.orders.cast("int64"),
        value=ratio(agg.gmv, agg.orders),
        reason=reason_if((agg.orders == 0, "no orders" if top_share is None else "no orders with a creator")),
    )


def refund_rate(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", by_creator: bool = False
) -> ir.Table:
    """Refund rate: refunded orders / orders.

    An order (distinct ``order_id`` of ``order`` lines, in the period of its first line) is refunded
    when any ``refund`` event carries its ``order_id`` (full or partial, at any later time in the
    log). Refunds of orders absent from the log are not counted (they cannot be put in a period).
    ``by_creator``: orders with a line of that creator. Null with a reason when there are no orders.
    """
    timezone = zone_for(events, timezone)
    o = events.filter(events.kind == "order")
    if by_creator:
        o = o.filter(o.creator_id.notnull())
        o = o.group_by(["order_id", "creator_id"]).aggregate(ts=o.ts.min())
    else:
        o = o.group_by("order_id").aggregate(ts=o.ts.min())
    r = events.filter((events.kind == "refund") & events.order_id.notnull())
    r = r.select(r_order=r.order_id).distinct()
    o = o.left_join(r, o.order_id == r.r_order).select(o, refunded=ibis.ifelse(r.r_order.notnull(), 1, 0))
    o = with_period(o, timezone, period)
    return share_of(
        events,
        o,
        timezone=timezone,
        period=period,
        by_creator=by_creator,
        of="orders",
        hits="refunded",
        hit_flag="refunded",
        empty_reason="no orders",
    )


def private_domain_gmv_share(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", by_creator: bool = False
) -> ir.Table:
    """Private-domain GMV share.

    Over order lines carrying a ``creator_id`` (lines without one cannot be private or public):
    Σ amount of lines whose buyer followed that creator at the line's time (start ≤ ts < end, see
    :func:`trustecon.kpis._base.follow_spells`) / Σ amount of all such lines. Null with a reason
    when there are no such lines (or their GMV is 0).
    """
    timezone = zone_for(events, timezone)
    o = _private_lines(events)
    o = with_period(o, timezone, period)
    keys = ["period", "creator_id"] if by_creator else ["period"]
    agg = o.group_by(keys).aggregate(gmv=o.amount.sum(), private_gmv=ibis.ifelse(o.private, o.amount, 0.0).sum())
    if not by_creator:
        agg = on_spine(period_spine(events, timezone, period), agg, keys, ["gmv", "private_gmv"])
    return agg.select(
        *keys,
        gmv=agg.gmv.cast("float64"),
        private_gmv=agg.private_gmv.cast("float64"),
        value=ratio(agg.private_gmv, agg.gmv),
        reason=reason_if((agg.gmv == 0, "no order lines with a creator")),
    )


def _private_lines(events: ir.Table) -> ir.Table:
    """Order lines with a creator: event_id, user_id, creator_id, ts, amount, ``private`` (the buyer
    followed the creator at ``ts``) — the rows of :func:`private_domain_gmv_share`, period-free, so its
    per-period and per-creator tables share them (:func:`~trustecon.kpis._base.shared`)."""

    def build() -> ir.Table:
        o = events.filter((events.kind == "order") & events.creator_id.notnull())
        o = o.select("event_id", "user_id", "creator_id", "ts", "amount")
        spells = follow_spells(events)
        fan = (
            o.join(
                spells,
                [
                    spells.user_id == o.user_id,
                    spells.creator_id == o.creator_id,
                    is_follower_at(spells.start, spells.end, o.ts),
                ],
            )
            .select(f_event=o.event_id)
            .distinct()
        )
        return o.left_join(fan, o.event_id == fan.f_event).select(o, private=fan.f_event.notnull())

    return shared("private_lines", (events.op(),), build)
