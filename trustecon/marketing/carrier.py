"""Which creators carry a brand, and at what rate: the planner's ``conversion="carrier"``.

A creator that never sold a brand may simply not carry it, so its zero is not the same evidence as
a zero from a creator that does; a zero-inflated Gamma–Poisson model (Lambert 1992, with a gamma
rate) separates the two by EM. Hand-written: a two-parameter EM with closed-form steps, tested
against a creator-by-creator reference (tests/test_marketing.py).
"""

from __future__ import annotations

import numpy as np

__all__ = ["carrier_rates"]


def carrier_rates(k: np.ndarray, x: np.ndarray, s_min: float, s_max: float,
                  iters: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]:
    """Zero-inflated Gamma–Poisson by EM: which creators carry a brand, and their rates.

    Creator c carries the brand with probability π; a carrier's rate λ_c ~ Gamma(S·μ, S) and its
    orders ``k_c ~ Poisson(λ_c·x_c)`` over exposure ``x_c``; a non-carrier sells none (Lambert 1992's
    zero-inflated Poisson, with a gamma rate). E-step: ``w_c = 1`` if ``k_c > 0``, else
    ``π·q_c / (π·q_c + 1 − π)`` with ``q_c = (S/(S + x_c))^{S·μ}`` (a carrier's chance of no order,
    negative binomial); M-step: ``π = mean(w)``, ``μ = Σk / Σ w·x``; S by the weighted method of
    moments (``S = μ/τ²``, τ² the between-carrier variance of ``k/x`` net of Poisson noise, clipped
    to [``s_min``, ``s_max``]). Returns ``w`` (P(carrier)), the posterior Gamma(S·μ + k, S + x) of a
    carrier's rate as (shape, rate), and π, μ, S. Units with ``x = 0`` keep w = π."""
    k, x = np.asarray(k, float), np.asarray(x, float)
    n = len(k)
    if n == 0 or k.sum() <= 0:
        return np.zeros(n), np.ones(n), np.ones(n), 0.0, 0.0, s_max
    sold = k > 0
    w = np.where(sold, 1.0, sold.mean())
    pi, mu, S = float(sold.mean()), 0.0, s_max
    for _ in range(iters):
        pi = float(w.mean())
        mu = float(k.sum() / max((w * x).sum(), 1e-300))
        ok = (w > 0) & (x > 0)
        S = s_max
        if ok.sum() >= 2:
            ww = w[ok] * x[ok] / (w[ok] * x[ok]).sum()
            r = k[ok] / x[ok]
            tau2 = float((ww * (r - mu) ** 2).sum()) - mu * float((ww / x[ok]).sum())
            if tau2 > 0:
                S = mu / tau2
        S = float(np.clip(S, s_min, s_max))
        q = np.exp(S * mu * (np.log(S) - np.log(S + x)))
        new = np.where(sold, 1.0, pi * q / (pi * q + 1.0 - pi)) if pi < 1 else np.ones(n)
        if np.max(np.abs(new - w)) < 1e-12:
            w = new
            break
        w = new
    return w, S * mu + k, S + x, pi, mu, S
