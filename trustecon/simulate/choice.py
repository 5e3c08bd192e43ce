"""The choice model: what a user does with what they are shown (docs/simulator.md §Choice).

Every function is vectorized over arrays of (user, creator[, product]) and returns probabilities or
draws; the world turns them into events. Symbols: ``m`` interest match of the user with the creator's
category (the user's interest in it over their top interest, in (0, 1]), ``q`` content quality,
``T`` latent trust, ``s = q (0.35 + 0.65 m)`` the satisfaction of an experience.
"""

from __future__ import annotations

import numpy as np

from trustecon.simulate.config import SimConfig
from trustecon.simulate.population import Population

__all__ = [
    "click_probability",
    "interest_match",
    "order_probability",
    "refund_probability",
    "satisfaction",
    "view_probability",
    "visit_mean_minutes",
    "watch_ratio",
]


def interest_match(pop: Population, users: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """``m = interest[u, k] / max_k' interest[u, k']`` ∈ (0, 1] (:attr:`Population.match`)."""
    return pop.match[users, categories]


def satisfaction(quality: np.ndarray, match: np.ndarray) -> np.ndarray:
    """``s = q · (0.35 + 0.65 m)``: good content in a category one cares about satisfies most."""
    return quality * (0.35 + 0.65 * match)


def view_probability(cfg: SimConfig, s: np.ndarray, trust: np.ndarray) -> np.ndarray:
    """``P(view | impression) = view_base · (0.4 + 0.6 s) · (0.6 + 0.8 T)``, capped at 1."""
    return np.minimum(cfg.view_base * (0.4 + 0.6 * s) * (0.6 + 0.8 * trust), 1.0)


def watch_ratio(rng: np.random.Generator, s: np.ndarray) -> np.ndarray:
    """Share of a video watched: Beta with mean ≈ s (concentration 4), at least 2%."""
    return np.clip(rng.beta(4.0 * s + 0.3, 4.0 * (1.0 - s) + 0.3), 0.02, 1.0)


def visit_mean_minutes(target: float, session_minutes: float) -> float:
    """Mean μ of the exponential visit length whose truncation at the session end gives ``target``.

    Entry is uniform over a session of length L, so the time left R ~ U(0, L) and
    ``E[min(X, R)] = μ − μ²/L · (1 − e^(−L/μ))`` for X ~ Exp(μ); solved for μ by bisection."""
    lo, hi = target, 20.0 * target
    for _ in range(80):
        mu = 0.5 * (lo + hi)
        got = mu - mu * mu / session_minutes * (1.0 - np.exp(-session_minutes / mu))
        lo, hi = (mu, hi) if got < target else (lo, mu)
    return 0.5 * (lo + hi)


def click_probability(cfg: SimConfig, need: np.ndarray, trust: np.ndarray) -> np.ndarray:
    """``P(click a pinned product) = click_base · (0.2 + 0.8 need) · (0.5 + T)``."""
    return np.minimum(cfg.click_base * (0.2 + 0.8 * need) * (0.5 + trust), 1.0)


def order_probability(cfg: SimConfig, trust: np.ndarray, need: np.ndarray, price: np.ndarray,
                      sensitivity: np.ndarray) -> np.ndarray:
    """``P(order | click) = 2 · order_base · T^1.5 · (0.3 + 0.7 need) · exp(−σ_u · price / price_median)``.

    Trust × need × price (DESIGN.md §10): a user buys from a creator they trust, a product they need,
    at a price they accept."""
    price_term = np.exp(-sensitivity * price / cfg.price_median)
    return np.minimum(cfg.order_base * trust**1.5 * (0.3 + 0.7 * need) * price_term * 2.0, 1.0)


def refund_probability(cfg: SimConfig, product_quality: np.ndarray, honesty: np.ndarray) -> np.ndarray:
    """``P(refund) = refund_base + 0.25 (1 − q_p) + 0.6 (1 − h_c)²``: bad goods and overselling."""
    return np.minimum(cfg.refund_base + 0.25 * (1.0 - product_quality) + 0.6 * (1.0 - honesty) ** 2, 1.0)
