"""The feed: trust-first private domain, discovery, exploration, notices, under an exposure cap.

For each user ``u`` and the period's creators with fresh content (DESIGN.md §6):

- **private domain** (``source="follow"``): creators ``u`` follows or trusts (``T(u,c) ≥
  trust_threshold``), scored ``o + T(u,c) + w_follow·f(u,c) + w_fresh·min(n(u,c), 1) + w_live·L(c)``
  with the tier offset ``o = max(1, w_als + w_neighbour + w_credibility + w_popularity (+ w_live))``,
  the largest discovery score, so the private tier outranks discovery. ``f`` is the follow,
  ``n(u,c)`` the (expected) number of the creator's fresh items ``u`` has not been shown yet and
  ``L(c)`` the probability that ``c`` is live in the period (both optional inputs; without them the
  score is ``1 + T + w_follow·f``, ranked by trust): something new from a followed creator comes
  first. At most ``round(private_share · k)`` slots. Followed creators without a trust row get the
  prior ``trust_prior``.
- **discovery** (``source="discover"``): the other creators, scored
  ``w_als·clip(x_u·y_c, 0, 1) + w_neighbour·nb(u,c) + w_credibility·C(c) + w_popularity·pop(c)``,
  where ``x_u·y_c`` is implicit ALS on user × creator co-behaviour (:mod:`.discovery`),
  ``nb(u,c) = Σ_c' T(u,c')·T(c',c) / Σ_c' T(u,c')`` the trust-graph neighbours (two hops: creators
  trusted by the creators ``u`` trusts), ``C(c)`` creator credibility and ``pop(c) =
  log(1+followers)/max log(1+followers)``, plus ``w_live·L(c)`` when live probabilities are given.
- **exploration** (``source="explore"``): ``round(exploration_rate · k)`` slots drawn at random
  (seeded) from new and long-tail creators, weighted by credibility (Gumbel top-k sampling).
- **notices** (``source="notice"``): each follower's undelivered creator notices, shown once, on
  top, not counted in ``k``.

All users' private and discovery slots then go through one exposure control (:mod:`.exposure`):
a per-creator quota chosen so the period's creator-exposure Gini (slots, or impressions when
``slot_impressions`` says how many one slot of each creator gives) stays under ``gini_cap``, judged
*after* the refill of the slots the quota empties (each short user's next-best creators under
quota, beyond her candidate pool), so the quota is the largest the cap allows and the relevance
lost is the least. Exploration exposures count toward that Gini as a fixed base.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from trustecon.distribution.discovery import CreatorALS
from trustecon.distribution.exposure import assign_with_capacity, cap_exposure, gini, topk_per_user

__all__ = ["SOURCES", "FeedBatch", "FeedConfig", "FeedInputs", "discovery_parts", "feed_because", "rank_feeds"]

SOURCES: tuple[str, ...] = ("follow", "discover", "explore", "notice")
_FOLLOW, _DISCOVER, _EXPLORE = 0, 1, 2


@dataclass(frozen=True)
class FeedConfig:
    """Feed parameters and their defaults.

    - ``k=20`` slots per feed (notices come on top).
    - ``private_share=0.5``: at most half the slots go to followed/trusted creators, so discovery
      always has room (the article: public traffic turns into private-domain relationships).
    - ``gini_cap=0.6``: creator-exposure Gini of a period stays under 0.6 (platform exposure is far
      more concentrated without control; 0.6 still lets quality win).
    - ``exploration_rate=0.1``: 2 of 20 slots go to new and long-tail creators.
    - ``fresh_days=3``: content published within 3 days is fresh; ``active_days=7`` for batch users;
      ``new_days=7``: a creator first seen within 7 days is new.
    - ``trust_threshold=0.6``: a non-followed creator with ``T ≥ 0.6`` is private domain too;
      ``trust_prior=0.5`` for a followed creator without a trust row (the beta(1,1) mean).
    - private-tier bonuses ``w_follow=0`` (an explicit follow over trust alone; batch feeds rank
      the private tier by trust), ``w_fresh=1.0`` (unseen fresh items first), ``w_live=0.5`` (a live
      room today; also added to discovery scores); the last two only apply when the inputs carry
      unseen counts / live odds. The simulator policy uses its own tuned values
      (:data:`trustecon.distribution.policy.ENGINE_FEED`).
    - discovery weights ``w_als=0.6, w_neighbour=0.2, w_credibility=0.1, w_popularity=0.1``;
      ``discovery_pool=3``: each user's top ``3·k`` discovery candidates enter exposure control;
      ``discovery_noise=0``: τ of a sampled discovery ranking (score + τ·Gumbel, a Plackett–Luce
      draw ∝ exp(score/τ); Kool et al. 2019), 0 = deterministic top-k; ``live_affinity=False``:
      when true, a live room's discovery bonus is ``w_live·L(c)·a(u,c)/max_c' a(u,c')`` with ``a``
      the clipped ALS affinity, or ``FeedInputs.affinity`` when given (live rooms go to users likely
      to enter and need the products); ``w_match=0``: weight of ``FeedInputs.affinity`` in discovery;
      ``w_novelty=0``: impression discounting in discovery, ``− w_novelty·log(1 + n)`` with ``n`` the
      times the user was already shown the creator in discovery without following (``FeedInputs.shown``):
      a stranger the user keeps passing over gives way to one not yet offered (Lee et al., "Impression
      discounting", KDD 2014 — LinkedIn's people-you-may-know).
    - ALS: ``als_factors=32, als_iterations=15``; ``random_state=0``.
    """

    k: int = 20
    private_share: float = 0.5
    gini_cap: float = 0.6
    exploration_rate: float = 0.1
    fresh_days: float = 3.0
    active_days: float = 7.0
    new_days: float = 7.0
    trust_threshold: float = 0.6
    trust_prior: float = 0.5
    w_follow: float = 0.0
    w_fresh: float = 1.0
    w_live: float = 0.5
    w_als: float = 0.6
    w_neighbour: float = 0.2
    w_credibility: float = 0.1
    w_popularity: float = 0.1
    discovery_pool: int = 3
    discovery_noise: float = 0.0
    live_affinity: bool = False
    w_match: float = 0.0
    w_novelty: float = 0.0
    als_factors: int = 32
    als_iterations: int = 15
    random_state: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def explore_slots(self) -> int:
        return int(round(self.exploration_rate * self.k))

    @property
    def private_slots(self) -> int:
        return int(round(self.private_share * self.k))


@dataclass
class FeedInputs:
    """What the ranker needs, as arrays aligned on ``user_ids`` (rows) and ``creator_ids`` (columns).

    ``follows`` and ``trust`` are ``len(user_ids) × len(creator_ids)`` sparse matrices (0/1 and
    ``T ∈ [0,1]``); ``creator_trust`` is ``len(creator_ids) × len(creator_ids)`` (the creators' own
    trust toward other creators: row ``c'``, column ``c``) for the neighbour score. ``credibility``
    and ``popularity`` (both in ``[0,1]``) and ``novel`` (exploration pool) are per creator;
    ``als`` scores user × creator co-behaviour (``None``: no co-behaviour signal).
    """

    user_ids: np.ndarray
    creator_ids: np.ndarray
    follows: sp.csr_matrix
    trust: sp.csr_matrix
    credibility: np.ndarray
    popularity: np.ndarray
    novel: np.ndarray
    creator_trust: sp.csr_matrix | None = None
    als: CreatorALS | None = None
    content_ids: np.ndarray | None = None
    #: creators no discovery slot may go to (e.g. at quota in the last batch build); private is unaffected.
    blocked: np.ndarray | None = None
    #: unseen fresh items per (user, creator) pair (sparse, same shape as ``follows``); ``None``: unknown.
    unseen: sp.csr_matrix | None = None
    #: probability that each creator has a live room in the period; ``None``: unknown.
    live: np.ndarray | None = None
    #: impressions one feed slot of each creator gives (the exposure the Gini cap counts); ``None``: 1.
    slot_impressions: np.ndarray | None = None
    #: extra private-tier score per (user, creator) pair (sparse, same shape as ``follows``); a pair
    #: with a positive bonus joins the private domain (e.g. a past buyer and a seller likely live).
    pair_bonus: sp.csr_matrix | None = None
    #: per user, an extra multiple of the live term (``w_live·L(c)·(1 + g_u)``), e.g. a purchase
    #: propensity, so likely buyers see live rooms (where orders happen) first; ``None``: 0.
    user_live_gain: np.ndarray | None = None
    #: dense ``len(user_ids) × len(creator_ids)`` affinity in [0, 1] (e.g. to the creator's assortment);
    #: used by ``live_affinity`` instead of ALS, and added as ``w_match·a`` to discovery; ``None``: unused.
    affinity: np.ndarray | None = None
    #: how often each (user, creator) pair was shown in discovery so far (e.g. days with such an
    #: impression; sparse, same shape as ``follows``), for ``w_novelty``; ``None``: none.
    shown: sp.csr_matrix | None = None


@dataclass
class FeedBatch:
    """Ranked feeds as parallel arrays (row indices into ``FeedInputs``), plus exposure stats."""

    user_index: np.ndarray
    creator_index: np.ndarray
    rank: np.ndarray
    source: np.ndarray  # 0 follow, 1 discover, 2 explore
    score: np.ndarray
    stats: dict[str, float] = field(default_factory=dict)

    def exposure(self, n_creators: int) -> np.ndarray:
        return np.bincount(self.creator_index, minlength=n_creators)


def discovery_parts(
    inp: FeedInputs, cfg: FeedConfig, rows: np.ndarray, trust_rows: sp.csr_matrix
) -> dict[str, np.ndarray]:
    """The terms of the discovery score for users ``rows`` (module doc), each a dense block (or a row
    broadcast over users): ``als``, ``match``, ``neighbour``, ``credibility``, ``popularity``,
    ``live``, ``novelty`` (≤ 0), present only when their input and weight are. They explain a
    discovery slot (:meth:`FeedServer.feed`'s ``because``) and add up to its score."""
    parts: dict[str, np.ndarray] = {}
    aff = None
    if inp.als is not None and (cfg.w_als or (cfg.live_affinity and inp.affinity is None)):
        aff = np.clip(inp.als.score_matrix(inp.user_ids[rows], inp.creator_ids), 0.0, 1.0)
        parts["als"] = cfg.w_als * aff
    if inp.affinity is not None:
        aff = inp.affinity[rows]
        if cfg.w_match:
            parts["match"] = cfg.w_match * aff
    if inp.creator_trust is not None and cfg.w_neighbour and inp.creator_trust.nnz:
        tot = np.asarray(trust_rows.sum(axis=1)).ravel()
        nb = (trust_rows @ inp.creator_trust).toarray()
        parts["neighbour"] = cfg.w_neighbour * nb / np.maximum(tot, 1e-12)[:, None]
    parts["credibility"] = cfg.w_credibility * inp.credibility[None, :]
    parts["popularity"] = cfg.w_popularity * inp.popularity[None, :]
    if inp.live is not None and cfg.w_live:
        gain = 1.0 if inp.user_live_gain is None else 1.0 + inp.user_live_gain[rows][:, None]
        if cfg.live_affinity and aff is not None:
            # A live room is worth showing to a user who would enter and need its products: weigh it by
            # the user's co-behaviour affinity, relative to her best creator (1 for the best match).
            gain = gain * aff / np.maximum(aff.max(axis=1, keepdims=True), 1e-12)
        parts["live"] = cfg.w_live * gain * inp.live[None, :]
    if inp.shown is not None and cfg.w_novelty:
        parts["novelty"] = -cfg.w_novelty * inp.shown[rows].log1p().toarray()
    return parts


def _discovery_scores(inp: FeedInputs, cfg: FeedConfig, rows: np.ndarray, trust_rows: sp.csr_matrix) -> np.ndarray:
    """Dense discovery score block for users ``rows``: the sum of :func:`discovery_parts`, added in the
    order (and with the pairing, credibility + popularity first) the scores have always been, so a
    feed does not change in its last bits."""
    parts = discovery_parts(inp, cfg, rows, trust_rows)
    s = np.zeros((rows.size, inp.creator_ids.size), dtype=np.float64)
    for name in ("als", "match", "neighbour"):
        if name in parts:
            s += parts[name]
    s += parts["credibility"] + parts["popularity"]
    if "live" in parts:
        s += parts["live"]
    if "novelty" in parts:
        s += parts["novelty"]
    return s


#: How a user reads each discovery part (in :func:`feed_because`).
_PART_WORDS: dict[str, str] = {
    "als": "people who watch what you watch also watch them",
    "match": "their products match what you buy",
    "neighbour": "creators you trust trust them",
    "credibility": "credible: vouched for by trusted users",
    "popularity": "widely followed",
    "live": "likely live now",
}


def feed_because(source: str, followed: bool, trust: float | None, parts: dict[str, float]) -> str:
    """Why an item is in a feed, in words: the private domain names the follow and the trust, a
    discovery slot the parts of its score that raised it (largest first, at most three), an
    exploration slot the fair-chance rule. A part under a tenth of the largest is left unsaid."""
    if source == "follow":
        if trust is None:
            return "you follow them"
        return f"you follow them; your trust in them {trust:.2f}" if followed else f"you trust them ({trust:.2f})"
    if source == "explore":
        return "a new or long-tail creator, shown so every creator gets a chance"
    if source == "notice":
        return "a notice from a creator you follow (shown once)"
    top = max((v for k, v in parts.items() if k in _PART_WORDS), default=0.0)
    up = sorted((k for k, v in parts.items() if k in _PART_WORDS and v > 0 and v >= top / 10),
                key=lambda k: -parts[k])[:3]
    return "; ".join(_PART_WORDS[k] for k in up) or "discovery: the best left among few creators"


def _gumbel_topk(keys_logw: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` draws without replacement per row, probability ∝ exp(log-weight) (Gumbel top-k,
    Vieira 2014 / Kool et al. 2019); -inf log-weights are never drawn."""
    g = keys_logw - np.log(-np.log(rng.random(keys_logw.shape)))
    k = min(k, g.shape[1])
    if k == 0:
        return np.zeros((g.shape[0], 0), dtype=np.int64)
    idx = np.argpartition(-g, k - 1, axis=1)[:, :k]
    ok = np.take_along_axis(np.isfinite(g), idx, axis=1)
    return np.where(ok, idx, -1)


def rank_feeds(
    inp: FeedInputs,
    cfg: FeedConfig,
    rng: np.random.Generator,
    *,
    apply_cap: bool = True,
    chunk: int = 4096,
) -> FeedBatch:
    """Rank feeds for every row of ``inp.user_ids`` (vectorised in chunks of users).

    With ``apply_cap`` the period's exposure control runs across all these feeds; without it (one
    user served in process) the creators in ``inp.blocked`` get no discovery slot instead."""
    n, m = inp.user_ids.size, inp.creator_ids.size
    k_explore = min(cfg.explore_slots, m)
    n_priv = min(cfg.private_slots, cfg.k)
    pool = max(cfg.discovery_pool * cfg.k, cfg.k)
    follows = inp.follows.tocsr().astype(bool)
    trust = inp.trust.tocsr()
    # Private domain: followed ∪ trusted above threshold; score 1 + T (trust prior where no row)
    # + bonuses for the follow, unseen fresh items and a likely live room.
    trusted = trust >= cfg.trust_threshold
    bonus = inp.pair_bonus.tocsr() if inp.pair_bonus is not None else None
    private = (follows + trusted + (bonus > 0) if bonus is not None else follows + trusted).astype(bool).tocsr()
    private.eliminate_zeros()
    pu, pc = private.nonzero()
    # T where the pair has a trust row (beta-model trust is never exactly 0), else the prior.
    t_val = np.asarray(trust[pu, pc]).ravel() if pu.size else np.zeros(0)
    # The tier offset keeps every private score above any discovery score.
    top_disc = cfg.w_als + cfg.w_neighbour + cfg.w_credibility + cfg.w_popularity + cfg.w_match
    g_max = float(inp.user_live_gain.max()) if inp.user_live_gain is not None and inp.user_live_gain.size else 0.0
    offset = max(1.0, top_disc + (cfg.w_live * (1.0 + g_max) if inp.live is not None else 0.0))
    p_score = offset + np.where(t_val > 0, t_val, cfg.trust_prior)
    if pu.size:
        p_score += cfg.w_follow * np.asarray(follows[pu, pc]).ravel()
    live_p = inp.live[pc] if inp.live is not None else np.zeros(pc.size)
    if inp.user_live_gain is not None:
        live_p = live_p * (1.0 + inp.user_live_gain[pu])
    p_score += cfg.w_live * live_p
    if inp.unseen is not None:
        new = np.asarray(inp.unseen.tocsr()[pu, pc]).ravel() if pu.size else np.zeros(0)
        p_score += cfg.w_fresh * np.minimum(new, 1.0)
    if bonus is not None and pu.size:
        p_score += np.asarray(bonus[pu, pc]).ravel()
    keep = topk_per_user(pu, p_score, n_priv)
    pu, pc, p_score = pu[keep], pc[keep], p_score[keep]
    # Exploration takes its slots from what the private domain leaves (private comes first).
    explore_u = np.minimum(k_explore, np.maximum(cfg.k - np.bincount(pu, minlength=n), 0))
    k_main = cfg.k - explore_u  # per user: private + discovery slots

    novel = inp.novel if inp.novel.any() else np.ones(m, dtype=bool)
    log_w = np.where(novel, np.log(np.clip(inp.credibility, 1e-3, None)), -np.inf)
    blocked = inp.blocked if inp.blocked is not None else np.zeros(m, dtype=bool)

    du, dc, ds, eu, ec, es = [], [], [], [], [], []
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        s = _discovery_scores(inp, cfg, rows, trust[rows])
        if cfg.discovery_noise > 0:
            # Sampled ranking: score + τ·Gumbel is a Plackett–Luce draw ∝ exp(score/τ), so near-equal
            # creators share the discovery slots instead of all users getting the same top few.
            s = s - cfg.discovery_noise * np.log(-np.log(rng.random(s.shape)))
        excl = private[rows].toarray()
        # Exploration: drawn among novel creators outside the user's private domain.
        if k_explore:
            lw = np.where(excl, -np.inf, log_w[None, :])
            pick = _gumbel_topk(lw, k_explore, rng)
            pick[np.arange(pick.shape[1])[None, :] >= explore_u[rows][:, None]] = -1
            r_idx = np.repeat(rows, pick.shape[1])
            c_idx = pick.ravel()
            ok = c_idx >= 0
            eu.append(r_idx[ok])
            ec.append(c_idx[ok])
            es.append(s[r_idx[ok] - start, c_idx[ok]])
            excl[r_idx[ok] - start, c_idx[ok]] = True
        s = np.where(excl | blocked[None, :], -np.inf, s)
        p = min(pool, m)
        if p == 0:
            continue
        top = np.argpartition(-s, p - 1, axis=1)[:, :p]
        vals = np.take_along_axis(s, top, axis=1)
        ok = np.isfinite(vals)
        du.append(np.repeat(rows, p).reshape(rows.size, p)[ok])
        dc.append(top[ok])
        ds.append(vals[ok])

    def cat(xs: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype=dtype)

    d_u, d_c, d_s = cat(du, np.int64), cat(dc, np.int64), cat(ds, np.float64)
    e_u, e_c, e_s = cat(eu, np.int64), cat(ec, np.int64), cat(es, np.float64)
    cu = np.concatenate([pu.astype(np.int64), d_u])
    cc = np.concatenate([pc.astype(np.int64), d_c])
    cs = np.concatenate([p_score, d_s])
    src = np.concatenate([np.full(pu.size, _FOLLOW), np.full(d_u.size, _DISCOVER)])
    base = np.bincount(e_c, minlength=m)
    cw = np.ones(m) if inp.slot_impressions is None else np.asarray(inp.slot_impressions, dtype=np.float64)
    stats: dict[str, float] = {}

    def refill(sel: np.ndarray, quota: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Up to 3 rounds offering the users the quota left short their next creators under quota."""
        r_u, r_c, r_s = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        for _ in range(3):
            a_u, a_c, a_s = _refill(
                inp, cfg, np.r_[cu[sel], r_u], np.r_[cc[sel], r_c], e_u, e_c, k_main, quota, private, blocked
            )
            if a_u.size == 0:
                break
            r_u, r_c, r_s = np.r_[r_u, a_u], np.r_[r_c, a_c], np.r_[r_s, a_s]
        return r_u, r_c, r_s

    if apply_cap and cfg.gini_cap < 1.0:
        res = cap_exposure(cu, cc, cs, k_main[cu], cfg.gini_cap, n_creators=m, base_exposure=base, refill=refill,
                           creator_weight=inp.slot_impressions)
        sel = res.selected
        r_u, r_c, r_s = res.extra if res.extra is not None else refill(sel, res.quota)
        stats.update(
            quota=res.quota,
            gini_before=res.gini_before,
            relevance_cost=res.relevance_cost,
            cap_feasible=float(res.feasible),
        )
    else:
        sel = topk_per_user(cu, cs, k_main[cu])
        r_u, r_c, r_s = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        g = gini((np.bincount(cc[sel], minlength=m) + base) * cw)
        stats.update(quota=float("inf"), gini_before=g, relevance_cost=0.0, cap_feasible=float(g <= cfg.gini_cap))
    stats["refilled"] = float(r_u.size)
    fu = np.concatenate([cu[sel], r_u, e_u])
    fc = np.concatenate([cc[sel], r_c, e_c])
    fs = np.concatenate([cs[sel], r_s, e_s])
    fsrc = np.concatenate([src[sel], np.full(r_u.size, _DISCOVER), np.full(e_u.size, _EXPLORE)])
    # Order within a feed: private first by trust, then discovery and exploration by score.
    tier = np.where(fsrc == _FOLLOW, 0, 1)
    order = np.lexsort((fc, -fs, tier, fu))
    fu, fc, fs, fsrc = fu[order], fc[order], fs[order], fsrc[order]
    start_idx = np.r_[0, np.flatnonzero(fu[1:] != fu[:-1]) + 1] if fu.size else np.zeros(0, dtype=np.int64)
    rank = np.arange(fu.size) - np.repeat(start_idx, np.diff(np.r_[start_idx, fu.size]))
    expo = np.bincount(fc, minlength=m)
    stats["gini_after"] = gini(expo * cw)
    stats["exposed_share"] = float((expo > 0).mean()) if m else 0.0
    stats["private_share"] = float((fsrc == _FOLLOW).mean()) if fsrc.size else 0.0
    return FeedBatch(fu, fc, rank.astype(np.int64), fsrc.astype(np.int8), fs, stats)


def _refill(
    inp: FeedInputs,
    cfg: FeedConfig,
    cur_u: np.ndarray,
    cur_c: np.ndarray,
    e_u: np.ndarray,
    e_c: np.ndarray,
    k_main: np.ndarray,
    quota: float,
    private: sp.csr_matrix,
    blocked: np.ndarray,
    chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill the slots the quota left empty with each short user's best creators still under quota
    (beyond her first candidate pool), each creator taking at most her remaining room."""
    n, m = inp.user_ids.size, inp.creator_ids.size
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not np.isfinite(quota) or n == 0 or m == 0:
        return empty
    room = np.maximum(quota - np.bincount(cur_c, minlength=m), 0).astype(np.int64)
    deficit = k_main - np.bincount(cur_u, minlength=n)
    short = np.flatnonzero(deficit > 0)
    if short.size == 0 or not room.any():
        return empty
    taken = sp.csr_matrix((np.ones(cur_u.size + e_u.size), (np.r_[cur_u, e_u], np.r_[cur_c, e_c])), shape=(n, m))
    p = int(min(m, 2 * deficit[short].max()))
    uu, ccs, ss = [], [], []
    for start in range(0, short.size, chunk):
        rows = short[start : start + chunk]
        s = _discovery_scores(inp, cfg, rows, inp.trust.tocsr()[rows])
        bad = (private[rows] + taken[rows]).toarray() > 0
        s = np.where(bad | blocked[None, :] | (room == 0)[None, :], -np.inf, s)
        top = np.argpartition(-s, p - 1, axis=1)[:, :p]
        vals = np.take_along_axis(s, top, axis=1)
        ok = np.isfinite(vals)
        uu.append(np.repeat(rows, p).reshape(rows.size, p)[ok])
        ccs.append(top[ok])
        ss.append(vals[ok])
    fu, fc, fs = np.concatenate(uu), np.concatenate(ccs).astype(np.int64), np.concatenate(ss)
    mask = assign_with_capacity(fu, fc, fs, deficit[fu], room[fc])
    return fu[mask], fc[mask], fs[mask]
