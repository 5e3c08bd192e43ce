"""PairTrust: hand-computed scores, the properties of DESIGN.md §5, fitting, DuckDB == Spark."""

from __future__ import annotations

import datetime as dt
import random

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_helpers import (
    CREATORS,
    USERS,
    Log,
    assert_fused_sums_equal_rows,
    assert_order_free_bounded_deterministic,
    at,
    event_logs,
    events_table,
    scores,
)

from trustecon.trust.evidence import DEFAULT_WEIGHTS as W
from trustecon.trust.evidence import EvidenceConfig
from trustecon.trust.pair import PairTrust

SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
AS_OF = at(45)


def test_known_answer_interactions(duck_con) -> None:
    # Half-life 30 days, as of day 30: the day-0 like counts 1/2, the day-30 comment and hate count 1.
    log = Log().add("like", at(0), user_id=1, creator_id=10)
    log.add("comment", at(30), user_id=1, creator_id=10).add("hate", at(30), user_id=1, creator_id=10)
    P = W["like"] * 0.5 + W["comment"] * 1.0  # = 2.0
    N = W["hate"] * 1.0  # = 3.0
    # Flat prior Beta(1, 1): alpha = 3, beta = 4.
    r = scores(duck_con, log.rows, at(30), model=PairTrust(user_prior=False))[(1, 10)]
    assert (r["alpha"], r["beta"]) == (pytest.approx(3.0, abs=1e-12), pytest.approx(4.0, abs=1e-12))
    assert r["trust"] == pytest.approx(3 / 7, abs=1e-12)
    assert r["confidence"] == pytest.approx(5 / 7, abs=1e-12)  # mass 5 / (5 + W=2)
    # Hierarchical prior: the user's only pair is all their evidence, m = (1 + 2) / (2 + 5) = 3/7,
    # alpha = 2·3/7 + 2 = 20/7, beta = 2·4/7 + 3 = 29/7, T = 20/49.
    r = scores(duck_con, log.rows, at(30), model=PairTrust(user_prior=True))[(1, 10)]
    assert r["user_prior"] == pytest.approx(3 / 7, abs=1e-12)
    assert r["trust"] == pytest.approx(20 / 49, abs=1e-12)
    assert P == 2.0 and N == 3.0


def test_user_prior_pools_across_creators(duck_con) -> None:
    # User 1 likes creator 10 four times; user 2 hates creator 10 twice (hate weight 3: N = 6). Both
    # then view creator 11 once the same way: the easy truster starts creator 11 higher.
    log = Log()
    for d in range(4):
        log.add("like", at(d), user_id=1, creator_id=10)
    log.add("hate", at(0), user_id=2, creator_id=10).add("hate", at(1), user_id=2, creator_id=10)
    for u in (1, 2):
        log.add("like", at(4), user_id=u, creator_id=11)
    model = PairTrust(config=EvidenceConfig(half_life_days=1e9), user_prior=True)
    s = scores(duck_con, log.rows, at(4), model=model)
    m1, m2 = (1 + 5) / (2 + 5), (1 + 1) / (2 + 1 + 6)
    assert s[(1, 11)]["user_prior"] == pytest.approx(m1, abs=1e-9)
    assert s[(2, 11)]["user_prior"] == pytest.approx(m2, abs=1e-9)
    assert s[(1, 11)]["trust"] == pytest.approx((2 * m1 + 1) / 3, abs=1e-9)
    assert s[(2, 11)]["trust"] == pytest.approx((2 * m2 + 1) / 3, abs=1e-9)


def test_known_answer_commerce_views_live(duck_con) -> None:
    log = Log()
    log.add("order", at(0), user_id=1, creator_id=10, order_id=1, amount=135.0)  # intensity 2, decays to 1
    log.add("order", at(30), user_id=1, creator_id=10, order_id=2, amount=0.0)  # intensity 1; a repurchase
    log.add("refund", at(30), order_id=1, amount=135.0)  # no ids: reaches the pair through order 1
    log.add("view", at(30), user_id=1, creator_id=10, content_id=5, watch_ms=500, duration_ms=1000)  # ratio .5
    log.add("view", at(30), user_id=1, creator_id=10, content_id=5, watch_ms=100, duration_ms=1000)  # short
    log.add("live_enter", at(30) - 60 * _MIN, user_id=1, creator_id=10, session_id=9)
    log.add("live_leave", at(30), user_id=1, creator_id=10, session_id=9)  # a 60-minute visit
    r = scores(duck_con, log.rows, at(30))[(1, 10)]
    e_order = 2 * 0.5 + 1
    e_live_visit = 2 ** (-1 / (30 * 24))  # the entry is one hour old
    alpha = 1 + W["order"] * e_order + W["repurchase"] * 1 + W["view"] * 0.5 + W["live_minutes"] * 60 + (
        W["live_visit"] * e_live_visit
    )
    beta = 1 + W["refund"] * 1 + W["short_view"] * (0.5 + 1)  # the unwatched half of view 1; view 2 a skip
    assert r["e_order"] == pytest.approx(2.0, abs=1e-12)
    assert r["e_repurchase"] == pytest.approx(1.0, abs=1e-12)
    assert r["e_live_minutes"] == pytest.approx(60.0, abs=1e-9)
    assert r["alpha"] == pytest.approx(alpha, abs=1e-9)
    assert r["beta"] == pytest.approx(beta, abs=1e-12)
    assert r["trust"] == pytest.approx(alpha / (alpha + beta), abs=1e-12)


