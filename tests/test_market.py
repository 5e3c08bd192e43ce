"""The market experiment (DESIGN.md §8): campaign exposure in the simulator (sponsored pins, ad slots,
fees), the two mechanisms, and the experiment's outcomes — on hand-worked answers, the per-user GSP
against the one-auction reference, and invariants of small simulated runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustecon.events import SCHEMA
from trustecon.marketing.auction import bid_step, gsp, gsp_one_slot
from trustecon.marketing.experiment import market_experiment, market_outcomes, plan_outcomes
from trustecon.marketing.market import CampaignSpec
from trustecon.simulate import World, preset
from trustecon.simulate.market import Buys, MarketDay, sponsor_pins
from trustecon.simulate.policy import DayContext
from trustecon.store import Workspace


def _small(**changes: Any):
    return dataclasses.replace(preset("small"), **changes)


def _log(world: World, days: int) -> pa.Table:
    return pa.concat_tables([world.step(d) for d in range(days)])


class Scripted:
    """A market that buys what a function of the day says (None: nothing) and records what it saw."""

    name = "scripted"

    def __init__(self, fn):
        self.fn = fn
        self.seen: list[pa.Table] = []

    def buys(self, ctx: MarketDay):
        return self.fn(ctx)

    def observe(self, events: pa.Table) -> None:
        self.seen.append(events)


class FirstSlots:
    """An outside policy that shows the first creators and records how many slots it was given."""

    name = "first"

    def __init__(self) -> None:
        self.slots: list[int] = []

    def observe(self, events: pa.Table) -> None:
        pass

    def exposures(self, ctx: DayContext, rng: np.random.Generator) -> np.ndarray:
        self.slots.append(ctx.slots)
        k = min(ctx.slots, ctx.creator_ids.size)
        out = np.full((ctx.user_ids.size, ctx.slots), -1, dtype=np.int64)
        out[:, :k] = np.arange(k)
        return out


# ----------------------------------------------------------------------------- the world's rules
def test_market_that_buys_nothing_leaves_the_log_unchanged():
    cfg = _small(days=6)
    plain = _log(World(cfg), 6)
    m = Scripted(lambda ctx: None)
    assert _log(World(cfg, market=m), 6).equals(plain)
    assert sum(t.num_rows for t in m.seen) == plain.num_rows  # the market saw every event, once


@pytest.mark.parametrize("daily", [True, False])
def test_daily_streams_keep_a_market_run_aligned_with_the_plain_one(daily):
    """With daily streams every day's publishing and live schedule (drawn before anything a market
    changes) is the plain run's, long after the first campaign day; with one stream they drift apart."""
    cfg = _small(days=8, daily_streams=daily)
    creator, product = _seller(cfg)

    def fn(ctx: MarketDay):
        return Buys(sponsor_creator=np.array([creator]), sponsor_product=np.array([product]),
                    sponsor_campaign=np.array([1]), pin_every=2) if ctx.day >= 1 else None

    def early(t: pa.Table) -> pa.Table:
        t = t.filter(pc.is_in(t["kind"], pa.array(["publish", "live_start", "live_end", "notice"])))
        return t.drop_columns(["event_id"]).sort_by([("ts", "ascending"), ("kind", "ascending")])

    a, b = World(cfg, market=Scripted(fn)), World(cfg)
    same = [early(a.step(d)).equals(early(b.step(d))) for d in range(8)]
    assert same[:2] == [True, True]
    assert all(same) if daily else not all(same[3:])


def test_sponsor_pins_known_answer():
    # creator index 0 has pins k = 0..4, creator 1 has k = 0..1; creator id 1 (index 0) is sponsored
    # twice (products 100 and 200, campaigns 7 and 8) with a pin every 2: k = 0 → first, k = 2 → second,
    # k = 4 → first again; its other pins and creator 2's pins stay its own.
    pin_creator = np.array([0, 0, 0, 0, 0, 1, 1])
    pin_k = np.array([0, 1, 2, 3, 4, 0, 1])
    prod = np.array([10, 11, 12, 13, 14, 20, 21])
    buys = Buys(sponsor_creator=np.array([1, 1]), sponsor_product=np.array([100, 200]),
                sponsor_campaign=np.array([7, 8]), pin_every=2)
    got, camp = sponsor_pins(pin_creator, pin_k, prod, buys)
    assert got.tolist() == [99, 11, 199, 13, 99, 20, 21]
    assert camp.tolist() == [7, -1, 8, -1, 7, -1, -1]
    assert prod.tolist() == [10, 11, 12, 13, 14, 20, 21]  # the input is not modified


