"""Exposure inequality across creators: Gini, share exposed, Lorenz curve (DESIGN.md §9, §6)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np

from trustecon.kpis._base import (
    PeriodSpec,
    Zone,
    on_spine,
    period_spine,
    ratio,
    reason_if,
    with_period,
    zone_for,
)

__all__ = ["creator_exposure", "exposure_gini", "exposure_lorenz", "gini"]


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (numpy reference for the engine version).

    G = Σᵢ (2i − n − 1)·x₍ᵢ₎ / (n·Σx), x sorted ascending, i = 1..n (the mean-difference form,
    Damgaard & Weiner 2000). 0 = equal; (n − 1)/n = all on one. NaN when Σx = 0 or n = 0.
    """
    x = np.sort(np.asarray(values, dtype=float))
    n, s = x.size, x.sum()
    if n == 0 or s <= 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * s))


def creator_exposure(events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all") -> ir.Table:
    """Per (period, creator) among creators who published or went live (``publish`` or
    ``live_start``) in the period: exposure = their ``impression`` events in the period (0 if none)."""
    timezone = zone_for(events, timezone)
    act = events.filter(events.kind.isin(["publish", "live_start"]) & events.creator_id.notnull())
    act = with_period(act, timezone, period).select("period", "creator_id").distinct()
    imp = events.filter((events.kind == "impression") & events.creator_id.notnull())
    imp = with_period(imp, timezone, period)
    ia = imp.group_by(["period", "creator_id"]).aggregate(exposure=imp.count())
    j = on_spine(act, ia, ["period", "creator_id"], ["exposure"])
    return j.mutate(exposure=j.exposure.cast("int64"))


def exposure_gini(events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all") -> ir.Table:
    """Exposure Gini and share of creators exposed.

    Over the creators active in the period (published or went live), zero exposure included:
    value = Gini of their impression counts (formula of :func:`gini`); share_exposed = creators with
    ≥ 1 impression / active creators. Null with a reason when no creator was active, or when there
    were no impressions of active creators (Gini of all zeros is undefined).
    """
    timezone = zone_for(events, timezone)
    ce = creator_exposure(events, timezone=timezone, period=period)
    w = ibis.window(group_by=ce.period, order_by=[ce.exposure, ce.creator_id])
    wp = ibis.window(group_by=ce.period)
    ce = ce.mutate(i=ibis.row_number().over(w) + 1, n=ce.creator_id.count().over(wp))
    term = (ce.i * 2 - ce.n - 1).cast("float64") * ce.exposure.cast("float64")
    agg = ce.group_by("period").aggregate(
        creators=ce.count(),
        exposed=(ce.exposure > 0).cast("int64").sum(),
        impressions=ce.exposure.sum(),
        weighted=term.sum(),
    )
    agg = on_spine(period_spine(events, timezone, period), agg, ["period"], ["creators", "exposed", "impressions"])
    return agg.select(
        "period",
        creators=agg.creators.cast("int64"),
        exposed=agg.exposed.cast("int64"),
        impressions=agg.impressions.cast("int64"),
        value=ratio(agg.weighted, agg.creators.cast("float64") * agg.impressions.cast("float64")),
        share_exposed=ratio(agg.exposed, agg.creators),
        reason=reason_if(
            (agg.creators == 0, "no creator published or went live"),
            (agg.impressions == 0, "no impressions of active creators"),
        ),
    )


def exposure_lorenz(events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all") -> ir.Table:
    """Lorenz curve of exposure: per period, creators sorted by exposure ascending (ties by id);
    creator_share = i / n and exposure_share = Σ_{j≤i} x_j / Σ x (null when Σ x = 0)."""
    timezone = zone_for(events, timezone)
    ce = creator_exposure(events, timezone=timezone, period=period)
    w = ibis.window(group_by=ce.period, order_by=[ce.exposure, ce.creator_id])
    cum = ibis.window(group_by=ce.period, order_by=[ce.exposure, ce.creator_id], rows=(None, 0))
    wp = ibis.window(group_by=ce.period)
    ce = ce.mutate(
        rank=(ibis.row_number().over(w) + 1).cast("int64"),
        n=ce.creator_id.count().over(wp),
        cum=ce.exposure.sum().over(cum),
        total=ce.exposure.sum().over(wp),
    )
    return ce.select(
        "period",
        "creator_id",
        "exposure",
        "rank",
        creator_share=ratio(ce.rank, ce.n),
        exposure_share=ratio(ce.cum, ce.total),
    )
