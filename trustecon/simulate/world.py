"""The day loop of the simulated platform (DESIGN.md §10, docs/simulator.md §Day).

:class:`World` holds the latent state (population, pair trust and follows, recent content, pending
order outcomes) and :meth:`World.step` turns one day into one Arrow table of events. Everything is
vectorized with numpy over the day's agents; all randomness comes from one seeded generator.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from trustecon.simulate import choice
from trustecon.simulate.attacks import AttackPlan, fake_orders_day, plan_attacks, sybil_day
from trustecon.simulate.buffer import SURFACE_CODE, DayBuffer
from trustecon.simulate.config import SimConfig
from trustecon.simulate.market import (
    MARKET_STREAM,
    AdBook,
    Buys,
    Market,
    MarketDay,
    serve_ads,
    sponsor_pins,
    write_fees,
)
from trustecon.simulate.pairs import NEVER, PairStore
from trustecon.simulate.policies import BuiltinPolicy, builtin_policy
from trustecon.simulate.policy import DayContext, Policy
from trustecon.simulate.population import Population, sample_population
from trustecon.simulate.transition import apply_experience, follow_probability, unfollow_probability

__all__ = ["World"]

S = 1_000_000  # µs per second
MIN = 60 * S
HOUR = 3600 * S
DAY = 24 * HOUR
SPAN = 1 << 40  # > 8 days in µs: the content index key is creator * SPAN + (ts - window start)
CONTENT_WINDOW = 7  # days a video stays eligible for an impression (fan reach counts 7 days)
_LIVE_KINDS = ("like", "comment", "share", "gift")


class World:
    """The simulated platform. ``World(cfg, policy=None, timezone="UTC", market=None)``; then :meth:`step`
    per day. ``market``: brand campaigns (:mod:`trustecon.simulate.market`); none by default."""

    def __init__(self, cfg: SimConfig, policy: Policy | None = None, timezone: str = "UTC",
                 market: Market | None = None):
        self.cfg = cfg.validate()
        self.rng = np.random.default_rng(cfg.seed)
        self.tz = ZoneInfo(timezone)
        self.start = dt.date.fromisoformat(cfg.start)
        self.pop: Population = sample_population(cfg, self.rng)
        self.plan: AttackPlan = plan_attacks(cfg, self.pop, self.rng)
        self.pairs = PairStore(cfg.creators, self.pop.propensity)
        self.policy: Policy = policy if policy is not None else builtin_policy(cfg.policy)
        if isinstance(self.policy, BuiltinPolicy):
            self.policy.bind(self)
        self.market = market
        # The ad path draws from its own stream, so a market leaves the main stream's draws alone.
        self.market_rng = np.random.default_rng([cfg.seed, MARKET_STREAM])
        self.ad_book = AdBook()
        self._buys = Buys()
        self.next_event = 0
        self.next_content = 1
        self.next_session = 1
        self.next_order = 1
        # Videos of the last CONTENT_WINDOW days: id, creator index, day, publish ts, duration, quality.
        self.content = {k: np.zeros(0, dt_) for k, dt_ in
                        (("id", np.int64), ("creator", np.int64), ("day", np.int64), ("ts", np.int64),
                         ("dur", np.int64), ("q", np.float64))}
        # Order outcomes due on a later day: day -> list of dicts of arrays.
        self.pending: dict[int, list[dict[str, np.ndarray]]] = defaultdict(list)
        self.sybil_followers = np.zeros(cfg.creators)
        # Closed-form knobs (docs/simulator.md §Calibration).
        t = cfg.targets
        self.visit_mu = choice.visit_mean_minutes(t.live_watch_minutes, float(np.mean(self.pop.session_minutes)))
        self.pin_minutes = t.live_watch_minutes / (t.products_seen_per_visit - 1.0)
        # Running sums that set the live interaction rate to the target multiple of the video rate.
        self.sums = dict(video_int=0.0, video_min=0.0, live_int=0.0, live_min=0.0)
        self._init_follows()

    # ------------------------------------------------------------------ set-up
    def _init_follows(self) -> None:
        """Day-0 follow graph: each user follows ~Poisson(initial_follows) creators, drawn ∝ fame × interest."""
        cfg, pop, rng = self.cfg, self.pop, self.rng
        n = rng.poisson(cfg.initial_follows, size=cfg.users)
        users = np.repeat(np.arange(cfg.users), n)
        order = np.argsort(pop.category, kind="stable")
        cat_sorted = pop.category[order]
        fame_cum = np.cumsum(pop.fame[order])
        cat_fame = np.bincount(pop.category, weights=pop.fame, minlength=cfg.categories)
        w = pop.interest * cat_fame[None, :]
        cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        cats = np.empty(users.size, dtype=np.int64)
        for lo in range(0, users.size, 1 << 20):
            hi = min(lo + (1 << 20), users.size)
            r = rng.random(hi - lo)
            cats[lo:hi] = np.minimum((cum[users[lo:hi]] < r[:, None]).sum(axis=1), cfg.categories - 1)
        first = np.searchsorted(cat_sorted, cats, side="left")
        last = np.searchsorted(cat_sorted, cats, side="right")
        ok = last > first
        users, first, last = users[ok], first[ok], last[ok]
        base = np.where(first > 0, fame_cum[np.maximum(first - 1, 0)], 0.0)
        r = base + rng.random(users.size) * (fame_cum[last - 1] - base)
        creators = order[np.minimum(np.searchsorted(fame_cum, r, side="left"), last - 1)]
        keep = users != creators
        users, creators = users[keep], creators[keep]
        idx = self.pairs.ensure(users, creators)
        uniq = np.unique(idx)
        self.pairs.follow[uniq] = True
        self.pairs.follow_day[uniq] = -1
        th = cfg.follow_threshold
        self.pairs.trust[uniq] = th + (1.0 - th) * rng.beta(2.0, 3.0, size=uniq.size)
        self.followers = self.pairs.followers_count().astype(np.float64)

    # ------------------------------------------------------------------ helpers
    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def day_start(self, day: int) -> int:
        """Local midnight of ``day`` in µs since the epoch (UTC)."""
        d = self.date(day)
        local = dt.datetime(d.year, d.month, d.day, tzinfo=self.tz)
        return int(local.timestamp()) * S

    def _apply(self, touched: list[np.ndarray], idx: np.ndarray, y: np.ndarray | float, weight: float,
               n: np.ndarray | float = 1.0) -> None:
        """Apply experiences to pair trust; remember the pairs' rows (they never move) for the unfollows."""
        touched.append(apply_experience(self.pairs, idx, y, weight, self.cfg.learning_rate, n=n))

    def _match(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        return choice.interest_match(self.pop, users, self.pop.category[creators])

    # ------------------------------------------------------------------ one day
    def step(self, day: int) -> pa.Table:
        """Simulate ``day`` (0-based) and return its events (event schema, sorted by time)."""
        if self.cfg.daily_streams:
            self.rng = np.random.default_rng([self.cfg.seed, 1 + day])
            self.market_rng = np.random.default_rng([self.cfg.seed, MARKET_STREAM, 1 + day])
        cfg, rng, pop = self.cfg, self.rng, self.pop
        t0 = self.day_start(day)
        buf = DayBuffer()
        touched: list[np.ndarray] = []
        if day == 0:
            # The follow graph the world starts with is logged as follows in the first hours of day 0,
            # so that "follower at publish time" is known from the log alone.
            fu, fc = self.pairs.follow_pairs()
            ts = t0 + (rng.random(fu.size) * 6 * HOUR).astype(np.int64)
            buf.add("follow", ts, surface="discover", user_id=fu + 1, creator_id=fc + 1)
        self._publish(day, t0, buf)
        self._buys = Buys()
        live, sess_id, sess_start, sess_end = self._live_schedule(day, t0, buf, touched)
        active = np.flatnonzero(rng.random(cfg.users) < pop.activity)
        if self.market is not None:
            ctx = MarketDay(day=day, date=self.date(day).isoformat(), user_ids=active + 1, slots=cfg.slots)
            self._buys = (self.market.buys(ctx) or Buys()).validate(ctx, cfg.creators, pop.n_products)
            write_fees(self._buys, t0, buf)
        self._write_pins(buf)
        recent = self.content["creator"][self.content["day"] > day - cfg.fresh_days]
        fresh = np.flatnonzero(np.isin(np.arange(cfg.creators), recent) | live)
        eu, ec = self._expose(day, active, fresh, cfg.slots - self._buys.ad_slots)
        hours = np.clip(pop.hour[eu] + rng.normal(0.0, 1.5, size=eu.size), 0.2, 23.3)
        when = t0 + (hours * HOUR).astype(np.int64)
        self._content_impressions(day, eu, ec, when, buf, touched)
        self._live_visits(day, eu, ec, live, sess_id, sess_start, sess_end, buf, touched)
        if self.market is not None:
            serve_ads(self, self._buys, day, t0, buf)
            self.ad_book.settle(day, t0, self.market_rng, buf)
        self._settle(day, t0, buf, touched)
        self._unfollows(day, t0, touched, buf)
        if self.plan.attacks:
            today = self.content["day"] == day
            for members, target in sybil_day(self.plan, cfg, rng, day, t0, buf, self.content["creator"][today],
                                             self.content["id"][today], self.content["ts"][today],
                                             self.content["dur"][today]):
                self.sybil_followers[target] += members.size
        self.followers = self.pairs.followers_count() + self.sybil_followers
        table = buf.build(cfg.seed, self.next_event)
        self.next_event += table.num_rows
        if not isinstance(self.policy, BuiltinPolicy):
            self.policy.observe(table)
        if self.market is not None:
            self.market.observe(table)
        return table

    def _publish(self, day: int, t0: int, buf: DayBuffer) -> None:
        cfg, rng, pop = self.cfg, self.rng, self.pop
        n = np.minimum(rng.poisson(pop.publish_rate), 4)
        cre = np.repeat(np.arange(cfg.creators), n)
        ts = t0 + (rng.uniform(7.0, 22.0, size=cre.size) * HOUR).astype(np.int64)
        ids = np.arange(self.next_content, self.next_content + cre.size, dtype=np.int64)
        self.next_content += cre.size
        dur = (np.clip(rng.lognormal(np.log(45.0), 0.6, size=cre.size), 5.0, 300.0) * 1000).astype(np.int64)
        q = np.clip(pop.quality[cre] + rng.normal(0.0, 0.08, size=cre.size), 0.02, 0.99)
        buf.add("publish", ts, creator_id=cre + 1, content_id=ids, duration_ms=dur)
        keep = self.content["day"] > day - CONTENT_WINDOW
        new = {"id": ids, "creator": cre, "day": np.full(cre.size, day), "ts": ts, "dur": dur, "q": q}
        self.content = {k: np.concatenate([v[keep], new[k]]) for k, v in self.content.items()}
        # Index for "unseen videos of creator c published in [a, b]": sorted key creator * SPAN + age.
        self._cbase = t0 - (CONTENT_WINDOW + 1) * DAY
        key = self.content["creator"] * SPAN + (self.content["ts"] - self._cbase)
        order = np.argsort(key, kind="stable")
        self.content = {k: v[order] for k, v in self.content.items()}
        self._ckey = key[order]

    def _live_schedule(self, day: int, t0: int, buf: DayBuffer, touched: list[np.ndarray]):
        """Scheduled streams: go live, or skip (with a leave notice, or not: a broken promise)."""
        cfg, rng, pop = self.cfg, self.rng, self.pop
        sched = pop.live_days[:, self.date(day).weekday()]
        skip = sched & (rng.random(cfg.creators) < cfg.skip_probability)
        # Honest creators tend to tell their fans: P(notice | skip) = honesty.
        notice = skip & (rng.random(cfg.creators) < pop.honesty)
        live = sched & ~skip
        nc = np.flatnonzero(notice)
        buf.add("notice", t0 + (pop.live_hour[nc] * HOUR).astype(np.int64) - 2 * HOUR, surface="follow",
                creator_id=nc + 1)
        if skip.any():
            rows = np.flatnonzero(self.pairs.follow)
            fc = self.pairs.keys[rows] % cfg.creators
            hit = skip[fc]
            idx = rows[hit]
            soft = notice[fc[hit]]
            self._apply(touched, idx[~soft], 0.0, cfg.w_broken)
            self._apply(touched, idx[soft], 0.0, cfg.w_broken * (1 - cfg.notice_softening))
        sess_id = np.full(cfg.creators, -1, dtype=np.int64)
        lc = np.flatnonzero(live)
        sess_id[lc] = np.arange(self.next_session, self.next_session + lc.size)
        self.next_session += lc.size
        start = t0 + (pop.live_hour * HOUR).astype(np.int64)
        end = start + (pop.session_minutes * MIN).astype(np.int64)
        buf.add("live_start", start[lc], surface="live", creator_id=lc + 1, session_id=sess_id[lc])
        buf.add("live_end", end[lc], surface="live", creator_id=lc + 1, session_id=sess_id[lc])
        # A product is pinned every pin_minutes, cycling through the assortment from a random offset.
        pin = int(round(self.pin_minutes * MIN))
        n_pins = np.where(live, np.floor((end - start) / pin).astype(np.int64) + 1, 0)
        size = pop.assortment_ptr[1:] - pop.assortment_ptr[:-1]
        offset = rng.integers(0, np.maximum(size, 1))
        pc_ = np.repeat(np.arange(cfg.creators), n_pins)
        k = np.arange(pc_.size) - np.repeat(np.cumsum(n_pins) - n_pins, n_pins)
        prod = pop.assortment[pop.assortment_ptr[pc_] + (offset[pc_] + k) % np.maximum(size[pc_], 1)]
        # Written by _write_pins once the day's sponsorships are known.
        self._pin_rows = (start[pc_] + (k * pin).astype(np.int64), pc_, k, sess_id[pc_], prod,
                          np.cumsum(n_pins) - n_pins, n_pins)
        return live, sess_id, start, end

    def _write_pins(self, buf: DayBuffer) -> None:
        """Today's product pins, with sponsored products in their turns; ``_pins`` per creator: first pin
        row, count, products and campaign per pin (−1: the creator's own)."""
        ts, pc_, k, sid, prod, first, n_pins = self._pin_rows
        prod, camp = sponsor_pins(pc_, k, prod, self._buys)
        own = camp < 0
        buf.add("product_pin", ts[own], surface="live", creator_id=pc_[own] + 1, session_id=sid[own],
                product_id=prod[own] + 1)
        buf.add("product_pin", ts[~own], surface="live", creator_id=pc_[~own] + 1, session_id=sid[~own],
                product_id=prod[~own] + 1, campaign_id=camp[~own])
        self._pins = (first, n_pins, prod, camp)

    def _expose(self, day: int, active: np.ndarray, fresh: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray]:
        """Ask the policy which creators each active user sees in ``slots`` organic slots; returns
        (user, creator) index pairs."""
        fu, fc = self.pairs.follow_pairs()
        row = np.full(self.cfg.users, -1)
        row[active] = np.arange(active.size)
        col = np.full(self.cfg.creators, -1)
        col[fresh] = np.arange(fresh.size)
        ok = (row[fu] >= 0) & (col[fc] >= 0)
        r, c = row[fu[ok]], col[fc[ok]]
        order = np.lexsort((c, r))  # canonical CSR: rows in order, columns sorted within a row
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=active.size))])
        follows = sp.csr_matrix((np.ones(r.size, dtype=np.int8), c[order], indptr),
                                shape=(active.size, fresh.size))
        ctx = DayContext(day=day, date=self.date(day).isoformat(), user_ids=active + 1, creator_ids=fresh + 1,
                         follows=follows, slots=slots)
        choice_ = np.asarray(self.policy.exposures(ctx, self.rng), dtype=np.int64)
        if choice_.shape != (active.size, slots):
            raise ValueError(f"policy {self.policy.name!r} returned shape {choice_.shape}, "
                             f"expected {(active.size, slots)}")
        r, s = np.nonzero(choice_ >= 0)
        return active[r], fresh[choice_[r, s]]

    def _surface(self, idx: np.ndarray) -> np.ndarray:
        fol = np.zeros(idx.size, dtype=bool)
        known = idx >= 0
        fol[known] = self.pairs.follow[idx[known]]
        return np.where(fol, SURFACE_CODE["follow"], SURFACE_CODE["discover"]).astype(np.int32)

    def _content_impressions(self, day, eu, ec, when, buf: DayBuffer, touched) -> None:
        """Impressions of a shown creator's unseen recent videos, then views and interactions."""
        cfg, rng = self.cfg, self.rng
        idx = self.pairs.find(eu, ec)
        seen = np.where(idx >= 0, self.pairs.last_seen[np.maximum(idx, 0)], NEVER) if len(self.pairs) else \
            np.full(eu.size, NEVER)
        t0 = self.day_start(day)
        lb_ts = np.maximum(seen + 1, t0 - (CONTENT_WINDOW - 1) * DAY)
        # Binary searches run several times faster on sorted queries; both share the order of the first.
        q_lo = ec * SPAN + (lb_ts - self._cbase)
        q_hi = ec * SPAN + (when - self._cbase)
        order = np.argsort(q_lo)
        lo, hi = np.empty(ec.size, dtype=np.intp), np.empty(ec.size, dtype=np.intp)
        lo[order] = np.searchsorted(self._ckey, q_lo[order], side="left")
        hi[order] = np.searchsorted(self._ckey, q_hi[order], side="right")
        # A pair with memory gets every unseen video (up to a cap); a stranger gets the newest one.
        cap = np.where(idx >= 0, cfg.max_items_per_exposure, 1)
        k = np.clip(hi - lo, 0, cap)
        rows = np.repeat(np.arange(eu.size), k)
        j = np.arange(rows.size) - np.repeat(np.cumsum(k) - k, k)
        ci = hi[rows] - 1 - j
        u, c = eu[rows], ec[rows]
        ts = when[rows] + j * 15 * S
        surf = self._surface(idx)[rows]
        cid = self.content["id"][ci]
        buf.add("impression", ts, surface=surf, user_id=u + 1, creator_id=c + 1, content_id=cid)
        # Remember the publish time of the newest video shown, so the next exposure shows what is newer.
        pub = self.content["ts"][ci]
        pidx = idx[rows]
        known = pidx >= 0
        np.maximum.at(self.pairs.last_seen, pidx[known], pub[known])
        # Views.
        m = self._match(u, c)
        s = choice.satisfaction(self.content["q"][ci], m)
        trust = self.pairs.trust_at(pidx, u)
        v = np.flatnonzero(rng.random(u.size) < choice.view_probability(cfg, s, trust))
        u, c, s, trust, ts, surf, ci, cid, pidx = (x[v] for x in (u, c, s, trust, ts, surf, ci, cid, pidx))
        dur = self.content["dur"][ci]
        watch = (dur * choice.watch_ratio(rng, s)).astype(np.int64)
        vts = ts + S
        buf.add("view", vts, surface=surf, user_id=u + 1, creator_id=c + 1, content_id=cid, watch_ms=watch,
                duration_ms=dur)
        new = pidx < 0
        if new.any():  # strangers who viewed have met the creator now
            pidx[new] = self.pairs.ensure(u[new], c[new])
        np.maximum.at(self.pairs.last_seen, pidx, pub[v])
        self._apply(touched, pidx, s, cfg.w_view)
        eng = (0.3 + 1.4 * s) * (0.5 + trust)
        n_int = 0
        positive = np.zeros(u.size, dtype=bool)
        for kind, p in (("like", cfg.like_p), ("comment", cfg.comment_p), ("share", cfg.share_p)):
            hit = rng.random(u.size) < np.minimum(p * eng, 1.0)
            at = vts[hit] + (rng.random(int(hit.sum())) * watch[hit]).astype(np.int64)
            buf.add(kind, at, surface=surf[hit], user_id=u[hit] + 1, creator_id=c[hit] + 1, content_id=cid[hit])
            positive |= hit
            n_int += int(hit.sum())
        hate = rng.random(u.size) < np.minimum(cfg.hate_p * 2.0 * (1.0 - s), 1.0)
        buf.add("hate", vts[hate] + watch[hate], surface=surf[hate], user_id=u[hate] + 1, creator_id=c[hate] + 1,
                content_id=cid[hate])
        visit = rng.random(u.size) < np.minimum(cfg.profile_visit_p * 2.0 * s, 1.0)
        buf.add("profile_visit", vts[visit] + watch[visit] + S, surface=surf[visit], user_id=u[visit] + 1,
                creator_id=c[visit] + 1)
        self._apply(touched, pidx[positive], 1.0, cfg.w_interact)
        self._apply(touched, pidx[hate], 0.0, cfg.w_hate)
        self.sums["video_int"] += n_int
        self.sums["video_min"] += float(watch.sum()) / 60_000.0  # watch_ms → minutes
        self._maybe_follow(day, pidx, u, c, vts + watch + 2 * S, surf, boost=visit, buf=buf)

    def _maybe_follow(self, day, pidx, u, c, ts, surf, boost, buf: DayBuffer) -> None:
        cfg = self.cfg
        first = np.unique(pidx, return_index=True)[1]  # one decision per pair per day
        pidx, u, c, ts, surf, boost = pidx[first], u[first], c[first], ts[first], surf[first], boost[first]
        cand = ~self.pairs.follow[pidx]
        p = follow_probability(self.pairs.trust[pidx], cfg.follow_base, cfg.follow_threshold) * (1 + 2 * boost)
        f = cand & (self.rng.random(pidx.size) < p)
        self.pairs.follow[pidx[f]] = True
        self.pairs.follow_day[pidx[f]] = day
        buf.add("follow", ts[f], surface=surf[f], user_id=u[f] + 1, creator_id=c[f] + 1)

    def _live_visits(self, day, eu, ec, live, sess_id, sess_start, sess_end, buf: DayBuffer, touched) -> None:
        """Live cards shown, entries, visits, in-room interactions, product clicks and orders."""
        cfg, rng, pop = self.cfg, self.rng, self.pop
        on = live[ec]
        u, c = eu[on], ec[on]
        st, en, sid = sess_start[c], sess_end[c], sess_id[c]
        idx = self.pairs.find(u, c)
        surf = self._surface(idx)
        its = st + (rng.random(u.size) * (en - st - 2 * MIN)).astype(np.int64)
        buf.add("impression", its, surface=surf, user_id=u + 1, creator_id=c + 1, session_id=sid)
        m = self._match(u, c)
        trust = self.pairs.trust_at(idx, u)
        p_enter = np.minimum(cfg.enter_base * (0.3 + 0.7 * m) * (0.5 + trust), 1.0)
        e = np.flatnonzero(rng.random(u.size) < p_enter)
        u, c, st, en, sid, m, trust, surf, pidx = (x[e] for x in (u, c, st, en, sid, m, trust, surf, idx))
        enter = its[e] + 5 * S
        s = choice.satisfaction(pop.quality[c], m)
        # Visit length: Exp(μ · h) cut at the session's end; h = 0.7 + 0.6 s has mean ≈ 1.
        x = (rng.exponential(self.visit_mu, size=u.size) * (0.7 + 0.6 * s) * MIN).astype(np.int64)
        leave = np.minimum(enter + np.maximum(x, S), en)
        minutes = (leave - enter) / MIN
        buf.add("live_enter", enter, surface=surf, user_id=u + 1, creator_id=c + 1, session_id=sid)
        buf.add("live_leave", leave, surface=surf, user_id=u + 1, creator_id=c + 1, session_id=sid)
        new = pidx < 0
        if new.any():  # a stranger who entered has met the creator now
            pidx[new] = self.pairs.ensure(u[new], c[new])
        self._apply(touched, pidx, s, cfg.w_live, n=minutes / cfg.targets.live_watch_minutes)
        trust = self.pairs.trust[pidx]
        # Products seen: pins from the one showing at entry to the last before leaving.
        first_pin, n_pins, prods, pin_camp = self._pins
        pin = int(round(self.pin_minutes * MIN))
        k0 = np.minimum((enter - st) // pin, n_pins[c] - 1)
        k1 = np.minimum((leave - st) // pin, n_pins[c] - 1)
        nseen = np.maximum(k1 - k0 + 1, 0)
        vr = np.repeat(np.arange(u.size), nseen)
        kk = k0[vr] + np.arange(vr.size) - np.repeat(np.cumsum(nseen) - nseen, nseen)
        prod = prods[first_pin[c[vr]] + kk]
        camp = pin_camp[first_pin[c[vr]] + kk]
        need = choice.interest_match(pop, u[vr], pop.product_category[prod])
        click = rng.random(vr.size) < choice.click_probability(cfg, need, trust[vr])
        vr, kk, prod, need, camp = vr[click], kk[click], prod[click], need[click], camp[click]
        seg_lo = np.maximum(enter[vr], st[vr] + kk * pin)
        seg_hi = np.minimum(leave[vr], st[vr] + (kk + 1) * pin)
        cts = seg_lo + (rng.random(vr.size) * np.maximum(seg_hi - seg_lo, 1)).astype(np.int64)
        for sel, sponsored in ((camp < 0, False), (camp >= 0, True)):  # a sponsored pin's clicks carry its campaign
            extra = {"campaign_id": camp[sel]} if sponsored else {}
            buf.add("product_click", cts[sel], surface="live", user_id=u[vr][sel] + 1, creator_id=c[vr][sel] + 1,
                    session_id=sid[vr][sel], product_id=prod[sel] + 1, **extra)
        buy = rng.random(vr.size) < choice.order_probability(cfg, trust[vr], need, pop.price[prod],
                                                              pop.price_sensitivity[u[vr]])
        self._orders(day, u[vr][buy], c[vr][buy], prod[buy], cts[buy] + 30 * S, sid[vr][buy], "live",
                     np.full(int(buy.sum()), -1), buf, campaign=camp[buy])
        # Other in-room interactions at the rate that makes live per-minute interactions the target
        # multiple of the short-video rate (docs/simulator.md §Calibration).
        eng = 0.5 + s
        sums = self.sums
        # Cumulative control: today's rate tops the running live total up to R × video rate × minutes.
        sums["live_int"] += vr.size
        sums["live_min"] += float(minutes.sum())
        emin = float((eng * minutes).sum())
        video_rate = sums["video_int"] / sums["video_min"] if sums["video_min"] > 0 else 0.1
        want = cfg.targets.live_vs_video_interactions * video_rate * sums["live_min"] - sums["live_int"]
        lam = max(want, 0.0) / emin if emin > 0 else 0.0
        n = rng.poisson(lam * eng * minutes)
        ir = np.repeat(np.arange(u.size), n)
        its2 = enter[ir] + (rng.random(ir.size) * (leave[ir] - enter[ir])).astype(np.int64)
        probs = np.array([0.0, 0.35, 0.02, cfg.gift_share])
        probs[0] = 1.0 - probs[1:].sum()
        kind = rng.choice(4, size=ir.size, p=probs)
        for i, name in enumerate(_LIVE_KINDS):
            sel = ir[kind == i]
            extra = {}
            if name == "gift":
                extra["amount"] = np.maximum(np.round(rng.lognormal(np.log(5.0), 1.0, size=sel.size), 0), 1.0)
            buf.add(name, its2[kind == i], surface="live", user_id=u[sel] + 1, creator_id=c[sel] + 1,
                    session_id=sid[sel], **extra)
        inter = np.flatnonzero(n > 0)
        self._apply(touched, pidx[inter], 1.0, cfg.w_interact)
        self._maybe_follow(day, pidx, u, c, leave, surf, boost=n > 0, buf=buf)
        sums["live_int"] += ir.size

    def _orders(self, day, u, c, prod, ts, sid, surface, forced, buf: DayBuffer, campaign=None) -> None:
        """Write orders and schedule each one's outcome (refund/complaint, or settlement as kept);
        ``campaign``: per order, the campaign of a sponsored pin (−1: none)."""
        cfg, rng, pop = self.cfg, self.rng, self.pop
        if u.size == 0:
            return
        oid = np.arange(self.next_order, self.next_order + u.size, dtype=np.int64)
        self.next_order += u.size
        qty = 1 + rng.poisson(0.15, size=u.size)
        amount = np.round(pop.price[prod] * qty, 2)
        cols = dict(user_id=u + 1, creator_id=c + 1, product_id=prod + 1, brand_id=pop.product_brand[prod] + 1,
                    order_id=oid, amount=amount, quantity=qty)
        if sid is not None:
            cols["session_id"] = sid
        if campaign is not None and (campaign >= 0).any():
            for sel, sponsored in ((campaign < 0, False), (campaign >= 0, True)):
                extra = {"campaign_id": campaign[sel]} if sponsored else {}
                buf.add("order", ts[sel], surface=surface, **{k: v[sel] for k, v in cols.items()}, **extra)
        else:
            buf.add("order", ts, surface=surface, **cols)
        refund = np.where(forced >= 0, forced == 1,
                          rng.random(u.size) < choice.refund_probability(cfg, pop.product_quality[prod],
                                                                         pop.honesty[c]))
        fake = u >= cfg.users
        delay = np.where(fake, rng.integers(1, 4, size=u.size), rng.integers(2, 11, size=u.size))
        complain = refund & (fake | (rng.random(u.size) < 0.2 + 0.6 * (1.0 - pop.honesty[c])))
        due = np.where(refund, day + delay, day + cfg.settle_days)
        for d in np.unique(due):
            sel = due == d
            if d >= cfg.days:
                continue
            self.pending[int(d)].append(dict(user=u[sel], creator=c[sel], product=prod[sel], order=oid[sel],
                                             amount=amount[sel], refund=refund[sel], complain=complain[sel],
                                             day=np.full(int(sel.sum()), day)))

    def _settle(self, day: int, t0: int, buf: DayBuffer, touched) -> None:
        """Outcomes due today (refunds, complaints, kept orders → payouts, repurchase plans) and
        repurchases due today; then today's fake orders."""
        cfg, rng, pop = self.cfg, self.rng, self.pop
        due = self.pending.pop(day, [])
        rep = [d for d in due if "repurchase" in d]
        out = [d for d in due if "repurchase" not in d]
        if out:
            o = {k: np.concatenate([d[k] for d in out]) for k in out[0]}
            real = o["user"] < cfg.users
            ts = t0 + (rng.uniform(9.0, 22.0, size=o["user"].size) * HOUR).astype(np.int64)
            r = o["refund"]
            buf.add("refund", ts[r], user_id=o["user"][r] + 1, creator_id=o["creator"][r] + 1,
                    product_id=o["product"][r] + 1, order_id=o["order"][r], amount=o["amount"][r])
            cm = o["complain"]
            buf.add("complaint", ts[cm] + 10 * MIN, user_id=o["user"][cm] + 1, creator_id=o["creator"][cm] + 1,
                    order_id=o["order"][cm])
            pidx = self.pairs.ensure(o["user"][real], o["creator"][real])
            rr, cr = r[real], cm[real]
            self._apply(touched, pidx[rr], 0.0, cfg.w_refund)
            self._apply(touched, pidx[cr], 0.0, cfg.w_complaint)
            kept = ~r
            self._apply(touched, pidx[~rr], 1.0, cfg.w_kept)
            # Commission on kept orders, paid per creator at the end of the day.
            pay = np.bincount(o["creator"][kept], weights=o["amount"][kept], minlength=cfg.creators) * cfg.commission
            pc_ = np.flatnonzero(pay > 0)
            buf.add("payout", np.full(pc_.size, t0 + 23 * HOUR + 30 * MIN), creator_id=pc_ + 1,
                    amount=np.round(pay[pc_], 2))
            # A kept order may be bought again one consumption cycle later: P = repurchase_base · √(T · q_p).
            ku = kept & real
            t_after = self.pairs.trust_of(o["user"][ku], o["creator"][ku])
            p = cfg.repurchase_base * np.sqrt(t_after * pop.product_quality[o["product"][ku]])
            again = rng.random(p.size) < p
            cyc = rng.gamma(4.0, cfg.repurchase_cycle_days / 4.0, size=int(again.sum()))
            when = np.maximum(o["day"][ku][again] + np.round(cyc).astype(np.int64), day + 1)
            for d in np.unique(when):
                if d >= cfg.days:
                    continue
                sel = when == d
                self.pending[int(d)].append(dict(repurchase=np.ones(int(sel.sum()), bool),
                                                 user=o["user"][ku][again][sel], creator=o["creator"][ku][again][sel],
                                                 product=o["product"][ku][again][sel]))
        if rep:
            o = {k: np.concatenate([d[k] for d in rep]) for k in ("user", "creator", "product")}
            # A buyer who has since lost trust in the seller does not come back.
            t_now = self.pairs.trust_of(o["user"], o["creator"])
            go = t_now >= cfg.unfollow_threshold
            u, c, p = o["user"][go], o["creator"][go], o["product"][go]
            ts = t0 + (np.clip(pop.hour[u] + rng.normal(0, 1.5, size=u.size), 0.2, 23.3) * HOUR).astype(np.int64)
            fol = self.pairs.follow[self.pairs.ensure(u, c)]
            surface = np.where(fol, SURFACE_CODE["follow"], SURFACE_CODE["search"]).astype(np.int32)
            self._orders(day, u, c, p, ts, None, surface, np.full(u.size, -1), buf)
        fu, fc, fp, forced = fake_orders_day(self.plan, cfg, pop, rng)
        if fu.size:
            ts = t0 + (rng.uniform(8.0, 23.0, size=fu.size) * HOUR).astype(np.int64)
            self._orders(day, fu, fc, fp, ts, None, "search", forced, buf)

    def _unfollows(self, day: int, t0: int, touched: list[np.ndarray], buf: DayBuffer) -> None:
        """Followers whose trust fell below θ_u today may leave."""
        cfg = self.cfg
        moved = np.zeros(len(self.pairs), dtype=bool)  # rows whose trust moved today (a mark, not a sort)
        for rows in touched:
            moved[rows] = True
        idx = np.flatnonzero(moved & self.pairs.follow)
        p = unfollow_probability(self.pairs.trust[idx], cfg.unfollow_base, cfg.unfollow_threshold)
        go = idx[self.rng.random(idx.size) < p]
        self.pairs.follow[go] = False
        u, c = self.pairs.split(self.pairs.keys[go])
        ts = t0 + (np.clip(self.pop.hour[u] + 1.0, 0.2, 23.9) * HOUR).astype(np.int64)
        buf.add("unfollow", ts, user_id=u + 1, creator_id=c + 1)