def _seller(cfg) -> tuple[int, int]:
    """A creator (id) that goes live often and a product (id) it does not carry."""
    w = World(cfg)
    pop = w.pop
    c = int(np.argmax(pop.live_days.sum(axis=1)))
    own = set(pop.assortment[pop.assortment_ptr[c]:pop.assortment_ptr[c + 1]].tolist())
    p = next(i for i in range(pop.n_products) if i not in own)
    return c + 1, p + 1


def test_sponsorship_pins_the_product_and_tags_its_clicks_orders_and_fee():
    cfg = _small(days=8, users=3000)
    creator, product = _seller(cfg)

    def fn(ctx: MarketDay):
        if ctx.day < 2:
            return None
        fee = np.array([120.0]) if ctx.day == 2 else np.zeros(0)
        k = fee.size
        return Buys(sponsor_creator=np.array([creator]), sponsor_product=np.array([product]),
                    sponsor_campaign=np.array([42]), pin_every=3, fee_campaign=np.full(k, 42),
                    fee_brand=np.full(k, 5), fee_creator=np.full(k, creator), fee_amount=fee, take=0.25)

    w, plain = World(cfg, market=Scripted(fn)), World(cfg)
    days = [w.step(d) for d in range(8)]
    assert all(days[d].equals(plain.step(d)) for d in range(2))  # before the campaign: the same world
    log = pa.concat_tables(days).to_pandas()
    camp = log[log["campaign_id"] == 42]
    pins = camp[camp["kind"] == "product_pin"]
    assert len(pins) > 0 and set(pins["product_id"]) == {product} and set(pins["creator_id"]) == {creator}
    # Every third pin of the creator's sessions on campaign days (from the first) is the sponsored one.
    all_pins = log[(log["kind"] == "product_pin") & (log["creator_id"] == creator)].sort_values("ts")
    for _, s in all_pins.groupby("session_id"):
        k = np.arange(len(s))
        spons = s["campaign_id"].notna().to_numpy()
        day = (s["ts"].iloc[0] - log["ts"].min()).days
        assert spons.tolist() == ((k % 3 == 0) if day >= 2 else np.zeros(len(s), bool)).tolist()
    for kind in ("product_click", "order"):
        rows = camp[camp["kind"] == kind]
        assert set(rows["product_id"]) <= {product} and set(rows["creator_id"]) <= {creator}
        assert set(rows["surface"]) <= {"live"}
    assert len(camp[camp["kind"] == "product_click"]) > 0
    spend = camp[camp["kind"] == "spend"]
    payout = camp[camp["kind"] == "payout"]
    assert spend["amount"].tolist() == [120.0] and spend["brand_id"].tolist() == [5]
    assert payout["amount"].tolist() == [90.0] and payout["creator_id"].tolist() == [creator]


def test_ads_take_a_slot_stop_at_the_cap_and_charge_per_click():
    cfg = _small(days=5)
    price, cap = 0.7, 6.0
    product = 3

    def fn(ctx: MarketDay):
        if ctx.day < 1:
            return None
        n = ctx.user_ids.size
        return Buys(ad_user=ctx.user_ids, ad_product=np.full(n, product), ad_campaign=np.full(n, 9),
                    ad_price=np.full(n, price), ad_cap={9: cap}, ad_slots=1)

    pol = FirstSlots()
    log = _log(World(cfg, policy=pol, market=Scripted(fn)), 5).to_pandas()
    assert pol.slots == [cfg.slots] + [cfg.slots - 1] * 4
    ads = log[log["campaign_id"] == 9]
    day = (ads["ts"] - log["ts"].min()).dt.days
    clicks = ads[ads["kind"] == "product_click"]
    spend = ads[ads["kind"] == "spend"]
    assert len(clicks) > 0 and clicks["creator_id"].isna().all() and set(clicks["surface"]) == {"campaign"}
    for d in range(1, 5):
        n = int(((day == d) & (ads["kind"] == "product_click")).sum())
        paid = spend[day[spend.index] == d]["amount"].sum()
        assert n <= cap // price and paid == pytest.approx(round(n * price, 2))
    orders = ads[ads["kind"] == "order"]
    assert orders["creator_id"].isna().all() and set(orders["product_id"]) <= {product}
    assert set(orders["user_id"]) <= set(clicks["user_id"])


