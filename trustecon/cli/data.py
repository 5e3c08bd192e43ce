"""Data commands: ``init``, ``ingest``, ``stats``, ``quarantine``, ``compact``, ``check``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.table import Table

from trustecon.cli._app import (
    EngineOpt,
    JsonOpt,
    app,
    check_engine,
    console,
    err_console,
    fail,
    open_workspace,
    print_json,
    rows_view,
)

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


@app.command()
def ingest(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    files: list[Path] = typer.Argument(..., help="CSV, JSON Lines or Parquet files, or folders of them."),
    as_json: bool = JsonOpt,
) -> None:
    """Validate and append event files; bad rows go to quarantine with file, row and reason."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from trustecon.ingest import ingest_files, iter_files

    ws = _open(workspace)
    paths = iter_files(files)
    with Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
        transient=True,
    ) as progress:
        task = progress.add_task("ingest", total=None)
        report = ingest_files(ws, paths, on_progress=lambda _f, n: progress.advance(task, n))
    summary = report.as_dict()
    if as_json:
        print_json(summary)
    else:
        t = Table(title=f"ingest into {workspace}")
        cols = ["read", "added", "duplicates", "quarantined"]
        if report.total.already_quarantined:  # a file ingested again: its bad rows are in quarantine already
            cols.append("already_quarantined")
        for col in cols:
            t.add_column(col.replace("_", " "), justify="right")
        t.add_row(*(f"{summary[c]:,}" for c in cols))
        console.print(t)
        if report.total.by_kind:
            k = Table(title="added by kind")
            k.add_column("kind")
            k.add_column("events", justify="right")
            for kind, n in sorted(report.total.by_kind.items()):
                k.add_row(kind, f"{n:,}")
            console.print(k)
        if report.total.quarantined:
            console.print(f"{report.total.quarantined:,} rows quarantined: see 'trustecon quarantine {workspace}'")
        for f, e in report.errors.items():
            err_console.print(f"[red]{f}[/]: {e}", highlight=False)
        for f, cols in report.ignored_columns.items():
            err_console.print(f"[yellow]{f}[/]: columns not in the event schema, not stored: {', '.join(cols)}",
                              highlight=False)
    # Non-zero only when nothing could be read at all.
    if report.total.read == 0 and (report.errors or not report.files):
        raise typer.Exit(1)


