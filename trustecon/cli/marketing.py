"""Brand-campaign commands (DESIGN.md §8): ``trustecon plan WS --brand B --budget X`` (the planner) and
``trustecon experiment market ROOT`` (both mechanisms on the same simulated market); thin layers over
:mod:`trustecon.marketing`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from trustecon.cli._app import (
    EngineOpt,
    JsonOpt,
    app,
    check_engine,
    console,
    experiment_app,
    fail,
    new_folder,
    open_workspace,
    print_json,
    rows_view,
)

__all__: list[str] = []


def _num(x: float | None, fmt: str = "{:,.2f}") -> str:
    return "—" if x is None else fmt.format(x)


@app.command()
def plan(
    workspace: Path = typer.Argument(..., help="A built workspace (run `trustecon build` first)."),
    brand: int = typer.Option(..., "--brand", help="The brand's id."),
    budget: float = typer.Option(..., "--budget", help="Budget, in the workspace's currency (> 0)."),
    product: list[int] = typer.Option([], "--product", help="A product of the brand (repeatable; default all)."),
    days: float | None = typer.Option(None, "--days", help="Campaign length in days (default: the log's span)."),
    max_cpa: float | None = typer.Option(None, "--max-cpa", help="Skip creators whose expected cost per kept "
                                         "order is above this."),
    cpm: float = typer.Option(500.0, "--cpm", help="Creator fee per 1,000 units of trusted audience."),
    conversion: str = typer.Option("pins", "--conversion", help="Forecast: pins (what a live-room pin sponsorship "
                                   "sells), brand (the creator's history with the brand), carrier or creator."),
    pin_every: int = typer.Option(3, "--pin-every", help="With --conversion pins: the sponsor gets one pin in N."),
    min_credibility: float = typer.Option(0.1, "--min-credibility", help="Floor on the credibility percentile."),
    min_reliability: float = typer.Option(0.5, "--min-reliability", help="Floor on the kept-order share."),
    seed: int = typer.Option(0, "--seed", help="Seed of the uncertainty simulation."),
    past_delivery: str | None = typer.Option(
        None, "--past-delivery", metavar="FORECAST,DELIVERED",
        help="Kept orders your past plans forecast and delivered: every forecast is scaled by what they "
        "delivered (Gamma-Poisson; docs/evaluation/market.md round 4)."),
    compare: bool = typer.Option(
        False, "--compare", help="Also estimate a GSP-auction campaign for the same brand and budget (offline)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Choose trusted creators for a brand's campaign: expected kept orders, cost, CPA, 90% range."""
    import math

    from trustecon.marketing.planner import Campaign, PlanError, plan_workspace

    for name, floor in (("--min-credibility", min_credibility), ("--min-reliability", min_reliability)):
        # Both are shares (a percentile, a kept-order share): a floor outside [0, 1] excludes every
        # creator or none, silently.
        if not (math.isfinite(floor) and 0.0 <= floor <= 1.0):
            fail(f"{name} {floor}: must be between 0 and 1")
    record = None
    if past_delivery is not None:
        try:
            f_, d_ = (float(v) for v in past_delivery.split(","))
        except ValueError:
            fail(f"--past-delivery {past_delivery!r}: give two numbers, FORECAST,DELIVERED (e.g. 120.5,98)")
        record = (f_, d_)
    ws = open_workspace(workspace)
    try:
        campaign = Campaign(brand_id=brand, budget=budget, product_ids=tuple(product), days=days, max_cpa=max_cpa)
        p = plan_workspace(
            ws,
            campaign,
            cpm=cpm,
            conversion=conversion,
            pin_every=pin_every,
            min_credibility=min_credibility,
            min_reliability=min_reliability,
            random_state=seed,
            past_delivery=record,
        )
        cmp = None
        if compare:
            from trustecon.marketing.compare import compare_workspace

            params = {"cpm": cpm, "min_credibility": min_credibility, "min_reliability": min_reliability,
                      "conversion": conversion, "pin_every": pin_every}
            cmp = compare_workspace(ws, campaign, planner_params={**params, "random_state": seed})
    except PlanError as exc:
        fail(str(exc))
    if as_json:
        out = {"workspace": str(workspace), "currency": ws.currency, **p.as_dict()}
        if cmp is not None:
            out["comparison"] = cmp.as_dict()
        print_json(out)
        return
    pins = conversion == "pins"  # then the plan buys pin exposures and conversion is orders per exposure
    heads = [
        "creator",
        "pin exposures" if pins else "trusted reach",
        "orders/exposure" if pins else "conv.",
        "reliab.",
        "cred.",
        "exp. orders",
        "exp. kept",
        "cost",
        "CPA",
        f"{p.interval:.0%} range",
    ]
    rows = [
        [
            str(r.creator_id),
            _num(r.exposures if pins else r.reach),
            _num(r.conversion, "{:.4f}" if pins else "{:.3f}"),
            _num(r.reliability, "{:.2f}"),
            _num(r.credibility, "{:.2f}"),
            _num(r.expected_orders),
            _num(r.expected_kept),
            _num(r.cost),
            _num(r.cpa),
            f"{r.low:g}–{r.high:g}",
        ]
        for r in p.chosen
    ]
    rows.append(["total", "", "", "", "", _num(p.expected_orders), _num(p.expected_kept), _num(p.cost), _num(p.cpa),
                 f"{p.low:g}–{p.high:g}"])
    console.print(rows_view(
        [dict(zip(heads, r, strict=True)) for r in rows],
        console.width,
        title=f"campaign plan: brand {brand}, budget {budget:,.2f} {ws.currency} ({p.candidates} candidates)",
        right=heads,
        bold_last=True,
    ))
    over_budget = p.candidates - len(p.chosen) - len(p.excluded)
    if not p.chosen and over_budget > 0:
        console.print(f"no creator chosen: the {over_budget} eligible creators' fees exceed the budget "
                      f"(raise --budget, shorten --days or lower --cpm)")
    if p.excluded:
        console.print(f"excluded {len(p.excluded)}: " + _excluded(p.excluded))
    console.print(f"method: {p.method}")
    for a in p.assumptions:
        console.print(f"assumption: {a}")
    if cmp is not None:
        from trustecon.marketing.compare import LABEL

        vs = Table(title=f"planner vs auction, brand {brand}, budget {budget:,.2f} ({LABEL})")
        for col in ["mechanism", "orders", "kept orders", "spend", "CPA", "platform revenue (all brands)"]:
            vs.add_column(col, justify="right")
        for name, d in (("planner", cmp.planner), ("GSP auction", cmp.auction)):
            vs.add_row(
                name,
                _num(d["orders"]),
                _num(d["kept_orders"]),
                _num(d["spend"]),
                _num(d["cpa"]),
                _num(d["platform_revenue_all_brands"]),
            )
        console.print(vs)
        if "note" in cmp.auction:
            console.print(f"note: {cmp.auction['note']}")
        for a in cmp.assumptions[len(p.assumptions) :]:
            console.print(f"assumption: {a}")


