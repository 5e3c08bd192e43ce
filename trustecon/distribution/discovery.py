"""Discovery: collaborative filtering on user × creator with the ``implicit`` library's ALS.

Implicit-feedback matrix factorisation (Hu, Koren & Volinsky, ICDM 2008): confidence
``c_uc = 1 + α·w_uc`` on the observed affinity ``w_uc`` and preference ``p_uc = 1[w_uc > 0]``;
ALS minimises ``Σ c_uc (p_uc - x_u·y_c)² + λ(‖x‖² + ‖y‖²)``. The score of creator ``c`` for user
``u`` is ``x_u·y_c``. We use implicit's CPU solver (set ``OPENBLAS_NUM_THREADS=1``).

The affinity ``w_uc`` comes from :func:`interaction_weights`, an Ibis pipeline over the event log
(co-behaviour: what a user watched, liked, shared, followed, bought from a creator).
"""

from __future__ import annotations

import os

import ibis
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

__all__ = ["EVENT_WEIGHTS", "CreatorALS", "interaction_weights"]

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: Weight of one event of each kind in the user × creator affinity (defaults; a long view, a follow
#: or an order says more than an impression). Negative kinds are left out: ALS takes non-negative
#: confidence, and "not interested" is the trust model's business.
EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "like": 2.0,
    "comment": 3.0,
    "share": 3.0,
    "profile_visit": 2.0,
    "follow": 5.0,
    "live_enter": 2.0,
    "gift": 4.0,
    "product_click": 1.0,
    "order": 5.0,
    "rate": 1.0,
}


def interaction_weights(events: ibis.Table, weights: dict[str, float] | None = None) -> ibis.Table:
    """User × creator affinity ``w_uc = Σ_events weight(kind)`` (an Ibis table: user_id, creator_id, weight).

    Pure: the caller executes it on its backend (DuckDB or Spark)."""
    weights = weights or EVENT_WEIGHTS
    w = ibis.cases(*[(events.kind == k, v) for k, v in weights.items()], else_=0.0)
    t = events.filter(events.user_id.notnull() & events.creator_id.notnull() & events.kind.isin(list(weights)))
    t = t.mutate(w=w)
    return (
        t.group_by(["user_id", "creator_id"])
        .aggregate(weight=t.w.sum())
        .filter(lambda x: x.weight > 0)
        .order_by(["user_id", "creator_id"])
    )


class CreatorALS:
    """ALS on user × creator implicit feedback (scikit-learn style wrapper over ``implicit``).

    Parameters: ``factors``, ``regularization`` (λ), ``iterations``, ``alpha`` (confidence scale α),
    ``random_state``. Learned: ``user_ids_``/``creator_ids_`` (sorted ids, the row/column order),
    ``user_factors_``/``creator_factors_`` (numpy arrays), ``matrix_`` (the CSR user × creator weights).
    """

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 10.0,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, user_ids: np.ndarray, creator_ids: np.ndarray, weights: np.ndarray | None = None) -> CreatorALS:
        """Fit on (user, creator, weight) triples (repeats are summed); returns self."""
        from implicit.cpu.als import AlternatingLeastSquares

        user_ids = np.asarray(user_ids, dtype=np.int64)
        creator_ids = np.asarray(creator_ids, dtype=np.int64)
        w = np.ones(user_ids.size) if weights is None else np.asarray(weights, dtype=np.float64)
        self.user_ids_, ui = np.unique(user_ids, return_inverse=True)
        self.creator_ids_, ci = np.unique(creator_ids, return_inverse=True)
        m = sp.csr_matrix((w, (ui, ci)), shape=(self.user_ids_.size, self.creator_ids_.size))
        m.sum_duplicates()
        # Log-scaled confidence keeps a heavy watcher from swamping the factors (Johnson 2014).
        m.data = np.log1p(m.data)
        self.matrix_ = m
        # implicit parallelises itself; a BLAS thread pool on top oversubscribes the cores.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                alpha=self.alpha,
                random_state=self.random_state,
                calculate_training_loss=False,
            )
            if m.nnz:
                model.fit(m, show_progress=False)
        if m.nnz:
            self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
            self.creator_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        else:
            self.user_factors_ = np.zeros((self.user_ids_.size, self.factors), dtype=np.float32)
            self.creator_factors_ = np.zeros((self.creator_ids_.size, self.factors), dtype=np.float32)
        return self

    def fit_table(self, table: pa.Table) -> CreatorALS:
        """Fit on an Arrow table (user_id, creator_id, weight), e.g. :func:`interaction_weights` output."""
        return self.fit(table["user_id"].to_numpy(), table["creator_id"].to_numpy(), table["weight"].to_numpy())

    def user_index(self, user_ids: np.ndarray) -> np.ndarray:
        """Row of each user id in the factors, -1 if unseen."""
        return _lookup(self.user_ids_, user_ids)

    def creator_index(self, creator_ids: np.ndarray) -> np.ndarray:
        """Row of each creator id in the factors, -1 if unseen."""
        return _lookup(self.creator_ids_, creator_ids)

    def score(self, user_ids: np.ndarray, creator_ids: np.ndarray) -> np.ndarray:
        """``x_u·y_c`` for paired arrays; 0 where the user or the creator is unseen."""
        ui = self.user_index(user_ids)
        ci = self.creator_index(creator_ids)
        ok = (ui >= 0) & (ci >= 0)
        out = np.zeros(ui.size, dtype=np.float64)
        out[ok] = np.einsum("ij,ij->i", self.user_factors_[ui[ok]], self.creator_factors_[ci[ok]])
        return out

    def score_matrix(self, user_ids: np.ndarray, creator_ids: np.ndarray) -> np.ndarray:
        """Dense ``len(users) × len(creators)`` score matrix (0 rows/columns for unseen ids)."""
        ui = self.user_index(user_ids)
        ci = self.creator_index(creator_ids)
        uf = np.where((ui >= 0)[:, None], self.user_factors_[np.maximum(ui, 0)], 0.0)
        cf = np.where((ci >= 0)[:, None], self.creator_factors_[np.maximum(ci, 0)], 0.0)
        return uf @ cf.T


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    if sorted_ids.size == 0:
        return np.full(ids.size, -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.minimum(pos, sorted_ids.size - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)
