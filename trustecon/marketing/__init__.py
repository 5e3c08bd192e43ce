"""Brand marketing through trusted creators (DESIGN.md §8): the campaign planner, the GSP auction
baseline, and the market experiment that runs both in the simulator."""

from trustecon.marketing.auction import AuctionResult, BidderState, bid_step, gsp, gsp_one_slot, run_auction
from trustecon.marketing.compare import Comparison, compare_workspace, offline_comparison
from trustecon.marketing.experiment import (
    campaign_creator_orders,
    choose_campaigns,
    delivery_record,
    market_experiment,
    market_outcomes,
    plan_outcomes,
)
from trustecon.marketing.market import AdAuction, CampaignSpec, TrustRouting
from trustecon.marketing.planner import Campaign, CampaignPlanner, Plan, PlanError, PlanRow, choose, plan_workspace

__all__ = [
    "AdAuction",
    "AuctionResult",
    "BidderState",
    "Campaign",
    "CampaignPlanner",
    "CampaignSpec",
    "Comparison",
    "Plan",
    "PlanError",
    "PlanRow",
    "TrustRouting",
    "bid_step",
    "campaign_creator_orders",
    "choose",
    "choose_campaigns",
    "compare_workspace",
    "delivery_record",
    "gsp",
    "gsp_one_slot",
    "market_experiment",
    "market_outcomes",
    "offline_comparison",
    "plan_outcomes",
    "plan_workspace",
    "run_auction",
]
