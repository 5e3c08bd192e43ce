"""Brand campaigns inside the simulated market: the protocol a mechanism implements and what the
world does with what it buys (DESIGN.md §8, docs/simulator.md §Market).

The world runs campaigns through a :class:`Market`, as it runs feeds through a
:class:`~trustecon.simulate.policy.Policy`: each day, after it has drawn who is active, it asks the
market what brands bought for the day (:class:`Buys`), plays it out with the same choice model as
everything else, logs it in the event schema (``campaign_id`` on every campaign row) and shows the
market the day's events. The mechanisms (trust routing through a planner, a GSP ad auction) live in
the apps layer (:mod:`trustecon.marketing.market`); the simulator never imports them.

What a brand can buy, and the world's rules for it (stated assumptions of the market experiment):

- **Sponsorship** (creator, product, campaign) for a day: if the creator goes live that day, every
  ``pin_every``-th product pin of its session, starting with the first, is the sponsored product
  instead of one of its own (several sponsorships of one creator take turns). Viewers see, click and
  buy it exactly as any pinned product: click ∝ need × (0.5 + T), order ∝ T^1.5 × need × price term,
  refunds from product quality and the *creator's* honesty, and the outcome moves the viewer's trust
  in the creator (docs/simulator.md §Choice, §Trust). A creator who does not go live sells nothing.
- **An ad slot** for a user: the brand's product shown as an ad card on the discovery surface
  (``surface = "campaign"``), one per user and day, taking one of the day's organic feed slots
  (``Buys.ad_slots``). No creator stands behind it, so the user meets it at their trust
  *propensity* (the world's trust in anyone never met): click ``click_probability(need, p_u)``,
  order ``order_probability(p_u, need, price, σ_u)``, refund ``refund_probability(q_p, honesty = 1)``
  (the brand sells directly and does not oversell), complaint with probability 0.2 of a refund.
  Ad orders touch no creator's trust and have no repurchase cycle (the world's repurchases run
  through a trusted seller). The brand pays its per-click price for each click, and the ad stops
  being shown once the day's ``ad_cap`` of its campaign is spent (clicks in time order).
- **Fees**: money paid on the day bought: a ``spend`` event for the brand and, for a creator fee, a
  ``payout`` to the creator of ``amount × (1 − take)`` (the platform keeps ``take``).

Randomness: every draw of the ad path comes from the world's *market* generator, seeded from the
world's seed and kept apart from the main stream, so a market that buys nothing, or a run without a
market, leaves the log exactly as it was (tested). Hand-written because it is the world's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from trustecon.simulate import choice
from trustecon.simulate.buffer import DayBuffer

if TYPE_CHECKING:
    from trustecon.simulate.world import World

__all__ = ["AdBook", "Buys", "Market", "MarketDay", "serve_ads", "sponsor_pins", "write_fees"]

#: Key of the market's own generator: ``default_rng([seed, MARKET_STREAM])``.
MARKET_STREAM = 0x6D61726B6574  # "market"

_I64 = np.int64


def _ints(a: object = ()) -> np.ndarray:
    return np.asarray(a, dtype=_I64).reshape(-1)


@dataclass(frozen=True)
class MarketDay:
    """What a mechanism may know when it buys for one day: ``day`` (0-based), ``date`` (ISO, workspace
    time zone), ``user_ids`` the users active today (log ids) and ``slots`` the organic feed slots."""

    day: int
    date: str
    user_ids: np.ndarray
    slots: int


@dataclass
class Buys:
    """What brands bought for one day (ids are log ids; parallel arrays per kind of buy).

    - sponsorships: ``sponsor_creator``, ``sponsor_product``, ``sponsor_campaign``; ``pin_every``.
    - ads: ``ad_user`` (each at most once, a subset of today's active users), ``ad_product``,
      ``ad_campaign``, ``ad_price`` (per click); ``ad_cap`` the most each campaign may spend on clicks
      today; ``ad_slots`` organic feed slots given up by *every* active user today (0 or 1).
    - fees: ``fee_campaign``, ``fee_brand``, ``fee_creator`` (−1: none), ``fee_amount``; ``take``.
    """

    sponsor_creator: np.ndarray = field(default_factory=_ints)
    sponsor_product: np.ndarray = field(default_factory=_ints)
    sponsor_campaign: np.ndarray = field(default_factory=_ints)
    pin_every: int = 3
    ad_user: np.ndarray = field(default_factory=_ints)
    ad_product: np.ndarray = field(default_factory=_ints)
    ad_campaign: np.ndarray = field(default_factory=_ints)
    ad_price: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ad_cap: dict[int, float] = field(default_factory=dict)
    ad_slots: int = 0
    fee_campaign: np.ndarray = field(default_factory=_ints)
    fee_brand: np.ndarray = field(default_factory=_ints)
    fee_creator: np.ndarray = field(default_factory=_ints)
    fee_amount: np.ndarray = field(default_factory=lambda: np.zeros(0))
    take: float = 0.0

    def validate(self, ctx: MarketDay, n_creators: int, n_products: int) -> Buys:
        """Refuse what the world cannot play (a clear message naming the field), return ``self``."""
        def need(cond: bool, what: str) -> None:
            if not cond:
                raise ValueError(f"market buys for day {ctx.day}: {what}")

        for f in ("sponsor", "ad", "fee"):
            cols = {k: v for k, v in vars(self).items() if k.startswith(f + "_") and isinstance(v, np.ndarray)}
            need(len({c.shape for c in cols.values()}) <= 1, f"{f}_* arrays must have one length")
        need(self.pin_every >= 1, "pin_every must be ≥ 1")
        need(self.ad_slots in (0, 1) and self.ad_slots < ctx.slots, "ad_slots must be 0 or 1 (and < slots)")
        need(bool(np.all((self.sponsor_creator >= 1) & (self.sponsor_creator <= n_creators))),
             "sponsor_creator must be creator ids")
        for name in ("sponsor_product", "ad_product"):
            p = getattr(self, name)
            need(bool(np.all((p >= 1) & (p <= n_products))), f"{name} must be product ids")
        need(np.unique(self.ad_user).size == self.ad_user.size, "ad_user: one ad per user and day")
        need(bool(np.isin(self.ad_user, ctx.user_ids).all()), "ad_user must be users active today")
        need(self.ad_user.size == 0 or self.ad_slots == 1, "ads need ad_slots = 1 (an ad takes a feed slot)")
        need(bool(np.all(self.ad_price >= 0)) and bool(np.all(self.fee_amount >= 0)), "prices and fees ≥ 0")
        need(all(v >= 0 for v in self.ad_cap.values()), "ad_cap values must be ≥ 0")
        need(0.0 <= self.take <= 1.0, "take must be in [0, 1]")
        return self


@runtime_checkable
class Market(Protocol):
    """A campaign mechanism: what brands buy each day. It sees only the logged events."""

    name: str

    def buys(self, ctx: MarketDay) -> Buys | None:
        """The day's buys (``None``: nothing)."""
        ...

    def observe(self, events: pa.Table) -> None:
        """The events the platform logged today (event schema), after the day ran. May do nothing."""


def sponsor_pins(pin_creator: np.ndarray, pin_k: np.ndarray, prod: np.ndarray,
                 buys: Buys) -> tuple[np.ndarray, np.ndarray]:
    """Today's pins with sponsorships applied: ``(products, campaign per pin or −1)``.

    Pin ``k`` (0-based within its session) of a sponsored creator is a sponsored product when
    ``k % pin_every == 0``; the creator's sponsorships (in the order given) take turns at those pins.
    Indices are 0-based here (world space)."""
    camp = np.full(prod.size, -1, dtype=_I64)
    if buys.sponsor_creator.size == 0 or prod.size == 0:
        return prod, camp
    prod = prod.copy()
    sc = buys.sponsor_creator - 1
    order = np.argsort(sc, kind="stable")
    sc, sp_, sk = sc[order], buys.sponsor_product[order] - 1, buys.sponsor_campaign[order]
    first = np.searchsorted(sc, pin_creator, side="left")
    n = np.searchsorted(sc, pin_creator, side="right") - first
    at = (n > 0) & (pin_k % buys.pin_every == 0)
    j = first[at] + (pin_k[at] // buys.pin_every) % np.maximum(n[at], 1)
    prod[at] = sp_[j]
    camp[at] = sk[j]
    return prod, camp


def write_fees(buys: Buys, t0: int, buf: DayBuffer) -> None:
    """Fees paid today: ``spend`` by each brand and ``payout`` to each paid creator, net of the take."""
    if buys.fee_amount.size == 0:
        return
    at = t0 + 8 * 3600 * 1_000_000
    paid = buys.fee_creator >= 1
    for sel, extra in ((paid, {"creator_id": buys.fee_creator[paid]}), (~paid, {})):
        buf.add("spend", np.full(int(sel.sum()), at, dtype=_I64), surface="campaign", brand_id=buys.fee_brand[sel],
                campaign_id=buys.fee_campaign[sel], amount=np.round(buys.fee_amount[sel], 2), **extra)
    if paid.any():
        buf.add("payout", np.full(int(paid.sum()), at + 60_000_000, dtype=_I64), surface="campaign",
                creator_id=buys.fee_creator[paid], campaign_id=buys.fee_campaign[paid],
                amount=np.round(buys.fee_amount[paid] * (1.0 - buys.take), 2))


@dataclass
class AdBook:
    """Ad orders to be refunded: day due → arrays (user, product, order id, amount, complaint, campaign) —
    the ad path's own queue, apart from the creators' orders (a kept ad order needs no event: it pays
    no commission and has no repurchase cycle)."""

    pending: dict[int, list[dict[str, np.ndarray]]] = field(default_factory=dict)

    def settle(self, day: int, t0: int, rng: np.random.Generator, buf: DayBuffer) -> None:
        due = self.pending.pop(day, [])
        if not due:
            return
        o = {k: np.concatenate([d[k] for d in due]) for k in due[0]}
        ts = t0 + (rng.uniform(9.0, 22.0, size=o["user"].size) * 3600 * 1_000_000).astype(_I64)
        cm = o["complain"]
        buf.add("refund", ts, surface="campaign", user_id=o["user"] + 1, product_id=o["product"] + 1,
                order_id=o["order"], amount=o["amount"], campaign_id=o["campaign"])
        buf.add("complaint", ts[cm] + 600_000_000, surface="campaign", user_id=o["user"][cm] + 1,
                order_id=o["order"][cm], campaign_id=o["campaign"][cm])


def serve_ads(world: World, buys: Buys, day: int, t0: int, buf: DayBuffer) -> None:
    """Play today's ads (module docstring): impressions are not logged (an event needs a creator);
    clicks, orders and the day's per-click spend are, with ``campaign_id``."""
    if buys.ad_user.size == 0:
        return
    cfg, pop, rng = world.cfg, world.pop, world.market_rng
    u, p = buys.ad_user - 1, buys.ad_product - 1
    hours = np.clip(pop.hour[u] + rng.normal(0.0, 1.5, size=u.size), 0.2, 23.3)
    when = t0 + (hours * 3600 * 1_000_000).astype(_I64)
    need = choice.interest_match(pop, u, pop.product_category[p])
    trust = pop.propensity[u]
    click = rng.random(u.size) < choice.click_probability(cfg, need, trust)
    buy_u = rng.random(u.size)  # drawn for every ad so that the stream does not depend on the clicks
    idx = np.flatnonzero(click)
    idx = idx[np.argsort(when[idx], kind="stable")]
    # The ad stops once the campaign's cap for today is spent: keep clicks while the running cost fits.
    camp, price = buys.ad_campaign[idx], buys.ad_price[idx]
    keep = np.zeros(idx.size, dtype=bool)
    for k in np.unique(camp):
        sel = np.flatnonzero(camp == k)
        keep[sel] = np.cumsum(price[sel]) <= buys.ad_cap.get(int(k), np.inf) + 1e-9
    idx = idx[keep]
    if idx.size == 0:
        return
    cu, cp, cc, cts = u[idx], p[idx], buys.ad_campaign[idx], when[idx] + 20_000_000
    brand = pop.product_brand[cp] + 1
    buf.add("product_click", cts, surface="campaign", user_id=cu + 1, product_id=cp + 1, brand_id=brand,
            campaign_id=cc)
    spend = np.bincount(np.searchsorted(np.unique(cc), cc), weights=buys.ad_price[idx])
    kc = np.unique(cc)
    kb = np.array([brand[cc == k][0] for k in kc], dtype=_I64)
    buf.add("spend", np.full(kc.size, t0 + 23 * 3600 * 1_000_000 + 45 * 60_000_000, dtype=_I64),
            surface="campaign", brand_id=kb, campaign_id=kc, amount=np.round(spend, 2))
    go = buy_u[idx] < choice.order_probability(cfg, trust[idx], need[idx], pop.price[cp],
                                                pop.price_sensitivity[cu])
    n = int(go.sum())
    if n == 0:
        return
    ou, op, oc = cu[go], cp[go], cc[go]
    oid = np.arange(world.next_order, world.next_order + n, dtype=_I64)
    world.next_order += n
    qty = 1 + rng.poisson(0.15, size=n)
    amount = np.round(pop.price[op] * qty, 2)
    buf.add("order", cts[go] + 30_000_000, surface="campaign", user_id=ou + 1, product_id=op + 1,
            brand_id=pop.product_brand[op] + 1, order_id=oid, amount=amount, quantity=qty, campaign_id=oc)
    refund = rng.random(n) < choice.refund_probability(cfg, pop.product_quality[op], np.ones(n))
    complain = refund & (rng.random(n) < 0.2)
    # A delay is drawn for every order (kept ones use none) so that the stream does not depend on refunds.
    due = day + rng.integers(2, 11, size=n)
    for d in np.unique(due[refund]):
        sel = refund & (due == d)
        if d < cfg.days:
            world.ad_book.pending.setdefault(int(d), []).append(dict(
                user=ou[sel], product=op[sel], order=oid[sel], amount=amount[sel], complain=complain[sel],
                campaign=oc[sel]))
