"""The catalogue: headline numbers beside the article's figures, and every KPI table at once."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import ibis.expr.types as ir

from trustecon.kpis import campaign, commerce, creators, exposure, live, reach
from trustecon.kpis._base import Zone, zone_for

__all__ = [
    "ARTICLE_FIGURES",
    "HEADLINE",
    "HEADLINE_TABLES",
    "OTHER_ARTICLE_FIGURES",
    "KpiValue",
    "compute_all",
    "headline",
    "headline_value",
]


@dataclass(frozen=True)
class KpiValue:
    """One KPI number with its meaning: ``value`` is None exactly when ``reason`` says why."""

    name: str
    value: float | None
    reason: str | None
    unit: str
    definition: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The article's figures (DESIGN.md §2), keyed like :func:`headline`. Claims, not verified facts.
ARTICLE_FIGURES: dict[str, float] = {
    "live_watch_minutes_per_visit": 24.0,
    "products_seen_per_live_visit": 5.0,
    "fan_content_reach": 0.62,
    "interactions_per_minute_live_vs_video": 12.0,
    "monthly_repurchase_rate": 0.65,
    "aov_top10_creators": 135.0,
}

#: Further article figures with a KPI of their own (not in :func:`headline`).
OTHER_ARTICLE_FIGURES: dict[str, float] = {
    "creator_income_share": 0.55,  # creators with ≥10k fans who earn income
}


@dataclass(frozen=True)
class _Spec:
    fn: Callable[..., ir.Table]
    unit: str
    definition: str
    kwargs: dict[str, Any]


#: How each headline number is computed: the KPI function (period "all") and its meaning.
HEADLINE: dict[str, _Spec] = {
    "live_watch_minutes_per_visit": _Spec(
        live.live_watch_time, "min", "mean (leave − enter) over closed live visits, in minutes", {}
    ),
    "products_seen_per_live_visit": _Spec(
        live.products_seen_per_visit,
        "products",
        "mean distinct products pinned during a closed live visit, counting the one on show at entry",
        {},
    ),
    "fan_content_reach": _Spec(
        reach.fan_content_reach,
        "share",
        "share of (follower at publish, content) pairs with an impression or view within 7 days; "
        "content of the log's last 7 days left out",
        {},
    ),
    "interactions_per_minute_live_vs_video": _Spec(
        live.interactions_per_minute,
        "×",
        "(live interactions / live minutes) / (short-video interactions / short-video minutes); "
        "interactions = like, comment, share, gift, product_click",
        {},
    ),
    "monthly_repurchase_rate": _Spec(
        commerce.monthly_repurchase,
        "share",
        "of users ordering in month m, the share ordering in m+1; pooled over months with m and m+1 wholly in the log",
        {},
    ),
    "aov_top10_creators": _Spec(
        commerce.order_value,
        "currency",
        "GMV / distinct orders over the lines of the top 10% of creators by GMV",
        {"top_share": 0.1},
    ),
}


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


#: Headline KPI → the table of :func:`compute_all` holding it as ``tables/kpis_<name>`` (its row for a
#: period): the same function and arguments as :data:`HEADLINE`, so a stored row is the headline number.
HEADLINE_TABLES: dict[str, str] = {
    "live_watch_minutes_per_visit": "kpis_live_watch_time",
    "products_seen_per_live_visit": "kpis_products_seen",
    "fan_content_reach": "kpis_fan_content_reach",
    "interactions_per_minute_live_vs_video": "kpis_interactions_per_minute",
    "monthly_repurchase_rate": "kpis_monthly_repurchase",
    "aov_top10_creators": "kpis_order_value_top10",
}


def headline_value(name: str, rows: list[dict[str, Any]], *, missing: str = "empty event log") -> KpiValue:
    """Headline KPI ``name`` from its KPI table's rows for one period (none: ``missing`` is the reason)."""
    spec = HEADLINE[name]
    if not rows:
        value, reason = None, missing
    else:
        value, reason = _finite(rows[0]["value"]), rows[0]["reason"]
        if value is None and reason is None:
            reason = "undefined (no data for this KPI)"
        if value is not None:
            reason = None
    return KpiValue(name=name, value=value, reason=reason, unit=spec.unit, definition=spec.definition)


