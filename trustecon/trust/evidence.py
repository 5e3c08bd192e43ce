"""Evidence toward a creator: which events count, how strongly, and how they decay (DESIGN.md §5).

Every event a user directs at a creator becomes zero or more *evidence rows* on a named channel,
each with a sign (positive evidence raises trust, negative lowers it) and an intensity ``i ≥ 0``.
Evidence decays exponentially with a half-life ``h``: as of time ``τ`` an event at ``t ≤ τ`` counts

    i · 2^(−(τ − t) / h)

(the forgetting curve of the Beta Reputation System, Jøsang & Ismail 2002, §4). Events after ``τ``
are ignored, so every score is "as of" the latest event or an explicit ``as_of``, never the wall
clock. Time is read at millisecond resolution (floor of the epoch second + milliseconds), which both
DuckDB and Spark compute identically.

Channels and their intensities (one row per event unless said otherwise):

==============  ====  =========================================================================
channel         sign  intensity
==============  ====  =========================================================================
view            +     watch ratio ``r = min(watch_ms / duration_ms, 1)`` when ``r ≥ short_view``
short_view      −     the unwatched share ``1 − r`` of such a view; 1 when ``r < short_view`` (a skip)
ignored         −     1 per ``impression`` (shown; a view or interaction that follows outweighs it)
like            +     1
comment         +     1
share           +     1
profile_visit   +     1
follow          +     1
gift            +     ``log1p(amount)`` (diminishing: the tenth yuan says less than the first)
live_visit      +     1 per ``live_enter``
live_minutes    +     minutes in the room per live session: last ``live_leave`` − first ``live_enter``
                      of the user in that session, credited at the last exit
product_click   +     1
order           +     ``1 + log1p(A) / log1p(135)`` once per order, at its latest line (135 = the
                      article's AOV), see below
repurchase      +     1 per order of the pair but its earliest (bought again), at the order's time
unfollow        −     1
hate            −     1
refund          −     1 per refunded order, at its latest refund event, credited to the order's buyer
                      and creator; see below
complaint       −     1 per order complained about, at its latest complaint, likewise
==============  ====  =========================================================================

An *order* is one piece of evidence however many lines it has: the ``order`` events of one
(``user_id``, ``creator_id``, ``order_id``) are one row, with ``A`` = the sum of their amounts
(each clipped at 0), at the time of the order's *latest* line (the latest ``ts``; lines at the same
instant are the same time, so ties need no rule), decayed from that time; as of ``τ`` the order is
its lines at or before ``τ``. Why one row: a log may write an order as one event per product line
(UCI Online Retail: one ``order`` per invoice line, ``order_id`` = the invoice), and one purchase
decision is one piece of evidence — it must not count as dozens of orders, nor trust grow with
basket width. Counting per order is what seller reliability already does (one outcome per distinct
``order_id``, :mod:`trustecon.trust.reliability`), and on Online Retail evidence per invoice
predicts next-month orders better than per line (docs/evaluation/trust.md §5c: measured in session
3, the model counts per order since session 8). Why the latest line: the order is credited when it
is complete, the rule live minutes already follow (credited at a session's last exit). Then another
line, whatever its time, only moves the order later (less decay) or leaves it where it is, and
raises ``A``: DESIGN.md §5's "positive evidence never lowers trust" holds without exception. (At the
first line, a line dated earlier than the others moved the whole order back, so it decayed more and
T fell.) The simulator writes one line per order, so on its logs nothing moves; on Online Retail 30
of 18,536 invoices have lines a minute apart (measured when the rule changed, with the refunds below:
pair trust T's next-month ROC-AUC 0.644 → 0.641, the fitted blends within ±0.0002).

A *repurchase* is every order of the pair but its earliest (each at the order's time, no
intensity): the sum of the ``n − 1`` largest order weights, which never falls when an order moves
later or another order arrives (:func:`~trustecon.trust.orders.repurchase_sums` gives the argument);
of several orders at the pair's first time one is the purchase and the others repurchases.

A *refunded order* is likewise one piece of evidence, and so is an order complained about: the
``refund`` events of one (``user_id``, ``creator_id``, ``order_id``) — the pair resolved as below —
are one row of intensity 1 at the latest of them (as of ``τ``: the latest at or before ``τ``); the
same for ``complaint``. Why one row: logs write a refund per cancelled product line or per partial refund
(Online Retail: a cancellation invoice of ten lines is ten ``refund`` events), and counting those per
event while the order they undo counts once made negatives outweigh positives by basket width
(docs/evaluation/trust.md §5c: next-month ROC-AUC fell from 0.653 to 0.612 when only orders went per
order). One decision, one piece of evidence, on both sides of the beta model — and seller
reliability counts one outcome per order too. The refunded amount is not an intensity (a broken
promise whatever its size). A refund or complaint with a NULL ``order_id`` cannot be grouped: each
such event counts once. Why the latest event: as for orders and live minutes, the refund is credited
when it is complete, so another refund event of a refunded order, whatever its time, moves that
refund later (less decay: more negative mass) or adds nothing — it never raises T, without
exception (DESIGN.md §5; at the earliest event, an earlier one moved the refund back and raised T).
The simulator writes at most one refund and one complaint per order, so on its logs nothing
changed; on Online Retail 468 of 3,943 refunded invoices are cancelled at several times (median 17
days apart), and those refunds now count at the last cancellation. The per-order tables are in
:mod:`trustecon.trust.orders`.

Refunds and complaints carry an ``order_id``; they reach the pair through the ``order`` events of
that order (the refund's own ``user_id``/``creator_id`` win when given). An impression is weak
negative evidence: being shown something and leaving it is a (mild) choice, and with the views that
follow it gives the click-through rate, the most common implicit signal (RealGraph's features
include it). Follow *age* is not a separate channel: a follow
that is not undone keeps contributing through the interactions that follow it, and a state that
never decays would break "decay toward the prior" (DESIGN.md §5).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from trustecon.trust.decay import DAY_SECONDS, decay_factor, decay_weight, event_seconds, to_seconds
from trustecon.trust.orders import (
    AOV_REFERENCE,
    negative_sums,
    order_intensity,
    order_pairs,
    order_rows,
    order_totals,
    repurchase_sums,
)

__all__ = [
    "AOV_REFERENCE",
    "CHANNELS",
    "COMMERCE_KINDS",
    "DEFAULT_WEIGHTS",
    "DIRECT_KINDS",
    "ENGAGEMENT",
    "NEGATIVE",
    "POSITIVE",
    "EvidenceConfig",
    "as_of_of",
    "commerce_log",
    "decay_factor",
    "event_seconds",
    "evidence_rows",
    "evidence_sums",
    "live_spans",
    "order_intensity",
    "order_pairs",
    "order_pass",
    "order_totals",
    "repurchase_sums",
    "side_sums",
    "kind_pass",
    "pair_pass",
    "side_log",
    "to_seconds",
]

POSITIVE: tuple[str, ...] = (
    "view",
    "like",
    "comment",
    "share",
    "profile_visit",
    "follow",
    "gift",
    "live_visit",
    "live_minutes",
    "product_click",
    "order",
    "repurchase",
)
NEGATIVE: tuple[str, ...] = ("ignored", "short_view", "unfollow", "hate", "refund", "complaint")
CHANNELS: tuple[str, ...] = POSITIVE + NEGATIVE

#: Default weight per unit of intensity, each with its reason. Scale: one like = 1.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    # A fully watched video is a deliberate choice but cheap: a fifth of a like.
    "view": 0.2,
    # Likes are the unit; comments cost more effort; a share puts the sharer's own name on it.
    "like": 1.0,
    "comment": 1.5,
    "share": 2.0,
    # Visiting the profile is curiosity, not yet commitment.
    "profile_visit": 0.5,
    # Following opts into the creator's private domain: the strongest non-monetary signal.
    "follow": 3.0,
    # Money given with nothing in return (per log-yuan: a ¥100 gift ≈ 4.6 × 1.0).
    "gift": 1.0,
    # Entering a room is like a view; minutes in it are time spent, the article's core trust currency
    # (a 24-minute visit ≈ 2.4 likes).
    "live_visit": 0.2,
    "live_minutes": 0.1,
    "product_click": 0.5,
    # Buying is trusting the seller with money (an AOV order ≈ 2 × 2 = 4 likes); buying again is the
    # clearest proof the promise was kept, so a repurchase adds as much again.
    "order": 2.0,
    "repurchase": 4.0,
    # Skipping a video is weak evidence (it may just be the wrong moment); leaving what one is shown
    # unopened weaker still (twenty ignored impressions ≈ one like): it is the click-through signal.
    "short_view": 0.1,
    "ignored": 0.05,
    # "Not interested" and unfollow are explicit rejections, stronger than a like is positive.
    "hate": 3.0,
    "unfollow": 4.0,
    # A refund undoes an order's worth of trust and more; a complaint says the promise was broken.
    "refund": 5.0,
    "complaint": 8.0,
}



@dataclass(frozen=True)
class EvidenceConfig:
    """How events become evidence: decay half-life (days), the short-view ratio, per-channel weights.

    ``half_life_days=30``: a month-old interaction counts half; KuaiRand-style two-week logs keep most
    of their weight and last season's purchases fade (the 65% monthly repurchase rate of the article
    is a month-scale loyalty). ``short_view=0.2``: under a fifth of a video is a skip.
    """

    half_life_days: float = 30.0
    short_view: float = 0.2
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        if not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0, got {self.half_life_days}")
        if not 0 <= self.short_view <= 1:
            raise ValueError(f"short_view must lie in [0, 1], got {self.short_view}")
        unknown = set(self.weights) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown evidence channels {sorted(unknown)}; known: {', '.join(CHANNELS)}")
        bad = {k: v for k, v in self.weights.items() if not (v >= 0 and math.isfinite(v))}
        if bad:
            raise ValueError(f"weights must be finite and >= 0 (the sign comes from the channel): {bad}")

    @property
    def half_life_seconds(self) -> float:
        return self.half_life_days * DAY_SECONDS

    def weight(self, channel: str) -> float:
        return float(self.weights.get(channel, DEFAULT_WEIGHTS[channel]))


def as_of_of(events: ir.Table, as_of: dt.datetime | None) -> dt.datetime | None:
    """``as_of`` itself, or the latest event time (``None`` for an empty log)."""
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
    latest = events.ts.max().execute()
    if latest is None or (hasattr(latest, "value") and str(latest) == "NaT"):
        return None
    out = latest.to_pydatetime() if hasattr(latest, "to_pydatetime") else latest
    return out if out.tzinfo else out.replace(tzinfo=dt.UTC)


def evidence_rows(events: ir.Table, as_of: dt.datetime, config: EvidenceConfig | None = None) -> ir.Table:
    """One row per piece of evidence: ``user_id, creator_id, channel, t`` (epoch s), ``intensity``.

    Only events at or before ``as_of`` and with both ids (after the order join) are kept; self-pairs
    (a creator on their own content) are dropped. The ``repurchase`` channel is not here: it needs
    the pair's first order and is added by :func:`evidence_sums`. An ``order`` row is one order
    (its lines' amounts summed, at its latest line's time; see the module doc).
    """
    cfg = config or EvidenceConfig()
    ev = events.filter(events.ts <= ibis.literal(as_of, type="timestamp('UTC')"))
    t = event_seconds(ev.ts)
    kind = ev.kind
    one = ibis.literal(1.0)
    ratio = ibis.ifelse(
        (ev.duration_ms > 0) & ev.watch_ms.notnull(),
        ev.watch_ms.cast("float64") / ev.duration_ms.cast("float64"),
        ibis.null("float64"),
    )
    amount = ev.amount.fill_null(0.0).clip(lower=0.0)
    # Each kind maps to at most one channel, so one CASE per row suffices (no union per channel).
    cases: list[tuple[str, ir.BooleanValue, ir.FloatingValue]] = [
        ("view", (kind == "view") & (ratio >= cfg.short_view), ratio.clip(upper=1.0)),
        ("short_view", (kind == "view") & (ratio < cfg.short_view), one),
        ("gift", kind == "gift", (amount + 1.0).ln()),
        ("live_visit", kind == "live_enter", one),
    ]
    for k in ("like", "comment", "share", "profile_visit", "follow", "product_click", "unfollow", "hate"):
        cases.append((k, kind == k, one))
    cases.append(("ignored", kind == "impression", one))
    channel = ibis.cases(*[(cond, ibis.literal(name)) for name, cond, _ in cases], else_=ibis.null("string"))
    inten = ibis.cases(*[(cond, val) for _, cond, val in cases], else_=ibis.null("float64"))
    direct = ev.select(user_id=ev.user_id, creator_id=ev.creator_id, channel=channel, t=t, intensity=inten)
    # A view is a graded experience (Jøsang's continuous ratings): its watched share r is positive
    # evidence and its unwatched share 1 − r negative, so T tracks how satisfying the content is, not
    # only how much of it was seen. Below ``short_view`` the CASE above already made it a full skip.
    vw = ev.filter((ev.kind == "view") & (ratio >= cfg.short_view) & (ratio < 1.0))
    vr = vw.watch_ms.cast("float64") / vw.duration_ms.cast("float64")
    unwatched = vw.select(
        user_id=vw.user_id,
        creator_id=vw.creator_id,
        channel=ibis.literal("short_view"),
        t=event_seconds(vw.ts),
        intensity=1.0 - vr,
    )
    parts = [direct.filter(direct.channel.notnull()), unwatched]
    # Live minutes: per (user, session) the span from the first entry to the last exit, credited at
    # that exit. A span (not enter/leave pairing) keeps the sum order-independent and monotone: a
    # later exit or an earlier entry only lengthens it, and an incremental update needs two numbers.
    lv = ev.filter(ev.kind.isin(["live_enter", "live_leave"]) & ev.session_id.notnull())
    lt = event_seconds(lv.ts)
    spans = lv.group_by(["user_id", "session_id"]).aggregate(
        creator_id=lv.creator_id.min(),
        enter_s=lt.min(where=lv.kind == "live_enter"),
        leave_s=lt.max(where=lv.kind == "live_leave"),
    )
    spans = spans.filter(spans.enter_s.notnull() & spans.leave_s.notnull() & (spans.leave_s >= spans.enter_s))
    parts.append(
        spans.select(
            user_id=spans.user_id,
            creator_id=spans.creator_id,
            channel=ibis.literal("live_minutes"),
            t=spans.leave_s,
            intensity=(spans.leave_s - spans.enter_s) / 60.0,
        )
    )
    # Orders, refunds and complaints: one row per order and per refunded / complained-about order
    # (:func:`~trustecon.trust.orders.order_rows`), refunds and complaints through their order.
    parts.append(order_rows(ev, events))
    rows = ibis.union(*parts, distinct=False)
    return rows.filter(
        rows.user_id.notnull() & rows.creator_id.notnull() & (rows.user_id != rows.creator_id)
    )


#: Kinds whose evidence names its pair directly (one CASE per row in :func:`pair_pass`).
DIRECT_KINDS: tuple[str, ...] = (
    "view", "impression", "gift", "live_enter", "order",
    "like", "comment", "share", "profile_visit", "follow", "product_click", "unfollow", "hate",
)
#: Kinds that show a user knew a creator (views, live visits, interactions, clicks): the first such
#: event per pair is kept by :func:`pair_pass` for seller reliability's "engaged buyer" rule.
ENGAGEMENT: tuple[str, ...] = (
    "view", "live_enter", "like", "comment", "share", "gift", "follow", "product_click", "profile_visit",
)
COMMERCE_KINDS: tuple[str, ...] = ("order", "refund", "complaint")


#: The columns the commerce and live-span tables keep (all that their consumers read).
SIDE_COLUMNS: tuple[str, ...] = (
    "ts", "kind", "user_id", "creator_id", "session_id", "order_id", "brand_id", "product_id", "amount",
)


def side_log(events: ir.Table) -> ir.Table:
    """Commerce events (orders, refunds, complaints) and live entries/exits of the whole log, with
    :data:`SIDE_COLUMNS`: one small table (a few percent of the log) from which ``build`` takes both
    :func:`commerce_log` and :func:`live_spans` without reading the log again."""
    ev = events.filter(events.kind.isin([*COMMERCE_KINDS, "live_enter", "live_leave"]))
    return ev.select(*SIDE_COLUMNS)


def commerce_log(events: ir.Table) -> ir.Table:
    """The commerce events (orders, refunds, complaints) of the whole log: a small table the order
    join, repurchase, reliability and the seed rule read instead of the log."""
    return events.filter(events.kind.isin(list(COMMERCE_KINDS)))


def live_spans(events: ir.Table, as_of: dt.datetime) -> ir.Table:
    """Per (user, live session) up to ``as_of``: ``creator_id`` (min), ``enter_s`` (first entry),
    ``leave_s`` (last exit), epoch seconds (null when there is no entry or no exit yet)."""
    ev = events.filter(
        events.kind.isin(["live_enter", "live_leave"]) & events.session_id.notnull()
        & (events.ts <= ibis.literal(as_of, type="timestamp('UTC')"))
    )
    lt = event_seconds(ev.ts)
    return ev.group_by(["user_id", "session_id"]).aggregate(
        creator_id=ev.creator_id.min(),
        enter_s=lt.min(where=ev.kind == "live_enter"),
        leave_s=lt.max(where=ev.kind == "live_leave"),
    )


#: Integer code of each direct kind in :func:`pair_pass` (its position in :data:`DIRECT_KINDS`), and
#: the code of a view without a watch ratio (no evidence; it still shows engagement).
KIND_CODE: Mapping[str, int] = {k: i for i, k in enumerate(DIRECT_KINDS)}
NO_RATIO_VIEW = len(DIRECT_KINDS)
#: The channel of each direct kind's ``sx`` sum.
_CHANNEL_OF = {"view": "view", "impression": "ignored", "gift": "gift", "live_enter": "live_visit", "order": "order"}


def pair_pass(events: ir.Table, as_of: dt.datetime, config: EvidenceConfig | None = None) -> ir.Table:
    """The one aggregate over the log: per (user, creator) with both ids, up to ``as_of``, every
    directly named channel's decayed sum ``e_<channel>`` (see :func:`evidence_rows` for the rows),
    ``n_events`` (evidence rows: a partly watched view counts twice, as its watched and unwatched
    shares; an order counts once), ``first_s``/``last_s`` of the evidence, and ``engaged_s``, the
    first :data:`ENGAGEMENT` event. Self-pairs are kept here (reliability's engagement rule sees them)
    and dropped by :func:`evidence_sums`. Reading the log once (plus a filtered read of its order
    lines, :func:`order_pass`) is what makes ``build`` cost about one raw pass.

    Level 1 (:func:`kind_pass`) groups by (user, creator, kind code) — the raw pass's shape — with five
    plain aggregates; a view without a watch ratio gets its own code (:data:`NO_RATIO_VIEW`): no
    evidence, but engagement. Level 2 pivots its (much smaller) result into one column per channel,
    on integer codes (measured: ≈ 0.67× the string-keyed form with six aggregates,
    docs/evaluation/trust.md §6); :func:`trustecon.trust.pivot.pivot_kind_pass` does level 2 in numpy
    (what ``build`` uses on DuckDB).
    """
    k = kind_pass(events, as_of, config)
    kk, evid = k._k, k._k < NO_RATIO_VIEW
    view = KIND_CODE["view"]
    aggs: dict[str, ir.Value] = {
        f"e_{_CHANNEL_OF.get(c, c)}": ibis.ifelse(kk == KIND_CODE[c], k.sx, 0.0).sum() for c in DIRECT_KINDS
    }
    aggs["e_short_view"] = ibis.ifelse(kk == view, k.sy, 0.0).sum()
    return k.group_by(["user_id", "creator_id"]).aggregate(
        **aggs,
        n_events=ibis.ifelse(evid, k.n, 0).sum().cast("int64"),
        first_s=ibis.ifelse(evid, k.t_first, ibis.null("float64")).min(),
        last_s=ibis.ifelse(evid, k.t_last, ibis.null("float64")).max(),
        engaged_s=ibis.ifelse(kk.isin(ENGAGED_CODES), k.t_first, ibis.null("float64")).min(),
    )


#: Kind codes whose first time is the pair's first engagement (a view without a ratio included).
ENGAGED_CODES: tuple[int, ...] = (*[KIND_CODE[c] for c in ENGAGEMENT], NO_RATIO_VIEW)


def kind_pass(events: ir.Table, as_of: dt.datetime, config: EvidenceConfig | None = None) -> ir.Table:
    """Level 1 of :func:`pair_pass`, the read of the log: per (user, creator, kind code) with
    both ids, up to ``as_of``, ``sx``/``sy`` (decayed sums on the kind's channel and a view's
    unwatched share), ``n`` (evidence rows), ``t_first``/``t_last`` (epoch seconds).

    Orders are the one kind whose evidence is not one row per event (an order is one row however
    many lines it has, module doc): their rows come from :func:`order_pass`, a second, filtered read
    of the log's order lines (a union, not a join: the two parts never share a kind code). Keying the
    one aggregate by ``order_id`` as well and regrouping its result gives the same sums, but measured
    on 10.5 M simulated events (session 8, DuckDB, loaded machine, best CPU of 3–5 alternating reps)
    it cost 1.1–1.3× the CPU of the old pass (a regroup of its 2.4 M rows), while the filtered read
    alone costs ≈ 0.1× and the whole pass measured 4.41 vs 4.30 CPU-s before orders counted once."""
    cfg = config or EvidenceConfig()
    h, ref = cfg.half_life_seconds, to_seconds(as_of)
    ev = events.filter(
        events.kind.isin([k for k in DIRECT_KINDS if k != "order"]) & events.user_id.notnull()
        & events.creator_id.notnull() & (events.ts <= ibis.literal(as_of, type="timestamp('UTC')"))
    )
    view, gift = KIND_CODE["view"], KIND_CODE["gift"]
    ev = ev.select(
        "user_id",
        "creator_id",
        _k=ev.kind.cases(*KIND_CODE.items()),
        _t=event_seconds(ev.ts),
        _r=ibis.ifelse(
            (ev.duration_ms > 0) & ev.watch_ms.notnull(),
            ev.watch_ms.cast("float64") / ev.duration_ms.cast("float64"),
            ibis.null("float64"),
        ),
        _a=ev.amount.fill_null(0.0).clip(lower=0.0),
    )
    r, sv = ev._r, cfg.short_view
    is_view = ev._k == view
    ev = ev.select(
        "user_id",
        "creator_id",
        "_t",
        _k=ibis.ifelse(is_view & r.isnull(), NO_RATIO_VIEW, ev._k),
        _w=decay_weight(ev._t, ref, h),
        # The intensity on the kind's own channel, and for a view its unwatched share on
        # ``short_view`` (a skip counts 1, a partly watched view 1 − r: Jøsang's graded rating).
        _x=ibis.cases(
            (is_view, ibis.ifelse(r >= sv, r.clip(upper=1.0), 0.0)),
            (ev._k == gift, (ev._a + 1.0).ln()),
            else_=1.0,
        ),
        _y=ibis.ifelse(is_view, ibis.cases((r < sv, 1.0), (r < 1.0, 1.0 - r), else_=0.0), 0.0),
        _p=ibis.ifelse(is_view & (r >= sv) & (r < 1.0), 1, ibis.null("int64")),
    )
    direct = ev.group_by(["user_id", "creator_id", "_k"]).aggregate(
        sx=(ev._w * ev._x).sum(), sy=(ev._w * ev._y).sum(), n=ev.count() + ev._p.count(),
        t_first=ev._t.min(), t_last=ev._t.max(),
    )
    return ibis.union(direct, order_pass(events, as_of, cfg).select(*direct.columns), distinct=False)


def order_pass(events: ir.Table, as_of: dt.datetime, config: EvidenceConfig | None = None) -> ir.Table:
    """:func:`kind_pass`'s rows for orders: per (user, creator) with both ids, up to ``as_of``,
    ``_k`` (the order code), ``sx`` (Σ over the pair's orders of ``order_intensity(A)`` decayed from
    the order's latest line), ``sy`` = 0, ``n`` (orders), ``t_first``/``t_last`` (the earliest and
    latest order times). One order = one (user, creator, ``order_id``), as :func:`order_totals`."""
    cfg = config or EvidenceConfig()
    h, ref = cfg.half_life_seconds, to_seconds(as_of)
    o = order_totals(events, as_of, drop_self=False)
    o = o.select("user_id", "creator_id", "last_s", x=decay_weight(o.last_s, ref, h) * order_intensity(o.amount))
    g = o.group_by(["user_id", "creator_id"]).aggregate(
        sx=o.x.sum(), n=o.count(), t_first=o.last_s.min(), t_last=o.last_s.max()
    )
    return g.select(
        "user_id", "creator_id", _k=ibis.literal(KIND_CODE["order"], type="int8"), sx=g.sx,
        sy=ibis.literal(0.0, type="float64"), n=g.n, t_first=g.t_first, t_last=g.t_last,
    )


#: Channels not in the evidence pass: from the live spans (minutes), through the order (refund,
#: complaint) and from the order lines (repurchase).
SIDE_CHANNELS: tuple[str, ...] = ("live_minutes", "refund", "complaint", "repurchase")


def side_sums(commerce: ir.Table, spans: ir.Table, as_of: dt.datetime,
              config: EvidenceConfig | None = None) -> ir.Table:
    """The per-pair evidence not in the evidence pass, from two small tables: ``e_live_minutes`` (the
    span from a session's first entry to its last exit, credited at that exit, from :func:`live_spans`),
    ``e_refund`` and ``e_complaint`` (once per refunded / complained-about order, at its latest
    event: :func:`~trustecon.trust.orders.negative_sums`), ``n_s`` (their rows: spans and orders),
    ``first_x``/``last_x``; self-pairs dropped. A small table (a few
    percent of the pairs) that :func:`evidence_sums` outer-joins to the evidence pass."""
    cfg = config or EvidenceConfig()
    h, ref = cfg.half_life_seconds, to_seconds(as_of)
    zero = ibis.literal(0.0, type="float64")
    sp, com = spans, commerce
    ok = sp.filter(sp.enter_s.notnull() & sp.leave_s.notnull() & (sp.leave_s >= sp.enter_s))
    lm = ok.group_by(["user_id", "creator_id"]).aggregate(
        e=((ok.leave_s - ok.enter_s) / 60.0 * decay_weight(ok.leave_s, ref, h)).sum(),
        n=ok.count(), first=ok.leave_s.min(), last=ok.leave_s.max(),
    )
    ng = negative_sums(com, as_of, cfg)  # (one row per refunded / complained-about order, summed per pair)
    # The two small per-pair tables are merged first (a join to the big table costs far less than
    # re-aggregating every pair's twenty columns).
    small = ibis.union(
        lm.select(user_id=lm.user_id, creator_id=lm.creator_id, e_live_minutes=lm.e, e_refund=zero,
                  e_complaint=zero, n=lm.n.cast("int64"), first=lm.first, last=lm.last),
        ng.select(user_id=ng.user_id, creator_id=ng.creator_id, e_live_minutes=zero, e_refund=ng.e_refund,
                  e_complaint=ng.e_complaint, n=ng.n, first=ng.first, last=ng.last),
        distinct=False,
    )
    small = small.filter(small.user_id != small.creator_id)
    return small.group_by(["user_id", "creator_id"]).aggregate(
        e_live_minutes=small.e_live_minutes.sum(), e_refund=small.e_refund.sum(),
        e_complaint=small.e_complaint.sum(), n_s=small.n.sum(), first_x=small.first.min(), last_x=small.last.max(),
    )


def evidence_sums(
    events: ir.Table,
    as_of: dt.datetime,
    config: EvidenceConfig | None = None,
    *,
    passed: ir.Table | None = None,
    commerce: ir.Table | None = None,
    spans: ir.Table | None = None,
) -> ir.Table:
    """Decayed evidence per pair as of ``as_of``: ``user_id, creator_id, e_<channel>`` for every
    channel (Σ intensity · 2^(−(as_of − t)/h) over :func:`evidence_rows`), ``n_events`` (undecayed
    count of evidence rows), ``first_s``/``last_s`` (epoch seconds of the first and last evidence).

    ``e_repurchase`` sums the decayed weight ``2^(−(as_of − t)/h)`` (no intensity) over the pair's
    orders (each at its latest line's time ``t``) but one at its first order time ``first_order_s``;
    ``e_first_order`` is that one order's weight (:func:`~trustecon.trust.orders.repurchase_sums`).

    Fused: the log is aggregated once (:func:`pair_pass`); refunds and complaints (through their
    order), live minutes (from :func:`live_spans`) and repurchases (from the order lines) come from
    small tables and are merged per pair. ``passed``/``commerce``/``spans`` may be given already
    computed (``build`` materialises them once and shares them with reliability and the seed rule).
    """
    cfg = config or EvidenceConfig()
    a = passed if passed is not None else pair_pass(events, as_of, cfg)
    com = commerce if commerce is not None else commerce_log(events)
    sp = spans if spans is not None else live_spans(events, as_of)
    direct = [c for c in CHANNELS if c not in SIDE_CHANNELS]
    small = side_sums(com, sp, as_of, cfg)
    big = a.filter(a.user_id != a.creator_id)
    big = big.select("user_id", "creator_id", *[f"e_{c}" for c in direct], n_b="n_events", first_b="first_s",
                     last_b="last_s")
    fj = big.outer_join(small, (big.user_id == small.user_id) & (big.creator_id == small.creator_id))
    sums = fj.select(
        user_id=fj.user_id.fill_null(fj.user_id_right),
        creator_id=fj.creator_id.fill_null(fj.creator_id_right),
        **{f"e_{c}": fj[f"e_{c}"].fill_null(0.0) for c in direct},
        **{f"e_{c}": fj[f"e_{c}"].fill_null(0.0) for c in ("live_minutes", "refund", "complaint")},
        n_events=fj.n_b.fill_null(0) + fj.n_s.fill_null(0),
        # (each side filled from the other first: LEAST/GREATEST treat NULL differently across engines)
        first_s=ibis.least(fj.first_b.fill_null(fj.first_x), fj.first_x.fill_null(fj.first_b)),
        last_s=ibis.greatest(fj.last_b.fill_null(fj.last_x), fj.last_x.fill_null(fj.last_b)),
    )
    sums = sums.filter(sums.n_events > 0)
    rep = repurchase_sums(com, as_of, cfg)
    out = sums.left_join(rep, ["user_id", "creator_id"])
    return out.select(
        user_id=out.user_id,
        creator_id=out.creator_id,
        **{f"e_{c}": out[f"e_{c}"].fill_null(0.0).cast("float64") for c in CHANNELS},
        n_events=out.n_events.cast("int64"),
        first_s=out.first_s,
        last_s=out.last_s,
        e_first_order=out.e_first_order.fill_null(0.0),
        first_order_s=out.first_order_s,
    )
