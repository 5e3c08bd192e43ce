"""The streaming room monitor of DESIGN.md §7: live-room numbers kept incrementally while rooms are live.

:class:`RoomMonitor` takes events one at a time or in batches, in time order, and keeps per live
session (``session_id``) the numbers of DESIGN.md §9 with the *same definitions* as the batch KPIs,
so that a snapshot equals :func:`trustecon.live.rooms.room_stats` (the batch side, built from
:func:`trustecon.kpis.live_visits`, :func:`~trustecon.kpis.live.visit_products`,
:func:`~trustecon.kpis.live_room_metrics` and :func:`~trustecon.live.funnel.funnel_visits`) on the
same events:

- visits pair as in :mod:`trustecon.kpis.live` (a leave or a re-enter closes the open visit; a visit
  still open ends at the session's latest ``live_end`` at or after its enter; otherwise it is open and
  left out of time-based numbers). A visit closed by ``live_end`` is *provisional*: a later leave or
  re-enter of the same viewer replaces its end, exactly as the batch pairing does;
- products seen by a visit = distinct products pinned in [anchor, end], anchor = the instant of the
  last pin at or before the enter (a Fenwick tree over the session's pins, marking each product's
  latest pin, answers "distinct products pinned since pin i" in O(log pins));
- new followers: viewers whose first follow of the host at or after their first enter falls at or
  before the session's end; old fans: buyers following the host at the session's start (the spell rule
  of :func:`trustecon.kpis.follow_spells`, kept as each pair's follow state per instant).

**Order.** Events at one instant are held and applied together when a later instant arrives (or on
:meth:`RoomMonitor.flush`, which :meth:`~RoomMonitor.snapshot` calls), in the batch's tie order:
``live_start``, ``product_pin``, ``live_leave``, ``live_enter``, ``follow``/``unfollow``, the rest,
``live_end``. So each event costs O(1) amortised (O(log pins) for a visit's products; a ``live_end``
touches the visits still open), and nothing is rescanned.

**Late events** (an instant before the newest one already applied): kinds whose effect does not
depend on order — ``order``, ``refund``, ``complaint`` and the interactions (like, comment, share,
gift, product_click) — are applied as usual, so a refund days after the room ended turns that order
from kept to refunded in the funnel, as in the batch. A late visit, pin, start/end or follow event
would need the session replayed: it is *not* applied and is counted in the session's
``late_dropped`` (and :attr:`RoomMonitor.late_dropped`), so a snapshot says when it may differ from
the batch. Replaying the log sorted by time (``trustecon live WS``) never drops anything.

State: per session, its viewers, open visits, pins and buyers; for the whole stream, each
(user, creator) pair's follow state per instant and the refunded order ids (so old fans and refunds
after the room can be judged). Assumption: one session has one host (the creator of its start/end,
else of its enters); the new-follower rule uses the host known when the viewer first entered.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from trustecon.kpis._base import INTERACTION_KINDS
from trustecon.live.rooms import MONITOR_STAGES, RoomSnapshot, room_stats, snapshots_table

__all__ = ["MONITOR_STAGES", "RoomMonitor", "RoomSnapshot", "replay", "room_stats", "snapshots_table"]
_RANK = {"live_start": 0, "product_pin": 1, "live_leave": 2, "live_enter": 3, "follow": 4, "unfollow": 4, "live_end": 9}
_ORDER_FREE = frozenset({"order", "refund", "complaint", *INTERACTION_KINDS})
_USED = frozenset(_RANK) | _ORDER_FREE
_COLUMNS = ("event_id", "ts", "kind", "user_id", "creator_id", "session_id", "product_id", "order_id", "amount")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(ts: Any) -> int:
    """Microseconds since 1970 of a datetime (naive = UTC) or an integer already in microseconds."""
    if isinstance(ts, int):
        return ts
    if not isinstance(ts, dt.datetime):
        raise TypeError(f"ts must be a datetime, not {type(ts).__name__}")
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    d = ts - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _from_us(us: int | None) -> dt.datetime | None:
    return None if us is None else _EPOCH + dt.timedelta(microseconds=us)


def _ms(us: int) -> int:
    return us // 1000  # the batch cuts each instant to the millisecond (kpis._base.epoch_ms)


def _div(num: float, den: float) -> float | None:
    """num / den, None when den is 0 (the batch's :func:`trustecon.kpis._base.ratio`)."""
    return float(num) / float(den) if den > 0 else None


class _Fenwick:
    """A growable Fenwick tree of 0/1 marks: append, add, prefix sum in O(log n)."""

    __slots__ = ("tree",)

    def __init__(self) -> None:
        self.tree: list[int] = [0]

    def prefix(self, i: int) -> int:
        """Sum of marks at positions < i (0-based)."""
        s, t = 0, self.tree
        while i > 0:
            s += t[i]
            i -= i & -i
        return s

    def append(self, v: int) -> None:
        i = len(self.tree)  # 1-based position of the new mark
        self.tree.append(v + self.prefix(i - 1) - self.prefix(i - (i & -i)))

    def add(self, pos: int, v: int) -> None:
        i, t = pos + 1, self.tree
        while i < len(t):
            t[i] += v
            i += i & -i


@dataclass(slots=True)
class _Visit:
    enter: int  # µs
    pin_start: int  # index of the first pin at the anchor instant
    prov_ms: int | None = None  # provisional length when a live_end closed it
    prov_products: int = 0


@dataclass(slots=True)
class _Viewer:
    """One (user, session): the funnel's unit."""

    visited: bool = False
    first_enter: int | None = None
    open: _Visit | None = None
    watch_ms: int = 0  # closed visits, final
    clicked: bool = False
    order_ids: set[int] = field(default_factory=set)
    null_lines: int = 0  # order lines without an order_id (never refunded)
    kept_n: int = 0  # of order_ids, those not refunded
    flags: tuple[int, int, int, int] = (0, 0, 0, 0)  # watched, clicked, ordered, kept as counted


class _Room:
    """The running state of one session."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.host_se: int | None = None  # max creator of live_start / live_end
        self.host_v: int | None = None  # max creator of enters
        self.start_ls: int | None = None
        self.end_le: int | None = None
        self.first_enter: int | None = None
        self.last_seen: int | None = None
        self.exists = False
        self.visits = self.closed = self.prov_closed = 0
        self.watch_ms = self.prov_ms = self.products = self.prov_products = 0
        self.viewers: dict[int | None, _Viewer] = {}
        self.unique_viewers = 0
        self.open: dict[int | None, _Visit] = {}
        self.level = self.peak = 0
        self.minutes: list[list[int]] = []  # [minute µs, peak, level at its end]
        self.pins: list[int | None] = []
        self.fenwick = _Fenwick()
        self.last_pos: dict[int, int] = {}
        self.last_pin_ts: int | None = None
        self.last_pin_first = 0
        self.interactions = 0
        self.gmv = 0.0
        self.order_ids: set[int] = set()
        self.buyers: list[int] = []
        self.buyer_set: set[int] = set()
        self.follow_times: list[int] = []
        self.funnel = [0, 0, 0, 0]
        self.old_fan_key: tuple[int | None, int | None] | None = None
        self.old_fan_done = self.old_fans = 0
        self.late_dropped = 0

    @property
    def host(self) -> int | None:
        return self.host_se if self.host_se is not None else self.host_v

    @property
    def start(self) -> int | None:
        return self.start_ls if self.start_ls is not None else self.first_enter

    @property
    def end(self) -> int | None:
        return self.end_le if self.end_le is not None else self.last_seen

    def distinct_since(self, i: int) -> int:
        """Distinct products among pins[i:] (each product's latest pin is marked)."""
        return len(self.last_pos) - self.fenwick.prefix(i)

    def tick(self, t: int) -> None:
        """Close the instant t for the concurrency series: peak of its minute, level at the minute's end."""
        minute = t // 60_000_000 * 60_000_000
        if self.minutes and self.minutes[-1][0] == minute:
            row = self.minutes[-1]
            row[1] = max(row[1], self.level)
            row[2] = self.level
        else:
            # The level carried into the minute counts unless the minute starts with this instant.
            before = self.minutes[-1][2] if self.minutes and t > minute else 0
            self.minutes.append([minute, max(before, self.level), self.level])
        self.peak = max(self.peak, self.level)


class RoomMonitor:
    """Live-room numbers kept incrementally from a time-ordered event stream (module docstring).

    ``feed(event)`` takes a mapping with the event schema's fields (``ts`` a datetime); ``feed_batch``
    takes an Arrow table or a list of them. ``snapshot(session_id)`` / ``snapshot_all()`` return
    :class:`RoomSnapshot`. ``min_watch_ms`` is the funnel's "watched" threshold (60 s).
    """

    def __init__(self, *, min_watch_ms: int = 60_000) -> None:
        if min_watch_ms < 0:
            raise ValueError(f"min_watch_ms must be >= 0, got {min_watch_ms}")
        self.min_watch_ms = min_watch_ms
        self.rooms: dict[int, _Room] = {}
        self.events_seen = 0
        self.late_dropped = 0
        self.watermark: int | None = None  # the newest instant applied
        self._pending: list[tuple[int, int, dict[str, Any]]] = []
        self._pending_ts: int | None = None
        self._n_pins = 0
        self._refunded: set[int] = set()
        self._order_keys: dict[int, list[tuple[_Room, _Viewer]]] = {}
        self._follows: dict[tuple[int | None, int | None], tuple[list[int], list[bool]]] = {}
        self._waiting: dict[tuple[int | None, int | None], list[_Room]] = {}
        self._dirty: set[int] = set()

    # ------------------------------------------------------------------ input
    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one event (see the module docstring for order and late events)."""
        kind = event.get("kind")
        if not isinstance(kind, str):
            raise ValueError(f"event {event.get('event_id')!r}: kind must be a string, got {kind!r}")
        if event.get("ts") is None:
            raise ValueError(f"event {event.get('event_id')!r}: ts is missing")
        self.events_seen += 1
        if kind not in _USED:
            return
        t = _us(event["ts"])
        if self._pending_ts is not None and t > self._pending_ts:
            self.flush()
        if self.watermark is not None and t <= self.watermark:
            # Late: after a flush, or an instant older than the one being held.
            if kind in _ORDER_FREE:
                self._apply(kind, t, event)
            else:
                self._drop_late(event)
            return
        if self._pending_ts is not None and t < self._pending_ts:
            if kind in _ORDER_FREE:
                self._apply(kind, t, event)
            else:
                self._drop_late(event)
            return
        self._pending_ts = t
        self._pending.append((_RANK.get(kind, 5), len(self._pending), dict(event)))

    def feed_batch(self, events: pa.Table | Iterable[Mapping[str, Any]]) -> None:
        """Take a batch in time order (an Arrow table with the event schema's columns, or mappings)."""
        if isinstance(events, pa.Table):
            cols = [c for c in _COLUMNS if c in events.column_names]
            events = events.select(cols).to_pylist()
        for e in events:
            self.feed(e)

    def flush(self) -> None:
        """Apply the events held at the newest instant (their instant is then closed)."""
        if self._pending_ts is None:
            return
        t = self._pending_ts
        self._pending.sort(key=lambda x: (x[0], x[1]))
        for _, _, e in self._pending:
            self._apply(e["kind"], t, e)
        self._pending.clear()
        self._pending_ts = None
        self.watermark = t
        for s in self._dirty:
            self.rooms[s].tick(t)
        self._dirty.clear()

    def _drop_late(self, e: Mapping[str, Any]) -> None:
        self.late_dropped += 1
        s = e.get("session_id")
        if s is not None:
            self._room(s).late_dropped += 1

    def _room(self, s: int) -> _Room:
        room = self.rooms.get(s)
        if room is None:
            room = self.rooms[s] = _Room(s)
        return room

    # ------------------------------------------------------------------ state
    def _apply(self, kind: str, t: int, e: Mapping[str, Any]) -> None:
        s, u = e.get("session_id"), e.get("user_id")
        if kind == "refund":
            self._refund(e.get("order_id"))
        elif kind in ("follow", "unfollow"):
            self._follow(kind, t, u, e.get("creator_id"))
        elif s is None:
            return
        elif kind == "live_enter":
            self._enter(self._room(s), t, u, e.get("creator_id"))
        elif kind == "live_leave":
            self._leave(self._room(s), t, u)
        elif kind == "product_pin":
            self._pin(self._room(s), t, e.get("product_id"))
        elif kind == "order":
            self._order(self._room(s), u, e.get("order_id"), e.get("amount"))
        elif kind in INTERACTION_KINDS:
            room = self._room(s)
            room.interactions += 1
            if kind == "product_click":
                v = self._viewer(room, u)
                v.clicked = True
                self._reflag(room, v)
        elif kind in ("live_start", "live_end"):
            room = self._room(s)
            room.exists = True
            c = e.get("creator_id")
            if c is not None:
                room.host_se = c if room.host_se is None else max(room.host_se, c)
            if kind == "live_start":
                room.start_ls = t if room.start_ls is None else min(room.start_ls, t)
            else:
                self._live_end(room, t)

    def _viewer(self, room: _Room, u: int | None) -> _Viewer:
        v = room.viewers.get(u)
        if v is None:
            v = room.viewers[u] = _Viewer()
        return v

    def _reflag(self, room: _Room, v: _Viewer) -> None:
        """Recount one (user, session) in the funnel after its watch, click or orders changed."""
        watch = v.watch_ms + (v.open.prov_ms if v.open is not None and v.open.prov_ms is not None else 0)
        w = int(v.visited and watch >= self.min_watch_ms)
        c = int(w and v.clicked)
        o = int(c and (bool(v.order_ids) or v.null_lines > 0))
        k = int(o and (v.kept_n > 0 or v.null_lines > 0))
        new = (w, c, o, k)
        if new != v.flags:
            for i in range(4):
                room.funnel[i] += new[i] - v.flags[i]
            v.flags = new

    def _close(self, room: _Room, u: int | None, v: _Viewer, t: int) -> None:
        """Close u's open visit at t (a leave or a re-enter), replacing a provisional live_end close."""
        visit = v.open
        assert visit is not None
        if visit.prov_ms is not None:
            room.prov_closed -= 1
            room.prov_ms -= visit.prov_ms
            room.prov_products -= visit.prov_products
        else:
            room.level -= 1
        ms = _ms(t) - _ms(visit.enter)
        room.closed += 1
        room.watch_ms += ms
        room.products += room.distinct_since(visit.pin_start)
        v.watch_ms += ms
        v.open = None
        del room.open[u]
        room.last_seen = t if room.last_seen is None else max(room.last_seen, t)
        self._dirty.add(room.session_id)

    def _enter(self, room: _Room, t: int, u: int | None, creator: int | None) -> None:
        room.exists = True
        if creator is not None:
            room.host_v = creator if room.host_v is None else max(room.host_v, creator)
        room.visits += 1
        if room.first_enter is None:
            room.first_enter = t
        v = self._viewer(room, u)
        if not v.visited:
            v.visited = True
            v.first_enter = t
            room.unique_viewers += 1
            self._waiting.setdefault((u, room.host), []).append(room)
        if v.open is not None:
            self._close(room, u, v, t)
        pin_start = room.last_pin_first if room.pins else 0
        v.open = room.open[u] = _Visit(t, pin_start)
        room.level += 1
        room.last_seen = t if room.last_seen is None else max(room.last_seen, t)
        self._dirty.add(room.session_id)
        self._reflag(room, v)

    def _leave(self, room: _Room, t: int, u: int | None) -> None:
        v = room.viewers.get(u)
        if v is None or v.open is None:
            return  # a leave with no enter before it is ignored (the batch pairing rule)
        self._close(room, u, v, t)
        self._reflag(room, v)

    def _live_end(self, room: _Room, t: int) -> None:
        """The room closed at t: every visit still open ends here for now (provisional)."""
        room.end_le = t if room.end_le is None else max(room.end_le, t)
        end = room.end_le
        for u, visit in room.open.items():
            if visit.prov_ms is not None:
                room.prov_ms -= visit.prov_ms
                room.prov_products -= visit.prov_products
            else:
                room.prov_closed += 1
                room.level -= 1
            visit.prov_ms = _ms(end) - _ms(visit.enter)
            visit.prov_products = room.distinct_since(visit.pin_start)
            room.prov_ms += visit.prov_ms
            room.prov_products += visit.prov_products
            self._reflag(room, room.viewers[u])
        self._dirty.add(room.session_id)

    def _pin(self, room: _Room, t: int, product: int | None) -> None:
        if room.last_pin_ts != t:
            room.last_pin_ts = t
            room.last_pin_first = len(room.pins)
        pos = len(room.pins)
        room.pins.append(product)
        room.fenwick.append(1 if product is not None else 0)
        if product is not None:
            old = room.last_pos.get(product)
            if old is not None:
                room.fenwick.add(old, -1)
            room.last_pos[product] = pos
        self._n_pins += 1

    def _order(self, room: _Room, u: int | None, order_id: int | None, amount: float | None) -> None:
        room.gmv += float(amount) if amount is not None else 0.0
        if order_id is not None:
            room.order_ids.add(order_id)
        if u is not None and u not in room.buyer_set:
            room.buyer_set.add(u)
            room.buyers.append(u)
        v = self._viewer(room, u)
        if order_id is None:
            v.null_lines += 1
        elif order_id not in v.order_ids:
            v.order_ids.add(order_id)
            if order_id not in self._refunded:
                v.kept_n += 1
            self._order_keys.setdefault(order_id, []).append((room, v))
        self._reflag(room, v)

    def _refund(self, order_id: int | None) -> None:
        if order_id is None or order_id in self._refunded:
            return
        self._refunded.add(order_id)
        for room, v in self._order_keys.get(order_id, ()):
            v.kept_n -= 1
            self._reflag(room, v)

    def _follow(self, kind: str, t: int, u: int | None, c: int | None) -> None:
        times, states = self._follows.setdefault((u, c), ([], []))
        if times and times[-1] == t:
            states[-1] = states[-1] and kind == "follow"
        else:
            times.append(t)
            states.append(kind == "follow")
        if kind == "follow":
            for room in self._waiting.pop((u, c), ()):
                room.follow_times.append(t)  # the viewer's first follow of the host since entering

    def _follower_at(self, u: int, c: int | None, t: int) -> bool:
        hist = self._follows.get((u, c))
        if hist is None:
            return False
        i = bisect.bisect_right(hist[0], t)
        return i > 0 and hist[1][i - 1]

    # ------------------------------------------------------------------ output
    def _old_fans(self, room: _Room) -> int:
        key = (room.start, room.host)
        if key != room.old_fan_key:
            room.old_fan_key, room.old_fan_done, room.old_fans = key, 0, 0
        start = room.start
        if start is not None:
            for u in room.buyers[room.old_fan_done :]:
                room.old_fans += self._follower_at(u, room.host, start)
            room.old_fan_done = len(room.buyers)
        return room.old_fans

    def sessions(self) -> list[int]:
        """Ids of the sessions seen (a start, an end or an enter), sorted."""
        self.flush()
        return sorted(s for s, r in self.rooms.items() if r.exists)

    def snapshot(self, session_id: int) -> RoomSnapshot:
        """The numbers of one session now (raises KeyError for a session never started nor entered)."""
        self.flush()
        room = self.rooms.get(session_id)
        if room is None or not room.exists:
            raise KeyError(f"session {session_id!r}: no live_start, live_end or live_enter seen")
        closed = room.closed + room.prov_closed
        watch_min = (room.watch_ms + room.prov_ms) / 60_000.0
        products = room.products + room.prov_products
        end = room.end
        new_followers = bisect.bisect_right(room.follow_times, end) if end is not None else 0
        old_fans = self._old_fans(room)
        orders = len(room.order_ids)
        series: list[tuple[dt.datetime | None, int]] = []
        for i, (minute, peak, _) in enumerate(room.minutes):
            if i:  # minutes without a change hold the level the previous one ended with
                prev, _, level = room.minutes[i - 1]
                series += [(_from_us(g), level) for g in range(prev + 60_000_000, minute, 60_000_000)]
            series.append((_from_us(minute), peak))
        return RoomSnapshot(
            session_id=room.session_id,
            creator_id=room.host,
            start=_from_us(room.start),
            end=_from_us(end),
            live=room.end_le is None,
            visits=room.visits,
            closed_visits=closed,
            unique_viewers=room.unique_viewers,
            concurrent=room.level,
            peak_concurrent=room.peak,
            watch_minutes=watch_min,
            watch_minutes_per_visit=_div(watch_min, closed),
            interactions=room.interactions,
            interactions_per_minute=_div(room.interactions, watch_min),
            products_pinned=len(room.last_pos),
            products_seen=products,
            products_seen_per_visit=_div(products, closed) if self._n_pins else None,
            entered=room.unique_viewers,
            watched_1min=room.funnel[0],
            clicked=room.funnel[1],
            ordered=room.funnel[2],
            kept=room.funnel[3],
            gmv=room.gmv,
            orders=orders,
            buyers=len(room.buyers),
            aov=_div(room.gmv, orders),
            uv_value=_div(room.gmv, room.unique_viewers),
            gpm=_div(room.gmv * 1000.0, room.visits),
            new_followers=new_followers,
            follower_conversion=_div(new_followers, room.unique_viewers),
            old_fan_buyers=old_fans,
            old_fan_buyer_share=_div(old_fans, len(room.buyers)),
            late_dropped=room.late_dropped,
            concurrent_per_minute=tuple(series),  # type: ignore[arg-type]
        )

    def snapshot_all(self) -> list[RoomSnapshot]:
        """Every session's snapshot, by session id."""
        return [self.snapshot(s) for s in self.sessions()]


def replay(events: pa.Table, *, min_watch_ms: int = 60_000) -> RoomMonitor:
    """A monitor fed the whole log in time order (what ``trustecon live WS`` prints): the live numbers
    as they stand at the last event; nothing is late, so they equal :func:`room_stats`."""
    mon = RoomMonitor(min_watch_ms=min_watch_ms)
    live = pc.is_in(events["kind"], pa.array(sorted(_USED)))
    mon.feed_batch(events.filter(live).sort_by([("ts", "ascending")]))
    mon.flush()
    return mon