@experiment_app.command("market")
def experiment_market(
    root: Path = typer.Argument(..., help="Folder to create; one sub-workspace per mechanism (none, "
                                "trust_routing, auction)."),
    preset: str = typer.Option("default", "--preset", help="Simulator preset: small, default or large."),
    seed: int = typer.Option(0, "--seed", help="One seed for every run."),
    days: int | None = typer.Option(None, "--days", help="Days to simulate (default: the preset's)."),
    start_day: int | None = typer.Option(None, "--start-day", help="First campaign day (default: half the log)."),
    campaign_days: int | None = typer.Option(None, "--campaign-days", help="Campaign length in days (default: "
                                             "what is left after the start and 10 days for the orders' outcomes)."),
    brands: int | None = typer.Option(None, "--brands", help="Campaigns: the N brands with the most orders before "
                                      "the start (default: every brand that sold)."),
    budget_share: float = typer.Option(0.2, "--budget-share", help="Budget = this × the brand's GMV before the "
                                       "start, scaled to the campaign's length."),
    target_share: float = typer.Option(0.3, "--target-share", help="Target cost per order = this × the brand's "
                                       "average order value."),
    margin: float = typer.Option(0.4, "--margin", help="Brand's gross margin on a kept sale (for the surplus)."),
    cpm: float = typer.Option(500.0, "--cpm", help="Creator fee per 1,000 units of trusted audience."),
    take: float = typer.Option(0.1, "--take", help="Platform's share of creator fees."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Trust routing vs a GSP ad auction on the same simulated market, with a no-campaign run as the
    counterfactual: brand outcomes, platform revenue, user outcomes."""
    from trustecon.marketing.experiment import market_experiment, plan_outcomes

    check_engine(engine)
    new_folder(root)

    def show(name: str, row: dict[str, Any]) -> None:
        if not as_json:
            console.print(f"{name}: simulated and measured in {row['seconds']} s")

    try:
        res = market_experiment(root, preset, seed=seed, days=days, start_day=start_day,
                                campaign_days=campaign_days, n_brands=brands,
                                budget_share=budget_share, target_share=target_share, margin=margin, take=take,
                                planner_params={"cpm": cpm}, engine=engine, progress=show)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json(res)
        return
    runs, cmp = res["runs"], res["compare"]
    t = Table(title=f"market experiment, preset {preset} (seed {seed}): {len(res['campaigns'])} campaigns, days "
                    f"{res['start_day']}–{res['start_day'] + res['campaign_days'] - 1}")
    t.add_column("metric")
    for name in runs:
        t.add_column(name, justify="right")
    rows = [("spend", "spend"), ("campaign orders", "orders"), ("campaign kept orders", "kept_orders"),
            ("cost per kept order", "cpa"), ("brand surplus (attributed)", "surplus"),
            ("brands' kept orders in window", "brand_kept_orders"), ("platform revenue", "platform_revenue"),
            ("creator fees", "creator_fees"), ("video min per active user-day", "watch_min_per_user_day"),
            ("fan content reach", "fan_reach"), ("refund rate", "refund_rate"), ("complaint rate", "complaint_rate"),
            ("mean latent trust (truth)", "latent_trust_mean")]
    for label, key in rows:
        t.add_row(label, *(_num(runs[n][key], "{:,.4g}") for n in runs))
    for label, key in (("incremental kept orders (vs none)", "incremental_kept_orders"),
                       ("incremental cost per kept order", "incremental_cpa"),
                       ("brand surplus (incremental)", "incremental_surplus")):
        t.add_row(label, "—", *(_num(cmp[n][key], "{:,.4g}") for n in cmp), style="bold")
    console.print(t)
    plans = plan_outcomes(res)
    if plans:
        console.print(
            f"trust routing's plans: {sum(p['expected_kept'] for p in plans):,.1f} kept orders forecast, "
            f"{sum(p['delivered'] for p in plans):,} delivered; {sum(p['inside'] for p in plans)} of {len(plans)} "
            f"campaigns inside their plan's {plans[0]['interval']:.0%} interval"
        )
    # A plan that chose nobody (its budget buys no eligible creator's fee) spends nothing: say so, or a
    # trust-routing column of zeros reads as a mechanism that failed.
    empty = [p["campaign_id"] for p in res.get("trust_routing_plans", []) if not p["creators"]]
    if empty:
        console.print(
            f"trust routing: {len(empty)} of {len(res['trust_routing_plans'])} campaigns' plans chose no creator "
            f"(campaigns {', '.join(map(str, empty))}: no eligible creator within the budget); they spent nothing"
        )
    for a in res["assumptions"]:
        console.print(f"assumption: {a}")


def _excluded(rows: Sequence[Any]) -> str:
    """Excluded creators grouped by reason ("no live-room pin exposures in the history: 1, 2, 3"), so
    a reason shared by many is said once; a reason that names a creator's own number (credibility
    0.05 < floor 0.10) stays with that creator."""
    by: dict[str, list[str]] = {}
    for r in rows:
        m = re.match(r"^(.*?) (-?[\d.,]+) ([<>].*)$", r.excluded)
        if m:  # "credibility 0.05 < floor 0.10" -> "credibility < floor 0.10: 17 (0.05)"
            by.setdefault(f"{m[1]} {m[3]}", []).append(f"{r.creator_id} ({m[2]})")
        else:
            by.setdefault(r.excluded, []).append(str(r.creator_id))
    return "; ".join(f"{why}: {', '.join(ids)}" for why, ids in by.items())
