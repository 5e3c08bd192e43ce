"""OnlineTrust: event-by-event updates equal a batch rebuild (within 1e-9) after any sequence."""

from __future__ import annotations

import random

import ibis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_helpers import Log, at, event_logs, resumed_after_build, scores

from trustecon.trust.online import OnlineTrust
from trustecon.trust.pair import PairTrust

SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
AS_OF = at(60)


def _assert_equal(online: OnlineTrust, batch: dict, as_of) -> None:
    got = online.scores(as_of).to_pylist()
    assert {(r["user_id"], r["creator_id"]) for r in got} >= set(batch)
    for r in got:
        b = batch.get((r["user_id"], r["creator_id"]))
        if b is None:  # a pair the online state saw whose only evidence was moved elsewhere: the prior
            assert abs(r["trust"] - 0.5) < 1e-9
            continue
        for f in ("trust", "confidence", "alpha", "beta"):
            assert abs(r[f] - b[f]) < 1e-9, (f, r, b)


@SETTINGS
@given(rows=event_logs(max_events=18), seed=st.integers(0, 10**6), up=st.booleans())
def test_online_from_empty_equals_batch_in_any_order(duck_con, rows, seed, up) -> None:
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)  # refunds may arrive before their orders
    model = PairTrust(user_prior=up)  # the hierarchical prior's user sums are kept online too
    online = OnlineTrust(model).update(shuffled)
    _assert_equal(online, scores(duck_con, rows, AS_OF, model=model), AS_OF)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=event_logs(max_events=18), split=st.integers(5, 40), seed=st.integers(0, 10**6))
def test_resume_from_build_equals_rebuild(tmp_path_factory, duck_con, rows, split, seed) -> None:
    """Build on the events before ``split``, resume online with the rest (shuffled: late refunds,
    orders, live exits), compare with a batch over everything."""
    online = resumed_after_build(tmp_path_factory, duck_con, rows, at(split), seed)
    _assert_equal(online, scores(duck_con, rows, AS_OF), AS_OF)


def test_late_refund_lowers_and_matches(duck_con) -> None:
    log = Log().add("order", at(1), user_id=1, creator_id=10, order_id=5, amount=50.0)
    online = OnlineTrust().update(log.rows)
    t_before = online.score(1, 10, at(3))["trust"]
    refund = {"event_id": "r", "ts": at(3), "kind": "refund", "order_id": 5, "amount": 50.0}
    online.update_one(refund)
    assert online.score(1, 10, at(3))["trust"] < t_before
    b = scores(duck_con, [*log.rows, refund], at(3))[(1, 10)]
    assert abs(online.score(1, 10, at(3))["trust"] - b["trust"]) < 1e-12


def test_unknown_pair_is_the_prior() -> None:
    s = OnlineTrust().score(7, 8, at(0))
    assert s["trust"] == 0.5 and s["confidence"] == 0.0


def test_fitted_weights_carry_over(duck_con) -> None:
    log = Log()
    for u in range(1, 61):
        log.add("share" if u % 2 else "like", at(1), user_id=u, creator_id=1000)
        if u % 2:
            log.add("order", at(12), user_id=u, creator_id=1000, order_id=u, amount=5.0)
    m = PairTrust(outcome="order", horizon_days=7).fit(ibis.memtable(log.table()), split=at(10))
    online = OnlineTrust(m).update(log.rows)
    _assert_equal(online, scores(duck_con, log.rows, at(20), model=m), at(20))
