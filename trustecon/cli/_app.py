"""The ``trustecon`` Typer application and the helpers every command shares.

Commands are thin: parse arguments, make one library call, print (a rich table, or one JSON object
with ``--json``). Each topic's commands live in their own module of this package and register on
:data:`app`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="trustecon",
    help="Trust-economy engine for creator-led social commerce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
experiment_app = typer.Typer(help="Experiments that compare mechanisms on the same simulated market.")
app.add_typer(experiment_app, name="experiment")

console = Console(stderr=False)
err_console = Console(stderr=True)

EngineOpt = typer.Option("duckdb", "--engine", help="duckdb (embedded) or spark (local PySpark).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object instead of tables.")


def _json_default(x: Any) -> Any:
    """Instants and dates as ISO 8601 (``2026-01-01T17:36:01+00:00``), what JSON readers parse;
    anything else as its string."""
    if isinstance(x, dt.datetime | dt.date | dt.time):
        return x.isoformat()
    return str(x)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=_json_default, allow_nan=False) + "\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error (no traceback) and exit with ``code``."""
    # soft_wrap: the error stays one line in logs and pipes, whatever the terminal width.
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def check_engine(engine: str) -> None:
    """Exit with a one-line error unless ``engine`` is one the project runs on."""
    from trustecon.engine import ENGINES

    if engine not in ENGINES:
        fail(f"--engine: unknown engine {engine!r} (expected {', '.join(ENGINES)})")


def new_folder(path: Any) -> None:
    """Exit with a one-line error if ``path`` exists and holds anything (experiments write new folders)."""
    if path.exists() and any(path.iterdir()):
        fail(f"{path}: exists and is not empty; give a new folder")


def open_workspace(workspace: Any) -> Any:
    """Open a workspace folder, or exit with its error in one line (no traceback)."""
    from trustecon.store import Workspace, WorkspaceError

    try:
        return Workspace.open(workspace)
    except WorkspaceError as exc:
        fail(str(exc))


def parse_instant(value: str | None, option: str = "--as-of") -> dt.datetime | None:
    """An ISO 8601 date or time from an option (UTC when it names no zone), or exit with a one-line error."""
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: expected an ISO 8601 date or time, e.g. 2024-05-01 or 2024-05-01T12:00:00+08:00")
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def kpi_table(title: str, rows: Iterable[tuple[str, str, str, str | None]], note: str = "note") -> Table:
    """KPI name, ours, the article's figure and a note: the name and the numbers never wrap (at 80
    columns they were cut to "live_watch_minutes_per_vis…"); the note wraps instead."""
    t = Table(title=title)
    t.add_column("KPI", no_wrap=True)
    t.add_column("ours", justify="right", no_wrap=True)
    t.add_column("article", justify="right", no_wrap=True)
    t.add_column(note, ratio=1)
    for name, ours, article, why in rows:
        t.add_row(name, ours, article, why or "")
    return t
