"""Planner vs bidding for one brand and budget on one workspace: an *offline estimate* (DESIGN.md §8).

Not the market experiment of DESIGN.md §8 (``trustecon experiment market``, which runs both
mechanisms inside the simulator, with users' outcomes). Here, on any workspace, both are scored with
the same outcome model, historical conversion from the log, and every assumption is listed in the
result:

- **planner**: :class:`~trustecon.marketing.planner.CampaignPlanner`'s plan for the campaign (its
  expected kept orders by the planner's forecast, ``conversion`` as passed in ``planner_params``).
- **auction**: every brand with orders bids in :func:`~trustecon.marketing.auction.run_auction` for
  ``slots`` discovery ad slots, one round per campaign day. A brand's orders per click are its
  historical orders per product click, shrunk toward the platform's, ``conv_b = (o_b + m·S)/(k_b + S)``
  (o orders, k clicks on its products, m = Σo/Σk, S = ``prior_clicks``; clipped to [0, 1]); its
  quality score is conv_b; its target CPA is ``target_share`` × its average order value; it starts
  bidding at half of ``target · conv``. Slot s gets ``ctr / (s+1)`` clicks per impression, with ``ctr``
  the platform's product clicks per impression; ``ad_share`` of the log's daily discovery impressions
  are sold. The campaign brand stops when its budget is spent (its last round counts pro rata); kept
  orders are its orders × its seller reliability (``seller_reliability``, kind brand).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trustecon.marketing.auction import BidderState, run_auction
from trustecon.marketing.planner import REQUIRED_TABLES, Campaign, CampaignPlanner, PlanError

__all__ = ["Comparison", "compare_workspace", "offline_comparison"]

LABEL = "offline estimate: both mechanisms scored with historical conversion, not a market experiment"


@dataclass(frozen=True)
class Comparison:
    """Planner vs auction numbers for one campaign, with the assumptions behind both."""

    planner: dict[str, Any]
    auction: dict[str, Any]
    assumptions: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"label": LABEL, "planner": self.planner, "auction": self.auction, "assumptions": self.assumptions}


def offline_comparison(
    events: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    campaign: Campaign,
    *,
    slots: int = 3,
    ad_share: float = 0.1,
    target_share: float = 0.3,
    prior_clicks: float = 20.0,
    planner_params: dict[str, Any] | None = None,
) -> Comparison:
    """Score the planner's plan and a GSP auction campaign for ``campaign`` (module docstring)."""
    if slots < 1 or not 0 < ad_share <= 1 or target_share <= 0 or prior_clicks <= 0:
        raise PlanError("slots ≥ 1, ad_share in (0, 1], target_share > 0 and prior_clicks > 0")
    planner = CampaignPlanner(**(planner_params or {})).fit(events, *(tables[t] for t in REQUIRED_TABLES))
    days = campaign.days or planner.history_days_
    plan = planner.plan(campaign)

    orders = events[(events["kind"] == "order") & events["order_id"].notna() & events["brand_id"].notna()]
    per = orders.groupby(orders["brand_id"].astype("int64")).agg(o=("order_id", "nunique"), gmv=("amount", "sum"))
    clicks = events[(events["kind"] == "product_click") & events["product_id"].notna()]
    cb = clicks["product_id"].astype("int64").map(planner.product_brand_).dropna().astype("int64")
    per["k"] = cb.value_counts().reindex(per.index).fillna(0.0)
    m = float(per["o"].sum() / per["k"].sum()) if per["k"].sum() > 0 else 0.0
    per["conv"] = ((per["o"] + m * prior_clicks) / (per["k"] + prior_clicks)).clip(0.0, 1.0)
    per["aov"] = per["gmv"] / per["o"]
    rel = tables["seller_reliability"]
    rel = rel[rel["seller_kind"] == "brand"].set_index("seller_id")["reliability"]
    n_imp = int((events["kind"] == "impression").sum())
    ctr = float(len(clicks) / n_imp) if n_imp else 0.0
    disc = int(((events["kind"] == "impression") & (events["surface"] == "discover")).sum())
    impressions = ad_share * disc / planner.history_days_

    bidders = [
        BidderState(int(b), 0.5 * target_share * r.aov * r.conv, float(r.conv), float(r.conv), target_share * r.aov)
        for b, r in per.iterrows()
        if r.aov > 0
    ]
    rounds = max(int(np.ceil(days)), 1)
    res = run_auction(bidders, [ctr / (s + 1) for s in range(slots)], rounds=rounds, impressions=impressions)
    spend = kept_orders = orders_ = 0.0
    won = sum(1 for r in res.rounds if r["brand_id"] == campaign.brand_id and r["spend"] > 0)
    for r in res.rounds:
        if r["brand_id"] != campaign.brand_id or spend >= campaign.budget or r["spend"] <= 0:
            continue
        f = min(1.0, (campaign.budget - spend) / r["spend"])
        spend += f * r["spend"]
        orders_ += f * r["orders"]
    kept_share = float(rel.get(campaign.brand_id, np.nan))
    kept_orders = orders_ * kept_share if np.isfinite(kept_share) else float("nan")
    auction: dict[str, Any] = {
        "orders": orders_,
        "kept_orders": kept_orders,
        "spend": spend,
        "cpa": spend / kept_orders if kept_orders > 0 else None,
        "platform_revenue_all_brands": res.platform_revenue,
        "rounds": rounds,
        "conversion_per_click": float(per["conv"].get(campaign.brand_id, np.nan)),
        "target_cpa": float(target_share * per["aov"].get(campaign.brand_id, np.nan)),
        "rounds_won": won,
    }
    if won == 0:  # say why the auction column is empty
        auction["note"] = (
            f"brand {campaign.brand_id} won no slot in {rounds} rounds: its bid × quality (orders per click "
            f"{auction['conversion_per_click']:.3f}, target CPA {auction['target_cpa']:.2f}) ranked below the top "
            f"{slots} of {len(bidders)} bidding brands in every round"
        )
    planned = {
        "orders": plan.expected_orders,
        "kept_orders": plan.expected_kept,
        "spend": plan.cost,
        "cpa": plan.cpa,
        "platform_revenue_all_brands": 0.0,
        "creators": [r.creator_id for r in plan.chosen],
        "low": plan.low,
        "high": plan.high,
    }
    assumptions = [
        *plan.assumptions,
        f"auction: {slots} discovery slots, {impressions:,.0f} ad impressions a day ({ad_share:.0%} of discovery), "
        f"click rate {ctr:.4f}/(slot+1), {rounds} daily rounds, {len(bidders)} brands bidding",
        f"auction: orders per click = a brand's historical orders per product click, shrunk with {prior_clicks:g} "
        "clicks of prior; target CPA = {:.0%} of its average order value; the planner's fees go to creators, "
        "the auction's to the platform".format(target_share),
        "auction: the log's product clicks are live-room clicks (viewers already watching a creator); discovery "
        "ad clicks likely convert less, so the auction's numbers are optimistic",
        "no user outcomes are estimated here: `trustecon experiment market` measures them in the simulator",
    ]
    return Comparison(planner=planned, auction=auction, assumptions=assumptions)


def compare_workspace(ws: Any, campaign: Campaign, **params: Any) -> Comparison:
    """:func:`offline_comparison` on a built workspace (one library call for the CLI and API)."""
    missing = [t for t in REQUIRED_TABLES if not ws.has_table(t)]
    if missing:
        raise PlanError(f"workspace {ws.path} has no {', '.join(missing)} table: run `trustecon build {ws.path}` first")
    tables = {t: ws.read_table(t).to_pandas() for t in REQUIRED_TABLES}
    return offline_comparison(ws.events_arrow().to_pandas(), tables, campaign, **params)
