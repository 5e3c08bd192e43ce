"""Feeds from a workspace: the batch build for all active users (``tables/feeds``) and the in-process
server for one user from the built tables.

The relational steps (follow state, fresh content, notices, activity, creator stats, co-behaviour
weights) run on the engine through Ibis; ALS, the ranking and the period's exposure control run in
memory on their outputs (the exposure quota search is iterative over the whole period, which a
per-row engine query cannot express cheaply).

Tables written by :func:`build_feeds` in one transaction:

- ``feeds``: ``user_id, rank, creator_id, content_id, source, score, notice_id, as_of``
- ``feed_creators``: ``creator_id, content_id, exposure, quota, capped, credibility, popularity, novel``
- ``feed_user_factors`` / ``feed_creator_factors``: ALS factors (``id, factors: list<float>``)
- ``notice_deliveries``: ``user_id, notice_id`` (every notice shown so far: shown once, never again)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from trustecon.distribution import pipelines as P
from trustecon.distribution.discovery import CreatorALS, interaction_weights
from trustecon.distribution.feed import SOURCES, FeedConfig, FeedInputs, discovery_parts, feed_because, rank_feeds

__all__ = ["FEEDS_SCHEMA", "FeedServer", "UnknownCreatorError", "build_feeds"]

FEEDS_SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("rank", pa.int64()),
        ("creator_id", pa.int64()),
        ("content_id", pa.int64()),
        ("source", pa.string()),
        ("score", pa.float64()),
        ("notice_id", pa.string()),
        ("as_of", pa.timestamp("us", tz="UTC")),
    ]
)
_DELIVERIES = pa.schema([("user_id", pa.int64()), ("notice_id", pa.string())])
#: ``feed_creators`` as stored, whatever the log holds (its columns come from numpy arrays, whose
#: dtypes would otherwise decide the stored types).
_CREATORS = pa.schema(
    [
        ("creator_id", pa.int64()),
        ("content_id", pa.int64()),
        ("exposure", pa.int64()),
        ("quota", pa.float64()),
        ("capped", pa.bool_()),
        ("credibility", pa.float64()),
        ("popularity", pa.float64()),
        ("novel", pa.bool_()),
    ]
)


class UnknownCreatorError(KeyError):
    """A creator id the workspace has never seen (no publish, live or interaction event)."""

    def __str__(self) -> str:
        return f"unknown creator {self.args[0]}: no publish, live or interaction event names this creator"


def _index(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    if sorted_ids.size == 0:
        return np.full(ids.size, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


def _pairs_matrix(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    ok = (rows >= 0) & (cols >= 0)
    m = sp.csr_matrix((vals[ok].astype(np.float64), (rows[ok], cols[ok])), shape=shape)
    m.sum_duplicates()
    return m


def _log_norm(x: np.ndarray) -> np.ndarray:
    v = np.log1p(np.maximum(np.asarray(x, dtype=np.float64), 0))
    return v / v.max() if v.size and v.max() > 0 else v


@dataclass
class _World:
    """Everything the ranker reads, as of one instant (shared by the batch build and the server)."""

    as_of: datetime
    creator_ids: np.ndarray
    content_ids: np.ndarray
    credibility: np.ndarray
    popularity: np.ndarray
    novel: np.ndarray
    follows: pa.Table
    trust: pa.Table  # user_id, creator_id, trust
    trust_source: str
    known_creators: np.ndarray
    notices: pa.Table  # all notices: user_id (follower), creator_id, notice_id


def _load_world(ws: Any, con: ibis.BaseBackend, cfg: FeedConfig, as_of: datetime | None) -> tuple[_World, ibis.Table]:
    e = ws.events(con)
    if as_of is None:
        as_of = e.ts.max().to_pyarrow().as_py()
    if as_of is None:
        raise ValueError(f"{ws.path}: the event log is empty; nothing to rank")
    follows_t = P.follow_state(e, as_of)
    fresh = P.fresh_content(e, as_of, cfg.fresh_days).order_by("creator_id").to_pyarrow()
    stats = P.creator_stats(e, as_of).order_by("creator_id").to_pyarrow()
    follows = follows_t.to_pyarrow()
    creator_ids = fresh["creator_id"].to_numpy()
    content_ids = fresh["content_id"].to_numpy(zero_copy_only=False)
    s_idx = _index(stats["creator_id"].to_numpy(), creator_ids)
    followers = np.where(s_idx >= 0, stats["followers"].to_numpy()[np.maximum(s_idx, 0)], 0)
    imps = np.where(s_idx >= 0, stats["impressions"].to_numpy()[np.maximum(s_idx, 0)], 0)
    first = stats["first_seen"].to_numpy().astype("datetime64[us]")[np.maximum(s_idx, 0)]
    new_since = np.datetime64((as_of - timedelta(days=cfg.new_days)).replace(tzinfo=None), "us")
    novel = (first > new_since) | (imps <= (np.median(imps) if imps.size else 0))
    credibility = np.full(creator_ids.size, 0.5)
    if ws.has_table("creator_credibility"):
        cred = ws.read_table("creator_credibility")
        c_idx = _index(creator_ids, cred["creator_id"].to_numpy())
        cv = cred["credibility"].to_numpy().astype(np.float64)
        # Credibility is a propagated mass; rescale to [0,1] by its maximum among these creators.
        ok = c_idx >= 0
        if ok.any():
            credibility = np.full(creator_ids.size, 0.0)
            credibility[c_idx[ok]] = cv[ok] / max(cv[ok].max(), 1e-12)
    if ws.has_table("pair_trust"):
        pt = ws.read_table("pair_trust")
        trust = pa.table({"user_id": pt["user_id"], "creator_id": pt["creator_id"], "trust": pt["trust"]})
        trust_source = "pair_trust"
    else:
        # No trust model built yet: a saturating map of co-behaviour affinity stands in, w/(w+5).
        w = interaction_weights(e.filter(e.ts <= ibis.timestamp(as_of))).to_pyarrow()
        wv = w["weight"].to_numpy()
        trust = pa.table({"user_id": w["user_id"], "creator_id": w["creator_id"], "trust": wv / (wv + 5.0)})
        trust_source = "affinity"
    notices = P.pending_notices(e, follows_t, None, as_of).to_pyarrow()
    world = _World(
        as_of=as_of,
        creator_ids=creator_ids,
        content_ids=content_ids,
        credibility=credibility,
        popularity=_log_norm(followers),
        novel=novel,
        follows=follows,
        trust=trust,
        trust_source=trust_source,
        known_creators=stats["creator_id"].to_numpy(),
        notices=notices,
    )
    return world, e


def _inputs(world: _World, user_ids: np.ndarray, als: CreatorALS | None) -> FeedInputs:
    n, m = user_ids.size, world.creator_ids.size
    fu = _index(user_ids, world.follows["user_id"].to_numpy())
    fc = _index(world.creator_ids, world.follows["creator_id"].to_numpy())
    follows = _pairs_matrix(fu, fc, np.ones(fu.size), (n, m)).astype(bool).astype(np.float64)
    tu_all = world.trust["user_id"].to_numpy()
    tc = _index(world.creator_ids, world.trust["creator_id"].to_numpy())
    tv = world.trust["trust"].to_numpy().astype(np.float64)
    trust = _pairs_matrix(_index(user_ids, tu_all), tc, tv, (n, m))
    # The creators' own trust in other creators (people share one id space).
    ctrust = _pairs_matrix(_index(world.creator_ids, tu_all), tc, tv, (m, m))
    return FeedInputs(
        user_ids=user_ids,
        creator_ids=world.creator_ids,
        follows=follows,
        trust=trust,
        credibility=world.credibility,
        popularity=world.popularity,
        novel=world.novel,
        creator_trust=ctrust,
        als=als,
        content_ids=world.content_ids,
    )


def _factors_table(ids: np.ndarray, f: np.ndarray) -> pa.Table:
    flat = pa.array(f.astype(np.float32).ravel())
    lists = pa.FixedSizeListArray.from_arrays(flat, f.shape[1]) if f.size else pa.array([], pa.list_(pa.float32()))
    return pa.table({"id": pa.array(ids, pa.int64()), "factors": lists.cast(pa.list_(pa.float32()))})


def _factors_from_table(t: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(ids, factors) from a factors table; the dimension is read from the data."""
    ids = t["id"].to_numpy()
    flat = t["factors"].combine_chunks().flatten().to_numpy().astype(np.float32)
    dim = flat.size // ids.size if ids.size else 0
    return ids, flat.reshape(ids.size, dim)


