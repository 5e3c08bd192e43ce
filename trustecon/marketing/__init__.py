"""Brand marketing through trusted creators (DESIGN.md §8): the campaign planner and the GSP auction baseline."""

from trustecon.marketing.auction import AuctionResult, BidderState, gsp, run_auction
from trustecon.marketing.compare import Comparison, compare_workspace, offline_comparison
from trustecon.marketing.planner import Campaign, CampaignPlanner, Plan, PlanError, PlanRow, choose, plan_workspace

__all__ = [
    "AuctionResult",
    "BidderState",
    "Campaign",
    "CampaignPlanner",
    "Comparison",
    "Plan",
    "PlanError",
    "PlanRow",
    "choose",
    "compare_workspace",
    "gsp",
    "offline_comparison",
    "plan_workspace",
    "run_auction",
]
