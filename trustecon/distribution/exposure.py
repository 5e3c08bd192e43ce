"""Exposure control across all feeds of a period: keep the creators' exposure Gini under a cap.

The article's "inclusive traffic" (普惠): no creator's share of exposure grows without bound, so
ordinary creators get seen. We enforce it as a per-creator **exposure quota** ``q`` in a re-ranking of
the period's candidate (user, creator, score) triples:

1. every user takes her top-``k`` remaining candidates by score;
2. every creator above quota keeps only her ``q`` highest-scoring assignments; the dropped
   (user, creator) candidates are removed, and we go back to 1 until no creator is above quota.

Each creator keeps the users who value her most, and each user refills her feed from her next-best
candidates, so relevance is lost only where the quota binds. ``q`` is found by bisection: the
largest quota whose resulting Gini is under the cap (largest quota = least relevance lost). The
relevance cost is ``1 - Σ score(kept) / Σ score(unconstrained top-k)``.

Why hand-written: this is the trust economy's own fairness rule (a quota from a Gini cap), not a
generic ranking primitive; every step is vectorised numpy (lexsort + group ranks), so 100k users with
~100 candidates each take seconds. A fair-ranking library (e.g. FA*IR) targets group-proportional
top-k lists per query, not a cap on a distribution across a whole period.

Gini (Gini 1912; the discrete form of Damgaard & Weiner 2000): for exposures ``x`` sorted ascending
over the ``n`` creators of the period (zero exposure included),
``G = Σ_i (2i - n - 1) x_i / (n Σ x)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trustecon.kpis import gini as kpi_gini

__all__ = ["ExposureResult", "assign_with_capacity", "cap_exposure", "gini", "topk_per_user"]


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative exposures ``x``: the KPI layer's definition
    (:func:`trustecon.kpis.gini`, one formula for the report and for the cap), except that an empty or
    all-zero vector counts as 0 here: for the cap, no exposure is nothing unequal to correct."""
    g = kpi_gini(np.asarray(x, dtype=np.float64).ravel())
    return 0.0 if np.isnan(g) else g


def _group_rank(groups: np.ndarray, scores: np.ndarray, tiebreak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based rank of each row within its group by descending score; returns (rank, order)."""
    order = np.lexsort((tiebreak, -scores, groups))
    g = groups[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    counts = np.diff(np.r_[start, g.size])
    rank_sorted = np.arange(g.size) - np.repeat(start, counts)
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    return rank, order


def topk_per_user(
    users: np.ndarray, scores: np.ndarray, k: int | np.ndarray, alive: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of each user's top-``k`` rows by score among ``alive`` rows (ties: row order);
    ``k`` may be given per row (the row's user's slots)."""
    n = users.size
    alive = np.ones(n, dtype=bool) if alive is None else alive
    idx = np.flatnonzero(alive)
    sel = np.zeros(n, dtype=bool)
    if idx.size == 0:
        return sel
    rank, _ = _group_rank(users[idx], scores[idx], idx)
    kk = k if np.ndim(k) == 0 else np.asarray(k)[idx]
    sel[idx[rank < kk]] = True
    return sel


class _Segments:
    """Rows pre-sorted once by (group, descending score), so that "rank among the rows still in play"
    is a cumulative sum per group: O(n) per call instead of a sort (the quota search calls it often)."""

    def __init__(self, groups: np.ndarray, scores: np.ndarray):
        self.order = np.lexsort((np.arange(groups.size), -scores, groups))
        g = groups[self.order]
        starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1] if g.size else np.zeros(0, dtype=np.int64)
        self.seg_start = np.repeat(starts, np.diff(np.r_[starts, g.size]))

    def rank(self, alive: np.ndarray) -> np.ndarray:
        """1-based rank of each alive row within its group among alive rows (0 where not alive)."""
        a = alive[self.order].astype(np.int64)
        cs = np.cumsum(a)
        before = np.where(self.seg_start > 0, cs[np.maximum(self.seg_start - 1, 0)], 0)
        r_sorted = (cs - before) * a
        out = np.empty_like(r_sorted)
        out[self.order] = r_sorted
        return out


