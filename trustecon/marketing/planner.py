"""The campaign planner: which trusted creators a brand should pay to maximise kept orders (DESIGN.md §8).

A brand brings a :class:`Campaign` (brand, products, budget, objective = kept orders, optional
audience, length). :class:`CampaignPlanner` learns, from the event log and the trust tables only
(never ``truth/``), four numbers per creator and then chooses creators under the budget:

- **trusted reach** of creator c for the campaign: ``reach_c = Σ_u T(u,c) · fit(u)`` over the users
  with a pair-trust row for c (its followers and its engaged non-followers), restricted to the
  campaign's audience when one is given. ``T`` is pair trust (DESIGN.md §5).
- **fit(u)**: u's smoothed share of shopping interest in the campaign. With ``h_u`` = u's order lines
  and product clicks on the campaign's products (or, without products, on the brand's products) and
  ``n_u`` = all of u's order lines and product clicks, ``fit(u) = (h_u + s·π) / (n_u + s)``, where
  ``π = (Σ h + 1) / (Σ n + B)`` is the platform's Laplace-smoothed share (B = brands in the log) and
  ``s = fit_strength``. A user with no history gets π. The log has no product categories, so fit is
  by brand/product: the additive-smoothing estimate of a multinomial share (Manning et al. 2008 §13.2).
- **conversion**, by ``conversion=``:
  ``"pins"`` (default): what a live-room pin sponsorship sells — the creator's pin exposures bought
  (one pin in ``pin_every`` for the campaign's days) × orders per exposure from a Poisson brand ×
  room model (:mod:`trustecon.marketing.sponsorship`). Why the default (since session 6): it
  forecasts what the campaign buys; in the market experiment (docs/evaluation/market.md) its
  forecasts were 0.87 of the kept orders delivered, ``"brand"``'s about twice what was delivered.
  ``"brand"``: λ_c, c's orders *of the campaign's brand/products* per unit of its trusted
  reach for the campaign, Gamma–Poisson with an empirical-Bayes prior toward the brand's platform
  rate (:meth:`CampaignPlanner._brand_rates`): a creator sells what it carries, so its own history
  with the brand is the evidence. ``"carrier"``: as ``"brand"``, but a creator that never sold the
  brand may simply not carry it: zero-inflated Gamma–Poisson by EM (:func:`carrier_rates`), forecast
  rate P(carrier) · E[λ_c] (it chose slightly worse than ``"brand"`` in the backtest).
  ``"creator"``: p_c, orders of any brand per unit of historical trusted reach ``H_c = Σ_u T(u,c)`` (all of c's
  pair-trust rows). With ``k_c`` = distinct orders sold through c (clipped to ``H_c``), a beta-binomial
  with empirical-Bayes prior Beta(m·S, (1−m)·S): ``m = Σk/ΣH`` (the platform mean) and S from the
  method of moments, ``S = m(1−m)/τ² − 1`` with τ² the between-creator variance of ``k/H`` net of the
  binomial noise ``m(1−m)·mean(1/H)`` (clipped to [``min_prior_strength``, ``max_prior_strength``]).
  Posterior Beta(m·S + k_c, (1−m)·S + H_c − k_c); p_c is its mean (Casella 1985, "An introduction to
  empirical Bayes data analysis"). Fractional trials are pseudo-counts, as in any beta reputation.
- **reliability** R_c: the kept share of c's orders, the posterior mean of ``seller_reliability``
  (Beta(alpha, beta), Jøsang & Ismail 2002). A creator who never sold gets the platform prior
  Beta(r̄·``reliability_strength``, (1−r̄)·``reliability_strength``), r̄ = pooled kept share of creators.

**Expected kept orders** ``E_c = reach_c · p_c · R_c · (days / history_days)`` (λ_c in place of p_c
with ``"brand"``): the creator sells the
brand the way its trusting audience already buys it, at its historical rate, scaled to the campaign's
length; kept orders are the reliable share. **Price** (stated assumption): a creator's fee is its rate
card, a CPM on its whole trusted audience, ``fee_c = cpm · H_c / 1000 · (days / history_days)``
(what the brand pays does not depend on the brand's fit; a brand pays for the audience it buys).

**Choice** (0/1 knapsack, values E_c, weights fee_c): greedy by E_c/fee_c, skipping creators that no
longer fit, compared with the best single creator that fits; the better of the two is at least ½ of
the optimum (Kellerer, Pferschy & Pisinger 2004, §2.5). Why not exact: fees are real numbers and a
real log has thousands of candidates; greedy is O(n log n). The greedy is monotone in the budget (a
creator that fits only at the larger budget is worth more than everything after it could add in
the smaller leftover, since those have lower ratios), so more budget never lowers the plan's value.

**Learning from delivered campaigns** (``past_delivery``): a platform that has run campaigns knows how
its plans fared. With ``F`` the kept orders its past plans forecast and ``D`` what they delivered,
``D ~ Poisson(θ F)`` with a Gamma(κ, κ) prior on the delivery factor θ (mean 1, κ =
``delivery_strength``) gives the posterior Gamma(κ + D, κ + F); every forecast is multiplied by its
mean ``θ̂ = (κ + D)/(κ + F)`` (so the brand's ``max_cpa`` is held against the corrected forecast) and
each uncertainty draw by a draw of θ. Why: a planner chooses the creators it rates best, and choices
made on estimates disappoint on average (the winner's curse; in the market experiment the pin forecast
was 0.87 of delivery in two rounds, docs/evaluation/market.md); the record of delivered campaigns is
the direct measurement of that, the one the platform owns. Gamma–Poisson as in Gelman et al.,
*Bayesian Data Analysis*, §2.6. Without a record θ = 1 and nothing changes.

**Uncertainty**: ``n_draws`` seeded draws of p_c (or λ_c, gamma) and R_c from their posteriors and of the
kept orders from Poisson(reach·p·R·scale); the row and total intervals are the draws' quantiles.
Audience overlap between chosen creators is not removed (each creator's reach counts in full) and
the campaign's own uplift is not modelled (the log has no campaign exposure to fit it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from trustecon.marketing.carrier import carrier_rates
from trustecon.marketing.interest import shopping_interest, user_fit

__all__ = [
    "CONVERSIONS", "Campaign", "CampaignPlanner", "Plan", "PlanError", "PlanRow", "carrier_rates", "choose",
    "plan_workspace", "shopping_interest", "user_fit",
]

#: Conversion models of :class:`CampaignPlanner` (the first is the default).
CONVERSIONS = ("pins", "brand", "carrier", "creator")

#: Tables the planner reads from a built workspace.
REQUIRED_TABLES = ("pair_trust", "creator_credibility", "seller_reliability")


class PlanError(ValueError):
    """A campaign or its inputs cannot be planned (unknown brand, bad budget, missing tables)."""


@dataclass(frozen=True)
class Campaign:
    """What a brand wants: kept orders of its products within ``budget`` over ``days``.

    ``product_ids`` empty means all the brand's products; ``audience`` (user ids) limits reach to
    those users; ``days`` ``None`` means as long as the history the planner learned from;
    ``max_cpa`` (optional) the brand's ceiling on a creator's expected cost per kept order
    (fee / expected kept orders): a creator above it is excluded with that reason; ``exclude``
    creators the brand will not use (e.g. already booked by another brand).
    """

    brand_id: int
    budget: float
    product_ids: tuple[int, ...] = ()
    objective: str = "kept_orders"
    audience: frozenset[int] | None = None
    days: float | None = None
    max_cpa: float | None = None
    exclude: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not (isinstance(self.budget, int | float) and math.isfinite(self.budget) and self.budget > 0):
            raise PlanError(f"budget {self.budget!r}: must be a finite number > 0")
        if self.objective != "kept_orders":
            raise PlanError(f"objective {self.objective!r}: only 'kept_orders' is supported")
        if self.days is not None and not (math.isfinite(self.days) and self.days > 0):
            raise PlanError(f"days {self.days!r}: must be > 0")
        if self.max_cpa is not None and not (math.isfinite(self.max_cpa) and self.max_cpa > 0):
            raise PlanError(f"max_cpa {self.max_cpa!r}: must be a finite number > 0")
        object.__setattr__(self, "product_ids", tuple(int(p) for p in self.product_ids))
        if self.audience is not None:
            object.__setattr__(self, "audience", frozenset(int(u) for u in self.audience))
        object.__setattr__(self, "exclude", frozenset(int(c) for c in self.exclude))


@dataclass(frozen=True)
class PlanRow:
    """One candidate creator: its numbers, whether chosen, and why it was excluded (if it was);
    ``exposures``: with ``conversion="pins"``, the pin exposures the campaign buys (``conversion`` is
    then orders per exposure), else ``None``."""

    creator_id: int
    reach: float
    conversion: float
    reliability: float
    credibility: float
    expected_orders: float
    expected_kept: float
    cost: float
    low: float
    high: float
    chosen: bool = False
    excluded: str | None = None
    exposures: float | None = None

    @property
    def cpa(self) -> float | None:
        """Cost per expected kept order (None when nothing is expected)."""
        return self.cost / self.expected_kept if self.expected_kept > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "cpa": self.cpa}


@dataclass(frozen=True)
class Plan:
    """The chosen creators, their totals and interval, and the excluded candidates with reasons."""

    campaign: Campaign
    chosen: list[PlanRow]
    excluded: list[PlanRow]
    candidates: int
    expected_kept: float
    expected_orders: float
    cost: float
    low: float
    high: float
    interval: float
    method: str
    assumptions: list[str] = field(default_factory=list)

    @property
    def cpa(self) -> float | None:
        return self.cost / self.expected_kept if self.expected_kept > 0 else None

    def as_dict(self) -> dict[str, Any]:
        c = self.campaign
        return {
            "campaign": {
                "brand_id": c.brand_id,
                "budget": c.budget,
                "product_ids": list(c.product_ids),
                "objective": c.objective,
                "audience_size": None if c.audience is None else len(c.audience),
                "days": c.days,
            },
            "totals": {
                "expected_kept_orders": self.expected_kept,
                "expected_orders": self.expected_orders,
                "cost": self.cost,
                "cpa": self.cpa,
                "low": self.low,
                "high": self.high,
                "interval": self.interval,
            },
            "method": self.method,
            "candidates": self.candidates,
            "chosen": [r.as_dict() for r in self.chosen],
            "excluded": [{"creator_id": r.creator_id, "reason": r.excluded} for r in self.excluded],
            "assumptions": self.assumptions,
        }


def choose(values: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    """Indices of a 0/1 knapsack choice: greedy by value/cost with the best-single-item fix (≥ ½ OPT).

    Ties in ratio go to the larger value, then the lower index, so equal inputs give equal plans.
    Items with value ≤ 0 are never chosen; an item of cost 0 and value > 0 always is.
    """
    values = np.asarray(values, dtype=np.float64)
    costs = np.asarray(costs, dtype=np.float64)
    if values.shape != costs.shape or np.any(costs < 0) or not np.all(np.isfinite(costs)):
        raise PlanError("choose: values and costs must have one shape, costs finite and ≥ 0")
    ok = np.flatnonzero((values > 0) & (costs <= budget))
    if ok.size == 0:
        return np.empty(0, dtype=np.int64)
    with np.errstate(divide="ignore"):
        ratio = np.where(costs[ok] > 0, values[ok] / np.where(costs[ok] > 0, costs[ok], 1.0), np.inf)
    order = ok[np.lexsort((ok, -values[ok], -ratio))]
    picked: list[int] = []
    left = float(budget)
    for i in order:
        if costs[i] <= left + 1e-9 * max(1.0, budget):
            picked.append(int(i))
            left -= float(costs[i])
    best = int(ok[np.lexsort((ok, -values[ok]))][0])
    if values[best] > values[picked].sum():
        picked = [best]
    return np.array(sorted(picked), dtype=np.int64)


def _col(t: pa.Table | pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    df = t.to_pandas() if isinstance(t, pa.Table) else t
    return df[list(names)]


class CampaignPlanner:
    """Learns each creator's trusted audience, conversion and reliability; plans campaigns on them.

    Parameters: ``cpm`` the fee per 1,000 units of trusted reach over the history's length;
    ``min_credibility`` the floor on ``creator_credibility.score`` (the creator's percentile of vouched
    credibility, so sybil-boosted creators stay out); ``min_reliability`` the floor on the kept share;
    ``fit_strength`` the smoothing of fit; ``reliability_strength`` the prior weight for creators who
    never sold; ``min_prior_strength``/``max_prior_strength`` the clip of the empirical-Bayes prior;
    ``n_draws``/``interval``/``random_state`` the seeded simulation of the uncertainty range;
    ``conversion``: ``"pins"`` (default, :mod:`~trustecon.marketing.sponsorship`), ``"brand"``,
    ``"carrier"`` or ``"creator"``, see :meth:`_brand_rates` and :func:`carrier_rates`;
    ``pin_every``: with ``"pins"``, the sponsor gets one pin in ``pin_every``; ``pin_strength`` and
    ``pin_holdout``: the pin model's prior strength and the share of the history held out to calibrate
    it (:class:`~trustecon.marketing.sponsorship.PinModel`); ``past_delivery``: ``(forecast, delivered)``
    kept orders of the platform's past plans and ``delivery_strength`` κ (module docstring, "Learning
    from delivered campaigns"). Learned: ``delivery_factor_`` θ̂ (1 without a record).
    """

    def __init__(
        self,
        *,
        conversion: str = "pins",
        pin_every: int = 3,
        pin_strength: float = 1.0,
        pin_holdout: float = 0.0,
        past_delivery: tuple[float, float] | None = None,
        delivery_strength: float = 10.0,
        cpm: float = 500.0,
        min_credibility: float = 0.1,
        min_reliability: float = 0.5,
        fit_strength: float = 5.0,
        reliability_strength: float = 10.0,
        min_prior_strength: float = 1.0,
        max_prior_strength: float = 1e4,
        n_draws: int = 2000,
        interval: float = 0.9,
        random_state: int | None = 0,
    ) -> None:
        self.conversion = conversion
        self.pin_every = pin_every
        self.pin_strength = pin_strength
        self.pin_holdout = pin_holdout
        self.past_delivery = past_delivery
        self.delivery_strength = delivery_strength
        self.cpm = cpm
        self.min_credibility = min_credibility
        self.min_reliability = min_reliability
        self.fit_strength = fit_strength
        self.reliability_strength = reliability_strength
        self.min_prior_strength = min_prior_strength
        self.max_prior_strength = max_prior_strength
        self.n_draws = n_draws
        self.interval = interval
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        events: pa.Table | pd.DataFrame,
        pair_trust: pa.Table | pd.DataFrame,
        creator_credibility: pa.Table | pd.DataFrame,
        seller_reliability: pa.Table | pd.DataFrame,
    ) -> CampaignPlanner:
        """Learn per-creator audiences, conversion posteriors and reliability from the log and tables."""
        if self.cpm < 0 or not math.isfinite(self.cpm):
            raise PlanError(f"cpm {self.cpm!r}: must be ≥ 0")
        if not 0 < self.interval < 1:
            raise PlanError(f"interval {self.interval!r}: must be in (0, 1)")
        if self.conversion not in CONVERSIONS:
            raise PlanError(f"conversion {self.conversion!r}: must be one of {', '.join(CONVERSIONS)}")
        if not (isinstance(self.pin_every, int) and self.pin_every >= 1):
            raise PlanError(f"pin_every {self.pin_every!r}: must be a whole number ≥ 1")
        self.delivery_ = self._delivery_posterior()
        self.delivery_factor_ = self.delivery_[0] / self.delivery_[1]
        ev = events.to_pandas() if isinstance(events, pa.Table) else events
        pt = _col(pair_trust, ["user_id", "creator_id", "trust"]).astype({"user_id": "int64", "creator_id": "int64"})
        cred = _col(creator_credibility, ["creator_id", "score"])
        rel = _col(seller_reliability, ["seller_id", "seller_kind", "alpha", "beta", "kept", "orders", "pending"])

        orders = ev[(ev["kind"] == "order") & ev["order_id"].notna()]
        self.interest_, self.product_brand_ = shopping_interest(ev)
        if self.conversion == "pins":
            from trustecon.marketing.sponsorship import PinModel

            self.pins_ = PinModel(self.pin_strength, self.pin_holdout, self.fit_strength).fit(ev, self.product_brand_)
        self.brands_ = frozenset(int(b) for b in orders["brand_id"].dropna().unique())

        ts = pd.to_datetime(ev["ts"], utc=True)
        span = (ts.max() - ts.min()).total_seconds() / 86400.0 if len(ev) else 0.0
        self.history_days_ = max(span, 1.0)

        # Conversion: k_c distinct orders per H_c = Σ_u T(u,c), empirical-Bayes beta prior.
        hist = pt.groupby("creator_id")["trust"].sum()
        k = (
            orders.dropna(subset=["creator_id"])
            .groupby(orders["creator_id"].dropna().astype("int64"))["order_id"]
            .nunique()
        )
        cre = pd.DataFrame({"H": hist}).join(k.rename("k")).fillna({"k": 0.0})
        cre = cre[cre["H"] > 0]
        cre["k"] = np.minimum(cre["k"].astype(float), cre["H"])
        m = float(cre["k"].sum() / cre["H"].sum()) if len(cre) else 0.0
        S = self.max_prior_strength
        if len(cre) >= 2 and 0 < m < 1:
            raw = cre["k"] / cre["H"]
            w = cre["H"] / cre["H"].sum()
            var = float((w * (raw - m) ** 2).sum())
            tau2 = var - m * (1 - m) * float((1.0 / cre["H"]).mean())
            if tau2 > 0:
                S = m * (1 - m) / tau2 - 1
        S = float(np.clip(S, self.min_prior_strength, self.max_prior_strength))
        self.platform_conversion_, self.prior_strength_ = m, S
        a0, b0 = max(m * S, 1e-9), max((1 - m) * S, 1e-9)
        cre["a"] = a0 + cre["k"]
        cre["b"] = b0 + cre["H"] - cre["k"]

        # Reliability (creator sellers); pooled prior for those who never sold.
        rc = rel[rel["seller_kind"] == "creator"].set_index(rel[rel["seller_kind"] == "creator"]["seller_id"])
        settled = float((rc["orders"] - rc["pending"]).sum()) if len(rc) else 0.0
        rbar = float(rc["kept"].sum() / settled) if settled > 0 else 0.5
        rbar = min(max(rbar, 1e-3), 1 - 1e-3)
        cre["ra"] = rc["alpha"].reindex(cre.index).fillna(rbar * self.reliability_strength)
        cre["rb"] = rc["beta"].reindex(cre.index).fillna((1 - rbar) * self.reliability_strength)
        cre["sold"] = cre.index.isin(rc.index)
        cre["cred"] = cred.set_index("creator_id")["score"].reindex(cre.index)
        self.creators_ = cre
        self.pair_trust_ = pt
        lines = orders.dropna(subset=["creator_id"])[["order_id", "creator_id", "brand_id", "product_id"]]
        self.order_lines_ = lines.astype("Int64")
        return self

    def _delivery_posterior(self) -> tuple[float, float]:
        """Gamma (shape, rate) of the delivery factor θ from ``past_delivery`` (module docstring)."""
        k = self.delivery_strength
        if not (math.isfinite(k) and k > 0):
            raise PlanError(f"delivery_strength {k!r}: must be a finite number > 0")
        if self.past_delivery is None:
            return k, k
        try:
            f, d = (float(v) for v in self.past_delivery)
        except (TypeError, ValueError):
            raise PlanError(f"past_delivery {self.past_delivery!r}: must be (forecast, delivered)") from None
        if not (math.isfinite(f) and math.isfinite(d) and f >= 0 and d >= 0):
            raise PlanError(f"past_delivery {self.past_delivery!r}: forecast and delivered must be finite and >= 0")
        return k + d, k + f

    def _delivery_note(self) -> str:
        k = self.delivery_strength
        return (f"every forecast x {self.delivery_factor_:.3f}: past plans delivered {self.delivery_[0] - k:,.1f} of "
                f"{self.delivery_[1] - k:,.1f} forecast kept orders (Gamma-Poisson, prior strength {k:g})")

    def _brand_rates(self, campaign: Campaign, exposure: pd.Series) -> tuple[pd.Series, pd.Series]:
        """``conversion="brand"``: each creator's rate of the campaign's orders per unit of its trusted
        reach for the campaign, from its own history with the brand (or the products).

        With ``X_c`` = c's trusted reach for the campaign over the history (``Σ_u T(u,c)·fit(u)``, every
        user) and ``k_c`` = distinct orders of the campaign's brand/products sold through c, the rate
        ``λ_c`` gets a Gamma(S·μ, S) prior, ``μ = Σk/ΣX`` (the brand's platform rate) and S by the
        method of moments (``S = μ/τ²``, τ² the between-creator variance of ``k/X`` net of the Poisson
        noise ``μ·mean(1/X)``, clipped to [``min_prior_strength``, ``max_prior_strength``]): the
        Gamma–Poisson model of counts per exposure (Gelman et al., *Bayesian Data Analysis*, §2.6;
        empirical Bayes as Casella 1985). Posterior Gamma(S·μ + k_c, S + X_c); returns (shape, rate).
        Why: a creator sells what it carries; the platform-wide ``"creator"`` conversion ignores that,
        and in the simulator's backtest it ranked next month's brand orders per creator far below the
        creators' own brand history (docs/evaluation/marketing.md)."""
        k = self._brand_counts(campaign, exposure.index)
        x = exposure.astype(float)
        ok = x > 0
        mu = float(k[ok].sum() / x[ok].sum()) if ok.any() and x[ok].sum() > 0 else 0.0
        S = self.max_prior_strength
        if ok.sum() >= 2 and mu > 0:
            r = k[ok] / x[ok]
            w = x[ok] / x[ok].sum()
            tau2 = float((w * (r - mu) ** 2).sum()) - mu * float((1.0 / x[ok]).mean())
            if tau2 > 0:
                S = mu / tau2
        S = float(np.clip(S, self.min_prior_strength, self.max_prior_strength))
        return S * mu + k, S + x

    def _brand_counts(self, campaign: Campaign, creators: pd.Index) -> pd.Series:
        """Distinct orders of the campaign's brand (or products) sold through each creator."""
        ol = self.order_lines_
        if campaign.product_ids:
            hit = ol["product_id"].isin(campaign.product_ids)
        else:
            hit = ol["brand_id"] == campaign.brand_id
        k = ol[hit.fillna(False)].groupby("creator_id")["order_id"].nunique().astype(float)
        return k.reindex(creators).fillna(0.0)

    # ----------------------------------------------------------------- plan
    def _fit_users(self, campaign: Campaign) -> tuple[pd.Series, float]:
        return user_fit(self.interest_, campaign.brand_id, campaign.product_ids, len(self.brands_), self.fit_strength)

    def plan(self, campaign: Campaign) -> Plan:
        """Choose creators for ``campaign`` (see the module docstring for every formula)."""
        if not hasattr(self, "creators_"):
            raise PlanError("the planner is not fitted: call fit(...) first")
        if campaign.brand_id not in self.brands_:
            known = len(self.brands_)
            raise PlanError(f"unknown brand {campaign.brand_id}: no orders of it in the log ({known} brands sell)")
        bad = [p for p in campaign.product_ids if self.product_brand_.get(p) != campaign.brand_id]
        if bad:
            raise PlanError(f"products {bad} are not products of brand {campaign.brand_id} in the log")
        fit_u, pi = self._fit_users(campaign)
        pt = self.pair_trust_
        if campaign.audience is not None:
            pt = pt[pt["user_id"].isin(campaign.audience)]
        f = pt["user_id"].map(fit_u).fillna(pi)
        reach = (pt["trust"] * f).groupby(pt["creator_id"]).sum()
        cre = self.creators_.join(reach.rename("reach")).fillna({"reach": 0.0})
        scale = (campaign.days or self.history_days_) / self.history_days_
        if self.conversion in ("brand", "carrier"):
            full = self.pair_trust_
            fa = full["user_id"].map(fit_u).fillna(pi)
            exposure = (full["trust"] * fa).groupby(full["creator_id"]).sum().reindex(cre.index).fillna(0.0)
            shape, rate = self._brand_rates(campaign, exposure)
            carries = pd.Series(1.0, index=cre.index)
            if self.conversion == "carrier":
                k = self._brand_counts(campaign, cre.index)
                w, sh, rt, *_ = carrier_rates(k.to_numpy(), exposure.to_numpy(), self.min_prior_strength,
                                              self.max_prior_strength)
                carries = pd.Series(w, index=cre.index)
                shape, rate = pd.Series(sh, index=cre.index), pd.Series(rt, index=cre.index)
            cre = cre.assign(g_shape=shape, g_rate=rate, carries=carries)
            p = carries * shape / rate
        elif self.conversion == "pins":
            fc = self.pins_.forecast(campaign.brand_id, fit_u, pi, cre.index, campaign.days or self.history_days_,
                                     self.pin_every)
            cre = cre.assign(pin_x=fc["exposures"], pin_m=fc["base"], a_sh=fc["a_shape"],
                             a_rt=fc["a_rate"], c_sh=fc["c_shape"], c_rt=fc["c_rate"])
            p = fc["rate"]
        else:
            p = cre["a"] / (cre["a"] + cre["b"])
        r = cre["ra"] / (cre["ra"] + cre["rb"])
        # "pins": what the sponsorship's pins sell (exposures bought × rate); otherwise reach × conversion.
        units_c = cre["pin_x"] if self.conversion == "pins" else cre["reach"] * scale
        exp_orders = units_c * p * self.delivery_factor_
        exp_kept = exp_orders * r
        cost = self.cpm * cre["H"] / 1000.0 * scale

        reasons: list[str | None] = []
        cost_, kept_ = cost.to_numpy(), exp_kept.to_numpy()
        for i, (row, rr) in enumerate(zip(cre.itertuples(), r, strict=True)):
            if row.Index in campaign.exclude:
                reasons.append("excluded by the campaign")
            elif pd.isna(row.cred):
                reasons.append("no credibility score")
            elif row.cred < self.min_credibility:
                reasons.append(f"credibility {row.cred:.2f} < floor {self.min_credibility:.2f}")
            elif rr < self.min_reliability:
                reasons.append(f"reliability {rr:.2f} < floor {self.min_reliability:.2f}")
            elif row.reach <= 0:
                reasons.append("no trusted reach in the campaign's audience")
            elif self.conversion == "pins" and row.pin_x <= 0:
                reasons.append("no live-room pin exposures in the history")
            elif campaign.max_cpa is not None and cost_[i] > campaign.max_cpa * kept_[i]:
                cpa_ = f"{cost_[i] / kept_[i]:.2f}" if kept_[i] > 0 else "unbounded"
                reasons.append(f"expected cost per kept order {cpa_} > max_cpa {campaign.max_cpa:g}")
            else:
                reasons.append(None)
        eligible = np.array([x is None for x in reasons])
        idx = np.flatnonzero(eligible)
        pick = idx[choose(exp_kept.to_numpy()[idx], cost.to_numpy()[idx], campaign.budget)]

        # Seeded predictive draws for the chosen creators.
        rng = np.random.default_rng(self.random_state)
        q = ((1 - self.interval) / 2, 1 - (1 - self.interval) / 2)
        sub = cre.iloc[pick]
        if len(pick):
            if self.conversion in ("brand", "carrier"):
                shape, scale_ = sub["g_shape"].to_numpy(), 1.0 / sub["g_rate"].to_numpy()
                pd_ = rng.gamma(shape, scale_, size=(self.n_draws, len(pick)))
                pd_ *= rng.random(size=pd_.shape) < sub["carries"].to_numpy()  # a non-carrier sells none
            elif self.conversion == "pins":  # one brand effect for the whole plan, one room effect per creator
                a = rng.gamma(sub["a_sh"].to_numpy()[0], 1.0 / sub["a_rt"].to_numpy()[0], size=(self.n_draws, 1))
                c = rng.gamma(sub["c_sh"].to_numpy(), 1.0 / sub["c_rt"].to_numpy(), size=(self.n_draws, len(pick)))
                pd_ = sub["pin_m"].to_numpy() * (a * c) ** self.pins_.calibration_[1]
            else:
                pd_ = rng.beta(sub["a"].to_numpy(), sub["b"].to_numpy(), size=(self.n_draws, len(pick)))
            rd = rng.beta(sub["ra"].to_numpy(), sub["rb"].to_numpy(), size=(self.n_draws, len(pick)))
            units = sub["pin_x"].to_numpy() if self.conversion == "pins" else sub["reach"].to_numpy() * scale
            if self.past_delivery is not None:  # one delivery factor per draw (drawn only with a record)
                pd_ = pd_ * rng.gamma(self.delivery_[0], 1.0 / self.delivery_[1], size=(self.n_draws, 1))
            draws = rng.poisson(units * pd_ * rd).astype(np.float64)
        else:
            draws = np.zeros((self.n_draws, 0))
        qm: Final = "inverted_cdf"  # quantiles that are draws (whole orders), not interpolations
        lo_c, hi_c = (np.quantile(draws, q[0], axis=0, method=qm), np.quantile(draws, q[1], axis=0, method=qm))
        tot = draws.sum(axis=1)
        lo_t, hi_t = float(np.quantile(tot, q[0], method=qm)), float(np.quantile(tot, q[1], method=qm))

        pos = {int(i): j for j, i in enumerate(pick)}
        rows: list[PlanRow] = []
        for i, cid in enumerate(cre.index):
            j = pos.get(i)
            rows.append(
                PlanRow(
                    creator_id=int(cid),
                    reach=float(cre["reach"].iloc[i]),
                    conversion=float(p.iloc[i]),
                    reliability=float(r.iloc[i]),
                    credibility=float(cre["cred"].iloc[i]) if pd.notna(cre["cred"].iloc[i]) else float("nan"),
                    expected_orders=float(exp_orders.iloc[i]),
                    expected_kept=float(exp_kept.iloc[i]),
                    cost=float(cost.iloc[i]),
                    low=float(lo_c[j]) if j is not None else 0.0,
                    high=float(hi_c[j]) if j is not None else 0.0,
                    chosen=j is not None,
                    excluded=reasons[i],
                    exposures=float(cre["pin_x"].iloc[i]) if self.conversion == "pins" else None,
                )
            )
        chosen = sorted((x for x in rows if x.chosen), key=lambda x: -x.expected_kept)
        return Plan(
            campaign=campaign,
            chosen=chosen,
            excluded=[x for x in rows if x.excluded is not None],
            candidates=len(rows),
            expected_kept=float(sum(x.expected_kept for x in chosen)),
            expected_orders=float(sum(x.expected_orders for x in chosen)),
            cost=float(sum(x.cost for x in chosen)),
            low=lo_t,
            high=hi_t,
            interval=self.interval,
            method="greedy by expected kept orders per cost, with the best-single-creator fix (≥ ½ of optimal)",
            assumptions=[
                "fit = smoothed share of the user's orders and product clicks on the campaign's brand/products",
                (f"the campaign buys one pin in {self.pin_every} of each chosen creator's live rooms; orders per pin "
                 "exposure as in the history (brand x room Poisson model)") if self.conversion == "pins" else
                "a creator sells the brand as its trusting audience already buys it; no campaign uplift",
                f"fee = CPM {self.cpm:g} per 1,000 units of the creator's whole trusted audience",
                "audience overlap between chosen creators is not removed",
                f"interval: {self.interval:.0%} of {self.n_draws} seeded draws (beta posteriors + Poisson)",
                *([self._delivery_note()] if self.past_delivery is not None else []),
            ],
        )


def plan_workspace(ws: Any, campaign: Campaign, **params: Any) -> Plan:
    """Fit a :class:`CampaignPlanner` on a built workspace and plan ``campaign`` (one library call)."""
    missing = [t for t in REQUIRED_TABLES if not ws.has_table(t)]
    if missing:
        raise PlanError(f"workspace {ws.path} has no {', '.join(missing)} table: run `trustecon build {ws.path}` first")
    planner = CampaignPlanner(**params).fit(ws.events_arrow(), *(ws.read_table(t) for t in REQUIRED_TABLES))
    return planner.plan(campaign)
