"""OnlineReliability: seller reliability R updated event by event, equal to a batch rebuild.

:class:`~trustecon.trust.reliability.SellerReliability` is the specification; this module keeps its
sums live so that a platform sees a seller's R move while refunds and complaints arrive (during a
live session), not only at the next ``trustecon build``. After any events, fed in any order and in
any split into calls, ``table()`` equals ``SellerReliability.transform`` on the same log (and the
same ``as_of``) row for row, every column within float rounding (DESIGN.md §5: "incremental updates
equal a batch rebuild"; tests/test_trust_online_reliability.py checks it).

**The clock.** τ is the latest event time seen, or a later ``as_of`` asked of :meth:`advance`,
:meth:`score` or :meth:`table`; it only moves forward (an ``as_of`` before it is refused: maturity
cannot be undone). Late events (at or before τ) are welcome: the batch over the same log counts
them too.

**What τ moves without any event**, and how the state follows it:

- *decay* ``δ = 2^((t_order − τ)/h)``: each order's ``a``, ``c`` are kept at a fixed reference time
  ``t_ref`` (the first event seen), so decay is one factor ``F = 2^((t_ref − τ)/h)`` at read time;
- *maturity* (``t_order ≤ τ − maturity_days``): a min-heap of the pending orders' times; when τ
  passes one the order is re-derived (pending → kept, ``a`` appears) and its buyer's vetting count
  moves (matured orders from ≥ ``vetted_min_sellers`` creators);
- *the cap* (one buyer, one vote): a (seller, buyer) group contributes ``min(S F, B)`` to ``α − α₀``
  (``S`` its orders' uncapped ``Σa`` at ``t_ref``, ``B`` its largest buyer weight; the batch's
  "each order scaled by the same share" sums to exactly this) and ``min(S_c F, B (w_refund +
  w_complaint))`` to ``β − β₀``. So a seller keeps ``Σ S`` over its uncapped groups (times ``F``)
  and ``Σ cap`` over its capped ones; a capped group uncaps at ``τ* = t_ref + h log₂(S / cap)``,
  when ``S F`` falls to its cap — a second min-heap. ``min`` is continuous, so which side of ``τ*``
  a group is counted on at the instant itself changes nothing beyond rounding.

**Costs per event** (k = orders of one (seller, buyer) group, small except under brushing):
an order line, refund or complaint re-derives its order (O(1)) and recomputes its creator's and each
brand's group for that buyer, O(k) each; an engagement event is O(1) unless it is the pair's first
engagement so far (then the pair's orders are re-derived, O(their groups)); a buyer whose vetting
flips (an order matures, a later line makes one pending again) re-derives all that buyer's orders,
O(Σ k over their groups); τ passing a maturity or a cap crossing costs the same as the event that
would cause it, plus O(log n) for the heap. Heaps are cleaned lazily and rebuilt when stale entries
outnumber the live ones, so memory stays O(orders): one ``_Order`` per order (its lines' buyer,
creator, latest time, amount, brands; its refund sum and counts), one ``_Group`` per (seller,
buyer), one ``_Seller`` per seller, the first engagement per (user, creator) pair. Measured
(tracemalloc, CPython 3.11, 100 k one-line orders each its own creator and brand group): ≈ 1.5 kB
per order. Time: ≈ 4 µs per event replaying the simulator's ``default`` log (1.46 M commerce and
engagement events), ≈ 12 µs for a late complaint with its re-scoring; a brushing buyer's k-th order
with one seller costs O(k) (4 000 such orders: 0.75 s in all) — the groups' sums could be kept
incrementally if that matters.

**No resume from a build (yet).** ``seller_ledger`` stores per (seller, order) the refunded fraction,
not the refunded amount (lost when clipped at 1), nor the pair's first engagement time: a later line
or refund of an order the build saw could not be applied exactly. So :meth:`from_events` replays the
event log (orders, refunds, complaints and engagement events are all it reads).
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from trustecon.trust.decay import DAY_SECONDS, to_seconds
from trustecon.trust.evidence import ENGAGEMENT
from trustecon.trust.reliability import SellerReliability

__all__ = ["OnlineReliability"]

_LN2 = 0.6931471805599453  # the batch's constant, so decays agree to the last bits where they can
_ENGAGE = frozenset(ENGAGEMENT)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_OUTCOMES = ("kept", "refunded", "complained", "pending")
_KINDS = ("creator", "brand")

GroupKey = tuple[str, int, int | None]  # (seller_kind, seller_id, buyer_id or None)
SCHEMA = pa.schema([
    ("seller_id", pa.int64()), ("seller_kind", pa.string()), ("reliability", pa.float64()),
    ("confidence", pa.float64()), ("alpha", pa.float64()), ("beta", pa.float64()), ("orders", pa.int64()),
    ("kept", pa.int64()), ("refunded", pa.int64()), ("complained", pa.int64()), ("pending", pa.int64()),
    ("raw_kept_rate", pa.float64()), ("as_of", pa.timestamp("us", tz="UTC")),
])


class _Order:
    """One order_id: what its events say (lines, refunds, complaints) and what it last contributed."""

    __slots__ = ("buyer", "creator", "t", "amount", "brands", "lines", "refunded", "n_ref", "n_comp",
                 "reg", "groups", "a", "c", "b", "outcome", "queued")

    def __init__(self) -> None:
        self.buyer: int | None = None  # min user_id of its lines (the batch's rule)
        self.creator: int | None = None  # min creator_id of its lines
        self.t = -math.inf  # its latest line: when it was complete
        self.amount = 0.0
        self.brands: tuple[int, ...] = ()  # distinct; a tuple (not a set): most orders have one brand
        self.lines = 0
        self.refunded = 0.0
        self.n_ref = 0
        self.n_comp = 0
        self.reg: tuple[int | None, int | None, bool] | None = None  # (buyer, creator, matured) as indexed
        self.groups: tuple[GroupKey, ...] = ()  # the groups it is a member of
        self.a = self.c = self.b = 0.0  # uncapped a, c at t_ref; buyer weight
        self.outcome = ""
        self.queued: float | None = None  # the time of its live maturity-heap entry


class _Group:
    """One (seller, buyer) vote: its orders and what it last registered with its seller."""

    __slots__ = ("oids", "val_a", "val_c", "capped_a", "capped_c", "until_a", "until_c")

    def __init__(self) -> None:
        self.oids: list[int] = []  # a list, not a set: k is small and regrouping is O(k) anyway
        self.val_a = self.val_c = 0.0  # what it registered: its cap if capped, else its sum at t_ref
        self.capped_a = self.capped_c = False
        self.until_a: float | None = None  # τ* of its live cap-heap entries (capped sides only)
        self.until_c: float | None = None


class _Seller:
    __slots__ = ("unc_a", "cap_a", "unc_c", "cap_c", "counts", "n_groups")

    def __init__(self) -> None:
        self.unc_a = self.cap_a = self.unc_c = self.cap_c = 0.0
        self.counts = dict.fromkeys(_OUTCOMES, 0)
        self.n_groups = 0


class OnlineReliability:
    """Incremental :class:`SellerReliability` (same parameters): :meth:`update` with events in any
    order, :meth:`score` one seller, :meth:`table` all of them (the batch's ``seller_reliability``)."""

    def __init__(self, **params: Any) -> None:
        self.model = SellerReliability(**params)  # validates the names like the batch does
        m = self.model
        if not m.half_life_days > 0 or m.maturity_days < 0:
            raise ValueError(f"half_life_days must be > 0 and maturity_days ≥ 0 (got {m.half_life_days}, "
                             f"{m.maturity_days})")
        self._h = m.half_life_days * DAY_SECONDS
        self._mature = m.maturity_days * DAY_SECONDS
        self._now: dt.datetime | None = None
        self._ref = -math.inf  # to_seconds(self._now)
        self._t_ref: float | None = None
        self._orders: dict[int, _Order] = {}
        self._groups: dict[GroupKey, _Group] = {}
        self._sellers: dict[tuple[str, int], _Seller] = {}
        self._first: dict[tuple[int, int], float] = {}  # first engagement per (user, creator)
        # Orders by buyer (for vetting flips) and by (buyer, creator) (for a first engagement); lists,
        # re-indexed only when an order's owner moves (rare), so removal by scan is fine.
        self._by_buyer: dict[int, list[int]] = {}
        self._by_pair: dict[tuple[int, int], list[int]] = {}
        self._vet: dict[int, dict[int, int]] = {}  # buyer → creator → matured orders
        self._mheap: list[tuple[float, int]] = []  # (t_order, order_id) of pending orders
        # (τ*, sequence, group) of capped groups; the sequence breaks ties (a key may hold None)
        self._cheap: list[tuple[float, int, GroupKey]] = []
        self._seq = 0
        self._dirty: set[int] = set()
        self.events_seen = 0

    @classmethod
    def from_events(cls, events: pa.Table | Iterable[Mapping[str, Any]], as_of: dt.datetime | None = None,
                    **params: Any) -> OnlineReliability:
        """Replay an event log (see the module docstring for why not a build's tables)."""
        online = cls(**params).update(events)
        if as_of is not None:
            online.advance(as_of)
        return online

    # ------------------------------------------------------------------ updates
    def update(self, events: pa.Table | Iterable[Mapping[str, Any]]) -> OnlineReliability:
        """Apply a micro-batch (an Arrow table or dicts with the event schema's fields), any order."""
        rows = events.to_pylist() if isinstance(events, pa.Table) else events
        for i, row in enumerate(rows):
            self._apply(row, i)
        self._settle()
        return self

    def update_one(self, row: Mapping[str, Any]) -> OnlineReliability:
        """Apply one event; the scores reflect it at once."""
        return self.update((row,))

    def advance(self, as_of: dt.datetime) -> OnlineReliability:
        """Let time pass to ``as_of`` (≥ the clock): orders mature, decay and caps move."""
        when = _as_utc(as_of)
        if self._now is not None and when < self._now:
            raise ValueError(f"as_of {when.isoformat()} is before the state's clock {self._now.isoformat()} "
                             "(the latest event or as_of seen): time only moves forward")
        self._tick(when)
        self._settle()
        return self

    def _apply(self, row: Mapping[str, Any], i: int) -> None:
        kind, ts = row.get("kind"), row.get("ts")
        if not isinstance(kind, str) or ts is None:
            raise ValueError(f"event {i} of the batch: needs a 'kind' (string) and a 'ts' (got {kind!r}, {ts!r})")
        when = _as_utc(ts) if isinstance(ts, dt.datetime) else _EPOCH + dt.timedelta(seconds=float(ts))
        t = to_seconds(when)
        self.events_seen += 1
        self._tick(when)
        if self._t_ref is None:
            self._t_ref = t
        u, c, oid = row.get("user_id"), row.get("creator_id"), row.get("order_id")
        amount = float(row.get("amount") or 0.0)
        if kind in ("order", "refund", "complaint") and oid is not None:
            o = self._orders.get(oid)
            if o is None:
                o = self._orders[oid] = _Order()
            if kind == "order":
                o.lines += 1
                o.buyer, o.creator = _min(o.buyer, u), _min(o.creator, c)
                o.t = max(o.t, t)
                o.amount += amount
                if row.get("brand_id") is not None and row["brand_id"] not in o.brands:
                    o.brands = (*o.brands, row["brand_id"])
            elif kind == "refund":
                o.refunded += amount
                o.n_ref += 1
            else:
                o.n_comp += 1
            self._dirty.add(oid)
        elif kind in _ENGAGE and u is not None and c is not None:
            first = self._first.get((u, c))
            if first is None or t < first:
                self._first[(u, c)] = t
                self._dirty.update(self._by_pair.get((u, c), ()))

    def _tick(self, when: dt.datetime) -> None:
        if self._now is None or when > self._now:
            self._now, self._ref = when, to_seconds(when)

    # ------------------------------------------------------------------ settling
    def _settle(self) -> None:
        """Bring every order and group up to date with the events and the clock (three phases:
        structure and vetting counts, then orders' a/c, then each touched group once)."""
        if self._t_ref is None:
            return
        mature_s = self._ref - self._mature  # the batch's expression: the same boundary to the bit
        groups_dirty: set[GroupKey] = set()
        while self._mheap and self._mheap[0][0] <= mature_s:
            t, oid = heapq.heappop(self._mheap)
            o = self._orders.get(oid)
            if o is not None and o.queued == t:
                o.queued = None
                self._dirty.add(oid)
        while self._cheap and self._cheap[0][0] <= self._ref:
            u, _, key = heapq.heappop(self._cheap)
            g = self._groups.get(key)
            if g is not None and u in (g.until_a, g.until_c):
                groups_dirty.add(key)
        dirty, self._dirty = self._dirty, set()
        before: dict[int, bool] = {}
        for oid in dirty:
            self._restructure(oid, mature_s, before)
        for buyer, was in before.items():
            if self._vetted(buyer) != was:  # a vetting flip reweighs the buyer's orders with every seller
                dirty.update(self._by_buyer.get(buyer, ()))
        for oid in dirty:
            self._rederive(oid, groups_dirty)
        for key in groups_dirty:
            self._regroup(key)
        self._compact()

    def _vetted(self, buyer: int | None) -> bool:
        n = len(self._vet.get(buyer, ())) if buyer is not None else 0
        return n > 0 and n >= self.model.vetted_min_sellers

    def _restructure(self, oid: int, mature_s: float, before: dict[int, bool]) -> None:
        """Re-index an order under (buyer, creator, matured) and queue its maturity if pending."""
        o = self._orders[oid]
        matured = o.t <= mature_s
        new = (o.buyer, o.creator, matured) if o.lines else None
        old = o.reg
        if new != old:
            owner_moved = (old and old[:2]) != (new and new[:2])
            for reg, sign in ((old, -1), (new, 1)):
                if reg is None:
                    continue
                b, c, m = reg
                if b is None:
                    continue
                if owner_moved:
                    _move(self._by_buyer, b, oid, sign)
                    if c is not None:
                        _move(self._by_pair, (b, c), oid, sign)
                if c is not None and m:  # a matured order counts toward its buyer's vetting
                    if b not in before:
                        before[b] = self._vetted(b)
                    per = self._vet.setdefault(b, {})
                    per[c] = per.get(c, 0) + sign
                    if not per[c]:
                        del per[c]
                    if not per:
                        del self._vet[b]
            o.reg = new
        if o.lines and not matured and o.queued != o.t:
            o.queued = o.t
            heapq.heappush(self._mheap, (o.t, oid))

    def _rederive(self, oid: int, groups_dirty: set[GroupKey]) -> None:
        """The order's weight, a, c (at t_ref) and outcome as of the clock; move its seller counts."""
        o, m = self._orders[oid], self.model
        old_groups, old_outcome = o.groups, o.outcome
        if o.reg is None:
            new_groups: tuple[GroupKey, ...] = ()
        else:
            matured = o.reg[2]
            first = self._first.get((o.buyer, o.creator)) if o.buyer is not None and o.creator is not None else None
            engaged = first is not None and first <= o.t
            o.b = 1.0 if self._vetted(o.buyer) or engaged else m.unvetted_weight
            f = 0.0
            if o.n_ref:
                f = min(o.refunded / o.amount, 1.0) if o.amount > 0 else 1.0
            complained = o.n_comp > 0
            assert self._t_ref is not None
            bd = o.b * math.exp((o.t - self._t_ref) / self._h * _LN2)
            o.a = bd * (1.0 - f) if matured and not complained else 0.0
            o.c = bd * (f * m.refund_weight + (m.complaint_weight if complained else 0.0))
            o.outcome = ("complained" if complained else "refunded" if f > 0 else "kept" if matured else "pending")
            sellers = ([("creator", o.creator)] if o.creator is not None else []) + [("brand", b) for b in o.brands]
            new_groups = tuple((k, s, o.buyer) for k, s in sellers)
        for key in old_groups:
            self._sellers[key[:2]].counts[old_outcome] -= 1
            if key not in new_groups:
                self._groups[key].oids.remove(oid)
        for key in new_groups:
            s = self._sellers.get(key[:2])
            if s is None:
                s = self._sellers[key[:2]] = _Seller()
            s.counts[o.outcome] += 1
            if key not in old_groups:
                g = self._groups.get(key)
                if g is None:
                    g = self._groups[key] = _Group()
                    s.n_groups += 1
                g.oids.append(oid)
        o.groups = new_groups
        groups_dirty.update(old_groups)
        groups_dirty.update(new_groups)

    def _regroup(self, key: GroupKey) -> None:
        """Recompute one (seller, buyer) group's capped sums from its orders (O(k)) at the clock."""
        g, s = self._groups.get(key), self._sellers[key[:2]]
        if g is None:
            return
        for capped, v, side in ((g.capped_a, g.val_a, "a"), (g.capped_c, g.val_c, "c")):
            attr = ("cap_" if capped else "unc_") + side
            setattr(s, attr, getattr(s, attr) - v)
        if not g.oids:
            del self._groups[key]
            s.n_groups -= 1
            if not s.n_groups:  # no order left: no row (and no float residue carried over)
                del self._sellers[key[:2]]
            return
        orders = [self._orders[i] for i in g.oids]
        big_b = max(o.b for o in orders)
        worst = big_b * (self.model.refund_weight + self.model.complaint_weight)
        sa, sc = sum(o.a for o in orders), sum(o.c for o in orders)
        g.capped_a, g.val_a, g.until_a = self._register(s, key, "a", sa, big_b)
        g.capped_c, g.val_c, g.until_c = self._register(s, key, "c", sc, worst)

    def _register(self, s: _Seller, key: GroupKey, side: str, total: float,
                  cap: float) -> tuple[bool, float, float | None]:
        """Count min(total·F, cap) for the seller: the cap while τ < τ*, else ``total`` at t_ref."""
        assert self._t_ref is not None
        if total <= 0:
            until = -math.inf
        elif cap <= 0:
            until = math.inf
        else:
            until = self._t_ref + self._h * math.log2(total / cap)
        capped = self._ref < until
        attr = ("cap_" if capped else "unc_") + side
        v = cap if capped else total
        setattr(s, attr, getattr(s, attr) + v)
        if capped and math.isfinite(until):
            self._seq += 1
            heapq.heappush(self._cheap, (until, self._seq, key))
            return True, v, until
        return capped, v, None

    def _compact(self) -> None:
        """Rebuild a heap once its stale entries outnumber the live ones (memory stays O(state))."""
        if len(self._mheap) > 2 * len(self._orders) + 1024:
            self._mheap = [(o.queued, i) for i, o in self._orders.items() if o.queued is not None]
            heapq.heapify(self._mheap)
        if len(self._cheap) > 4 * len(self._groups) + 1024:
            live = [(u, k) for k, g in self._groups.items() for u in (g.until_a, g.until_c) if u is not None]
            self._cheap = [(u, self._seq + 1 + j, k) for j, (u, k) in enumerate(live)]
            self._seq += len(live)
            heapq.heapify(self._cheap)

    # ------------------------------------------------------------------ reading
    def score(self, seller_id: int, seller_kind: str = "creator", as_of: dt.datetime | None = None) -> dict[str, Any]:
        """One seller as a ``seller_reliability`` row (the prior, 0 orders, for a seller never seen)."""
        if seller_kind not in _KINDS:
            raise ValueError(f"seller_kind must be one of {_KINDS}, got {seller_kind!r}")
        if as_of is not None:
            self.advance(as_of)
        return self._row(seller_kind, seller_id, self._sellers.get((seller_kind, seller_id)) or _Seller())

    def table(self, as_of: dt.datetime | None = None) -> pa.Table:
        """Every seller as of the clock (or ``as_of`` ≥ it): ``SellerReliability.transform(...)[0]``'s
        columns, sorted by (seller_kind, seller_id); empty before any event."""
        if as_of is not None:
            self.advance(as_of)
        rows = [self._row(k, i, s) for (k, i), s in sorted(self._sellers.items())]
        return pa.Table.from_pylist(rows, schema=SCHEMA)

    def _row(self, kind: str, seller_id: int, s: _Seller) -> dict[str, Any]:
        m = self.model
        f = 0.0 if self._t_ref is None else math.exp((self._t_ref - self._ref) / self._h * _LN2)
        alpha = m.prior_alpha + s.unc_a * f + s.cap_a
        beta = m.prior_beta + s.unc_c * f + s.cap_c
        mass = alpha + beta - m.prior_alpha - m.prior_beta
        n = s.counts
        settled = n["kept"] + n["refunded"] + n["complained"]
        return {
            "seller_id": seller_id, "seller_kind": kind, "reliability": alpha / (alpha + beta),
            "confidence": mass / (mass + m.prior_weight), "alpha": alpha, "beta": beta,
            "orders": sum(n.values()), **n, "raw_kept_rate": n["kept"] / settled if settled else None,
            "as_of": self._now,
        }

    def __len__(self) -> int:
        return len(self._sellers)


def _as_utc(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.UTC)


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _move(index: dict[Any, list[int]], key: Any, oid: int, sign: int) -> None:
    """Add (sign 1) or remove (sign −1) ``oid`` under ``key``; empty lists are dropped."""
    if sign > 0:
        index.setdefault(key, []).append(oid)
        return
    ids = index[key]
    ids.remove(oid)
    if not ids:
        del index[key]
