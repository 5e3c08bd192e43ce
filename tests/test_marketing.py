"""Brand campaigns (DESIGN.md §8): the planner on a hand-worked log, knapsack properties, the GSP
baseline's known answers and properties, the ``plan`` CLI's errors, and a plan on a simulated workspace."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trustecon.cli import app
from trustecon.marketing import (
    BidderState,
    Campaign,
    CampaignPlanner,
    PlanError,
    choose,
    gsp,
    plan_workspace,
    run_auction,
)
from trustecon.marketing.planner import carrier_rates  # noqa: E402

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
runner = CliRunner()


# ------------------------------------------------------------------------------------------ hand log
def hand_inputs(rel_200: tuple[float, float] = (1.0, 1.0)) -> tuple[pd.DataFrame, ...]:
    """Brands 1 (product 10) and 2 (product 20); creators 100, 200, 300; users 1–4; 10 days of log.

    Worked by hand with fit_strength s=1, a fixed prior strength S=3, cpm=1000 (fee = H):
    - interest: u1 orders 10, u2 clicks 10, u3 orders 20, u4 clicks 20 → π = (2+1)/(4+2) = 0.5 for
      brand 1; fit(u1) = fit(u2) = (1+0.5)/(1+1) = 0.75, fit(u3) = fit(u4) = 0.5/2 = 0.25.
    - H: 100 → 0.5+0.5 = 1, 200 → 0.8+0.2 = 1, 300 → 0.4+0.6 = 1; k = 1, 1, 0; m = 2/3; prior
      Beta(2, 1); p = 3/4, 3/4, 2/4.
    - reach for brand 1: 100 → 0.75, 200 → 0.8·0.25+0.2·0.25 = 0.25, 300 → 0.4·0.75+0.6·0.25 = 0.45.
    - R: 100 → 3/4, 200 → 1/2, 300 never sold → pooled (3+1)/(4+2) = 2/3.
    - expected kept: 100 → 0.75·0.75·0.75 = 0.421875, 200 → 0.25·0.75·0.5 = 0.09375,
      300 → 0.45·0.5·2/3 = 0.15; each costs 1.
    """
    d = lambda x: T0 + dt.timedelta(days=x)  # noqa: E731
    o = {"kind": "order"}
    ev = pd.DataFrame(
        [
            {**o, "ts": d(1), "user_id": 1, "creator_id": 100, "product_id": 10, "brand_id": 1, "order_id": 1},
            {**o, "ts": d(2), "user_id": 3, "creator_id": 200, "product_id": 20, "brand_id": 2, "order_id": 2},
            {"kind": "product_click", "ts": d(3), "user_id": 2, "creator_id": 100, "product_id": 10},
            {"kind": "product_click", "ts": d(4), "user_id": 4, "creator_id": 200, "product_id": 20},
            {"kind": "view", "ts": d(0), "user_id": 1, "creator_id": 100},
            {"kind": "view", "ts": d(10), "user_id": 4, "creator_id": 300},
        ]
    )
    for c in ("user_id", "creator_id", "product_id", "brand_id", "order_id"):
        ev[c] = ev[c].astype("Int64")
    pt = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4, 1, 4],
            "creator_id": [100, 100, 200, 200, 300, 300],
            "trust": [0.5, 0.5, 0.8, 0.2, 0.4, 0.6],
        }
    )
    cred = pd.DataFrame({"creator_id": [100, 200, 300], "score": [0.9, 0.5, 0.7]})
    rel = pd.DataFrame(
        {
            "seller_id": [100, 200, 1],
            "seller_kind": ["creator", "creator", "brand"],
            "alpha": [3.0, rel_200[0], 5.0],
            "beta": [1.0, rel_200[1], 1.0],
            "kept": [3, 1, 4],
            "orders": [4, 2, 4],
            "pending": [0, 0, 0],
        }
    )
    return ev, pt, cred, rel


def hand_planner(**kw) -> CampaignPlanner:
    params = dict(conversion="creator", cpm=1000.0, fit_strength=1.0, min_prior_strength=3.0, max_prior_strength=3.0,
                  n_draws=400)
    params.update(kw)
    return CampaignPlanner(**params).fit(*hand_inputs())


def test_hand_log_numbers_and_plan() -> None:
    pl = hand_planner()
    assert pl.history_days_ == pytest.approx(10.0)
    assert pl.platform_conversion_ == pytest.approx(2 / 3)
    p = pl.plan(Campaign(brand_id=1, budget=2.0))
    rows = {r.creator_id: r for r in p.chosen}
    assert sorted(rows) == [100, 300]  # best two ratios; 200 (0.09375) left out
    assert rows[100].reach == pytest.approx(0.75)
    assert rows[100].conversion == pytest.approx(0.75)
    assert rows[100].reliability == pytest.approx(0.75)
    assert rows[100].expected_kept == pytest.approx(0.421875)
    assert rows[300].reach == pytest.approx(0.45)
    assert rows[300].conversion == pytest.approx(0.5)
    assert rows[300].reliability == pytest.approx(2 / 3)
    assert rows[300].expected_kept == pytest.approx(0.15)
    assert p.cost == pytest.approx(2.0) and p.expected_kept == pytest.approx(0.571875)
    assert p.cpa == pytest.approx(2.0 / 0.571875)
    assert p.low <= p.expected_kept <= p.high
    # Budget 1: only creator 100.
    one = pl.plan(Campaign(brand_id=1, budget=1.0))
    assert [r.creator_id for r in one.chosen] == [100] and one.expected_kept == pytest.approx(0.421875)
    # Half the history's length: half the expected orders and half the fee, so budget 1 buys two.
    half = pl.plan(Campaign(brand_id=1, budget=1.0, days=5.0))
    assert [r.creator_id for r in half.chosen] == [100, 300]
    assert half.chosen[0].expected_kept == pytest.approx(0.421875 / 2) and half.chosen[0].cost == pytest.approx(0.5)
    assert half.expected_kept == pytest.approx(0.571875 / 2) and half.cost == pytest.approx(1.0)


def test_hand_log_brand_conversion() -> None:
    """``conversion="brand"`` (the default) on the same log, brand 1, S fixed at 3, worked by hand:
    exposure X = reach over all users: 100 → 0.75, 200 → 0.25, 300 → 0.45; brand-1 orders k: 100 → 1
    (order 1), 200 → 0 (its order is brand 2's), 300 → 0; μ = 1 / 1.45 = 20/29; λ = (3μ + k)/(3 + X):
    100 → (89/29)/3.75, 200 → (60/29)/3.25, 300 → (60/29)/3.45. Expected orders X·λ: 100 → 0.613793,
    200 → 0.159151, 300 → 0.269865; kept (× R 3/4, 1/2, 2/3): 0.460345, 0.079576, 0.179910."""
    pl = hand_planner(conversion="brand")
    rows = {r.creator_id: r for r in pl.plan(Campaign(brand_id=1, budget=10.0)).chosen}
    assert rows[100].conversion == pytest.approx((89 / 29) / 3.75)
    assert rows[200].conversion == pytest.approx((60 / 29) / 3.25)
    assert rows[300].conversion == pytest.approx((60 / 29) / 3.45)
    want = {100: 0.75 * (89 / 29) / 3.75 * 0.75, 200: 0.25 * (60 / 29) / 3.25 * 0.5,
            300: 0.45 * (60 / 29) / 3.45 * 2 / 3}
    assert {c: r.expected_kept for c, r in rows.items()} == pytest.approx(want)
    two = pl.plan(Campaign(brand_id=1, budget=2.0))
    assert [r.creator_id for r in two.chosen] == [100, 300]
    assert two.expected_kept == pytest.approx(want[100] + want[300])
    assert two.low <= two.expected_kept <= two.high
    # The creator that sold brand 2 is the one with brand-2 history: for brand 2 it has the highest rate.
    b2 = {r.creator_id: r.conversion for r in pl.plan(Campaign(brand_id=2, budget=10.0)).chosen}
    assert max(b2, key=b2.get) == 200
    with pytest.raises(PlanError, match="conversion"):
        CampaignPlanner(conversion="other").fit(*hand_inputs())


def test_hand_log_floors_audience_and_products() -> None:
    pl = hand_planner(min_credibility=0.6, min_reliability=0.7)
    p = pl.plan(Campaign(brand_id=1, budget=10.0))
    reasons = {r.creator_id: r.excluded for r in p.excluded}
    assert reasons == {200: "credibility 0.50 < floor 0.60", 300: "reliability 0.67 < floor 0.70"}
    assert [r.creator_id for r in p.chosen] == [100]
    # Audience {4}: only 200 and 300 reach u4; 100 has no trusted reach there.
    a = hand_planner().plan(Campaign(brand_id=1, budget=10.0, audience=frozenset({4})))
    assert {r.creator_id: r.excluded for r in a.excluded} == {100: "no trusted reach in the campaign's audience"}
    assert {r.creator_id: r.reach for r in a.chosen} == pytest.approx({200: 0.2 * 0.25, 300: 0.6 * 0.25})
    # Product 10 is brand 1's only product: same plan as the whole brand.
    assert hand_planner().plan(Campaign(1, 2.0, product_ids=(10,))).expected_kept == pytest.approx(0.571875)
    # Excluded creators are left out with that reason; the budget goes to the next best.
    ex = hand_planner().plan(Campaign(brand_id=1, budget=2.0, exclude=frozenset({100})))
    assert [r.creator_id for r in ex.chosen] == [300, 200]
    assert {r.creator_id: r.excluded for r in ex.excluded} == {100: "excluded by the campaign"}
    # A ceiling on the expected cost per kept order: fee 1 each; 100 → 1/0.421875 = 2.37, 300 → 1/0.15 =
    # 6.67, 200 → 1/0.09375 = 10.67; max_cpa 5 keeps only 100 however large the budget.
    c = hand_planner().plan(Campaign(brand_id=1, budget=10.0, max_cpa=5.0))
    assert [r.creator_id for r in c.chosen] == [100]
    assert {r.creator_id: r.excluded for r in c.excluded} == {
        300: "expected cost per kept order 6.67 > max_cpa 5", 200: "expected cost per kept order 10.67 > max_cpa 5"}


def test_bad_campaigns_are_clear_errors() -> None:
    pl = hand_planner()
    for budget in (0, -1.0, math.nan, math.inf):
        with pytest.raises(PlanError, match="budget"):
            Campaign(brand_id=1, budget=budget)
    with pytest.raises(PlanError, match="unknown brand 7"):
        pl.plan(Campaign(brand_id=7, budget=1.0))
    with pytest.raises(PlanError, match=r"products \[20\] are not products of brand 1"):
        pl.plan(Campaign(brand_id=1, budget=1.0, product_ids=(20,)))
    for bad in (0.0, -2.0, math.inf):
        with pytest.raises(PlanError, match="max_cpa"):
            Campaign(brand_id=1, budget=1.0, max_cpa=bad)
    with pytest.raises(PlanError, match="objective"):
        Campaign(brand_id=1, budget=1.0, objective="clicks")
    with pytest.raises(PlanError, match="not fitted"):
        CampaignPlanner().plan(Campaign(brand_id=1, budget=1.0))


def test_worse_reliability_is_never_preferred() -> None:
    """Creator 200 made equal to 100 in trust and conversion (both sold brand 1 once, to equally trusting
    users), then given a lower or higher reliability; under either conversion model."""
    ev, pt, cred, rel = hand_inputs()
    pt = pt.copy()
    pt.loc[pt.creator_id == 200, "user_id"] = [1, 2]
    pt.loc[pt.creator_id == 200, "trust"] = [0.5, 0.5]
    ev = ev.copy()
    ev.loc[ev.order_id == 2, "user_id"] = 2
    ev.loc[ev.order_id == 2, ["brand_id", "product_id"]] = [1, 10]
    for conversion in ("carrier", "brand", "creator"):
        params = dict(conversion=conversion, cpm=1000.0, fit_strength=1.0, min_prior_strength=3.0,
                      max_prior_strength=3.0, n_draws=100)
        for alpha, better in ((2.0, 100), (6.0, 200)):
            rel2 = rel.copy()
            rel2.loc[rel2.seller_id == 200, ["alpha", "beta"]] = [alpha, 1.0]
            pl = CampaignPlanner(**params).fit(ev, pt, cred, rel2)
            p = pl.plan(Campaign(brand_id=1, budget=1.0))
            assert [r.creator_id for r in p.chosen] == [better], conversion


@st.composite
def random_market(draw):
    """Random trust rows, orders and reliabilities over ≤ 6 creators and ≤ 8 users (brand 1 always sells)."""
    n_c, n_u = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    cells = draw(st.lists(st.tuples(st.integers(1, n_u), st.integers(1, n_c), st.floats(0.01, 1)), min_size=1))
    pt = pd.DataFrame(cells, columns=["user_id", "creator_id", "trust"]).drop_duplicates(["user_id", "creator_id"])
    buys = draw(st.lists(st.tuples(st.integers(1, n_u), st.integers(1, n_c), st.integers(1, 2)), max_size=10))
    rows = [
        {
            "kind": "order",
            "ts": T0 + dt.timedelta(days=i),
            "user_id": u,
            "creator_id": c,
            "product_id": 10 * b,
            "brand_id": b,
            "order_id": i + 1,
        }
        for i, (u, c, b) in enumerate([(1, 1, 1), *buys])
    ]
    ev = pd.DataFrame(rows)
    cred = pd.DataFrame(
        {"creator_id": range(1, n_c + 1), "score": draw(st.lists(st.floats(0, 1), min_size=n_c, max_size=n_c))}
    )
    ab = draw(st.lists(st.tuples(st.floats(0.5, 10), st.floats(0.5, 10)), min_size=n_c, max_size=n_c))
    rel = pd.DataFrame(
        {
            "seller_id": range(1, n_c + 1),
            "seller_kind": "creator",
            "alpha": [a for a, _ in ab],
            "beta": [b for _, b in ab],
            "kept": 1,
            "orders": 2,
            "pending": 0,
        }
    )
    return ev, pt, cred, rel


@settings(max_examples=40, deadline=None)
@given(random_market(), st.floats(0.01, 5), st.floats(0.01, 5))
def test_random_plans_within_budget_monotone_and_summed(market, b1, b2) -> None:
    pl = CampaignPlanner(cpm=1000.0, min_credibility=0.2, min_reliability=0.3, n_draws=50).fit(*market)
    lo, hi = sorted((b1, b2))
    p_lo, p_hi = pl.plan(Campaign(1, lo)), pl.plan(Campaign(1, hi))
    for p, b in ((p_lo, lo), (p_hi, hi)):
        assert p.cost <= b * (1 + 1e-9)
        assert p.cost == pytest.approx(sum(r.cost for r in p.chosen))
        assert p.expected_kept == pytest.approx(sum(r.expected_kept for r in p.chosen))
        assert all(r.excluded is None for r in p.chosen) and all(not r.chosen for r in p.excluded)
        assert all(r.reliability >= 0.3 and r.credibility >= 0.2 for r in p.chosen)
    assert p_hi.expected_kept >= p_lo.expected_kept - 1e-12


# ------------------------------------------------------------------------------------------ knapsack
def _opt(values: list[float], costs: list[float], budget: float) -> float:
    best = 0.0
    for k in range(len(values) + 1):
        for s in itertools.combinations(range(len(values)), k):
            if sum(costs[i] for i in s) <= budget:
                best = max(best, sum(values[i] for i in s))
    return best


items = st.lists(
    st.tuples(st.floats(0, 10, allow_nan=False), st.floats(0.01, 10, allow_nan=False)), min_size=0, max_size=8
)


def test_choose_known_answers() -> None:
    # Greedy takes the ratio-2 item and then cannot fit the big one; the best single item wins.
    assert choose(np.array([2.0, 10.0]), np.array([1.0, 10.0]), 10.0).tolist() == [1]
    assert choose(np.array([2.0, 10.0]), np.array([1.0, 10.0]), 11.0).tolist() == [0, 1]
    assert choose(np.array([3.0, 2.0, 1.0]), np.array([1.0, 1.0, 1.0]), 2.0).tolist() == [0, 1]
    assert choose(np.array([]), np.array([]), 5.0).tolist() == []
    with pytest.raises(PlanError):
        choose(np.array([1.0]), np.array([-1.0]), 5.0)


@settings(max_examples=150, deadline=None)
@given(items, st.floats(0, 30, allow_nan=False), st.floats(0, 30, allow_nan=False))
def test_choose_within_budget_half_optimal_and_monotone(it, b1, b2) -> None:
    v = np.array([x[0] for x in it])
    c = np.array([x[1] for x in it])
    lo, hi = min(b1, b2), max(b1, b2)
    s_lo, s_hi = choose(v, c, lo), choose(v, c, hi)
    assert c[s_lo].sum() <= lo * (1 + 1e-9) and c[s_hi].sum() <= hi * (1 + 1e-9)
    assert v[s_hi].sum() >= v[s_lo].sum() - 1e-9  # more budget never lowers the value
    assert v[s_hi].sum() >= 0.5 * _opt(list(v), list(c), hi) - 1e-9


@settings(max_examples=100, deadline=None)
@given(items, st.integers(0, 7), st.floats(0.01, 0.99), st.floats(0, 30, allow_nan=False))
def test_choose_never_prefers_a_dominated_copy(it, k, shrink, budget) -> None:
    """A copy of an item with the same cost and a lower value (e.g. worse reliability) is chosen only
    if the original is too."""
    if not it:
        return
    k %= len(it)
    v = np.array([x[0] for x in it] + [it[k][0] * shrink])
    c = np.array([x[1] for x in it] + [it[k][1]])
    s = set(choose(v, c, budget).tolist())
    if len(it) in s:
        assert k in s


# ------------------------------------------------------------------------------------------ auction
def test_gsp_known_answers() -> None:
    # Equal quality: ranked by bid; slot 1 pays bid 2 = 8, slot 2 pays bid 3 = 4.
    assert gsp([10.0, 8.0, 4.0], [1.0, 1.0, 1.0], 2) == ([0, 1], [8.0, 4.0])
    # Quality 0.5 for bidder 0: scores 5, 8, 4 → bidder 1 first paying 5/1 = 5, bidder 0 pays 4/0.5 = 8.
    assert gsp([10.0, 8.0, 4.0], [0.5, 1.0, 1.0], 2) == ([1, 0], [5.0, 8.0])
    # More slots than bidders: the last pays the reserve.
    assert gsp([3.0, 2.0], [1.0, 1.0], 3, reserve=1.0) == ([0, 1], [2.0, 1.0])
    # A bid below the reserve does not take part.
    assert gsp([3.0, 0.5], [1.0, 1.0], 2, reserve=1.0) == ([0], [1.0])
    with pytest.raises(ValueError):
        gsp([1.0, -1.0], [1.0, 1.0], 1)


bids_q = st.lists(st.tuples(st.floats(0, 100, allow_nan=False), st.floats(0.01, 1, allow_nan=False)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(bids_q, st.integers(0, 6))
def test_gsp_properties(bq, slots) -> None:
    b = [x[0] for x in bq]
    q = [x[1] for x in bq]
    winners, prices = gsp(b, q, slots)
    assert len(winners) == len(set(winners)) <= slots
    for i, p in zip(winners, prices, strict=True):
        assert 0 <= p <= b[i] * (1 + 1e-12)  # a winner never pays more than its bid
    scored = [p * q[i] for i, p in zip(winners, prices, strict=True)]
    assert all(x >= y - 1e-9 for x, y in itertools.pairwise(scored))  # prices monotone in position
    # With equal quality, per-click prices are monotone too.
    w2, p2 = gsp(b, [1.0] * len(b), slots)
    assert all(x >= y for x, y in itertools.pairwise(p2))
    # One slot: Vickrey — the highest score wins and pays the second-highest score.
    w1, p1 = gsp(b, q, 1)
    scores = sorted((x * y for x, y in zip(b, q, strict=True) if x * y > 0), reverse=True)
    if scores:
        assert b[w1[0]] * q[w1[0]] == scores[0]
        assert p1[0] * q[w1[0]] == pytest.approx(scores[1] if len(scores) > 1 else 0.0)


def test_run_auction_known_round_and_target_cpa() -> None:
    bidders = [BidderState(1, 2.0, 1.0, 0.1, 30.0), BidderState(2, 1.0, 1.0, 0.05, 10.0)]
    res = run_auction(bidders, [0.1], rounds=1, impressions=1000)
    r0 = {r["brand_id"]: r for r in res.rounds}
    assert r0[1]["slot"] == 0 and r0[1]["price"] == 1.0 and r0[1]["clicks"] == 100.0
    assert r0[1]["orders"] == pytest.approx(10.0) and r0[1]["spend"] == pytest.approx(100.0)
    assert r0[2]["slot"] is None and r0[2]["spend"] == 0.0
    assert res.platform_revenue == pytest.approx(100.0)
    assert bidders[0].bid == 2.0  # the caller's states are not changed


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.01, 5), st.floats(0.1, 1), st.floats(0.01, 0.5), st.floats(1, 100)),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 3),
)
def test_run_auction_cpa_never_above_target(bs, slots) -> None:
    bidders = [BidderState(i, *x) for i, x in enumerate(bs)]
    ctr = sorted([0.1 / (s + 1) for s in range(slots)], reverse=True)
    res = run_auction(bidders, ctr, rounds=10)
    for r in res.rounds:
        b = bidders[r["brand_id"]]
        assert r["price"] <= r["bid"] + 1e-12
        if r["orders"] > 0 and r["round"] > 0:  # once bids are capped at target·conversion
            assert r["spend"] / r["orders"] <= b.target_cpa * (1 + 1e-9)


# ------------------------------------------------------------------------------------------ workspace
@pytest.fixture(scope="module")
def small_ws(tmp_path_factory) -> Path:
    from trustecon.simulate import preset, simulate
    from trustecon.store import Workspace

    path = tmp_path_factory.mktemp("mk") / "ws"
    ws = Workspace.init(path)
    simulate(ws, dataclasses.replace(preset("small"), seed=5), calibrate=False)
    assert runner.invoke(app, ["build", str(path)]).exit_code == 0
    return path


def test_plan_on_small_workspace_totals_are_row_sums(small_ws: Path) -> None:
    res = runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "600", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rows, tot = out["chosen"], out["totals"]
    assert rows and tot["cost"] <= 600
    assert tot["cost"] == pytest.approx(sum(r["cost"] for r in rows))
    assert tot["expected_kept_orders"] == pytest.approx(sum(r["expected_kept"] for r in rows))
    assert tot["expected_orders"] == pytest.approx(sum(r["expected_orders"] for r in rows))
    assert tot["cpa"] == pytest.approx(tot["cost"] / tot["expected_kept_orders"])
    assert tot["low"] <= tot["expected_kept_orders"] <= tot["high"]
    assert all(r["expected_kept"] <= r["expected_orders"] for r in rows)
    # The default forecast (pins): expected orders = pin exposures bought × orders per exposure.
    assert all(r["expected_orders"] == pytest.approx(r["exposures"] * r["conversion"]) for r in rows)
    brand = json.loads(runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "600", "--conversion",
                                           "brand", "--json"]).stdout)
    assert all(r["exposures"] is None for r in brand["chosen"])
    # Seeded: the same command gives the same plan; more budget never gives fewer kept orders.
    again = json.loads(runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "600", "--json"]).stdout)
    assert again == out
    more = runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "1200", "--json"])
    assert json.loads(more.stdout)["totals"]["expected_kept_orders"] >= tot["expected_kept_orders"]
    table = runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "600"])
    assert table.exit_code == 0 and "total" in table.stdout and "exposures" in table.stdout
    # At the runner's 80 columns the plan's numbers are printed whole (rich used to cut them to "0.04…").
    assert "…" not in table.stdout and max(len(line) for line in table.stdout.splitlines()) <= 80
    for row in rows:
        assert f"{row['cost']:,.2f}" in table.stdout


def test_plan_cli_groups_exclusions_by_reason() -> None:
    from types import SimpleNamespace as N

    from trustecon.cli.marketing import _excluded

    rows = [N(creator_id=c, excluded=why) for c, why in [
        (17, "credibility 0.05 < floor 0.10"), (1, "no live-room pin exposures in the history"),
        (300, "expected cost per kept order 6.67 > max_cpa 5"), (2, "no live-room pin exposures in the history"),
        (20, "credibility 0.00 < floor 0.10"), (200, "expected cost per kept order 10.67 > max_cpa 5"),
    ]]
    assert _excluded(rows) == (
        "credibility < floor 0.10: 17 (0.05), 20 (0.00); no live-room pin exposures in the history: 1, 2; "
        "expected cost per kept order > max_cpa 5: 300 (6.67), 200 (10.67)"
    )


def test_plan_cli_past_delivery_scales_every_forecast(small_ws: Path) -> None:
    """``--past-delivery 100,50``: past plans delivered half their forecast, so every expected order is
    (10 + 50) / (10 + 100) of exposures × orders per exposure (κ = 10), and the plan says so."""
    res = runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "600", "--past-delivery",
                              "100,50", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["chosen"]
    assert all(r["expected_orders"] == pytest.approx(60 / 110 * r["exposures"] * r["conversion"])
               for r in out["chosen"])
    assert any("x 0.545" in a and "delivered 50.0 of 100.0" in a for a in out["assumptions"])
    bad = runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "600", "--past-delivery", "100"])
    assert bad.exit_code == 2 and "FORECAST,DELIVERED" in bad.output


def test_plan_cli_errors(small_ws: Path, tmp_path: Path) -> None:
    from trustecon.store import Workspace

    cases = [
        (["--brand", "99999", "--budget", "100"], "unknown brand 99999"),
        (["--brand", "1", "--budget", "0"], "budget 0.0: must be a finite number > 0"),
        (["--brand", "1", "--budget", "-5"], "budget -5.0"),
        (["--brand", "1", "--budget", "100", "--conversion", "magic"], "conversion 'magic': must be one of"),
        (["--brand", "1", "--budget", "100", "--conversion", "pins", "--pin-every", "0"], "pin_every 0"),
        (["--brand", "1", "--budget", "100", "--max-cpa", "-1"], "max_cpa -1.0"),
    ]
    for args, msg in cases:
        res = runner.invoke(app, ["plan", str(small_ws), *args])
        assert res.exit_code == 2 and msg in " ".join(res.output.split()), res.output
        assert "Traceback" not in res.output
    bare = Workspace.init(tmp_path / "bare")
    res = runner.invoke(app, ["plan", str(bare.path), "--brand", "1", "--budget", "100"])
    assert res.exit_code == 2 and "trustecon build" in " ".join(res.output.split())
    with pytest.raises(PlanError, match="pair_trust"):
        plan_workspace(bare, Campaign(brand_id=1, budget=1.0))
    res = runner.invoke(app, ["plan", str(tmp_path / "nope"), "--brand", "1", "--budget", "100"])
    assert res.exit_code == 2


def test_offline_comparison_on_small_workspace(small_ws: Path) -> None:
    """The planner half equals ``plan``; the auction half spends within the budget and is consistent."""
    from trustecon.marketing import compare_workspace
    from trustecon.store import Workspace

    ws = Workspace.open(small_ws)
    camp = Campaign(brand_id=1, budget=300.0)
    cmp = compare_workspace(ws, camp)
    plan = plan_workspace(ws, camp)
    assert cmp.planner["kept_orders"] == pytest.approx(plan.expected_kept)
    assert cmp.planner["spend"] == pytest.approx(plan.cost)
    a = cmp.auction
    assert 0 <= a["spend"] <= camp.budget * (1 + 1e-9)
    assert a["kept_orders"] <= a["orders"] + 1e-12
    assert a["platform_revenue_all_brands"] >= a["spend"] - 1e-9
    if a["kept_orders"] > 0:
        assert a["cpa"] == pytest.approx(a["spend"] / a["kept_orders"])
    assert "offline estimate" in cmp.as_dict()["label"]
    assert any("experiment market" in x for x in cmp.assumptions)
    # An empty auction column says why: the brand won no slot (and one that spent won some).
    ev = ws.events_arrow().to_pandas()
    sold = sorted(int(b) for b in ev.loc[(ev["kind"] == "order") & ev["brand_id"].notna(), "brand_id"].unique())
    for b in sold[:6]:
        x = compare_workspace(ws, Campaign(brand_id=b, budget=300.0)).auction
        assert (x["spend"] > 0) == (x["rounds_won"] > 0)
        assert ("note" in x) == (x["rounds_won"] == 0)
        if x["rounds_won"] == 0:
            assert f"brand {b} won no slot" in x["note"]
    res = runner.invoke(app, ["plan", str(small_ws), "--brand", "1", "--budget", "300", "--compare", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["comparison"]["auction"]["spend"] == pytest.approx(a["spend"])


def test_planner_inputs_equal_the_built_tables_and_engine_counts(small_ws: Path) -> None:
    """Reliability and credibility are the build's numbers; orders per creator equal a DuckDB count."""
    from trustecon.engine import connect
    from trustecon.store import Workspace

    ws = Workspace.open(small_ws)
    pl = CampaignPlanner().fit(
        ws.events_arrow(), *(ws.read_table(t) for t in ("pair_trust", "creator_credibility", "seller_reliability"))
    )
    p = pl.plan(Campaign(brand_id=1, budget=1e9))
    rel = ws.read_table("seller_reliability").to_pandas()
    rel = rel[rel.seller_kind == "creator"].set_index("seller_id")["reliability"]
    cred = ws.read_table("creator_credibility").to_pandas().set_index("creator_id")["score"]
    rows = [*p.chosen, *p.excluded]
    assert len(rows) == p.candidates and len(p.chosen) > 5
    for r in rows:
        if r.creator_id in rel.index:
            assert r.reliability == pytest.approx(rel[r.creator_id])
        assert r.credibility == pytest.approx(cred[r.creator_id])
    ev = ws.events(connect("duckdb"))
    o = ev.filter((ev.kind == "order") & ev.creator_id.notnull() & ev.order_id.notnull())
    want = o.group_by("creator_id").aggregate(k=o.order_id.nunique()).to_pandas().set_index("creator_id")["k"]
    got = pl.creators_["k"]
    assert (got[got > 0].sort_index() == want.reindex(got[got > 0].index)).all()
    assert got.sum() == want.reindex(got.index).fillna(0).sum()


# ------------------------------------------------------------------------------------------ carriers
def _carrier_rates_reference(k, x, s_min, s_max, iters=200):
    """The EM of ``carrier_rates`` written out creator by creator (the slow, obvious version)."""
    n = len(k)
    if n == 0 or sum(k) <= 0:
        return [0.0] * n, 0.0, 0.0, s_max
    w = [1.0 if kk > 0 else sum(1 for v in k if v > 0) / n for kk in k]
    pi = mu = 0.0
    S = s_max
    for _ in range(iters):
        pi = sum(w) / n
        mu = sum(k) / max(sum(wi * xi for wi, xi in zip(w, x, strict=True)), 1e-300)
        units = [(wi, ki, xi) for wi, ki, xi in zip(w, k, x, strict=True) if wi > 0 and xi > 0]
        S = s_max
        if len(units) >= 2:
            tot = sum(wi * xi for wi, _, xi in units)
            var = sum(wi * xi / tot * (ki / xi - mu) ** 2 for wi, ki, xi in units)
            tau2 = var - mu * sum(wi * xi / tot / xi for wi, _, xi in units)
            if tau2 > 0:
                S = mu / tau2
        S = min(max(S, s_min), s_max)
        new = []
        for ki, xi in zip(k, x, strict=True):
            if ki > 0 or pi >= 1:
                new.append(1.0)
            else:
                q = (S / (S + xi)) ** (S * mu)
                new.append(pi * q / (pi * q + 1 - pi))
        done = max(abs(a - b) for a, b in zip(new, w, strict=True)) < 1e-12
        w = new
        if done:
            break
    return w, pi, mu, S


def test_carrier_rates_known_answers() -> None:
    """By hand: every creator sold → all carriers, the plain Gamma–Poisson posterior. One creator sold
    once over exposure 1, the other has no exposure (no evidence either way), S fixed at 1: the fixed
    point is π = 1 (π = (1 + π)/2), μ = 1/1 = 1, posteriors Gamma(2, 2) and Gamma(1, 1)."""
    w, shape, rate, pi, mu, S = carrier_rates(np.array([2.0, 1.0]), np.array([1.0, 3.0]), 2.0, 2.0)
    assert list(w) == [1.0, 1.0] and pi == 1.0 and mu == pytest.approx(3 / 4) and S == 2.0
    assert list(shape) == pytest.approx([2 * 0.75 + 2, 2 * 0.75 + 1]) and list(rate) == pytest.approx([3.0, 5.0])
    w, shape, rate, pi, mu, S = carrier_rates(np.array([1.0, 0.0]), np.array([1.0, 0.0]), 1.0, 1.0)
    assert list(w) == pytest.approx([1.0, 1.0]) and pi == pytest.approx(1.0) and mu == pytest.approx(1.0)
    assert list(shape) == pytest.approx([2.0, 1.0]) and list(rate) == pytest.approx([2.0, 1.0])
    assert carrier_rates(np.zeros(3), np.ones(3), 1.0, 5.0)[0].tolist() == [0.0, 0.0, 0.0]  # nobody sold


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0.0, 20.0)), min_size=1, max_size=8),
       st.floats(0.5, 5.0), st.floats(1.0, 50.0))
def test_carrier_rates_equal_reference_and_monotone(units, s_min, span) -> None:
    k = np.array([float(a) for a, _ in units])
    x = np.array([b for _, b in units])
    w, shape, rate, pi, mu, S = carrier_rates(k, x, s_min, s_min + span)
    rw, rpi, rmu, rS = _carrier_rates_reference(list(k), list(x), s_min, s_min + span)
    assert np.allclose(w, rw, atol=1e-9) and pi == pytest.approx(rpi) and mu == pytest.approx(rmu)
    assert S == pytest.approx(rS)
    assert ((w >= 0) & (w <= 1)).all() and (w[k > 0] == 1).all()
    if k.sum() > 0:
        assert np.allclose(shape, S * mu + k) and np.allclose(rate, S + x)
        # Among creators that never sold, more exposure is more evidence of not carrying the brand.
        z = np.flatnonzero(k == 0)
        order = z[np.argsort(x[z], kind="stable")]
        assert (np.diff(w[order]) <= 1e-12).all()

