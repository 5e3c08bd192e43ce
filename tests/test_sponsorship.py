"""What a pin sponsorship sells (``trustecon/marketing/sponsorship.py``) and how creators are shared
between brands (``marketing.market.allocate``): pin exposures on a hand-made log and against the KPI
rule, the Poisson rate model against scipy's maximiser, the planner's ``conversion="pins"``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from trustecon.engine import connect
from trustecon.kpis.live import visit_products
from trustecon.marketing.market import CampaignSpec, allocate
from trustecon.marketing.planner import Campaign, CampaignPlanner, Plan, PlanError, PlanRow
from trustecon.marketing.sponsorship import PinModel, pin_calibration, pin_exposures, poisson_rates, visit_pins
from trustecon.simulate import preset, simulate
from trustecon.store import Workspace

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def _m(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def hand_log() -> pd.DataFrame:
    """Creator 100's session 1: pins of product 10 (brand 1) at 0', 20 (brand 2) at 10', 10 at 20';
    the stream ends at 30'. Visits: u1 5'–15' sees the pins of 0' and 10'; u2 enters at 12', enters
    again at 25' (the first visit ends there) and leaves at 28': 10', 20' then 20'; u3 enters at 22'
    and never leaves (ended by live_end): 20'. So brand 1: 1 + 1 + 1 + 1 = 4 exposures, brand 2: 2.
    Orders in the room: u1 buys 10 (brand 1), u3 buys 20 (brand 2); u4's order has no session (not a
    room sale). The log spans two days → 3 exposures a day."""
    r = [
        dict(kind="live_start", ts=_m(0), creator_id=100, session_id=1),
        dict(kind="product_pin", ts=_m(0), creator_id=100, session_id=1, product_id=10),
        dict(kind="product_pin", ts=_m(10), creator_id=100, session_id=1, product_id=20),
        dict(kind="product_pin", ts=_m(20), creator_id=100, session_id=1, product_id=10),
        dict(kind="live_end", ts=_m(30), creator_id=100, session_id=1),
        dict(kind="live_enter", ts=_m(5), user_id=1, creator_id=100, session_id=1),
        dict(kind="live_leave", ts=_m(15), user_id=1, creator_id=100, session_id=1),
        dict(kind="live_enter", ts=_m(12), user_id=2, creator_id=100, session_id=1),
        dict(kind="live_enter", ts=_m(25), user_id=2, creator_id=100, session_id=1),
        dict(kind="live_leave", ts=_m(28), user_id=2, creator_id=100, session_id=1),
        dict(kind="live_enter", ts=_m(22), user_id=3, creator_id=100, session_id=1),
        dict(kind="order", ts=_m(14), user_id=1, creator_id=100, session_id=1, product_id=10, brand_id=1, order_id=1),
        dict(kind="order", ts=_m(26), user_id=3, creator_id=100, session_id=1, product_id=20, brand_id=2, order_id=2),
        dict(kind="order", ts=_m(60), user_id=4, creator_id=100, product_id=10, brand_id=1, order_id=3),
        dict(kind="view", ts=T0 + dt.timedelta(days=2), user_id=1, creator_id=100),
    ]
    ev = pd.DataFrame(r)
    for c in ("user_id", "creator_id", "session_id", "product_id", "brand_id", "order_id"):
        ev[c] = ev[c].astype("Int64")
    return ev


def test_pin_exposures_hand_log():
    ev = hand_log()
    vp = visit_pins(ev)
    assert sorted(zip(vp["user_id"], vp["product_id"], strict=True)) == [(1, 10), (1, 20), (2, 10), (2, 10), (2, 20),
                                                                         (3, 10)]
    t, per_day = pin_exposures(ev, {10: 1, 20: 2})
    got = {(r.creator_id, r.brand_id): (r.exposures, r.orders) for r in t.itertuples()}
    assert got == {(100, 1): (4.0, 1.0), (100, 2): (2.0, 1.0)}
    assert per_day.to_dict() == pytest.approx({100: 3.0})


def test_visit_pins_equal_the_kpi_rule(tmp_path):
    """Per visit, the distinct products the planner counts equal :func:`kpis.visit_products` on a
    simulated world (every visit of every session)."""
    ws = Workspace.init(tmp_path / "ws")
    simulate(ws, dataclasses.replace(preset("small"), days=4), calibrate=False)
    vp = visit_pins(ws.events_arrow().to_pandas())
    ours = vp.groupby(["user_id", "session_id", "visit"])["product_id"].nunique()
    ours = ours.groupby(level=[0, 1]).apply(lambda s: sorted(s.tolist()))
    kpi = visit_products(ws.events(connect("duckdb"))).to_pyarrow().to_pandas()
    theirs = kpi[kpi["products"] > 0].groupby(["user_id", "session_id"])["products"].apply(lambda s: sorted(s.tolist()))
    assert len(ours) > 300
    assert ours.sort_index().to_dict() == theirs.sort_index().to_dict()


def _reference(creator, brand, k, x, s):
    """The log-posterior maximised by scipy over the log-effects (slow, obviously correct)."""
    ub, bi = np.unique(brand, return_inverse=True)
    uc, ci = np.unique(creator, return_inverse=True)
    m = k.sum() / x.sum()

    def neg(theta):
        a, c = theta[: ub.size], theta[ub.size:]
        eta = np.log(m) + a[bi] + c[ci]
        lp = np.sum(k * eta - x * np.exp(eta)) + np.sum(s * a - s * np.exp(a)) + np.sum(s * c - s * np.exp(c))
        return -lp

    res = minimize(neg, np.zeros(ub.size + uc.size), method="BFGS", options={"gtol": 1e-10, "maxiter": 10_000})
    a, c = np.exp(res.x[: ub.size]), np.exp(res.x[ub.size:])
    return dict(zip(ub.tolist(), a.tolist(), strict=True)), dict(zip(uc.tolist(), c.tolist(), strict=True))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 4), st.integers(2, 4), st.integers(0, 10_000), st.sampled_from([0.5, 1.0, 5.0]))
def test_poisson_rates_equal_the_numeric_maximiser(nb, nc, seed, s):
    rng = np.random.default_rng(seed)
    brand = np.repeat(np.arange(nb), nc)
    creator = np.tile(np.arange(nc), nb) + 100
    x = rng.integers(1, 200, size=nb * nc).astype(float)
    k = rng.poisson(x * 0.05 * rng.uniform(0.3, 3.0, size=nb)[brand]).astype(float)
    if k.sum() == 0:
        k[0] = 1.0
    m, A, C = poisson_rates(creator, brand, k, x, strength=s, iters=5000, tol=1e-13)
    assert m == pytest.approx(k.sum() / x.sum())
    ra, rc = _reference(creator, brand, k, x, s)
    # the fit is the maximum: same expected counts, whatever the split of scale between A and C
    mu = np.array([m * A[b] * C[c] for b, c in zip(brand, creator, strict=True)])
    mu_ref = np.array([m * ra[b] * rc[c] for b, c in zip(brand, creator, strict=True)])
    assert mu == pytest.approx(mu_ref, rel=1e-4)
    assert A == pytest.approx(ra, rel=1e-3) and C == pytest.approx(rc, rel=1e-3)


def test_poisson_rates_known_answer_and_errors():
    # One creator, one brand: A·C·m·x = posterior mode; with s → 0 the fit reproduces k/x exactly.
    m, A, C = poisson_rates(np.array([7]), np.array([1]), np.array([3.0]), np.array([30.0]), strength=1e-9)
    assert m == pytest.approx(0.1) and m * A[1] * C[7] == pytest.approx(0.1, rel=1e-6)
    # No orders at all: rate 0 and unit effects.
    assert poisson_rates(np.array([1, 2]), np.array([1, 1]), np.zeros(2), np.ones(2))[0] == 0.0
    with pytest.raises(ValueError, match="≥ 0"):
        poisson_rates(np.array([1]), np.array([1]), np.array([-1.0]), np.array([1.0]))


def test_pin_model_forecast_hand_log():
    """Brand 1 in creator 100's room, 10 days, one pin in 2: 3 exposures a day × 10 / 2 = 15 bought;
    rate m·A_1·C_100 with the fit ratio 1 (all viewers are brand 1's own viewers)."""
    ev = hand_log()
    pm = PinModel(strength=1.0).fit(ev, {10: 1, 20: 2})
    fit = pd.Series({1: 0.5, 2: 0.5, 3: 0.5})
    out = pm.forecast(1, fit, 0.5, pd.Index([100, 999]), days=10.0, pin_every=2)
    assert out.loc[100, "exposures"] == pytest.approx(15.0)
    assert out.loc[100, "rate"] == pytest.approx(pm.m_ * pm.A_[1] * pm.C_[100])
    assert out.loc[100, "orders"] == pytest.approx(15.0 * out.loc[100, "rate"])
    assert out.loc[999, "exposures"] == 0.0 and out.loc[999, "orders"] == 0.0  # never live: sells nothing


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(-1.0, 1.0), st.floats(0.05, 0.95), st.floats(0.05, 0.95))
def test_pin_calibration_recovers_a_known_answer(seed, c0, b1, b2):
    """Held-out counts equal to their expectation under (c₀, b₁, b₂) inside the bounds: the score
    equations Zᵀ(μ − k) = 0 hold exactly there, so the maximiser is that point."""
    rng = np.random.default_rng(seed)
    n = 40
    x = rng.uniform(10, 500, n)
    lac, lr = rng.normal(0, 0.7, n), rng.normal(0, 0.4, n)
    m = 0.02
    k = x * m * np.exp(c0 + b1 * lac + b2 * lr)
    got = pin_calibration(k, x, lac, lr, m)
    assert got == pytest.approx((c0, b1, b2), abs=1e-5)
    # The slow, obviously-correct reference: the same likelihood maximised by Nelder-Mead, unbounded.
    ref = minimize(lambda t: float(np.sum(x * m * np.exp(t[0] + t[1] * lac + t[2] * lr)
                                          - k * (t[0] + t[1] * lac + t[2] * lr))),
                   np.zeros(3), method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20_000})
    assert got == pytest.approx(tuple(ref.x), abs=1e-3)