def headline(events: ir.Table, *, timezone: str | Zone = "UTC") -> dict[str, KpiValue]:
    """The six headline KPIs over the whole log (period ``all``), executed on ``events``' engine.

    Keys are those of :data:`ARTICLE_FIGURES`. A KPI without its events has ``value=None`` and a
    ``reason``; an empty log gives every KPI the reason "empty event log". Right after
    :func:`~trustecon.kpis.persist.write_kpis`, :func:`~trustecon.kpis.persist.stored_headline` reads the
    same numbers from the written tables instead of computing them again (6–8 s on the default preset).
    """
    timezone = zone_for(events, timezone)
    out: dict[str, KpiValue] = {}
    for name, spec in HEADLINE.items():
        rows = spec.fn(events, timezone=timezone, period="all", **spec.kwargs).to_pyarrow().to_pylist()
        out[name] = headline_value(name, rows)
    return out


def compute_all(
    events: ir.Table,
    *,
    timezone: str | Zone = "UTC",
    periods: tuple[str, ...] = ("all", "month", "day"),
    min_followers: int = 10_000,
    stack_periods: bool = False,
) -> dict[str, ir.Table]:
    """Every KPI table, keyed by the name it is stored under (``tables/kpis_<name>``).

    Per-period tables carry a ``period`` column holding ``all``, months (``YYYY-MM``) and days
    (``YYYY-MM-DD``) stacked; per-creator and per-session tables are over the whole log.

    Each per-period table is one expression over all ``periods`` (a :data:`~trustecon.kpis._base.PeriodSpec`
    tuple: every row labelled once per kind). ``stack_periods=True`` builds one expression per kind
    and stacks them with ``union`` instead: the same rows, kept as the plain reference the tests hold
    the one-expression path to. Why one expression: on a 20k-event log three per table made Ibis's
    building and compiling cost ~3× what DuckDB spent executing; on a 3M-event log the two run alike.
    """
    timezone = zone_for(events, timezone)  # one look at the log's span for every table
    per_period: dict[str, tuple[Callable[..., ir.Table], dict[str, Any]]] = {
        "live_watch_time": (live.live_watch_time, {}),
        "products_seen": (live.products_seen_per_visit, {}),
        "interactions_per_minute": (live.interactions_per_minute, {}),
        "live_rooms": (live.live_room_metrics, {}),
        "fan_content_reach": (reach.fan_content_reach, {}),
        "follow_conversion": (reach.follow_conversion, {}),
        "order_value": (commerce.order_value, {}),
        "order_value_top10": (commerce.order_value, {"top_share": 0.1}),
        "refund_rate": (commerce.refund_rate, {}),
        "private_domain_gmv": (commerce.private_domain_gmv_share, {}),
        "creator_income": (creators.creator_income, {"min_followers": min_followers}),
        "exposure": (exposure.exposure_gini, {}),
    }
    out: dict[str, ir.Table] = {}
    for name, (fn, kw) in per_period.items():
        if stack_periods or len(periods) == 1:
            out[name] = _stack([fn(events, timezone=timezone, period=p, **kw) for p in periods])
        else:
            out[name] = fn(events, timezone=timezone, period=tuple(periods), **kw)
    out["monthly_repurchase"] = _stack(
        [commerce.monthly_repurchase(events, timezone=timezone, period=p) for p in periods if p != "day"]
    )
    creator_tables: dict[str, tuple[Callable[..., ir.Table], dict[str, Any]]] = {
        "live_watch_time_by_creator": (live.live_watch_time, {"by_creator": True}),
        "fan_content_reach_by_creator": (reach.fan_content_reach, {"by_creator": True}),
        "follow_conversion_by_creator": (reach.follow_conversion, {"by_creator": True}),
        "monthly_repurchase_by_creator": (commerce.monthly_repurchase, {"by_creator": True}),
        "order_value_by_creator": (commerce.order_value, {"by_creator": True}),
        "private_domain_gmv_by_creator": (commerce.private_domain_gmv_share, {"by_creator": True}),
        "live_rooms_by_creator": (live.live_room_metrics, {"by": "creator"}),
        "live_sessions": (live.live_room_metrics, {"by": "session"}),
    }
    for name, (fn, kw) in creator_tables.items():
        out[name] = fn(events, timezone=timezone, period="all", **kw)
    out["exposure_lorenz"] = exposure.exposure_lorenz(events, timezone=timezone, period="all")
    out["campaigns"] = campaign.campaign_metrics(events, timezone=timezone, period="all")
    return out


def _stack(parts: list[ir.Table]) -> ir.Table:
    t = parts[0]
    for p in parts[1:]:
        t = t.union(p)
    return t
