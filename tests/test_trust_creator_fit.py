"""CreatorTrust: pooled creator trust by hand, the fit's known answer, and its properties."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_helpers import CREATORS, Log, at, event_logs, events_table

from trustecon.trust.creator_fit import CreatorTrust, creator_nll, fit_creator_weights
from trustecon.trust.evidence import CHANNELS, DEFAULT_WEIGHTS, POSITIVE, EvidenceConfig

_POS = np.array([c in POSITIVE for c in CHANNELS])
SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def _creator_scores(con, rows, as_of, model=None) -> dict[int, dict]:
    out = con.to_pyarrow((model or CreatorTrust()).transform(ibis.memtable(events_table(rows)), as_of)).to_pylist()
    return {r["creator_id"]: r for r in out}


def test_known_answer_pooled_over_users(duck_con) -> None:
    # Half-life 30 days, as of day 30: user 1's day-0 like counts 1/2, user 2's day-30 like 1, user 3's
    # four day-30 impressions 4 × 0.05 (ignored). P = 1.5, N = 0.2; prior Beta(1, 1).
    log = Log().add("like", at(0), user_id=1, creator_id=10).add("like", at(30), user_id=2, creator_id=10)
    for _ in range(4):
        log.add("impression", at(30), user_id=3, creator_id=10, content_id=1)
    log.add("hate", at(30), user_id=1, creator_id=11)  # another creator: not pooled into 10
    r = _creator_scores(duck_con, log.rows, at(30))
    assert r[10]["positive"] == pytest.approx(1.5, abs=1e-12)
    assert r[10]["negative"] == pytest.approx(4 * DEFAULT_WEIGHTS["ignored"], abs=1e-12)
    assert r[10]["trust"] == pytest.approx(2.5 / 3.7, abs=1e-12)
    assert r[10]["confidence"] == pytest.approx(1.7 / 3.7, abs=1e-12)
    assert r[10]["users"] == 3
    assert r[11]["trust"] == pytest.approx(1 / (2 + DEFAULT_WEIGHTS["hate"]), abs=1e-12)


def _saturated_log(split: dt.datetime) -> tuple[Log, dict[int, float]]:
    """Three creators whose evidence at ``split`` is (likes, impressions) = (0, 10), (10, 20), (20, 30)
    spread over several users, and whose next-day rates are 1/18, 6/31, 7/28: exactly the T of
    m = 0.1, w_like = 0.1, w_ignored = 0.16 (κ = 2): 0.2 / 3.6, 1.2 / 6.2, 2.2 / 8.8. Three rates, three
    free parameters (linear equations in m, w_like, w_ignored with a unique solution), so the
    maximum-likelihood fit is that model."""
    log = Log()
    plan = {10: (0, 10, 1, 18), 11: (10, 20, 6, 31), 12: (20, 30, 7, 28)}
    for c, (likes, imps, k, n) in plan.items():
        for i in range(likes):
            log.add("like", split, user_id=100 + i % 3, creator_id=c)
        for i in range(imps):
            log.add("impression", split, user_id=100 + i % 4, creator_id=c, content_id=c)
        later = split + dt.timedelta(days=1)
        for i in range(n):
            log.add("impression", later, user_id=200 + i, creator_id=c, content_id=c)
        for i in range(k):
            log.add("like", later, user_id=200 + i, creator_id=c)
    return log, {c: k / n for c, (_, _, k, n) in plan.items()}


def test_fit_known_answer_saturated(duck_con) -> None:
    split = at(10)
    log, rates = _saturated_log(split)
    ev = ibis.memtable(log.table())
    m = CreatorTrust(outcome="like", horizon_days=3).fit(ev, split=split)
    assert m.weights_["like"] == pytest.approx(0.1, rel=1e-4)
    assert m.weights_["ignored"] == pytest.approx(0.16, rel=1e-4)
    assert m.priors[0] == pytest.approx(0.2, rel=1e-4) and m.priors[1] == pytest.approx(1.8, rel=1e-4)
    assert m.weights_["follow"] == DEFAULT_WEIGHTS["follow"]  # never seen: keeps its configured weight
    assert (m.n_creators_, m.exposures_) == (3, 18 + 31 + 28)
    assert m.outcome_rate_ == pytest.approx(14 / 77, abs=1e-12)
    got = _creator_scores(duck_con, log.rows, split, model=m)
    for c, rate in rates.items():
        assert got[c]["trust"] == pytest.approx(rate, abs=1e-6)
    # The fitted loss is the binomial entropy of the observed rates; the configured model is far worse.
    ent = -sum(n * (r * np.log(r) + (1 - r) * np.log(1 - r)) for r, n in zip(rates.values(), (18, 31, 28), strict=True))
    assert m.log_loss_ == pytest.approx(ent / 77, abs=1e-8)
    assert m.log_loss_default_ > m.log_loss_ + 0.1


def test_fit_refuses_when_nothing_to_learn() -> None:
    log = Log().add("like", at(0), user_id=1, creator_id=10)
    log.add("impression", at(2), user_id=1, creator_id=10, content_id=1)
    with pytest.raises(ValueError, match="never happens"):
        CreatorTrust(outcome="like", horizon_days=3).fit(ibis.memtable(log.table()), split=at(1))
    with pytest.raises(ValueError, match="no exposures"):
        CreatorTrust(outcome="like", horizon_days=3).fit(ibis.memtable(log.table()), split=at(5))
    with pytest.raises(ValueError, match="outcome must be"):
        CreatorTrust(outcome="nope")


# ----------------------------------------------------------------------------- properties
@st.composite
def _pooled(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = draw(st.integers(2, 12))
    X = np.zeros((c, len(CHANNELS)))
    for j in (CHANNELS.index("like"), CHANNELS.index("view"), CHANNELS.index("ignored"), CHANNELS.index("hate")):
        X[:, j] = draw(st.lists(st.integers(0, 60), min_size=c, max_size=c))
    n = np.array(draw(st.lists(st.integers(1, 80), min_size=c, max_size=c)), float)
    k = np.array([draw(st.integers(0, int(x))) for x in n], float)
    return X, k, n


@given(_pooled())
@settings(max_examples=60, deadline=None)
def test_fit_never_worse_than_configured(data) -> None:
    # (Order-freeness is not asserted here: with separable counts the likelihood's supremum is at
    # infinite weights and where the optimiser stops is arbitrary; the log-level test below checks
    # determinism on real inputs.)
    X, k, n = data
    w0 = np.array([DEFAULT_WEIGHTS[c] for c in CHANNELS])
    m, w, _ = fit_creator_weights(X, k, n, w0)
    fitted, default = creator_nll(m, w, X, k, n, 2.0)[0], creator_nll(0.5, w0, X, k, n, 2.0)[0]
    assert fitted <= default + 1e-12
    assert (w >= 0).all() and 0 < m < 1
    P = X[:, _POS] @ w[_POS]
    N = X[:, ~_POS] @ w[~_POS]
    T = (2 * m + P) / (2 + P + N)
    # Strictly inside (0, 1), also on separable counts (the fit's bounds keep T from rounding to 1.0).
    assert np.isfinite(T).all() and ((T > 0) & (T < 1)).all()


def _with_outcomes(rows: list[dict], split_day: float) -> list[dict]:
    """``rows`` plus, for every creator, impressions and a like just after the split (so there is an
    outcome to learn)."""
    out = list(rows)
    for i, c in enumerate(CREATORS):
        for j in range(3):
            out.append({"event_id": f"x{i}{j}", "ts": at(split_day + 0.5), "kind": "impression", "user_id": 1 + j,
                        "creator_id": c, "content_id": 1})
        out.append({"event_id": f"y{i}", "ts": at(split_day + 1 + i), "kind": "like", "user_id": 1, "creator_id": c})
    return out


@given(event_logs(), event_logs())
@SETTINGS
def test_fit_never_reads_after_the_horizon(duck_con, rows, later) -> None:
    split_day, horizon = 20.0, 5.0
    base = _with_outcomes(rows, split_day)
    shifted = [{**r, "event_id": f"L{r['event_id']}", "ts": r["ts"] + dt.timedelta(days=41)} for r in later]
    fits = []
    for log in (base, base + shifted):
        m = CreatorTrust(outcome="like", horizon_days=horizon)
        m.fit(ibis.memtable(events_table(log)), split=at(split_day))
        fits.append((m.weights_, m.priors, m.log_loss_))
    assert fits[0] == fits[1]


@given(event_logs(), st.sampled_from(CREATORS), st.sampled_from(POSITIVE[:6]), st.floats(0, 1), st.floats(0, 1))
@SETTINGS
def test_positive_evidence_never_lowers_creator_trust(duck_con, rows, c, kind, wa, wb) -> None:
    # Any non-negative weights (a fitted model's are) and one more like / comment / ... toward c.
    weights = {ch: (wa if i % 2 else wb) for i, ch in enumerate(CHANNELS)}
    model = CreatorTrust(EvidenceConfig(weights=weights))
    extra = {"event_id": "extra", "ts": at(40), "kind": kind, "user_id": 2, "creator_id": c}
    if kind == "view":
        extra.update(content_id=1, duration_ms=1000, watch_ms=1000)
    before = _creator_scores(duck_con, rows, at(41), model).get(c, {"trust": 0.5})["trust"]
    after = _creator_scores(duck_con, rows + [extra], at(41), model)[c]["trust"]
    assert after >= before - 1e-12
    assert 0.0 <= after <= 1.0


@pytest.mark.spark
def test_duckdb_equals_spark(duck_con, spark_con, ws) -> None:
    """The same expressions on both engines: the fit learns the same weights and prior, and the fitted
    model scores every creator the same."""
    split = at(10)
    log, _ = _saturated_log(split)
    ws.append(log.table())
    cons = (duck_con, spark_con)
    fits = [CreatorTrust(outcome="like", horizon_days=3).fit(ws.events(con), split=split) for con in cons]
    for c in CHANNELS:
        assert fits[0].weights_[c] == pytest.approx(fits[1].weights_[c], rel=1e-6, abs=1e-9)
    assert fits[0].priors == pytest.approx(fits[1].priors, rel=1e-6)
    a, b = (
        con.to_pyarrow(fits[0].transform(ws.events(con), split)).sort_by("creator_id").to_pylist()
        for con in cons
    )
    assert [r["creator_id"] for r in a] == [r["creator_id"] for r in b] == [10, 11, 12]
    for ra, rb in zip(a, b, strict=True):
        assert ra["users"] == rb["users"]
        for col in ("trust", "confidence", "alpha", "beta", "positive", "negative"):
            assert ra[col] == pytest.approx(rb[col], rel=1e-9, abs=1e-12)
