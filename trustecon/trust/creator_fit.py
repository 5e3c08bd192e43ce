"""Creator trust: every viewer's evidence pooled per creator, with weights fitted to a future rate.

A brand or a platform asks "how far do people trust this creator?", not "does user u trust c?".
The creator-level beta model pools the decayed evidence sums of all the creator's users
(:mod:`trustecon.trust.evidence`): with ``X_ck = Σ_u E_uck`` and weights ``w_k``,

    P_c = Σ_{k positive} w_k X_ck      N_c = Σ_{k negative} w_k X_ck
    α_c = κ m + P_c     β_c = κ (1 − m) + N_c     T_c = α_c / (α_c + β_c)
    confidence_c = (P_c + N_c) / (P_c + N_c + W)

(the Beta Reputation System of Jøsang & Ismail 2002 applied to the creator's whole audience; the
prior Beta(κ m, κ (1 − m)) shrinks creators with little evidence toward the mean ``m``, empirical
Bayes as in Gelman et al., *Bayesian Data Analysis*, §5.3).

:meth:`CreatorTrust.fit` learns ``w ≥ 0`` and ``m`` in the spirit of RealGraph (Kamath et al., 2014),
at the creator level: evidence as of a split time predicts each creator's *future outcome rate* — of
``n_c`` exposures (impressions) in the next ``horizon_days``, ``k_c`` carry the outcome (like, profile
visit, follow, order, …). The loss is the binomial log-likelihood of those counts under ``p = T_c``,

    −Σ_c [k_c log T_c + (n_c − k_c) log(1 − T_c)] / Σ_c n_c,

so the fitted T_c is a calibrated estimate of the creator's next rate. T is unchanged when κ m, κ
(1 − m) and every w are scaled together, so the scale is fixed by holding κ (``prior_alpha +
prior_beta``) constant; the fitted weights are then in units of that prior strength. The pair-level
:meth:`~trustecon.trust.pair.PairTrust.fit` needs users who meet a creator again; this one needs only
that creators are seen again, which is what sparse short-video logs (KuaiRand) offer. Channels with
no evidence in the training data keep their configured weight (nothing can be learned about them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.optimize import minimize

from trustecon.trust.evidence import CHANNELS, NEGATIVE, POSITIVE, EvidenceConfig, as_of_of, evidence_sums
from trustecon.trust.pair import OUTCOMES, FittedBeta

__all__ = ["CREATOR_TRUST_SCHEMA", "CreatorTrust", "creator_nll", "fit_creator_weights"]

_POS_MASK = np.array([c in POSITIVE for c in CHANNELS])
#: Largest fitted weight in the optimiser's scaled units (columns at unit mean): see fit_creator_weights.
W_MAX = 1e4

#: ``tables/creator_trust``: the score, its beta parameters and evidence masses, the number of users
#: pooled, the as-of time and the pooled decayed sums per channel (what an explanation reads).
CREATOR_TRUST_SCHEMA = pa.schema(
    [
        ("creator_id", pa.int64()), ("trust", pa.float64()), ("confidence", pa.float64()), ("alpha", pa.float64()),
        ("beta", pa.float64()), ("positive", pa.float64()), ("negative", pa.float64()), ("users", pa.int64()),
        ("as_of", pa.timestamp("us", tz="UTC")), *[(f"e_{c}", pa.float64()) for c in CHANNELS],
    ]
)


def _ts(x: dt.datetime) -> ir.Scalar:
    return ibis.literal(x if x.tzinfo else x.replace(tzinfo=dt.UTC), type="timestamp('UTC')")


def creator_nll(
    m: float, w: np.ndarray, X: np.ndarray, k: np.ndarray, n: np.ndarray, kappa: float
) -> tuple[float, np.ndarray]:
    """Binomial negative log-likelihood per exposure of counts ``k`` of ``n`` under ``T = α / (α + β)``
    with ``α = κ m + X₊ w₊`` and ``β = κ (1 − m) + X₋ w₋`` (columns of ``X`` in :data:`CHANNELS` order),
    and its gradient in ``(m, w)``."""
    P = X[:, _POS_MASK] @ w[_POS_MASK]
    N = X[:, ~_POS_MASK] @ w[~_POS_MASK]
    A = kappa * m + P
    B = kappa * (1.0 - m) + N
    S = A + B
    total = float(n.sum())
    ll = k * np.log(A) + (n - k) * np.log(B) - n * np.log(S)
    dA = k / A - n / S
    dB = (n - k) / B - n / S
    g = np.zeros(1 + len(w))
    g[0] = kappa * float((dA - dB).sum())
    g[1:][_POS_MASK] = X[:, _POS_MASK].T @ dA
    g[1:][~_POS_MASK] = X[:, ~_POS_MASK].T @ dB
    return -float(ll.sum()) / total, -g / total


def fit_creator_weights(
    X: np.ndarray,
    k: np.ndarray,
    n: np.ndarray,
    w0: np.ndarray,
    kappa: float = 2.0,
    l2: float = 0.0,
    m_default: float = 0.5,
) -> tuple[float, np.ndarray, bool]:
    """Maximum-likelihood ``(m, w)`` of :func:`creator_nll` with ``w ≥ 0``, ``0 < m < 1`` (L-BFGS-B).

    Columns are scaled to unit mean inside the optimiser (pooled counts run to thousands while rare
    channels stay near one); all-zero columns keep their ``w0`` entry. ``l2``: ridge on the scaled
    weights. Starts at ``w0`` twice, with ``m`` at the pooled base rate ``Σk / Σn`` and at ``m_default``
    (the configured prior mean), and keeps the better end, so the fit is never worse than the configured
    model. Returns ``(m, w, converged)``."""
    X = np.asarray(X, float)
    k = np.minimum(np.asarray(k, float), np.asarray(n, float))
    n = np.asarray(n, float)
    if len(n) == 0 or n.sum() <= 0:
        raise ValueError("no exposures in the outcome window: nothing to fit")
    scale = X.mean(axis=0)
    live = scale > 0
    s = np.where(live, scale, 1.0)
    Xs = X / s
    rate = float(np.clip(k.sum() / n.sum(), 1e-6, 1 - 1e-6))
    v0 = np.asarray(w0, float) * s  # the same start in scaled units

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        v = np.where(live, theta[1:], 0.0)
        loss, g = creator_nll(theta[0], v, Xs, k, n, kappa)
        g[1:][~live] = 0.0
        loss += l2 * float(v @ v)
        g[1:] += 2 * l2 * v
        return loss, g

    # Bounded, not open-ended: on separable counts the likelihood's supremum is at infinite weights
    # and m at 0 or 1, where T rounds to exactly 0 or 1 in float64 (hypothesis found it). m within
    # [1e-6, 1 - 1e-6] and a scaled weight at most W_MAX (1e4 pseudo-outcomes on an average creator's
    # evidence, against a prior of κ: far past anything a fit can tell apart) keep T strictly inside
    # (0, 1); a configured weight above the cap stays reachable, so the fit is never worse than it.
    bounds = [(1e-6, 1 - 1e-6)] + [(0.0, max(W_MAX, v)) if x else (v, v) for x, v in zip(live, v0, strict=True)]
    best = None
    for m0 in (rate, float(np.clip(m_default, 1e-6, 1 - 1e-6))):
        res = minimize(f, np.concatenate([[m0], np.where(live, v0, 0.0)]), jac=True, method="L-BFGS-B",
                       bounds=bounds, options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None  # the loop above ran twice and kept a result
    w = np.where(live, best.x[1:] / s, np.asarray(w0, float))
    return float(best.x[0]), w, bool(best.success)


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    """A float column as float64 numpy, nulls as 0."""
    if col.null_count:
        col = pc.fill_null(col, 0.0)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def _pair_order(creator: np.ndarray, user: pa.ChunkedArray) -> np.ndarray:
    """The permutation that sorts pairs by creator, then user (nulls first): one sort of a packed
    64-bit key when both id ranges fit (6 ms for 285 k pairs against 37 ms for the two-key lexsort)."""
    if user.null_count == 0 and len(creator):
        u = user.to_numpy(zero_copy_only=False)
        c0, u0 = int(creator.min()), int(u.min())
        if int(creator.max()) - c0 < 2**31 and int(u.max()) - u0 < 2**32:
            return np.argsort(((creator - c0).astype(np.int64) << 32) | (u - u0).astype(np.int64))
    keys = pc.fill_null(user, np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)
    return np.lexsort((keys, creator))


class CreatorTrust(FittedBeta):
    """Creator-level trust: the beta model on every user's evidence pooled per creator (module doc).

    Parameters: ``config`` (half-life, short-view ratio, default weights), ``prior_alpha`` and
    ``prior_beta`` (prior Beta(α₀, β₀); κ = α₀ + β₀ also fixes the fitted weights' scale),
    ``prior_weight`` W of the confidence, and for :meth:`fit`: ``outcome`` (a key of
    :data:`~trustecon.trust.pair.OUTCOMES`), ``horizon_days``, ``exposure`` (the event kinds that count
    as one exposure, the rate's denominator) and ``l2``.
    """

    def __init__(
        self,
        config: EvidenceConfig | None = None,
        *,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        prior_weight: float = 2.0,
        outcome: str = "like",
        horizon_days: float = 7.0,
        exposure: Sequence[str] = ("impression",),
        l2: float = 0.0,
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        self.config = config or EvidenceConfig()
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.prior_weight = prior_weight
        self.outcome = outcome
        self.horizon_days = horizon_days
        self.exposure = tuple(exposure)
        self.l2 = l2

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> CreatorTrust:
        """The model a build used, from what :meth:`params` stored (``trustecon.toml``'s
        ``[trust.creator_trust]``): the weights and prior in use become its configuration; empty → defaults."""
        if not params:
            return cls()
        cfg, prior = cls._stored_args(params)
        return cls(cfg, **prior, outcome=params.get("outcome", "like"))

    # ------------------------------------------------------------------ evidence and scores
    def sums(self, events: ir.Table, as_of: dt.datetime) -> ir.Table:
        """Pooled decayed sums per creator: ``creator_id, users, e_<channel>…`` (as of ``as_of``)."""
        s = evidence_sums(events, as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC), self.config)
        s = s.filter(s.creator_id.notnull())
        return s.group_by("creator_id").aggregate(
            users=s.user_id.nunique(), **{f"e_{c}": s[f"e_{c}"].sum() for c in CHANNELS}
        )

    def transform(self, events: ir.Table, as_of: dt.datetime | None = None) -> ir.Table:
        """``creator_id, trust, confidence, alpha, beta, positive, negative, users`` as of ``as_of``
        (default: the latest event)."""
        when = as_of_of(events, as_of)
        if when is None:
            raise ValueError("cannot score creators on an empty event log")
        g = self.sums(events, when)
        w = self.weights
        a0, b0 = self.priors
        pos = sum((g[f"e_{c}"] * w[c] for c in POSITIVE), ibis.literal(0.0))
        neg = sum((g[f"e_{c}"] * w[c] for c in NEGATIVE), ibis.literal(0.0))
        g = g.mutate(positive=pos, negative=neg)
        alpha, beta = a0 + g.positive, b0 + g.negative
        mass = g.positive + g.negative
        return g.select(
            creator_id=g.creator_id, trust=alpha / (alpha + beta), confidence=mass / (mass + self.prior_weight),
            alpha=alpha, beta=beta, positive=g.positive, negative=g.negative, users=g.users,
        )

    def score(self, pairs: pa.Table, as_of: dt.datetime) -> pa.Table:
        """``tables/creator_trust`` (:data:`CREATOR_TRUST_SCHEMA`) from per-pair decayed sums already
        in memory: a ``pair_trust`` table (``user_id, creator_id, e_<channel>…``) computed with this
        model's half-life and short-view ratio. The same arithmetic as :meth:`transform` (and equal to
        it within rounding: ``build`` pools the pairs it has just scored instead of reading the log
        again). The pairs are pooled in a fixed order (by creator, then user), so the result does not
        depend on the order of the rows."""
        if pairs["creator_id"].null_count:
            pairs = pairs.filter(pc.is_valid(pairs["creator_id"]))
        if pairs.num_rows == 0:
            return CREATOR_TRUST_SCHEMA.empty_table()
        creator = pairs["creator_id"].to_numpy(zero_copy_only=False)
        order = _pair_order(creator, pairs["user_id"])
        creator = creator[order]
        starts = np.flatnonzero(np.r_[True, creator[1:] != creator[:-1]])
        users = np.add.reduceat(pc.is_valid(pairs["user_id"]).to_numpy(zero_copy_only=False)[order].astype(np.int64),
                                starts)
        X = {c: np.add.reduceat(_floats(pairs[f"e_{c}"])[order], starts) for c in CHANNELS}
        w = self.weights
        a0, b0 = self.priors
        k = len(starts)
        pos, neg = np.zeros(k), np.zeros(k)
        for c in POSITIVE:
            pos = pos + X[c] * w[c]
        for c in NEGATIVE:
            neg = neg + X[c] * w[c]
        alpha, beta = a0 + pos, b0 + neg
        mass = pos + neg
        when = pa.scalar(as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC), pa.timestamp("us", tz="UTC"))
        cols = {
            "creator_id": creator[starts], "trust": alpha / (alpha + beta),
            "confidence": mass / (mass + self.prior_weight),
            "alpha": alpha, "beta": beta, "positive": pos, "negative": neg, "users": users,
            "as_of": pa.array(np.full(k, when.value, np.int64), pa.timestamp("us", tz="UTC")),
            **{f"e_{c}": X[c] for c in CHANNELS},
        }
        return pa.table({f.name: pa.array(cols[f.name], f.type) for f in CREATOR_TRUST_SCHEMA},
                        schema=CREATOR_TRUST_SCHEMA)

    # ------------------------------------------------------------------ learning the weights
    def outcome_counts(self, events: ir.Table, start: dt.datetime, end: dt.datetime) -> ir.Table:
        """Per creator in ``(start, end]``: ``n`` exposures and ``k`` outcome events (long views: views
        with watch ratio ≥ 0.8)."""
        ev = events.filter((events.ts > _ts(start)) & (events.ts <= _ts(end)) & events.creator_id.notnull())
        hit = ev.kind.isin(OUTCOMES[self.outcome])
        if self.outcome == "long_view":
            hit = hit & (ev.duration_ms > 0) & (ev.watch_ms.cast("float64") >= 0.8 * ev.duration_ms)
        ev = ev.mutate(hit=hit.fill_null(False).cast("int64"), exp=ev.kind.isin(self.exposure).cast("int64"))
        g = ev.group_by("creator_id").aggregate(n=ev.exp.sum(), k=ev.hit.sum())
        return g.filter(g.n > 0)

    def fit(self, events: ir.Table, *, split: dt.datetime | None = None) -> CreatorTrust:
        """Learn ``w ≥ 0`` and the prior mean so that T_c as of ``split`` predicts each creator's outcome
        rate ``k_c / n_c`` within the next ``horizon_days`` (binomial likelihood; default split: the
        latest event minus the horizon). Events after ``split + horizon`` are never read.

        Sets ``weights_``, ``prior_alpha_``, ``prior_beta_``, ``split_``, ``n_creators_``,
        ``exposures_``, ``outcome_rate_``, ``log_loss_`` and ``log_loss_default_`` (the configured
        weights and prior on the same creators), ``converged_``.
        """
        horizon = dt.timedelta(days=self.horizon_days)
        if split is None:
            latest = as_of_of(events, None)
            if latest is None:
                raise ValueError("cannot fit on an empty event log")
            split = latest - horizon
        split = split if split.tzinfo else split.replace(tzinfo=dt.UTC)
        lab = self.outcome_counts(events, split, split + horizon)
        j = lab.left_join(self.sums(events, split), "creator_id")
        data = j.select("creator_id", "n", "k", **{f"e_{c}": j[f"e_{c}"].fill_null(0.0) for c in CHANNELS}).to_pyarrow()
        if data.num_rows == 0:
            raise ValueError(f"no exposures in ({split.isoformat()}, +{self.horizon_days} days]: nothing to fit")
        X = np.column_stack([data[f"e_{c}"].to_numpy(zero_copy_only=False) for c in CHANNELS]).astype(float)
        n = data["n"].to_numpy(zero_copy_only=False).astype(float)
        k = data["k"].to_numpy(zero_copy_only=False).astype(float)
        if k.sum() == 0:
            raise ValueError(f"outcome {self.outcome!r} never happens after the split: nothing to learn")
        kappa = self.prior_alpha + self.prior_beta
        w0 = np.array([self.config.weight(c) for c in CHANNELS])
        m, w, ok = fit_creator_weights(X, k, n, w0, kappa, self.l2, self.prior_alpha / kappa)
        self.prior_alpha_, self.prior_beta_ = kappa * m, kappa * (1.0 - m)
        self.weights_ = {c: float(v) for c, v in zip(CHANNELS, w, strict=True)}
        self.split_ = split
        self.n_creators_ = int(len(n))
        self.exposures_ = int(n.sum())
        self.outcome_rate_ = float(k.sum() / n.sum())
        self.log_loss_ = creator_nll(m, w, X, np.minimum(k, n), n, kappa)[0]
        self.log_loss_default_ = creator_nll(self.prior_alpha / kappa, w0, X, np.minimum(k, n), n, kappa)[0]
        self.converged_ = ok
        return self

    def params(self) -> dict[str, Any]:
        """Everything needed to reproduce a score."""
        return {**self._shared_params(), "outcome": self.outcome}
