"""Built-in distribution policies: ``traffic``, ``algorithm``, ``trust`` (DESIGN.md §2, three stages).

Each scores every (active user, eligible creator) cell and draws ``slots`` creators per user without
replacement with the Gumbel-top-k trick (sampling proportional to ``exp(score)``, Plackett–Luce;
Kool et al. 2019, "Stochastic Beams and Where to Find Them"). Scores (log-weights):

- ``traffic``: ``2 · log(1 + followers_c)`` — the popular get the eyeballs (traffic economy).
- ``algorithm``: ``3 · log(m_uc) + 2 · log(q_c) + 0.5 · log(1 + followers_c)`` — predicted engagement
  from interest match and quality (algorithm economy).
- ``trust``: creators the user follows, ordered by latent trust, fill the slots first; the rest are
  drawn by ``log(m_uc)`` (flat: every creator gets a chance; trust economy). Drawn without the dense
  score matrix: a stranger's weight depends only on its category (:meth:`TrustPolicy.exposures`).

Built-ins read the world's latent state (they are part of the world); an outside :class:`Policy` sees
only the logged events. Users are scored in blocks so memory stays bounded on the large preset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from trustecon.simulate.policy import DayContext

if TYPE_CHECKING:  # pragma: no cover
    from trustecon.simulate.world import World

__all__ = ["AlgorithmPolicy", "BuiltinPolicy", "TrafficPolicy", "TrustPolicy", "builtin_policy"]

BLOCK = 1024  # users scored at once: 1024 × eligible creators floats
#: Above this many eligible creators the exact factorised sampler replaces dense scoring.
DENSE_MAX = 2048
MAX_ROUNDS = 8


class BuiltinPolicy:
    """Base of the built-in policies: Gumbel-top-k over a per-cell score."""

    name = "builtin"

    def __init__(self) -> None:
        self.world: World | None = None

    def bind(self, world: World) -> None:
        """Give the policy read access to the world's latent state."""
        self.world = world

    def observe(self, events: pa.Table) -> None:  # noqa: D401 - built-ins read the world directly
        """Built-ins read the world's state, not the log."""

    def scores(self, users: np.ndarray, creators: np.ndarray, follow: np.ndarray) -> np.ndarray:
        """Log-weights, shape ``(len(users), len(creators))``; indices are 0-based world indices."""
        raise NotImplementedError

    def exposures(self, ctx: DayContext, rng: np.random.Generator) -> np.ndarray:
        assert self.world is not None, "bind(world) first"
        users = ctx.user_ids - 1
        creators = ctx.creator_ids - 1
        n, m, k = users.size, creators.size, min(ctx.slots, creators.size)
        out = np.full((n, ctx.slots), -1, dtype=np.int64)
        if n == 0 or m == 0 or k == 0:
            return out
        if m > DENSE_MAX:
            return self._sampled(ctx, rng, users, creators, out, k)
        follows = ctx.follows.tocoo()
        f_row, f_col = follows.row.astype(np.int64), follows.col.astype(np.int64)
        f_bounds = np.searchsorted(f_row, np.arange(0, n + BLOCK, BLOCK)) if f_row.size else None
        if f_bounds is not None and not (np.diff(f_row) >= 0).all():
            order = np.argsort(f_row, kind="stable")
            f_row, f_col = f_row[order], f_col[order]
            f_bounds = np.searchsorted(f_row, np.arange(0, n + BLOCK, BLOCK))
        col_of = np.full(self.world.cfg.creators, -1)
        col_of[creators] = np.arange(m)
        for b, lo in enumerate(range(0, n, BLOCK)):
            hi = min(lo + BLOCK, n)
            fol = np.zeros((hi - lo, m), dtype=bool)
            if f_bounds is not None:
                fol[f_row[f_bounds[b]:f_bounds[b + 1]] - lo, f_col[f_bounds[b]:f_bounds[b + 1]]] = True
            s = self.scores(users[lo:hi], creators, fol).astype(np.float32, copy=False)
            # key = log(−log U) − score = −(score + Gumbel(0, 1)), in float32 and in place: the k smallest
            # keys are the Gumbel-top-k. The scoring is the hot loop of large runs.
            key = rng.random(s.shape, dtype=np.float32)
            np.maximum(key, np.float32(1e-12), out=key)
            np.log(key, out=key)
            np.negative(key, out=key)
            np.log(key, out=key)
            key -= s
            # Nobody is shown to themselves (creators are users too: person i is creator i).
            r = np.flatnonzero(users[lo:hi] < col_of.size)
            c = col_of[users[lo:hi][r]]
            key[r[c >= 0], c[c >= 0]] = np.inf
            top = np.argpartition(key, k - 1, axis=1)[:, :k]
            ok = np.isfinite(np.take_along_axis(key, top, axis=1))
            out[lo:hi, :k] = np.where(ok, top, -1)
        return out

    # ------------------------------------------------------------------ large worlds
    def factors(self, users: np.ndarray, creators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``exp(score) = A[u, category_c] · w_c``: A (users × K) and w (creators), both ≥ 0."""
        raise NotImplementedError

    def followed_first(self) -> bool:
        return False

    def _sampled(self, ctx: DayContext, rng: np.random.Generator, users: np.ndarray, creators: np.ndarray,
                 out: np.ndarray, k: int) -> np.ndarray:
        """The same distribution without the users × creators matrix.

        Plackett–Luce sampling without replacement equals drawing with replacement and skipping
        repeats; each draw ∝ A[u, k_c]·w_c is a category (∝ A[u, k]·W_k, W_k = Σ_{c in k} w_c) then a
        creator within it (∝ w_c). Rounds of 4·slots draws per user until the slots are full (at most
        MAX_ROUNDS rounds; a user still short under extremely skewed weights gets fewer slots)."""
        w = self.world
        assert w is not None
        n = users.size
        filled = np.zeros(n, dtype=np.int64)
        taken_r = np.zeros(0, dtype=np.int64)
        taken_c = np.zeros(0, dtype=np.int64)
        if self.followed_first():
            fol = ctx.follows.tocoo()
            r, c = fol.row.astype(np.int64), fol.col.astype(np.int64)
            r, c, keep, filled = _place_followed(w, users, creators, r, c, out, k, rng)
            taken_r, taken_c = r[keep], c[keep]
        A, wc = self.factors(users, creators)
        cat = w.pop.category[creators]
        K = A.shape[1]
        order_c = np.argsort(cat, kind="stable")
        cum_w = np.cumsum(wc[order_c])
        W = np.bincount(cat, weights=wc, minlength=K)
        before = np.concatenate([[0.0], np.cumsum(W)[:-1]])
        R = 4 * k
        placed = taken_r * creators.size + taken_c
        short = np.flatnonzero(filled < k)
        for _ in range(MAX_ROUNDS):  # rows left short (skewed weights) draw again
            if short.size == 0:
                break
            for lo in range(0, short.size, BLOCK * 8):
                rws = short[lo:lo + BLOCK * 8]
                cw = np.cumsum(A[rws] * W[None, :], axis=1)
                u = rng.random((rws.size, R)) * cw[:, -1:]
                kk = np.minimum((cw[:, None, :] < u[:, :, None]).sum(axis=2), K - 1)
                v = before[kk] + rng.random(kk.shape) * W[kk]
                col = order_c[np.minimum(np.searchsorted(cum_w, v, side="right"), order_c.size - 1)].ravel()
                rows = np.repeat(rws, R)
                # Skip repeats (keep a row's first draw of a creator), creators already placed, and
                # the user themselves.
                key = rows * creators.size + col
                _, first = np.unique(key, return_index=True)
                ok = np.zeros(key.size, dtype=bool)
                ok[first] = True
                ok &= ~np.isin(key, placed) & (users[rows] != creators[col])
                rr, cc = rows[ok], col[ok]
                pos = filled[rr] + (np.arange(rr.size) - np.searchsorted(rr, rr))
                fit = pos < k
                out[rr[fit], pos[fit]] = cc[fit]
                filled += np.bincount(rr[fit], minlength=n)
                placed = np.concatenate([placed, key[ok][fit]])
            short = np.flatnonzero(filled < np.minimum(k, creators.size - 1))
        return out


class TrafficPolicy(BuiltinPolicy):
    name = "traffic"

    def scores(self, users: np.ndarray, creators: np.ndarray, follow: np.ndarray) -> np.ndarray:
        w = self.world
        assert w is not None
        pop = 2.0 * np.log1p(w.followers[creators])
        return np.broadcast_to(pop[None, :], (users.size, creators.size)).copy()

    def factors(self, users: np.ndarray, creators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.world
        assert w is not None
        return np.ones((users.size, w.cfg.categories)), (1.0 + w.followers[creators]) ** 2


class AlgorithmPolicy(BuiltinPolicy):
    name = "algorithm"

    def scores(self, users: np.ndarray, creators: np.ndarray, follow: np.ndarray) -> np.ndarray:
        w = self.world
        assert w is not None
        base = 2.0 * np.log(w.pop.quality[creators]) + 0.5 * np.log1p(w.followers[creators])
        return 3.0 * _log_match(w, users, creators) + base[None, :].astype(np.float32)

    def factors(self, users: np.ndarray, creators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.world
        assert w is not None
        return _match_per_cat(w, users) ** 3, w.pop.quality[creators] ** 2 * np.sqrt(1.0 + w.followers[creators])


class TrustPolicy(BuiltinPolicy):
    name = "trust"

    def scores(self, users: np.ndarray, creators: np.ndarray, follow: np.ndarray) -> np.ndarray:
        w = self.world
        assert w is not None
        s = _log_match(w, users, creators)
        r, c = np.nonzero(follow)
        if r.size:
            # Followed creators come first, ordered by trust (the Gumbel noise, at most ~10, cannot
            # lift a stranger above the +100 offset).
            s[r, c] = 100.0 + 10.0 * w.pairs.trust_of(users[r], creators[c])
        return s

    def followed_first(self) -> bool:
        return True

    def factors(self, users: np.ndarray, creators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.world
        assert w is not None
        return _match_per_cat(w, users), np.ones(creators.size)

    def exposures(self, ctx: DayContext, rng: np.random.Generator) -> np.ndarray:
        """Followed creators by Plackett–Luce on ``exp(10 T)``, then strangers by Plackett–Luce on
        ``m_uc + 0.001``; the same distribution as dense scoring, without a users × creators score.

        A stranger's weight depends only on its category, so a draw is a category (∝ weight × creators
        in it) then a uniform creator in it; draws that hit a followed creator, the user, or a creator
        already placed are discarded. Independent draws with repeats discarded, kept in draw order, are
        a Plackett–Luce sample without replacement. Rows still short after ``MAX_ROUNDS // 2`` rounds
        (weights concentrated on few creators) finish by Gumbel-top-k over their remaining creators."""
        assert self.world is not None, "bind(world) first"
        users, creators = ctx.user_ids - 1, ctx.creator_ids - 1
        n, m, k = users.size, creators.size, min(ctx.slots, creators.size)
        if n == 0 or m == 0 or k == 0 or m > DENSE_MAX:
            return super().exposures(ctx, rng)
        w = self.world
        out = np.full((n, ctx.slots), -1, dtype=np.int64)
        fol = ctx.follows.tocoo()
        fr, fc = fol.row.astype(np.int64), fol.col.astype(np.int64)
        own = users[fr] != creators[fc]
        fr, fc = fr[own], fc[own]
        fr, fc, _, filled = _place_followed(w, users, creators, fr, fc, out, k, rng)
        col_of = np.full(w.cfg.creators, -1)
        col_of[creators] = np.arange(m)
        cat = w.pop.category[creators]
        by_cat = np.argsort(cat, kind="stable")
        size = np.bincount(cat, minlength=w.cfg.categories)
        start = np.cumsum(size) - size
        bounds = np.searchsorted(fr, np.arange(0, n + BLOCK, BLOCK))
        for b, lo in enumerate(range(0, n, BLOCK)):
            hi = min(lo + BLOCK, n)
            taken = np.zeros((hi - lo, m), dtype=bool)  # followed, self, or placed
            taken[fr[bounds[b]:bounds[b + 1]] - lo, fc[bounds[b]:bounds[b + 1]]] = True
            # Nobody is shown to themselves (creators are users too: person i is creator i).
            mine = np.flatnonzero(users[lo:hi] < col_of.size)
            me = col_of[users[lo:hi][mine]]
            taken[mine[me >= 0], me[me >= 0]] = True
            weight = (w.pop.match[users[lo:hi]].astype(np.float64) + 1e-3) * size  # per category
            self._strangers(rng, out[lo:hi], filled[lo:hi], taken, weight, by_cat, start, size, cat, k)
        return out

    @staticmethod
    def _strangers(rng: np.random.Generator, out: np.ndarray, filled: np.ndarray, taken: np.ndarray,
                   weight: np.ndarray, by_cat: np.ndarray, start: np.ndarray, size: np.ndarray,
                   cat: np.ndarray, k: int) -> None:
        """Fill ``out[i, filled[i]:k]`` in place (see :meth:`exposures`); ``taken`` is updated."""
        n_cat, m = weight.shape[1], taken.shape[1]
        draws = 2 * k
        short = np.flatnonzero(filled < k)
        for _ in range(MAX_ROUNDS // 2):
            if short.size == 0:
                return
            # Category of each draw: inverse CDF, one searchsorted over every row's normalised cumulative
            # weights laid end to end (row r occupies [2r, 2r + 1]).
            cw = np.cumsum(weight[short], axis=1)
            cw /= cw[:, -1:]
            cw += 2.0 * np.arange(short.size)[:, None]
            u = rng.random((short.size, draws)) + 2.0 * np.arange(short.size)[:, None]
            kc = np.searchsorted(cw.ravel(), u.ravel(), side="right").reshape(u.shape)
            kc = np.minimum(kc - n_cat * np.arange(short.size)[:, None], n_cat - 1)
            col = by_cat[np.minimum(start[kc] + (rng.random(kc.shape) * size[kc]).astype(np.int64), m - 1)]
            # Draws in order: a draw is kept if its creator is not taken (followed, self, placed, or an
            # earlier draw of the row) and the row has a slot left.
            for j in range(draws):
                cj = col[:, j]
                ok = ~taken[short, cj] & (filled[short] < k) & (size[kc[:, j]] > 0)
                rr, cc = short[ok], cj[ok]
                out[rr, filled[rr]] = cc
                taken[rr, cc] = True
                filled[rr] += 1
            short = short[filled[short] < k]
        # Rows still short: Gumbel-top-k over the creators they have left.
        if short.size:
            left = ~taken[short]
            g = np.log(weight[short][:, cat] / size[cat]) + rng.gumbel(size=left.shape)
            g[~left] = -np.inf
            order = np.argsort(-g, axis=1, kind="stable")
            for i, row in enumerate(short):
                need = min(k - filled[row], int(left[i].sum()))
                out[row, filled[row]:filled[row] + need] = order[i, :need]
                filled[row] += need


def _match_per_cat(world: World, users: np.ndarray) -> np.ndarray:
    """``m_uk + 0.001`` per user and category (float64)."""
    it = world.pop.interest[users].astype(np.float64)
    return it / it.max(axis=1, keepdims=True) + 1e-3


def _log_match(world: World, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
    """``log(m_uc + 0.001)`` as float32, taken per category (users × K) then gathered by column."""
    per_cat = np.log(world.pop.match[users] + np.float32(1e-3)).astype(np.float32, copy=False)
    return np.take(per_cat, world.pop.category[creators], axis=1)


_BUILTINS = {"traffic": TrafficPolicy, "algorithm": AlgorithmPolicy, "trust": TrustPolicy}


def builtin_policy(name: str) -> BuiltinPolicy:
    """A fresh built-in policy by name."""
    return _BUILTINS[name]()


def _place_followed(w: World, users: np.ndarray, creators: np.ndarray, r: np.ndarray, c: np.ndarray,
                    out: np.ndarray, k: int, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Followed creators first, ranked by latent trust with Gumbel noise (key 10·T + G), k per user.

    ``r``, ``c`` are the follow pairs as row/column indices of ``users``/``creators``. Writes the
    first ``k`` of each row into ``out`` and returns the pairs sorted by (row, key), the mask of the
    placed ones and how many each row got."""
    key = 10.0 * w.pairs.trust_of(users[r], creators[c]) + rng.gumbel(size=r.size)
    order = np.lexsort((-key, r))
    r, c = r[order], c[order]
    rank = np.arange(r.size) - np.searchsorted(r, r)
    keep = rank < k
    out[r[keep], rank[keep]] = c[keep]
    return r, c, keep, np.bincount(r[keep], minlength=users.size)
