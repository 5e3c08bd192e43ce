"""The two campaign mechanisms of the market experiment (DESIGN.md §8), as simulator markets.

Both implement :class:`trustecon.simulate.market.Market`: each simulated day the world asks what
brands buy, plays it with its choice model and shows the mechanism the logged events. Neither reads
``truth/``; both learn from the workspace's log up to the campaign's first day, which is the same
log under both (the worlds are identical until a campaign starts).

- :class:`TrustRouting` — the trust economy's way: on the first campaign day it builds the trust
  tables from the log (:func:`trustecon.trust.build`), asks :class:`CampaignPlanner` which trusted
  creators to pay for each campaign within its budget and target (by default with
  ``conversion="pins"``: what the sponsored pins sell, :mod:`trustecon.marketing.sponsorship`), gives
  each creator to one brand (:func:`allocate`), pays the fees up front (the planner's rate card, a
  CPM on each creator's trusted audience; the platform keeps ``take``), and the chosen creators pin
  the campaign's product in their live rooms for the campaign's days.
- :class:`AdAuction` — the bidding baseline: one discovery ad slot per active user and day, sold
  by a one-slot GSP auction per impression (:func:`~trustecon.marketing.auction.gsp_one_slot`;
  Edelman, Ostrovsky & Schwarz 2007). Score = bid × quality, quality = the platform's estimate of
  the user's interest in the brand from the log (:func:`~trustecon.marketing.planner.user_fit`, the
  planner's own fit, so both mechanisms target with the same information). Each brand starts at
  half of ``target · conversion`` (its historical orders per product click, shrunk toward the
  platform's: ``(o_b + m·S)/(k_b + S)``), its target is the campaign's ``target_cpa`` (steered on
  orders, whose outcomes come days later), it adjusts its bid each day from the day's realised cost per order
  (:func:`~trustecon.marketing.auction.bid_step`), and its budget is paced evenly (a day may spend
  the remaining budget over the remaining days; the ad stops serving when the day's share is spent).
  Every ad click is paid to the platform.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from trustecon.marketing.auction import bid_step, gsp_one_slot
from trustecon.marketing.planner import Campaign, CampaignPlanner, Plan, shopping_interest
from trustecon.simulate.market import Buys, MarketDay

__all__ = ["AdAuction", "CampaignSpec", "TrustRouting", "allocate", "plans_frame"]


@dataclass(frozen=True)
class CampaignSpec:
    """One campaign of the experiment: ``brand_id`` sells ``product_id`` within ``budget`` from
    ``start_day`` (0-based simulated day) for ``days`` days, at no more than ``target_cpa`` per
    order (both mechanisms get it: the planner as its ``max_cpa``, the bidder as its target);
    ``campaign_id`` tags its events."""

    campaign_id: int
    brand_id: int
    product_id: int
    budget: float
    start_day: int
    days: int
    target_cpa: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.budget) and self.budget > 0):
            raise ValueError(f"campaign {self.campaign_id}: budget must be > 0")
        if not (math.isfinite(self.target_cpa) and self.target_cpa > 0):
            raise ValueError(f"campaign {self.campaign_id}: target_cpa must be > 0")
        if self.start_day < 1 or self.days < 1:
            raise ValueError(f"campaign {self.campaign_id}: start_day ≥ 1 (a history to learn from) and days ≥ 1")

    def active(self, day: int) -> bool:
        return self.start_day <= day < self.start_day + self.days


def _check(campaigns: list[CampaignSpec]) -> list[CampaignSpec]:
    ids = [c.campaign_id for c in campaigns]
    if not campaigns or len(set(ids)) != len(ids):
        raise ValueError("campaigns: at least one, with distinct campaign ids")
    return list(campaigns)


class TrustRouting:
    """Trust routing: the planner's creators pin the campaign's product (module docstring).

    ``workspace``: the workspace the world is being simulated into (its log up to the first campaign
    day is what the planner learns from); ``planner_params`` go to :class:`CampaignPlanner`.
    ``exclusive``: a creator carries one brand's sponsorship at a time (:func:`allocate`), so that
    each sponsor gets the share of pins its plan assumed.
    Learned: ``plans_`` (campaign id → :class:`Plan`), ``build_`` (the trust build's summary),
    ``seconds_`` (wall seconds of the build, the planner's fit and the allocation)."""

    name = "trust_routing"

    def __init__(self, workspace: Any, campaigns: list[CampaignSpec], *, planner_params: dict[str, Any] | None = None,
                 pin_every: int = 3, take: float = 0.1, exclusive: bool = True, engine: str = "duckdb") -> None:
        self.workspace = workspace
        self.exclusive = exclusive
        self.campaigns = _check(campaigns)
        self.planner_params = dict(planner_params or {})
        self.pin_every = pin_every
        self.take = take
        self.engine = engine

    def _plan(self) -> None:
        from trustecon.trust.build import build

        t = time.perf_counter()
        self.build_ = build(self.workspace, engine=self.engine).as_dict()
        self.seconds_ = {"build": time.perf_counter() - t}
        ws = self.workspace
        # The planner forecasts the format the market plays (one pin in pin_every) unless told otherwise.
        params = {"conversion": "pins", "pin_every": self.pin_every, **self.planner_params}
        planner = CampaignPlanner(**params).fit(
            ws.events_arrow(), ws.read_table("pair_trust"), ws.read_table("creator_credibility"),
            ws.read_table("seller_reliability"))
        self.seconds_["fit"] = time.perf_counter() - t - self.seconds_["build"]
        self.plans_ = allocate(planner, self.campaigns, exclusive=self.exclusive)
        self.seconds_["allocate"] = time.perf_counter() - t - self.seconds_["build"] - self.seconds_["fit"]

    def buys(self, ctx: MarketDay) -> Buys | None:
        if not any(c.active(ctx.day) for c in self.campaigns):
            return None
        if not hasattr(self, "plans_"):
            self._plan()
        cre: list[int] = []
        prod: list[int] = []
        camp: list[int] = []
        fee_c: list[int] = []
        fee_b: list[int] = []
        fee_k: list[int] = []
        fee_a: list[float] = []
        for c in self.campaigns:
            if not c.active(ctx.day):
                continue
            for row in self.plans_[c.campaign_id].chosen:
                cre.append(row.creator_id)
                prod.append(c.product_id)
                camp.append(c.campaign_id)
                if ctx.day == c.start_day:  # the fee is paid once, up front
                    fee_c.append(row.creator_id)
                    fee_b.append(c.brand_id)
                    fee_k.append(c.campaign_id)
                    fee_a.append(row.cost)
        i64 = np.int64
        return Buys(sponsor_creator=np.array(cre, i64), sponsor_product=np.array(prod, i64),
                    sponsor_campaign=np.array(camp, i64), pin_every=self.pin_every,
                    fee_campaign=np.array(fee_k, i64), fee_brand=np.array(fee_b, i64),
                    fee_creator=np.array(fee_c, i64), fee_amount=np.array(fee_a, np.float64), take=self.take)

    def observe(self, events: pa.Table) -> None:
        """Nothing to learn during the campaign: the plan is bought up front."""


def allocate(planner: CampaignPlanner, campaigns: list[CampaignSpec], *, exclusive: bool = True,
             max_rounds: int = 1000) -> dict[int, Plan]:
    """Each campaign's plan; with ``exclusive``, no creator in two plans.

    Every brand plans on its own; a creator chosen by several brands goes to the one that expects the
    most kept orders from it (ties: the lower campaign id) and the others plan again without it, until
    no creator is chosen twice. Terminates: every round excludes at least one more (campaign, creator)
    pair. Why this rule: it is what a creator marketplace does when a creator takes one sponsor per
    period — the brand that values the creator most gets it — and it needs no prices beyond the rate card."""
    exclude: dict[int, set[int]] = {c.campaign_id: set() for c in campaigns}
    plans: dict[int, Plan] = {}
    todo = list(campaigns)
    for _ in range(max_rounds):
        for c in todo:
            plans[c.campaign_id] = planner.plan(Campaign(brand_id=c.brand_id, budget=c.budget, days=c.days,
                                                         max_cpa=c.target_cpa,
                                                         exclude=frozenset(exclude[c.campaign_id])))
        if not exclusive:
            return plans
        best: dict[int, tuple[float, int]] = {}
        for c in campaigns:
            for row in plans[c.campaign_id].chosen:
                cand = (row.expected_kept, -c.campaign_id)
                if row.creator_id not in best or cand > best[row.creator_id]:
                    best[row.creator_id] = cand
        losers: set[int] = set()
        for c in campaigns:
            for row in plans[c.campaign_id].chosen:
                if -best[row.creator_id][1] != c.campaign_id:
                    exclude[c.campaign_id].add(row.creator_id)
                    losers.add(c.campaign_id)
        if not losers:
            return plans
        todo = [c for c in campaigns if c.campaign_id in losers]
    raise RuntimeError(f"allocate: no stable allocation after {max_rounds} rounds")


class _AuctionDay(TypedDict):
    """What :meth:`AdAuction.buys` bid today, for :meth:`AdAuction.observe` to charge."""

    day: int
    bids: dict[int, float]


class AdAuction:
    """The GSP ad auction with autobidding brands (module docstring).

    Learned at the first campaign day: ``conversion_``, ``target_cpa_``, ``bid_`` (per campaign,
    updated daily), ``spent_`` (per campaign), ``n_``/``hits_``/``pi_`` (the users' fit, see
    :meth:`quality`); ``history_`` one row per campaign and day (bid, spend, clicks, orders)."""

    name = "auction"
    _today: _AuctionDay | None  # set by the first buys(), so observe() before it does nothing

    def __init__(self, workspace: Any, campaigns: list[CampaignSpec], *, prior_clicks: float = 20.0,
                 fit_strength: float = 5.0, eta: float = 0.5, max_step: float = 1.5, reserve: float = 0.0) -> None:
        self.workspace = workspace
        self.campaigns = _check(campaigns)
        self.prior_clicks = prior_clicks
        self.fit_strength = fit_strength
        self.eta = eta
        self.max_step = max_step
        self.reserve = reserve

    def _learn(self) -> None:
        ev = self.workspace.events_arrow()
        keep = pc.is_in(ev["kind"], pa.array(["order", "product_click"]))
        ev = ev.filter(keep).select(["kind", "user_id", "product_id", "brand_id", "order_id", "amount"]).to_pandas()
        inter, pbrand = shopping_interest(ev)
        brands = {int(b) for b in ev["brand_id"].dropna().unique()}
        orders = ev[ev["kind"] == "order"]
        clicks = ev[ev["kind"] == "product_click"].copy()
        clicks["brand_id"] = clicks["product_id"].map(pbrand)
        m = orders["order_id"].nunique() / max(len(clicks), 1)
        n_users = int(max(inter["user_id"].max() if len(inter) else 0, 1))
        self.users_ = n_users
        # fit(u) = (h_ub + s·π_b) / (n_u + s) (the planner's user_fit) kept sparse: n_u per user and
        # the few (user, brand) hit counts, so memory grows with the log, not with users × brands.
        n_u = inter.groupby("user_id").size()
        self.n_ = np.zeros(n_users + 1)
        self.n_[n_u.index.to_numpy()] = n_u.to_numpy()
        self.pi_ = np.zeros(len(self.campaigns))
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        self.conversion_, self.target_cpa_, self.bid_ = {}, {}, {}
        S = self.prior_clicks
        for j, c in enumerate(self.campaigns):
            o = orders[orders["brand_id"] == c.brand_id]
            k = int((clicks["brand_id"] == c.brand_id).sum())
            conv = min(max((o["order_id"].nunique() + m * S) / (k + S), 1e-6), 1.0)
            self.conversion_[c.campaign_id] = conv
            self.target_cpa_[c.campaign_id] = c.target_cpa
            self.bid_[c.campaign_id] = 0.5 * self.target_cpa_[c.campaign_id] * conv
            hit = inter["brand_id"] == c.brand_id
            h = hit.groupby(inter["user_id"]).sum()
            h = h[h > 0]
            rows.append(h.index.to_numpy())
            cols.append(np.full(len(h), j))
            vals.append(h.to_numpy(dtype=np.float64))
            self.pi_[j] = (float(hit.sum()) + 1.0) / (len(inter) + max(len(brands), 1))
        self.hits_ = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                   shape=(n_users + 1, len(self.campaigns)))
        self.spent_ = {c.campaign_id: 0.0 for c in self.campaigns}
        self.history_: list[dict[str, Any]] = []

    def buys(self, ctx: MarketDay) -> Buys | None:
        live = [j for j, c in enumerate(self.campaigns) if c.active(ctx.day)]
        if not live:
            return None
        if not hasattr(self, "bid_"):
            self._learn()
        cap: dict[int, float] = {}
        open_ = []
        for j in live:
            c = self.campaigns[j]
            left = c.budget - self.spent_[c.campaign_id]
            days_left = c.start_day + c.days - ctx.day
            if left > 1e-9:
                cap[c.campaign_id] = left / days_left
                open_.append(j)
        self._today = {"day": ctx.day, "bids": {self.campaigns[j].campaign_id: self.bid_[self.campaigns[j].campaign_id]
                                                for j in open_}}
        users = np.asarray(ctx.user_ids, dtype=np.int64)
        if not open_:
            return Buys(ad_slots=1)  # the slot is the platform's ad inventory on campaign days, sold or not
        q = self.quality(users, open_)
        bids = np.array([self.bid_[self.campaigns[j].campaign_id] for j in open_])
        win, price = gsp_one_slot(bids, q, reserve=self.reserve)
        ok = win >= 0
        camp = np.array([self.campaigns[j].campaign_id for j in open_], np.int64)[win[ok]]
        prod = np.array([self.campaigns[j].product_id for j in open_], np.int64)[win[ok]]
        return Buys(ad_user=users[ok], ad_product=prod, ad_campaign=camp, ad_price=price[ok], ad_cap=cap, ad_slots=1)

    def quality(self, users: np.ndarray, cols: list[int]) -> np.ndarray:
        """fit(u) to the brands of campaigns ``cols`` (positions in ``campaigns``), users × cols; a user
        with no shopping history (or unknown) gets the platform share π."""
        uu = np.where((users >= 1) & (users <= self.users_), users, 0)  # row 0: no user, no history
        h = self.hits_[uu][:, cols].toarray()
        s = self.fit_strength
        return (h + s * self.pi_[cols][None, :]) / (self.n_[uu] + s)[:, None]

    def observe(self, events: pa.Table) -> None:
        """Charge today's spend to each budget and move each brand's bid by the day's cost per order."""
        if not hasattr(self, "_today"):
            return
        today, self._today = self._today, None
        if today is None:
            return
        t = events.filter(pc.equal(events["surface"], "campaign")).select(["kind", "campaign_id", "amount", "order_id"])
        df = t.to_pandas()
        for c in self.campaigns:
            if c.campaign_id not in today["bids"]:
                continue
            mine = df[df["campaign_id"] == c.campaign_id]
            spend = float(mine.loc[mine["kind"] == "spend", "amount"].sum())
            clicks = int((mine["kind"] == "product_click").sum())
            orders = int(mine.loc[mine["kind"] == "order", "order_id"].nunique())
            self.spent_[c.campaign_id] += spend
            bid = self.bid_[c.campaign_id]
            conv = self.conversion_[c.campaign_id]
            cpa = spend / orders if orders else (math.inf if spend > 0 else None)
            if cpa == math.inf:  # paid, sold nothing: as far down as one step goes
                new = bid / self.max_step
            else:
                new = bid_step(bid, self.target_cpa_[c.campaign_id], cpa, won=clicks > 0,
                               cap=self.target_cpa_[c.campaign_id] * conv, eta=self.eta, max_step=self.max_step)
            self.bid_[c.campaign_id] = new
            self.history_.append({"day": today["day"], "campaign_id": c.campaign_id, "bid": bid, "spend": spend,
                                  "clicks": clicks, "orders": orders})


def plans_frame(plans: dict[int, Plan]) -> pd.DataFrame:
    """One row per chosen creator of every plan (campaign_id, creator_id, cost, expected kept and the
    row's interval ``low``–``high``; ``exposures``: the pin exposures bought, with the ``pins`` forecast)."""
    cols = ["campaign_id", "creator_id", "cost", "expected_kept", "low", "high", "exposures"]
    rows = [{"campaign_id": k, "creator_id": r.creator_id, "cost": r.cost, "expected_kept": r.expected_kept,
             "low": r.low, "high": r.high, "exposures": r.exposures} for k, p in plans.items() for r in p.chosen]
    return pd.DataFrame(rows, columns=cols)