def build_feeds(
    ws: Any, con: ibis.BaseBackend, config: FeedConfig | None = None, *, as_of: datetime | None = None
) -> dict[str, Any]:
    """Build every active user's feed as of ``as_of`` (default: the latest event) and write the tables
    listed in the module doc in one transaction. Returns the build's numbers (users, items, exposure
    Gini before/after control, quota, relevance cost, notices delivered, timings are not included)."""
    cfg = config or FeedConfig()
    world, e = _load_world(ws, con, cfg, as_of)
    active = P.active_users(e, world.as_of, cfg.active_days).order_by("user_id").to_pyarrow()
    user_ids = active["user_id"].to_numpy()
    w = interaction_weights(e.filter(e.ts <= ibis.timestamp(world.as_of))).to_pyarrow()
    als = CreatorALS(factors=cfg.als_factors, iterations=cfg.als_iterations, random_state=cfg.random_state)
    als.fit_table(w)
    inp = _inputs(world, user_ids, als)
    rng = np.random.default_rng(cfg.random_state)
    batch = rank_feeds(inp, cfg, rng)
    # Notices: each active follower's undelivered notices go on top of this feed, once.
    delivered = ws.read_table("notice_deliveries") if ws.has_table("notice_deliveries") else _DELIVERIES.empty_table()
    nt = world.notices
    seen = set(zip(delivered["user_id"].to_pylist(), delivered["notice_id"].to_pylist(), strict=True))
    active_set = set(user_ids.tolist())
    new = [
        (u, c, nid)
        for u, c, nid in zip(
            nt["user_id"].to_pylist(), nt["creator_id"].to_pylist(), nt["notice_id"].to_pylist(), strict=True
        )
        if u in active_set and (u, nid) not in seen
    ]
    new.sort(key=lambda r: (r[0], r[2]))
    n_per_user: dict[int, int] = {}
    nu, nr, nc, nid = [], [], [], []
    for u, c, i in new:
        r = n_per_user.get(u, 0)
        n_per_user[u] = r + 1
        nu.append(u)
        nr.append(r)
        nc.append(c)
        nid.append(i)
    shift = np.array([n_per_user.get(int(u), 0) for u in user_ids], dtype=np.int64)
    fu = user_ids[batch.user_index]
    feeds = pa.table(
        {
            "user_id": np.concatenate([np.array(nu, dtype=np.int64), fu]),
            "rank": np.concatenate([np.array(nr, dtype=np.int64), batch.rank + shift[batch.user_index]]),
            "creator_id": np.concatenate([np.array(nc, dtype=np.int64), world.creator_ids[batch.creator_index]]),
            "content_id": pa.concat_arrays(
                [pa.nulls(len(nu), pa.int64()), pa.array(world.content_ids[batch.creator_index], pa.int64())]
            ),
            "source": ["notice"] * len(nu) + [SOURCES[s] for s in batch.source.tolist()],
            "score": np.concatenate([np.zeros(len(nu)), batch.score]),
            "notice_id": pa.concat_arrays([pa.array(nid, pa.string()), pa.nulls(fu.size, pa.string())]),
            "as_of": pa.array([world.as_of] * (len(nu) + fu.size), pa.timestamp("us", tz="UTC")),
        },
        schema=FEEDS_SCHEMA,
    ).sort_by([("user_id", "ascending"), ("rank", "ascending")])
    deliveries = pa.concat_tables(
        [
            delivered.select(["user_id", "notice_id"]).cast(_DELIVERIES),
            pa.table({"user_id": pa.array(nu, pa.int64()), "notice_id": pa.array(nid, pa.string())}),
        ]
    )
    expo = batch.exposure(world.creator_ids.size)
    quota = batch.stats["quota"]
    creators = pa.table(
        {
            "creator_id": world.creator_ids,
            "content_id": pa.array(world.content_ids, pa.int64()),
            "exposure": expo.astype(np.int64),
            "quota": np.full(expo.size, quota if np.isfinite(quota) else -1.0),
            "capped": (expo >= quota) if np.isfinite(quota) else np.zeros(expo.size, bool),
            "credibility": world.credibility,
            "popularity": world.popularity,
            "novel": world.novel,
        },
        schema=_CREATORS,
    )
    report = {
        "as_of": world.as_of.isoformat(),
        "users": int(user_ids.size),
        "creators": int(world.creator_ids.size),
        "items": int(feeds.num_rows),
        "notices_delivered": len(nu),
        "trust_source": world.trust_source,
        **{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in batch.stats.items()},
        "gini_cap": cfg.gini_cap,
    }
    with ws.transaction() as tx:
        tx.write_table("feeds", feeds)
        tx.write_table("notice_deliveries", deliveries)
        tx.write_table("feed_creators", creators)
        tx.write_table("feed_user_factors", _factors_table(als.user_ids_, als.user_factors_))
        tx.write_table("feed_creator_factors", _factors_table(als.creator_ids_, als.creator_factors_))
    ws.set_config("feeds", {**cfg.as_dict(), "as_of": world.as_of.isoformat(), "trust_source": world.trust_source})
    return report


