"""Pair trust T(u, c): a beta evidence model of how much user u trusts creator c (DESIGN.md §5).

With decayed evidence sums ``E_k`` per channel (:mod:`trustecon.trust.evidence`) and weights ``w_k``,
the pair's positive and negative evidence are ``P = Σ_{k positive} w_k E_k`` and
``N = Σ_{k negative} w_k E_k``, and

    α = κ m_u + P        β = κ (1 − m_u) + N        T = α / (α + β)
    confidence = (P + N) / (P + N + W)

This is the Beta Reputation System (Jøsang & Ismail, 2002): T is the mean of Beta(α, β), and the
confidence is one minus subjective logic's uncertainty ``u = W / (r + s + W)`` with the non-informative
prior weight ``W = 2``. The prior mean ``m_u`` is the user's own *trust propensity*, estimated by
pooling their evidence toward every creator (empirical Bayes in a hierarchical beta-binomial model,
e.g. Gelman et al., *Bayesian Data Analysis*, §5.3):

    m_u = (α₀ + Σ_c P_uc) / (α₀ + β₀ + Σ_c (P_uc + N_uc)),   κ = α₀ + β₀

so a user who trusts easily starts every new creator higher than a sceptic does (DESIGN.md §10 gives
users a trust propensity). With ``user_prior=False`` the prior is the flat Beta(α₀, β₀). Positive
evidence raises both P and m_u and negative evidence lowers both, so T is monotone in every channel;
with no new evidence every ``E_k`` decays to 0, m_u returns to α₀/(α₀+β₀) and so does T.

``fit`` learns the weights (and α₀, β₀) from history in the spirit of RealGraph (Kamath et al.,
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
import pyarrow as pa
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
    "profile_visit": ("profile_visit",),
    "long_view": ("view",),
}


def beta_score(
    sums: Mapping[str, float],
    weights: Mapping[str, float],
    prior_alpha: float,
    prior_beta: float,
    prior_weight: float = 2.0,
    user_sums: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The beta model on one pair's decayed sums ``{channel: E}``: alpha, beta, trust, confidence.

    ``user_sums``: the user's sums over all their pairs (the hierarchical prior); ``None`` = flat prior.
    The same arithmetic as :meth:`PairTrust.transform` (used by the online updater and explanations).
    """
    a = sum(weights[c] * sums.get(c, 0.0) for c in POSITIVE)
    b = sum(weights[c] * sums.get(c, 0.0) for c in NEGATIVE)
    kappa = prior_alpha + prior_beta
    if user_sums is None:
        m = prior_alpha / kappa
    else:
        ua = sum(weights[c] * user_sums.get(c, 0.0) for c in POSITIVE)
        ub = sum(weights[c] * user_sums.get(c, 0.0) for c in NEGATIVE)
        m = (prior_alpha + ua) / (kappa + ua + ub)
    alpha, beta = kappa * m + a, kappa * (1.0 - m) + b
    mass = a + b
    return {
        "alpha": alpha,
        "beta": beta,
        "trust": alpha / (alpha + beta),
        "confidence": mass / (mass + prior_weight),
        "evidence": mass,
        "user_prior": m,
    }


class FittedBeta:
    """What the beta evidence models share: the weights and prior in use, fitted ones (``weights_``,
    ``prior_alpha_``, ``prior_beta_``, set by ``fit``) over the configured ones."""

    config: EvidenceConfig
    prior_alpha: float
    prior_beta: float
    prior_weight: float

    @property
    def weights(self) -> dict[str, float]:
        """Weights in use: fitted (``weights_``) if ``fit`` ran, else the config's."""
        fitted = getattr(self, "weights_", None)
        if fitted is not None:
            return dict(fitted)
        return {c: self.config.weight(c) for c in CHANNELS}

    @property
    def priors(self) -> tuple[float, float]:
        """The prior Beta(α₀, β₀) in use: fitted if ``fit`` ran, else the configured one."""
        return (
            float(getattr(self, "prior_alpha_", self.prior_alpha)),
            float(getattr(self, "prior_beta_", self.prior_beta)),
        )

    def _shared_params(self) -> dict[str, Any]:
        """The part of ``params`` every beta model stores: evidence settings, prior and weights in use."""
        a0, b0 = self.priors
        return {"half_life_days": self.config.half_life_days, "short_view": self.config.short_view,
                "prior_alpha": a0, "prior_beta": b0, "prior_weight": self.prior_weight,
                "fitted": hasattr(self, "weights_"), "weights": self.weights}

    @staticmethod
    def _stored_args(p: Mapping[str, Any]) -> tuple[EvidenceConfig, dict[str, Any]]:
        """What :meth:`_shared_params` stored, back as a config and the prior's keyword arguments."""
        cfg = EvidenceConfig(half_life_days=p["half_life_days"], short_view=p["short_view"], weights=p["weights"])
        return cfg, {"prior_alpha": p["prior_alpha"], "prior_beta": p["prior_beta"], "prior_weight": p["prior_weight"]}


