"""Sparse (user, creator) state: latent trust, follow flag, follow day, newest video seen.

A dense users × creators matrix would not fit the large preset (10^6 × 2·10^4), and most pairs never
meet, so the state lives in parallel numpy arrays sorted by the key ``user * n_creators + creator``.
Lookups are binary searches; new pairs are merged in once per batch (O(n) copy), which keeps every
step vectorized. A pair that was never met has trust equal to the user's prior (trust propensity).
"""

from __future__ import annotations

import numpy as np

__all__ = ["NEVER", "PairStore"]

#: ``last_seen`` (µs since the epoch) of a pair whose content was never shown.
NEVER = -(2**62)


class PairStore:
    """State of every (user, creator) pair that has met; see module docstring."""

    def __init__(self, n_creators: int, prior: np.ndarray):
        self.n_creators = int(n_creators)
        self.prior = prior  # (U,) trust of a user toward a creator never met
        self.keys = np.zeros(0, dtype=np.int64)
        self.trust = np.zeros(0, dtype=np.float64)
        self.follow = np.zeros(0, dtype=bool)
        self.follow_day = np.zeros(0, dtype=np.int32)
        self.last_seen = np.zeros(0, dtype=np.int64)  # time of the newest video shown

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def key(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        return users.astype(np.int64) * self.n_creators + creators

    def split(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return keys // self.n_creators, keys % self.n_creators

    def find(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Index of each pair in the store, or -1 where the pair has never met."""
        k = self.key(users, creators)
        pos = np.searchsorted(self.keys, k)
        pos_c = np.minimum(pos, max(len(self) - 1, 0))
        hit = (pos < len(self)) & (self.keys[pos_c] == k) if len(self) else np.zeros(k.shape, bool)
        return np.where(hit, pos_c, -1)

    def trust_of(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Latent trust of each pair (the user's prior where the pair never met)."""
        idx = self.find(users, creators)
        return np.where(idx >= 0, self.trust[np.maximum(idx, 0)] if len(self) else 0.0, self.prior[users])

    def ensure(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Add the pairs not yet stored (trust = prior) and return every pair's index."""
        k = np.unique(self.key(users, creators))
        pos = np.searchsorted(self.keys, k)
        pos_c = np.minimum(pos, max(len(self) - 1, 0))
        known = (pos < len(self)) & (self.keys[pos_c] == k) if len(self) else np.zeros(k.shape, bool)
        new = k[~known]
        if new.size:
            at = pos[~known]
            self.keys = np.insert(self.keys, at, new)
            self.trust = np.insert(self.trust, at, self.prior[new // self.n_creators])
            self.follow = np.insert(self.follow, at, False)
            self.follow_day = np.insert(self.follow_day, at, 0)
            self.last_seen = np.insert(self.last_seen, at, NEVER)
        return self.find(users, creators)

    def follow_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, creators) of the current follow graph."""
        return self.split(self.keys[self.follow])

    def followers_count(self) -> np.ndarray:
        return np.bincount(self.keys[self.follow] % self.n_creators, minlength=self.n_creators)
