"""Purchase propensity fitted on the log: who is likely to place a live order soon.

The engine's feed uses it to show live rooms (where orders happen) first to the users likely to buy
(docs/evaluation/distribution.md §3). Everything comes from logged events; nothing reads latent state.

Model: logistic regression ``P(y = 1 | x) = σ(β·x)`` with ``y`` "a live order (an ``order`` with a
``session_id``) within the next ``horizon`` days" and features, per user, as of a day start:
``x = (1, log1p orders, log1p product clicks, log1p live entries, e^(−days since last order / 14))``.
Each day the model is refitted on the snapshot taken ``horizon`` days earlier, labelled by what
followed (all users with any logged event then), by iteratively reweighted least squares with an L2
penalty λ = 1 on the slopes (Hastie, Tibshirani & Friedman, *Elements of Statistical Learning* §4.4).
Until a first labelled snapshot exists, the score falls back to ``1 − e^(−(orders + 0.25·clicks))``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["PurchasePropensity", "fit_logistic"]

_KINDS = ("order", "product_click", "live_enter")


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 25) -> np.ndarray:
    """β of an L2-penalised logistic regression by IRLS (Newton); column 0 of ``x`` is the intercept
    (not penalised). Returns zeros but the intercept when ``y`` has a single class."""
    n, p = x.shape
    beta = np.zeros(p)
    pen = np.full(p, l2)
    pen[0] = 0.0
    if n == 0:
        return beta
    ybar = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    beta[0] = np.log(ybar / (1 - ybar))
    if y.min() == y.max():
        return beta
    for _ in range(iterations):
        z = x @ beta
        mu = 1.0 / (1.0 + np.exp(-z))
        w = np.maximum(mu * (1.0 - mu), 1e-9)
        grad = x.T @ (y - mu) - pen * beta
        hess = (x * w[:, None]).T @ x + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return beta


class PurchasePropensity:
    """Per-user probability of a live order within ``horizon`` days, refitted daily on the log.

    Call :meth:`observe` with each day's events, then :meth:`start_day` at the start of each day
    (snapshots the features and refits), then :meth:`predict` for the day's users."""

    def __init__(self, horizon: int = 7, l2: float = 1.0) -> None:
        self.horizon = horizon
        self.l2 = l2
        self.counts = np.zeros((0, 3))  # per user id: orders, product clicks, live entries
        self.last_order = np.zeros(0)  # day index of the last order, -inf if none
        self.seen = np.zeros(0, dtype=bool)
        self.day = 0
        self._snaps: list[tuple[int, np.ndarray, np.ndarray]] = []  # (day, features, seen users)
        self._live_buyers: list[tuple[int, np.ndarray]] = []  # (day, user ids with a live order)
        self.beta_: np.ndarray | None = None

    def _grow(self, top: int) -> None:
        if top >= self.counts.shape[0]:
            extra = top + 1 - self.counts.shape[0]
            self.counts = np.vstack([self.counts, np.zeros((extra, 3))])
            self.last_order = np.r_[self.last_order, np.full(extra, -np.inf)]
            self.seen = np.r_[self.seen, np.zeros(extra, dtype=bool)]

    def observe(self, events: pa.Table) -> None:
        """Fold one day's events into the per-user counts (the day is the one last started)."""
        ok = pc.is_valid(events["user_id"])
        ev = events.filter(ok)
        if ev.num_rows == 0:
            return
        u = ev["user_id"].to_numpy(zero_copy_only=False).astype(np.int64)
        self._grow(int(u.max()))
        self.seen[u] = True
        kind = ev["kind"]
        for j, k in enumerate(_KINDS):
            sel = pc.equal(kind, k).to_numpy(zero_copy_only=False)
            if sel.any():
                self.counts[:, j] += np.bincount(u[sel], minlength=self.counts.shape[0])
                if k == "order":
                    self.last_order[np.unique(u[sel])] = self.day
                    live = sel & pc.is_valid(ev["session_id"]).to_numpy(zero_copy_only=False)
                    self._live_buyers.append((self.day, np.unique(u[live])))

    def features(self, ids: np.ndarray) -> np.ndarray:
        """The feature rows ``x`` (see module doc) of user ids ``ids`` as of now."""
        ids = np.asarray(ids, dtype=np.int64)
        x = np.zeros((ids.size, 5))
        x[:, 0] = 1.0
        ok = ids < self.counts.shape[0]
        x[ok, 1:4] = np.log1p(self.counts[ids[ok]])
        gap = self.day - self.last_order[ids[ok]]
        x[ok, 4] = np.where(np.isfinite(gap), np.exp(-gap / 14.0), 0.0)
        return x

    def start_day(self, day: int) -> None:
        """Snapshot today's features (all users seen so far) and refit on the snapshot ``horizon``
        days old, labelled by the live orders since."""
        self.day = day
        users = np.flatnonzero(self.seen)
        self._snaps.append((day, self.features(users), users))
        old = [s for s in self._snaps if s[0] <= day - self.horizon]
        if not old:
            return
        d0, x, users0 = old[-1]
        self._snaps = [s for s in self._snaps if s[0] >= d0]
        bought = [b for d, b in self._live_buyers if d0 <= d < d0 + self.horizon]
        self._live_buyers = [(d, b) for d, b in self._live_buyers if d >= d0]
        y = np.isin(users0, np.concatenate(bought) if bought else np.zeros(0, np.int64)).astype(np.float64)
        self.beta_ = fit_logistic(x, y, self.l2)

    def predict(self, ids: np.ndarray) -> np.ndarray:
        """P(live order within ``horizon`` days) per user id (the fallback score before a first fit)."""
        x = self.features(ids)
        if self.beta_ is None:
            o, c = np.expm1(x[:, 1]), np.expm1(x[:, 2])
            return 1.0 - np.exp(-(o + 0.25 * c))
        return 1.0 / (1.0 + np.exp(-(x @ self.beta_)))
