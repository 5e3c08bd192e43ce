"""``trustecon report WORKSPACE``: the self-contained HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from trustecon.cli._app import EngineOpt, JsonOpt, app, check_engine, console, fail, print_json

__all__: list[str] = []


@app.command()
def report(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    output: Path = typer.Option(
        None, "-o", "--output", help="HTML file, or a folder to write report.html into (default WORKSPACE/reports/)."
    ),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write one self-contained HTML report (KPIs beside the article, trust, creators, exposure, live)."""
    from trustecon.engine import connect
    from trustecon.report import build_report
    from trustecon.store import Workspace, WorkspaceError

    check_engine(engine)
    try:
        ws = Workspace.open(workspace)
    except WorkspaceError as exc:
        fail(str(exc))
    if output is not None and output.is_dir():
        output = output / "report.html"
    result = build_report(ws, connect(engine), output)
    if as_json:
        print_json(result.as_dict())
        return
    console.print(f"report written to [bold]{result.path}[/] ({len(result.charts)} charts)")
    for key, why in result.left_out.items():
        console.print(f"  left out {key}: {why}", highlight=False)