_MIN = dt.timedelta(minutes=1)


def test_ignores_future_and_self_pairs_impressions_are_weak(duck_con) -> None:
    log = Log().add("like", at(50), user_id=1, creator_id=10)  # after as_of
    log.add("like", at(1), user_id=10, creator_id=10)  # a creator on their own content
    assert scores(duck_con, log.rows, at(10)) == {}
    log.add("impression", at(1), user_id=2, creator_id=10, content_id=1)  # shown, left unopened
    r = scores(duck_con, log.rows, at(1), model=PairTrust(user_prior=False))[(2, 10)]
    assert r["beta"] == pytest.approx(1 + W["ignored"], abs=1e-12) and r["alpha"] == 1.0


def _trust_or_prior(s: dict, u: int, c: int) -> float:
    """T(u, c), or for a pair without evidence its prior: the user's prior mean (0.5 when flat)."""
    if (u, c) in s:
        return s[(u, c)]["trust"]
    return next((r["user_prior"] for (uu, _), r in s.items() if uu == u), 0.5)


def _mutate(rows, kind, u, c, **f):
    return [*rows, {"event_id": "added", "ts": AS_OF - 2 * _MIN * 60, "kind": kind, "user_id": u, "creator_id": c, **f}]


POSITIVE_EVENTS = [
    ("like", {}), ("comment", {}), ("share", {}), ("follow", {}), ("profile_visit", {}),
    ("product_click", {"product_id": 7}),
    ("gift", {"amount": 20.0}), ("view", {"content_id": 1, "watch_ms": 1000, "duration_ms": 1000}),
    ("order", {"order_id": 555, "amount": 30.0}), ("live_enter", {"session_id": 100}),
    ("live_leave", {"session_id": 100}),
]
NEGATIVE_EVENTS = [
    ("hate", {}), ("unfollow", {}), ("view", {"content_id": 1, "watch_ms": 10, "duration_ms": 1000}),
    ("refund", {"order_id": 9998, "amount": 1.0}), ("complaint", {"order_id": 9998}),
]


@SETTINGS
@given(rows=event_logs(), extra=st.sampled_from(POSITIVE_EVENTS), u=st.sampled_from(USERS),
       c=st.sampled_from(CREATORS), up=st.booleans())
def test_positive_evidence_never_lowers_trust(duck_con, rows, extra, u, c, up) -> None:
    # (A partly watched view is both: its watched share is positive, the rest negative; a fully
    # watched one is purely positive and is the view tested here.)
    m = PairTrust(user_prior=up)
    before = _trust_or_prior(scores(duck_con, rows, AS_OF, model=m), u, c)
    after = _trust_or_prior(scores(duck_con, _mutate(rows, extra[0], u, c, **extra[1]), AS_OF, model=m), u, c)
    assert after >= before - 1e-12


@SETTINGS
@given(rows=event_logs(), extra=st.sampled_from(NEGATIVE_EVENTS), u=st.sampled_from(USERS),
       c=st.sampled_from(CREATORS), up=st.booleans())
def test_negative_evidence_never_raises_trust(duck_con, rows, extra, u, c, up) -> None:
    m = PairTrust(user_prior=up)
    before = _trust_or_prior(scores(duck_con, rows, AS_OF, model=m), u, c)
    after = _trust_or_prior(scores(duck_con, _mutate(rows, extra[0], u, c, **extra[1]), AS_OF, model=m), u, c)
    assert after <= before + 1e-12


@SETTINGS
@given(rows=event_logs(), seed=st.integers(0, 10**6))
def test_order_independence_bounds_determinism(duck_con, rows, seed) -> None:
    assert_order_free_bounded_deterministic(duck_con, rows, seed, AS_OF)


