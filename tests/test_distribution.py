"""Distribution: feeds, exposure control, notices, who-to-follow, the engine policy.

Known answers on tiny hand-made logs, hypothesis properties of the exposure cap, DuckDB = Spark for
the engine pipelines, and PPR against igraph.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustecon.distribution import (
    FeedConfig,
    FeedInputs,
    FeedServer,
    UnknownCreatorError,
    build_feeds,
    cap_exposure,
    gini,
    interaction_weights,
    rank_feeds,
)
from trustecon.distribution import pipelines as P
from trustecon.distribution.exposure import _assign_with_quota, _Segments
from trustecon.distribution.suggest import WhoToFollow, average_precision, roc_auc, suggest_creators
from trustecon.events import SCHEMA

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def events_table(rows: list[dict]) -> pa.Table:
    return pa.table({f.name: [r.get(f.name) for r in rows] for f in SCHEMA}, schema=SCHEMA)


class Log:
    """A tiny event log written by hand: ``log.add(hours, kind, **fields)``."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, hours: float, kind: str, **kw) -> None:
        self.rows.append(dict(event_id=f"t{len(self.rows)}", ts=T0 + dt.timedelta(hours=hours), kind=kind, **kw))

    def table(self) -> pa.Table:
        return events_table(self.rows)


# ----------------------------------------------------------------------------- Gini and the cap
def test_gini_known_answers():
    assert gini(np.array([1, 1, 1, 1])) == 0.0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # (n-1)/n
    # x = 1,2,3: Σ(2i-n-1)x = -2+0+6 = 4; 4 / (3·6) = 2/9
    assert gini(np.array([3, 1, 2])) == pytest.approx(2 / 9)
    assert gini(np.zeros(5)) == 0.0


def test_cap_exposure_hand_example():
    # Three users, three creators A,B,C, one slot each. Unconstrained everyone takes A: Gini 2/3.
    users = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    creators = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    scores = np.array([0.9, 0.5, 0.1, 0.8, 0.7, 0.2, 0.7, 0.3, 0.6])
    res = cap_exposure(users, creators, scores, k=1, gini_cap=0.1, n_creators=3)
    assert res.gini_before == pytest.approx(2 / 3)
    # Quota 1: A keeps its best fan (u0, 0.9); u1 falls to B (0.7), u2 to C (0.6). Gini 0.
    assert res.quota == 1 and res.feasible and res.gini_after == 0.0
    assert set(zip(users[res.selected], creators[res.selected], strict=True)) == {(0, 0), (1, 1), (2, 2)}
    assert res.relevance_cost == pytest.approx(1 - 2.2 / 2.4)