def _assign_with_quota(
    by_user: _Segments,
    by_creator: _Segments,
    creators: np.ndarray,
    scores: np.ndarray,
    k: int | np.ndarray,
    quota: int | np.ndarray,
    max_iter: int = 200,
) -> np.ndarray:
    """Top-k per user subject to each creator being shown at most ``quota`` times (see module doc).

    ``k`` and ``quota`` may also be given per row (the row's user's slots, the row's creator's room)."""
    alive = np.ones(by_user.order.size, dtype=bool)
    thr = np.full(int(creators.max(initial=-1)) + 1, -np.inf)
    for _ in range(max_iter):
        ru = by_user.rank(alive)
        sel = (ru > 0) & (ru <= k)
        rc = by_creator.rank(sel)
        over = rc > quota
        if not over.any():
            return sel
        alive &= ~over
        # Pruning: a row once selected stays selected until its creator drops it, and rows only
        # leave play, so a full creator's quota-th score only rises; her rows below it are out for good.
        at_q = rc == quota
        thr[creators[at_q]] = np.maximum(thr[creators[at_q]], scores[at_q])
        alive &= ~(~sel & (scores < thr[creators]))
    # Not settled after max_iter rounds (rare): truncate every creator to its quota directly.
    ru = by_user.rank(alive)
    sel = (ru > 0) & (ru <= k)
    return sel & (by_creator.rank(sel) <= quota)


