"""Who to follow ("who to trust next"): trust propagation blended with co-behaviour, reciprocity and
popularity, with blend weights tuned on a validation split only.

Features of a candidate ``v`` for user ``u`` on the directed trust graph ``A`` (``u → v``: u follows
or trusts v, weight = trust):

- ``ppr``: personalized PageRank from ``u`` (Haveliwala 2002; Twitter's WTF, Gupta et al. 2013):
  ``π_u = α e_u + (1-α) Pᵀ π_u`` with ``P`` the row-normalised ``A`` and restart ``α`` (dangling
  mass returns to ``u``); feature ``log(1 + n·π_u(v))``.
- ``cofollow``: "people who follow what you follow also follow v" (item-based CF, Sarwar et al.
  2001): ``Σ_{w ∈ out(u)} cos_in(w, v)`` with ``cos_in`` the cosine of the follower sets;
  feature ``log(1 + ·)``.
- ``behaviour``: cosine of ``u``'s and ``v``'s behaviour vectors (e.g. ratings or views) when a
  behaviour matrix is given, else 0.
- ``reciprocity``: 1 if ``v → u`` is an edge (trust tends to be returned).
- ``popularity``: ``log(1 + in-degree(v))``.

Score ``s(u,v) = Σ_f w_f · z_f(u,v)`` with each feature standardised by its spread over the
validation pairs. :meth:`WhoToFollow.tune` picks ``w`` by grid search maximising
``(ROC-AUC + AP)/2`` on validation pairs (held-out edges and sampled non-edges); ``w_ppr ∈ {0,1}``
fixes the scale, since a ranking does not change when all weights are multiplied.

Why hand-written: PPR for a whole block of sources at once is one sparse-dense product per iteration
(igraph's per-source PRPACK gives the same numbers, checked in the tests, but one call per user).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import cast

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

__all__ = ["FEATURES", "WhoToFollow", "average_precision", "roc_auc"]

FEATURES: tuple[str, ...] = ("ppr", "cofollow", "behaviour", "reciprocity", "popularity")
#: Defaults: tuned on FilmTrust's validation split (scripts/eval_distribution.py), rounded.
DEFAULT_WEIGHTS: dict[str, float] = {
    "ppr": 1.0,
    "cofollow": 0.5,
    "behaviour": 0.0,
    "reciprocity": 1.0,
    "popularity": 0.25,
}
_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC-AUC as the Mann–Whitney statistic (ties count one half)."""
    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision ``Σ_k P@k · rel_k / #relevant`` over the ranking by descending score
    (ties broken pessimistically: negatives first among equal scores)."""
    y = np.asarray(y, dtype=bool)
    if not y.any():
        return float("nan")
    order = np.lexsort((y, -np.asarray(s)))
    rel = y[order]
    hits = np.cumsum(rel)
    return float((hits[rel] / (np.flatnonzero(rel) + 1)).mean())


class WhoToFollow:
    """Who-to-follow on a directed trust graph (scikit-learn conventions).

    Parameters: ``alpha`` (PPR restart probability, 0.15), ``n_iter`` (power iterations, 30),
    ``weights`` (blend weights by feature; default :data:`DEFAULT_WEIGHTS`), ``random_state``.
    Learned: ``nodes_`` (sorted ids), ``adjacency_`` (CSR), ``scale_`` (feature spreads),
    ``weights_``.
    """

    def __init__(
        self,
        alpha: float = 0.15,
        n_iter: int = 30,
        weights: dict[str, float] | None = None,
        random_state: int = 0,
    ) -> None:
        self.alpha = alpha
        self.n_iter = n_iter
        self.weights = weights
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        weight: np.ndarray | None = None,
        *,
        nodes: np.ndarray | None = None,
        behaviour: sp.spmatrix | None = None,
    ) -> WhoToFollow:
        """Fit on directed edges ``src → dst`` (weights default 1). ``nodes`` widens the node set
        (e.g. every user with any edge); ``behaviour`` is an optional ``len(nodes_) × items`` matrix
        whose rows follow ``nodes_`` order. Returns self."""
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        w = np.ones(src.size) if weight is None else np.asarray(weight, dtype=np.float64)
        extra = np.zeros(0, np.int64) if nodes is None else np.asarray(nodes, dtype=np.int64)
        self.nodes_ = np.unique(np.concatenate([src, dst, extra]))
        n = self.nodes_.size
        si, di = self.index(src), self.index(dst)
        a = sp.csr_matrix((w, (si, di)), shape=(n, n))
        a.sum_duplicates()
        self.adjacency_ = a
        out_w = np.asarray(a.sum(axis=1)).ravel()
        inv = np.divide(1.0, out_w, out=np.zeros(n), where=out_w > 0)
        self._pt = (sp.diags(inv) @ a).T.tocsr()  # Pᵀ
        self._dangling = out_w == 0
        b = (a > 0).astype(np.float64).tocsc()
        indeg = np.asarray(b.sum(axis=0)).ravel()
        self.indegree_ = indeg
        # Cosine of follower sets between columns: C = Bnᵀ Bn with columns scaled to unit norm.
        bn = b @ sp.diags(np.divide(1.0, np.sqrt(indeg), out=np.zeros(n), where=indeg > 0))
        self._colcos = (bn.T @ bn).tocsr()
        self._bin = b.tocsr()
        if behaviour is not None:
            beh = sp.csr_matrix(behaviour, dtype=np.float64)
            norms = np.sqrt(np.asarray(beh.multiply(beh).sum(axis=1)).ravel())
            self._beh = (sp.diags(np.divide(1.0, norms, out=np.zeros(n), where=norms > 0)) @ beh).tocsr()
        else:
            self._beh = None
        self.weights_ = dict(DEFAULT_WEIGHTS if self.weights is None else self.weights)
        self.scale_ = {f: 1.0 for f in FEATURES}
        return self

    def index(self, ids: np.ndarray) -> np.ndarray:
        """Position of each id in ``nodes_`` (-1 if absent)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.nodes_, ids), max(self.nodes_.size - 1, 0))
        return np.where(self.nodes_.size and (self.nodes_[pos] == ids), pos, -1)

    # ------------------------------------------------------------------ features
    def ppr(self, users: np.ndarray) -> np.ndarray:
        """Personalized PageRank vectors, one row per user id (zeros for unknown users):
        ``π ← α e_u + (1-α)(Pᵀπ + e_u·Σ_dangling π)``."""
        ui = self.index(users)
        n = self.nodes_.size
        e = np.zeros((n, ui.size))
        ok = ui >= 0
        e[ui[ok], np.flatnonzero(ok)] = 1.0
        r = e.copy()
        for _ in range(self.n_iter):
            dmass = r[self._dangling].sum(axis=0)
            r = self.alpha * e + (1 - self.alpha) * (self._pt @ r + e * dmass[None, :])
        return r.T

    def feature_matrices(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Every feature for ``users`` × all nodes, as dense ``len(users) × n`` arrays (raw scale)."""
        ui = self.index(users)
        n = self.nodes_.size
        ok = ui >= 0
        safe = np.maximum(ui, 0)
        mask = ok[:, None].astype(np.float64)
        out_rows = self._bin[safe]
        feats = {
            "ppr": np.log1p(n * self.ppr(users)),
            "cofollow": np.log1p((out_rows @ self._colcos).toarray()) * mask,
            "reciprocity": self._bin.T[safe].toarray() * mask if n else np.zeros((ui.size, 0)),
            "popularity": np.broadcast_to(np.log1p(self.indegree_)[None, :], (ui.size, n)),
        }
        if self._beh is not None:
            feats["behaviour"] = (self._beh[safe] @ self._beh.T).toarray() * mask
        else:
            feats["behaviour"] = np.zeros((ui.size, n))
        return feats

    def pair_features(self, users: np.ndarray, cands: np.ndarray, chunk: int = 512) -> dict[str, np.ndarray]:
        """Features of (user, candidate) pairs (unknown candidates get 0 except where undefined)."""
        users = np.asarray(users, dtype=np.int64)
        ci = self.index(cands)
        out = {f: np.zeros(users.size) for f in FEATURES}
        uniq, inv = np.unique(users, return_inverse=True)
        for s in range(0, uniq.size, chunk):
            block = uniq[s : s + chunk]
            fm = self.feature_matrices(block)
            rows = np.flatnonzero((inv >= s) & (inv < s + chunk))
            okc = ci[rows] >= 0
            r, c = inv[rows][okc] - s, ci[rows][okc]
            for f in FEATURES:
                out[f][rows[okc]] = fm[f][r, c]
        return out

    def blend(self, feats: dict[str, np.ndarray], weights: dict[str, float] | None = None) -> np.ndarray:
        """``Σ_f w_f · feats_f / scale_f``."""
        w = self.weights_ if weights is None else weights
        # FEATURES is not empty, so the sum is an array (never sum's start value 0).
        return cast(np.ndarray, sum(w.get(f, 0.0) * feats[f] / self.scale_[f] for f in FEATURES))

    # ------------------------------------------------------------------ tuning and use
    def tune(
        self, users: np.ndarray, cands: np.ndarray, labels: np.ndarray, grid: Sequence[float] = _GRID
    ) -> WhoToFollow:
        """Grid-search the blend weights on validation pairs (never on test); sets ``weights_``,
        ``scale_`` and ``tuning_`` (the best validation (AUC+AP)/2). Returns self."""
        feats = self.pair_features(users, cands)
        self.scale_ = {f: float(np.std(v)) or 1.0 for f, v in feats.items()}
        z = {f: feats[f] / self.scale_[f] for f in FEATURES}
        used = [f for f in FEATURES if f != "ppr" and np.std(z[f]) > 0]
        best, best_w = -np.inf, None
        for w_ppr in (0.0, 1.0):
            for combo in itertools.product(grid, repeat=len(used)):
                if w_ppr == 0 and max(combo, default=0) == 0:
                    continue
                w = {"ppr": w_ppr, **dict(zip(used, combo, strict=True))}
                s = cast(np.ndarray, sum(w.get(f, 0.0) * z[f] for f in FEATURES))  # an array, as in blend
                val = (roc_auc(labels, s) + average_precision(labels, s)) / 2
                if val > best + 1e-12:
                    best, best_w = val, w
        if best_w is None:  # every (AUC+AP)/2 was NaN, e.g. labels of one class only (was an AttributeError)
            raise ValueError("tune: no weights could be scored; the labels need both positives and negatives")
        self.weights_ = {f: float(best_w.get(f, 0.0)) for f in FEATURES}
        self.tuning_ = float(best)
        return self

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        """Blended score of every node for each of ``users`` (dense ``len(users) × n``)."""
        return self.blend(self.feature_matrices(users))

    def suggest(self, user: int, k: int = 10, candidates: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-``k`` (id, score) to follow for ``user``: not the user, not already followed, and among
        ``candidates`` when given (e.g. creators only). An unseen user gets the popular ones."""
        s = self.score_matrix(np.array([user]))[0]
        return [(int(self.nodes_[i]), float(s[i])) for i in self._top(s, user, k, candidates)]

    def _top(self, score: np.ndarray, user: int, k: int, candidates: np.ndarray | None) -> list[int]:
        """Positions of the top-``k`` finite scores, the user and whom they already follow left out."""
        s = score.copy()
        ui = self.index(np.array([user]))[0]
        if ui >= 0:
            s[ui] = -np.inf
            s[self._bin[ui].indices] = -np.inf
        if candidates is not None:
            keep = np.zeros(s.size, dtype=bool)
            ci = self.index(candidates)
            keep[ci[ci >= 0]] = True
            s[~keep] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        return [int(i) for i in order if np.isfinite(s[i])]

    def suggest_explained(
        self, user: int, k: int = 10, candidates: np.ndarray | None = None
    ) -> list[dict[str, object]]:
        """:meth:`suggest` with each suggestion's reasons: ``parts`` (feature → ``w_f · feature / scale_f``;
        they add up to ``score``), ``via`` (how many of the accounts ``user`` follows or trusts follow
        or trust it: the paths personalized PageRank walks first), ``follows_you``, ``trusters`` (its
        in-degree) and ``because`` (the parts that raised it, largest first, in words)."""
        fm = self.feature_matrices(np.array([user]))
        score = self.blend(fm)[0]
        ui = self.index(np.array([user]))[0]
        mine = self._bin[ui] if ui >= 0 else None
        out: list[dict[str, object]] = []
        for i in self._top(score, user, k, candidates):
            parts = {f: float(self.weights_.get(f, 0.0) * fm[f][0, i] / self.scale_[f]) for f in FEATURES}
            via = int(mine.multiply(self._bin[:, [i]].T).sum()) if mine is not None else 0
            facts = {"via": via, "follows_you": bool(parts["reciprocity"] > 0),
                     "trusters": int(self.indegree_[i])}
            out.append({"creator_id": int(self.nodes_[i]), "score": float(score[i]), "parts": parts, **facts,
                        "because": _because(parts, facts)})
        return out


def _because(parts: dict[str, float], facts: dict[str, int | bool]) -> str:
    """The parts that raised a suggestion, largest first, in a user's words."""
    via, n = int(facts["via"]), int(facts["trusters"])
    words = {
        "ppr": ("one of the accounts you follow or trust follows or trusts them" if via == 1
                else f"{via:,} of the accounts you follow or trust follow or trust them" if via
                else "close to you in the trust graph"),
        "cofollow": "people who follow the creators you follow also follow them",
        "reciprocity": "they follow or trust you",
        "popularity": "1 person follows or trusts them" if n == 1 else f"{n:,} people follow or trust them",
        "behaviour": "they behave like you",
    }
    up = sorted((f for f in FEATURES if parts[f] > 0), key=lambda f: -parts[f])
    return "; ".join(words[f] for f in up) or "no strong reason: the best left among few candidates"


def trust_edges(ws: object, con: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The workspace's trust graph ``user → creator``: current follows (weight 1) and pair trust
    rows (weight ``T``); a pair in both keeps the larger weight."""
    from trustecon.distribution.pipelines import follow_state

    f = follow_state(ws.events(con)).to_pyarrow()  # type: ignore[attr-defined]
    src = [f["user_id"].to_numpy()]
    dst = [f["creator_id"].to_numpy()]
    w = [np.ones(f.num_rows)]
    if ws.has_table("pair_trust"):  # type: ignore[attr-defined]
        t = ws.read_table("pair_trust")  # type: ignore[attr-defined]
        src.append(t["user_id"].to_numpy())
        dst.append(t["creator_id"].to_numpy())
        w.append(t["trust"].to_numpy().astype(np.float64))
    s, d, ww = np.concatenate(src), np.concatenate(dst), np.concatenate(w)
    if s.size == 0:
        return s, d, ww
    order = np.lexsort((-ww, d, s))
    s, d, ww = s[order], d[order], ww[order]
    first = np.r_[True, (s[1:] != s[:-1]) | (d[1:] != d[:-1])]
    return s[first], d[first], ww[first]


def suggest_creators(
    ws: object, con: object, user: int, k: int = 10, model: WhoToFollow | None = None
) -> list[dict[str, object]]:
    """Creators ``user`` may want to follow next, best first: ``[{creator_id, score, parts, via,
    follows_you, trusters, because}]`` (:meth:`WhoToFollow.suggest_explained`).

    Fits :class:`WhoToFollow` on the workspace's trust graph (follows ∪ pair trust) unless a fitted
    ``model`` is given; candidates are every creator the log names (published, went live or was
    interacted with), minus those ``user`` already follows. A user the graph has never seen gets
    the most followed creators."""
    from trustecon.distribution.pipelines import creator_stats

    creators = creator_stats(ws.events(con)).to_pyarrow()["creator_id"].to_numpy()  # type: ignore[attr-defined]
    if model is None:
        s, d, w = trust_edges(ws, con)
        model = WhoToFollow().fit(s, d, w, nodes=creators)
    return model.suggest_explained(user, k, candidates=creators)
