"""Commerce evidence per order: an order, a refund and a complaint each count once per order.

One purchase decision is one piece of evidence, and so is one refunded order and one complaint
about an order, however many events a log writes for them (one ``order`` per product line, one
``refund`` per cancelled line or partial refund): :mod:`trustecon.trust.evidence`'s module doc gives
the rule and the reason. Here are its tables, on the engine (Ibis: DuckDB and Spark run the same
expressions):

- :func:`order_totals`: per (``user_id``, ``creator_id``, ``order_id``) its first line's time and
  amount; :func:`repurchase_sums`: the orders after the pair's first order.
- :func:`negative_orders`: per (pair, ``order_id``, kind) the earliest refund / complaint as of
  ``τ`` (one row per event when ``order_id`` is NULL: such events cannot be grouped);
  :func:`negative_sums` sums them per pair; :func:`order_negatives` is the state an incremental
  update resumes from.
- :func:`order_rows`: the same evidence as rows, written independently (first event by rank, not
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
    ``order_id``) with both ids (and not a self-pair, unless ``drop_self=False``), ``first_s`` (the
    first line's time, epoch seconds) and ``amount`` (the lines' amounts, each clipped at 0, summed).
    ``commerce``: the log or its :func:`~trustecon.trust.evidence.commerce_log`. The state
    :meth:`~trustecon.trust.online.OnlineTrust.from_table` needs (``order_totals=``) so that a later
    line of an order the build has seen adds only its increment."""
    com = commerce
    keep = (com.kind == "order") & (com.ts <= _at_or_before(as_of)) & com.user_id.notnull() & com.creator_id.notnull()
    ol = com.filter(keep & (com.user_id != com.creator_id) if drop_self else keep)
    return ol.group_by(["user_id", "creator_id", "order_id"]).aggregate(
        first_s=event_seconds(ol.ts).min(), amount=ol.amount.fill_null(0.0).clip(lower=0.0).sum()
    )


def repurchase_sums(commerce: ir.Table, as_of: dt.datetime, config: EvidenceConfig) -> ir.Table:
    """Per pair with an order up to ``as_of`` (self-pairs dropped): ``e_repurchase`` (decayed weight
    ``2^(−(as_of − t)/h)`` of the orders whose first line's time ``t`` is strictly after the pair's
    first order time: one per order, not per line), ``e_first_order`` (the same over the orders at
    that time) and ``first_order_s``."""
    h, ref = config.half_life_seconds, to_seconds(as_of)
    ot = order_totals(commerce, as_of)
    ol = ot.select(user_id=ot.user_id, creator_id=ot.creator_id, t=ot.first_s)
    first = ol.group_by(["user_id", "creator_id"]).aggregate(t0=ol.t.min())
    oj = ol.inner_join(first, ["user_id", "creator_id"])
    w = decay_weight(oj.t, ref, h)
    return oj.group_by(["user_id", "creator_id"]).aggregate(
        e_repurchase=w.sum(where=oj.t > oj.t0).fill_null(0.0),
        e_first_order=w.sum(where=oj.t == oj.t0),
        first_order_s=oj.t0.min(),
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
    ``creator_id``, ``order_id``, ``kind``) at its earliest event ``t`` at or before ``as_of``, and
    one row per event whose ``order_id`` is NULL (nothing to group it with). Self-pairs included."""
    rc = _negative_events(commerce, as_of, commerce)
    keyed = rc.filter(rc.order_id.notnull())
    first = keyed.group_by(["user_id", "creator_id", "order_id", "kind"]).aggregate(t=keyed.t.min())
    loose = rc.filter(rc.order_id.isnull())
    cols = ("user_id", "creator_id", "order_id", "kind", "t")
    return ibis.union(first.select(*cols), loose.select(*cols), distinct=False)


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
    (not a self-pair, ``order_id`` known): ``refund_s``/``complaint_s``, the earliest refund /
    complaint time (null when there is none). The state
    :meth:`~trustecon.trust.online.OnlineTrust.from_table` needs (``order_negatives=``) so that
    another refund of an order the build saw refunded adds nothing (or moves it back in time)."""
    rc = _negative_events(commerce, as_of, commerce)
    rc = rc.filter(rc.order_id.notnull() & (rc.user_id != rc.creator_id))
    return rc.group_by(["user_id", "creator_id", "order_id"]).aggregate(
        refund_s=rc.t.min(where=rc.kind == "refund"), complaint_s=rc.t.min(where=rc.kind == "complaint"),
    )


def order_rows(ev: ir.Table, events: ir.Table) -> ir.Table:
    """The reference evidence rows of the order, refund and complaint channels: ``user_id,
    creator_id, channel, t, intensity`` from ``ev`` (the log up to ``τ``), refunds and complaints
    reaching their pair through the order lines of ``events`` (the whole log). An order is one row
    (its lines' amounts summed, at its first line); a refund or complaint row is kept when it is the
    first (by time) of its (pair, order, kind), or when its ``order_id`` is NULL. Null ids and
    self-pairs are the caller's to drop."""
    ol = ev.filter(ev.kind == "order")
    ot = ol.group_by(["user_id", "creator_id", "order_id"]).aggregate(
        t=event_seconds(ol.ts).min(), a=ol.amount.fill_null(0.0).clip(lower=0.0).sum()
    )
    orders = ot.select(user_id=ot.user_id, creator_id=ot.creator_id, channel=ibis.literal("order"), t=ot.t,
                       intensity=order_intensity(ot.a))
    neg = ev.filter(ev.kind.isin(list(NEGATIVE_KINDS)))
    op = order_pairs(events)
    j = neg.left_join(op, neg.order_id == op.order_id)
    rows = j.select(user_id=j.user_id.fill_null(j.o_user), creator_id=j.creator_id.fill_null(j.o_creator),
                    order_id=j.order_id, channel=j.kind, t=event_seconds(j.ts))
    # Rank within (pair, order, kind) by time: rank 0 is the order's first refund (ties: any one of
    # them, all at the same t). NULL order ids share a partition, so they are kept whatever their rank.
    rank = ibis.row_number().over(group_by=[rows.user_id, rows.creator_id, rows.order_id, rows.channel],
                                  order_by=rows.t)
    rows = rows.mutate(_rank=rank)
    firsts = rows.filter(rows.order_id.isnull() | (rows._rank == 0))
    negs = firsts.select("user_id", "creator_id", "channel", "t", intensity=ibis.literal(1.0))
    return ibis.union(orders, negs, distinct=False)
