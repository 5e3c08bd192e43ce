"""Live commerce (DESIGN.md §7): room funnels built on the KPI layer's live visits."""

from trustecon.live.funnel import FUNNEL_STAGES, live_funnel

__all__ = ["FUNNEL_STAGES", "live_funnel"]