@SETTINGS
@given(rows=event_logs(), later=st.floats(1, 400))
def test_decays_toward_prior(duck_con, rows, later) -> None:
    # "Without new evidence": event_logs writes refunds up to 10 days after day 40.5, past AS_OF, and
    # one landing between AS_OF and AS_OF + later is new evidence (hypothesis found such a log).
    rows = [r for r in rows if r["ts"] <= AS_OF]
    now = scores(duck_con, rows, AS_OF)
    then = scores(duck_con, rows, AS_OF + later * (at(1) - at(0)))
    far = scores(duck_con, rows, AS_OF + 100 * 30 * (at(1) - at(0)))  # 100 half-lives
    for k, r in now.items():
        assert abs(then[k]["trust"] - 0.5) <= abs(r["trust"] - 0.5) + 1e-12
        assert then[k]["confidence"] <= r["confidence"] + 1e-12
        assert abs(far[k]["trust"] - 0.5) < 1e-6


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="half_life_days"):
        EvidenceConfig(half_life_days=0)
    with pytest.raises(ValueError, match="unknown evidence channels"):
        EvidenceConfig(weights={"likes": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        EvidenceConfig(weights={"like": -1.0})


def test_fit_learns_the_predictive_channel(duck_con) -> None:
    # Users who share go on to order (the outcome); users who only like do not. The fit must put
    # more weight on share than the default ratio and lower the log-loss on the training pairs.
    log = Log()
    for u in range(1, 201):
        c = 1000
        if u % 2:
            log.add("share", at(1), user_id=u, creator_id=c)
            log.add("order", at(20), user_id=u, creator_id=c, order_id=u, amount=10.0)
        else:
            log.add("like", at(1), user_id=u, creator_id=c)
            log.add("like", at(2), user_id=u, creator_id=c)
    m = PairTrust(outcome="order", horizon_days=14).fit(ibis.memtable(log.table()), split=at(10))
    assert m.n_pairs_ == 200 and m.outcome_rate_ == pytest.approx(0.5)
    assert m.log_loss_ < m.log_loss_default_
    assert m.weights_["share"] > m.weights_["like"]
    assert all(v >= 0 for v in m.weights_.values())
    # The fitted model scores with its learned weights; sharers now rank above likers.
    s = scores(duck_con, log.table(), at(10), model=m)
    assert s[(1, 1000)]["trust"] > s[(2, 1000)]["trust"]


def test_fit_says_when_nothing_to_learn() -> None:
    log = Log().add("like", at(1), user_id=1, creator_id=10)
    with pytest.raises(ValueError, match="never observed"):
        PairTrust(outcome="order").fit(ibis.memtable(log.table()), split=at(5))


@pytest.mark.spark
def test_duckdb_equals_spark(duck_con, spark_con, ws) -> None:
    rows = _fixed_log()
    ws.append(events_table(rows))
    model = PairTrust()
    a = duck_con.to_pyarrow(model.transform(ws.events(duck_con), AS_OF)).sort_by([("user_id", "ascending"),
                                                                                 ("creator_id", "ascending")])
    b = spark_con.to_pyarrow(model.transform(ws.events(spark_con), AS_OF)).sort_by([("user_id", "ascending"),
                                                                                   ("creator_id", "ascending")])
    assert a.num_rows == b.num_rows > 5
    for col in ("user_id", "creator_id", "n_events"):
        assert a[col].to_pylist() == b[col].to_pylist()
    for col in ("trust", "confidence", "alpha", "beta", "e_live_minutes", "e_repurchase", "e_refund"):
        for x, y in zip(a[col].to_pylist(), b[col].to_pylist(), strict=True):
            assert x == pytest.approx(y, rel=1e-9, abs=1e-12)


def _fixed_log() -> list[dict]:
    """A deterministic mixed log (every channel) over 3 users × 2 creators."""
    rng = random.Random(7)
    log = Log()
    for i in range(120):
        u, c, d = rng.choice(USERS), rng.choice(CREATORS), rng.uniform(0, 40)
        k = rng.choice(["view", "like", "hate", "order", "live", "follow", "gift"])
        if k == "view":
            log.add("view", at(d), user_id=u, creator_id=c, content_id=1, watch_ms=rng.randint(0, 2000),
                    duration_ms=1000)
        elif k == "order":
            log.add("order", at(d), user_id=u, creator_id=c, order_id=i, amount=rng.uniform(0, 300))
            if rng.random() < 0.3:
                log.add("refund", at(d + 2), order_id=i, amount=1.0)
        elif k == "live":
            log.add("live_enter", at(d), user_id=u, creator_id=c, session_id=i)
            log.add("live_leave", at(d + 0.01), user_id=u, creator_id=c, session_id=i)
        elif k == "gift":
            log.add("gift", at(d), user_id=u, creator_id=c, amount=rng.uniform(1, 50))
        else:
            log.add(k, at(d), user_id=u, creator_id=c)
    return log.rows


@SETTINGS
@given(rows=event_logs(20))
def test_fused_sums_equal_the_evidence_rows(duck_con, rows) -> None:
    """The fused pass (one aggregate of the log, plus the commerce and live tables) gives, per pair and
    channel, the decayed sum of the documented evidence rows, their count and first/last times."""
    assert_fused_sums_equal_rows(duck_con, ibis.memtable(events_table(rows)), AS_OF)
