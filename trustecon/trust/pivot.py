"""``build``'s in-memory path on DuckDB: the evidence pass's level 2 and the per-pair merge in numpy.

The engine path is :func:`~trustecon.trust.evidence.pair_pass` (level 1, :func:`kind_pass`, then a
pivot into one column per channel) → :func:`~trustecon.trust.evidence.evidence_sums` (outer join of
the small side sums, left join of the repurchase sums) → :meth:`PairTrust.transform` (the beta
score). On DuckDB, ``build`` runs level 1 on the engine and everything after it here, on the rows
level 1 returns (~2 per pair), because each of those steps is cheap arithmetic on arrays the process
already holds, while on the engine it is a round trip of every pair's twenty columns: in then out
again (measured in docs/evaluation/trust.md §6). The engine path stays the reference: the tests demand
the same table (bit for bit for the sums; within 1e-12 for the scores) on random logs, and Spark
always takes it.

Written by hand (not a dataframe library's group-by) because each step is one scatter or one
``ufunc.at`` on integer pair numbers that a hash factorisation (``pandas.factorize``) already gave.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import ibis
import numpy as np
import pyarrow as pa

from trustecon.trust.evidence import (
    _CHANNEL_OF,
    CHANNELS,
    DIRECT_KINDS,
    ENGAGED_CODES,
    KIND_CODE,
    NO_RATIO_VIEW,
    SIDE_CHANNELS,
    EvidenceConfig,
    kind_pass,
)

__all__ = ["PairArrays", "fetch_chunks", "hugepage_hints_off", "merge_side", "pair_pass_arrow", "pivot_kind_pass"]

Chunks = Sequence[Mapping[str, np.ndarray]]


@contextlib.contextmanager
def hugepage_hints_off() -> Iterator[None]:
    """numpy's huge-page hint switched off for the duration, then restored.

    On Linux numpy marks every allocation of 4 MB or more ``MADV_HUGEPAGE``. Where transparent huge
    pages are in ``madvise`` mode with ``defrag`` ``madvise`` (a common default, and this machine's),
    the first touch of such memory can stall on synchronous compaction instead of falling back to
    small pages (numpy issue #31590). The in-memory path allocates about half a gigabyte of
    short-lived arrays (the pivot's scatter target alone is 15 × 8 bytes per pair), so those stalls
    were a visible share of ``build``: the whole build took 3.30–3.68 s without the hint vs 3.62–4.27 s
    with it on 10.5 M events, idle, alternating runs (docs/evaluation/trust.md §6). numpy's documented
    switch, the ``NUMPY_MADVISE_HUGEPAGE`` environment variable, is read once at import, too late for
    a library; the runtime toggle is numpy's private ``_set_madvise_hugepage`` (present since 1.20),
    so this does nothing where it is missing."""
    switch = _madvise_switch()
    if switch is None:  # pragma: no cover - no such numpy
        yield
        return
    previous = switch(False)
    try:
        yield
    finally:
        switch(previous)


def _madvise_switch() -> Callable[[bool], bool] | None:
    """numpy's private ``_set_madvise_hugepage`` (numpy ≥ 2, then 1.x), or None where it is missing.
    Looked up on the module by name: numpy's stubs do not declare it."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            switch: Callable[[bool], bool] = importlib.import_module(module)._set_madvise_hugepage
        except (ImportError, AttributeError):  # pragma: no cover - numpy 1.x, or a numpy without it
            continue
        return switch
    return None


def fetch_chunks(con: ibis.BaseBackend, expr: ibis.expr.types.Table) -> list[dict[str, np.ndarray]]:
    """A result without nulls as numpy arrays, one dict per Arrow record batch (no concatenation: on
    DuckDB the conversion to Arrow runs on every core; joining its batches would copy every column)."""
    t = con.to_pyarrow(expr)
    return [{name: b.column(i).to_numpy() for i, name in enumerate(b.schema.names)} for b in t.to_batches()]


@dataclass
class PairArrays:
    """Per-pair columns in numpy, pairs numbered ``0..n-1``: ``user_id``, ``creator_id``, ``e`` (one
    row per direct channel code, then a view's unwatched share: ``e[code]``), ``n_events``,
    ``first_s``/``last_s``/``engaged_s`` (NaN where absent)."""

    user_id: np.ndarray
    creator_id: np.ndarray
    e: np.ndarray
    n_events: np.ndarray
    first_s: np.ndarray
    last_s: np.ndarray
    engaged_s: np.ndarray

    def __len__(self) -> int:
        return len(self.user_id)

    def channel(self, name: str) -> np.ndarray:
        """The decayed sum ``e_<name>`` of a channel of the evidence pass."""
        if name == "short_view":
            return self.e[NO_RATIO_VIEW + 1]
        return self.e[_CODE_OF_CHANNEL[name]]

    def to_arrow(self) -> pa.Table:
        """:func:`~trustecon.trust.evidence.pair_pass`'s table (null where the NaNs are)."""
        out: dict[str, pa.Array] = {"user_id": pa.array(self.user_id, pa.int64()),
                                    "creator_id": pa.array(self.creator_id, pa.int64())}
        for code, kind in enumerate(DIRECT_KINDS):
            out[f"e_{_CHANNEL_OF.get(kind, kind)}"] = pa.array(self.e[code])
        out["e_short_view"] = pa.array(self.e[NO_RATIO_VIEW + 1])
        out["n_events"] = pa.array(self.n_events, pa.int64())
        for name in ("first_s", "last_s", "engaged_s"):
            v = getattr(self, name)
            out[name] = pa.array(v, pa.float64(), mask=np.isnan(v))
        return pa.table(out)


_CODE_OF_CHANNEL = {_CHANNEL_OF.get(k, k): code for code, k in enumerate(DIRECT_KINDS)}
#: Channels with a row in :attr:`PairArrays.e`.
PASS_CHANNELS: tuple[str, ...] = tuple(c for c in CHANNELS if c not in SIDE_CHANNELS)


def _packable(*ids: np.ndarray) -> bool:
    """Every id in [0, 2³¹): a (user, creator) pair then packs into one int64 key ``u << 31 | c``."""
    return all(not len(x) or (x.min() >= 0 and x.max() < 2**31) for x in ids)


def _concat(chunks: Chunks, name: str, dtype: type = np.int64) -> np.ndarray:
    parts: list[np.ndarray] = [np.asarray(c[name], dtype=dtype) for c in chunks]
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def pivot_kind_pass(chunks: Chunks | Mapping[str, np.ndarray]) -> PairArrays:
    """Level 2 of :func:`~trustecon.trust.evidence.pair_pass` on :func:`kind_pass`'s rows: pairs
    numbered by a hash (``pandas.factorize`` of one int64 key per (user, creator)); each (pair, code)
    is one row, so a channel's sum is that row's ``sx`` (one scatter into a codes × pairs array) and
    the count, first and last times are ``add.at``/``minimum.at``/``maximum.at`` per pair — the same
    values bit for bit (a sum of one value and zeros is that value). On the engine, level 2 is
    eighteen aggregates over ~2 rows per pair, ≈ 0.8 raw passes of CPU on 10.5 M events; ordering the
    rows by pair for runs instead of hashing cost ≈ 0.3 (docs/evaluation/trust.md §6)."""
    import pandas as pd

    if isinstance(chunks, Mapping):
        chunks = [chunks]
    u, c = _concat(chunks, "user_id"), _concat(chunks, "creator_id")
    k = _concat(chunks, "_k", np.int8).astype(np.intp)
    if _packable(u, c):  # one key, decoded back by shifts
        g, keys = pd.factorize((u << 31) | c)
        uid, cid = keys >> 31, keys & (2**31 - 1)
    else:  # any int64 ids: number users and creators first (their product fits in an int64)
        iu, uu = pd.factorize(u)
        ic, cu = pd.factorize(c)
        g, keys = pd.factorize(iu.astype(np.int64) * len(cu) + ic)
        uid, cid = uu[keys // len(cu)], cu[keys % len(cu)]
    del u, c
    n = len(keys)
    # Row ``code`` of ``e``: that code's channel; the last row: a view's unwatched share. Flat indices
    # (a 2-D fancy index costs ten times more).
    e = np.zeros((NO_RATIO_VIEW + 2) * n)
    n_events = np.zeros(n, np.int64)
    first, last, engaged = np.full(n, np.inf), np.full(n, -np.inf), np.full(n, np.inf)
    is_engaged = np.isin(np.arange(NO_RATIO_VIEW + 1), ENGAGED_CODES)
    view = KIND_CODE["view"]
    lo = 0
    for ch in chunks:
        m = len(ch["sx"])
        gi, ki = g[lo:lo + m], k[lo:lo + m]
        lo += m
        e[ki * n + gi] = ch["sx"]
        v = ki == view
        e[(NO_RATIO_VIEW + 1) * n + gi[v]] = ch["sy"][v]
        evid = ki < NO_RATIO_VIEW
        np.add.at(n_events, gi[evid], ch["n"][evid])
        np.minimum.at(first, gi[evid], ch["t_first"][evid])
        np.maximum.at(last, gi[evid], ch["t_last"][evid])
        eg = is_engaged[ki]
        np.minimum.at(engaged, gi[eg], ch["t_first"][eg])
    for a in (first, last, engaged):
        a[np.isinf(a)] = np.nan
    return PairArrays(uid.astype(np.int64), cid.astype(np.int64), e.reshape(NO_RATIO_VIEW + 2, n), n_events,
                      first, last, engaged)


def pair_pass_arrow(con: ibis.BaseBackend, events: ibis.expr.types.Table, as_of: dt.datetime,
                    config: EvidenceConfig | None = None) -> pa.Table:
    """:func:`~trustecon.trust.evidence.pair_pass` as an Arrow table, level 2 in numpy."""
    return pivot_kind_pass(fetch_chunks(con, kind_pass(events, as_of, config))).to_arrow()


def _col(t: pa.Table, name: str, dtype: type = np.float64) -> np.ndarray:
    """A column as numpy, nulls as NaN (floats) — the small tables are a few thousand rows."""
    a = t[name]
    if dtype is np.float64:
        return np.asarray(a.to_numpy(zero_copy_only=False), np.float64)
    return np.asarray(a.fill_null(0).to_numpy(zero_copy_only=False), dtype)


class _PairIndex:
    """Row of a (user, creator) pair among distinct pairs, −1 when absent: a hash lookup on one packed
    int64 key when every id fits in 31 bits (else a two-level index), built once per table."""

    def __init__(self, u: np.ndarray, c: np.ndarray) -> None:
        import pandas as pd

        self.packed = _packable(u, c)
        self.index = pd.Index((u << 31) | c) if self.packed else pd.MultiIndex.from_arrays([u, c])
        self.size = len(u)

    def find(self, qu: np.ndarray, qc: np.ndarray) -> np.ndarray:
        import pandas as pd

        if not len(qu) or not self.size:
            return np.full(len(qu), -1, np.intp)
        if self.packed and _packable(qu, qc):
            return self.index.get_indexer((qu << 31) | qc)
        if self.packed:  # (a query id outside 31 bits cannot be among the pairs)
            fits = (qu >= 0) & (qc >= 0) & (qu < 2**31) & (qc < 2**31)
            out = np.full(len(qu), -1, np.intp)
            out[fits] = self.index.get_indexer((qu[fits] << 31) | qc[fits])
            return out
        return self.index.get_indexer(pd.MultiIndex.from_arrays([qu, qc]))


def merge_side(p: PairArrays, side: pa.Table, rep: pa.Table) -> dict[str, np.ndarray]:
    """:func:`~trustecon.trust.evidence.evidence_sums` from the evidence pass in numpy, its small
    :func:`~trustecon.trust.evidence.side_sums` and :func:`~trustecon.trust.evidence.repurchase_sums`
    tables (Arrow): ``user_id, creator_id, e_<channel>`` for every channel, ``n_events``,
    ``first_s``, ``last_s``, ``e_first_order``, ``first_order_s`` (NaN = null), as that function's
    joins give them: self-pairs dropped, side-only pairs appended, pairs with no evidence row dropped,
    repurchase sums only on kept pairs."""
    keep = p.user_id != p.creator_id
    n = len(p)
    su, sc = _col(side, "user_id", np.int64), _col(side, "creator_id", np.int64)
    index = _PairIndex(p.user_id, p.creator_id)
    at = index.find(su, sc)
    new = at < 0
    m = int(new.sum())
    pos = np.where(new, n + np.cumsum(new) - 1, at)  # side row → pair row (appended when new)
    cols: dict[str, np.ndarray] = {
        "user_id": np.concatenate([p.user_id, su[new]]), "creator_id": np.concatenate([p.creator_id, sc[new]]),
    }
    for c in PASS_CHANNELS:
        cols[f"e_{c}"] = np.concatenate([p.channel(c), np.zeros(m)]) if m else p.channel(c)
    for c in ("live_minutes", "refund", "complaint"):
        v = np.zeros(n + m)
        v[pos] = _col(side, f"e_{c}")
        cols[f"e_{c}"] = v
    n_ev = np.concatenate([p.n_events, np.zeros(m, np.int64)])
    n_ev[pos] += _col(side, "n_s", np.int64)
    first = np.concatenate([p.first_s, np.full(m, np.nan)])
    last = np.concatenate([p.last_s, np.full(m, np.nan)])
    first[pos] = np.fmin(first[pos], _col(side, "first_x"))  # (fmin/fmax: NaN on one side gives the other)
    last[pos] = np.fmax(last[pos], _col(side, "last_x"))
    cols["n_events"], cols["first_s"], cols["last_s"] = n_ev, first, last
    ok = np.concatenate([keep, np.ones(m, bool)]) & (n_ev > 0)
    # Repurchase: a left join on the kept pairs. Its pairs are found among the pass's pairs (one hash
    # table for both lookups), then among the appended ones, and moved to their rows after the filter.
    e_rep, e_first, first_order = np.zeros(n + m), np.zeros(n + m), np.full(n + m, np.nan)
    if rep.num_rows:
        ru, rc = _col(rep, "user_id", np.int64), _col(rep, "creator_id", np.int64)
        at = index.find(ru, rc)
        if m and (at < 0).any():
            miss = np.flatnonzero(at < 0)
            late = _PairIndex(su[new], sc[new]).find(ru[miss], rc[miss])
            at[miss] = np.where(late >= 0, n + late, -1)
        hit = at >= 0
        hit[hit] = ok[at[hit]]
        e_rep[at[hit]] = np.nan_to_num(_col(rep, "e_repurchase")[hit])
        e_first[at[hit]] = np.nan_to_num(_col(rep, "e_first_order")[hit])
        first_order[at[hit]] = _col(rep, "first_order_s")[hit]
    cols["e_repurchase"], cols["e_first_order"], cols["first_order_s"] = e_rep, e_first, first_order
    if not ok.all():
        cols = {k: v[ok] for k, v in cols.items()}
    return cols
