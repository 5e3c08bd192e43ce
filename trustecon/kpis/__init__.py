"""The KPI catalogue (DESIGN.md §9): pure functions from the event log to Ibis tables.

Each KPI function takes ``events`` (an Ibis table with :data:`trustecon.events.SCHEMA`) and
``timezone`` (the workspace's; days and months are cut in it) and ``period`` (``day``, ``month`` or
``all``), and returns an Ibis table with a ``period`` column, the counts behind the number, ``value``
and ``reason`` (why ``value`` is null: a KPI whose events are absent is null with a reason, never 0).
Nothing executes until the caller asks, on whatever engine ``events`` lives (DuckDB or Spark give
the same numbers). :func:`headline` executes the six article figures; :func:`compute_all` builds
every table for ``trustecon kpis``.
"""

from __future__ import annotations

from trustecon.kpis._base import Zone, follow_spells, local_ts, period_label, zone_for
from trustecon.kpis.campaign import campaign_metrics
from trustecon.kpis.catalogue import (
    ARTICLE_FIGURES,
    HEADLINE,
    HEADLINE_TABLES,
    OTHER_ARTICLE_FIGURES,
    KpiValue,
    compute_all,
    headline,
)
from trustecon.kpis.commerce import (
    complete_months,
    monthly_repurchase,
    order_value,
    private_domain_gmv_share,
    refund_rate,
)
from trustecon.kpis.creators import creator_income, follower_counts
from trustecon.kpis.exposure import exposure_gini, exposure_lorenz, gini
from trustecon.kpis.live import (
    interactions_per_minute,
    live_room_metrics,
    live_sessions,
    live_visits,
    live_watch_time,
    products_seen_per_visit,
)
from trustecon.kpis.reach import fan_content_reach, follow_conversion

__all__ = [
    "ARTICLE_FIGURES",
    "HEADLINE",
    "HEADLINE_TABLES",
    "OTHER_ARTICLE_FIGURES",
    "KpiValue",
    "Zone",
    "campaign_metrics",
    "complete_months",
    "compute_all",
    "creator_income",
    "exposure_gini",
    "exposure_lorenz",
    "fan_content_reach",
    "follow_conversion",
    "follow_spells",
    "follower_counts",
    "gini",
    "headline",
    "interactions_per_minute",
    "live_room_metrics",
    "live_sessions",
    "live_visits",
    "live_watch_time",
    "local_ts",
    "monthly_repurchase",
    "order_value",
    "period_label",
    "private_domain_gmv_share",
    "products_seen_per_visit",
    "refund_rate",
    "zone_for",
]