def test_pin_calibration_only_shrinks_and_falls_back_to_identity():
    x = np.full(50, 100.0)
    lac = np.linspace(-1, 1, 50)
    lr = np.zeros(50)
    # The holdout says the room effect is twice as strong as fitted: not trusted, kept at 1.
    assert pin_calibration(x * 0.02 * np.exp(2.0 * lac), x, lac, lr, 0.02)[1] == pytest.approx(1.0)
    # ... or reversed: kept at 0 (no room effect at all), never negative.
    assert pin_calibration(x * 0.02 * np.exp(-0.5 * lac), x, lac, lr, 0.02)[1] == pytest.approx(0.0, abs=1e-9)
    # No order in the holdout, or no holdout: nothing to learn, the model as written.
    assert pin_calibration(np.zeros(50), x, lac, lr, 0.02) == (0.0, 1.0, 1.0)
    assert pin_calibration(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 0.02) == (0.0, 1.0, 1.0)


def test_pin_model_holdout_learns_that_rooms_do_not_differ():
    """A log where every room converts pins at one rate (3 orders per 100 exposures, day after day):
    whatever room effects the early half suggests are noise, and the calibration on the late half
    removes them (b₁ = 0, every room forecast at the pooled rate), while without a holdout the
    fitted effects differ. Hand-built: 10 rooms, one brand, one product, 8 days; each day each room
    shows its pin to 100 visits; room c sells orders on day d by a fixed pattern whose early-half
    counts differ across rooms and whose late-half counts are all equal."""
    rows = []
    oid = 0
    for d in range(8):
        for c in range(10):
            sid = d * 100 + c
            t = T0 + dt.timedelta(days=d, hours=c)
            rows += [dict(kind="live_start", ts=t, creator_id=c, session_id=sid),
                     dict(kind="product_pin", ts=t, creator_id=c, session_id=sid, product_id=10),
                     dict(kind="live_end", ts=t + dt.timedelta(minutes=50), creator_id=c, session_id=sid)]
            for u in range(100):
                rows.append(dict(kind="live_enter", ts=t + dt.timedelta(minutes=1), user_id=u, creator_id=c,
                                 session_id=sid))
            n = (c % 5 + 1) if d < 4 else 3  # early: 1..5 by room; late: 3 everywhere
            for j in range(n):
                oid += 1
                rows.append(dict(kind="order", ts=t + dt.timedelta(minutes=2), user_id=j, creator_id=c,
                                 session_id=sid, product_id=10, brand_id=1, order_id=oid))
    ev = pd.DataFrame(rows)
    for col in ("user_id", "creator_id", "session_id", "product_id", "brand_id", "order_id"):
        ev[col] = ev[col].astype("Int64")
    plain = PinModel(strength=1.0).fit(ev, {10: 1})
    assert plain.calibration_ == (0.0, 1.0, 1.0)
    assert plain.C_.max() / plain.C_.min() > 1.2  # rooms 4 and 9 sold 5 + 3 a day, rooms 0 and 5 1 + 3
    cal = PinModel(strength=1.0, holdout=0.5).fit(ev, {10: 1})
    assert cal.holdout_cells_ == 10
    assert cal.calibration_[1] == pytest.approx(0.0, abs=1e-6)
    fit = pd.Series(0.5, index=range(100))
    out = cal.forecast(1, fit, 0.5, pd.Index(range(10)), days=1.0, pin_every=1)
    assert out["rate"].to_numpy() == pytest.approx(np.full(10, out["rate"].iloc[0]))
    # ... at the pooled rate, 3 orders per 100 exposures (both halves average 3 a room a day: c₀ = 0).
    assert cal.calibration_[0] == pytest.approx(0.0, abs=1e-6)
    assert out["rate"].to_numpy() == pytest.approx(np.full(10, 0.03), rel=1e-6)
    with pytest.raises(ValueError, match="holdout"):
        PinModel(holdout=1.0).fit(ev, {10: 1})