def assign_with_capacity(
    users: np.ndarray, creators: np.ndarray, scores: np.ndarray, k: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """Mask of rows filling each user's ``k`` (per row) best slots while each creator takes at most
    ``capacity`` (per row) more users — the refill of feeds the quota left short."""
    users = np.asarray(users, dtype=np.int64)
    creators = np.asarray(creators, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if users.size == 0:
        return np.zeros(0, dtype=bool)
    return _assign_with_quota(_Segments(users, scores), _Segments(creators, scores), creators, scores, k, capacity)


@dataclass(frozen=True)
class ExposureResult:
    """Outcome of :func:`cap_exposure`.

    ``selected``: mask over the input rows; ``quota``: the per-creator cap used (``inf`` if none was
    needed); ``gini_before``/``gini_after``: exposure Gini of the unconstrained and the capped
    selection over the creator universe; ``relevance_cost``: share of summed score lost;
    ``feasible``: whether the cap was met; ``min_gini``: the lowest Gini the quota search reached.
    """

    selected: np.ndarray
    quota: float
    gini_before: float
    gini_after: float
    relevance_cost: float
    feasible: bool
    min_gini: float
    #: rows added by the ``refill`` callback for the chosen quota (users, creators, scores), if any.
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def cap_exposure(
    users: np.ndarray,
    creators: np.ndarray,
    scores: np.ndarray,
    k: int | np.ndarray,
    gini_cap: float,
    n_creators: int | None = None,
    base_exposure: np.ndarray | None = None,
    refill: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    creator_weight: np.ndarray | None = None,
) -> ExposureResult:
    """Choose up to ``k`` candidates per user (``k`` scalar or per row) so that creator-exposure
    Gini ≤ ``gini_cap``.

    ``users``/``creators`` are dense 0-based indices (one row per (user, creator) candidate, no
    repeats), ``scores`` their relevance (higher is better, non-negative for the relevance cost).
    The Gini runs over ``n_creators`` creators (default ``creators.max() + 1``), zero exposure
    included; ``base_exposure`` (per creator) is exposure already given elsewhere in the period
    (e.g. exploration slots): it counts in the Gini but not against the quota. When no quota
    reaches the cap (e.g. most creators have no candidates at all), the
    most even selection found is returned with ``feasible=False``.

    ``refill(selected, quota)`` (optional) returns extra ``(users, creators, scores)`` rows that fill
    the slots the quota left empty from outside these candidates (each creator under its quota). The
    quota is then chosen on the Gini *after* the refill: a quota chosen before it is stricter than
    the cap needs, because refilled slots go to creators under quota and lower the Gini further.

    ``creator_weight`` (per creator, default 1): the exposure one slot of the creator gives (e.g. the
    expected impressions of a slot: a followed creator with several unseen items shows them all).
    The Gini is taken over the weighted exposures; the quota still counts slots.
    """
    users = np.asarray(users, dtype=np.int64)
    creators = np.asarray(creators, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    m = int(n_creators if n_creators is not None else (creators.max() + 1 if creators.size else 0))
    offset = np.zeros(m) if base_exposure is None else np.asarray(base_exposure, dtype=np.float64)
    cw = np.ones(m) if creator_weight is None else np.asarray(creator_weight, dtype=np.float64)
    offset = offset * cw

    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    def exposure_gini(sel: np.ndarray, extra: tuple[np.ndarray, np.ndarray, np.ndarray] = empty) -> float:
        return gini((np.bincount(creators[sel], minlength=m) + np.bincount(extra[1], minlength=m)) * cw + offset)

    base = topk_per_user(users, scores, k)
    g0 = exposure_gini(base)
    base_rel = float(scores[base].sum())

    def cost(sel: np.ndarray, extra: tuple[np.ndarray, np.ndarray, np.ndarray] = empty) -> float:
        return 0.0 if base_rel <= 0 else max(0.0, float(1.0 - (scores[sel].sum() + extra[2].sum()) / base_rel))

    if g0 <= gini_cap or creators.size == 0:
        return ExposureResult(base, float("inf"), g0, g0, 0.0, True, g0)
    # Quota bounds: 1 (most even) up to the largest current exposure.
    lo = 1
    hi = int(np.bincount(creators[base], minlength=m).max())
    best_sel, best_q, best_g = None, float("inf"), g0
    tried: dict[int, tuple[np.ndarray, float]] = {}
    extras: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    by_user, by_creator = _Segments(users, scores), _Segments(creators, scores)

    def run(q: int) -> tuple[np.ndarray, float]:
        if q not in tried:
            sel = _assign_with_quota(by_user, by_creator, creators, scores, k, q)
            extras[q] = refill(sel, q) if refill is not None else empty
            tried[q] = (sel, exposure_gini(sel, extras[q]))
        return tried[q]

    # Bisection for the largest quota that meets the cap (Gini falls, roughly monotonically, with q).
    a, b = lo, hi - 1
    while a <= b:
        q = (a + b) // 2
        sel, g = run(q)
        if g <= gini_cap:
            best_sel, best_q, best_g = sel, q, g
            a = q + 1
        else:
            b = q - 1
    if best_sel is None:
        # Gini is not strictly monotone in the quota, so bisection can step over a quota that meets
        # the cap: scan the quotas downward (all of them on small periods, a geometric grid on large).
        qs = range(hi - 1, 0, -1) if hi <= 257 else sorted({int(x) for x in np.geomspace(1, hi - 1, 64)}, reverse=True)
        for q in qs:
            sel, g = run(q)
            if g <= gini_cap:
                best_sel, best_q, best_g = sel, q, g
                break
    if best_sel is not None:
        ex = extras[int(best_q)]
        return ExposureResult(best_sel, float(best_q), g0, best_g, cost(best_sel, ex), True, best_g, ex)
    # Infeasible at every quota tried: return the most even selection seen.
    if not tried:
        run(lo)
    q_min, (sel_min, g_min) = min(tried.items(), key=lambda t: t[1][1])
    if g_min > g0:
        return ExposureResult(base, float("inf"), g0, g0, 0.0, g0 <= gini_cap, g0)
    ex = extras[int(q_min)]
    return ExposureResult(sel_min, float(q_min), g0, g_min, cost(sel_min, ex), g_min <= gini_cap, g_min, ex)
