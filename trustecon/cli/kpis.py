"""``trustecon kpis WORKSPACE``: compute the KPI catalogue, store ``tables/kpis_*``, print the headline."""

from __future__ import annotations

from pathlib import Path

import typer

from trustecon.cli._app import EngineOpt, JsonOpt, app, console, fail, print_json

__all__: list[str] = []


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:,.2f}"


@app.command()
def kpis(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
    min_followers: int = typer.Option(
        10_000, "--min-followers", help="Audience threshold N of the creator-income KPI (10,000 on real platforms)."
    ),
) -> None:
    """Compute every KPI (DESIGN.md §9), write tables/kpis_<name>, print them beside the article's figures."""
    from rich.table import Table

    from trustecon.engine import ENGINES, connect
    from trustecon.kpis import ARTICLE_FIGURES, compute_all, headline
    from trustecon.store import Workspace, WorkspaceError

    if engine not in ENGINES:
        fail(f"--engine: unknown engine {engine!r} (expected {', '.join(ENGINES)})")
    if min_followers < 1:
        fail(f"--min-followers: must be >= 1, got {min_followers}")
    try:
        ws = Workspace.open(workspace)
    except WorkspaceError as exc:
        fail(str(exc))
    con = connect(engine)
    events = ws.events(con)
    tables = compute_all(events, timezone=ws.timezone, min_followers=min_followers)
    with ws.transaction() as tx:
        for name, expr in tables.items():
            tx.write_table(f"kpis_{name}", expr.to_pyarrow())
    head = headline(events, timezone=ws.timezone)
    if as_json:
        print_json(
            {
                "workspace": str(workspace),
                "engine": engine,
                "timezone": ws.timezone,
                "currency": ws.currency,
                "headline": {k: {**v.as_dict(), "article": ARTICLE_FIGURES.get(k)} for k, v in head.items()},
                "tables": sorted(f"kpis_{n}" for n in tables),
            }
        )
        return
    t = Table(title=f"KPIs of {workspace} ({engine}, days cut in {ws.timezone})")
    for col in ("KPI", "ours", "article", "unit / note"):
        t.add_column(col, justify="right" if col in ("ours", "article") else "left")
    for k, v in head.items():
        unit = ws.currency if v.unit == "currency" else v.unit
        note = v.reason if v.value is None else unit
        t.add_row(k, _fmt(v.value, v.unit), _fmt(ARTICLE_FIGURES.get(k), v.unit), note)
    console.print(t)
    console.print(f"wrote {len(tables)} tables: tables/kpis_* in {workspace}")
