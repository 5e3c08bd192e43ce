"""What the reference records about one workspace table, and the shared column meanings.

Only names and words live here: a column's type is never written down, it is read from the table's
Parquet schema (:func:`trustecon.report.tables.read_schemas`), so the reference cannot disagree with
the code about types; tests/test_catalog.py checks the names against a built workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AS_OF", "Column", "TableSpec", "cols"]

#: The meaning of every ``as_of`` column: scores are as of an instant, never the wall clock (DESIGN.md §4).
AS_OF = "the instant the row is computed as of: the latest event, or the command's --as-of"


@dataclass(frozen=True)
class Column:
    """One column: its name and a one-line meaning (empty when the name says it all)."""

    name: str
    meaning: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One table of a workspace.

    ``area``: ``tables`` (derived) or ``truth`` (simulator ground truth); ``group``: the heading it is
    listed under; ``commands``: the CLI commands that write it (``trustecon build WS``);
    ``writers``: dotted paths of the library functions that write it; ``defined_in``: the dotted path
    whose docstring defines its rows and columns (where to read more); ``row``: what one row is, and
    ``key`` the columns that identify it (unique in the table); ``when``: the condition under which
    the table exists, when a fully built simulated workspace does not have it.
    """

    name: str
    area: str
    group: str
    commands: tuple[str, ...]
    writers: tuple[str, ...]
    defined_in: str
    row: str
    key: tuple[str, ...]
    description: str
    columns: tuple[Column, ...]
    when: str = ""

    @property
    def path(self) -> str:
        """``tables/<name>`` or ``truth/<name>``: the folder in the workspace."""
        return f"{self.area}/{self.name}"

    def meaning(self, column: str) -> str:
        """The registered meaning of ``column`` (KeyError when it is not registered)."""
        for c in self.columns:
            if c.name == column:
                return c.meaning
        raise KeyError(f"{self.path}: column {column!r} is not registered")


def cols(*items: tuple[str, str] | str) -> tuple[Column, ...]:
    """Columns from ``(name, meaning)`` pairs, or a bare name for a self-explanatory column."""
    return tuple(Column(i) if isinstance(i, str) else Column(*i) for i in items)
