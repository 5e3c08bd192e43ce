"""The ``trustecon`` Typer application and the helpers every command shares.

Commands are thin: parse arguments, make one library call, print (a rich table, or one JSON object
with ``--json``). Each topic's commands live in their own module of this package and register on
:data:`app`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

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


def _print_version(value: bool) -> None:
    if value:
        from trustecon import __version__

        console.print(f"trustecon {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Trust-economy engine for creator-led social commerce."""

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


def _cell(v: object) -> str:
    """A value as a terminal reads it: 3 significant digits for floats (the explanation's weights and
    shares, not their last bits), whole numbers without ".0", instants to the minute with their zone."""
    if isinstance(v, bool) or v is None:
        return {True: "yes", False: "no", None: "—"}[v]
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() and abs(v) < 1e15 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    text = str(v)
    m = _INSTANT.match(text)
    if m:
        zone = m[3] or ""
        return f"{m[1]} {m[2]}" + (" UTC" if zone in ("Z", "+00:00") else f" {zone}" if zone else "")
    return text


# An ISO 8601 instant (as JSON or str(datetime) give it): date, hour:minute, and its offset if any.
_INSTANT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def rows_view(
    rows: Sequence[Mapping[str, object]],
    width: int,
    *,
    title: str | None = None,
    right: Collection[str] = (),
    bold_last: bool = False,
) -> RenderableType:
    """Rows of one shape (an explanation's channels, trusters, ledger) shown within ``width``
    columns. Rich left alone squeezes every column alike (at 80 columns a ledger's reason became one
    letter per line, numbers "0.0042…"), so the layout is chosen here, the first that fits:

    1. a bordered table, every column at its natural width;
    2. a borderless one (header rule only, two spaces between columns, else one) where numbers keep
       their width and text columns (reasons, instants) and headers wrap at their words — and when
       that is still too wide, a header word longer than its numbers folds down to 6 letters;
    3. one small two-column table per row.

    Numbers are right-aligned, and so are the columns named in ``right`` (numbers already formatted);
    ``bold_last`` sets the last row (a total) in bold.
    """
    keys = list(rows[0])
    cells = [[_cell(r[k]) for k in keys] for r in rows]
    heads = [k.replace("_", " ") for k in keys]
    numeric = [
        k in right or all(isinstance(r[k], int | float) and not isinstance(r[k], bool) for r in rows) for k in keys
    ]
    natural = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    words = [max(len(w) for w in h.split()) for h in heads]
    n = len(keys)
    if 1 + sum(w + 3 for w in natural) <= width:
        t, widths = Table(), natural
    else:
        # Borderless: two spaces between columns, then one; headers wrap at words, then fold mid-word.
        for gap, fold in ((2, False), (1, False), (1, True)):
            least = _least(cells, words, natural, numeric, fold)
            spare = width - sum(least) - gap * (n - 1)
            if spare >= 0:
                break
        else:
            return Group(*([Text(title, style="italic")] if title else []), *(_record(heads, c) for c in cells))
        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
                  padding=(0, gap // 2))
        widths = list(least)
        short = [i for i in range(n) if natural[i] > least[i]]
        # One column at a time: first headers that fold mid-word, then text that wraps, then the
        # headers that wrap at words; within each, the one furthest from its natural width.
        while spare > 0 and short:
            i = max(short, key=lambda j: (widths[j] < words[j], not numeric[j], natural[j] - widths[j]))
            widths[i] += 1
            spare -= 1
            if widths[i] == natural[i]:
                short.remove(i)
    if title:
        t.title = title
    for h, w, num in zip(heads, widths, numeric, strict=True):
        t.add_column(h, width=w, justify="right" if num else "left", overflow="fold")
    for i, c in enumerate(cells):
        t.add_row(*c, style="bold" if bold_last and i == len(cells) - 1 else None)
    return t


def _least(
    cells: Sequence[Sequence[str]], words: Sequence[int], natural: Sequence[int], numeric: Sequence[bool], fold: bool
) -> list[int]:
    """Each column's narrowest width: a number's widest cell; text wraps at its words (down to its
    longest word, at most 24: longer runs fold); a header wraps at its words or, with ``fold``, folds
    down to 6 letters or its numbers' width."""
    out = []
    for i, word in enumerate(words):
        widest = max(len(c[i]) for c in cells)
        head = min(word, max(widest, 6)) if fold else word
        longest = max([len(w) for c in cells for w in c[i].split()] + [1])
        out.append(max(head, widest) if numeric[i] else max(head, min(natural[i], longest, 24)))
    return out


def _record(heads: Sequence[str], cells: Sequence[str]) -> Table:
    t = Table(show_header=False)
    t.add_column("", no_wrap=True)
    t.add_column("", overflow="fold")
    for h, c in zip(heads, cells, strict=True):
        t.add_row(h, c)
    return t
