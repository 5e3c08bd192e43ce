"""Data commands: ``init``, ``ingest``, ``stats``."""

from __future__ import annotations

from pathlib import Path

import typer

from trustecon.cli._app import app, console, fail

__all__: list[str] = []


@app.command()
def init(
    workspace: Path = typer.Argument(..., help="Folder to create."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone in which days and months are cut."),
    currency: str = typer.Option("CNY", "--currency", help="ISO 4217 currency of amounts."),
) -> None:
    """Create an empty workspace."""
    from trustecon.store import Workspace, WorkspaceError

    try:
        Workspace.init(workspace, timezone=timezone, currency=currency)
    except WorkspaceError as exc:
        fail(str(exc))
    console.print(f"workspace created at {workspace} (timezone {timezone}, currency {currency.upper()})")
