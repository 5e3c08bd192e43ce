"""Personalized PageRank kernels in memory: the fast path and its plain reference (DESIGN.md §5).

:func:`personalized_pagerank` (normalised block Gauss–Seidel on CSR parts built by a counting sort,
multiplied on threads) is what :class:`~trustecon.trust.credibility.CreatorCredibility` uses;
:func:`personalized_pagerank_reference` is the textbook power iteration on one scipy matrix, kept to
test the fast path against (both meet the same known answers: networkx, igraph PRPACK, hand-computed
graphs). Both solve ``r = d · Cᵀ r + d · (Σ_{dangling v} r_v) · p + (1 − d) · p`` with ``C`` the
out-strength-normalised weights (see :mod:`trustecon.trust.credibility` for the model).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

__all__ = ["GS_BLOCKS", "PARALLEL_MIN_EDGES", "personalized_pagerank", "personalized_pagerank_reference"]


def _prepare(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    personalization: dict[int, float] | np.ndarray,
    nodes: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(nodes, i, j, w, p)``: sorted node ids, each edge's source and destination positions, its
    weight (negative weights count as 0, i.e. no edge), and the normalised teleport vector ``p``."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    w = np.asarray(weight, dtype=float)
    if len(w) and w.min() < 0:
        w = np.maximum(w, 0.0)
    if isinstance(personalization, dict):
        pkeys = np.fromiter(personalization.keys(), dtype=np.int64, count=len(personalization))
        pvals = np.fromiter(personalization.values(), dtype=float, count=len(personalization))
    else:
        pkeys, pvals = None, np.asarray(personalization, dtype=float)
    m = len(src)
    if nodes is None:
        parts = [src, dst] + ([pkeys] if pkeys is not None else [])
        nodes, inv = np.unique(np.concatenate(parts), return_inverse=True)
        i, j = inv[:m], inv[m : 2 * m]
    else:
        nodes = np.asarray(nodes, dtype=np.int64)
        i, j = _positions(nodes, src), _positions(nodes, dst)
    p = np.zeros(len(nodes))
    if len(nodes):
        if pkeys is not None:
            p[_positions(nodes, pkeys)] = pvals
        else:
            p[:] = pvals
        if p.sum() <= 0:
            raise ValueError("the personalization vector (seeds) has no mass")
        p /= p.sum()
    return nodes, i, j, w, p


def personalized_pagerank(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    personalization: dict[int, float] | np.ndarray,
    *,
    nodes: np.ndarray | None = None,
    damping: float = 0.85,
    tol: float = 1e-12,
    max_iter: int = 1000,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Personalized PageRank by normalised block Gauss–Seidel sweeps on scipy CSR blocks (the fast path).

    ``src, dst, weight``: edges in any id space (duplicates summed; weights ≥ 0). ``personalization``:
    ``{node: mass}`` (normalised here) or an array aligned with ``nodes``. Returns ``(nodes, r,
    n_iter)`` with ``nodes`` sorted and ``r`` summing to 1; ``n_iter`` counts sweeps (each touches
    every edge once, like one power step). Stops when a sweep changes ``r`` by less than ``tol`` in
    L1 (bounded from above: the sweep's change plus the normalisation's ``|1 − Σ r|``).

    The fixed point is that of the power iteration ``r = d · Wᵀ (r / out) + (d · Σ_{dangling} r +
    1 − d) · p`` (``W`` the raw weights, ``out`` the out-strengths). A sweep updates the nodes in
    :data:`GS_BLOCKS` contiguous blocks, each block from the values the previous blocks of the same
    sweep just produced (block Gauss–Seidel, the splitting PRPACK and Arasu et al. 2002 use for
    PageRank), then rescales ``r`` to sum to 1: without the rescaling the total mass converges only
    at rate ``d`` (measured: 60+ sweeps), with it 16–17 sweeps against 24 power steps on 1 M nodes /
    10 M edges, and closer to PRPACK (docs/evaluation/trust.md §6). The matrix holds the weights as
    given and is built by a counting sort (:func:`_grouped_csr`), so duplicate edges stay separate
    entries of a row, which the mat-vec sums. :func:`personalized_pagerank_reference` is the plain
    power iteration on one matrix, tested to agree.
    """
    nodes, i, j, w, p = _prepare(src, dst, weight, personalization, nodes)
    n = len(nodes)
    if n == 0:
        return nodes, np.empty(0), 0
    out = np.bincount(i, weights=w, minlength=n)
    dangling = np.flatnonzero(out == 0)
    inv_out = np.zeros(n)
    np.divide(1.0, out, out=inv_out, where=out > 0)
    WT = _Transition(i, j, w, n)
    r = p.copy()
    x = r * inv_out  # what each node passes on per unit of edge weight
    # The seeds of each block (p is sparse: the teleport touches only them).
    seeds = np.flatnonzero(p)
    cuts = np.searchsorted(seeds, [hi for _, hi in WT.bounds])
    at = [(seeds[a:b] - lo, p[seeds[a:b]]) for (lo, _), a, b in zip(WT.bounds, [0, *cuts[:-1]], cuts, strict=True)]
    it = 0
    try:
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
            c = damping * (r[dangling].sum() if len(dangling) else 0.0) + (1.0 - damping)
            delta = 0.0
            for b, (lo, hi) in enumerate(WT.bounds):
                seg = WT.rows(b, x)
                seg *= damping
                seg[at[b][0]] += c * at[b][1]
                delta += np.abs(seg - r[lo:hi]).sum()
                r[lo:hi] = seg
                x[lo:hi] = seg * inv_out[lo:hi]
            total = r.sum()
            r /= total
            x /= total
            # ‖r/Σ − r_old‖₁ ≤ ‖r − r_old‖₁ + |1 − Σ|: never stops before the exact change is below tol.
            if delta + abs(1.0 - total) < tol:
                break
    finally:
        WT.close()
    return nodes, r, it


