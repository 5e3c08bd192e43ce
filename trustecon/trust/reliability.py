"""Seller reliability R(creator), R(brand): a beta reputation of order outcomes, with its ledger.

Every order (distinct ``order_id``) is one piece of evidence about each seller in it: the creator
who sold it (``creator_id`` of its lines) and every brand whose product it contains. Its outcome:

- **kept**: no refund and no complaint, and at least ``maturity_days`` old, counted from its latest
  line (younger orders are ``pending`` and move nothing: a kept order is only known once the return
  window has passed; counting fresh orders as kept is exactly what brushing exploits);
- **refunded**: a fraction ``f = min(1, refunded amount / order amount)`` (1 when the order has no
  amount) is refunded;
- **complained**: a complaint was filed (whether or not it was refunded).

With the buyer's weight ``b`` and decay ``δ = 2^(−(as_of − t_order)/h)``, each order gives

    a = b δ (1 − f)·[matured, no complaint]        c = b δ (w_refund f + w_complaint [complained])

and each buyer's orders with a seller are **one vote**, capped, not averaged: with ``B`` the buyer's
largest weight among them, ``Σa`` is scaled down to at most ``B`` and ``Σc`` to at most
``B (w_refund + w_complaint)`` (each order keeps its share), as review systems count reviewers rather
than reviews. Then

    R = α / (α + β),  α = α₀ + Σ capped a,  β = β₀ + Σ capped c           (Jøsang & Ismail 2002)

A cap rather than a mean so that the score keeps DESIGN.md §5's direction: a refund or complaint only
lowers its order's ``a`` and raises its ``c``, and a capped sum never falls when a term grows, so it
never raises R. (Until session 9 the vote was the mean over the buyer's settled orders, and a refund
that settled a pending order halved that buyer's complaint: R rose 0.342 → 0.405 in a hand case.)

**An order is dated when it is complete**: its time ``t_order`` (the ledger's ``order_s``) is its
latest line at or before ``as_of``, and decay, maturity (the return window runs from the completed
order) and "engaged before ordering" all use it, as pair trust credits an order at its latest line
(DESIGN.md §5). The reason is §5's direction: another line of an order (same buyer, creator and
brand) dated at or before its latest line leaves ``t_order``, maturity, vetting and engagement where
they were and only adds to the amount (so lowers ``f``), hence never lowers any seller's R. Dated by
its *first* line (until session 10), an extra kept line dated before the order's first line lowered
R: the order decayed more, and the buyer's engagement could stop counting as "before ordering"
(weight 1 → 0.1). The price: a line dated *after* the latest line moves the order forward, so a
matured order can become pending again (its return window restarts with the order's last line) —
intended, not a bug: the order was not complete until then.

The buyer weight is 1 for a *vetted* buyer — one with matured orders from at least
``vetted_min_sellers`` different creators, whatever their outcome (an outcome must not reweigh the
buyer's other orders: when vetting needed *kept* orders, a refund could un-vet a buyer and cut the
weight of their complaint about another order, raising R) — or an *engaged* one — who watched,
entered a live room, interacted with or clicked a product of the seller before ordering (at or
before ``t_order``) — and ``unvetted_weight`` (0.1) otherwise. Fake accounts made for brushing
(kept fake orders) or for fake refunds buy from their one target, so their say is cut for good and
for bad alike. Decay (default half-life 90 days: a quarter's record) lets a seller recover from an
old bad season.

The **ledger** has one row per (seller, order): the outcome, the buyer weight, decay, Δα, Δβ, and
the order's effect on the score, ``R − R_without_this_order`` — every order that moved the score,
by how much and why (the open counterpart of the platforms' selling-reputation score, 带货口碑分).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from trustecon.trust.evidence import ENGAGEMENT, as_of_of, event_seconds, to_seconds

__all__ = ["ENGAGEMENT", "SellerReliability"]

_LN2 = 0.6931471805599453


class SellerReliability:
    """Beta reputation of sellers (creators and brands) from order outcomes.

    Parameters: ``half_life_days`` (90), ``maturity_days`` (7: the usual no-questions return
    window), ``prior_alpha``/``prior_beta`` (1, 1), ``refund_weight`` (1: a refunded order is as bad
    as a kept one is good), ``complaint_weight`` (2: a complaint means the goods were not as
    described), ``unvetted_weight`` (0.1) and ``vetted_min_sellers`` (2), ``prior_weight`` W of the
    confidence ``m / (m + W)``.
    """

    def __init__(
        self,
        *,
        half_life_days: float = 90.0,
        maturity_days: float = 7.0,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        refund_weight: float = 1.0,
        complaint_weight: float = 2.0,
        unvetted_weight: float = 0.1,
        vetted_min_sellers: int = 2,
        prior_weight: float = 2.0,
    ) -> None:
        self.half_life_days = half_life_days
        self.maturity_days = maturity_days
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.refund_weight = refund_weight
        self.complaint_weight = complaint_weight
        self.unvetted_weight = unvetted_weight
        self.vetted_min_sellers = vetted_min_sellers
        self.prior_weight = prior_weight

    def ledger(
        self,
        events: ir.Table,
        as_of: dt.datetime | None = None,
        *,
        commerce: ir.Table | None = None,
        engaged: ir.Table | None = None,
    ) -> ir.Table:
        """One row per (seller, order): ``seller_id, seller_kind, order_id, buyer_id, order_s,
        amount, refunded_fraction, complained, outcome, buyer_weight, decay, d_alpha, d_beta,
        buyer_orders`` (the buyer's settled orders with this seller; all their orders with it share one
        capped vote). ``order_s`` is the order's time, its latest line up to ``as_of`` (when it was
        complete: see the module docstring); decay, maturity and engagement are measured from it.

        ``commerce`` (the log's order/refund/complaint events) and ``engaged`` (``user_id,
        creator_id, first_s``: each pair's first engagement up to ``as_of``) may be given already
        computed, so ``build`` does not rescan the log for them."""
        when = as_of_of(events, as_of)
        if when is None:
            raise ValueError("empty event log: no orders")
        lit = ibis.literal(when, type="timestamp('UTC')")
        src = commerce if commerce is not None else events
        ev = src.filter(src.ts <= lit)
        ref = to_seconds(when)
        h = self.half_life_days * 86_400.0
        mature_s = ref - self.maturity_days * 86_400.0

        lines = ev.filter((ev.kind == "order") & ev.order_id.notnull())
        lines = lines.mutate(t=event_seconds(lines.ts))
        # The order's time is its latest line (complete then), not its first: another line dated at or
        # before it then moves no date, so it only adds to the amount and never lowers R (session 10).
        orders = lines.group_by("order_id").aggregate(
            buyer_id=lines.user_id.min(),
            creator_id=lines.creator_id.min(),
            order_s=lines.t.max(),
            amount=lines.amount.fill_null(0.0).sum(),
        )
        ref_ev = ev.filter((ev.kind == "refund") & ev.order_id.notnull())
        refunds = ref_ev.group_by("order_id").aggregate(
            refunded=ref_ev.amount.fill_null(0.0).sum(), n_ref=ref_ev.count()
        )
        comp_ev = ev.filter((ev.kind == "complaint") & ev.order_id.notnull())
        comps = comp_ev.group_by("order_id").aggregate(n_comp=comp_ev.count())
        o = orders.left_join(refunds, "order_id").left_join(comps, "order_id")
        frac = ibis.ifelse(
            o.n_ref.fill_null(0) > 0,
            ibis.ifelse(o.amount > 0, (o.refunded.fill_null(0.0) / o.amount).clip(upper=1.0), 1.0),
            0.0,
        )
        o = o.select(
            order_id=o.order_id,
            buyer_id=o.buyer_id,
            creator_id=o.creator_id,
            order_s=o.order_s,
            amount=o.amount,
            refunded_fraction=frac.cast("float64"),
            complained=o.n_comp.fill_null(0) > 0,
            matured=o.order_s <= mature_s,
        )
        # Vetted buyers: matured orders from enough distinct creators, whatever their outcome — an
        # outcome must not reweigh the buyer's other orders (a refund that un-vetted the buyer cut
        # the weight of their complaint elsewhere and raised R; session 9).
        matured = o.filter(o.matured & o.creator_id.notnull())
        vet = matured.group_by("buyer_id").aggregate(n_sellers=matured.creator_id.nunique())
        vet = vet.filter(vet.n_sellers >= self.vetted_min_sellers).select(vb=vet.buyer_id, vetted=ibis.literal(True))
        o = o.left_join(vet, o.buyer_id == vet.vb)
        # Engaged buyers: watched, entered a room, interacted or clicked a product of the seller
        # before ordering (at or before the order's latest line: engagement between its lines
        # counts). Brushing orders come from accounts with no such history (how platforms spot 刷单:
        # a purchase with no browsing before it).
        if engaged is None:
            full = events.filter(events.ts <= lit)
            eng = full.filter(full.kind.isin(list(ENGAGEMENT)) & full.user_id.notnull() & full.creator_id.notnull())
            first = eng.group_by(["user_id", "creator_id"]).aggregate(first_s=event_seconds(eng.ts).min())
        else:
            first = engaged.select("user_id", "creator_id", "first_s")
        o = o.left_join(first, (o.buyer_id == first.user_id) & (o.creator_id == first.creator_id))
        engaged = o.first_s.notnull() & (o.first_s <= o.order_s)
        o = o.mutate(engaged=engaged.fill_null(False))
        bw = ibis.ifelse(o.vetted.fill_null(False) | o.engaged, 1.0, self.unvetted_weight)
        decay = ((o.order_s - ref) / h * _LN2).exp()
        outcome = ibis.cases(
            (o.complained, "complained"),
            (o.refunded_fraction > 0, "refunded"),
            (o.matured, "kept"),
            else_="pending",
        )
        bad = (o.refunded_fraction * self.refund_weight) + ibis.ifelse(o.complained, self.complaint_weight, 0.0)
        d_alpha = ibis.ifelse(o.matured & ~o.complained, bw * decay * (1.0 - o.refunded_fraction), 0.0)
        o = o.mutate(
            outcome=outcome,
            buyer_weight=bw,
            decay=decay,
            d_alpha=d_alpha.cast("float64"),
            d_beta=(bw * decay * bad).cast("float64"),
        )
        o = o.mutate(vetted=o.vetted.fill_null(False))
        cols = [
            "order_id", "buyer_id", "order_s", "amount", "refunded_fraction", "complained", "outcome",
            "vetted", "engaged", "buyer_weight", "decay", "d_alpha", "d_beta",
        ]
        by_creator = o.filter(o.creator_id.notnull()).mutate(
            seller_id=o.creator_id, seller_kind=ibis.literal("creator")
        )
        # Brand sellers: the brands of the order's lines (each brand once per order).
        brands = lines.filter(lines.brand_id.notnull()).select("order_id", "brand_id").distinct()
        ob = o.inner_join(brands, "order_id")
        by_brand = ob.mutate(seller_id=ob.brand_id, seller_kind=ibis.literal("brand"))
        keep = ["seller_id", "seller_kind", *cols]
        led = ibis.union(by_creator.select(*keep), by_brand.select(*keep), distinct=False)
        # One buyer, one vote: a buyer's orders with a seller add up to at most one order's worth of
        # evidence — Σα ≤ b and Σβ ≤ b·(refund_weight + complaint_weight), b the buyer's largest
        # weight with the seller — so fifteen accounts placing a hundred fake orders count as fifteen
        # buyers, not a hundred orders. A cap, not a mean: with a mean over the buyer's settled orders
        # a refund that settled a pending order diluted that buyer's complaint and raised R (session
        # 9); capped sums only grow with their terms, so a refund or complaint never raises R.
        w = ibis.window(group_by=["seller_kind", "seller_id", "buyer_id"])
        n_bs = (led.outcome != "pending").cast("int64").sum().over(w)
        cap = led.buyer_weight.max().over(w)
        sum_a, sum_b = led.d_alpha.sum().over(w), led.d_beta.sum().over(w)
        worst = cap * (self.refund_weight + self.complaint_weight)
        share_a = ibis.ifelse(sum_a > cap, cap / sum_a, 1.0)
        share_b = ibis.ifelse(sum_b > worst, worst / sum_b, 1.0)
        return led.mutate(
            buyer_orders=n_bs.cast("int64"),
            d_alpha=(led.d_alpha * share_a).cast("float64"),
            d_beta=(led.d_beta * share_b).cast("float64"),
        )

    def transform(self, events: ir.Table, as_of: dt.datetime | None = None) -> tuple[ir.Table, ir.Table]:
        """``(seller_reliability, ledger)`` as Ibis expressions. The ledger gains ``delta``, the
        order's effect on the score (R minus R without that order)."""
        when = as_of_of(events, as_of)
        if when is None:  # what ledger() raises for an empty log, before it builds anything
            raise ValueError("empty event log: no orders")
        return self.summarize(self.ledger(events, when), when)

    def summarize(self, led: ir.Table, when: dt.datetime) -> tuple[ir.Table, ir.Table]:
        """``(seller_reliability, ledger with delta and reason)`` from a :meth:`ledger` table (``build``
        passes it materialised, so the ledger is computed once for both)."""
        a0, b0 = self.prior_alpha, self.prior_beta
        g = led.group_by(["seller_id", "seller_kind"]).aggregate(
            alpha=a0 + led.d_alpha.sum(),
            beta=b0 + led.d_beta.sum(),
            orders=led.count(),
            kept=(led.outcome == "kept").sum(),
            refunded=(led.outcome == "refunded").sum(),
            complained=(led.outcome == "complained").sum(),
            pending=(led.outcome == "pending").sum(),
        )
        settled = g.kept + g.refunded + g.complained
        mass = g.alpha + g.beta - a0 - b0
        rel = g.select(
            seller_id=g.seller_id,
            seller_kind=g.seller_kind,
            reliability=g.alpha / (g.alpha + g.beta),
            confidence=mass / (mass + self.prior_weight),
            alpha=g.alpha,
            beta=g.beta,
            orders=g.orders,
            kept=g.kept,
            refunded=g.refunded,
            complained=g.complained,
            pending=g.pending,
            # The naive baseline the score is compared with: kept / settled orders, unweighted.
            raw_kept_rate=ibis.ifelse(
                settled > 0, g.kept.cast("float64") / settled.cast("float64"), ibis.null("float64")
            ),
            as_of=ibis.literal(when, type="timestamp('UTC')"),
        )
        j = led.inner_join(rel.select("seller_id", "seller_kind", "alpha", "beta", "reliability"),
                           ["seller_id", "seller_kind"])
        without = (j.alpha - j.d_alpha) / (j.alpha + j.beta - j.d_alpha - j.d_beta)
        why = (
            j.outcome
            + ibis.literal(", ")
            + ibis.cases(
                (j.vetted, ibis.literal("vetted buyer")),
                (j.engaged, ibis.literal("buyer engaged with the seller before ordering")),
                else_=ibis.literal("unvetted buyer with no engagement before ordering"),
            )
        )
        ledger = j.select(
            *[j[c] for c in led.columns],
            delta=(j.reliability - without).cast("float64"),
            reason=why,
        )
        return rel, ledger
