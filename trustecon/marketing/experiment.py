"""The market experiment (DESIGN.md §8): trust routing and the ad auction run on the same simulated
market, with a no-campaign run of the same world as the counterfactual.

Protocol (:func:`market_experiment`): simulate the preset with one seed three times — ``none`` (no
campaigns), ``trust_routing`` and ``auction`` (:mod:`trustecon.marketing.market`) — each into its own
workspace. The three worlds are identical until the first campaign day (tested), so the campaigns
are chosen from that common history (:func:`choose_campaigns`): every brand that sold before ``start_day`` (the whole
market competes, so the auction's prices are set by all of them), or the ``n_brands`` with the most
orders, each selling its best-selling product, each with a budget of
``budget_share`` × its pre-campaign GMV scaled to the campaign's length and a target cost per order
of ``target_share`` × its pre-campaign average order value (the same budget and target under both
mechanisms). The campaigns run from
``start_day`` for ``campaign_days`` days and end early enough for every campaign order's outcome
(refund within 10 days, settlement after ``settle_days``) to be in the log.

Outcomes (:func:`market_outcomes`, every number from the event log by the KPI code where one
exists — :func:`trustecon.kpis.campaign_metrics`, :func:`trustecon.kpis.fan_content_reach`):

- brands: spend; attributed orders and kept orders (orders carrying the campaign id, not refunded);
  cost per kept order (CPA); **incremental** kept orders = the campaign brands' kept orders in the
  campaign window minus the same in the ``none`` run (what the campaign added, cannibalised sales
  netted out; it carries the run-to-run noise of two diverging worlds, so read it over seeds);
  brand surplus = ``margin`` × kept GMV − spend, attributed and incremental (``margin``: the brand's
  gross margin on a sale, a stated assumption).
- platform: revenue = what brands paid that did not go to creators (ad clicks; ``take`` of fees).
- creators: campaign fees received.
- users (campaign window, all users): short-video watch minutes per active user-day, fan content
  reach of content published in the window, refund and complaint rates of all orders, and the mean
  latent trust of every met pair at the end (``truth/latent_trust``: the simulator's truth, read
  only to report user outcomes, never by a mechanism).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np

from trustecon.marketing.market import AdAuction, CampaignSpec, TrustRouting, plans_frame

__all__ = [
    "MECHANISMS",
    "campaign_creator_orders",
    "choose_campaigns",
    "delivery_record",
    "market_experiment",
    "market_outcomes",
    "plan_outcomes",
]

#: The runs of the experiment, in order (``none`` is the counterfactual).
MECHANISMS = ("none", "trust_routing", "auction")

#: Days after an order by which its outcome is in the log: refunds come 2–10 days after the order.
OUTCOME_DAYS = 10

#: First campaign id of the experiment (kept apart from any other campaign of a workspace).
FIRST_CAMPAIGN_ID = 9001


def choose_campaigns(ws: Any, con: Any, *, start_day: int, campaign_days: int, n_brands: int | None,
                     budget_share: float, target_share: float) -> list[CampaignSpec]:
    """The experiment's campaigns from the log before ``start_day`` (module docstring)."""
    if n_brands is not None and n_brands < 1:
        raise ValueError(f"n_brands {n_brands}: at least one brand (or None: every brand that sold)")
    e = ws.events(con)
    cut = day_start(ws, e, start_day)
    o = e.filter((e.kind == "order") & (e.ts < cut) & e.brand_id.notnull() & e.order_id.notnull())
    by_brand = (o.group_by("brand_id").aggregate(orders=o.order_id.nunique(), gmv=o.amount.sum(),
                                                 aov=o.amount.sum() / o.order_id.nunique())
                .order_by([ibis.desc("orders"), "brand_id"]).limit(n_brands).to_pyarrow().to_pylist())
    if not by_brand:
        raise ValueError(f"{ws.path}: no orders before day {start_day}: no brand to run a campaign for")
    # Each brand's best-selling product (ties: the lower id), in one pass.
    per = o.group_by(["brand_id", "product_id"]).aggregate(n=o.order_id.nunique())
    best = per.mutate(r=ibis.row_number().over(group_by=per.brand_id, order_by=[ibis.desc(per.n), per.product_id]))
    top = {r["brand_id"]: r["product_id"] for r in best.filter(best.r == 0).to_pyarrow().to_pylist()}
    out = []
    for i, b in enumerate(by_brand):
        budget = round(budget_share * float(b["gmv"]) * campaign_days / start_day, 2)
        out.append(CampaignSpec(FIRST_CAMPAIGN_ID + i, int(b["brand_id"]), int(top[b["brand_id"]]), budget,
                                start_day, campaign_days, round(target_share * float(b["aov"]), 2)))
    return out


