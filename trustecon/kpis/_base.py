"""Shared pieces of the KPI catalogue: local time, periods, follow spells, ratios with reasons.

Everything here builds Ibis expressions only (no execution), written with operations that DuckDB and
Spark compile alike: arithmetic, ``CASE``, ``strftime`` with ``%Y-%m-%d``, window ``lead`` /
``row_number`` and millisecond ``delta``. Engine-specific time-zone functions are avoided on purpose
(DuckDB's ``timezone()`` and Spark's ``from_utc_timestamp`` differ): the workspace's zone is turned
into a piecewise-constant UTC offset with :mod:`zoneinfo`, and local time is ``ts + offset``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

__all__ = [
    "INTERACTION_KINDS",
    "Period",
    "PeriodSpec",
    "Zone",
    "follow_spells",
    "is_follower_at",
    "local_ts",
    "log_bounds",
    "period_label",
    "period_spine",
    "ratio",
    "shared",
    "shared_intermediates",
    "with_period",
    "zone_for",
]

Period = Literal["day", "month", "all"]
PERIODS: tuple[str, ...] = ("day", "month", "all")

#: A KPI's ``period`` argument: one kind (``"day"``, ``"month"``, ``"all"``), or several at once — a
#: tuple such as ``("all", "month", "day")`` gives each row one copy per kind, labelled for it (labels
#: of different kinds never collide: ``all``, ``YYYY-MM``, ``YYYY-MM-DD``), so one expression computes
#: every kind's rows. Why: ``trustecon kpis`` spent most of its time building and compiling three
#: expressions per table stacked with ``union``, not executing them.
PeriodSpec = str | tuple[str, ...]

#: Interactions counted by the per-minute rate (DESIGN.md §9).
INTERACTION_KINDS: tuple[str, ...] = ("like", "comment", "share", "gift", "product_click")

_SCAN_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH = ibis.literal(_SCAN_START, "timestamp('UTC')")
_SCAN_END = dt.datetime(2070, 1, 1, tzinfo=dt.UTC)


@lru_cache(maxsize=64)
def utc_offsets(timezone: str) -> tuple[tuple[dt.datetime | None, int], ...]:
    """The zone's UTC offset as ((from_instant, seconds), ...) between 1970 and 2070.

    The first entry has ``from_instant=None`` (since forever). Found by scanning days and bisecting
    each change to the second; zoneinfo exposes no public list of transitions.
    """
    zone = ZoneInfo(timezone)

    def off(t: dt.datetime) -> int:
        delta = t.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    out: list[tuple[dt.datetime | None, int]] = [(None, off(_SCAN_START))]
    t, step = _SCAN_START, dt.timedelta(days=1)
    current = out[0][1]
    while t < _SCAN_END:
        nxt = t + step
        o = off(nxt)
        if o != current:
            lo, hi = t, nxt  # off(lo) == current, off(hi) == o
            while (hi - lo) > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if off(mid) == current:
                    lo = mid
                else:
                    hi = mid
            out.append((hi.replace(microsecond=0), o))
            current = o
        t = nxt
    return tuple(out)


@dataclass(frozen=True)
class Zone:
    """A time zone as the UTC offsets in force over one log: ((from_instant or None, seconds), ...)."""

    name: str
    offsets: tuple[tuple[dt.datetime | None, int], ...]


def _utc(x: dt.datetime) -> dt.datetime:
    return x.replace(tzinfo=dt.UTC) if x.tzinfo is None else x.astimezone(dt.UTC)


def zone_for(events: ir.Table, timezone: str | Zone) -> Zone:
    """``timezone`` with only the offset changes between the log's first and last event.

    A fixed-offset zone (UTC) needs nothing from the log. Otherwise one small aggregate (first and
    last ``ts``) runs, so the local-time CASE has a branch per DST switch *inside the log* instead of
    ~200 for 1970–2070 (a CASE that large overflows Spark's generated code and slows every engine).
    """
    if isinstance(timezone, Zone):
        return timezone
    offsets = utc_offsets(timezone)
    if len(offsets) == 1:
        return Zone(timezone, offsets)
    row = events.aggregate(a=events.ts.min(), b=events.ts.max()).to_pyarrow().to_pylist()[0]
    if row["a"] is None:
        return Zone(timezone, offsets[:1])
    first, last = _utc(row["a"]), _utc(row["b"])
    base = offsets[0][1]
    inside: list[tuple[dt.datetime | None, int]] = []
    for start, seconds in offsets[1:]:
        if start is not None and start <= first:
            base = seconds  # in force when the log begins
        elif start is not None and start <= last:
            inside.append((start, seconds))
    return Zone(timezone, ((None, base), *inside))


def local_ts(ts: ir.TimestampValue, timezone: str | Zone) -> ir.TimestampValue:
    """Wall-clock time in ``timezone`` of the UTC instant ``ts`` (a naive-by-convention timestamp).

    With a zone name, every transition of 1970–2070 is a branch; pass :func:`zone_for`'s
    :class:`Zone` to keep only the log's own."""
    offsets = timezone.offsets if isinstance(timezone, Zone) else utc_offsets(timezone)
    if len(offsets) == 1:
        return ts + ibis.interval(seconds=offsets[0][1]) if offsets[0][1] else ts
    # Later transitions first, so the first matching branch is the latest one at or before ts.
    branches = []
    for start, seconds in reversed(offsets[1:]):
        assert start is not None  # only the first offset (in force since forever) has no start
        branches.append((ts >= ibis.timestamp(start.replace(tzinfo=None)), ibis.literal(seconds, "int64")))
    seconds = ibis.cases(*branches, else_=ibis.literal(offsets[0][1], "int64"))
    # An interval from a column: multiply a one-second interval (compiles on DuckDB and Spark).
    return ts + seconds.as_interval("s")


def period_label(ts: ir.TimestampValue, timezone: str | Zone, period: PeriodSpec) -> ir.StringValue:
    """``YYYY-MM-DD`` (day), ``YYYY-MM`` (month) or ``all``, cut in ``timezone``.

    Labels of one kind sort as their periods do, so ``a <= b`` compares periods. With a tuple of
    kinds (:data:`PeriodSpec`) the result is an ``unnest`` of the row's labels, one row per kind: use
    it as the only row-multiplying column of a ``mutate``/``select`` (:func:`with_period`).
    """
    kinds = period_kinds(period)
    loc = local_ts(ts, timezone) if kinds != ("all",) else None
    labels = [_label(loc, k) for k in kinds]
    return labels[0] if isinstance(period, str) else ibis.array(labels).unnest()


def _label(loc: ir.TimestampValue | None, kind: str) -> ir.StringValue:
    if kind == "all" or loc is None:
        return ibis.literal("all")
    return loc.strftime("%Y-%m-%d" if kind == "day" else "%Y-%m")


def period_kinds(period: PeriodSpec) -> tuple[str, ...]:
    """The kinds of ``period`` as a tuple, each checked; a tuple must be non-empty without repeats."""
    kinds = (period,) if isinstance(period, str) else tuple(period)
    if not kinds or len(set(kinds)) != len(kinds):
        raise ValueError(f"periods must be distinct kinds of {', '.join(PERIODS)}, not {period!r}")
    for k in kinds:
        check_period(k)
    return kinds


def check_period(period: str, allowed: Sequence[str] = PERIODS) -> None:
    if period not in allowed:
        raise ValueError(f"period must be one of {', '.join(allowed)}, not {period!r}")


def with_period(t: ir.Table, timezone: str | Zone, period: PeriodSpec, ts: str = "ts") -> ir.Table:
    """``t`` with a ``period`` column from its ``ts`` column (a row per kind when ``period`` is a tuple)."""
    return t.mutate(period=period_label(t[ts], timezone, period))


#: Within :func:`shared_intermediates`: (memo, materialize) — else None.
_SHARED: ContextVar[tuple[dict[tuple[object, ...], ir.Table], Callable[[ir.Table], ir.Table]] | None] = ContextVar(
    "trustecon_kpi_shared", default=None
)


@contextlib.contextmanager
def shared_intermediates(materialize: Callable[[ir.Table], ir.Table]) -> Iterator[None]:
    """Inside the block, what many KPI tables share — each period's spine, the follow spells, the live
    visits — is built once per log and handed to ``materialize`` (e.g. a temporary table on the
    caller's backend), and every KPI built in the block reads that table. Outside any block they are
    plain expressions that each query recomputes. Why: ``trustecon kpis`` builds ~46 tables from one
    log, and on DuckDB these few intermediates were about half of its time (benchmarks/RESULTS.md);
    the results are the same (tested)."""
    token = _SHARED.set(({}, materialize))
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared(name: str, key: tuple[object, ...], build: Callable[[], ir.Table]) -> ir.Table:
    """``build()``, or inside :func:`shared_intermediates` its materialized table, once per ``(name, key)``."""
    state = _SHARED.get()
    if state is None:
        return build()
    memo, materialize = state
    k = (name, *key)
    if k not in memo:
        memo[k] = materialize(build())
    return memo[k]


def period_spine(events: ir.Table, timezone: str | Zone, period: PeriodSpec) -> ir.Table:
    """Every period the log touches (one row ``all`` for a non-empty log)."""
    return shared("spine", (events.op(), repr(timezone), period),
                  lambda: with_period(events.select("ts"), timezone, period).select("period").distinct())


def log_bounds(events: ir.Table) -> ir.Table:
    """One row: ``log_start`` and ``log_end``, the first and last event instants."""
    return events.aggregate(log_start=events.ts.min(), log_end=events.ts.max())


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """``num / den``, null when ``den`` is 0 or null (never a division by zero, never 0 for no data)."""
    return ibis.cases((den > 0, num.cast("float64") / den.cast("float64")), else_=ibis.null("float64"))


def reason_if(*pairs: tuple[ir.BooleanValue, str]) -> ir.StringValue:
    """The first reason whose condition holds, else null."""
    return ibis.cases(*[(cond, ibis.literal(text)) for cond, text in pairs], else_=ibis.null("string"))


def on_spine(spine: ir.Table, agg: ir.Table, keys: Sequence[str], fill: Sequence[str]) -> ir.Table:
    """Left-join ``agg`` (keyed by ``keys``) onto ``spine``; counts in ``fill`` become 0 where absent.

    So every period of the log has a row, and a period without the KPI's events shows why it is null.
    """
    joined = spine.left_join(agg, [spine[k] == agg[k] for k in keys])
    cols = {c: spine[c] for c in spine.columns}
    for c in agg.columns:
        if c in keys:
            continue
        cols[c] = joined[c].fill_null(0) if c in fill else joined[c]
    return joined.select(**cols)


def share_of(
    events: ir.Table,
    t: ir.Table,
    *,
    timezone: str | Zone,
    period: PeriodSpec,
    by_creator: bool,
    of: str,
    hits: str,
    hit_flag: str,
    empty_reason: str,
) -> ir.Table:
    """The common shape of a share KPI: per period (and creator), ``of`` = rows of ``t``, ``hits`` =
    the sum of its 0/1 column ``hit_flag``, ``value`` = hits / of, null with ``empty_reason`` when
    ``of`` is 0. Over periods, every period of the log gets a row (:func:`on_spine`). ``t`` must
    already carry ``period``."""
    keys = ["period", "creator_id"] if by_creator else ["period"]
    agg = t.group_by(keys).aggregate(**{of: t.count(), hits: t[hit_flag].sum()})
    if not by_creator:
        agg = on_spine(period_spine(events, timezone, period), agg, keys, [of, hits])
    return agg.select(
        *keys,
        **{of: agg[of].cast("int64"), hits: agg[hits].cast("int64")},
        value=ratio(agg[hits], agg[of]),
        reason=reason_if((agg[of] == 0, empty_reason)),
    )


def follow_spells(events: ir.Table) -> ir.Table:
    """Spells during which ``user_id`` followed ``creator_id``: ``start`` (a follow) to ``end`` (null = still).

    Each follow starts a spell that ends at the pair's next follow/unfollow event (a repeated follow
    just starts an adjacent spell). Ties at one instant: the follow is ordered first, so a follow and
    an unfollow at the same instant leave the pair not following (an empty spell).
    """

    def build() -> ir.Table:
        f = events.filter(events.kind.isin(["follow", "unfollow"])).select(
            "user_id", "creator_id", "ts", is_follow=ibis.ifelse(events.kind == "follow", 1, 0)
        )
        w = ibis.window(group_by=[f.user_id, f.creator_id], order_by=[f.ts, f.is_follow.desc()])
        f = f.mutate(end=f.ts.lead().over(w))
        return f.filter(f.is_follow == 1).select("user_id", "creator_id", start=f.ts, end=f.end)

    return shared("follow_spells", (events.op(),), build)


def is_follower_at(spell_start: ir.TimestampValue, spell_end: ir.TimestampValue, t: ir.TimestampValue):
    """The follower-at-instant rule: ``start <= t < end`` (an open spell has no end)."""
    return (spell_start <= t) & (spell_end.isnull() | (t < spell_end))


def epoch_ms(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Milliseconds since 1970 of ``ts``, sub-millisecond part dropped (floor for instants after 1970).

    A millisecond ``delta`` from the epoch: DuckDB counts boundaries crossed and Spark truncates the
    difference, which agree when one end is a whole second. (``epoch_seconds`` does not: DuckDB's
    ``epoch`` is fractional and its cast to an integer rounds.)"""
    return ts.delta(_EPOCH, unit="millisecond").cast("int64")


def ms_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.IntegerValue:
    """Milliseconds from ``earlier`` to ``later``, each first cut to the millisecond.

    Not ``later.delta(earlier)``: DuckDB's ``date_diff`` counts millisecond boundaries crossed while
    Spark's ``timestampdiff`` truncates the difference, so microsecond instants differed by 1 ms
    between the engines. Cutting each instant first (:func:`epoch_ms`) gives one answer on both.
    """
    return epoch_ms(later) - epoch_ms(earlier)