def personalized_pagerank_reference(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    personalization: dict[int, float] | np.ndarray,
    *,
    nodes: np.ndarray | None = None,
    damping: float = 0.85,
    tol: float = 1e-12,
    max_iter: int = 1000,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The slow, obviously correct form of :func:`personalized_pagerank` (same arguments and stopping
    rule): one column-stochastic CSR matrix ``MT[j, i] = w_ij / out_i`` from scipy's public COO → CSR
    conversion (which sorts each row and sums duplicate edges), and ``r ← d · MT r + (d · Σ_{dangling}
    r + 1 − d) · p``. Kept to test the fast path against."""
    nodes, i, j, w, p = _prepare(src, dst, weight, personalization, nodes)
    n = len(nodes)
    if n == 0:
        return nodes, np.empty(0), 0
    keep = w > 0
    i, j, w = i[keep], j[keep], w[keep]
    out = np.bincount(i, weights=w, minlength=n)
    dangling = out == 0
    MT = sp.csr_matrix((w / out[i], (j, i)), shape=(n, n))
    r = p.copy()
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        new = damping * (MT @ r) + (damping * r[dangling].sum() + (1.0 - damping)) * p
        delta = np.abs(new - r).sum()
        r = new
        if delta < tol:
            break
    return nodes, r, it


#: Edges from which the transition matrix is built and multiplied in blocks on threads.
PARALLEL_MIN_EDGES = 2_000_000
#: Node blocks per Gauss–Seidel sweep (measured on 1 M nodes / 10 M edges: 2 → 20 sweeps, 8 → 17,
#: 32 → 16; each block is one mat-vec call per thread, so more blocks cost call overhead).
GS_BLOCKS = 16

try:  # scipy's C counting sort (COO → CSR without sorting rows or summing duplicates)
    from scipy.sparse._sparsetools import coo_tocsr as _coo_tocsr
except ImportError:  # a scipy without it: the public conversion (sorts rows, slower; tested by monkeypatch)
    _coo_tocsr = None


def _grouped_csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> sp.csr_matrix:
    """An ``n × n`` CSR matrix with one entry per (row, col, val) triple, grouped by row by a counting
    sort (row counts → ``indptr`` by a cumulative sum, then one stable scatter: scipy's ``coo_tocsr``,
    O(nnz + n)). Rows are neither sorted nor de-duplicated — the mat-vec sums a row's entries whatever
    their order, so repeated edges add up as in a summed matrix (tested) — which is what makes it
    cheaper than ``csr_matrix((vals, (rows, cols)))``, whose per-row sort dominates on 10 M edges."""
    if _coo_tocsr is None:
        return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    idx = np.int32 if max(n, len(rows)) < np.iinfo(np.int32).max else np.int64
    r, c = rows.astype(idx, copy=False), cols.astype(idx, copy=False)
    indptr = np.empty(n + 1, idx)
    indices = np.empty(len(r), idx)
    data = np.empty(len(r), vals.dtype)
    _coo_tocsr(n, n, len(r), r, c, vals, indptr, indices, data)
    return sp.csr_matrix((data, indices, indptr), shape=(n, n))


class _Transition:
    """``Wᵀ`` (entry (j, i) = w_ij) as the sum of ``k`` CSR matrices, one per contiguous part of the
    edge list and per core, each built (counting sort) and multiplied on its own thread; each split
    by rows into the Gauss–Seidel node blocks ``bounds``.

    scipy's CSR build and mat-vec release the GIL, so on large graphs the parts run in parallel and a
    block's product is the sum of the parts' products (docs/evaluation/trust.md §6). Parts of the edge
    list, not of rows, need no partition of the edges first; a row's sum is then the sum of its parts'
    partial sums, equal to one matrix's up to rounding (tested within 1e-15). Below
    :data:`PARALLEL_MIN_EDGES` (or on one core): one matrix.
    """

    def __init__(self, i: np.ndarray, j: np.ndarray, w: np.ndarray, n: int, blocks: int | None = None):
        m = len(i)
        k = min(os.cpu_count() or 1, 8) if m >= PARALLEL_MIN_EDGES else 1
        nb = max(1, min(blocks or GS_BLOCKS, n))
        cuts = np.linspace(0, n, nb + 1).astype(np.int64)
        self.bounds = list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))
        e = np.linspace(0, m, k + 1).astype(np.int64)

        def part(t: int) -> list[sp.csr_matrix]:
            a = _grouped_csr(j[e[t] : e[t + 1]], i[e[t] : e[t + 1]], w[e[t] : e[t + 1]], n)
            return [_row_block(a, lo, hi) for lo, hi in self.bounds]

        self.pool = ThreadPoolExecutor(k) if k > 1 else None
        self.parts = list(self.pool.map(part, range(k))) if self.pool is not None else [part(0)]

    def rows(self, b: int, x: np.ndarray) -> np.ndarray:
        """``Wᵀ[lo:hi] @ x`` for node block ``b`` (a new array)."""
        if self.pool is None:
            return self.parts[0][b] @ x
        got = list(self.pool.map(lambda part: part[b] @ x, self.parts))
        out = got[0]
        for q in got[1:]:
            out += q
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _row_block(a: sp.csr_matrix, lo: int, hi: int) -> sp.csr_matrix:
    """Rows ``lo:hi`` of a CSR matrix (its arrays' slices; scipy copies a slice much smaller than its
    array, here on the part's own thread — measured half the time of ``a[lo:hi]``)."""
    s, e = int(a.indptr[lo]), int(a.indptr[hi])
    return sp.csr_matrix((a.data[s:e], a.indices[s:e], a.indptr[lo : hi + 1] - s), shape=(hi - lo, a.shape[1]))


def _positions(nodes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Index of each id in the sorted unique ``nodes``: arithmetic when the ids are a contiguous range
    (no lookups), else a binary search."""
    if len(nodes) and int(nodes[-1]) - int(nodes[0]) == len(nodes) - 1:
        return ids - nodes[0] if nodes[0] else ids
    return np.searchsorted(nodes, ids)
