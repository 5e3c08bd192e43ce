"""Reach of the private domain: fan content reach rate (粉丝内容到达率, DESIGN.md §9; article: 62%)
and the follow conversion of short-video viewers."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from trustecon.kpis._base import (
    PeriodSpec,
    Zone,
    follow_spells,
    is_follower_at,
    log_bounds,
    on_spine,
    period_spine,
    ratio,
    reason_if,
    share_of,
    shared,
    with_period,
    zone_for,
)

__all__ = ["fan_content_reach", "follow_conversion"]


def fan_content_reach(
    events: ir.Table,
    *,
    timezone: str | Zone = "UTC",
    period: PeriodSpec = "all",
    by_creator: bool = False,
    window_days: int = 7,
) -> ir.Table:
    """Fan content reach rate.

    Pairs: (follower f of creator c at the instant c published content x, x). A follower at an
    instant t has a follow spell with start ≤ t < end (:func:`trustecon.kpis._base.follow_spells`:
    the latest follow/unfollow at or before t is a follow; a follow and unfollow at one instant leave
    the pair unfollowed). A pair is *reached* when f has an ``impression`` or a ``view`` (an opened
    item was shown) of x with publish ≤ ts < publish + ``window_days`` days. Content published less
    than ``window_days`` before the log's last event is left out (its window is not wholly in the
    log); content published twice counts from its first ``publish``. value = reached pairs / pairs,
    per period of the publish. Null with a reason when no eligible content or no follower pairs.
    """
    timezone = zone_for(events, timezone)
    pub = _eligible_content(events, window_days)
    p = _reach_pairs(events, window_days)
    p = with_period(p, timezone, period, ts="published")
    keys = ["period", "creator_id"] if by_creator else ["period"]
    agg = p.group_by(keys).aggregate(pairs=p.count(), reached=p.reached.sum())
    eligible = with_period(pub, timezone, period, ts="published")
    ec = eligible.group_by(keys).aggregate(contents=eligible.count())
    if by_creator:
        base = ec.select(*keys)
    else:
        base = period_spine(events, timezone, period)
    t = on_spine(base, ec, keys, ["contents"])
    t = on_spine(t, agg, keys, ["pairs", "reached"])
    return t.select(
        *keys,
        contents=t.contents.cast("int64"),
        pairs=t.pairs.cast("int64"),
        reached=t.reached.cast("int64"),
        value=ratio(t.reached, t.pairs),
        reason=reason_if(
            (t.contents == 0, f"no content published at least {window_days} days before the log's end"),
            (t.pairs == 0, "no followers at publish time"),
        ),
    )


def _eligible_content(events: ir.Table, window_days: int) -> ir.Table:
    """(creator_id, content_id, published): content first published ≥ ``window_days`` before the log's end."""
    pub = events.filter((events.kind == "publish") & events.content_id.notnull())
    pub = pub.group_by(["creator_id", "content_id"]).aggregate(published=pub.ts.min())
    pub = pub.cross_join(log_bounds(events))
    return pub.filter(pub.published + ibis.interval(days=window_days) <= pub.log_end).drop("log_start", "log_end")


def _reach_pairs(events: ir.Table, window_days: int) -> ir.Table:
    """(creator_id, content_id, published, follower, reached 0/1) of :func:`fan_content_reach`;
    period-free, so the per-period and per-creator tables share it (:func:`~trustecon.kpis._base.shared`:
    on the default preset the pairs were ~60% of both tables' time)."""

    def build() -> ir.Table:
        pub = _eligible_content(events, window_days)
        spells = follow_spells(events)
        pairs = pub.join(
            spells,
            [spells.creator_id == pub.creator_id, is_follower_at(spells.start, spells.end, pub.published)],
        ).select(pub.creator_id, pub.content_id, pub.published, follower=spells.user_id)
        pairs = pairs.distinct()

        seen = events.filter(events.kind.isin(["impression", "view"]) & events.content_id.notnull())
        seen = seen.select(s_user=seen.user_id, s_content=seen.content_id, s_ts=seen.ts)
        hits = pairs.join(
            seen,
            [
                seen.s_user == pairs.follower,
                seen.s_content == pairs.content_id,
                seen.s_ts >= pairs.published,
                seen.s_ts < pairs.published + ibis.interval(days=window_days),
            ],
        )
        reached = hits.select("follower", "content_id").distinct().mutate(reached=1)
        return pairs.left_join(
            reached, [pairs.follower == reached.follower, pairs.content_id == reached.content_id]
        ).select(pairs, reached=reached.reached.fill_null(0))

    return shared("reach_pairs", (events.op(), window_days), build)


def follow_conversion(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", by_creator: bool = False
) -> ir.Table:
    """Follow conversion of short-video viewers (the private-domain funnel's last step).

    viewers = distinct (user, creator) pairs with a ``view`` of the creator's content in the period;
    converted = those pairs with a ``follow`` of that creator in the same period at or after the
    user's first view of it in the period. value = converted / viewers (pooled over creators; per
    creator with ``by_creator``). Live rooms have their own conversion in
    :func:`trustecon.kpis.live_room_metrics`. Null with a reason when the period has no views.
    """
    timezone = zone_for(events, timezone)
    v = events.filter((events.kind == "view") & events.creator_id.notnull())
    v = with_period(v, timezone, period)
    pairs = v.group_by(["period", "user_id", "creator_id"]).aggregate(first_view=v.ts.min())
    f = events.filter(events.kind == "follow")
    f = with_period(f, timezone, period).select(f_period="period", f_user="user_id", f_creator="creator_id", f_ts="ts")
    j = pairs.join(
        f,
        [
            f.f_period == pairs.period,
            f.f_user == pairs.user_id,
            f.f_creator == pairs.creator_id,
            f.f_ts >= pairs.first_view,
        ],
    )
    conv = j.select("period", "user_id", "creator_id").distinct().mutate(converted=1)
    p = pairs.left_join(conv, [pairs[k] == conv[k] for k in ("period", "user_id", "creator_id")]).select(
        pairs, converted=conv.converted.fill_null(0)
    )
    return share_of(
        events,
        p,
        timezone=timezone,
        period=period,
        by_creator=by_creator,
        of="viewers",
        hits="followers",
        hit_flag="converted",
        empty_reason="no short-video views",
    )
