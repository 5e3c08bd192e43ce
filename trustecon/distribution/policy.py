"""The engine's own feed as a simulator :class:`~trustecon.simulate.policy.Policy`.

It sees only what the platform logged (``observe``) and the day's public context: who is active,
which creators have fresh content or a live room, the follow graph. Each day it ranks every active
user's feed with :func:`trustecon.distribution.feed.rank_feeds` (private domain by pair trust,
discovery by ALS on logged co-behaviour, exploration of long-tail creators, exposure Gini cap) and
returns the creators in feed order.

Signals, all from logged events:

- pair trust ``T(u,c)``: :class:`trustecon.trust.pair.PairTrust` (the batch beta evidence model)
  over every event logged so far, on an in-memory DuckDB table the policy appends to each day
  (per-event Python updates are too slow at the default preset's millions of events), rebuilt
  with ALS every ``refit_every`` days;
- co-behaviour: :class:`~trustecon.distribution.discovery.CreatorALS` on the accumulated
  :data:`~trustecon.distribution.discovery.EVENT_WEIGHTS` affinity, refitted every ``refit_every``
  days;
- creator credibility: mean pair trust toward the creator shrunk to 0.5 with 5 pseudo-pairs
  (``(Σ_u T(u,c) + 2.5) / (n_c + 5)``) — a cheap, log-only stand-in for the propagated score;
- novelty: creators with fewer impressions so far than the median creator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from trustecon.distribution.discovery import EVENT_WEIGHTS, CreatorALS
from trustecon.distribution.feed import FeedConfig, FeedInputs, rank_feeds
from trustecon.events import SCHEMA
from trustecon.simulate.policy import DayContext

__all__ = ["EnginePolicy"]


class EnginePolicy:
    """The trust-first feed as a distribution policy (``trustecon simulate --policy engine``).

    Parameters: ``config`` (:class:`FeedConfig`; ``k`` is replaced by the day's slots),
    ``refit_every`` (days between ALS refits, 3), ``random_state``. Learned state (updated by
    :meth:`observe`): ``trust_`` (PairTrust), ``als_``, ``impressions_`` (per creator id),
    ``as_of_``, ``last_stats_`` (exposure numbers of the last day ranked).
    """

    name = "engine"

    def __init__(self, config: FeedConfig | None = None, refit_every: int = 3, random_state: int = 0) -> None:
        self.config = config or FeedConfig()
        self.refit_every = refit_every
        self.random_state = random_state
        from trustecon.engine import connect
        from trustecon.trust.pair import PairTrust

        self.trust_ = PairTrust()
        self._con = connect("duckdb")
        self._n_logged = 0
        self.als_: CreatorALS | None = None
        self.impressions_: dict[int, int] = {}
        self.as_of_: dt.datetime | None = None
        self.last_stats_: dict[str, float] = {}
        self._w_u: list[np.ndarray] = []
        self._w_c: list[np.ndarray] = []
        self._w_v: list[np.ndarray] = []
        self._days_since_fit = 10**9
        self._trust_table: pa.Table | None = None

    # ------------------------------------------------------------------ observing the log
    def observe(self, events: pa.Table) -> None:
        """Fold the day's logged events into trust, co-behaviour and exposure counts."""
        if events.num_rows == 0:
            return
        raw = self._con.con  # the DuckDB connection under Ibis: append the day's Arrow batch
        raw.register("_batch", events.select([f.name for f in SCHEMA]).cast(SCHEMA))
        if self._n_logged == 0:
            raw.execute("CREATE TABLE logged AS SELECT * FROM _batch")
        else:
            raw.execute("INSERT INTO logged SELECT * FROM _batch")
        raw.unregister("_batch")
        self._n_logged += events.num_rows
        ts = pc.max(events["ts"]).as_py()
        self.as_of_ = ts if self.as_of_ is None else max(self.as_of_, ts)
        kind = events["kind"]
        has_pair = pc.and_(pc.is_valid(events["user_id"]), pc.is_valid(events["creator_id"]))
        for k, w in EVENT_WEIGHTS.items():
            mask = pc.and_(pc.equal(kind, k), has_pair)
            sub = events.filter(mask)
            if sub.num_rows:
                self._w_u.append(sub["user_id"].to_numpy())
                self._w_c.append(sub["creator_id"].to_numpy())
                self._w_v.append(np.full(sub.num_rows, w))
        imp = events.filter(pc.equal(kind, "impression"))
        if imp.num_rows:
            vc = pc.value_counts(imp["creator_id"]).to_pylist()
            for d in vc:
                if d["values"] is not None:
                    self.impressions_[d["values"]] = self.impressions_.get(d["values"], 0) + d["counts"]

    def _refit(self) -> None:
        if not self._w_u:
            return
        u, c, v = np.concatenate(self._w_u), np.concatenate(self._w_c), np.concatenate(self._w_v)
        self._w_u, self._w_c, self._w_v = [u], [c], [v]
        cfg = self.config
        self.als_ = CreatorALS(factors=cfg.als_factors, iterations=cfg.als_iterations, random_state=self.random_state)
        self.als_.fit(u, c, v)

    # ------------------------------------------------------------------ ranking a day
    def _trust_matrix(self, ctx: DayContext) -> tuple[sp.csr_matrix, np.ndarray]:
        """Pair trust of (active user, fresh creator) pairs with evidence; credibility per creator."""
        n, m = ctx.user_ids.size, ctx.creator_ids.size
        if self.as_of_ is None or self._n_logged == 0:
            return sp.csr_matrix((n, m)), np.full(m, 0.5)
        if self._trust_table is None:
            pt = self.trust_.transform(self._con.table("logged"), self.as_of_)
            self._trust_table = pt.select("user_id", "creator_id", "trust").to_pyarrow()
        t = self._trust_table
        tu, tc, tv = t["user_id"].to_numpy(), t["creator_id"].to_numpy(), t["trust"].to_numpy()
        ci = _lookup(ctx.creator_ids, tc)
        # Credibility: shrunk mean trust toward each creator over all users (not only today's).
        ok_c = ci >= 0
        s = np.bincount(ci[ok_c], weights=tv[ok_c], minlength=m)
        cnt = np.bincount(ci[ok_c], minlength=m)
        cred = (s + 2.5) / (cnt + 5.0)
        ui = _lookup(ctx.user_ids, tu)
        ok = (ui >= 0) & ok_c
        mat = sp.csr_matrix((tv[ok], (ui[ok], ci[ok])), shape=(n, m))
        return mat, cred

    def exposures(self, ctx: DayContext, rng: np.random.Generator) -> np.ndarray:
        """Creators per user and slot, in feed order (indices into ``ctx.creator_ids``, -1 empty)."""
        n, m, k = ctx.user_ids.size, ctx.creator_ids.size, ctx.slots
        out = np.full((n, k), -1, dtype=np.int64)
        if n == 0 or m == 0 or k == 0:
            return out
        self._days_since_fit += 1
        if self._days_since_fit >= self.refit_every:
            # Trust and co-behaviour are rebuilt together every ``refit_every`` days (batch cost).
            self._refit()
            self._trust_table = None
            self._days_since_fit = 0
        trust, cred = self._trust_matrix(ctx)
        follows = sp.csr_matrix(ctx.follows, dtype=np.float64)
        followers = np.asarray(follows.sum(axis=0)).ravel()
        pop = np.log1p(followers)
        imps = np.array([self.impressions_.get(int(c), 0) for c in ctx.creator_ids])
        inp = FeedInputs(
            user_ids=ctx.user_ids,
            creator_ids=ctx.creator_ids,
            follows=follows,
            trust=trust,
            credibility=cred / max(cred.max(), 1e-12),
            popularity=pop / pop.max() if pop.max() > 0 else pop,
            novel=imps <= np.median(imps),
            als=self.als_,
            # Nobody is shown to themselves (creators are users too): block own pairs below.
        )
        cfg = replace(self.config, k=k)
        b = rank_feeds(inp, cfg, rng)
        self.last_stats_ = dict(b.stats)
        keep = ctx.user_ids[b.user_index] != ctx.creator_ids[b.creator_index]
        ui, ci, r = b.user_index[keep], b.creator_index[keep], b.rank[keep]
        ok = r < k
        out[ui[ok], r[ok]] = ci[ok]
        return out


def _lookup(ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Position of each query id in ``ids`` (any order), -1 if absent."""
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    q = np.asarray(query, dtype=np.int64)
    if s.size == 0:
        return np.full(q.size, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(s, q), s.size - 1)
    return np.where(s[pos] == q, order[pos], -1)