class PairTrust(FittedBeta):
    """Beta evidence model of user → creator trust, batch on the engine.

    Parameters: ``config`` (half-life, short-view ratio, default weights), ``prior_alpha`` and
    ``prior_beta`` (the prior Beta(1, 1): no opinion, T = 0.5), ``user_prior`` (pool each user's
    evidence into their own prior mean, see the module doc), ``prior_weight`` W of the confidence,
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
        user_prior: bool = False,
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
        self.user_prior = user_prior
        self.outcome = outcome
        self.horizon_days = horizon_days
        self.l2 = l2
        self.max_pairs = max_pairs
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters in use
    def params(self) -> dict[str, Any]:
        """Everything needed to reproduce a score (stored beside the tables as provenance)."""
        return {**self._shared_params(), "user_prior": self.user_prior}

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> PairTrust:
        """The model a build used, from what :meth:`params` stored (``trustecon.toml``'s
        ``[trust.pair_trust]``): the weights and prior in use become its configuration; empty → defaults."""
        if not params:
            return cls()
        cfg, prior = cls._stored_args(params)
        return cls(cfg, **prior, user_prior=bool(params.get("user_prior", False)))

    # ------------------------------------------------------------------ batch scoring
    def transform(self, events: ir.Table, as_of: dt.datetime | None = None, **parts: ir.Table) -> ir.Table:
        """``pair_trust`` as an Ibis expression: ``user_id, creator_id, trust, confidence, alpha, beta,
        evidence, positive, negative`` (weighted evidence masses), ``n_events, first_s, last_s, as_of,
        e_<channel>…`` (decayed sums as of ``as_of``,
        from which :class:`~trustecon.trust.online.OnlineTrust` resumes). ``parts``: the precomputed
        ``passed``/``commerce``/``spans`` tables of :func:`~trustecon.trust.evidence.evidence_sums`."""
        when = as_of_of(events, as_of)
        if when is None:
            return _empty_pairs()
        s = evidence_sums(events, when, self.config, **parts)
        w = self.weights
        a0, b0 = self.priors
        s = s.mutate(
            w_pos=sum((s[f"e_{c}"] * w[c] for c in POSITIVE), ibis.literal(0.0)),
            w_neg=sum((s[f"e_{c}"] * w[c] for c in NEGATIVE), ibis.literal(0.0)),
        )
        kappa = a0 + b0
        if self.user_prior:
            us = s.group_by("user_id").aggregate(u_pos=s.w_pos.sum(), u_neg=s.w_neg.sum())
            s = s.inner_join(us, "user_id")
            m = (s.u_pos + a0) / (s.u_pos + s.u_neg + kappa)
        else:
            m = ibis.literal(a0 / kappa)
        pos, neg = s.w_pos, s.w_neg
        alpha = m * kappa + pos
        beta = (1.0 - m) * kappa + neg
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
            user_prior=m.cast("float64"),
            n_events=s.n_events,
            first_s=s.first_s,
            last_s=s.last_s,
            as_of=ibis.literal(when, type="timestamp('UTC')"),
            **{f"e_{c}": s[f"e_{c}"] for c in CHANNELS},
            e_first_order=s.e_first_order,
            first_order_s=s.first_order_s,
        )

    def score(self, sums: Mapping[str, np.ndarray], as_of: dt.datetime) -> pa.Table:
        """:meth:`transform`'s table from per-pair sums already in memory (numpy columns as
        :func:`~trustecon.trust.pivot.merge_side` gives them; NaN = null): the same arithmetic in the
        same order, so equal to the engine's within rounding of the per-user pooled sums (``build``
        on DuckDB; the tests hold the two to 1e-12)."""
        w = self.weights
        a0, b0 = self.priors
        n = len(sums["user_id"])
        pos, neg = np.zeros(n), np.zeros(n)
        for c in POSITIVE:
            pos = pos + sums[f"e_{c}"] * w[c]
        for c in NEGATIVE:
            neg = neg + sums[f"e_{c}"] * w[c]
        kappa = a0 + b0
        if self.user_prior and n:
            import pandas as pd

            g, _ = pd.factorize(sums["user_id"])
            u_pos, u_neg = np.bincount(g, pos)[g], np.bincount(g, neg)[g]
            m = (u_pos + a0) / (u_pos + u_neg + kappa)
        else:
            m = np.full(n, a0 / kappa)
        alpha = m * kappa + pos
        beta = (1.0 - m) * kappa + neg
        mass = pos + neg

        def f(x: np.ndarray) -> pa.Array:
            return pa.array(x, pa.float64(), mask=np.isnan(x))

        cols: dict[str, pa.Array] = {
            "user_id": pa.array(sums["user_id"], pa.int64()),
            "creator_id": pa.array(sums["creator_id"], pa.int64()),
            "trust": pa.array(alpha / (alpha + beta)),
            "confidence": pa.array(mass / (mass + self.prior_weight)),
            "alpha": pa.array(alpha), "beta": pa.array(beta), "evidence": pa.array(mass),
            "positive": pa.array(pos), "negative": pa.array(neg), "user_prior": pa.array(m),
            "n_events": pa.array(sums["n_events"], pa.int64()),
            "first_s": f(sums["first_s"]), "last_s": f(sums["last_s"]),
            "as_of": pa.array(np.full(n, pa.scalar(as_of, pa.timestamp("us", tz="UTC")).value, np.int64),
                              pa.timestamp("us", tz="UTC")),
            **{f"e_{c}": pa.array(sums[f"e_{c}"], pa.float64()) for c in CHANNELS},
            "e_first_order": pa.array(sums["e_first_order"], pa.float64()),
            "first_order_s": f(sums["first_order_s"]),
        }
        return pa.table(cols)

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
        data = j.select("user_id", *[f"e_{c}" for c in CHANNELS], y=j.y.fill_null(0)).to_pyarrow()
        if data.num_rows == 0:
            raise ValueError(f"no user→creator evidence before the split {split.isoformat()}")
        X = np.column_stack([data[f"e_{c}"].to_numpy(zero_copy_only=False) for c in CHANNELS]).astype(float)
        y = data["y"].to_numpy(zero_copy_only=False).astype(float)
        # The user's pooled sums (over all their pairs, before sampling) for the hierarchical prior.
        _, uinv = np.unique(data["user_id"].to_numpy(zero_copy_only=False), return_inverse=True)
        U = np.zeros((uinv.max() + 1, X.shape[1]))
        np.add.at(U, uinv, X)
        rng = np.random.default_rng(self.random_state)
        if len(y) > self.max_pairs:
            idx = np.sort(rng.choice(len(y), self.max_pairs, replace=False))
            X, y, uinv = X[idx], y[idx], uinv[idx]
        Xu = U[uinv]
        if y.min() == y.max():
            raise ValueError(
                f"outcome {self.outcome!r} is {'always' if y[0] else 'never'} observed after the split; "
                "nothing to learn (choose another outcome or split)"
            )
        pos_mask = np.array([c in POSITIVE for c in CHANNELS])
        n = len(y)

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            # Analytic gradient through A = κ m + P, B = κ (1 − m) + N and m = (a0 + Pu)/(κ + Pu + Nu).
            a0, b0, w = theta[0], theta[1], theta[2:]
            kappa = a0 + b0
            P, N = X[:, pos_mask] @ w[pos_mask], X[:, ~pos_mask] @ w[~pos_mask]
            if self.user_prior:
                Pu, Nu = Xu[:, pos_mask] @ w[pos_mask], Xu[:, ~pos_mask] @ w[~pos_mask]
                D = kappa + Pu + Nu
                m = (a0 + Pu) / D
            else:
                m = a0 / kappa + 0 * P
            A = kappa * m + P
            B = kappa * (1 - m) + N
            S = A + B
            ll = y * np.log(A) + (1 - y) * np.log(B) - np.log(S)
            dA = y / A - 1 / S
            dB = (1 - y) / B - 1 / S
            # d ll / d m (A and B move oppositely with m) and d ll / d kappa at fixed m.
            dm = kappa * (dA - dB)
            dk = m * dA + (1 - m) * dB
            g = np.zeros_like(theta)
            if self.user_prior:
                # m depends on a0 (numerator and D), on b0 (D), and on w through Pu, Nu.
                dm_da0 = (1 - m) / D
                dm_db0 = -m / D
                dm_dPu = (1 - m) / D
                dm_dNu = -m / D
                g[0] = (dk + dm * dm_da0).sum()
                g[1] = (dk + dm * dm_db0).sum()
                g[2:][pos_mask] = X[:, pos_mask].T @ dA + Xu[:, pos_mask].T @ (dm * dm_dPu)
                g[2:][~pos_mask] = X[:, ~pos_mask].T @ dB + Xu[:, ~pos_mask].T @ (dm * dm_dNu)
            else:
                # A = a0 + P, B = b0 + N.
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
            user_prior=self.user_prior,
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
        ("user_prior", pa.float64()),
        ("n_events", pa.int64()),
        ("first_s", pa.float64()),
        ("last_s", pa.float64()),
        ("as_of", pa.timestamp("us", tz="UTC")),
        *[(f"e_{c}", pa.float64()) for c in CHANNELS],
        ("e_first_order", pa.float64()),
        ("first_order_s", pa.float64()),
    ]
    return ibis.memtable(pa.schema(fields).empty_table())