@pytest.mark.parametrize("buys, message", [
    (Buys(ad_user=np.array([1, 1]), ad_product=np.array([1, 1]), ad_campaign=np.array([1, 1]),
          ad_price=np.array([1.0, 1.0]), ad_slots=1), "one ad per user"),
    (Buys(ad_user=np.array([1]), ad_product=np.array([1, 2]), ad_campaign=np.array([1]),
          ad_price=np.array([1.0]), ad_slots=1), "one length"),
    (Buys(ad_user=np.array([1]), ad_product=np.array([1]), ad_campaign=np.array([1]), ad_price=np.array([1.0])),
     "ad_slots = 1"),
    (Buys(sponsor_creator=np.array([10_000]), sponsor_product=np.array([1]), sponsor_campaign=np.array([1])),
     "creator ids"),
    (Buys(ad_slots=2), "ad_slots must be 0 or 1"),
    (Buys(take=1.5), "take"),
    (Buys(ad_user=np.array([2]), ad_product=np.array([1]), ad_campaign=np.array([1]), ad_price=np.array([-1.0]),
          ad_slots=1), "≥ 0"),
])
def test_bad_buys_refused_naming_the_field(buys, message):
    ctx = MarketDay(day=3, date="2026-01-04", user_ids=np.array([1, 2, 3]), slots=10)
    with pytest.raises(ValueError, match=message):
        buys.validate(ctx, n_creators=60, n_products=100)


# ----------------------------------------------------------------------------- the auction
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5).flatmap(lambda b: st.tuples(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]), min_size=b, max_size=b),
    st.lists(st.lists(st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0]), min_size=b, max_size=b), min_size=1, max_size=6),
    st.sampled_from([0.0, 0.4, 1.0]))))
def test_gsp_one_slot_equals_one_auction_per_row(case):
    bids, q, reserve = case
    win, price = gsp_one_slot(np.array(bids), np.array(q), reserve=reserve)
    for i, row in enumerate(q):
        w, p = gsp(bids, row, 1, reserve=reserve)
        assert win[i] == (w[0] if w else -1)
        assert price[i] == pytest.approx(p[0] if w else 0.0, abs=1e-12)


def test_bid_step_known_answers():
    # cost per order 4 against a target of 1: (1/4)^0.5 = 0.5, inside [1/1.5, 1.5] → clipped to 1/1.5.
    assert bid_step(3.0, 1.0, 4.0, won=True, cap=10.0) == pytest.approx(2.0)
    # cost per order 0.81 against 0.9: (0.9/0.81)^0.5 = 1.054…
    assert bid_step(1.0, 0.9, 0.81, won=True, cap=10.0) == pytest.approx((0.9 / 0.81) ** 0.5)
    assert bid_step(1.0, 1.0, None, won=False, cap=10.0) == pytest.approx(1.5)  # no slot: bid up
    assert bid_step(9.0, 1.0, 0.1, won=True, cap=10.0) == 10.0  # never above the cap


# ----------------------------------------------------------------------------- outcomes
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    rows = [{"event_id": f"m{i}", **r} for i, r in enumerate(rows)]
    return pa.table({f.name: [r.get(f.name) for r in rows] for f in SCHEMA}, schema=SCHEMA)


def _d(n: int, h: int = 12) -> dt.datetime:
    return T0 + dt.timedelta(days=n, hours=h)