# ----------------------------------------------------------------------------- allocation
class TablePlanner:
    """A stand-in planner: brand b values creator c at ``value[b][c]`` kept orders for a fee of 1 and
    takes its best creators that fit the budget, skipping the excluded ones."""

    def __init__(self, value: dict[int, dict[int, float]]):
        self.value = value
        self.calls = 0

    def plan(self, campaign: Campaign) -> Plan:
        self.calls += 1
        v = {c: x for c, x in self.value[campaign.brand_id].items() if c not in campaign.exclude and x > 0}
        best = sorted(v, key=lambda c: (-v[c], c))[: int(campaign.budget)]
        rows = [PlanRow(creator_id=c, reach=1.0, conversion=1.0, reliability=1.0, credibility=1.0,
                        expected_orders=v[c], expected_kept=v[c], cost=1.0, low=0.0, high=0.0, chosen=True,
                        excluded=None) for c in best]
        return Plan(campaign=campaign, chosen=rows, excluded=[], candidates=len(v),
                    expected_kept=sum(v[c] for c in best), expected_orders=0.0, cost=float(len(best)), low=0.0,
                    high=0.0, interval=0.9, method="", assumptions=[])


def _specs(n: int, budget: float = 2.0) -> list[CampaignSpec]:
    return [CampaignSpec(1 + i, 1 + i, 1, budget, 1, 5, 10.0) for i in range(n)]


