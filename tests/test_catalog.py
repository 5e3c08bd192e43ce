"""The table reference (trustecon/report/tables/) against a fully built workspace, and docs/tables.md.

The workspace is the small world the API tests build once per session (tests/api_world.py: simulate,
build, feeds, KPIs), completed as scripts/document_tables.py completes its own (a group-buy deal, a
three-row Ciao load), so every table a workspace can hold is written.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import itertools
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest
from api_world import built_world

from trustecon.report.tables import TABLES, Column, TableSpec, read_schemas, render_markdown, table_spec

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "tables.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("document_tables", REPO / "scripts" / "document_tables.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    ws = built_world(tmp_path_factory, "catalog")
    return _script().complete(ws, tmp_path_factory.mktemp("catalog-extra"))


@pytest.fixture(scope="module")
def schemas(workspaces: list[Any]) -> dict[str, list[tuple[str, str]]]:
    return read_schemas(workspaces)


def _read(workspaces: list[Any], path: str) -> pa.Table:
    area, name = path.split("/")
    ws = next(w for w in workspaces if w.has_table(name, area))
    return ws.read_table(name, area)


def test_registered_tables_are_exactly_the_tables_written(schemas: dict[str, Any]) -> None:
    paths = [t.path for t in TABLES]
    assert len(paths) == len(set(paths)), f"registered twice: {sorted({p for p in paths if paths.count(p) > 1})}"
    unregistered = sorted(set(schemas) - set(paths))
    unwritten = sorted(set(paths) - set(schemas))
    assert not unregistered, f"written but not in trustecon/report/tables/: {unregistered}"
    assert not unwritten, f"registered but not written by a fully built workspace: {unwritten}"


def test_registered_columns_are_exactly_the_stored_columns(schemas: dict[str, Any]) -> None:
    problems = []
    for t in TABLES:
        names = [c.name for c in t.columns]
        stored = {c for c, _ in schemas[t.path]}
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"{t.path}: registered twice {twice}")
        if set(names) - stored:
            problems.append(f"{t.path}: registered, not stored {sorted(set(names) - stored)}")
        if stored - set(names):
            problems.append(f"{t.path}: stored, not registered {sorted(stored - set(names))}")
        if not set(t.key) <= set(names) or not t.key:
            problems.append(f"{t.path}: key {t.key} is not among its columns")
    assert not problems, "\n".join(problems)


def test_a_row_is_what_the_reference_says(workspaces: list[Any]) -> None:
    """The key identifies a row: no two rows of a written table share it (and no key part is null)."""
    problems, checked = [], 0
    for t in TABLES:
        data = _read(workspaces, t.path).select(list(t.key))
        counts = data.group_by(list(t.key)).aggregate([([], "count_all")])
        dup = counts.filter(pa.compute.greater(counts["count_all"], 1))
        if dup.num_rows:
            problems.append(f"{t.path}: {dup.num_rows} keys repeat, e.g. {dup.slice(0, 1).to_pylist()}")
        nulls = [k for k in t.key if data[k].null_count]
        if nulls:
            problems.append(f"{t.path}: key column(s) {nulls} hold nulls")
        checked += data.num_rows > 0
    assert not problems, "\n".join(problems)
    assert checked >= 40, f"only {checked} tables have rows: the uniqueness check would say little"


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_writers_and_definitions_exist() -> None:
    problems = []
    for t in TABLES:
        for w in t.writers:
            try:
                if not callable(_resolve(w)):
                    problems.append(f"{t.path}: writer {w} is not callable")
            except (AttributeError, ModuleNotFoundError) as e:
                problems.append(f"{t.path}: writer {w}: {e}")
        try:
            if not (_resolve(t.defined_in).__doc__ or "").strip():
                problems.append(f"{t.path}: {t.defined_in} has no docstring to read the columns in")
        except (AttributeError, ModuleNotFoundError) as e:
            problems.append(f"{t.path}: defined_in {t.defined_in}: {e}")
    assert not problems, "\n".join(problems)


def test_commands_exist() -> None:
    from typer.testing import CliRunner

    from trustecon.cli import app

    runner = CliRunner()
    commands = {c for t in TABLES for c in t.commands}
    for command in sorted(commands):
        words = command.split()
        assert words[0] == "trustecon", command
        sub = list(itertools.takewhile(lambda w: w.isalpha() and w.islower(), words[1:]))  # up to WS, --options
        out = runner.invoke(app, [*sub, "--help"])
        assert out.exit_code == 0 and "Usage" in out.output, f"{command}: `trustecon {' '.join(sub)}` is no command"


def test_render_by_hand() -> None:
    spec = TableSpec(
        "t", "truth", "G", ("trustecon x WS",), ("m.f",), "m.f", row="one thing", key=("a",),
        description="What t is.", columns=(Column("a", "x | y"), Column("b")), when="sometimes",
    )
    text = render_markdown({"truth/t": [("b", "double"), ("a", "int64")]}, [spec])
    assert text.endswith(
        "- **G**: [t](#trutht)\n\n## `truth/t`\n\n"
        "Written by `trustecon x WS` (`m.f`); defined in `m.f`. Exists sometimes.\n\n"
        "**One row:** one thing; key (`a`).\n\nWhat t is.\n\n"
        "| column | type | meaning |\n|---|---|---|\n| `b` | double |  |\n| `a` | int64 | x \\| y |\n"
    )
    with pytest.raises(ValueError, match=r"truth/t: registered columns not stored: \['b'\]; stored .* \['c'\]"):
        render_markdown({"truth/t": [("a", "int64"), ("c", "int64")]}, [spec])
    with pytest.raises(KeyError, match="no schema for truth/t"):
        render_markdown({}, [spec])
    assert table_spec("pair_trust") is table_spec("tables/pair_trust")
    with pytest.raises(KeyError, match="truth/pair_trust"):
        table_spec("truth/pair_trust")


def test_docs_tables_md_is_generated(schemas: dict[str, Any]) -> None:
    want = render_markdown(schemas)
    have = DOC.read_text() if DOC.exists() else ""
    if have != want:
        diff = "\n".join(list(difflib.unified_diff(have.splitlines(), want.splitlines(), "docs/tables.md",
                                                   "generated", lineterm=""))[:40])
        pytest.fail(f"docs/tables.md is stale: run `OPENBLAS_NUM_THREADS=1 python scripts/document_tables.py`\n{diff}")