def _outcome_rows() -> list[dict[str, Any]]:
    d = _d
    return [
        dict(ts=d(0), kind="view", user_id=1, creator_id=50, content_id=1, watch_ms=60_000, duration_ms=60_000),
        # before the window: an order of brand 7, not counted in the window
        dict(ts=d(1), kind="order", user_id=2, creator_id=50, brand_id=7, product_id=70, order_id=1, amount=10.0),
        # in the window (days 2..3): fee 100 (creator gets 90), two campaign orders, one refunded
        dict(ts=d(2, 8), kind="spend", brand_id=7, campaign_id=9001, creator_id=50, amount=100.0),
        dict(ts=d(2, 9), kind="payout", creator_id=50, campaign_id=9001, amount=90.0),
        dict(ts=d(2), kind="order", user_id=3, creator_id=50, brand_id=7, product_id=70, order_id=2, amount=40.0,
             campaign_id=9001, surface="live"),
        dict(ts=d(3), kind="order", user_id=4, creator_id=50, brand_id=7, product_id=70, order_id=3, amount=60.0,
             campaign_id=9001, surface="live"),
        dict(ts=d(4), kind="refund", user_id=4, order_id=3, amount=60.0),
        # an organic order of brand 7 in the window, kept; and one of another brand
        dict(ts=d(3), kind="order", user_id=5, creator_id=51, brand_id=7, product_id=71, order_id=4, amount=25.0),
        dict(ts=d(3), kind="order", user_id=6, creator_id=51, brand_id=8, product_id=80, order_id=5, amount=5.0),
        dict(ts=d(2), kind="view", user_id=3, creator_id=50, content_id=1, watch_ms=120_000, duration_ms=120_000),
        dict(ts=d(5), kind="notice", creator_id=50),
    ]


def test_market_outcomes_known_answer(tmp_path, duck_con):
    rows = _outcome_rows()
    ws = Workspace.init(tmp_path / "ws")
    assert ws.append(_table(rows)).quarantined == 0
    spec = [CampaignSpec(9001, 7, 70, 500.0, start_day=2, days=2, target_cpa=30.0)]
    out = market_outcomes(ws, duck_con, spec, margin=0.5)
    assert (out["spend"], out["orders"], out["kept_orders"], out["kept_gmv"]) == (100.0, 2, 1, 40.0)
    assert out["cpa"] == 100.0 and out["surplus"] == pytest.approx(0.5 * 40.0 - 100.0)
    # brand 7 in days 2..3: orders 2 (kept), 3 (refunded), 4 (kept) → 2 kept, GMV 65
    assert (out["brand_kept_orders"], out["brand_kept_gmv"]) == (2, 65.0)
    assert out["platform_revenue"] == 10.0 and out["creator_fees"] == 90.0
    # window orders 2, 3, 4, 5: one refunded
    assert out["refund_rate"] == 0.25 and out["complaint_rate"] == 0.0
    # watch: the 2-minute view of day 2 over the window's user-days with an event: (3, day 2), (4, day 3),
    # (5, day 3), (6, day 3) — the refund of day 4 and the view of day 0 are outside the window
    assert out["watch_min_per_user_day"] == pytest.approx(2.0 / 4)
    # through creator 50: orders 2 and 3, order 3 refunded
    assert out["per_campaign_creator"] == [{"campaign_id": 9001, "creator_id": 50, "orders": 2, "kept_orders": 1}]


@pytest.mark.spark
def test_market_outcomes_duckdb_equals_spark(tmp_path, duck_con, spark_con):
    ws = Workspace.init(tmp_path / "ws", timezone="Asia/Shanghai")
    assert ws.append(_table(_outcome_rows())).quarantined == 0
    spec = [CampaignSpec(9001, 7, 70, 500.0, start_day=2, days=2, target_cpa=30.0)]
    duck = market_outcomes(ws, duck_con, spec, margin=0.5)
    spark = market_outcomes(ws, spark_con, spec, margin=0.5)
    assert duck["per_campaign"] == spark["per_campaign"]
    assert duck["per_campaign_creator"] == spark["per_campaign_creator"]
    for k, v in duck.items():
        if k not in ("per_campaign", "per_campaign_creator"):
            assert spark[k] == (pytest.approx(v, rel=1e-9) if v is not None else None), k


