"""``trustecon load DATASET WORKSPACE --data PATH``: load a real public dataset into a workspace."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from trustecon.cli._app import JsonOpt, app, console, err_console, fail, print_json

__all__: list[str] = []


class DatasetName(StrEnum):
    kuairand = "kuairand"
    filmtrust = "filmtrust"
    ciao = "ciao"
    online_retail = "online-retail"


@app.command()
def load(
    dataset: DatasetName = typer.Argument(..., help="Which dataset (docs/datasets.md gives each mapping)."),
    workspace: Path = typer.Argument(..., help="Workspace folder (created with the dataset's time zone if new)."),
    data: Path | None = typer.Option(
        None, "--data", help="Folder holding the datasets (default: $TRUSTECON_DATA or ../shared/data)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Map a dataset into the event log: rows read, added, duplicates, quarantined, by kind."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from trustecon.datasets import default_data_dir
    from trustecon.datasets import load as load_dataset
    from trustecon.store import WorkspaceError

    data_dir = data if data is not None else default_data_dir()
    if not data_dir.is_dir():
        fail(f"{data_dir}: no such folder (pass --data PATH or set TRUSTECON_DATA)")
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
        TimeElapsedColumn(), console=err_console, disable=as_json, transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(file: str, done: int, total: int) -> None:
            if file not in tasks:
                tasks[file] = progress.add_task(file, total=total)
            progress.update(tasks[file], completed=done, total=total)

        try:
            result = load_dataset(dataset.value, workspace, data_dir, progress=on_progress)
        except (WorkspaceError, FileNotFoundError, ValueError) as exc:
            fail(str(exc))
    summary = result.as_dict()
    if as_json:
        print_json(summary)
        return
    t = Table(title=f"load {dataset.value} into {workspace}")
    for col in ("source rows", "read", "added", "duplicates", "quarantined"):
        t.add_column(col, justify="right")
    t.add_row(
        f"{sum(result.source_rows.values()):,}",
        *(f"{summary[c]:,}" for c in ("read", "added", "duplicates", "quarantined")),
    )
    console.print(t)
    if result.by_kind:
        k = Table(title="added by kind")
        k.add_column("kind")
        k.add_column("events", justify="right")
        for kind, n in sorted(result.by_kind.items()):
            k.add_row(kind, f"{n:,}")
        console.print(k)
    if result.quarantined:
        console.print(f"{result.quarantined:,} rows quarantined: see 'trustecon quarantine {workspace}'")
