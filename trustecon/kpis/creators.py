"""Creator income: do creators with an audience earn? (DESIGN.md §9; article: 55% of ≥10k-fan creators)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from trustecon.kpis._base import (
    PeriodSpec,
    Zone,
    follow_spells,
    on_spine,
    period_kinds,
    period_label,
    period_spine,
    ratio,
    reason_if,
    with_period,
    zone_for,
)

__all__ = ["creator_income", "follower_counts"]


def follower_counts(events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all") -> ir.Table:
    """Followers of each creator at the end of each period of the log: (period, creator_id, followers).

    A user follows c at a period's end when a follow spell (:func:`trustecon.kpis.follow_spells`)
    starts in that period or before and does not end in it or before (periods compare by label).
    """
    timezone = zone_for(events, timezone)
    spells = follow_spells(events)
    spine = period_spine(events, timezone, period)
    if isinstance(period, str):
        spells = spells.mutate(
            s_label=period_label(spells.start, timezone, period),
            e_label=period_label(spells.end, timezone, period),
        )
        preds = []
    else:
        # Several kinds at once: each spell once per kind, labelled for it, and matched only with the
        # spine's labels of that kind (kinds differ in label length: all, YYYY-MM, YYYY-MM-DD).
        kinds = period_kinds(period)
        spells = spells.mutate(kind=ibis.array(list(kinds)).unnest())
        spells = spells.mutate(
            s_label=ibis.cases(*((spells.kind == k, period_label(spells.start, timezone, k)) for k in kinds)),
            e_label=ibis.cases(*((spells.kind == k, period_label(spells.end, timezone, k)) for k in kinds)),
        )
        preds = [spells.s_label.length() == spine.period.length()]
    preds += [spells.s_label <= spine.period, spells.end.isnull() | (spells.e_label > spine.period)]
    j = spine.join(spells, preds)
    return j.group_by([j.period, j.creator_id]).aggregate(followers=j.user_id.nunique())


def creator_income(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", min_followers: int = 10_000
) -> ir.Table:
    """Share of creators with ≥ ``min_followers`` followers who earn.

    eligible = creators with ≥ min_followers followers at the period's end (:func:`follower_counts`);
    earning = creators with income in the period: Σ ``amount`` of their ``payout`` and ``gift``
    events > 0. value = eligible earning / eligible; earning_creators counts all earning creators
    (any audience). Null with a reason when no creator reaches the threshold. Real platforms use
    N = 10,000; a simulated population should scale N with its size and say so.
    """
    timezone = zone_for(events, timezone)
    if min_followers < 1:
        raise ValueError(f"min_followers must be >= 1, not {min_followers}")
    inc = events.filter(events.kind.isin(["payout", "gift"]) & events.creator_id.notnull())
    inc = with_period(inc, timezone, period)
    inc = inc.group_by(["period", "creator_id"]).aggregate(income=inc.amount.sum())
    inc = inc.filter(inc.income > 0)
    fc = follower_counts(events, timezone=timezone, period=period)
    elig = fc.filter(fc.followers >= min_followers)
    ej = elig.left_join(inc, [elig.period == inc.period, elig.creator_id == inc.creator_id])
    ej = ej.select(period=elig.period, earns=inc.income.notnull().cast("int64"))
    ea = ej.group_by("period").aggregate(eligible=ej.count(), eligible_earning=ej.earns.sum())
    earning = inc.group_by("period").aggregate(earning_creators=inc.count(), income=inc.income.sum())
    t = on_spine(period_spine(events, timezone, period), ea, ["period"], ["eligible", "eligible_earning"])
    t = on_spine(t, earning, ["period"], ["earning_creators", "income"])
    return t.select(
        "period",
        eligible=t.eligible.cast("int64"),
        eligible_earning=t.eligible_earning.cast("int64"),
        earning_creators=t.earning_creators.cast("int64"),
        income=t.income.cast("float64"),
        value=ratio(t.eligible_earning, t.eligible),
        reason=reason_if((t.eligible == 0, f"no creator with >= {min_followers} followers")),
    )
