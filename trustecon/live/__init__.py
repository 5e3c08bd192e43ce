"""Live commerce (DESIGN.md §7): room funnels, the streaming room monitor and group buys."""

from trustecon.live.funnel import FUNNEL_STAGES, funnel_visits, live_funnel
from trustecon.live.groupbuy import (
    Deal,
    DealStatus,
    GroupBuyError,
    deal_status,
    join_deal,
    list_deals,
    open_deal,
    settle_deal,
    settle_due,
)
from trustecon.live.monitor import RoomMonitor, replay
from trustecon.live.rooms import MONITOR_STAGES, RoomSnapshot, differences, room_stats, snapshots_table

__all__ = [
    "FUNNEL_STAGES",
    "MONITOR_STAGES",
    "Deal",
    "DealStatus",
    "GroupBuyError",
    "RoomMonitor",
    "RoomSnapshot",
    "deal_status",
    "differences",
    "funnel_visits",
    "join_deal",
    "list_deals",
    "live_funnel",
    "open_deal",
    "replay",
    "room_stats",
    "settle_deal",
    "settle_due",
    "snapshots_table",
]