def test_market_outcomes_cut_days_in_the_workspace_time_zone(tmp_path, duck_con):
    """An order at 17:00 UTC the day before the window is 01:00 of the window's first day in Shanghai
    (UTC+8): it counts there, not in a UTC workspace."""
    rows = [*_outcome_rows(), dict(ts=_d(1, 17), kind="order", user_id=9, creator_id=51, brand_id=7, product_id=71,
                                   order_id=9, amount=5.0)]
    spec = [CampaignSpec(9001, 7, 70, 500.0, start_day=2, days=2, target_cpa=30.0)]
    got = {}
    for tz in ("UTC", "Asia/Shanghai"):
        ws = Workspace.init(tmp_path / tz.replace("/", "_"), timezone=tz)
        assert ws.append(_table(rows)).quarantined == 0
        got[tz] = market_outcomes(ws, duck_con, spec, margin=0.5)["brand_kept_orders"]
    assert got == {"UTC": 2, "Asia/Shanghai": 3}


# ----------------------------------------------------------------------------- the experiment
@pytest.fixture(scope="module")
def small_experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("market")
    res = market_experiment(root, "small", seed=4, days=24, n_brands=3)
    return root, res


def test_experiment_runs_share_the_history_before_the_campaigns(small_experiment):
    root, res = small_experiment
    start = res["start_day"]
    logs = {}
    for name in ("none", "trust_routing", "auction"):
        t = Workspace.open(root / name).events_arrow()
        first = pc.min(t["ts"]).as_py().replace(hour=0, minute=0, second=0, microsecond=0)
        t = t.filter(pc.less(t["ts"], pa.scalar(first + dt.timedelta(days=start), t["ts"].type)))
        logs[name] = t.select(SCHEMA.names).sort_by("event_id")
    assert logs["none"].num_rows > 1000
    assert logs["trust_routing"].equals(logs["none"]) and logs["auction"].equals(logs["none"])


def test_experiment_money_adds_up_and_budgets_hold(small_experiment):
    root, res = small_experiment
    budgets = {c["campaign_id"]: c["budget"] for c in res["campaigns"]}
    assert len(budgets) == 3
    for name in ("trust_routing", "auction"):
        run = res["runs"][name]
        assert run["platform_revenue"] + run["creator_fees"] == pytest.approx(run["spend"])
        for c in run["per_campaign"]:
            assert c["spend"] <= budgets[c["campaign_id"]] + 1e-6
    tr = res["runs"]["trust_routing"]
    plan_cost = sum(r["cost"] for r in res["trust_routing_creators"])
    assert tr["spend"] == pytest.approx(plan_cost, abs=0.01 * len(res["trust_routing_creators"]))
    assert tr["platform_revenue"] == pytest.approx(0.1 * tr["spend"], abs=0.05)
    au = res["runs"]["auction"]
    assert au["creator_fees"] == 0.0 and au["platform_revenue"] == au["spend"]
    none = res["runs"]["none"]
    assert none["spend"] == 0 and none["orders"] == 0
    # the comparison is the runs' difference
    inc = res["compare"]["auction"]["incremental_kept_orders"]
    assert inc == res["runs"]["auction"]["brand_kept_orders"] - none["brand_kept_orders"]


def test_experiment_reports_each_plan_beside_what_it_delivered(small_experiment):
    """Trust routing's plans (totals and per-creator intervals) are reported, and what each chosen
    creator delivered is read from the log by the campaign KPI's rule."""
    root, res = small_experiment
    rows, plans = res["trust_routing_creators"], res["trust_routing_plans"]
    assert sorted(p["campaign_id"] for p in plans) == sorted(c["campaign_id"] for c in res["campaigns"])
    for p in plans:
        mine = [r for r in rows if r["campaign_id"] == p["campaign_id"]]
        assert p["creators"] == len(mine)
        assert p["cost"] == pytest.approx(sum(r["cost"] for r in mine))
        assert p["low"] <= p["expected_kept"] <= p["high"] and p["interval"] == 0.9
    assert all(r["low"] <= r["expected_kept"] <= r["high"] for r in rows)
    per = res["runs"]["trust_routing"]["per_campaign_creator"]
    chosen = {(r["campaign_id"], r["creator_id"]) for r in rows}
    assert {(r["campaign_id"], r["creator_id"]) for r in per} <= chosen  # only chosen creators sell it
    by_campaign = {r["campaign_id"]: r["kept_orders"] for r in res["runs"]["trust_routing"]["per_campaign"]}
    for cid in {r["campaign_id"] for r in per}:
        assert sum(r["kept_orders"] for r in per if r["campaign_id"] == cid) == by_campaign[cid]


