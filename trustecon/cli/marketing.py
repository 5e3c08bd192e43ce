"""Brand-campaign commands: ``trustecon plan WS --brand B --budget X`` (the planner of DESIGN.md §8)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from trustecon.cli._app import JsonOpt, app, console, fail, open_workspace, print_json

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
    cpm: float = typer.Option(500.0, "--cpm", help="Creator fee per 1,000 units of trusted audience."),
    min_credibility: float = typer.Option(0.1, "--min-credibility", help="Floor on the credibility percentile."),
    min_reliability: float = typer.Option(0.5, "--min-reliability", help="Floor on the kept-order share."),
    seed: int = typer.Option(0, "--seed", help="Seed of the uncertainty simulation."),
    compare: bool = typer.Option(
        False, "--compare", help="Also estimate a GSP-auction campaign for the same brand and budget (offline)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Choose trusted creators for a brand's campaign: expected kept orders, cost, CPA, 90% range."""
    from trustecon.marketing.planner import Campaign, PlanError, plan_workspace

    ws = open_workspace(workspace)
    try:
        campaign = Campaign(brand_id=brand, budget=budget, product_ids=tuple(product), days=days)
        p = plan_workspace(
            ws,
            campaign,
            cpm=cpm,
            min_credibility=min_credibility,
            min_reliability=min_reliability,
            random_state=seed,
        )
        cmp = None
        if compare:
            from trustecon.marketing.compare import compare_workspace

            params = {"cpm": cpm, "min_credibility": min_credibility, "min_reliability": min_reliability}
            cmp = compare_workspace(ws, campaign, planner_params={**params, "random_state": seed})
    except PlanError as exc:
        fail(str(exc))
    if as_json:
        out = {"workspace": str(workspace), "currency": ws.currency, **p.as_dict()}
        if cmp is not None:
            out["comparison"] = cmp.as_dict()
        print_json(out)
        return
    t = Table(title=f"campaign plan: brand {brand}, budget {budget:,.2f} {ws.currency} ({p.candidates} candidates)")
    for c in [
        "creator",
        "trusted reach",
        "conv.",
        "reliab.",
        "cred.",
        "exp. orders",
        "exp. kept",
        "cost",
        "CPA",
        f"{p.interval:.0%} range",
    ]:
        t.add_column(c, justify="right")
    for r in p.chosen:
        t.add_row(
            str(r.creator_id),
            _num(r.reach),
            _num(r.conversion, "{:.3f}"),
            _num(r.reliability, "{:.2f}"),
            _num(r.credibility, "{:.2f}"),
            _num(r.expected_orders),
            _num(r.expected_kept),
            _num(r.cost),
            _num(r.cpa),
            f"{r.low:g}–{r.high:g}",
        )
    t.add_row(
        "total",
        "",
        "",
        "",
        "",
        _num(p.expected_orders),
        _num(p.expected_kept),
        _num(p.cost),
        _num(p.cpa),
        f"{p.low:g}–{p.high:g}",
        style="bold",
    )
    console.print(t)
    if p.excluded:
        console.print(f"excluded {len(p.excluded)}: " + "; ".join(f"{r.creator_id} ({r.excluded})" for r in p.excluded))
    console.print(f"method: {p.method}")
    for a in p.assumptions:
        console.print(f"assumption: {a}")
    if cmp is not None:
        from trustecon.marketing.compare import LABEL

        c = Table(title=f"planner vs auction, brand {brand}, budget {budget:,.2f} ({LABEL})")
        for col in ["mechanism", "orders", "kept orders", "spend", "CPA", "platform revenue (all brands)"]:
            c.add_column(col, justify="right")
        for name, d in (("planner", cmp.planner), ("GSP auction", cmp.auction)):
            c.add_row(
                name,
                _num(d["orders"]),
                _num(d["kept_orders"]),
                _num(d["spend"]),
                _num(d["cpa"]),
                _num(d["platform_revenue_all_brands"]),
            )
        console.print(c)
        for a in cmp.assumptions[len(p.assumptions) :]:
            console.print(f"assumption: {a}")
