"""Engine pipelines behind the feed: pure functions from Ibis tables to Ibis tables.

They run unchanged on DuckDB and Spark (the caller passes tables of its connection). Everything is
"as of" an explicit instant, never the wall clock (DESIGN.md §4).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis

__all__ = [
    "active_users",
    "as_of_instant",
    "creator_stats",
    "follow_state",
    "fresh_content",
    "pending_notices",
]


def as_of_instant(events: ibis.Table) -> ibis.Scalar:
    """The latest event time: the default "now" of every score."""
    return events.ts.max()


def _before(events: ibis.Table, as_of: datetime | None) -> ibis.Table:
    return events if as_of is None else events.filter(events.ts <= ibis.timestamp(as_of))


def follow_state(events: ibis.Table, as_of: datetime | None = None) -> ibis.Table:
    """Current follows ``(user_id, creator_id, since)``: pairs whose latest follow/unfollow is a follow.

    ``since`` is the time of that latest follow. Ties between a follow and an unfollow at the same
    instant resolve to unfollow (the conservative reading)."""
    e = _before(events, as_of)
    f = e.filter(e.kind.isin(["follow", "unfollow"]) & e.user_id.notnull() & e.creator_id.notnull())
    f = f.mutate(is_follow=(f.kind == "follow").cast("int8"))
    w = ibis.window(group_by=[f.user_id, f.creator_id], order_by=[ibis.desc(f.ts), f.is_follow])
    last = f.mutate(rn=ibis.row_number().over(w)).filter(lambda t: t.rn == 0)
    return last.filter(last.is_follow == 1).select("user_id", "creator_id", since=last.ts)


def fresh_content(events: ibis.Table, as_of: datetime, fresh_days: float) -> ibis.Table:
    """Each creator's latest content published in ``(as_of - fresh_days, as_of]``:
    ``(creator_id, content_id, published)``. Ties at one instant keep the highest content id."""
    start = as_of - timedelta(days=fresh_days)
    p = events.filter(
        (events.kind == "publish")
        & (events.ts > ibis.timestamp(start))
        & (events.ts <= ibis.timestamp(as_of))
        & events.creator_id.notnull()
    )
    w = ibis.window(group_by=p.creator_id, order_by=[ibis.desc(p.ts), ibis.desc(p.content_id)])
    last = p.mutate(rn=ibis.row_number().over(w)).filter(lambda t: t.rn == 0)
    return last.select("creator_id", "content_id", published=last.ts)


def pending_notices(
    events: ibis.Table, follows: ibis.Table, delivered: ibis.Table | None, as_of: datetime | None = None
) -> ibis.Table:
    """Notices each follower has not been shown yet: ``(user_id, creator_id, notice_id, noticed)``.

    A notice (e.g. a leave notice) posted by creator ``c`` goes to everyone following ``c`` as of
    the build; ``delivered`` (``user_id, notice_id``) holds what earlier feeds already showed, so
    each follower sees each notice exactly once, in her next follow feed."""
    e = _before(events, as_of)
    n = e.filter((e.kind == "notice") & e.creator_id.notnull()).select("creator_id", notice_id=e.event_id, noticed=e.ts)
    out = n.join(follows.select("user_id", "creator_id"), "creator_id").select(
        "user_id", "creator_id", "notice_id", "noticed"
    )
    if delivered is not None:
        d = delivered.select(d_user=delivered.user_id, d_notice=delivered.notice_id)
        out = out.anti_join(d, [out.user_id == d.d_user, out.notice_id == d.d_notice])
    return out


def active_users(events: ibis.Table, as_of: datetime, days: float) -> ibis.Table:
    """Users with any event in ``(as_of - days, as_of]``: ``(user_id, last_seen)``."""
    start = as_of - timedelta(days=days)
    e = events.filter(
        events.user_id.notnull() & (events.ts > ibis.timestamp(start)) & (events.ts <= ibis.timestamp(as_of))
    )
    return e.group_by("user_id").aggregate(last_seen=e.ts.max())


def creator_stats(events: ibis.Table, as_of: datetime | None = None) -> ibis.Table:
    """Per creator: ``first_seen`` (first publish or live start), ``impressions`` received,
    ``followers`` (current) — the inputs of popularity, novelty and long-tail exploration."""
    e = _before(events, as_of)
    c = e.filter(e.creator_id.notnull())
    stats = c.group_by("creator_id").aggregate(
        first_seen=c.ts.min(),
        impressions=(c.kind == "impression").cast("int64").sum(),
    )
    fol = follow_state(events, as_of)
    nf = fol.group_by("creator_id").aggregate(followers=fol.user_id.count())
    j = stats.left_join(nf, "creator_id")
    return j.select("creator_id", "first_seen", "impressions", followers=j.followers.fill_null(0).cast("int64"))
