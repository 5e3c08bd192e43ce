"""The planner learning from delivered campaigns (``CampaignPlanner(past_delivery=...)``): the
Gamma–Poisson delivery factor by hand, what it does to every forecast and to the brand's CPA ceiling,
and the record taken from market-experiment results."""

from __future__ import annotations

import dataclasses

import pytest

from trustecon.marketing import delivery_record
from trustecon.marketing.planner import Campaign, CampaignPlanner, PlanError
from trustecon.simulate import preset, simulate
from trustecon.store import Workspace


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    from trustecon.trust import build

    ws = Workspace.init(tmp_path_factory.mktemp("delivery") / "ws")
    simulate(ws, dataclasses.replace(preset("small"), days=10), calibrate=False)
    build(ws)
    return (ws.events_arrow(), ws.read_table("pair_trust"), ws.read_table("creator_credibility"),
            ws.read_table("seller_reliability"))


def test_delivery_factor_known_answer_scales_every_forecast(tables):
    """Past plans forecast 90 kept orders and delivered 45; with κ = 10 the factor is the posterior
    mean (10 + 45) / (10 + 90) = 0.55, and every creator's expected orders and kept orders are 0.55 of
    the planner's without a record (same model, same creators)."""
    base = CampaignPlanner(n_draws=400).fit(*tables)
    learnt = CampaignPlanner(n_draws=400, past_delivery=(90.0, 45.0), delivery_strength=10.0).fit(*tables)
    assert base.delivery_factor_ == 1.0
    assert learnt.delivery_factor_ == pytest.approx(0.55)
    brand = max(base.brands_)
    c = Campaign(brand_id=brand, budget=1e6, days=7)  # every eligible creator is chosen
    a, b = base.plan(c), learnt.plan(c)
    rows_a = {r.creator_id: r for r in a.chosen + a.excluded}
    rows_b = {r.creator_id: r for r in b.chosen + b.excluded}
    assert rows_a.keys() == rows_b.keys() and a.chosen
    for cid, ra in rows_a.items():
        assert rows_b[cid].expected_orders == pytest.approx(0.55 * ra.expected_orders)
        assert rows_b[cid].expected_kept == pytest.approx(0.55 * ra.expected_kept)
    assert b.expected_kept == pytest.approx(0.55 * a.expected_kept)
    # The interval moves down with the forecast (draws carry a drawn factor, mean 0.55).
    assert b.high < a.high and b.low <= a.low
    assert b.low <= b.expected_kept <= b.high


def test_delivery_factor_is_held_against_the_brands_cpa_ceiling(tables):
    """A creator whose forecast cost per kept order is just under the brand's ceiling without a record
    is over it once the record says plans deliver half: excluded, with the reason."""
    base = CampaignPlanner(n_draws=200).fit(*tables)
    brand = max(base.brands_)
    open_plan = base.plan(Campaign(brand_id=brand, budget=1e6, days=7))
    best = min(open_plan.chosen, key=lambda r: r.cost / r.expected_kept)
    ceiling = 1.2 * best.cost / best.expected_kept
    c = Campaign(brand_id=brand, budget=1e6, days=7, max_cpa=ceiling)
    assert best.creator_id in {r.creator_id for r in base.plan(c).chosen}
    half = CampaignPlanner(n_draws=200, past_delivery=(1e6, 5e5)).fit(*tables)  # θ̂ ≈ 0.5
    row = next(r for r in half.plan(c).excluded if r.creator_id == best.creator_id)
    assert "max_cpa" in (row.excluded or "")


def test_a_large_record_that_matches_changes_nothing(tables):
    base = CampaignPlanner(n_draws=300).fit(*tables)
    same = CampaignPlanner(n_draws=300, past_delivery=(1e9, 1e9)).fit(*tables)
    brand = max(base.brands_)
    c = Campaign(brand_id=brand, budget=500.0, days=7)
    a, b = base.plan(c), same.plan(c)
    assert [r.creator_id for r in a.chosen] == [r.creator_id for r in b.chosen]
    assert b.expected_kept == pytest.approx(a.expected_kept, rel=1e-6)


@pytest.mark.parametrize("bad", [(-1.0, 2.0), (1.0, float("nan")), ("x", 1.0), (1.0,)])
def test_bad_records_are_refused(tables, bad):
    with pytest.raises(PlanError, match="past_delivery"):
        CampaignPlanner(past_delivery=bad).fit(*tables)
    with pytest.raises(PlanError, match="delivery_strength"):
        CampaignPlanner(delivery_strength=0.0).fit(*tables)


def test_delivery_record_sums_plans_that_chose_a_creator():
    """Two results: plans with creators count (forecast 3.5 + 2.0 + 4.0, delivered 2 + 0 + 5); an empty
    plan (no creator) and a result without trust routing count nothing."""
    def res(plans, kept):
        return {"trust_routing_plans": plans,
                "runs": {"trust_routing": {"per_campaign": [{"campaign_id": k, "kept_orders": v}
                                                            for k, v in kept.items()]}}}

    def plan(cid, n, exp):
        return {"campaign_id": cid, "creators": n, "expected_kept": exp, "low": 0.0, "high": 9.0}

    r1 = res([plan(1, 2, 3.5), plan(2, 0, 0.0), plan(3, 1, 2.0)], {1: 2, 2: 7})
    r2 = res([plan(4, 1, 4.0)], {4: 5})
    assert delivery_record([r1, r2, {"runs": {}}]) == (9.5, 7.0)
    assert delivery_record([]) == (0.0, 0.0)
