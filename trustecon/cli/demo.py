"""``trustecon demo [WORKSPACE]``: the whole job on the embedded engine, with progress."""

from __future__ import annotations

from pathlib import Path

import typer

from trustecon.cli._app import EngineOpt, JsonOpt, app, check_engine, console, err_console, kpi_table, print_json

__all__: list[str] = []


@app.command()
def demo(
    workspace: Path = typer.Argument(Path("trustecon-demo"), help="Workspace folder (created if absent)."),
    preset: str = typer.Option("default", "--preset", help="Simulator preset: small, default or large."),
    seed: int = typer.Option(0, "--seed", help="Simulator seed."),
    days: int | None = typer.Option(None, "--days", help="Days to simulate (default: the preset's)."),
    fresh: bool = typer.Option(False, "--fresh", help="Delete the workspace first and simulate anew."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Simulate the default world, build trust, feeds and KPIs, write the report, print the KPI table."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from trustecon.demo import DEMO_STEPS, run_demo

    check_engine(engine)  # before the workspace is created
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
    ) as bar:
        steps = bar.add_task("demo", total=len(DEMO_STEPS))
        days_task = bar.add_task("simulate days", total=None, visible=False)

        def on_step(name: str, i: int, n: int) -> None:
            bar.update(steps, completed=i, description=f"demo: {name}")

        def on_day(day: int, total: int, events: int) -> None:
            bar.update(days_task, completed=day, total=total, visible=True, description=f"simulate: {events:,} events")

        res = run_demo(
            workspace,
            preset=preset,
            seed=seed,
            days=days,
            engine=engine,
            fresh=fresh,
            progress=on_step,
            day_progress=on_day,
        )
        bar.update(steps, completed=len(DEMO_STEPS), description="demo: done")
    if as_json:
        print_json(res.as_dict())
        return
    from trustecon.store import Workspace

    currency = Workspace.open(res.workspace).currency  # a money KPI's unit is the workspace's currency
    rows = [
        (
            name,
            "—" if v["value"] is None else f"{v['value']:,.3f}",
            "—" if v["article"] is None else f"{v['article']:,.3f}",
            v["reason"] or (currency if v["unit"] == "currency" else v["unit"]),
        )
        for name, v in res.headline.items()
    ]
    console.print(kpi_table(f"KPIs of the simulated world beside the article ({workspace})", rows))
    for name, s in res.steps.items():
        console.print(f"  {name}: {s['seconds']} s", highlight=False)
    console.print(f"report: [bold]{res.report}[/] (open it in a browser; it works offline)")