@app.command()
def stats(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Events by kind and by day, distinct users, creators, sessions and orders, quarantined rows."""
    from trustecon.engine import connect
    from trustecon.stats import log_stats

    check_engine(engine)
    ws = _open(workspace)
    con = connect(engine)
    s = log_stats(ws.events(con), timezone=ws.timezone, quarantined=ws.quarantine_arrow().num_rows)
    if as_json:
        print_json(s)
        return
    t = Table(title=f"{workspace} ({ws.timezone}, {ws.currency})")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for key in ("events", "users", "creators", "sessions", "orders", "quarantined", "first", "last"):
        v = s[key]
        t.add_row(key, f"{v:,}" if isinstance(v, int) else str(v))
    console.print(t)
    k = Table(title="events by kind")
    k.add_column("kind")
    k.add_column("events", justify="right")
    for kind, n in s["by_kind"].items():
        k.add_row(kind, f"{n:,}")
    console.print(k)
    days = list(s["by_day"].items())
    d = Table(title=f"events by day ({len(days)} days)")
    d.add_column("day")
    d.add_column("events", justify="right")
    shown = days if len(days) <= 20 else days[:10] + [("…", None)] + days[-9:]
    for day, n in shown:
        d.add_row(day, "" if n is None else f"{n:,}")
    console.print(d)


@app.command()
def quarantine(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    limit: int = typer.Option(20, help="Rows to show."),
    as_json: bool = JsonOpt,
) -> None:
    """Rejected rows with file, row, field and reason."""
    if limit < 0:
        fail(f"--limit: must be >= 0, got {limit}")
    import pyarrow.compute as pc

    ws = _open(workspace)
    q = ws.quarantine_arrow()
    if q.num_rows:
        # By file (in the order they were ingested), then row: a file's malformed lines and conflicts
        # are stored after its invalid rows, and 16, 15, 13 after 14 reads as rows gone missing.
        q = q.append_column("_file", pc.index_in(q["file"], value_set=pc.unique(q["file"])))
        q = q.sort_by([("_file", "ascending"), ("row", "ascending")]).drop_columns(["_file"])
    rows = q.slice(0, limit).to_pylist()
    if as_json:
        print_json({"quarantined": q.num_rows, "rows": rows})
        return
    t = Table(title=f"quarantine: {q.num_rows:,} rows")
    for c in ("file", "row", "field", "reason"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["file"], str(r["row"]), r["field"] or "", r["reason"])
    console.print(t)


@app.command()
def compact(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    target_rows: int | None = typer.Option(
        None, "--target-rows", help="Rows per compacted file (default 1,000,000); larger files are left as they are."
    ),
    min_files: int = typer.Option(2, "--min-files", help="Rewrite a day only when it holds this many small files."),
    purge_now: bool = typer.Option(
        False, "--purge-now", help="Then delete every retired file at once (only when nothing reads the workspace)."
    ),
    day: list[str] | None = typer.Option(
        None, "--day", help="Only this local day, YYYY-MM-DD (repeat for several; default: every day)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Merge each day's small event files (and quarantine's) into few, in one transaction; events unchanged.

    The replaced files stay on disk for readers that listed them just before (the retention, [store]
    retention_seconds in trustecon.toml, default 600 s); a later write deletes them, or --purge-now."""
    if target_rows is not None and target_rows < 1:
        fail(f"--target-rows: must be >= 1, got {target_rows}")
    if min_files < 2:
        fail(f"--min-files: must be >= 2 (one file has nothing to merge with), got {min_files}")
    for d in day or []:
        try:
            ok = len(d) == 10 and dt.date.fromisoformat(d).isoformat() == d
        except ValueError:
            ok = False
        if not ok:
            fail(f"--day: {d!r} is not a date YYYY-MM-DD")
    ws = _open(workspace)
    opts = {"min_files": min_files} | ({"target_rows": target_rows} if target_rows is not None else {})
    res = ws.compact(**opts, days=day or None)
    purged = ws.purge_retired(0) if purge_now else []
    if as_json:
        print_json(res.as_dict() | {"purged_files": len(purged)})
    elif res.changed:
        days = len(res.days)
        q = res.quarantine_before != res.quarantine_after
        console.print(
            f"compacted {res.files_before:,} event files into {res.files_after:,} "
            f"({res.rows_rewritten:,} rows rewritten in {days:,} day partition{'s' * (days != 1)}"
            + (f"; quarantine {res.quarantine_before:,} -> {res.quarantine_after:,} files" if q else "")
            + f") in {res.seconds:.2f} s"
        )
    else:
        console.print(f"nothing to compact: {res.files_before:,} event files, no day with {min_files} small files "
                      "that fit together")
    if purge_now and not as_json:
        console.print(f"deleted {len(purged):,} retired file{'s' * (len(purged) != 1)} now (--purge-now)")


_open = open_workspace


@app.command()
def check(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    as_json: bool = JsonOpt,
) -> None:
    """Check the workspace against its invariants (files, counts, id ranges, duplicates, days, order
    owners, stray files); reads only. Exit 1 when an error is found (warnings alone exit 0)."""
    from trustecon.verify import verify

    ws = _open(workspace)
    res = verify(ws)
    if as_json:
        print_json(res.as_dict())
    elif res.findings:
        rows = [{"severity": f.severity, "check": f.check, "where": f.where, "why": f.message} for f in res.findings]
        console.print(rows_view(rows, console.width, title=f"check of {workspace}"))
    errors = sum(f.severity == "error" for f in res.findings)
    if not as_json:
        warnings = len(res.findings) - errors
        console.print(
            f"{'ok' if res.ok else 'NOT OK'}: {res.files:,} files and {res.events:,} events checked in "
            f"{res.seconds:.2f} s; {errors:,} error{'s' * (errors != 1)}, {warnings:,} warning{'s' * (warnings != 1)}",
            highlight=False,
        )
    if errors:
        raise typer.Exit(1)
