"""Live-room KPIs: visits, watch time, products seen, interactions per minute, room money (DESIGN.md §9).

A *live visit* is one ``live_enter`` paired with a leave. The pairing rule (the design leaves it open):

- events of one (user, session) are ordered by time; at one instant a ``live_leave`` comes before a
  ``live_enter`` (so "leave and re-enter" at the same millisecond is two visits, not one broken one);
- an enter is closed by the *next* event of that (user, session): a leave, or another enter (a
  re-enter means the viewer had left; the client lost the leave, and the re-enter is the latest
  instant the first visit can have ended); a further leave with no enter before it is ignored;
- an enter with no next event ends at the session's ``live_end`` when there is one at or after the
  enter (the viewer was in the room until it closed);
- otherwise the visit is *open*: its length is unknown, so it counts as a visit and a viewer but is
  left out of every time-based number (watch time, minutes watched, products seen).

A visit belongs to the period of its enter (in the workspace's time zone).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from trustecon.kpis._base import (
    INTERACTION_KINDS,
    PeriodSpec,
    Zone,
    follow_spells,
    is_follower_at,
    ms_between,
    on_spine,
    period_spine,
    ratio,
    reason_if,
    shared,
    with_period,
    zone_for,
)

__all__ = [
    "interactions_per_minute",
    "live_room_metrics",
    "live_sessions",
    "live_visits",
    "live_watch_time",
    "products_seen_per_visit",
    "visit_products",
]


def live_visits(events: ir.Table) -> ir.Table:
    """One row per live visit: user_id, creator_id, session_id, enter, end (null if open), closed_by.

    ``closed_by`` is ``leave``, ``next_enter``, ``live_end`` or null (open). ``watch_ms`` = end − enter in ms.
    """
    return shared("live_visits", (events.op(),), lambda: _live_visits(events))


def _live_visits(events: ir.Table) -> ir.Table:
    ev = events.filter(events.kind.isin(["live_enter", "live_leave"]))
    ev = ev.select("user_id", "creator_id", "session_id", "ts", is_enter=ibis.ifelse(ev.kind == "live_enter", 1, 0))
    w = ibis.window(group_by=[ev.user_id, ev.session_id], order_by=[ev.ts, ev.is_enter])
    ev = ev.mutate(next_is_enter=ev.is_enter.lead().over(w), next_ts=ev.ts.lead().over(w))
    enters = ev.filter(ev.is_enter == 1)
    # The next event of the (user, session) closes the visit: a leave, or a re-enter (the viewer
    # must have left by then; the client lost the leave).
    enters = enters.select(
        "user_id", "creator_id", "session_id", enter=enters.ts, leave=enters.next_ts, by_enter=enters.next_is_enter == 1
    )
    ends = events.filter(events.kind == "live_end")
    ends = ends.group_by(s_id=ends.session_id).aggregate(live_end=ends.ts.max())
    v = enters.left_join(ends, enters.session_id == ends.s_id)
    end_ok = v.live_end.notnull() & (v.live_end >= v.enter)
    end = ibis.cases((v.leave.notnull(), v.leave), (end_ok, v.live_end), else_=ibis.null("timestamp"))
    closed_by = reason_if(
        (v.leave.notnull() & v.by_enter, "next_enter"), (v.leave.notnull(), "leave"), (end_ok, "live_end")
    )
    v = v.select("user_id", "creator_id", "session_id", "enter", end=end, closed_by=closed_by)
    return v.mutate(watch_ms=ms_between(v.end, v.enter))


def _visit_reason(visits: ir.Table, closed: ir.Table) -> ir.StringValue:
    return reason_if((visits == 0, "no live visits"), (closed == 0, "no closed live visit (no leave or live_end)"))


def live_watch_time(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", by_creator: bool = False
) -> ir.Table:
    """Live watch time per visit, in minutes.

    value = mean over closed visits of (end − enter) / 60,000 ms, visits cut by the enter's period
    (pairing rule in the module docstring). Columns: period, [creator_id], visits, closed_visits,
    watch_minutes, value, reason. Null with a reason when the period has no (closed) live visit.
    Article (DESIGN.md §2): 24 min.
    """
    timezone = zone_for(events, timezone)
    v = with_period(live_visits(events), timezone, period, ts="enter")
    keys = ["period", "creator_id"] if by_creator else ["period"]
    agg = v.group_by(keys).aggregate(
        visits=v.count(),
        closed_visits=v.end.notnull().sum(),
        watch_ms=v.watch_ms.sum(),
    )
    if not by_creator:
        agg = on_spine(period_spine(events, timezone, period), agg, keys, ["visits", "closed_visits", "watch_ms"])
    minutes = agg.watch_ms.fill_null(0).cast("float64") / 60000.0
    return agg.select(
        *keys,
        visits=agg.visits.cast("int64"),
        closed_visits=agg.closed_visits.cast("int64"),
        watch_minutes=minutes,
        value=ratio(minutes, agg.closed_visits),
        reason=_visit_reason(agg.visits, agg.closed_visits),
    )


def visit_products(events: ir.Table) -> ir.Table:
    """One row per closed live visit: user_id, session_id, enter, visit_no, creator_id, ``products`` seen (the
    rule of :func:`products_seen_per_visit`, which averages it; the room monitor sums it per session)."""
    v = live_visits(events)
    v = v.filter(v.end.notnull()).select("user_id", "creator_id", "session_id", "enter", "end")
    # Two enters of one viewer at one instant are two visits: number them so they are not merged.
    v = v.mutate(visit_no=ibis.row_number().over(group_by=[v.user_id, v.session_id], order_by=[v.enter, v.end]))
    pins = events.filter(events.kind == "product_pin").select(
        p_session=events.session_id, p_ts=events.ts, p_product=events.product_id
    )
    key = ["user_id", "session_id", "enter", "visit_no"]
    j = v.left_join(pins, [v.session_id == pins.p_session, pins.p_ts <= v.enter])
    anchors = j.group_by(key).aggregate(anchor=j.p_ts.max())
    va = v.left_join(anchors, [v[k] == anchors[k] for k in key]).select(v, anchor=anchors.anchor)
    start = ibis.coalesce(va.anchor, va.enter)
    j2 = va.left_join(pins, [va.session_id == pins.p_session, pins.p_ts >= start, pins.p_ts <= va.end])
    return j2.group_by([*key, "creator_id"]).aggregate(products=j2.p_product.nunique())


def products_seen_per_visit(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", by_creator: bool = False
) -> ir.Table:
    """Products seen per live visit.

    For a closed visit [enter, end] in session s: the distinct ``product_id`` of s's ``product_pin``
    events with ts in [anchor, end], where anchor is the last pin at or before the enter (the product
    already on show when the viewer came in) or the enter itself when nothing was pinned yet. A pin
    stays on show until the next pin (there is no unpin event). value = mean over closed visits.
    Null with a reason when there is no closed visit, or when the log has no ``product_pin`` at all
    (then nothing is known about products, which is not the same as zero). Article: ~5.
    """
    timezone = zone_for(events, timezone)
    seen = with_period(visit_products(events), timezone, period, ts="enter")
    keys = ["period", "creator_id"] if by_creator else ["period"]
    agg = seen.group_by(keys).aggregate(closed_visits=seen.count(), products=seen.products.sum())
    if not by_creator:
        agg = on_spine(period_spine(events, timezone, period), agg, keys, ["closed_visits", "products"])
    n_pins = events.filter(events.kind == "product_pin").aggregate(n_pins=ibis._.count())
    agg = agg.cross_join(n_pins)
    return agg.select(
        *keys,
        closed_visits=agg.closed_visits.cast("int64"),
        products_seen=agg.products.cast("int64"),
        value=ibis.ifelse(agg.n_pins > 0, ratio(agg.products, agg.closed_visits), ibis.null("float64")),
        reason=reason_if(
            (agg.closed_visits == 0, "no closed live visits"), (agg.n_pins == 0, "no product pins in the log")
        ),
    )


def interactions_per_minute(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", by_creator: bool = False
) -> ir.Table:
    """Interactions per minute watched, live vs short video, and their ratio.

    Interactions are like, comment, share, gift and product_click events. One with a ``session_id``
    is live; one without a session but with a ``content_id`` is short video; others are not counted.
    Minutes: live = the closed visits' watch time (by the enter's period); short video = Σ ``watch_ms``
    of ``view`` events / 60,000. live_per_minute = live interactions / live minutes, video_per_minute
    likewise, value = live_per_minute / video_per_minute (article: 12×). Each rate is null with a
    reason when its minutes are 0.
    """
    timezone = zone_for(events, timezone)
    keys = ["period", "creator_id"] if by_creator else ["period"]
    inter = events.filter(events.kind.isin(list(INTERACTION_KINDS)))
    inter = with_period(inter, timezone, period)
    is_live = inter.session_id.notnull()
    is_video = inter.session_id.isnull() & inter.content_id.notnull()
    ia = inter.group_by(keys).aggregate(
        live_interactions=is_live.cast("int64").sum(), video_interactions=is_video.cast("int64").sum()
    )
    views = events.filter((events.kind == "view") & events.session_id.isnull())
    views = with_period(views, timezone, period)
    va = views.group_by(keys).aggregate(video_ms=views.watch_ms.sum())
    visits = with_period(live_visits(events), timezone, period, ts="enter")
    la = visits.group_by(keys).aggregate(live_ms=visits.watch_ms.sum())
    if by_creator:
        base = ia.select(*keys).union(va.select(*keys)).union(la.select(*keys)).distinct()
    else:
        base = period_spine(events, timezone, period)
    t = on_spine(base, ia, keys, ["live_interactions", "video_interactions"])
    t = on_spine(t, va, keys, ["video_ms"])
    t = on_spine(t, la, keys, ["live_ms"])
    live_min = t.live_ms.cast("float64") / 60000.0
    video_min = t.video_ms.cast("float64") / 60000.0
    live_rate = ratio(t.live_interactions, live_min)
    video_rate = ratio(t.video_interactions, video_min)
    return t.select(
        *keys,
        live_interactions=t.live_interactions.cast("int64"),
        live_minutes=live_min,
        video_interactions=t.video_interactions.cast("int64"),
        video_minutes=video_min,
        live_per_minute=live_rate,
        video_per_minute=video_rate,
        value=ibis.cases((video_rate > 0, live_rate / video_rate), else_=ibis.null("float64")),
        reason=reason_if(
            (t.live_ms == 0, "no live watch time"),
            (t.video_ms == 0, "no short-video watch time"),
            (t.video_interactions == 0, "no short-video interactions"),
        ),
    )


def live_sessions(events: ir.Table) -> ir.Table:
    """One row per live session: session_id, creator_id (host), start, end.

    start = the ``live_start`` (else the first enter); end = the ``live_end`` (else the last visit end,
    else the last enter). A session known only from enters still counts.
    """
    starts = events.filter(events.kind.isin(["live_start", "live_end"]))
    se = starts.group_by(s_id=starts.session_id).aggregate(
        host=starts.creator_id.max(),
        s_start=starts.ts.min(where=starts.kind == "live_start"),
        s_end=starts.ts.max(where=starts.kind == "live_end"),
    )
    v = live_visits(events)
    va = v.group_by(v_id=v.session_id).aggregate(
        v_host=v.creator_id.max(), first_enter=v.enter.min(), last_seen=ibis.greatest(v.end.max(), v.enter.max())
    )
    ids = se.select(session_id=se.s_id).union(va.select(session_id=va.v_id)).distinct()
    j = ids.left_join(se, ids.session_id == se.s_id).left_join(va, ids.session_id == va.v_id)
    return j.select(
        session_id=j.session_id,
        creator_id=ibis.coalesce(j.host, j.v_host),
        start=ibis.coalesce(j.s_start, j.first_enter),
        end=ibis.coalesce(j.s_end, j.last_seen),
    )


#: The per-session counts of :func:`live_room_metrics`.
_COUNTS = ("visits", "unique_viewers", "orders", "buyers", "new_followers", "old_fan_buyers")


def _session_money(events: ir.Table) -> ir.Table:
    """One row per live session: session_id, creator_id, start, end, gmv and the :data:`_COUNTS` of
    :func:`live_room_metrics` (rules there). Period-free, so the per-period, per-creator and
    per-session tables share it (:func:`~trustecon.kpis._base.shared`)."""

    def build() -> ir.Table:
        sessions = live_sessions(events)
        v = live_visits(events)
        vs = v.group_by(vs_id=v.session_id).aggregate(visits=v.count(), unique_viewers=v.user_id.nunique())
        first = v.group_by(f_user=v.user_id, f_session=v.session_id).aggregate(first_enter=v.enter.min())

        lines = events.filter((events.kind == "order") & events.session_id.notnull())
        oa = lines.group_by(o_id=lines.session_id).aggregate(
            gmv=lines.amount.sum(), orders=lines.order_id.nunique(), buyers=lines.user_id.nunique()
        )
        # New followers: viewers' follows of the host inside [first enter, session end].
        follows = events.filter(events.kind == "follow").select(fu=events.user_id, fc=events.creator_id, fts=events.ts)
        fj = first.join(sessions, first.f_session == sessions.session_id).join(
            follows,
            [
                follows.fu == first.f_user,
                follows.fc == sessions.creator_id,
                follows.fts >= first.first_enter,
                follows.fts <= sessions.end,
            ],
        )
        nf = fj.group_by(nf_id=fj.f_session).aggregate(new_followers=fj.f_user.nunique())
        # Old fans: buyers who followed the host at the session's start.
        buyers = lines.select(b_user=lines.user_id, b_session=lines.session_id).distinct()
        spells = follow_spells(events)
        bj = buyers.join(sessions, buyers.b_session == sessions.session_id).join(
            spells,
            [
                spells.user_id == buyers.b_user,
                spells.creator_id == sessions.creator_id,
                is_follower_at(spells.start, spells.end, sessions.start),
            ],
        )
        of = bj.group_by(of_id=bj.b_session).aggregate(old_fan_buyers=bj.b_user.nunique())

        s = sessions
        s = s.left_join(vs, s.session_id == vs.vs_id).select(s, vs.visits, vs.unique_viewers)
        s = s.left_join(oa, s.session_id == oa.o_id).select(s, oa.gmv, oa.orders, oa.buyers)
        s = s.left_join(nf, s.session_id == nf.nf_id).select(s, nf.new_followers)
        s = s.left_join(of, s.session_id == of.of_id).select(s, of.old_fan_buyers)
        return s.mutate(gmv=s.gmv.fill_null(0.0), **{c: s[c].fill_null(0).cast("int64") for c in _COUNTS})

    return shared("live_session_money", (events.op(),), build)


def live_room_metrics(
    events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all", by: str = "period"
) -> ir.Table:
    """Live-room money metrics, per session, per (period, host) or per period (``by``).

    Per session s hosted by c (a session's period is that of its start):
    - visits = live visits (open ones included); unique_viewers = distinct users who entered s;
    - gmv = Σ ``amount`` of order lines carrying ``session_id`` s; orders = distinct ``order_id``;
      buyers = distinct users among them;
    - new_followers = viewers with a ``follow`` of c between their first enter in s and s's end;
    - old_fan_buyers = buyers who were following c at s's start (follower rule of
      :func:`trustecon.kpis.follow_spells`: start ≤ t < end).
    Ratios (pooled sums when aggregated; a viewer of two sessions counts twice):
    uv_value = gmv / unique_viewers; gpm = 1000 · gmv / visits; follower_conversion = new_followers /
    unique_viewers; old_fan_buyer_share = old_fan_buyers / buyers. Null with a reason when there are
    no live visits, or no buyers for the old-fan share.
    """
    timezone = zone_for(events, timezone)
    if by not in ("session", "creator", "period"):
        raise ValueError(f"by must be session, creator or period, not {by!r}")
    s = _session_money(events)
    counts = list(_COUNTS)
    s = with_period(s, timezone, period, ts="start")
    if by == "session":
        t = s
        keys = ["period", "session_id", "creator_id"]
    else:
        keys = ["period", "creator_id"] if by == "creator" else ["period"]
        t = s.group_by(keys).aggregate(sessions=s.count(), gmv=s.gmv.sum(), **{c: s[c].sum() for c in counts})
        if by == "period":
            t = on_spine(period_spine(events, timezone, period), t, keys, ["sessions", "gmv", *counts])
    return t.select(
        *keys,
        *(["sessions"] if by != "session" else []),
        *counts,
        gmv=t.gmv.cast("float64"),
        uv_value=ratio(t.gmv, t.unique_viewers),
        gpm=ratio(t.gmv * 1000.0, t.visits),
        follower_conversion=ratio(t.new_followers, t.unique_viewers),
        old_fan_buyer_share=ratio(t.old_fan_buyers, t.buyers),
        reason=reason_if((t.visits == 0, "no live visits"), (t.buyers == 0, "no live orders")),
    )