def day_start(ws: Any, events: Any, n: int) -> dt.datetime:
    """Midnight, in the workspace's time zone, of the ``n``-th day after the log's first day (the
    simulator's day ``n``), as a UTC instant."""
    first = events.ts.min().to_pyarrow().as_py().astimezone(ZoneInfo(ws.timezone)).date() + dt.timedelta(days=n)
    return dt.datetime(first.year, first.month, first.day, tzinfo=ZoneInfo(ws.timezone)).astimezone(dt.UTC)


def market_outcomes(ws: Any, con: Any, campaigns: list[CampaignSpec], *, margin: float) -> dict[str, Any]:
    """The experiment's numbers for one workspace (module docstring), before the comparison with ``none``."""
    from trustecon.kpis import campaign_metrics, fan_content_reach, period_label

    e = ws.events(con)
    tz = ws.timezone
    start, days = campaigns[0].start_day, campaigns[0].days
    lo, hi = day_start(ws, e, start), day_start(ws, e, start + days)
    ids = [c.campaign_id for c in campaigns]
    brands = [c.brand_id for c in campaigns]

    cm = campaign_metrics(e, timezone=tz).to_pyarrow().to_pylist()
    cm = [r for r in cm if r["campaign_id"] in ids]
    by_creator = campaign_creator_orders(e, ids).to_pyarrow().to_pylist()
    spend = sum(r["spend"] for r in cm)
    kept_attr = sum(r["kept_orders"] for r in cm)
    gmv_attr = sum(r["kept_gmv"] for r in cm)
    orders_attr = sum(r["orders"] for r in cm)

    win = e.filter((e.ts >= lo) & (e.ts < hi))
    refunded = e.filter((e.kind == "refund") & e.order_id.notnull()).select(r_order="order_id").distinct()
    bo = win.filter((win.kind == "order") & win.brand_id.isin(brands))
    bo = bo.left_join(refunded, bo.order_id == refunded.r_order).select(bo, kept=refunded.r_order.isnull())
    bk = bo.filter(bo.kept).aggregate(kept=bo.order_id.nunique(), gmv=bo.amount.sum()).to_pyarrow().to_pylist()[0]

    po = win.filter(win.kind == "order")
    po = po.left_join(refunded, po.order_id == refunded.r_order).select(po, refund=refunded.r_order.notnull())
    comp = e.filter(e.kind == "complaint").select(c_order="order_id").distinct()
    po = po.left_join(comp, po.order_id == comp.c_order).select(po, complaint=comp.c_order.notnull())
    agg = po.aggregate(n=po.order_id.nunique(),
                       r=ibis.ifelse(po.refund, po.order_id, ibis.null("int64")).nunique(),
                       c=ibis.ifelse(po.complaint, po.order_id, ibis.null("int64")).nunique())
    agg = agg.to_pyarrow().to_pylist()[0]

    pay = e.filter((e.kind == "payout") & e.campaign_id.isin(ids)).amount.sum().to_pyarrow().as_py() or 0.0
    views = win.filter(win.kind == "view")
    watch_min = (views.watch_ms.sum().to_pyarrow().as_py() or 0) / 60_000
    act = win.filter(win.user_id.notnull()).mutate(d=period_label(win.ts, tz, "day"))
    user_days = act.select("user_id", "d").distinct().count().to_pyarrow().as_py() or 1

    fr = fan_content_reach(e, timezone=tz, period="day").to_pyarrow().to_pylist()
    zone = ZoneInfo(tz)
    lo_d, hi_d = lo.astimezone(zone).date().isoformat(), hi.astimezone(zone).date().isoformat()
    frw = [r for r in fr if lo_d <= r["period"] < hi_d]
    pairs, reached = sum(r["pairs"] for r in frw), sum(r["reached"] for r in frw)
    trust = None
    if ws.has_table("latent_trust", area="truth"):
        lt = ws.read_table("latent_trust", area="truth")
        trust = float(np.mean(lt["trust"].to_numpy())) if lt.num_rows else None
    return {
        "spend": spend,
        "orders": orders_attr,
        "kept_orders": kept_attr,
        "kept_gmv": gmv_attr,
        "cpa": spend / kept_attr if kept_attr else None,
        "surplus": margin * gmv_attr - spend,
        "brand_kept_orders": int(bk["kept"] or 0),
        "brand_kept_gmv": float(bk["gmv"] or 0.0),
        "platform_revenue": spend - pay,
        "creator_fees": pay,
        "watch_min_per_user_day": watch_min / user_days,
        "fan_reach": reached / pairs if pairs else None,
        "refund_rate": agg["r"] / agg["n"] if agg["n"] else None,
        "complaint_rate": agg["c"] / agg["n"] if agg["n"] else None,
        "latent_trust_mean": trust,
        "per_campaign": cm,
        "per_campaign_creator": by_creator,
    }