def test_plan_outcomes_known_answer():
    """Forecast beside delivered: campaign 1's plan (2 creators, range 3–9) delivered 10 — outside;
    campaign 2 (range 0–4) delivered 2 — inside; campaign 3 chose nobody — left out. Per creator:
    creator 7 (range 1–5) delivered 6, creator 8 (range 0–4) nothing (no row) → 0, inside."""
    res = {
        "runs": {"trust_routing": {
            "per_campaign": [{"campaign_id": 1, "kept_orders": 10}, {"campaign_id": 2, "kept_orders": 2}],
            "per_campaign_creator": [{"campaign_id": 1, "creator_id": 7, "orders": 7, "kept_orders": 6}],
        }},
        "trust_routing_plans": [
            {"campaign_id": 1, "creators": 2, "expected_kept": 6.0, "low": 3.0, "high": 9.0, "interval": 0.9},
            {"campaign_id": 2, "creators": 1, "expected_kept": 1.5, "low": 0.0, "high": 4.0, "interval": 0.9},
            {"campaign_id": 3, "creators": 0, "expected_kept": 0.0, "low": 0.0, "high": 0.0, "interval": 0.9},
        ],
        "trust_routing_creators": [
            {"campaign_id": 1, "creator_id": 7, "expected_kept": 3.0, "low": 1.0, "high": 5.0},
            {"campaign_id": 1, "creator_id": 8, "expected_kept": 3.0, "low": 0.0, "high": 4.0},
        ],
    }
    camp = plan_outcomes(res)
    assert [(c["campaign_id"], c["delivered"], c["inside"]) for c in camp] == [(1, 10, False), (2, 2, True)]
    rows = plan_outcomes(res, by="creator")
    assert [(r["creator_id"], r["delivered"], r["inside"]) for r in rows] == [(7, 6, False), (8, 0, True)]
    assert plan_outcomes({"runs": {"none": {}}}) == []
    with pytest.raises(ValueError, match="by must be"):
        plan_outcomes(res, by="brand")


def test_auction_quality_is_the_planners_user_fit(small_experiment):
    """The bidders' targeting score is the planner's fit(u) (one definition), for users with and
    without shopping history and for unknown users."""
    from trustecon.marketing.market import AdAuction
    from trustecon.marketing.planner import shopping_interest, user_fit

    root, res = small_experiment
    ws = Workspace.open(root / "none")
    specs = [CampaignSpec(**c) for c in res["campaigns"]]
    au = AdAuction(ws, specs)
    au._learn()
    ev = ws.events_arrow().to_pandas()
    inter, pb = shopping_interest(ev)
    brands = {int(b) for b in ev["brand_id"].dropna().unique()}
    users = np.arange(1, 1_600)
    q = au.quality(users, list(range(len(specs))))
    for j, c in enumerate(specs):
        fit, pi = user_fit(inter, c.brand_id, (), len(brands), au.fit_strength)
        want = np.array([fit.get(u, pi) for u in users])
        assert q[:, j] == pytest.approx(want, rel=1e-12)
    assert au.quality(np.array([10**9]), [0])[0, 0] == pytest.approx(au.pi_[0])


def test_experiment_refuses_a_window_that_does_not_fit(tmp_path):
    with pytest.raises(ValueError, match="does not fit in"):
        market_experiment(tmp_path, "small", days=14)
    with pytest.raises(ValueError, match="'none' comes first"):
        market_experiment(tmp_path, "small", days=30, mechanisms=("auction",))


def test_cli_experiment_market_refuses_bad_engine_and_used_folder(tmp_path):
    from typer.testing import CliRunner

    from trustecon.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["experiment", "market", str(tmp_path / "new"), "--engine", "nope"])
    assert res.exit_code == 2 and "unknown engine 'nope'" in res.output
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    res = runner.invoke(app, ["experiment", "market", str(tmp_path / "used"), "--preset", "small"])
    assert res.exit_code == 2 and "exists and is not empty" in " ".join(res.output.split())
    res = runner.invoke(app, ["experiment", "market", str(tmp_path / "short"), "--preset", "small"])
    assert res.exit_code == 2 and "does not fit in" in " ".join(res.output.split()) and "Traceback" not in res.output
