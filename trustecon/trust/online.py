"""OnlineTrust: pair trust updated event by event, O(1) per event, equal to a batch rebuild.

Each pair keeps its decayed sums *as values at a fixed reference time* ``t_ref`` (the build's
``as_of``): an event at ``t`` adds ``i · 2^((t − t_ref)/h)`` to its channel, whatever the order in
which events arrive, and a score as of ``τ`` multiplies by ``2^((t_ref − τ)/h)``. Addition commutes,
so the state after any permutation of the same events is the same (up to float rounding), and it
equals the batch sums Σ i · 2^((t − τ)/h) (DESIGN.md §5: "incremental updates equal a batch
rebuild"). Three channels need a little more state:

- ``order`` counts once per order, not per line (:mod:`trustecon.trust.evidence`): intensity
  ``1 + log1p(A)/log1p(135)`` of the order's total ``A``, at its latest line's time ``t₁``. The
  updater keeps ``(buyer, creator, order_id) → (t₁, A)`` for every order it has seen; a line at or
  before ``t₁`` (in the same call or any later one, in or out of time order) adds exactly
  ``(i(A + a) − i(A)) · 2^((t₁ − t_ref)/h)``; a later line takes the order's old contribution out
  and puts ``i(A + a)`` in at its own time — so the state is the batch's whatever the arrival order,
  in O(1). Memory: one dict entry per order, kept for good (a line may come any time): ≈ 0.22 kB in
  CPython 3.11 (tracemalloc over 100 k orders: key tuple 64 B, value tuple 56 B and its two floats
  48 B, dict slot ≈ 52 B), ≈ 0.3 kB with the key's three ints when no other state shares them.
  A resumed state needs the same map for the orders the build saw: the build writes it
  (``tables/trust_order_totals``, :func:`~trustecon.trust.evidence.order_totals`) and
  :meth:`OnlineTrust.from_workspace` reads it (``from_table(order_totals=…)`` by hand); without it
  another line of such an order counts as a new order.
- ``refund``/``complaint`` name an ``order_id``; the updater keeps ``order_id → (buyer, creator)``
  from order lines (the minimum over the lines seen, the batch's rule). Each counts once per (buyer,
  creator, order), at its latest event (:mod:`trustecon.trust.orders`): the updater keeps
  ``(buyer, creator, order_id, kind) → t₁``; another event of the same order at or before ``t₁``
  adds nothing, a later one takes ``w(t₁)`` out and puts ``w(t)`` in (O(1)). One float per refunded
  order, kept for good; a resumed state reads the build's ``tables/trust_order_negatives``
  (:func:`~trustecon.trust.orders.order_negatives`). A refund or complaint without an ``order_id``
  counts each time, as in the batch. One naming both ids is credited to them. One that leaves a
  field NULL ("the order's") is kept in its order's *implicit group* ``(kind, its ids) → latest
  time`` and credited through the order's owner as it stands: before its order (nothing yet), after
  it, and again whenever the owner moves — an order line with a smaller buyer or seller id than the
  lines before it (a malformed log: the store refuses such rows at ingest,
  :mod:`trustecon.order_integrity`, but ``update`` may be fed rows directly), or the first line to
  name the seller. Then each group whose pair changes leaves its old (pair, order, kind) and reaches
  its new one, each credited at the latest event still resolving to it; for that the updater also
  keeps, per key an implicit group has ever reached, the latest of the key's own explicit events.
  *Why exact and not an error:* moving costs O(implicit groups of that order) only when its owner
  moves, which on a log whose lines of one order agree happens at most once per order (the seller
  named late) with at most a few groups — O(1) per event there, as before — and a conflicting log
  then still equals the batch (DESIGN.md §5, issue 4: "after any event sequence"), where an error
  would leave a caller who feeds raw rows with no state at all. Memory: one entry per order with an
  implicit refund or complaint (≈ the per-refunded-order float above), none on the simulator's
  creator orders (their refunds name both ids). A resumed state does not know the build's implicit
  groups: an owner that moves after the build leaves their credit where the build put it.
- ``repurchase`` is every order of the pair but its earliest, ``Σ w − min w`` over the pair's order
  weights (:func:`~trustecon.trust.orders.repurchase_sums`): the pair keeps ``Σ w`` (moved in O(1)
  with its orders) and its orders' times in a min-heap, so that when the earliest order moves later
  (its later line arrives) the next earliest is at hand. A heap push is ``O(log k)`` for a pair with
  ``k`` orders, and only when an order's time changes (a new order, a later line); stale times are
  dropped from the top lazily (a per-pair count of them, created only for pairs whose orders moved).
  Memory: ≈ 8 B per order (a list slot; the float is the one the order map holds) plus the list.

``n_events``, ``first_s`` and ``last_s`` are kept as the batch defines them but for two cases: an
order (or a refund, a complaint) whose time moves later leaves ``first_s`` where it was (a minimum
cannot be undone in O(1)), and a refund or complaint that moves to another pair leaves its old pair's
``first_s``/``last_s``; no score reads them.

The per-event mapping to channels mirrors :func:`trustecon.trust.evidence.evidence_rows` row for
row (tests check equality against the engine). Events must be at or before the ``as_of`` asked of
:meth:`OnlineTrust.score`; like the batch, later events are the future.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from trustecon.trust.evidence import CHANNELS, EvidenceConfig, to_seconds
from trustecon.trust.orders import AOV_REFERENCE
from trustecon.trust.pair import PairTrust, beta_score

__all__ = ["OnlineTrust", "event_channel", "event_channels", "order_intensity"]

_ONE = ("like", "comment", "share", "profile_visit", "follow", "product_click", "unfollow", "hate")
_LN2 = math.log(2.0)
_LOG_AOV = math.log1p(AOV_REFERENCE)


def event_channels(row: Mapping[str, Any], short_view: float) -> list[tuple[str, float]]:
    """Every (channel, intensity) of one event that names its pair directly (a view can give two)."""
    kind = row["kind"]
    if kind == "view":
        w, d = row.get("watch_ms"), row.get("duration_ms")
        if w is None or d is None or d <= 0:
            return []
        r = w / d
        if r < short_view:
            return [("short_view", 1.0)]
        return [("view", min(r, 1.0))] + ([("short_view", 1.0 - r)] if r < 1.0 else [])
    ch = event_channel(row, short_view)
    return [] if ch is None else [ch]


def event_channel(row: Mapping[str, Any], short_view: float) -> tuple[str, float] | None:
    """The (channel, intensity) of one event that names its pair directly, or ``None``.

    Orders (once per order, through its total), refunds and complaints (through their order) and
    live minutes (through the session's span) are resolved by :class:`OnlineTrust`.
    """
    kind = row["kind"]
    if kind in _ONE:
        return kind, 1.0
    if kind == "impression":
        return "ignored", 1.0
    if kind == "view":
        w, d = row.get("watch_ms"), row.get("duration_ms")
        if w is None or d is None or d <= 0:
            return None
        r = w / d
        return ("view", min(r, 1.0)) if r >= short_view else ("short_view", 1.0)
    amount = max(row.get("amount") or 0.0, 0.0)
    if kind == "gift":
        return "gift", math.log(amount + 1.0)
    if kind == "live_enter":
        return "live_visit", 1.0
    return None


def order_intensity(amount: float) -> float:
    """``1 + log1p(A) / log1p(135)`` of an order of total ``A ≥ 0`` (the engine's arithmetic,
    :func:`trustecon.trust.evidence.order_intensity`)."""
    return 1.0 + math.log(amount + 1.0) / _LOG_AOV


class _Pair:
    __slots__ = ("sums", "n_events", "first_s", "last_s", "n_orders", "w_orders", "order_times", "moved")

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.n_events = 0
        self.first_s = math.inf
        self.last_s = -math.inf
        self.n_orders = 0
        self.w_orders = 0.0  # Σ 2^((t₁ − t_ref)/h) over the pair's orders, each at its time t₁
        # Min-heap of the orders' times (None until the pair's first order: most pairs have none);
        # ``moved[t]`` counts the entries at t that are stale (an order that was at t moved later).
        # After every change the top is a current time: the earliest order.
        self.order_times: list[float] | None = None
        self.moved: dict[float, int] | None = None

    def place(self, t: float, was: float | None) -> None:
        """An order now at ``t`` (new, or moved from ``was``): push ``t``, mark ``was`` stale, clean the top."""
        if self.order_times is None:
            self.order_times = []
        h = self.order_times
        heapq.heappush(h, t)
        if was is not None:
            if self.moved is None:
                self.moved = {}
            self.moved[was] = self.moved.get(was, 0) + 1
        m = self.moved
        while m and m.get(h[0]):
            m[h[0]] -= 1
            if not m[h[0]]:
                del m[h[0]]
            heapq.heappop(h)


class OnlineTrust:
    """Incremental pair trust. Start empty (``OnlineTrust(model)``) or from a build
    (:meth:`from_table`), feed events with :meth:`update`, read with :meth:`score` / :meth:`scores`."""

    def __init__(self, model: PairTrust | None = None, *, reference: dt.datetime | None = None) -> None:
        self.model = model or PairTrust()
        cfg: EvidenceConfig = self.model.config
        self._h = cfg.half_life_seconds
        self._short = cfg.short_view
        self._ref = to_seconds(reference) if reference is not None else None
        self._pairs: dict[tuple[int, int], _Pair] = {}
        # Per user, the sums over all their pairs (the hierarchical prior of PairTrust).
        self._users: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._orders: dict[int, tuple[int | None, int | None]] = {}
        # Per order as evidence counts it (buyer, creator, order_id): its latest line's time, total so far.
        self._order_totals: dict[tuple[int, int, int | None], tuple[float, float]] = {}
        # Per refunded / complained-about order (buyer, creator, order_id, kind): its latest event.
        self._negatives: dict[tuple[int, int, int, str], float] = {}
        # Per order, its refunds/complaints that take a field from the order's owner: (kind, their
        # user_id, their creator_id; None = the order's) → latest time. They follow the owner.
        self._implicit: dict[int, dict[tuple[str, int | None, int | None], float]] = {}
        # Per key an implicit group ever reached: the latest of its own explicit events (both ids given).
        self._explicit: dict[tuple[int, int, int, str], float | None] = {}
        self._sessions: dict[tuple[int, int], tuple[float, float, int]] = {}
        self.events_seen = 0

    # ------------------------------------------------------------------ state
    @classmethod
    def from_workspace(cls, ws: Any, model: PairTrust | None = None) -> OnlineTrust:
        """Resume from a built workspace: ``pair_trust``, ``trust_orders``, ``trust_order_totals`` and
        ``trust_order_negatives`` (a workspace built before they existed resumes without them: exact
        unless an order, or its refunds, span the build) and ``trust_sessions`` (:meth:`from_table`).
        ``model``: default the one the build stored."""
        if model is None:
            model = PairTrust.from_params(ws.config.get("trust", {}).get("pair_trust"))

        def table(name: str) -> pa.Table | None:
            return ws.read_table(name) if ws.has_table(name) else None

        pt = table("pair_trust")
        if pt is None:
            raise ValueError(f"{ws.path}: no pair_trust table; run `trustecon build {ws.path}` first")
        return cls.from_table(pt, table("trust_orders"), table("trust_sessions"), model,
                              order_totals=table("trust_order_totals"),
                              order_negatives=table("trust_order_negatives"))

    @classmethod
    def from_table(
        cls,
        pair_trust: pa.Table,
        orders: pa.Table | None = None,
        sessions: pa.Table | None = None,
        model: PairTrust | None = None,
        *,
        order_totals: pa.Table | None = None,
        order_negatives: pa.Table | None = None,
    ) -> OnlineTrust:
        """Resume from a built ``pair_trust`` table (its ``e_*`` sums as of its ``as_of``), the
        ``trust_orders`` map (order_id, user_id, creator_id) so later refunds find their pair, and
        ``trust_sessions`` (user_id, session_id, creator_id, enter_s, leave_s) so a live visit that
        spans the build extends its span. ``model`` must be the one the table was built with.

        ``order_totals`` (user_id, creator_id, order_id, last_s, amount as of the same ``as_of``:
        :func:`~trustecon.trust.evidence.order_totals`) lets another line of an order the build saw
        move that order instead of adding one (and gives the repurchase heap the build's orders);
        without it such a line counts as a new order (exact whenever no order spans the build, as on
        the simulator's one-line orders). ``order_negatives`` (user_id, creator_id, order_id,
        refund_last_s, complaint_last_s: :func:`~trustecon.trust.orders.order_negatives`) does the
        same for refunds and complaints: without it another refund of an order the build saw
        refunded counts as a second one (exact whenever an order has at most one refund, as on the
        simulator's logs). A state table written before orders and refunds were credited at their
        latest event (``first_s``, ``refund_s`` columns) is refused with a one-line error: its times
        are the earliest, so rebuild."""
        _check_state(order_totals, "trust_order_totals", "last_s", "first_s")
        _check_state(order_negatives, "trust_order_negatives", "refund_last_s", "refund_s")
        if pair_trust.num_rows == 0:
            online = cls(model)
        else:
            as_of = pair_trust["as_of"][0].as_py()
            online = cls(model, reference=as_of)
            cols = {c: pair_trust[c].to_pylist() for c in pair_trust.column_names}
            for i in range(pair_trust.num_rows):
                p = _Pair()
                for c in CHANNELS:
                    v = cols[f"e_{c}"][i]
                    if v:
                        p.sums[c] = v
                u0 = cols["user_id"][i]
                us = online._users[u0]
                for c in CHANNELS:
                    v = cols[f"e_{c}"][i]
                    if v:
                        us[c] += v
                p.n_events = cols["n_events"][i]
                p.first_s, p.last_s = cols["first_s"][i], cols["last_s"][i]
                fo = cols["first_order_s"][i]
                if fo is not None:
                    p.w_orders = cols["e_first_order"][i] + cols["e_repurchase"][i]
                    if order_totals is None:  # (the build's orders unknown: its earliest stays, never moved)
                        p.order_times = [fo]
                        p.n_orders = 1 if not cols["e_repurchase"][i] else 2  # (only "one or more" matters)
                online._pairs[(cols["user_id"][i], cols["creator_id"][i])] = p
        if orders is not None:
            for o, u, c in zip(
                orders["order_id"].to_pylist(), orders["user_id"].to_pylist(), orders["creator_id"].to_pylist(),
                strict=True,
            ):
                online._orders[o] = (u, c)
        if order_totals is not None:
            for u, c, o, t1, a in zip(*(order_totals[k].to_pylist() for k in (
                    "user_id", "creator_id", "order_id", "last_s", "amount")), strict=True):
                online._order_totals[(u, c, o)] = (t1, a)
                p = online._pairs.get((u, c)) or online._pairs.setdefault((u, c), _Pair())
                if p.order_times is None:
                    p.order_times = []
                p.order_times.append(t1)
                p.n_orders += 1
            for p in online._pairs.values():
                if p.order_times:
                    heapq.heapify(p.order_times)
        if order_negatives is not None:
            for u, c, o, rs, cs in zip(*(order_negatives[k].to_pylist() for k in (
                    "user_id", "creator_id", "order_id", "refund_last_s", "complaint_last_s")), strict=True):
                for kind, t1 in (("refund", rs), ("complaint", cs)):
                    if t1 is not None:
                        online._negatives[(u, c, o, kind)] = t1
        if sessions is not None:
            for u, sid, c, e, lv in zip(*(sessions[k].to_pylist() for k in (
                "user_id", "session_id", "creator_id", "enter_s", "leave_s")), strict=True):
                online._sessions[(u, sid)] = (
                    math.inf if e is None else e, -math.inf if lv is None else lv, c
                )
        return online

    def _w(self, t: float) -> float:
        if self._ref is None:
            self._ref = t  # first event fixes the reference time of an empty start
        return math.exp((t - self._ref) / self._h * _LN2)

    def _add(self, u: int, c: int, channel: str, inten: float, t: float) -> None:
        if u == c:
            return
        p = self._pairs.get((u, c))
        if p is None:
            p = self._pairs[(u, c)] = _Pair()
        w = self._w(t)
        p.sums[channel] += inten * w
        self._users[u][channel] += inten * w
        p.n_events += 1
        p.first_s = min(p.first_s, t)
        p.last_s = max(p.last_s, t)

    def _repurchase(self, p: _Pair) -> float:
        """``Σ w − min w`` over the pair's orders (0 for fewer than two: exactly, not by rounding)."""
        return p.w_orders - self._w(p.order_times[0]) if p.n_orders > 1 and p.order_times else 0.0

    def _order_line(self, u: int, c: int, oid: int | None, amount: float, t: float) -> None:
        """One line of order ``oid`` of pair (u, c): the order's evidence is ``i(A) · w(t₁)`` (its
        total, at its latest line's time). A new order adds that; a line of a known order at or
        before ``t₁`` adds ``(i(A + a) − i(A)) · w(t₁)``; a later one moves the order to ``t``:
        ``i(A + a) · w(t) − i(A) · w(t₁)``, and the repurchase state moves it too."""
        if u == c:
            return
        key = (u, c, oid)
        old = self._order_totals.get(key)
        p = self._pairs.get((u, c))
        if p is None:
            p = self._pairs[(u, c)] = _Pair()
        us = self._users[u]
        before = self._repurchase(p)
        if old is None:
            t1, a1, w1 = t, amount, self._w(t)
            change = order_intensity(a1) * w1
            p.w_orders += w1
            p.n_orders += 1
            p.n_events += 1
            p.first_s = min(p.first_s, t)
            p.place(t, None)
        else:
            t0, a0 = old
            a1 = a0 + amount
            if t > t0:  # a later line: the order is complete later, so it moves forward to t
                t1, w1, w0 = t, self._w(t), self._w(t0)
                change = order_intensity(a1) * w1 - order_intensity(a0) * w0
                p.w_orders += w1 - w0
                p.place(t, t0)
            else:
                t1, change = t0, (order_intensity(a1) - order_intensity(a0)) * self._w(t0)
        self._order_totals[key] = (t1, a1)
        p.sums["order"] += change
        us["order"] += change
        p.last_s = max(p.last_s, t1)
        if old is None or t1 != old[0]:
            # The user's repurchase sum moves by the pair's change.
            us["repurchase"] += self._repurchase(p) - before

    def _credit(self, key: tuple[int, int, int, str], t: float) -> None:
        """Another refund or complaint event of order ``key[2]`` credited to pair ``key[:2]``: counted
        once per (u, c, order, kind) at its latest event — a new one adds ``w(t)``, a later event moves
        it forward (``w(t) − w(t₁)``), one at or before ``t₁`` adds nothing."""
        t1 = self._negatives.get(key)
        if t1 is None or t > t1:
            self._set_credit(key, t)

    def _set_credit(self, key: tuple[int, int, int, str], t: float | None) -> None:
        """Credit ``key`` at ``t`` (None: not at all) instead of where it was: O(1)."""
        u, c, _, kind = key
        if u == c:
            return
        t1 = self._negatives.get(key)
        if t == t1:
            return
        p = self._pairs.get((u, c)) or self._pairs.setdefault((u, c), _Pair())
        change = (0.0 if t is None else self._w(t)) - (0.0 if t1 is None else self._w(t1))
        p.sums[kind] += change
        self._users[u][kind] += change
        if t1 is None:
            p.n_events += 1
        if t is None:
            del self._negatives[key]
            p.n_events -= 1
            return
        self._negatives[key] = t
        p.first_s = min(p.first_s, t) if t1 is None else p.first_s
        p.last_s = max(p.last_s, t)

    def _resolve(self, oid: int, group: tuple[str, int | None, int | None],
                 owner: tuple[int | None, int | None] | None) -> tuple[int, int, int, str] | None:
        """The key an implicit refund/complaint group of order ``oid`` credits under ``owner`` (None
        while a field is unknown: the batch drops such an event too)."""
        kind, gu, gc = group
        u = gu if gu is not None else (owner[0] if owner else None)
        c = gc if gc is not None else (owner[1] if owner else None)
        return None if u is None or c is None else (u, c, oid, kind)

    def _reach(self, key: tuple[int, int, int, str]) -> None:
        """An implicit group reaches ``key``: the first time, what ``key`` holds is its explicit events'."""
        if key not in self._explicit:
            self._explicit[key] = self._negatives.get(key)

    def _negative(self, u: int | None, c: int | None, oid: int | None, kind: str, t: float) -> None:
        """A refund or complaint event. Without an order id it counts every time (both ids needed);
        with both ids it is credited to (u, c); otherwise it joins its order's implicit group
        (``kind``, u, c), credited through the order's owner now and moved when the owner moves."""
        if oid is None:
            if u is not None and c is not None:
                self._add(u, c, kind, 1.0, t)
            return
        if u is not None and c is not None:
            key = (u, c, oid, kind)
            if key in self._explicit:
                e = self._explicit[key]
                self._explicit[key] = t if e is None else max(e, t)
            self._credit(key, t)
            return
        groups = self._implicit.setdefault(oid, {})
        g = (kind, u, c)
        t0 = groups.get(g)
        if t0 is not None and t <= t0:
            return
        groups[g] = t
        via = self._resolve(oid, g, self._orders.get(oid))
        if via is not None:
            self._reach(via)
            self._credit(via, t)

    def _reown(self, oid: int, was: tuple[int | None, int | None] | None, now: tuple[int | None, int | None]) -> None:
        """Order ``oid``'s owner moved from ``was`` to ``now`` (a line with a smaller id, or the first
        to name a field): each implicit group whose pair changes leaves its old key and reaches its
        new one, and every key it touched is credited at the latest event now resolving to it (its
        explicit events' and the groups'). O(groups of this order); nothing on a log whose lines of
        one order agree (then the owner only ever gains a field once)."""
        groups = self._implicit.get(oid)
        if not groups:
            return
        touched: set[tuple[int, int, int, str]] = set()
        for g in groups:
            a, b = self._resolve(oid, g, was), self._resolve(oid, g, now)
            if a != b:
                touched.update(k for k in (a, b) if k is not None)
        for key in sorted(touched):
            self._reach(key)
            times = [t for g, t in groups.items() if self._resolve(oid, g, now) == key]
            e = self._explicit[key]
            if e is not None:
                times.append(e)
            self._set_credit(key, max(times) if times else None)

    def _live(self, u: int, c: int, sid: int, kind: str, t: float) -> None:
        """Live minutes of (u, session) = last exit − first entry, credited at the last exit: when
        either end moves, take the old span's contribution out and put the new one in (O(1))."""
        key = (u, sid)
        old = self._sessions.get(key)
        enter, leave, cc = old if old is not None else (math.inf, -math.inf, c)
        cc = min(cc, c)
        new_enter = min(enter, t) if kind == "live_enter" else enter
        new_leave = max(leave, t) if kind == "live_leave" else leave
        self._sessions[key] = (new_enter, new_leave, cc)
        was = leave >= enter and math.isfinite(enter) and math.isfinite(leave)
        now = new_leave >= new_enter and math.isfinite(new_enter) and math.isfinite(new_leave)
        if (new_enter, new_leave) == (enter, leave) or not now:
            return
        if u == cc:
            return
        p = self._pairs.get((u, cc))
        if p is None:
            p = self._pairs[(u, cc)] = _Pair()
        change = (new_leave - new_enter) / 60.0 * self._w(new_leave)
        if was:
            change -= (leave - enter) / 60.0 * self._w(leave)
        else:
            p.n_events += 1
        p.sums["live_minutes"] += change
        self._users[u]["live_minutes"] += change
        p.first_s = min(p.first_s, new_leave)
        p.last_s = max(p.last_s, new_leave)

    # ------------------------------------------------------------------ updates
    def update_one(self, row: Mapping[str, Any]) -> None:
        """Apply one event (a dict with the event schema's fields; ``ts`` a datetime)."""
        self.events_seen += 1
        t = to_seconds(row["ts"]) if isinstance(row["ts"], dt.datetime) else float(row["ts"])
        kind = row["kind"]
        u, c = row.get("user_id"), row.get("creator_id")
        if kind in ("refund", "complaint"):
            self._negative(u, c, row.get("order_id"), kind, t)
            return
        if kind == "order" and row.get("order_id") is not None:
            oid = row["order_id"]
            known = self._orders.get(oid)
            # The batch maps an order to the min buyer/creator over its lines; keep the same rule.
            owner = (_min(known[0] if known else None, u), _min(known[1] if known else None, c))
            if owner != known:
                self._orders[oid] = owner
                self._reown(oid, known, owner)
        if u is None or c is None:
            return
        if kind == "order":
            self._order_line(u, c, row.get("order_id"), max(row.get("amount") or 0.0, 0.0), t)
            return
        if kind in ("live_enter", "live_leave") and row.get("session_id") is not None:
            self._live(u, c, row["session_id"], kind, t)
        for ch, inten in event_channels(row, self._short):
            self._add(u, c, ch, inten, t)

    def update(self, events: pa.Table | Iterable[Mapping[str, Any]]) -> OnlineTrust:
        """Apply a micro-batch of events in the given order (any order gives the same state)."""
        rows = events.to_pylist() if isinstance(events, pa.Table) else events
        for row in rows:
            self.update_one(row)
        return self

    # ------------------------------------------------------------------ reading
    def sums(self, user_id: int, creator_id: int, as_of: dt.datetime) -> dict[str, float] | None:
        """Decayed evidence sums of one pair as of ``as_of`` (``None`` for an unseen pair)."""
        p = self._pairs.get((user_id, creator_id))
        if p is None or self._ref is None:
            return None
        f = math.exp((self._ref - to_seconds(as_of)) / self._h * _LN2)
        out = {c: p.sums.get(c, 0.0) * f for c in CHANNELS if c != "repurchase"}
        out["repurchase"] = self._repurchase(p) * f
        return out

    def user_sums(self, user_id: int, as_of: dt.datetime) -> dict[str, float]:
        """The user's sums over all their pairs as of ``as_of`` (the hierarchical prior's input)."""
        us = self._users.get(user_id)
        if not us or self._ref is None:
            return {}
        f = math.exp((self._ref - to_seconds(as_of)) / self._h * _LN2)
        return {c: v * f for c, v in us.items()}

    def score(self, user_id: int, creator_id: int, as_of: dt.datetime) -> dict[str, float]:
        """alpha, beta, trust, confidence, evidence of one pair as of ``as_of`` (prior for unseen)."""
        s = self.sums(user_id, creator_id, as_of) or {}
        a0, b0 = self.model.priors
        us = self.user_sums(user_id, as_of) if self.model.user_prior else None
        return beta_score(s, self.model.weights, a0, b0, self.model.prior_weight, user_sums=us)

    def scores(self, as_of: dt.datetime) -> pa.Table:
        """All pairs as of ``as_of``: user_id, creator_id, trust, confidence, alpha, beta (sorted)."""
        keys = sorted(self._pairs)
        rows = [self.score(u, c, as_of) for u, c in keys]
        return pa.table(
            {
                "user_id": pa.array([k[0] for k in keys], pa.int64()),
                "creator_id": pa.array([k[1] for k in keys], pa.int64()),
                **{f: pa.array(np.array([r[f] for r in rows], dtype=float)) for f in ("trust", "confidence",
                                                                                        "alpha", "beta")},
            }
        )

    def __len__(self) -> int:
        return len(self._pairs)


def _check_state(table: pa.Table | None, name: str, column: str, old: str) -> None:
    """A state table from before orders and refunds were credited at their latest event holds
    earliest times under ``old``: one line saying so instead of a wrong resume or a KeyError."""
    if table is None or column in table.column_names:
        return
    if old in table.column_names:
        raise ValueError(f"tables/{name} has {old!r} (earliest times: written before orders and refunds were "
                         f"credited at their latest event); rebuild the workspace (`trustecon build`) to resume")
    raise ValueError(f"tables/{name} lacks column {column!r} (has {', '.join(table.column_names)})")


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