def campaign_creator_orders(events: ibis.Table, campaign_ids: list[int]) -> ibis.Table:
    """Orders and kept orders per (campaign_id, creator_id) of the given campaigns, by the rule of
    :func:`trustecon.kpis.campaign_metrics` (an order line carrying the campaign id; kept = no refund
    anywhere in the log). Lines without a creator (ad orders) are left out. What a sponsorship
    delivered through each creator, beside what the planner forecast for it."""
    from trustecon.kpis.campaign import campaign_order_lines

    j = campaign_order_lines(events)
    j = j.filter(j.campaign_id.isin(campaign_ids) & j.creator_id.notnull())
    out = j.group_by(["campaign_id", "creator_id"]).aggregate(
        orders=j.order_id.nunique(),
        kept_orders=ibis.ifelse(j.kept, j.order_id, ibis.null("int64")).nunique(),
    )
    return out.order_by(["campaign_id", "creator_id"])


def plan_outcomes(res: dict[str, Any], *, by: str = "campaign") -> list[dict[str, Any]]:
    """Trust routing's forecasts beside what was delivered, from a :func:`market_experiment` result:
    one row per campaign whose plan chose a creator (``by="campaign"``) or per chosen (campaign,
    creator) (``by="creator"``), with ``expected_kept``, the plan's ``low``–``high`` interval, the
    ``delivered`` kept orders (the campaign KPI's rule) and whether the interval held them (``inside``).
    Empty when the result has no trust-routing run."""
    if by not in ("campaign", "creator"):
        raise ValueError(f"by must be 'campaign' or 'creator', not {by!r}")
    run = res.get("runs", {}).get("trust_routing")
    if run is None:
        return []
    if by == "campaign":
        kept = {c["campaign_id"]: c["kept_orders"] for c in run["per_campaign"]}
        rows = [dict(p, delivered=kept.get(p["campaign_id"], 0)) for p in res["trust_routing_plans"] if p["creators"]]
    else:
        kept = {(c["campaign_id"], c["creator_id"]): c["kept_orders"] for c in run["per_campaign_creator"]}
        rows = [dict(r, delivered=kept.get((r["campaign_id"], r["creator_id"]), 0))
                for r in res["trust_routing_creators"]]
    return [dict(r, inside=bool(r["low"] <= r["delivered"] <= r["high"])) for r in rows]


def delivery_record(results: Any) -> tuple[float, float]:
    """``(forecast, delivered)`` kept orders of every trust-routing plan that chose a creator, summed
    over :func:`market_experiment` results: the record a platform keeps of how its plans fared, which
    :class:`~trustecon.marketing.planner.CampaignPlanner`'s ``past_delivery`` learns from."""
    forecast = delivered = 0.0
    for res in results:
        for row in plan_outcomes(res):
            forecast += float(row["expected_kept"])
            delivered += float(row["delivered"])
    return forecast, delivered