def test_allocate_known_answer():
    # Brand 1 wants creators 7 (5.0) and 8 (4.0); brand 2 wants 7 (6.0) and 9 (1.0). Creator 7 goes to
    # brand 2 (6 > 5); brand 1 plans again without 7 and takes 8 and 10.
    pl = TablePlanner({1: {7: 5.0, 8: 4.0, 10: 0.5}, 2: {7: 6.0, 9: 1.0, 8: 0.1}})
    plans = allocate(pl, _specs(2))
    assert [r.creator_id for r in plans[1].chosen] == [8, 10]
    assert [r.creator_id for r in plans[2].chosen] == [7, 9]
    assert pl.calls == 3  # both once, then the loser again
    shared = allocate(TablePlanner(pl.value), _specs(2), exclusive=False)
    assert [r.creator_id for r in shared[1].chosen] == [7, 8]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.integers(1, 8), st.floats(0.0, 10.0), min_size=1, max_size=8), min_size=1,
                max_size=5), st.integers(1, 4))
def test_allocate_never_gives_a_creator_twice(values, budget):
    value = {1 + i: v for i, v in enumerate(values)}
    plans = allocate(TablePlanner(value), _specs(len(values), budget))
    chosen = [r.creator_id for p in plans.values() for r in p.chosen]
    assert len(chosen) == len(set(chosen))
    for b, p in plans.items():
        assert all(value[b][r.creator_id] > 0 for r in p.chosen) and len(p.chosen) <= budget


# ----------------------------------------------------------------------------- the planner
def test_planner_pins_on_a_small_world(tmp_path):
    from trustecon.trust import build

    ws = Workspace.init(tmp_path / "ws")
    simulate(ws, dataclasses.replace(preset("small"), days=10), calibrate=False)
    build(ws)
    args = (ws.events_arrow(), ws.read_table("pair_trust"), ws.read_table("creator_credibility"),
            ws.read_table("seller_reliability"))
    pl = CampaignPlanner(conversion="pins", pin_every=3, n_draws=300).fit(*args)
    brand = max(pl.brands_)
    p = pl.plan(Campaign(brand_id=brand, budget=400.0, days=7))
    assert p.chosen
    for r in p.chosen:  # expected orders = exposures bought × rate, kept = × reliability
        fc = pl.pins_.forecast(brand, *pl._fit_users(Campaign(brand, 400.0)), pd.Index([r.creator_id]), 7, 3)
        assert r.expected_orders == pytest.approx(float(fc["orders"].iloc[0]))
        assert r.expected_kept == pytest.approx(r.expected_orders * r.reliability)
    assert p.expected_kept == pytest.approx(sum(r.expected_kept for r in p.chosen))
    assert p.low <= p.expected_kept <= p.high
    # Twice the pins (one in three → one in 1.5 is not allowed; one in 6 halves them).
    half = CampaignPlanner(conversion="pins", pin_every=6, n_draws=300).fit(*args)
    r0 = p.chosen[0]
    r6 = next(r for r in half.plan(Campaign(brand_id=brand, budget=1e6, days=7)).chosen + half.plan(
        Campaign(brand_id=brand, budget=1e6, days=7)).excluded if r.creator_id == r0.creator_id)
    assert r6.expected_orders == pytest.approx(r0.expected_orders / 2)
    never_live = [r for r in p.excluded if r.excluded == "no live-room pin exposures in the history"]
    assert never_live and all(r.expected_orders == 0 for r in never_live)
    with pytest.raises(PlanError, match="pin_every"):
        CampaignPlanner(conversion="pins", pin_every=0).fit(*args)
    assert math.isfinite(p.cost)
