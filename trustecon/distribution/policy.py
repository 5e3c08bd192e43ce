"""The engine's own feed as a simulator :class:`~trustecon.simulate.policy.Policy`.

It sees only what the platform logged (``observe``) and the day's public context: who is active,
which creators have fresh content or a live room, the follow graph. Each day it ranks every active
user's feed with :func:`trustecon.distribution.feed.rank_feeds` (private domain first, then
discovery by ALS on logged co-behaviour, exploration of long-tail creators, exposure Gini cap) and
returns the creators in feed order.

Signals, all from logged events and all updated every day:

- pair trust ``T(u,c)``: :class:`trustecon.trust.OnlineTrust` updated event by event with each
  day's log (incremental, equal to a batch :class:`~trustecon.trust.pair.PairTrust` rebuild). The
  pairs the day touched are read back as positive and negative evidence ``P, N`` (flat Beta(α₀, β₀)
  prior); every channel decays with the same half-life h, so ``T`` as of any later instant τ is
  ``(α₀ + P·d)/(α₀ + β₀ + (P + N)·d)``, ``d = 2^(−(τ − t)/h)``, computed for all pairs at once;
- unseen fresh items ``n(u,c)``: the creator's videos published in the last ``window_days`` (6)
  after the newest one ``u`` was shown (publish and impression events), plus the items expected
  today (the creator's publishes per day over the last ``window_days``): what the follow feed has
  that ``u`` has not seen (fan content reach counts exactly these);
- live odds ``L(c)``: creators keep weekly live schedules, so ``L(c) = (l_cw + r_c)/(d_w + 1)``
  with ``l_cw`` the live days of ``c`` logged on this weekday, ``d_w`` the days of this weekday seen
  and ``r_c = (l_c + 0.25)/(d + 1)`` the creator's overall live-day rate (the shrinkage target);
- co-behaviour: :class:`~trustecon.distribution.discovery.CreatorALS` on the accumulated
  :data:`~trustecon.distribution.discovery.EVENT_WEIGHTS` affinity, refitted every ``refit_every``
  days (1: daily);
- creator credibility: mean pair trust toward the creator shrunk to 0.5 with 5 pseudo-pairs
  (``(Σ_u T(u,c) + 2.5) / (n_c + 5)``) — a cheap, log-only stand-in for the propagated score;
- novelty: creators with fewer impressions so far than the median creator.

The Gini cap counts impressions, as the KPI does: one slot of creator ``c`` is weighted by the
items it shows, ``clip(mean n(u,c) over c's private pairs, 1, 5) + L(c)`` (a known pair sees every
unseen item, up to the simulator's 5 per exposure, plus the live card).
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
from trustecon.distribution.propensity import PurchasePropensity
from trustecon.simulate.policy import DayContext
from trustecon.trust.evidence import NEGATIVE, POSITIVE, to_seconds

__all__ = ["ENGINE_FEED", "EnginePolicy"]

#: The policy's feed parameters. Round 2 (tuning seed 1, small then default preset): the private
#: domain may fill every slot, a follow counts 1.5 over trust alone, a likely live room 1.5 (private
#: tier and discovery), and discovery is a sampled ranking (τ = 0.3) so that users do not all get the
#: same few creators (without it the impression Gini cap binds and cuts followed creators' slots).
#: Round 3 (tuning seeds 1-3, default preset; never on the evaluation seeds 7-9,
#: docs/evaluation/distribution.md §3): a live room's discovery bonus is weighed by the user's
#: affinity to the creator's assortment (``live_affinity``, with :class:`EnginePolicy`'s
#: ``assortment_affinity``) and that affinity also enters discovery with weight 0.3.
ENGINE_FEED = FeedConfig(
    private_share=1.0, w_follow=1.5, w_live=1.5, discovery_noise=0.3, live_affinity=True, w_match=0.3
)

_KEY = np.int64(1) << 32  # pair key = user_id · 2^32 + creator_id


def _pair_keys(t: pa.Table, a: str, b: str) -> np.ndarray:
    """One int64 key ``a · _KEY + b`` per row of ``t`` (for set operations on id pairs)."""
    first = t[a].to_numpy(zero_copy_only=False).astype(np.int64)
    return first * _KEY + t[b].to_numpy(zero_copy_only=False).astype(np.int64)
_TRUST_COLS = ("ts", "kind", "user_id", "creator_id", "order_id", "session_id", "watch_ms", "duration_ms", "amount")


class EnginePolicy:
    """The trust-first feed as a distribution policy (``trustecon simulate --policy engine``).

    Parameters: ``config`` (:class:`FeedConfig`, default :data:`ENGINE_FEED`; ``k`` is replaced by
    the day's slots),
    ``refit_every`` (days between ALS refits, 1), ``window_days`` (age of an item that still counts
    as fresh for the follow feed, 6), ``random_state``; ``assortment_affinity`` (True: pass the users'
    affinity to each creator's pinned-product assortment as ``FeedInputs.affinity``, see
    :meth:`_assortment_affinity`). Options tried in tuning round 3 and left off (§3 of
    docs/evaluation/distribution.md): ``credibility="watch"`` (mean watch share as credibility),
    ``w_buyer_live`` (live bonus toward sellers a user bought from), ``buyer_gain`` with
    ``propensity`` ("fitted": :class:`PurchasePropensity`; "heuristic") to scale the live term by the
    user's purchase propensity, ``watch_weighted`` (views weighed by watch share in the ALS input);
    tried in round 6 and left off: ``FeedConfig.w_novelty`` (impression discounting in discovery; the
    policy counts each pair's discovery days when it is set).
    Learned state (updated by :meth:`observe`):
    ``trust_`` (OnlineTrust), ``als_``, ``impressions_`` (per creator id), ``as_of_``,
    ``last_stats_`` (exposure numbers of the last day ranked), ``history_`` (the same per day).
    """

    name = "engine"

    def __init__(
        self,
        config: FeedConfig | None = None,
        refit_every: int = 1,
        random_state: int = 0,
        window_days: float = 6.0,
        credibility: str = "trust",
        w_buyer_live: float = 0.0,
        buyer_gain: float = 0.0,
        propensity: str = "fitted",
        watch_weighted: bool = False,
        assortment_affinity: bool = True,
    ) -> None:
        from trustecon.trust import OnlineTrust
        from trustecon.trust.pair import PairTrust

        self.config = config or ENGINE_FEED
        self.refit_every = refit_every
        self.random_state = random_state
        self.window_days = window_days
        if credibility not in ("trust", "watch"):
            raise ValueError(f"credibility must be 'trust' or 'watch', got {credibility!r}")
        self.credibility = credibility
        self.w_buyer_live = w_buyer_live
        self.buyer_gain = buyer_gain
        self.watch_weighted = watch_weighted
        self.assortment_affinity = assortment_affinity
        self._pins = np.zeros(0, np.int64)  # creator id · 2^32 + product id, unique
        if propensity not in ("fitted", "heuristic"):
            raise ValueError(f"propensity must be 'fitted' or 'heuristic', got {propensity!r}")
        self.propensity = propensity
        self.propensity_ = PurchasePropensity()
        self._orders_u: dict[int, float] = {}
        self._clicks_u: dict[int, float] = {}
        self.trust_ = OnlineTrust(PairTrust())
        w = self.trust_.model.weights
        self._wpos = {c: w[c] for c in POSITIVE}
        self._wneg = {c: w[c] for c in NEGATIVE}
        self._a0, self._b0 = self.trust_.model.priors
        self._h = self.trust_.model.config.half_life_seconds
        self.als_: CreatorALS | None = None
        self.impressions_: dict[int, int] = {}
        self.as_of_: dt.datetime | None = None
        self.last_stats_: dict[str, float] = {}
        self.history_: list[dict[str, float]] = []
        self._w_u: list[np.ndarray] = []
        self._w_c: list[np.ndarray] = []
        self._w_v: list[np.ndarray] = []
        self._days_since_fit = 10**9
        # Pair evidence (sorted keys): positive P, negative N as of instant t (epoch s).
        self._tk = np.zeros(0, np.int64)
        self._tp = np.zeros(0)
        self._tn = np.zeros(0)
        self._tt = np.zeros(0)
        # Recent publishes (content id, creator id, publish s) and the newest publish shown per pair.
        self._pub = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        self._sk = np.zeros(0, np.int64)
        self._sv = np.zeros(0)
        # Live schedule counts: per creator id and weekday; days seen per weekday.
        self._live = np.zeros((0, 7))
        self._days = np.zeros(7)
        self._weekday: int | None = None
        # Watch ratio per creator id (sum, views) and the (user, creator) pairs with an order.
        self._wr = np.zeros((0, 2))
        self._buy = np.zeros(0, np.int64)
        # Days each (user, creator) pair was shown in discovery (sorted pair keys, counts): w_novelty.
        self._shk = np.zeros(0, np.int64)
        self._shn = np.zeros(0)

    # ------------------------------------------------------------------ observing the log
    def observe(self, events: pa.Table) -> None:
        """Fold the day's logged events into trust, co-behaviour, seen items, live schedules."""
        if events.num_rows == 0:
            return
        ts = pc.max(events["ts"]).as_py()
        self.as_of_ = ts if self.as_of_ is None else max(self.as_of_, ts)
        kind = events["kind"]
        self._observe_trust(events)
        has_pair = pc.and_(pc.is_valid(events["user_id"]), pc.is_valid(events["creator_id"]))
        for k, w in EVENT_WEIGHTS.items():
            sub = events.filter(pc.and_(pc.equal(kind, k), has_pair))
            if sub.num_rows:
                self._w_u.append(sub["user_id"].to_numpy())
                self._w_c.append(sub["creator_id"].to_numpy())
                val = np.full(sub.num_rows, w)
                if k == "view" and self.watch_weighted:
                    # A view weighs 2·(watch share): the share has mean ≈ the viewer's satisfaction.
                    wm = sub["watch_ms"].to_numpy(zero_copy_only=False).astype(np.float64)
                    dm = sub["duration_ms"].to_numpy(zero_copy_only=False).astype(np.float64)
                    val = w * 2.0 * np.clip(np.nan_to_num(wm / np.maximum(dm, 1.0), nan=0.5), 0.0, 1.0)
                self._w_v.append(val)
        imp = events.filter(pc.equal(kind, "impression"))
        if imp.num_rows:
            for d in pc.value_counts(imp["creator_id"]).to_pylist():
                if d["values"] is not None:
                    self.impressions_[d["values"]] = self.impressions_.get(d["values"], 0) + d["counts"]
        if self.config.w_novelty:
            self._observe_shown(events)
        self._observe_content(events)
        self._observe_live(events)
        self._observe_watch_and_orders(events)
        if self.buyer_gain and self.propensity == "fitted":
            self.propensity_.observe(events)
        if self.assortment_affinity:
            pins = events.filter(pc.and_(pc.equal(kind, "product_pin"), pc.is_valid(events["product_id"])))
            if pins.num_rows:
                self._pins = np.union1d(self._pins, _pair_keys(pins, "creator_id", "product_id"))

    def _observe_shown(self, events: pa.Table) -> None:
        """Count a day for each (user, creator) pair with a discovery impression that day."""
        kind = events["kind"]
        sel = pc.and_(pc.equal(kind, "impression"), pc.equal(events["surface"], "discover"))
        imp = events.filter(pc.and_(sel, pc.and_(pc.is_valid(events["user_id"]), pc.is_valid(events["creator_id"]))))
        if imp.num_rows == 0:
            return
        keys = np.unique(_pair_keys(imp, "user_id", "creator_id"))
        allk = np.union1d(self._shk, keys)
        n = np.zeros(allk.size)
        n[np.searchsorted(allk, self._shk)] = self._shn
        n[np.searchsorted(allk, keys)] += 1.0
        self._shk, self._shn = allk, n

    def _shown(self, ctx: DayContext) -> sp.csr_matrix | None:
        """Discovery days so far per (active user, fresh creator) pair, for ``w_novelty``."""
        if not self.config.w_novelty or self._shk.size == 0:
            return None
        ui, ci = _lookup(ctx.user_ids, self._shk >> 32), _lookup(ctx.creator_ids, self._shk & 0xFFFFFFFF)
        ok = (ui >= 0) & (ci >= 0)
        return sp.csr_matrix((self._shn[ok], (ui[ok], ci[ok])), shape=(ctx.user_ids.size, ctx.creator_ids.size))

    def _observe_watch_and_orders(self, events: pa.Table) -> None:
        """Per creator, the summed watch ratio of views (the world's watch share has mean ≈ the
        viewer's satisfaction); the pairs that ordered."""
        kind = events["kind"]
        v = events.filter(pc.and_(pc.equal(kind, "view"), pc.is_valid(events["duration_ms"])))
        if v.num_rows:
            c = v["creator_id"].to_numpy(zero_copy_only=False).astype(np.int64)
            r = v["watch_ms"].to_numpy(zero_copy_only=False) / np.maximum(
                v["duration_ms"].to_numpy(zero_copy_only=False), 1.0
            )
            if c.max() >= self._wr.shape[0]:
                self._wr = np.vstack([self._wr, np.zeros((int(c.max()) + 1 - self._wr.shape[0], 2))])
            self._wr[:, 0] += np.bincount(c, weights=np.clip(r, 0.0, 1.0), minlength=self._wr.shape[0])
            self._wr[:, 1] += np.bincount(c, minlength=self._wr.shape[0])
        o = events.filter(pc.and_(pc.equal(kind, "order"), pc.is_valid(events["user_id"])))
        if o.num_rows:
            self._buy = np.union1d(self._buy, _pair_keys(o, "user_id", "creator_id"))
        for k, store in (("order", self._orders_u), ("product_click", self._clicks_u)):
            sub = events.filter(pc.and_(pc.equal(kind, k), pc.is_valid(events["user_id"])))
            if sub.num_rows:
                for d in pc.value_counts(sub["user_id"]).to_pylist():
                    store[d["values"]] = store.get(d["values"], 0.0) + d["counts"]

    def _propensity(self, ctx: DayContext) -> np.ndarray:
        """Purchase propensity per active user in [0, 1]: the fitted P(live order within 7 days)
        relative to the day's highest (:class:`PurchasePropensity`), or the heuristic
        ``1 − exp(−(orders + 0.25·clicks))``."""
        if self.propensity == "fitted":
            self.propensity_.start_day(ctx.day)
            p = self.propensity_.predict(ctx.user_ids)
            return p / max(float(p.max()), 1e-12) if p.size else p
        o = np.array([self._orders_u.get(int(u), 0.0) for u in ctx.user_ids])
        c = np.array([self._clicks_u.get(int(u), 0.0) for u in ctx.user_ids])
        return 1.0 - np.exp(-(o + 0.25 * c))

    def _watch_quality(self, ctx: DayContext) -> np.ndarray:
        """Per fresh creator, the mean watch ratio of her views shrunk to the overall mean with 20
        pseudo-views: ``q̂_c = (Σ r + 20 r̄) / (n_c + 20)`` (an estimate of mean satisfaction)."""
        m = ctx.creator_ids.size
        if self._wr.shape[0] == 0 or self._wr[:, 1].sum() == 0:
            return np.full(m, 0.5)
        rbar = self._wr[:, 0].sum() / self._wr[:, 1].sum()
        out = np.full(m, rbar)
        ok = ctx.creator_ids < self._wr.shape[0]
        s, n = self._wr[ctx.creator_ids[ok], 0], self._wr[ctx.creator_ids[ok], 1]
        out[ok] = (s + 20.0 * rbar) / (n + 20.0)
        return out

    def _assortment_affinity(self, ctx: DayContext) -> np.ndarray | None:
        """Affinity of each active user to each fresh creator's assortment, in [0, 1]:
        ``a(u,c) = (W B̂ B̂ᵀ)[u,c] / max_c' (W B̂ B̂ᵀ)[u,c']`` with ``W`` the logged user × creator
        affinity (:data:`EVENT_WEIGHTS`, as for ALS) and ``B̂`` the creators' pinned-product sets as
        L2-normalised rows (``B̂B̂ᵀ`` the cosine overlap of two assortments). A seller carries products
        of her own category, so users who engaged with sellers of a category score her peers high:
        live orders need a product the buyer needs (two-hop item-based scoring, Sarwar et al. 2001)."""
        if not self._w_u or self._pins.size == 0:
            return None
        u, c, v = np.concatenate(self._w_u), np.concatenate(self._w_c), np.concatenate(self._w_v)
        ui = _lookup(ctx.user_ids, u)
        ok = ui >= 0
        pc_, pp = self._pins >> 32, self._pins & 0xFFFFFFFF
        n_c = int(max(c.max(), pc_.max(), ctx.creator_ids.max())) + 1
        w = sp.csr_matrix((v[ok], (ui[ok], c[ok])), shape=(ctx.user_ids.size, n_c))
        _, pj = np.unique(pp, return_inverse=True)
        b = sp.csr_matrix((np.ones(pc_.size), (pc_, pj)), shape=(n_c, int(pj.max()) + 1))
        norm = np.sqrt(np.asarray(b.multiply(b).sum(axis=1)).ravel())
        b = sp.diags(1.0 / np.maximum(norm, 1e-12)) @ b
        sim = (b @ b[ctx.creator_ids].T).tocsr()  # all creators × fresh creators
        a = (w @ sim).toarray()
        return a / np.maximum(a.max(axis=1, keepdims=True), 1e-12)

    def _buyer_bonus(self, ctx: DayContext, live: np.ndarray) -> sp.csr_matrix | None:
        """``w_buyer_live · L(c)`` for each (active user, fresh creator) pair that has ordered before."""
        if not self.w_buyer_live or self._buy.size == 0:
            return None
        ui, ci = _lookup(ctx.user_ids, self._buy >> 32), _lookup(ctx.creator_ids, self._buy & 0xFFFFFFFF)
        ok = (ui >= 0) & (ci >= 0)
        val = self.w_buyer_live * live[ci[ok]]
        keep = val > 0
        shape = (ctx.user_ids.size, ctx.creator_ids.size)
        return sp.csr_matrix((val[keep], (ui[ok][keep], ci[ok][keep])), shape=shape)

    def _observe_trust(self, events: pa.Table) -> None:
        """Update OnlineTrust with the day's events, then re-read the evidence of the pairs touched."""
        cols = [c for c in _TRUST_COLS if c in events.column_names]
        sub = events.select(cols)
        # Epoch seconds as floats (OnlineTrust takes them as they are): much cheaper than datetimes.
        us = pc.cast(pc.cast(sub["ts"], pa.timestamp("us", "UTC")), pa.int64()).to_numpy()
        secs = np.floor(us / 1000.0) / 1000.0
        sub = sub.set_column(0, "ts", pa.array(secs))
        self.trust_.update(sub.to_pylist())
        u = events["user_id"].to_numpy(zero_copy_only=False)
        c = events["creator_id"].to_numpy(zero_copy_only=False)
        ok = ~(np.isnan(u) | np.isnan(c)) if u.dtype.kind == "f" else np.ones(u.size, bool)
        keys = np.unique(u[ok].astype(np.int64) * _KEY + c[ok].astype(np.int64))
        assert self.as_of_ is not None
        t = to_seconds(self.as_of_)
        p_new, n_new, k_new = [], [], []
        for key in keys.tolist():
            s = self.trust_.sums(key >> 32, key & 0xFFFFFFFF, self.as_of_)
            if s is None:
                continue
            k_new.append(key)
            p_new.append(sum(w * s.get(ch, 0.0) for ch, w in self._wpos.items()))
            n_new.append(sum(w * s.get(ch, 0.0) for ch, w in self._wneg.items()))
        if not k_new:
            return
        kk = np.array(k_new, np.int64)
        pos = np.searchsorted(self._tk, kk)
        hit = np.zeros(kk.size, dtype=bool)
        if self._tk.size:
            hit = (pos < self._tk.size) & (self._tk[np.minimum(pos, self._tk.size - 1)] == kk)
        pp, nn = np.array(p_new), np.array(n_new)
        self._tp[pos[hit]], self._tn[pos[hit]], self._tt[pos[hit]] = pp[hit], nn[hit], t
        miss = ~hit
        if miss.any():
            keys_all = np.r_[self._tk, kk[miss]]
            order = np.argsort(keys_all, kind="stable")
            self._tk = keys_all[order]
            self._tp = np.r_[self._tp, pp[miss]][order]
            self._tn = np.r_[self._tn, nn[miss]][order]
            self._tt = np.r_[self._tt, np.full(int(miss.sum()), t)][order]

    def _observe_content(self, events: pa.Table) -> None:
        """Remember recent publishes and, per pair, the newest publish time shown."""
        kind = events["kind"]
        pub = events.filter(pc.and_(pc.equal(kind, "publish"), pc.is_valid(events["content_id"])))
        ids, cre, pts = self._pub
        if pub.num_rows:
            ids = np.r_[ids, pub["content_id"].to_numpy()]
            cre = np.r_[cre, pub["creator_id"].to_numpy()]
            pts = np.r_[pts, _secs(pub["ts"])]
        assert self.as_of_ is not None
        keep = pts > to_seconds(self.as_of_) - (self.window_days + 2) * 86400.0
        order = np.argsort(ids[keep], kind="stable")
        self._pub = (ids[keep][order], cre[keep][order], pts[keep][order])
        shown = events.filter(
            pc.and_(pc.is_in(kind, pa.array(["impression", "view"])), pc.is_valid(events["content_id"]))
        )
        if shown.num_rows == 0 or self._pub[0].size == 0:
            return
        cid = shown["content_id"].to_numpy()
        pos = np.minimum(np.searchsorted(self._pub[0], cid), self._pub[0].size - 1)
        ok = self._pub[0][pos] == cid
        keys = shown["user_id"].to_numpy()[ok] * _KEY + shown["creator_id"].to_numpy()[ok]
        val = self._pub[2][pos[ok]]
        allk = np.r_[self._sk, keys]
        allv = np.r_[self._sv, val]
        uk, inv = np.unique(allk, return_inverse=True)
        best = np.full(uk.size, -np.inf)
        np.maximum.at(best, inv, allv)
        self._sk, self._sv = uk, best

    def _observe_live(self, events: pa.Table) -> None:
        """Count the day's live rooms per creator on the weekday that was ranked."""
        if self._weekday is None:
            return
        ls = events.filter(pc.equal(events["kind"], "live_start"))
        cre = np.unique(ls["creator_id"].to_numpy()) if ls.num_rows else np.zeros(0, np.int64)
        if cre.size and cre.max() >= self._live.shape[0]:
            grow = np.zeros((int(cre.max()) + 1 - self._live.shape[0], 7))
            self._live = np.vstack([self._live, grow])
        self._live[cre, self._weekday] += 1
        self._days[self._weekday] += 1
        self._weekday = None

    def _refit(self) -> None:
        if not self._w_u:
            return
        u, c, v = np.concatenate(self._w_u), np.concatenate(self._w_c), np.concatenate(self._w_v)
        self._w_u, self._w_c, self._w_v = [u], [c], [v]
        cfg = self.config
        self.als_ = CreatorALS(factors=cfg.als_factors, iterations=cfg.als_iterations, random_state=self.random_state)
        self.als_.fit(u, c, v)

    # ------------------------------------------------------------------ ranking a day
    def _trust_now(self) -> np.ndarray:
        """T of every known pair as of the latest logged instant (decayed evidence, flat prior)."""
        if self._tk.size == 0 or self.as_of_ is None:
            return np.zeros(0)
        d = np.exp2(-(to_seconds(self.as_of_) - self._tt) / self._h)
        return (self._a0 + self._tp * d) / (self._a0 + self._b0 + (self._tp + self._tn) * d)

    def _trust_matrix(self, ctx: DayContext) -> tuple[sp.csr_matrix, np.ndarray]:
        """Pair trust of (active user, fresh creator) pairs with evidence; credibility per creator."""
        n, m = ctx.user_ids.size, ctx.creator_ids.size
        tv = self._trust_now()
        if tv.size == 0:
            return sp.csr_matrix((n, m)), np.full(m, 0.5)
        tu, tc = self._tk >> 32, self._tk & 0xFFFFFFFF
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

    def _unseen(self, ctx: DayContext, pairs: sp.csr_matrix) -> sp.csr_matrix:
        """Fresh items of each listed (user, creator) pair published after the newest one shown."""
        n, m = pairs.shape
        coo = pairs.tocoo()
        r, c = coo.row.astype(np.int64), coo.col.astype(np.int64)
        ids, cre, pts = self._pub
        if r.size == 0 or ids.size == 0 or self.as_of_ is None:
            return sp.csr_matrix((n, m))
        u_id, c_id = ctx.user_ids[r], ctx.creator_ids[c]
        keys = u_id * _KEY + c_id
        seen = np.full(keys.size, -np.inf)
        if self._sk.size:
            pos = np.minimum(np.searchsorted(self._sk, keys), self._sk.size - 1)
            seen = np.where(self._sk[pos] == keys, self._sv[pos], -np.inf)
        lo = np.maximum(seen, to_seconds(self.as_of_) - self.window_days * 86400.0)
        # Per creator, publish times sorted: count those > lo by binary search on (creator, time).
        order = np.lexsort((pts, cre))
        sc, st = cre[order], pts[order]
        first = np.searchsorted(sc, c_id, side="left")
        last = np.searchsorted(sc, c_id, side="right")
        cnt = np.zeros(r.size, np.int64)
        for i in np.flatnonzero(last > first):  # few creators per pair: binary search per pair
            cnt[i] = last[i] - (first[i] + np.searchsorted(st[first[i]:last[i]], lo[i], side="right"))
        # Plus the items expected today (not logged yet): the creator's recent publishing rate.
        span = max(min(float(self._days.sum()), self.window_days), 1.0)
        recent = pts > to_seconds(self.as_of_) - span * 86400.0
        rate = np.bincount(_lookup(ctx.creator_ids, cre[recent]) + 1, minlength=m + 1)[1:] / span
        val = cnt + rate[c]
        keep = val > 0
        return sp.csr_matrix((val[keep], (r[keep], c[keep])), shape=(n, m))

    def _live_odds(self, ctx: DayContext) -> np.ndarray:
        """Probability each fresh creator goes live today, from the logged weekly schedule."""
        wd = dt.date.fromisoformat(ctx.date).weekday()
        self._weekday = wd
        m = ctx.creator_ids.size
        lv = np.zeros((m, 7))
        ok = ctx.creator_ids < self._live.shape[0]
        lv[ok] = self._live[ctx.creator_ids[ok]]
        days = self._days.sum()
        rate = (lv.sum(axis=1) + 0.25) / (days + 1.0)
        return (lv[:, wd] + rate) / (self._days[wd] + 1.0)

    def exposures(self, ctx: DayContext, rng: np.random.Generator) -> np.ndarray:
        """Creators per user and slot, in feed order (indices into ``ctx.creator_ids``, -1 empty)."""
        n, m, k = ctx.user_ids.size, ctx.creator_ids.size, ctx.slots
        out = np.full((n, k), -1, dtype=np.int64)
        live = self._live_odds(ctx)
        if n == 0 or m == 0 or k == 0:
            return out
        self._days_since_fit += 1
        if self._days_since_fit >= self.refit_every:
            self._refit()
            self._days_since_fit = 0
        trust, cred = self._trust_matrix(ctx)
        follows = sp.csr_matrix(ctx.follows, dtype=np.float64)
        followers = np.asarray(follows.sum(axis=0)).ravel()
        pop = np.log1p(followers)
        imps = np.array([self.impressions_.get(int(c), 0) for c in ctx.creator_ids])
        cfg = replace(self.config, k=k)
        bonus = self._buyer_bonus(ctx, live)
        if self.credibility == "watch":
            cred = self._watch_quality(ctx)
        candidates = follows + (trust >= cfg.trust_threshold)
        candidates = (candidates + (bonus > 0) if bonus is not None else candidates).astype(bool)
        unseen = self._unseen(ctx, candidates)
        # Impressions one slot gives (what the KPI's exposure Gini counts): the unseen items a known
        # pair is shown (mean over the creator's candidate pairs, 1 to 5 items) plus the live card.
        tot = np.asarray(unseen.sum(axis=0)).ravel()
        cnt = np.asarray((unseen > 0).sum(axis=0)).ravel()
        per_slot = np.clip(np.where(cnt > 0, tot / np.maximum(cnt, 1), 1.0), 1.0, 5.0) + live
        inp = FeedInputs(
            user_ids=ctx.user_ids,
            creator_ids=ctx.creator_ids,
            follows=follows,
            trust=trust,
            credibility=cred / max(cred.max(), 1e-12),
            popularity=pop / pop.max() if pop.max() > 0 else pop,
            novel=imps <= np.median(imps),
            als=self.als_,
            unseen=unseen,
            live=live,
            slot_impressions=per_slot,
            pair_bonus=bonus,
            user_live_gain=self.buyer_gain * self._propensity(ctx) if self.buyer_gain else None,
            affinity=self._assortment_affinity(ctx) if self.assortment_affinity else None,
            shown=self._shown(ctx),
        )
        b = rank_feeds(inp, cfg, rng)
        self.last_stats_ = dict(b.stats)
        self.history_.append({"day": ctx.day, **self.last_stats_})
        # Nobody is shown to themselves (creators are users too).
        keep = ctx.user_ids[b.user_index] != ctx.creator_ids[b.creator_index]
        ui, ci, r = b.user_index[keep], b.creator_index[keep], b.rank[keep]
        ok = r < k
        out[ui[ok], r[ok]] = ci[ok]
        return out


def _secs(ts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Epoch seconds (float) of a timestamp column."""
    us = pc.cast(pc.cast(ts, pa.timestamp("us", "UTC")), pa.int64()).to_numpy(zero_copy_only=False)
    return us / 1e6


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