def market_experiment(
    root: Path,
    preset_name: str = "default",
    *,
    seed: int = 0,
    days: int | None = None,
    start_day: int | None = None,
    campaign_days: int | None = None,
    n_brands: int | None = None,
    budget_share: float = 0.2,
    target_share: float = 0.3,
    margin: float = 0.4,
    take: float = 0.1,
    pin_every: int = 3,
    mechanisms: tuple[str, ...] = MECHANISMS,
    daily_streams: bool = True,
    planner_params: dict[str, Any] | None = None,
    auction_params: dict[str, Any] | None = None,
    engine: str = "duckdb",
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the market experiment into ``root/<mechanism>`` and compare (module docstring).

    ``start_day`` defaults to half the log; ``campaign_days`` to what leaves ``max(settle_days,
    OUTCOME_DAYS)`` days for outcomes. ``daily_streams`` (on by default): common random numbers across
    the three runs (:attr:`~trustecon.simulate.config.SimConfig.daily_streams`), so that what differs
    between them is the mechanism and not the drift of one random stream. Returns the campaigns, each
    run's outcomes, each mechanism's differences from ``none`` and the assumptions."""
    from trustecon.engine import connect
    from trustecon.simulate.config import preset
    from trustecon.simulate.run import simulate
    from trustecon.store import Workspace

    if "none" not in mechanisms or mechanisms[0] != "none":
        raise ValueError("mechanisms: 'none' comes first (the counterfactual the others are compared with)")
    unknown = set(mechanisms) - set(MECHANISMS)
    if unknown:
        raise ValueError(f"unknown mechanism(s) {sorted(unknown)}; choose from {', '.join(MECHANISMS)}")
    cfg = preset(preset_name)
    days_: dict[str, Any] = {"days": days} if days is not None else {}
    cfg = dataclasses.replace(cfg, seed=seed, daily_streams=daily_streams, **days_)
    start = start_day if start_day is not None else cfg.days // 2
    tail = max(cfg.settle_days, OUTCOME_DAYS)
    length = campaign_days if campaign_days is not None else cfg.days - tail - start
    if start < 1 or length < 1 or start + length + tail > cfg.days:
        # Say which setting to change: the shortest log that fits, given what was fixed.
        need = (start if start_day is not None else 1) + max(length if campaign_days is not None else 1, 1) + tail
        if start_day is None:
            need = max(need, 2 * (max(length, 1) + tail))  # start_day defaults to half the log
        raise ValueError(
            f"the market experiment does not fit in {cfg.days} days: start_day {start}"
            f"{'' if start_day is not None else ' (half the log)'} + campaign_days {length}"
            f"{'' if campaign_days is not None else ' (what is left)'} + {tail} days for the orders' outcomes; "
            f"each of start_day and campaign_days must be ≥ 1. Simulate at least {need} days (--days {need}) "
            "or set --start-day / --campaign-days")
    root = Path(root)
    runs: dict[str, dict[str, Any]] = {}
    campaigns: list[CampaignSpec] = []
    extra: dict[str, Any] = {}
    for name in mechanisms:
        ws = Workspace.init(root / name)
        t = time.perf_counter()
        market: Any = None
        if name == "trust_routing":
            market = TrustRouting(ws, campaigns, planner_params=planner_params, pin_every=pin_every, take=take,
                                  engine=engine)
        elif name == "auction":
            market = AdAuction(ws, campaigns, **(auction_params or {}))
        simulate(ws, cfg, market=market, calibrate=False)
        con = connect(engine)
        if name == "none":
            campaigns = choose_campaigns(ws, con, start_day=start, campaign_days=length, n_brands=n_brands,
                                         budget_share=budget_share, target_share=target_share)
        runs[name] = market_outcomes(ws, con, campaigns, margin=margin)
        runs[name]["seconds"] = round(time.perf_counter() - t, 1)
        if isinstance(market, TrustRouting):
            extra["trust_routing_creators"] = plans_frame(market.plans_).to_dict("records")
            extra["trust_routing_plans"] = [
                {"campaign_id": k, "creators": len(p.chosen), "cost": p.cost, "expected_kept": p.expected_kept,
                 "low": p.low, "high": p.high, "interval": p.interval}
                for k, p in sorted(market.plans_.items())
            ]
            extra["trust_routing_seconds"] = {k: round(v, 2) for k, v in market.seconds_.items()}
        if isinstance(market, AdAuction) and hasattr(market, "history_"):
            extra["auction_bids"] = market.history_
        if progress is not None:
            progress(name, runs[name])
    base = runs["none"]
    compare = {}
    for name in mechanisms[1:]:
        r = runs[name]
        inc = r["brand_kept_orders"] - base["brand_kept_orders"]
        inc_gmv = r["brand_kept_gmv"] - base["brand_kept_gmv"]
        compare[name] = {
            "incremental_kept_orders": inc,
            "incremental_cpa": r["spend"] / inc if inc > 0 else None,
            "incremental_surplus": margin * inc_gmv - r["spend"],
            **{f"delta_{k}": (r[k] - base[k]) if r[k] is not None and base[k] is not None else None
               for k in ("watch_min_per_user_day", "fan_reach", "refund_rate", "complaint_rate", "latent_trust_mean")},
        }
    return {
        "preset": preset_name, "seed": seed, "days": cfg.days, "start_day": start, "campaign_days": length,
        "campaigns": [dataclasses.asdict(c) for c in campaigns],
        "runs": runs, "compare": compare, **extra,
        "assumptions": [
            f"budgets: {budget_share:g} × each brand's GMV before day {start}, scaled to {length} campaign days; "
            f"target cost per order {target_share:g} × its average order value (planner: max expected cost per "
            "kept order; bidder: target per order)",
            f"brand surplus: margin {margin:g} × kept GMV − spend",
            f"trust routing: the planner's fee (CPM {(planner_params or {}).get('cpm', 500.0):g} per 1,000 units of "
            f"trusted audience) paid up front; the platform keeps {take:g}; the creator pins the product every "
            f"{pin_every} pins in its live rooms",
            "auction: one ad slot per active user and campaign day, taken from the organic feed; one-slot GSP per "
            "impression; even budget pacing",
            "ads: the user meets the brand at their trust propensity; refunds without a creator's overselling; no "
            "repurchase cycle for ad orders",
            "incremental numbers compare with the no-campaign run of the same seed"
            + (" (daily random streams shared by the runs)" if daily_streams else "")
            + ": the worlds still diverge after the first campaign day, so one seed's increments carry that noise",
        ],
    }
