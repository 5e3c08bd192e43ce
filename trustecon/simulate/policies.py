"""Built-in distribution policies: ``traffic``, ``algorithm``, ``trust`` (DESIGN.md §2, three stages).

Each scores every (active user, eligible creator) cell and draws ``slots`` creators per user without
replacement with the Gumbel-top-k trick (sampling proportional to ``exp(score)``, Plackett–Luce;
Kool et al. 2019, "Stochastic Beams and Where to Find Them"). Scores (log-weights):

- ``traffic``: ``2 · log(1 + followers_c)`` — the popular get the eyeballs (traffic economy).
- ``algorithm``: ``3 · log(m_uc) + 2 · log(q_c) + 0.5 · log(1 + followers_c)`` — predicted engagement
  from interest match and quality (algorithm economy).
- ``trust``: creators the user follows, ordered by latent trust, fill the slots first; the rest are
  drawn by ``log(m_uc)`` (flat: every creator gets a chance; trust economy).

Built-ins read the world's latent state (they are part of the world); an outside :class:`Policy` sees
only the logged events. Users are scored in blocks so memory stays bounded on the large preset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from trustecon.simulate.choice import interest_match
from trustecon.simulate.policy import DayContext

if TYPE_CHECKING:  # pragma: no cover
    from trustecon.simulate.world import World

__all__ = ["AlgorithmPolicy", "BuiltinPolicy", "TrafficPolicy", "TrustPolicy", "builtin_policy"]

BLOCK = 1024  # users scored at once: 1024 × eligible creators floats


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
        follows = ctx.follows.tocsr()
        for lo in range(0, n, BLOCK):
            hi = min(lo + BLOCK, n)
            fol = follows[lo:hi].toarray().astype(bool)
            s = self.scores(users[lo:hi], creators, fol)
            s = s + rng.gumbel(size=s.shape)
            # Nobody is shown to themselves (creators are users too).
            own = users[lo:hi, None] == creators[None, :]
            s[own] = -np.inf
            top = np.argpartition(-s, k - 1, axis=1)[:, :k]
            ok = np.isfinite(np.take_along_axis(s, top, axis=1))
            out[lo:hi, :k] = np.where(ok, top, -1)
        return out


class TrafficPolicy(BuiltinPolicy):
    name = "traffic"

    def scores(self, users: np.ndarray, creators: np.ndarray, follow: np.ndarray) -> np.ndarray:
        w = self.world
        assert w is not None
        pop = 2.0 * np.log1p(w.followers[creators])
        return np.broadcast_to(pop[None, :], (users.size, creators.size)).copy()


class AlgorithmPolicy(BuiltinPolicy):
    name = "algorithm"

    def scores(self, users: np.ndarray, creators: np.ndarray, follow: np.ndarray) -> np.ndarray:
        w = self.world
        assert w is not None
        m = interest_match(w.pop, users[:, None], w.pop.category[creators][None, :])
        base = 2.0 * np.log(w.pop.quality[creators]) + 0.5 * np.log1p(w.followers[creators])
        return 3.0 * np.log(m + 1e-3) + base[None, :]


class TrustPolicy(BuiltinPolicy):
    name = "trust"

    def scores(self, users: np.ndarray, creators: np.ndarray, follow: np.ndarray) -> np.ndarray:
        w = self.world
        assert w is not None
        m = interest_match(w.pop, users[:, None], w.pop.category[creators][None, :])
        s = np.log(m + 1e-3)
        r, c = np.nonzero(follow)
        if r.size:
            # Followed creators come first, ordered by trust (the Gumbel noise, at most ~10, cannot
            # lift a stranger above the +100 offset).
            s[r, c] = 100.0 + 10.0 * w.pairs.trust_of(users[r], creators[c])
        return s


_BUILTINS = {"traffic": TrafficPolicy, "algorithm": AlgorithmPolicy, "trust": TrustPolicy}


def builtin_policy(name: str) -> BuiltinPolicy:
    """A fresh built-in policy by name."""
    return _BUILTINS[name]()
