"""Sparse (user, creator) state: latent trust, follow flag, follow day, newest video seen.

A dense users × creators matrix of state would not fit the large preset (10^6 × 2·10^4), and most
pairs never meet, so the state lives in parallel numpy arrays, one row per pair that has met, in the
order the pairs met. A row's index never changes (rows are appended, with capacity doubling), so
callers may keep indices across a day. Lookups go through an index from the key
``user * n_creators + creator`` to the row: a dense int32 slot per cell when users × creators is at
most :data:`DENSE_CELLS` (one gather per lookup), else a sorted key array searched with binary search.
A pair that was never met has trust equal to the user's prior (trust propensity).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DENSE_CELLS", "NEVER", "PairStore"]

#: ``last_seen`` (µs since the epoch) of a pair whose content was never shown.
NEVER = -(2**62)
#: Up to this many users × creators cells the key → row index is a dense int32 array (64 MB at most).
DENSE_CELLS = 1 << 24

_FIELDS = (("keys", np.int64, 0), ("trust", np.float64, 0.0), ("follow", np.bool_, False),
           ("follow_day", np.int32, 0), ("last_seen", np.int64, NEVER))


class PairStore:
    """State of every (user, creator) pair that has met; see module docstring."""

    def __init__(self, n_creators: int, prior: np.ndarray, dense_cells: int = DENSE_CELLS):
        self.n_creators = int(n_creators)
        self.prior = prior  # (U,) trust of a user toward a creator never met
        self._n = 0
        self._cols = {name: np.full(1024, fill, dtype=dtype) for name, dtype, fill in _FIELDS}
        self._cells = int(prior.shape[0]) * self.n_creators
        self._slot = np.full(self._cells, -1, dtype=np.int32) if self._cells <= dense_cells else None
        self._sorted_keys = np.zeros(0, dtype=np.int64)  # sparse index: keys in order, and their rows
        self._sorted_rows = np.zeros(0, dtype=np.int64)

    # Views of the first len(self) rows; writes through them update the store.
    @property
    def keys(self) -> np.ndarray:
        return self._cols["keys"][: self._n]

    @property
    def trust(self) -> np.ndarray:
        return self._cols["trust"][: self._n]

    @property
    def follow(self) -> np.ndarray:
        return self._cols["follow"][: self._n]

    @property
    def follow_day(self) -> np.ndarray:
        return self._cols["follow_day"][: self._n]

    @property
    def last_seen(self) -> np.ndarray:
        return self._cols["last_seen"][: self._n]

    def __len__(self) -> int:
        return self._n

    def key(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        return users.astype(np.int64) * self.n_creators + creators

    def split(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return keys // self.n_creators, keys % self.n_creators

    def find(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Row of each pair in the store, or -1 where the pair has never met."""
        return self._find_keys(self.key(users, creators))

    def _find_keys(self, k: np.ndarray) -> np.ndarray:
        if k.size == 0 or self._n == 0:
            return np.full(k.shape, -1, dtype=np.int64)
        if self._slot is not None:
            if int(k.max()) < self._cells and int(k.min()) >= 0:
                return self._slot[k].astype(np.int64)
            inside = (k >= 0) & (k < self._cells)
            return np.where(inside, self._slot[np.where(inside, k, 0)], -1).astype(np.int64)
        pos = np.searchsorted(self._sorted_keys, k)
        pos_c = np.minimum(pos, self._sorted_keys.size - 1)
        return np.where(self._sorted_keys[pos_c] == k, self._sorted_rows[pos_c], -1)

    def trust_of(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Latent trust of each pair (the user's prior where the pair never met)."""
        return self.trust_at(self.find(users, creators), users)

    def trust_at(self, rows: np.ndarray, users: np.ndarray) -> np.ndarray:
        """Latent trust by row (from :meth:`find`), the user's prior where the row is -1."""
        return np.where(rows >= 0, self._cols["trust"][np.maximum(rows, 0)], self.prior[users])

    def ensure(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Add the pairs not yet stored (trust = prior), in key order, and return every pair's row."""
        k = self.key(users, creators)
        rows = self._find_keys(k)
        missing = rows < 0
        if not missing.any():
            return rows
        new = np.unique(k[missing])
        lo, hi = self._n, self._n + new.size
        self._grow(hi)
        c = self._cols
        c["keys"][lo:hi] = new
        c["trust"][lo:hi] = self.prior[new // self.n_creators]
        c["follow"][lo:hi] = False
        c["follow_day"][lo:hi] = 0
        c["last_seen"][lo:hi] = NEVER
        self._n = hi
        fresh = np.arange(lo, hi, dtype=np.int64)
        if self._slot is not None:
            self._slot[new] = fresh
        else:
            at = np.searchsorted(self._sorted_keys, new)
            self._sorted_keys = np.insert(self._sorted_keys, at, new)
            self._sorted_rows = np.insert(self._sorted_rows, at, fresh)
        rows[missing] = lo + np.searchsorted(new, k[missing])
        return rows

    def _grow(self, n: int) -> None:
        cap = self._cols["keys"].shape[0]
        if n <= cap:
            return
        cap = max(2 * cap, n)
        for name, dtype, fill in _FIELDS:
            col = np.full(cap, fill, dtype=dtype)
            col[: self._n] = self._cols[name][: self._n]
            self._cols[name] = col

    def follow_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, creators) of the current follow graph, in the order the pairs met."""
        return self.split(self.keys[self.follow])

    def followers_count(self) -> np.ndarray:
        return np.bincount(self.keys[self.follow] % self.n_creators, minlength=self.n_creators)
