"""Pair trust T(u, c): a beta evidence model of how much user u trusts creator c (DESIGN.md §5).

With decayed evidence sums ``E_k`` per channel (:mod:`trustecon.trust.evidence`) and weights ``w_k``:

    α = α₀ + Σ_{k positive} w_k E_k        β = β₀ + Σ_{k negative} w_k E_k
    T = α / (α + β)                       confidence = m / (m + W),  m = (α − α₀) + (β − β₀)

This is the Beta Reputation System (Jøsang & Ismail, 2002): T is the mean of Beta(α, β), and the
confidence is one minus subjective logic's uncertainty ``u = W / (r + s + W)`` with the non-informative
prior weight ``W = 2``. Positive evidence can only raise α, negative only β, so T is monotone in every
channel; with no new evidence all ``E_k`` decay to 0 and T returns to the prior α₀/(α₀+β₀).

``fit`` learns the weights (and the prior) from history in the spirit of RealGraph (Kamath et al.,
2014): evidence as of a split time predicts an outcome (order, follow, engagement, long view) in the
next ``horizon_days``; the loss is the Bernoulli log-likelihood of that outcome under ``p = T`` itself,
with ``w ≥ 0`` (L-BFGS-B bounds) so the signs — and the monotonicity properties — are kept. A logistic
regression would fit a different functional form than the one we score with; fitting T directly makes
the fitted T a calibrated probability of the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy.optimize import minimize

from trustecon.trust.evidence import (
    CHANNELS,
    NEGATIVE,
    POSITIVE,
    EvidenceConfig,
    as_of_of,
    evidence_sums,
)

__all__ = ["OUTCOMES", "PairTrust", "beta_score"]

#: Future outcomes ``fit`` can learn to predict, as event kinds (``long_view``: a view with watch ratio ≥ 0.8).
OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "order": ("order",),
    "follow": ("follow",),
    "engage": ("like", "comment", "share", "follow", "gift", "order"),
    "like": ("like",),
    "long_view": ("view",),
}


def beta_score(
    sums: Mapping[str, float],
    weights: Mapping[str, float],
    prior_alpha: float,
    prior_beta: float,
    prior_weight: float = 2.0,
) -> dict[str, float]:
    """The beta model on one pair's decayed sums ``{channel: E}``: alpha, beta, trust, confidence.

    The same arithmetic as :meth:`PairTrust.transform` (used by the online updater and explanations).
    """
    a = sum(weights[c] * sums.get(c, 0.0) for c in POSITIVE)
    b = sum(weights[c] * sums.get(c, 0.0) for c in NEGATIVE)
    alpha, beta = prior_alpha + a, prior_beta + b
    mass = a + b
    return {
        "alpha": alpha,
        "beta": beta,
        "trust": alpha / (alpha + beta),
        "confidence": mass / (mass + prior_weight),
        "evidence": mass,
    }


class PairTrust:
    """Beta evidence model of user → creator trust, batch on the engine.

    Parameters: ``config`` (half-life, short-view ratio, default weights), ``prior_alpha`` and
    ``prior_beta`` (the prior Beta(1, 1): no opinion, T = 0.5), ``prior_weight`` W of the confidence,
    and for :meth:`fit`: ``outcome`` (a key of :data:`OUTCOMES`), ``horizon_days``, ``l2`` (ridge
    toward zero on the weights, relative to the number of training pairs), ``max_pairs`` (a seeded
    sample of training pairs) and ``random_state``.
    """

    def __init__(
        self,
        config: EvidenceConfig | None = None,
        *,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        prior_weight: float = 2.0,
        outcome: str = "engage",
        horizon_days: float = 7.0,
        l2: float = 1e-3,
        max_pairs: int = 200_000,
        random_state: int | None = 0,
    ) -> None:
        self.config = config or EvidenceConfig()
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.prior_weight = prior_weight
        self.outcome = outcome
        self.horizon_days = horizon_days
        self.l2 = l2
        self.max_pairs = max_pairs
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters in use
    @property
    def weights(self) -> dict[str, float]:
        """Weights in use: fitted (``weights_``) if :meth:`fit` ran, else the config's."""
        fitted = getattr(self, "weights_", None)
        if fitted is not None:
            return dict(fitted)
        return {c: self.config.weight(c) for c in CHANNELS}

    @property
    def priors(self) -> tuple[float, float]:
        return (
            float(getattr(self, "prior_alpha_", self.prior_alpha)),
            float(getattr(self, "prior_beta_", self.prior_beta)),
        )

    def params(self) -> dict[str, Any]:
        """Everything needed to reproduce a score (stored beside the tables as provenance)."""
        a0, b0 = self.priors
        return {
            "half_life_days": self.config.half_life_days,
            "short_view": self.config.short_view,
            "prior_alpha": a0,
            "prior_beta": b0,
            "prior_weight": self.prior_weight,
            "fitted": hasattr(self, "weights_"),
            "weights": self.weights,
        }

    # ------------------------------------------------------------------ batch scoring
    def transform(self, events: ir.Table, as_of: dt.datetime | None = None) -> ir.Table:
        """``pair_trust`` as an Ibis expression: ``user_id, creator_id, trust, confidence, alpha, beta,
        evidence, positive, negative`` (weighted evidence masses), ``n_events, first_s, last_s, as_of,
        e_<channel>…`` (decayed sums as of ``as_of``,
        from which :class:`~trustecon.trust.online.OnlineTrust` resumes)."""
        when = as_of_of(events, as_of)
        if when is None:
            return _empty_pairs()
        s = evidence_sums(events, when, self.config)
        w = self.weights
        a0, b0 = self.priors
        pos = sum((s[f"e_{c}"] * w[c] for c in POSITIVE), ibis.literal(0.0))
        neg = sum((s[f"e_{c}"] * w[c] for c in NEGATIVE), ibis.literal(0.0))
        alpha = pos + a0
        beta = neg + b0
        mass = pos + neg
        return s.select(
            user_id=s.user_id,
            creator_id=s.creator_id,
            trust=alpha / (alpha + beta),
            confidence=mass / (mass + self.prior_weight),
            alpha=alpha,
            beta=beta,
            evidence=mass,
            positive=pos,
            negative=neg,
            n_events=s.n_events,
            first_s=s.first_s,
            last_s=s.last_s,
            as_of=ibis.literal(when, type="timestamp('UTC')"),
            **{f"e_{c}": s[f"e_{c}"] for c in CHANNELS},
            e_first_order=s.e_first_order,
            first_order_s=s.first_order_s,
        )

    # ------------------------------------------------------------------ learning the weights
    def _labels(self, events: ir.Table, start: dt.datetime, end: dt.datetime) -> ir.Table:
        kinds = OUTCOMES[self.outcome]
        lit = lambda x: ibis.literal(x, type="timestamp('UTC')")  # noqa: E731
        ev = events.filter((events.ts > lit(start)) & (events.ts <= lit(end)) & events.kind.isin(kinds))
        if self.outcome == "long_view":
            ev = ev.filter((ev.duration_ms > 0) & (ev.watch_ms.cast("float64") >= 0.8 * ev.duration_ms))
        ev = ev.filter(ev.user_id.notnull() & ev.creator_id.notnull())
        return ev.select("user_id", "creator_id").distinct().mutate(y=ibis.literal(1))

    def fit(self, events: ir.Table, *, split: dt.datetime | None = None) -> PairTrust:
        """Learn non-negative weights and the prior so that T as of ``split`` predicts ``outcome``
        within the next ``horizon_days`` (default split: the latest event minus the horizon).

        Sets ``weights_``, ``prior_alpha_``, ``prior_beta_``, ``split_``, ``n_pairs_``,
        ``outcome_rate_`` and ``log_loss_`` (fitted) / ``log_loss_default_`` (the default weights, same
        pairs) so the gain is visible.
        """
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")
        horizon = dt.timedelta(days=self.horizon_days)
        if split is None:
            latest = as_of_of(events, None)
            if latest is None:
                raise ValueError("cannot fit on an empty event log")
            split = latest - horizon
        split = split if split.tzinfo else split.replace(tzinfo=dt.UTC)
        sums = evidence_sums(events, split, self.config)
        lab = self._labels(events, split, split + horizon)
        j = sums.left_join(lab, ["user_id", "creator_id"])
        data = j.select(*[f"e_{c}" for c in CHANNELS], y=j.y.fill_null(0)).to_pyarrow()
        if data.num_rows == 0:
            raise ValueError(f"no user→creator evidence before the split {split.isoformat()}")
        X = np.column_stack([data[f"e_{c}"].to_numpy(zero_copy_only=False) for c in CHANNELS]).astype(float)
        y = data["y"].to_numpy(zero_copy_only=False).astype(float)
        rng = np.random.default_rng(self.random_state)
        if len(y) > self.max_pairs:
            idx = np.sort(rng.choice(len(y), self.max_pairs, replace=False))
            X, y = X[idx], y[idx]
        if y.min() == y.max():
            raise ValueError(
                f"outcome {self.outcome!r} is {'always' if y[0] else 'never'} observed after the split; "
                "nothing to learn (choose another outcome or split)"
            )
        pos_mask = np.array([c in POSITIVE for c in CHANNELS])
        n = len(y)

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            a0, b0, w = theta[0], theta[1], theta[2:]
            A = a0 + X[:, pos_mask] @ w[pos_mask]
            B = b0 + X[:, ~pos_mask] @ w[~pos_mask]
            S = A + B
            ll = y * np.log(A) + (1 - y) * np.log(B) - np.log(S)
            dA = y / A - 1 / S
            dB = (1 - y) / B - 1 / S
            g = np.empty_like(theta)
            g[0], g[1] = dA.sum(), dB.sum()
            g[2:][pos_mask] = X[:, pos_mask].T @ dA
            g[2:][~pos_mask] = X[:, ~pos_mask].T @ dB
            loss = -ll.sum() / n + self.l2 * float(w @ w)
            grad = -g / n
            grad[2:] += 2 * self.l2 * w
            return float(loss), grad

        w0 = np.array([self.config.weight(c) for c in CHANNELS])
        rate = y.mean()
        # Start at the default weights with the prior mean at the base rate.
        theta0 = np.concatenate([[1.0, (1 - rate) / max(rate, 1e-6)], w0])
        bounds = [(1e-3, None), (1e-3, None)] + [(0.0, None)] * len(CHANNELS)
        res = minimize(nll, theta0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 500})
        theta = res.x
        self.prior_alpha_ = float(theta[0])
        self.prior_beta_ = float(theta[1])
        self.weights_ = {c: float(v) for c, v in zip(CHANNELS, theta[2:], strict=True)}
        self.split_ = split
        self.n_pairs_ = int(n)
        self.outcome_rate_ = float(rate)
        self.log_loss_ = float(nll(theta)[0] - self.l2 * float(theta[2:] @ theta[2:]))
        d = np.concatenate([[self.prior_alpha, self.prior_beta], w0])
        self.log_loss_default_ = float(nll(d)[0] - self.l2 * float(w0 @ w0))
        self.converged_ = bool(res.success)
        return self

    def with_config(self, **changes: Any) -> PairTrust:
        """A copy with an evidence config changed (e.g. another half-life), unfitted."""
        return PairTrust(
            replace(self.config, **changes),
            prior_alpha=self.prior_alpha,
            prior_beta=self.prior_beta,
            prior_weight=self.prior_weight,
            outcome=self.outcome,
            horizon_days=self.horizon_days,
            l2=self.l2,
            max_pairs=self.max_pairs,
            random_state=self.random_state,
        )


def _empty_pairs() -> ir.Table:
    import pyarrow as pa

    fields = [
        ("user_id", pa.int64()),
        ("creator_id", pa.int64()),
        ("trust", pa.float64()),
        ("confidence", pa.float64()),
        ("alpha", pa.float64()),
        ("beta", pa.float64()),
        ("evidence", pa.float64()),
        ("positive", pa.float64()),
        ("negative", pa.float64()),
        ("n_events", pa.int64()),
        ("first_s", pa.float64()),
        ("last_s", pa.float64()),
        ("as_of", pa.timestamp("us", tz="UTC")),
        *[(f"e_{c}", pa.float64()) for c in CHANNELS],
        ("e_first_order", pa.float64()),
        ("first_order_s", pa.float64()),
    ]
    return ibis.memtable(pa.schema(fields).empty_table())

