"""Commerce evidence per order: an order, a refund and a complaint each count once per order.

One purchase decision is one piece of evidence, and so is one refunded order and one complaint
about an order, however many events a log writes for them (one ``order`` per product line, one
``refund`` per cancelled line or partial refund), credited when it is complete: at its *latest*
event at or before ``τ``. :mod:`trustecon.trust.evidence`'s module doc gives the rule and the
reason. Here are its tables, on the engine (Ibis: DuckDB and Spark run the same expressions):

- :func:`order_totals`: per (``user_id``, ``creator_id``, ``order_id``) its latest line's time and
  amount; :func:`repurchase_sums`: every order of the pair but its earliest (the sum of the
  ``n − 1`` largest weights).
- :func:`negative_orders`: per (pair, ``order_id``, kind) the latest refund / complaint as of
  ``τ`` (one row per event when ``order_id`` is NULL: such events cannot be grouped);
  :func:`negative_sums` sums them per pair; :func:`order_negatives` is the state an incremental
  update resumes from.
- :func:`order_rows`: the same evidence as rows, written independently (latest event by rank, not
  by aggregate) for the reference :func:`~trustecon.trust.evidence.evidence_rows`.

A refund or complaint reaches its pair through its order's ``order`` lines (:func:`order_pairs`);
its own ``user_id``/``creator_id`` win when given, and grouping is by the pair so resolved.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from trustecon.trust.decay import decay_weight, event_seconds, to_seconds

if TYPE_CHECKING:
    from trustecon.trust.evidence import EvidenceConfig

__all__ = [
    "AOV_REFERENCE",
    "NEGATIVE_KINDS",
    "negative_orders",
    "negative_sums",
    "order_intensity",
    "order_negatives",
    "order_pairs",
    "order_rows",
    "order_totals",
    "repurchase_sums",
]

#: The article's average order value (¥135): an order of that size has intensity 2.
AOV_REFERENCE = 135.0
#: Event kinds that are negative evidence about an order, each its own channel.
NEGATIVE_KINDS: tuple[str, ...] = ("refund", "complaint")


def _at_or_before(as_of: dt.datetime) -> ir.TimestampScalar:
    return ibis.literal(as_of, type="timestamp('UTC')")


def order_intensity(amount: ir.FloatingValue) -> ir.FloatingValue:
    """``1 + log1p(A) / log1p(135)``: the intensity of an order of total amount ``A ≥ 0`` (on the
    engine; :mod:`trustecon.trust.online` computes the same in Python)."""
    return 1.0 + (amount + 1.0).ln() / math.log1p(AOV_REFERENCE)


def order_pairs(events: ir.Table) -> ir.Table:
    """``order_id → (buyer_id, seller creator_id)`` from ``order`` lines (min over lines: deterministic)."""
    o = events.filter(events.kind == "order")
    return o.group_by("order_id").aggregate(o_user=o.user_id.min(), o_creator=o.creator_id.min())


def order_totals(commerce: ir.Table, as_of: dt.datetime, *, drop_self: bool = True) -> ir.Table:
    """The orders as evidence sees them as of ``as_of``: per (``user_id``, ``creator_id``,
    ``order_id``) with both ids (and not a self-pair, unless ``drop_self=False``), ``last_s`` (the
    latest line's time at or before ``as_of``, epoch seconds: the order's time) and ``amount`` (those
    lines' amounts, each clipped at 0, summed). ``commerce``: the log or its
    :func:`~trustecon.trust.evidence.commerce_log`. The state
    :meth:`~trustecon.trust.online.OnlineTrust.from_table` needs (``order_totals=``) so that another
    line of an order the build has seen moves that order instead of adding one."""
    com = commerce
    keep = (com.kind == "order") & (com.ts <= _at_or_before(as_of)) & com.user_id.notnull() & com.creator_id.notnull()
    ol = com.filter(keep & (com.user_id != com.creator_id) if drop_self else keep)
    return ol.group_by(["user_id", "creator_id", "order_id"]).aggregate(
        last_s=event_seconds(ol.ts).max(), amount=ol.amount.fill_null(0.0).clip(lower=0.0).sum()
    )


def repurchase_sums(commerce: ir.Table, as_of: dt.datetime, config: EvidenceConfig) -> ir.Table:
    """Per pair with an order up to ``as_of`` (self-pairs dropped): ``e_repurchase``, the decayed
    weight ``w = 2^(−(as_of − t)/h)`` (no intensity) summed over every order of the pair but one of
    its earliest, each order at its time ``t`` (its latest line, :func:`order_totals`);
    ``e_first_order``, the weight of that earliest order; ``first_order_s``, its time.

    ``e_repurchase = Σ w − min w`` is the sum of the ``n − 1`` largest weights, which is the maximum
    over the ``(n − 1)``-subsets of the orders of their summed weights. Each subset's sum is
    non-decreasing in every weight, and a maximum of non-decreasing functions is non-decreasing, so
    moving any order later (a later line: a larger weight) never lowers it; a new order never does
    either (the ``n`` largest of ``n + 1`` weights sum to at least the ``n − 1`` largest of ``n``).
    Ties are deterministic: orders at the pair's first time all weigh ``min w``, so which one is left
    out does not change the sum — two orders placed at the same instant are a purchase and a
    repurchase. (Leaving out *every* order at the first time, the rule before orders were credited at
    their latest line, is not monotone: a line that moves the first order onto the second's time
    would take the second's repurchase away.)"""
    h, ref = config.half_life_seconds, to_seconds(as_of)
    ot = order_totals(commerce, as_of)
    w = decay_weight(ot.last_s, ref, h)
    g = ot.group_by(["user_id", "creator_id"]).aggregate(total=w.sum(), n=ot.count(), t0=ot.last_s.min())
    w0 = decay_weight(g.t0, ref, h)
    return g.select(
        "user_id", "creator_id",
        # (one order: exactly 0, not Σ w − w's rounding)
        e_repurchase=ibis.ifelse(g.n > 1, g.total - w0, 0.0),
        e_first_order=w0,
        first_order_s=g.t0,
    )


def _negative_events(events: ir.Table, as_of: dt.datetime, orders_from: ir.Table) -> ir.Table:
    """Refund and complaint events up to ``as_of`` with their pair resolved (their own ids, else
    their order's from ``orders_from``'s order lines) and both ids known: ``user_id, creator_id,
    order_id, kind, t`` (epoch s). Self-pairs are kept (dropped after grouping, like every channel)."""
    neg = events.filter(events.kind.isin(list(NEGATIVE_KINDS)) & (events.ts <= _at_or_before(as_of)))
    op = order_pairs(orders_from)
    j = neg.left_join(op, neg.order_id == op.order_id)
    rc = j.select(user_id=j.user_id.fill_null(j.o_user), creator_id=j.creator_id.fill_null(j.o_creator),
                  order_id=j.order_id, kind=j.kind, t=event_seconds(j.ts))
    return rc.filter(rc.user_id.notnull() & rc.creator_id.notnull())


def negative_orders(commerce: ir.Table, as_of: dt.datetime) -> ir.Table:
    """The refunds and complaints as evidence sees them as of ``as_of``: one row per (``user_id``,
    ``creator_id``, ``order_id``, ``kind``) at its latest event ``t`` at or before ``as_of``, and
    one row per event whose ``order_id`` is NULL (nothing to group it with). Self-pairs included."""
    rc = _negative_events(commerce, as_of, commerce)
    keyed = rc.filter(rc.order_id.notnull())
    latest = keyed.group_by(["user_id", "creator_id", "order_id", "kind"]).aggregate(t=keyed.t.max())
    loose = rc.filter(rc.order_id.isnull())
    cols = ("user_id", "creator_id", "order_id", "kind", "t")
    return ibis.union(latest.select(*cols), loose.select(*cols), distinct=False)


def negative_sums(commerce: ir.Table, as_of: dt.datetime, config: EvidenceConfig) -> ir.Table:
    """Per pair (self-pairs included): ``e_refund``/``e_complaint`` (Σ ``2^(−(as_of − t)/h)`` over
    :func:`negative_orders`: intensity 1 per refunded order and per complained-about order), ``n``
    (those rows), ``first``/``last`` (their times)."""
    h, ref = config.half_life_seconds, to_seconds(as_of)
    rc = negative_orders(commerce, as_of)
    w = decay_weight(rc.t, ref, h)
    g = rc.group_by(["user_id", "creator_id"]).aggregate(
        r=w.sum(where=rc.kind == "refund"), c=w.sum(where=rc.kind == "complaint"),
        n=rc.count(), first=rc.t.min(), last=rc.t.max(),
    )
    return g.select("user_id", "creator_id", e_refund=g.r.fill_null(0.0), e_complaint=g.c.fill_null(0.0),
                    n=g.n.cast("int64"), first=g.first, last=g.last)


def order_negatives(commerce: ir.Table, as_of: dt.datetime) -> ir.Table:
    """Per (``user_id``, ``creator_id``, ``order_id``) refunded or complained about as of ``as_of``
    (not a self-pair, ``order_id`` known): ``refund_last_s``/``complaint_last_s``, the latest refund /
    complaint time at or before ``as_of`` (null when there is none). The state
    :meth:`~trustecon.trust.online.OnlineTrust.from_table` needs (``order_negatives=``) so that
    another refund of an order the build saw refunded moves that refund later (or adds nothing)
    instead of counting a second one."""
    rc = _negative_events(commerce, as_of, commerce)
    rc = rc.filter(rc.order_id.notnull() & (rc.user_id != rc.creator_id))
    return rc.group_by(["user_id", "creator_id", "order_id"]).aggregate(
        refund_last_s=rc.t.max(where=rc.kind == "refund"), complaint_last_s=rc.t.max(where=rc.kind == "complaint"),
    )


def order_rows(ev: ir.Table, events: ir.Table) -> ir.Table:
    """The reference evidence rows of the order, refund and complaint channels: ``user_id,
    creator_id, channel, t, intensity`` from ``ev`` (the log up to ``τ``), refunds and complaints
    reaching their pair through the order lines of ``events`` (the whole log). An order is one row:
    its latest line (by rank within the order), carrying the sum of the order's amounts; a refund or
    complaint row is kept when it is the latest (by time) of its (pair, order, kind), or when its
    ``order_id`` is NULL. Null ids and self-pairs are the caller's to drop."""
    ol = ev.filter(ev.kind == "order")
    by_order = [ol.user_id, ol.creator_id, ol.order_id]
    ol = ol.select(
        "user_id", "creator_id", t=event_seconds(ol.ts),
        a=ol.amount.fill_null(0.0).clip(lower=0.0).sum().over(group_by=by_order),
        # (ties: any one of the lines at the latest instant, all at the same t and carrying the same a)
        _rank=ibis.row_number().over(group_by=by_order, order_by=ibis.desc(event_seconds(ol.ts))),
    )
    ot = ol.filter(ol._rank == 0)
    orders = ot.select(user_id=ot.user_id, creator_id=ot.creator_id, channel=ibis.literal("order"), t=ot.t,
                       intensity=order_intensity(ot.a))
    neg = ev.filter(ev.kind.isin(list(NEGATIVE_KINDS)))
    op = order_pairs(events)
    j = neg.left_join(op, neg.order_id == op.order_id)
    rows = j.select(user_id=j.user_id.fill_null(j.o_user), creator_id=j.creator_id.fill_null(j.o_creator),
                    order_id=j.order_id, channel=j.kind, t=event_seconds(j.ts))
    # Rank within (pair, order, kind) by time, latest first: rank 0 is the order's last refund (ties:
    # any one of them, all at the same t). NULL order ids share a partition, so they are kept whatever
    # their rank.
    rank = ibis.row_number().over(group_by=[rows.user_id, rows.creator_id, rows.order_id, rows.channel],
                                  order_by=ibis.desc(rows.t))
    rows = rows.mutate(_rank=rank)
    latest = rows.filter(rows.order_id.isnull() | (rows._rank == 0))
    negs = latest.select("user_id", "creator_id", "channel", "t", intensity=ibis.literal(1.0))
    return ibis.union(orders, negs, distinct=False)