def test_cap_not_binding_changes_nothing():
    users = np.array([0, 0, 1, 1])
    creators = np.array([0, 1, 0, 1])
    scores = np.array([0.9, 0.1, 0.1, 0.9])
    res = cap_exposure(users, creators, scores, k=1, gini_cap=0.5)
    assert res.relevance_cost == 0.0 and res.quota == float("inf")
    assert list(creators[res.selected]) == [0, 1]


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 12))
    m = draw(st.integers(2, 10))
    density = draw(st.floats(0.2, 1.0))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    cand = rng.random((n, m)) < density
    cand[np.arange(n), rng.integers(0, m, n)] = True
    u, c = np.nonzero(cand)
    # Skewed scores: a few creators are everybody's favourites.
    s = rng.random(u.size) + 2.0 * (c < max(1, m // 4))
    k = draw(st.integers(1, 4))
    cap = draw(st.floats(0.0, 0.9))
    return u, c, s, k, cap, m


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_property_gini_under_cap_whenever_feasible(world):
    """Tolerance: none beyond float rounding (1e-9). Feasible = some quota q meets the cap."""
    u, c, s, k, cap, m = world
    res = cap_exposure(u, c, s, k, cap, n_creators=m)
    bu, bc = _Segments(u, s), _Segments(c, s)
    feasible = (
        any(
            gini(np.bincount(c[_assign_with_quota(bu, bc, c, s, k, q)], minlength=m)) <= cap
            for q in range(1, len(u) + 2)
        )
        or res.gini_before <= cap
    )
    assert res.feasible == feasible
    if feasible:
        assert res.gini_after <= cap + 1e-9
    # Never more than k per user, never a candidate that was not offered, never a creator twice per user.
    per_user = np.bincount(u[res.selected], minlength=u.max() + 1)
    assert per_user.max() <= k
    assert 0.0 <= res.relevance_cost <= 1.0 + 1e-12


# ----------------------------------------------------------------------------- the ranker
def _inputs(n=3, m=6, follows=(), trust=(), novel=None) -> FeedInputs:
    f = sp.csr_matrix((np.ones(len(follows)), tuple(np.array(follows).T)) if follows else (n, m), shape=(n, m))
    t = (
        sp.csr_matrix(([x[2] for x in trust], ([x[0] for x in trust], [x[1] for x in trust])), shape=(n, m))
        if trust
        else sp.csr_matrix((n, m))
    )
    return FeedInputs(
        user_ids=np.arange(1, n + 1),
        creator_ids=np.arange(101, 101 + m),
        follows=f,
        trust=t,
        credibility=np.linspace(0.2, 0.7, m),
        popularity=np.zeros(m),
        novel=np.ones(m, dtype=bool) if novel is None else novel,
    )


def test_private_domain_ranked_by_trust_first():
    # User 0 follows creators 0 (T .9) and 1 (T .7, ...) and trusts 2 at .8 without following it.
    inp = _inputs(follows=[(0, 0), (0, 1), (0, 3)], trust=[(0, 0, 0.9), (0, 1, 0.7), (0, 2, 0.8)])
    cfg = FeedConfig(k=4, private_share=0.75, exploration_rate=0.0, gini_cap=1.0, w_follow=0.0)
    b = rank_feeds(inp, cfg, np.random.default_rng(0))
    mine = b.creator_index[b.user_index == 0]
    src = b.source[b.user_index == 0]
    # 3 private slots: T .9, .8 (trusted ≥ .6), .7; creator 3 is followed with no trust row → prior .5, left out.
    assert list(mine[:3]) == [0, 2, 1] and list(src[:3]) == [0, 0, 0]
    assert b.score[b.user_index == 0][:3] == pytest.approx([1.9, 1.8, 1.7])
    # The 4th slot is discovery: the most credible of the rest (creator 5, credibility .7).
    assert mine[3] == 5 and src[3] == 1
    # Users without private domain get pure discovery; no creator twice in one feed.
    for u in range(3):
        got = b.creator_index[b.user_index == u]
        assert len(set(got.tolist())) == len(got) == 4


def test_private_domain_unseen_items_and_live_rooms_first():
    # User 0 follows 0, 1, 2 and trusts 3 (not followed). Only 1 and 3 have unseen items; 2 is likely live.
    inp = _inputs(follows=[(0, 0), (0, 1), (0, 2)], trust=[(0, 0, 0.9), (0, 1, 0.6), (0, 2, 0.5), (0, 3, 0.95)])
    inp.unseen = sp.csr_matrix(([2.0, 1.0], ([0, 0], [1, 3])), shape=(3, 6))
    inp.live = np.array([0.0, 0.0, 0.9, 0.0, 0.0, 0.0])
    cfg = FeedConfig(k=4, private_share=1.0, exploration_rate=0.0, gini_cap=1.0, w_live=0.5, w_follow=0.5)
    b = rank_feeds(inp, cfg, np.random.default_rng(0))
    mine = b.creator_index[b.user_index == 0]
    src = b.source[b.user_index == 0]
    # Tier offset o = 1.0 (discovery weights) + .5 (w_live) = 1.5. Followed with unseen items
    # (1: o + .6 + .5 + 1) leads; then the trusted one with unseen items (3: o + .95 + 1); then the
    # followed live room (2: o + .5 + .5 + .45); the followed creator with nothing new comes last
    # (0: o + .9 + .5), still ahead of discovery.
    assert list(mine) == [1, 3, 2, 0] and list(src) == [0, 0, 0, 0]
    assert b.score[b.user_index == 0] == pytest.approx([3.6, 3.45, 2.95, 2.9])
    # Without unseen counts and live odds the same user is ranked by trust and follow alone.
    inp.unseen, inp.live = None, None
    b2 = rank_feeds(inp, cfg, np.random.default_rng(0))
    assert list(b2.creator_index[b2.user_index == 0]) == [0, 1, 2, 3]


class _FixedAffinity:
    """A stand-in for CreatorALS: fixed user × creator scores (rows user ids 1.., columns 101..)."""

    def __init__(self, mat: np.ndarray) -> None:
        self.mat = mat

    def score_matrix(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        return self.mat[np.asarray(users) - 1][:, np.asarray(creators) - 101]


def test_live_rooms_go_to_users_with_affinity_when_asked():
    # Creators 0 and 1 are equally likely live; user 0 has co-behaviour affinity .4 with 0 and .1 with
    # 1, user 1 the reverse. Credibility favours creator 1 slightly.
    aff = np.zeros((3, 6))
    aff[0, :2], aff[1, :2] = [0.4, 0.1], [0.1, 0.4]
    inp = _inputs()
    inp.credibility = np.array([0.5, 0.6, 0.0, 0.0, 0.0, 0.0])
    inp.als = _FixedAffinity(aff)
    inp.live = np.array([0.8, 0.8, 0.0, 0.0, 0.0, 0.0])
    base = FeedConfig(k=1, private_share=0.0, exploration_rate=0.0, gini_cap=1.0, w_live=1.5, w_als=0.0,
                      w_neighbour=0.0, w_credibility=1.0, w_popularity=0.0)
    # Uniform live bonus: both users get the more credible room 1.
    b = rank_feeds(inp, base, np.random.default_rng(0))
    assert list(b.creator_index[b.user_index < 2]) == [1, 1]
    # Weighted by affinity relative to the user's best creator: each user gets her own room,
    # score C + w_live · L · a / max a = .5 + 1.5 · .8 · 1 for user 0.
    b = rank_feeds(inp, replace(base, live_affinity=True), np.random.default_rng(0))
    assert list(b.creator_index[b.user_index < 2]) == [0, 1]
    assert b.score[b.user_index == 0][0] == pytest.approx(0.5 + 1.2)


def test_pair_bonus_joins_the_private_domain_and_user_live_gain_scales_live():
    # User 0 follows nobody and trusts nobody; a pair bonus of .7 toward creator 4 makes it private.
    inp = _inputs()
    inp.pair_bonus = sp.csr_matrix(([0.7], ([0], [4])), shape=(3, 6))
    cfg = FeedConfig(k=2, private_share=1.0, exploration_rate=0.0, gini_cap=1.0, w_live=0.5)
    b = rank_feeds(inp, cfg, np.random.default_rng(0))
    mine, src = b.creator_index[b.user_index == 0], b.source[b.user_index == 0]
    # Private score o + prior .5 + bonus .7, o = 1.0 + w_live .5 (live odds given below are absent: o = 1).
    assert mine[0] == 4 and src[0] == 0 and b.score[b.user_index == 0][0] == pytest.approx(1.0 + 0.5 + 0.7)
    # A per-user live gain g multiplies the live term by 1 + g (private and discovery), and the tier
    # offset grows with it so private still outranks discovery.
    inp.live = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    inp.user_live_gain = np.array([1.0, 0.0, 0.0])
    b = rank_feeds(inp, cfg, np.random.default_rng(0))
    s0 = b.score[b.user_index == 0]
    offset = 1.0 + 0.5 * 2.0  # discovery weights + w_live · (1 + max g)
    assert s0[0] == pytest.approx(offset + 0.5 + 0.7 + 0.5 * 1.0 * 2.0)
    assert b.source[b.user_index == 0][1] == 1 and s0[1] < offset


def test_cap_quota_is_chosen_on_the_gini_after_the_refill():
    # 60 users, k = 2, candidates only the two popular creators; 6 more creators come by refill.
    n, m, k, cap = 60, 8, 2, 0.3
    u = np.repeat(np.arange(n), 2)
    c = np.tile([0, 1], n)
    s = np.tile([1.0, 0.95], n)

    def refill(sel: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        short = np.repeat(np.arange(n), k - np.bincount(u[sel], minlength=n))
        room = np.full(m, q) - np.bincount(c[sel], minlength=m)
        room[:2] = 0
        slots = np.repeat(np.arange(m), np.maximum(room, 0))[: short.size]
        return short[: slots.size], slots, np.full(slots.size, 0.3)

    alone = cap_exposure(u, c, s, k, cap, n_creators=m)
    assert not alone.feasible  # without the refill, 6 creators never get exposure
    res = cap_exposure(u, c, s, k, cap, n_creators=m, refill=refill)
    assert res.feasible and res.gini_after <= cap + 1e-9 and res.extra is not None
    expo = np.bincount(c[res.selected], minlength=m) + np.bincount(res.extra[1], minlength=m)
    assert expo.sum() == n * k  # every slot filled
    # The largest such quota: one more and the post-refill Gini breaks the cap.
    q = int(res.quota)
    sel_next = _assign_with_quota(_Segments(u, s), _Segments(c, s), c, s, k, q + 1)
    extra = refill(sel_next, q + 1)
    assert gini(np.bincount(c[sel_next], minlength=m) + np.bincount(extra[1], minlength=m)) > cap
    assert 0.0 < res.relevance_cost < 1.0


def test_impression_discounting_gives_way_to_strangers_not_yet_offered():
    """Discovery by credibility (score 0.1 × .2 … .7): creator 5 (.07), already shown once to user 0,
    loses log 2 with ``w_novelty = 1`` and falls behind 4 (.06) and 3 (.05); without the discount it
    stays first. User 1, never shown it, keeps it first."""
    inp = _inputs(n=2)
    inp.shown = sp.csr_matrix(([1.0], ([0], [5])), shape=(2, 6))
    base = FeedConfig(k=2, private_share=0.0, exploration_rate=0.0, gini_cap=1.0)
    for w, first in ((0.0, [5, 4]), (1.0, [4, 3])):
        b = rank_feeds(inp, replace(base, w_novelty=w), np.random.default_rng(0))
        assert list(b.creator_index[b.user_index == 0]) == first
        assert list(b.creator_index[b.user_index == 1]) == [5, 4]
        assert b.score[b.user_index == 0][0] == pytest.approx(0.1 * 0.6 if w else 0.1 * 0.7)


def test_exploration_slots_go_to_novel_creators_only():
    novel = np.array([False, False, False, False, True, True])
    inp = _inputs(n=50, novel=novel)
    cfg = FeedConfig(k=3, exploration_rate=1 / 3, gini_cap=1.0)
    b = rank_feeds(inp, cfg, np.random.default_rng(1))
    explore = b.creator_index[b.source == 2]
    assert explore.size == 50 and set(explore.tolist()) <= {4, 5}


def test_rank_feeds_respects_gini_cap():
    # Six creators fit in each user's discovery pool (3·k = 6), so every creator is a candidate.
    inp = _inputs(n=40, m=6)
    inp.credibility = np.array([1.0, 0.9, 0.1, 0.1, 0.1, 0.1])
    loose = rank_feeds(inp, FeedConfig(k=2, exploration_rate=0.0, gini_cap=1.0), np.random.default_rng(0))
    capped = rank_feeds(inp, FeedConfig(k=2, exploration_rate=0.0, gini_cap=0.2), np.random.default_rng(0))
    assert loose.stats["gini_after"] == pytest.approx(2 / 3)  # everyone sees creators 0 and 1
    assert capped.stats["gini_after"] <= 0.2 and capped.stats["relevance_cost"] > 0


# ----------------------------------------------------------------------------- workspace feeds
def small_log() -> Log:
    log = Log()
    for c in range(100, 106):
        log.add(1, "publish", creator_id=c, content_id=c * 10)
    rng = np.random.default_rng(3)
    for u in range(1, 21):
        for c in rng.choice(np.arange(100, 106), 3, replace=False):
            log.add(2, "view", user_id=u, creator_id=int(c), content_id=int(c) * 10, watch_ms=900, duration_ms=1000)
        log.add(3, "follow", user_id=u, creator_id=100 + u % 2)
    log.add(4, "follow", user_id=5, creator_id=102)
    log.add(4.5, "unfollow", user_id=5, creator_id=102)
    log.add(5, "notice", creator_id=101)  # a leave notice to creator 101's followers (odd users)
    return log


def test_leave_notice_reaches_each_follower_next_follow_feed_exactly_once(ws, duck_con):
    ws.append(small_log().table())
    cfg = FeedConfig(k=4, als_factors=4, als_iterations=3)
    r1 = build_feeds(ws, duck_con, cfg)
    f1 = ws.read_table("feeds").to_pandas()
    notes = f1[f1.source == "notice"]
    followers = set(range(1, 21, 2))
    assert r1["notices_delivered"] == 10
    assert sorted(notes.user_id) == sorted(followers)  # each follower once, nobody else
    assert (notes["rank"] == 0).all() and (notes.creator_id == 101).all()
    # The next build (a later feed) does not show it again.
    r2 = build_feeds(ws, duck_con, cfg)
    assert r2["notices_delivered"] == 0
    assert (ws.read_table("feeds").to_pandas().source != "notice").all()


def test_notice_once_per_user_in_process(ws, duck_con):
    log = small_log()
    ws.append(log.table())
    cfg = FeedConfig(k=4, als_factors=4, als_iterations=3)
    build_feeds(ws, duck_con, cfg)
    log.add(6, "notice", creator_id=100)  # posted after the build: even users follow 100
    ws.append(log.table())
    server = FeedServer(ws, duck_con, cfg)
    # Someone else looking (deliver=False) sees the notice without using up the user's one showing.
    for _ in range(2):
        peek = server.feed(2, deliver=False)
        assert [x["source"] for x in peek].count("notice") == 1 and server.save_deliveries() == 0
    first = server.feed(2)
    assert [x["source"] for x in first].count("notice") == 1 and first[0]["creator_id"] == 100
    assert first[0]["because"] == "a notice from a creator you follow (shown once)"
    assert all(x["source"] != "notice" for x in server.feed(2))
    assert server.save_deliveries() == 1
    assert all(x["source"] != "notice" for x in FeedServer(ws, duck_con, cfg).feed(2))


def test_workspace_feed_private_first_cold_start_and_unknown_creator(ws, duck_con):
    ws.append(small_log().table())
    cfg = FeedConfig(k=4, als_factors=4, als_iterations=3, private_share=0.25)
    rep = build_feeds(ws, duck_con, cfg)
    assert rep["users"] == 20 and rep["creators"] == 6
    feeds = ws.read_table("feeds").to_pandas()
    content = feeds[feeds.source != "notice"]
    assert content.groupby("user_id").creator_id.apply(lambda s: s.is_unique).all()
    assert (content.groupby("user_id").size() == 4).all()
    # Followed creator first (even users follow 100, odd follow 101); user 5's unfollow holds.
    first = feeds[(feeds.source != "notice")].sort_values("rank").groupby("user_id").first()
    assert (first.source == "follow").all()
    assert (first.creator_id == 100 + first.index % 2).all()
    server = FeedServer(ws, duck_con, cfg)
    assert not server.is_known_user(999)
    cold = server.feed(999)
    assert len(cold) == 4 and all(x["source"] in ("discover", "explore") for x in cold)
    with pytest.raises(UnknownCreatorError, match="unknown creator 555"):
        server.check_creator(555)
    server.check_creator(103)


def test_feed_items_say_why(ws, duck_con):
    # Each item carries `because`: the private domain names the follow and the trust, a discovery
    # slot the parts that raised it (which add up to its score), an exploration slot the fair-chance rule.
    from trustecon.distribution.feed import FeedInputs, _discovery_scores, discovery_parts, feed_because

    ws.append(small_log().table())
    cfg = FeedConfig(k=4, als_factors=4, als_iterations=3, private_share=0.25)
    build_feeds(ws, duck_con, cfg)
    items = FeedServer(ws, duck_con, cfg).feed(2)
    first = next(i for i in items if i["source"] == "follow")
    assert first["creator_id"] == 100 and first["because"].startswith("you follow them")  # even users follow 100
    for i in items:
        if i["source"] == "explore":
            assert i["because"] == "a new or long-tail creator, shown so every creator gets a chance"
        if i["source"] == "discover":
            assert i["because"] and i["because"] != "you follow them"
    # Known answers of the wording.
    assert feed_because("follow", True, 0.734, {}) == "you follow them; your trust in them 0.73"
    assert feed_because("follow", False, 0.92, {}) == "you trust them (0.92)"
    assert feed_because("follow", True, None, {}) == "you follow them"
    parts = {"als": 0.5, "credibility": 0.2, "popularity": 0.04, "neighbour": 0.0, "novelty": -0.3}
    # popularity is under a tenth of the largest part: left unsaid; zero and negative parts too.
    assert feed_because("discover", False, None, parts) == (
        "people who watch what you watch also watch them; credible: vouched for by trusted users")
    assert feed_because("discover", False, None, {"novelty": -0.1}) == "discovery: the best left among few creators"
    # The parts add up to the discovery score bit for bit (the scores were summed in this order before).
    rng = np.random.default_rng(3)
    n, m = 5, 7
    inp = FeedInputs(
        user_ids=np.arange(n), creator_ids=np.arange(100, 100 + m),
        follows=sp.csr_matrix((n, m)), trust=sp.random(n, m, density=0.4, random_state=1, format="csr"),
        credibility=rng.random(m), popularity=rng.random(m), novel=np.zeros(m, bool),
        creator_trust=sp.random(m, m, density=0.3, random_state=2, format="csr"), live=rng.random(m),
        shown=sp.random(n, m, density=0.5, random_state=3, format="csr"),
    )
    c2 = FeedConfig(w_live=0.3, w_novelty=0.2)
    rows = np.arange(n)
    got = discovery_parts(inp, c2, rows, inp.trust[rows])
    assert set(got) == {"neighbour", "credibility", "popularity", "live", "novelty"}
    total = sum(np.broadcast_to(v, (n, m)) for v in got.values())
    assert np.allclose(total, _discovery_scores(inp, c2, rows, inp.trust[rows]), rtol=0, atol=1e-12)


def _pipeline_outputs(ws, con):
    e = ws.events(con)
    as_of = T0 + dt.timedelta(hours=6)
    f = P.follow_state(e)
    return {
        "follows": f.order_by(["user_id", "creator_id"]).to_pyarrow(),
        "fresh": P.fresh_content(e, as_of, 1).order_by("creator_id").to_pyarrow(),
        "notices": P.pending_notices(e, f, None).order_by(["user_id"]).to_pyarrow(),
        "stats": P.creator_stats(e).order_by("creator_id").to_pyarrow(),
        "weights": interaction_weights(e).to_pyarrow(),
    }


def test_pipelines_known_answers(ws, duck_con):
    ws.append(small_log().table())
    out = _pipeline_outputs(ws, duck_con)
    assert out["follows"].num_rows == 20  # user 5 unfollowed 102 again
    assert out["fresh"]["content_id"].to_pylist() == [c * 10 for c in range(100, 106)]
    assert out["notices"]["user_id"].to_pylist() == list(range(1, 21, 2))
    w = out["weights"].to_pandas().set_index(["user_id", "creator_id"]).weight
    # user 5 → 102: follow (5) only if 102 not also viewed; every view weighs 1.
    assert w.sum() == pytest.approx(60 * 1.0 + 21 * 5.0)


@pytest.mark.spark
def test_pipelines_duckdb_equals_spark(ws, duck_con, spark_con):
    ws.append(small_log().table())
    a, b = _pipeline_outputs(ws, duck_con), _pipeline_outputs(ws, spark_con)
    for k in a:
        assert (
            a[k]
            .to_pandas()
            .sort_values(list(a[k].column_names[:2]))
            .reset_index(drop=True)
            .astype(str)
            .equals(b[k].to_pandas().sort_values(list(b[k].column_names[:2])).reset_index(drop=True).astype(str))
        ), k


# ----------------------------------------------------------------------------- who to follow
def test_auc_and_ap_known_answers():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.3, 0.1])
    assert roc_auc(y, s) == pytest.approx(3 / 4)
    assert average_precision(y, s) == pytest.approx((1 + 2 / 3) / 2)


def test_ppr_equals_igraph():
    ig = pytest.importorskip("igraph")
    rng = np.random.default_rng(0)
    n = 12
    edges = {(i, (i + 1) % n) for i in range(n)} | {tuple(rng.choice(n, 2, replace=False)) for _ in range(20)}
    src, dst = np.array([e[0] for e in edges]), np.array([e[1] for e in edges])
    model = WhoToFollow(alpha=0.15, n_iter=300).fit(src, dst)
    g = ig.Graph(n=n, edges=list(edges), directed=True)
    for u in (0, 5):
        ref = g.personalized_pagerank(reset_vertices=[u], damping=0.85, directed=True)
        assert model.ppr(np.array([u]))[0] == pytest.approx(ref, abs=1e-9)


def test_who_to_follow_features_and_exclusions():
    # 1→2, 2→1 (reciprocal), 1→3, 4→1: user 1 follows 2 and 3; 4 trusts 1, so 4 is reciprocity for 1.
    src, dst = np.array([1, 2, 1, 4, 2]), np.array([2, 1, 3, 1, 5])
    m = WhoToFollow(weights={"ppr": 1.0, "reciprocity": 1.0}).fit(src, dst)
    f = m.feature_matrices(np.array([1]))
    idx = {int(x): i for i, x in enumerate(m.nodes_)}
    assert f["reciprocity"][0, idx[4]] == 1 and f["reciprocity"][0, idx[5]] == 0
    assert f["popularity"][0, idx[1]] == pytest.approx(np.log1p(2))
    got = [c for c, _ in m.suggest(1, k=10)]
    assert 1 not in got and 2 not in got and 3 not in got  # self and already followed
    assert set(got) == {4, 5}
    assert m.suggest(77, k=2)  # an unseen user still gets suggestions (popularity)


def test_suggestions_say_why_by_hand():
    # User 1 follows 2 and 3; 2, 3 and 4 follow 6; 6 follows 1 back; 4 follows 5 too.
    src, dst = np.array([1, 1, 2, 3, 4, 6, 4]), np.array([2, 3, 6, 6, 6, 1, 5])
    m = WhoToFollow().fit(src, dst)
    got = m.suggest_explained(1, k=10)
    assert [(g["creator_id"], g["score"]) for g in got] == m.suggest(1, k=10)  # the same ranking
    for g in got:
        assert sum(g["parts"].values()) == pytest.approx(g["score"])  # the parts add up to the score
        raised = [f for f in sorted(g["parts"], key=lambda f: -g["parts"][f]) if g["parts"][f] > 0]
        if raised:  # one clause per part that raised it
            assert len(g["because"].split("; ")) == len(raised)
        else:  # e.g. 4: nobody follows it and 1 cannot reach it
            assert g["because"] == "no strong reason: the best left among few candidates"
    by = {g["creator_id"]: g for g in got}
    # 6: followed by both accounts 1 follows (2, 3), follows 1, three followers (2, 3, 4).
    assert (by[6]["via"], by[6]["follows_you"], by[6]["trusters"]) == (2, True, 3)
    assert {"2 of the accounts you follow or trust follow or trust them", "they follow or trust you",
            "3 people follow or trust them"} <= set(by[6]["because"].split("; "))
    # 5: reached by nobody 1 follows, one follower.
    assert (by[5]["via"], by[5]["follows_you"], by[5]["trusters"]) == (0, False, 1)
    assert "of the accounts you follow" not in by[5]["because"]
    assert "1 person follows or trusts them" in by[5]["because"].split("; ")  # one follower: singular
    # A user the graph never saw: popularity only.
    cold = m.suggest_explained(77, k=1)
    assert cold[0]["creator_id"] == 6 and cold[0]["because"] == "3 people follow or trust them" and cold[0]["via"] == 0


def test_tune_uses_validation_pairs_only_and_finds_the_signal():
    # Validation labels are exactly "v trusts u back": tuning must reach (AUC+AP)/2 = 1.
    src = np.array([1, 2, 3, 1, 4, 5, 6, 6])
    dst = np.array([2, 3, 1, 6, 1, 1, 1, 2])
    m = WhoToFollow().fit(src, dst)
    users = np.array([1, 1, 1, 1])
    cands = np.array([3, 4, 5, 2])
    labels = np.array([1, 1, 1, 0])
    m.tune(users, cands, labels)
    assert m.tuning_ == pytest.approx(1.0)
    assert m.weights_["reciprocity"] > 0


def test_tune_with_labels_of_one_class_says_why():
    # AUC and AP are undefined without both classes: a clear error, not an AttributeError on None.
    m = WhoToFollow().fit(np.array([1, 2, 3]), np.array([2, 3, 1]))
    with pytest.raises(ValueError, match="positives and negatives"):
        m.tune(np.array([1, 1]), np.array([2, 3]), np.array([1, 1]))


def test_suggest_creators_on_workspace(ws, duck_con):
    ws.append(small_log().table())
    got = suggest_creators(ws, duck_con, user=2, k=3)
    ids = [g["creator_id"] for g in got]
    assert 100 not in ids and len(ids) == 3  # user 2 already follows 100
    # Co-follow: followers of 100 follow nothing else, so 101 (the other big creator) leads on popularity.
    assert ids[0] == 101


# ----------------------------------------------------------------------------- the engine policy
def test_engine_policy_implements_protocol_and_ranks_follows_first():
    pytest.importorskip("trustecon.trust.online")
    from trustecon.distribution.policy import EnginePolicy
    from trustecon.simulate.policy import DayContext, Policy

    pol = EnginePolicy(FeedConfig(private_share=0.5, exploration_rate=0.0, als_factors=4, als_iterations=3))
    assert isinstance(pol, Policy)
    log = small_log()
    # Both followed creators publish again after the views: the follow feed has something unseen.
    log.add(6, "publish", creator_id=100, content_id=1001)
    log.add(6, "publish", creator_id=101, content_id=1011)
    pol.observe(log.table())
    users = np.arange(1, 21)
    creators = np.arange(100, 106)
    fol = sp.csr_matrix((np.ones(20), (np.arange(20), (users % 2))), shape=(20, 6))
    ctx = DayContext(day=1, date="2026-01-02", user_ids=users, creator_ids=creators, follows=fol, slots=3)
    out = pol.exposures(ctx, np.random.default_rng(0))
    assert out.shape == (20, 3)
    assert (out[:, 0] == users % 2).all()  # the followed creator's unseen item leads every feed
    for row in out:
        shown = row[row >= 0]
        assert len(set(shown.tolist())) == len(shown)


def test_engine_assortment_affinity_two_hop_known_answer():
    pytest.importorskip("trustecon.trust.online")
    from trustecon.distribution.policy import EnginePolicy
    from trustecon.simulate.policy import DayContext

    # Sellers 101 and 102 pin the same products {1, 2, 3} (one category), 103 pins {1, 7, 8, 9}.
    # User 1 ordered from 101 (weight 5) and viewed 103 once (weight 1); user 2 has no log.
    log = Log()
    for c, prods in ((101, (1, 2, 3)), (102, (1, 2, 3)), (103, (1, 7, 8, 9))):
        for p in prods:
            log.add(1, "product_pin", creator_id=c, session_id=c, product_id=p)
    log.add(2, "order", user_id=1, creator_id=101, order_id=1, product_id=1, amount=10.0)
    log.add(3, "view", user_id=1, creator_id=103, content_id=5, watch_ms=1000, duration_ms=2000)
    pol = EnginePolicy(assortment_affinity=True)
    pol.observe(log.table())
    pol._refit()
    ctx = DayContext(day=1, date="2026-01-02", user_ids=np.array([1, 2]), creator_ids=np.array([101, 102, 103]),
                     follows=sp.csr_matrix((2, 3)), slots=3)
    a = pol._assortment_affinity(ctx)
    # Cosines: cos(101, 102) = 1, cos(101, 103) = 1/(√3·2) = 0.2887. Row of user 1 before
    # normalising: 101 → 5 + 1·0.2887, 102 → the same, 103 → 5·0.2887 + 1; divided by the row max.
    c = 1 / (np.sqrt(3) * 2)
    top = 5 + c
    assert a[0] == pytest.approx([1.0, 1.0, (5 * c + 1) / top])
    assert (a[1] == 0).all()  # no log, no affinity


def test_engine_policy_daily_trust_equals_a_batch_rebuild(ws, duck_con):
    # Two days fed one at a time (incremental OnlineTrust) give the batch PairTrust of the whole log.
    from trustecon.distribution.policy import EnginePolicy
    from trustecon.trust.pair import PairTrust

    log = small_log()
    log.add(30, "view", user_id=1, creator_id=103, content_id=1030, watch_ms=100, duration_ms=1000)
    log.add(31, "hate", user_id=2, creator_id=100, content_id=1000)
    log.add(32, "like", user_id=3, creator_id=101, content_id=1010)
    table = log.table()
    cut = pa.scalar(T0 + dt.timedelta(hours=24), table["ts"].type)
    day1 = table.filter(pa.compute.less(table["ts"], cut))
    day2 = table.filter(pa.compute.greater_equal(table["ts"], cut))
    pol = EnginePolicy()
    pol.observe(day1)
    pol.observe(day2)
    got = dict(zip(pol._tk.tolist(), pol._trust_now().tolist(), strict=True))
    ws.append(table)
    want = PairTrust().transform(ws.events(duck_con), pol.as_of_).to_pyarrow()
    assert len(got) == want.num_rows > 0
    for u, c, t in zip(want["user_id"].to_pylist(), want["creator_id"].to_pylist(), want["trust"].to_pylist(),
                       strict=True):
        assert got[(u << 32) + c] == pytest.approx(t, abs=1e-9)


# ----------------------------------------------------------------------------- CLI
def test_cli_feed_suggest_and_unknown_creator(ws, tmp_path):
    import json

    from typer.testing import CliRunner

    from trustecon.cli import app

    ws.append(small_log().table())
    run = CliRunner()
    r = run.invoke(app, ["feed", str(ws.path), "--all", "--k", "4", "--json"])
    assert r.exit_code == 0, r.output
    build = json.loads(r.output)["build"]
    assert build["users"] == 20 and build["notices_delivered"] == 10
    r = run.invoke(app, ["feed", str(ws.path), "--user", "2", "--k", "4", "--json"])
    out = json.loads(r.output)
    assert r.exit_code == 0 and not out["cold_start"] and out["items"][0]["creator_id"] == 100
    r = run.invoke(app, ["feed", str(ws.path), "--user", "424242", "--k", "4", "--json"])
    assert json.loads(r.output)["cold_start"] is True
    r = run.invoke(app, ["feed", str(ws.path), "--user", "2", "--creator", "555"])
    assert r.exit_code == 2 and "unknown creator 555" in r.output
    r = run.invoke(app, ["suggest", str(ws.path), "--user", "2", "--k", "2", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.output)["suggestions"]) == 2
    # A notice posted after the build: --peek shows it without using up the user's one showing.
    log = small_log()
    log.add(6, "notice", creator_id=100)
    ws.append(log.table())

    def shown(*extra: str) -> int:
        out = json.loads(run.invoke(app, ["feed", str(ws.path), "--user", "2", "--k", "4", "--json", *extra]).output)
        return sum(i["source"] == "notice" for i in out["items"])

    assert (shown("--peek"), shown("--peek"), shown(), shown(), shown("--peek")) == (1, 1, 1, 0, 0)


def test_simulate_cli_runs_the_platform_on_the_engine_feed(tmp_path):
    """`trustecon simulate WS --policy engine`: the simulator runs on the engine's feed (passed in)."""
    import json

    from typer.testing import CliRunner

    from trustecon.cli import app
    from trustecon.store import Workspace

    ws_path = tmp_path / "eng"
    res = CliRunner().invoke(
        app, ["simulate", str(ws_path), "--preset", "small", "--days", "4", "--policy", "engine", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["policy"] == "engine" and out["events"]["added"] > 1000
    ws = Workspace.open(ws_path)
    assert ws.config["provenance"]["policy"] == "engine"
    assert ws.quarantine_arrow().num_rows == 0


def test_policy_experiment_is_a_library_call(tmp_path):
    # The CLI's `experiment policies` is a thin layer over this function (same seed and days for all).
    from trustecon.distribution import policy_experiment

    res = policy_experiment(tmp_path / "exp", "small", seed=3, days=2, policies=("trust", "engine"), daily=True)
    assert set(res["policies"]) == {"trust", "engine"} and res["seed"] == 3 and res["days"] == 2
    assert res["engine_feed_config"]["private_share"] == 1.0
    for name in ("trust", "engine"):
        row = res["policies"][name]
        assert row["events"] > 0 and 0.0 <= row["exposure_gini"] <= 1.0
        assert res["daily"][name]["day"] == sorted(res["daily"][name]["day"])


def test_fit_logistic_known_answer_and_propensity_ranks_live_buyers():
    from trustecon.distribution.propensity import PurchasePropensity, fit_logistic

    # One binary feature, no penalty: the MLE is the logit of each group's rate (.2 and .6).
    f = np.r_[np.zeros(10), np.ones(10)]
    y = np.r_[np.ones(2), np.zeros(8), np.ones(6), np.zeros(4)]
    beta = fit_logistic(np.c_[np.ones(20), f], y, l2=0.0)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert beta == pytest.approx([logit(0.2), logit(0.6) - logit(0.2)], abs=1e-6)
    # Users 1-5 order in a live room every day, users 6-10 only watch: after a week of log the fitted
    # P(live order within 7 days) ranks every buyer above every non-buyer.
    prop = PurchasePropensity(horizon=3)
    for day in range(8):
        prop.start_day(day)
        log = Log()
        for u in range(1, 11):
            log.add(24 * day + 1, "view", user_id=u, creator_id=101, content_id=1)
            if u <= 5:
                log.add(24 * day + 2, "live_enter", user_id=u, creator_id=101, session_id=7)
                log.add(24 * day + 3, "order", user_id=u, creator_id=101, session_id=7, order_id=100 * day + u)
        prop.observe(log.table())
    assert prop.beta_ is not None
    p = prop.predict(np.arange(1, 11))
    assert p[:5].min() > 0.5 > p[5:].max()