class FeedServer:
    """One user's feed in process, from the built tables (p99 goal ≤ 10 ms once loaded).

    Loads the world as of the last build (``trustecon feed --all`` / :func:`build_feeds`) and its ALS
    factors; creators that hit their exposure quota in that build get no discovery slot. A user the
    engine has never seen gets a cold-start feed: credible, popular-but-capped creators plus
    exploration. Notices are delivered once per server (and persisted with :meth:`save_deliveries`).
    """

    def __init__(self, ws: Any, con: ibis.BaseBackend, config: FeedConfig | None = None) -> None:
        self.ws = ws
        self.config = config or FeedConfig()
        if not ws.has_table("feed_creators"):
            raise ValueError(f"{ws.path}: no feeds built yet (run 'trustecon feed WORKSPACE --all')")
        fc = ws.read_table("feed_creators")
        as_of = datetime.fromisoformat(ws.config.get("feeds", {}).get("as_of")) if "feeds" in ws.config else None
        self.world, e = _load_world(ws, con, self.config, as_of)
        # Notices posted since the build are due in the next feed too: read them up to the last event.
        self.world.notices = P.pending_notices(e, P.follow_state(e), None).to_pyarrow()
        als = CreatorALS(factors=self.config.als_factors)
        als.user_ids_, als.user_factors_ = _factors_from_table(ws.read_table("feed_user_factors"))
        als.creator_ids_, als.creator_factors_ = _factors_from_table(ws.read_table("feed_creator_factors"))
        self.als = als
        idx = _index(fc["creator_id"].to_numpy(), self.world.creator_ids)
        capped = fc["capped"].to_numpy(zero_copy_only=False)
        self.blocked = np.where(idx >= 0, capped[np.maximum(idx, 0)], False)
        # Per-user slices of follows/trust/notices, so one request touches only its own rows.
        self._follows = self._group(self.world.follows, "creator_id")
        self._trust = self._group(self.world.trust, "creator_id", "trust")
        self._notices = self._group(self.world.notices, "creator_id", "notice_id")
        d = ws.read_table("notice_deliveries") if ws.has_table("notice_deliveries") else _DELIVERIES.empty_table()
        self.delivered = set(zip(d["user_id"].to_pylist(), d["notice_id"].to_pylist(), strict=True))
        self._new_deliveries: list[tuple[int, str]] = []
        self._con = con

    def refresh_notices(self) -> None:
        """Re-read the notices due from the log as it is now, and the deliveries persisted since: a
        long-lived server (the API's) shows a notice posted after it loaded without reloading the
        whole feed world. Deliveries this server made and has not saved yet are kept."""
        e = self.ws.events(self._con)
        self.world.notices = P.pending_notices(e, P.follow_state(e), None).to_pyarrow()
        self._notices = self._group(self.world.notices, "creator_id", "notice_id")
        if self.ws.has_table("notice_deliveries"):
            d = self.ws.read_table("notice_deliveries")
            self.delivered |= set(zip(d["user_id"].to_pylist(), d["notice_id"].to_pylist(), strict=True))

    @staticmethod
    def _group(t: pa.Table, *cols: str) -> dict[int, tuple[np.ndarray, ...]]:
        u = t["user_id"].to_numpy()
        order = np.argsort(u, kind="stable")
        arrays = [t[c].to_numpy(zero_copy_only=False)[order] for c in cols]
        us = u[order]
        out: dict[int, tuple[np.ndarray, ...]] = {}
        if us.size == 0:
            return out
        starts = np.r_[0, np.flatnonzero(us[1:] != us[:-1]) + 1, us.size]
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            out[int(us[a])] = tuple(arr[a:b] for arr in arrays)
        return out

    def is_known_user(self, user_id: int) -> bool:
        return self.als.user_index(np.array([user_id]))[0] >= 0 or user_id in self._follows or user_id in self._trust

    def check_creator(self, creator_id: int) -> None:
        """Raise :class:`UnknownCreatorError` for a creator no event names."""
        if _index(self.world.known_creators, np.array([creator_id]))[0] < 0:
            raise UnknownCreatorError(creator_id)

    def feed(self, user_id: int, k: int | None = None, *, deliver: bool = True) -> list[dict[str, Any]]:
        """The ranked feed of ``user_id``: dicts with rank, creator_id, content_id, source, score,
        notice_id and ``because`` (why the item is there, in words: :func:`feed_because`). Pending
        notices come first and are marked delivered — unless ``deliver=False``: someone else looking
        at the user's feed (an admin, an operator) sees them without using up the user's one showing."""
        cfg = self.config if k is None else FeedConfig(**{**self.config.as_dict(), "k": k})
        m = self.world.creator_ids.size
        uid = np.array([user_id], dtype=np.int64)
        f = self._follows.get(user_id, (np.zeros(0, np.int64),))[0]
        tc, tv = self._trust.get(user_id, (np.zeros(0, np.int64), np.zeros(0)))
        fci = _index(self.world.creator_ids, f)
        tci = _index(self.world.creator_ids, tc)
        inp = FeedInputs(
            user_ids=uid,
            creator_ids=self.world.creator_ids,
            follows=_pairs_matrix(np.zeros(fci.size, np.int64), fci, np.ones(fci.size), (1, m)),
            trust=_pairs_matrix(np.zeros(tci.size, np.int64), tci, tv.astype(np.float64), (1, m)),
            credibility=self.world.credibility,
            popularity=self.world.popularity,
            novel=self.world.novel,
            creator_trust=None,
            als=self.als,
            blocked=self.blocked,
        )
        rng = np.random.default_rng([cfg.random_state, user_id & 0x7FFFFFFF])
        b = rank_feeds(inp, cfg, rng, apply_cap=False)
        parts = discovery_parts(inp, cfg, np.zeros(1, np.int64), inp.trust.tocsr()[[0]]) if b.rank.size else {}
        followed, trust_of = set(f.tolist()), dict(zip(tc.tolist(), tv.tolist(), strict=True))
        out: list[dict[str, Any]] = []
        nc, nid = self._notices.get(user_id, (np.zeros(0, np.int64), np.zeros(0, object)))
        for c, i in sorted(zip(nc.tolist(), nid.tolist(), strict=True), key=lambda r: r[1]):
            if (user_id, i) in self.delivered:
                continue
            if deliver:
                self.delivered.add((user_id, i))
                self._new_deliveries.append((user_id, i))
            out.append(
                {
                    "rank": len(out),
                    "creator_id": c,
                    "content_id": None,
                    "source": "notice",
                    "score": 0.0,
                    "notice_id": i,
                    "because": "a notice from a creator you follow (shown once)",
                }
            )
        base = len(out)
        for r, c, s, sc in zip(
            b.rank.tolist(), b.creator_index.tolist(), b.source.tolist(), b.score.tolist(), strict=True
        ):
            cid = int(self.world.creator_ids[c])
            out.append(
                {
                    "rank": base + r,
                    "creator_id": cid,
                    "content_id": int(self.world.content_ids[c]),
                    "source": SOURCES[s],
                    "score": float(sc),
                    "notice_id": None,
                    "because": feed_because(SOURCES[s], cid in followed, trust_of.get(cid),
                                            {k: float(v[0, c]) for k, v in parts.items()}),
                }
            )
        return out

    def save_deliveries(self) -> int:
        """Persist notices delivered by this server into ``tables/notice_deliveries``; returns how many."""
        if not self._new_deliveries:
            return 0
        d = (
            self.ws.read_table("notice_deliveries")
            if self.ws.has_table("notice_deliveries")
            else _DELIVERIES.empty_table()
        )
        u, i = zip(*self._new_deliveries, strict=True)
        new = pa.table({"user_id": pa.array(u, pa.int64()), "notice_id": pa.array(i, pa.string())})
        self.ws.write_table("notice_deliveries", pa.concat_tables([d.cast(_DELIVERIES), new]))
        n = len(self._new_deliveries)
        self._new_deliveries = []
        return n
