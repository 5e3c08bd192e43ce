"""The reference of every table a workspace holds, and its rendering as docs/tables.md.

:data:`TABLES` lists each table of ``tables/`` (derived) and ``truth/`` (simulator ground truth): the
commands and functions that write it, what one row is (its key), and a meaning per column, taken from
the docstrings of the modules that compute it. DESIGN.md §4 names a few tables; this is the full list.

The reference cannot drift from the code: it holds no types (they are read from the Parquet schemas
of a built workspace, :func:`read_schemas`), and tests/test_catalog.py checks on a fully built
workspace that the registered tables are exactly the tables written, their columns exactly the
columns stored, their keys unique, their writers importable, and that docs/tables.md is what
:func:`render_markdown` makes of them (``python scripts/document_tables.py`` writes it).

It lives in the report layer because it renders a document about the whole workspace; it imports
none of the layers it describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trustecon.report.tables._spec import Column, TableSpec
from trustecon.report.tables.apps import DEAL_TABLES, FEED_TABLES
from trustecon.report.tables.kpis import KPI_TABLES
from trustecon.report.tables.sources import SOURCE_TABLES
from trustecon.report.tables.trust import TRUST_TABLES

__all__ = ["TABLES", "Column", "TableSpec", "read_schemas", "render_markdown", "table_spec"]

#: Every table, in the order docs/tables.md lists them (by group, in each group as written).
TABLES: tuple[TableSpec, ...] = (*TRUST_TABLES, *FEED_TABLES, *KPI_TABLES, *DEAL_TABLES, *SOURCE_TABLES)

#: A schema as :func:`read_schemas` gives it: ``[(column, Arrow type name), ...]`` in stored order.
Schema = Sequence[tuple[str, str]]


def table_spec(path: str) -> TableSpec:
    """The spec of ``path`` (``tables/<name>`` or ``truth/<name>``; a bare name means ``tables/``)."""
    path = path if "/" in path else f"tables/{path}"
    for t in TABLES:
        if t.path == path:
            return t
    raise KeyError(f"{path}: not in the table reference (trustecon/report/tables/)")


def read_schemas(workspaces: Iterable[Any]) -> dict[str, list[tuple[str, str]]]:
    """``{"tables/<name>" or "truth/<name>": [(column, type), ...]}`` of every table the workspaces hold,
    read from each table's first Parquet file (its footer only). A table in two workspaces must have
    one schema (ValueError naming the table otherwise)."""
    import pyarrow.parquet as pq

    out: dict[str, list[tuple[str, str]]] = {}
    for ws in workspaces:
        for area in ("tables", "truth"):
            for name in ws.table_names(area):
                schema = pq.read_schema(ws.table_files(name, area)[0])
                cols = [(f.name, str(f.type)) for f in schema]
                key = f"{area}/{name}"
                if key in out and out[key] != cols:
                    raise ValueError(f"{key}: two workspaces store it with different columns: {out[key]} / {cols}")
                out[key] = cols
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(items: Iterable[str]) -> str:
    return ", ".join(f"`{i}`" for i in items)


def _anchor(path: str) -> str:
    # GitHub's heading anchors: lower case, punctuation but '-' and '_' dropped.
    return "".join(ch for ch in path.lower() if ch.isalnum() or ch in "-_")


def _section(t: TableSpec, schema: Schema) -> list[str]:
    registered = {c.name for c in t.columns}
    stored = [c for c, _ in schema]
    missing, extra = sorted(registered - set(stored)), [c for c in stored if c not in registered]
    if missing or extra:
        raise ValueError(f"{t.path}: registered columns not stored: {missing}; stored columns not registered: "
                         f"{extra} (update trustecon/report/tables/)")
    lines = [f"## `{t.path}`", ""]
    lines.append(f"Written by {_code(t.commands)} ({_code(t.writers)}); defined in `{t.defined_in}`."
                 + (f" Exists {t.when}." if t.when else ""))
    lines += ["", f"**One row:** {t.row}; key ({_code(t.key)}).", "", t.description, ""]
    lines += ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {_cell(typ)} | {_cell(t.meaning(name))} |" for name, typ in schema]
    return [*lines, ""]


def render_markdown(schemas: Mapping[str, Schema], tables: Sequence[TableSpec] = TABLES) -> str:
    """docs/tables.md: a contents list by group, then one section per table (where it is, what writes it,
    what one row is, its description and a column table of name, stored type and meaning).
    ``schemas``: :func:`read_schemas` of workspaces holding every table (KeyError naming the first
    table without one; ValueError when a table's stored and registered columns differ)."""
    missing = [t.path for t in tables if t.path not in schemas]
    if missing:
        raise KeyError(f"no schema for {', '.join(missing)}: build a workspace that writes them")
    out = [
        "# Workspace tables",
        "",
        "<!-- Generated by scripts/document_tables.py from trustecon/report/tables/ and the Parquet schemas of a",
        "     freshly built workspace. Do not edit: tests/test_catalog.py fails when this file and the code",
        "     disagree; run `python scripts/document_tables.py` after changing a table. -->",
        "",
        "Every table a workspace holds: `tables/<name>/` (derived tables) and `truth/<name>/` (simulator",
        "ground truth), each a folder of Parquet files listed in `manifest.json` (DESIGN.md §4 names a few;",
        "this is the full list). The event log (`events/`) and `quarantine/` are described in DESIGN.md §4",
        "and `trustecon/events.py`. Types are Arrow's as stored; times named `*_s` are epoch seconds (UTC),",
        "timestamps are UTC instants. Each table is replaced whole, in one transaction, by what writes it.",
        "",
        "## Contents",
        "",
    ]
    groups: dict[str, list[TableSpec]] = {}
    for t in tables:
        groups.setdefault(t.group, []).append(t)
    for group, members in groups.items():
        links = ", ".join(f"[{t.name}](#{_anchor(t.path)})" for t in members)
        out.append(f"- **{group}**: {links}")
    out.append("")
    for t in tables:
        out += _section(t, schemas[t.path])
    return "\n".join(out)
