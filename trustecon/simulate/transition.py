"""Latent trust transitions and the follow / unfollow decisions they drive (docs/simulator.md §Trust).

The rule is an exponential moving average toward the outcome of each experience. For a pair with
latent trust ``T`` and one experience of kind ``k`` with outcome ``y ∈ [0, 1]``:

    T ← T + η · w_k · (y − T)

(η the learning rate, ``w_k`` the weight of kind k). ``n`` experiences of one kind on one day with
mean outcome ``ȳ`` are applied together as ``T ← ȳ + (1 − η w_k)^n (T − ȳ)`` (exact when the
outcomes are equal). Outcomes: a view or a live visit ``y = s`` (its satisfaction), an interaction
``y = 1``, "not interested" ``y = 0``, a kept order ``y = 1``, a refund or a complaint ``y = 0``, a
broken promise (a scheduled stream skipped without notice) ``y = 0`` with weight ``w_broken``, the
same with a leave notice with weight ``w_broken · (1 − notice_softening)``. So a kept order never
lowers trust, a refund never raises it, and a leave notice softens the loss of a skipped stream.

This is the simulator's own truth, written down in docs/simulator.md; it is deliberately not the
estimator's beta-evidence form (DESIGN.md §5), so the estimators are tested against a world they do
not mirror. Hand-written because it *is* the world's behaviour, not a library concern.
"""

from __future__ import annotations

import numpy as np

from trustecon.simulate.pairs import PairStore

__all__ = ["apply_experience", "follow_probability", "trust_step", "unfollow_probability"]


def trust_step(trust: np.ndarray | float, y: np.ndarray | float, weight: float, eta: float,
               n: np.ndarray | int = 1) -> np.ndarray:
    """``ȳ + (1 − η w)^n (T − ȳ)``: trust after ``n`` experiences of mean outcome ``y``."""
    keep = (1.0 - eta * weight) ** np.asarray(n, dtype=np.float64)
    return np.clip(np.asarray(y) + keep * (np.asarray(trust, dtype=np.float64) - np.asarray(y)), 0.0, 1.0)


def apply_experience(store: PairStore, idx: np.ndarray, y: np.ndarray | float, weight: float,
                     eta: float, n: np.ndarray | float = 1.0) -> np.ndarray:
    """Apply experiences (pair indices ``idx``, possibly repeated; outcomes ``y``; sizes ``n``, e.g. a
    live visit counts ``minutes / 24``) to the store in place: per pair, ``ȳ`` is the n-weighted mean
    outcome and the exponent the summed n. Returns the unique pair indices that moved."""
    if idx.size == 0 or weight == 0:
        return np.zeros(0, dtype=np.int64)
    y = np.broadcast_to(np.asarray(y, dtype=np.float64), idx.shape)
    n = np.broadcast_to(np.asarray(n, dtype=np.float64), idx.shape)
    uniq, inv = np.unique(idx, return_inverse=True)
    total = np.bincount(inv, weights=n, minlength=uniq.size)
    ybar = np.bincount(inv, weights=y * n, minlength=uniq.size) / np.maximum(total, 1e-12)
    store.trust[uniq] = trust_step(store.trust[uniq], ybar, weight, eta, total)
    return uniq


def follow_probability(trust: np.ndarray, base: float, threshold: float) -> np.ndarray:
    """``base · clip((T − θ_f) / (1 − θ_f), 0, 1)``: nobody follows a creator they do not trust."""
    return base * np.clip((trust - threshold) / (1.0 - threshold), 0.0, 1.0)


def unfollow_probability(trust: np.ndarray, base: float, threshold: float) -> np.ndarray:
    """``base · clip((θ_u − T) / θ_u, 0, 1)``: followers leave as trust falls below θ_u."""
    return base * np.clip((threshold - trust) / threshold, 0.0, 1.0)
