"""The table reference (trustecon/report/tables/) against a fully built workspace, and docs/tables.md.

The workspace is the small world the API tests build once per session (tests/api_world.py: simulate,
build, feeds, KPIs), completed as scripts/document_tables.py completes its own (a group-buy deal, a
three-row Ciao load), so every table a workspace can hold is written.

The same tables are also built from logs that lack whole kinds of events (views only; no live events
but every other kind; empty), and each stored table must have the rich world's schema there (column
names, order and Arrow types): a table's types are the writer's, not the data's.
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
from views_world import views_world

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


#: Event kinds of a live room: a log without them has no visits, sessions, gifts or pinned products.
LIVE_KINDS = ("live_start", "live_end", "live_enter", "live_leave", "gift", "product_pin")


def _without_live_with_every_other_kind(ws: Any) -> pa.Table:
    """``ws``'s log without live events, plus one event of each kind the small simulation does not
    emit (refund, complaint, payout, spend, rate on a creator and on content, unfollow), so the KPIs
    and trust tables that read those kinds hold rows of them."""
    import datetime as dt

    import pyarrow.compute as pc

    from trustecon.events import SCHEMA

    log = ws.events_arrow().select(SCHEMA.names).cast(SCHEMA)
    log = log.filter(pc.invert(pc.is_in(log["kind"], pa.array(LIVE_KINDS))))
    order = log.filter(pc.equal(log["kind"], "order")).to_pylist()[0]
    follow = log.filter(pc.equal(log["kind"], "follow")).to_pylist()[0]
    start = pc.max(log["ts"]).as_py() - dt.timedelta(hours=1)
    extra: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        extra.append({"event_id": f"extra{len(extra)}", "ts": start + dt.timedelta(minutes=len(extra)),
                      "kind": kind, **fields})

    add("refund", order_id=order["order_id"], user_id=order["user_id"], creator_id=order["creator_id"],
        amount=order["amount"] / 2)
    add("complaint", order_id=order["order_id"], user_id=order["user_id"], creator_id=order["creator_id"])
    add("payout", creator_id=order["creator_id"], amount=12.5)
    add("spend", brand_id=order["brand_id"], campaign_id=1, creator_id=order["creator_id"], amount=100.0)
    add("rate", user_id=follow["user_id"], creator_id=follow["creator_id"], value=4.0)
    add("rate", user_id=follow["user_id"], creator_id=follow["creator_id"], content_id=1, value=3.0)
    add("unfollow", user_id=follow["user_id"], creator_id=follow["creator_id"])
    return pa.concat_tables([log, pa.Table.from_pylist(extra, schema=SCHEMA)])


@pytest.fixture(scope="module")
def sparse_schemas(workspaces: list[Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Stored schemas of the workspaces built from thinner logs, by world: views only (no commerce,
    no live; trust, feeds, KPIs), no live events but every other kind (trust, feeds, KPIs, a deal),
    and an empty log (trust and KPIs; feeds refuse an empty log)."""
    from trustecon.distribution.build import build_feeds
    from trustecon.engine import connect
    from trustecon.kpis.persist import write_kpis
    from trustecon.store import Workspace
    from trustecon.trust.build import build

    con = connect("duckdb")
    views = views_world(tmp_path_factory, "catalog-views")
    build_feeds(views, con)
    no_live = Workspace.init(tmp_path_factory.mktemp("catalog-no-live") / "ws")
    assert no_live.append(_without_live_with_every_other_kind(workspaces[0])).quarantined == 0
    empty = Workspace.init(tmp_path_factory.mktemp("catalog-empty") / "ws")
    for ws in (no_live, empty):
        build(ws, con=con)
        write_kpis(ws, con, min_followers=2)
    build_feeds(no_live, con)
    return {name: read_schemas([ws]) for name, ws in
            (("views only", views), ("no live, every other kind", no_live), ("empty log", empty))}


def _type_differences(world: str, want: Any, have: Any, path: str) -> list[str]:
    if want == have:
        return []
    a, b = dict(want), dict(have)
    out = [f"{world}: {path}.{c} is {a[c]} in the rich world, {b[c]} here" for c in a if c in b and a[c] != b[c]]
    if set(a) != set(b):
        out.append(f"{world}: {path} stores columns {sorted(set(b) - set(a))} the rich world does not, "
                   f"lacks {sorted(set(a) - set(b))}")
    elif not out:
        out.append(f"{world}: {path} stores its columns in another order: {list(b)} (rich world {list(a)})")
    return out


def test_stored_types_do_not_depend_on_the_log(schemas: dict[str, Any],
                                               sparse_schemas: dict[str, dict[str, Any]]) -> None:
    """Every table stored from a thinner log has the rich world's columns, in its order, with its
    Arrow types (a ledger once stored DECIMAL(2,1) from a log with orders and double without)."""
    problems = [msg for world, stored in sparse_schemas.items() for path, have in sorted(stored.items())
                for msg in _type_differences(world, schemas[path], have, path)]
    assert not problems, "\n".join(problems)
    # Each thin world holds every derived table a build, feeds and KPIs write (the empty one no
    # feeds), so the comparison covers them all.
    def written_by(module: str) -> set[str]:
        return {t.path for t in TABLES if any(w.startswith(module) for w in t.writers)}

    feeds = written_by("trustecon.distribution.build.")
    derived = written_by("trustecon.trust.build.") | written_by("trustecon.kpis.persist.") | feeds
    for world, stored in sparse_schemas.items():
        expect = derived - feeds if world == "empty log" else derived
        assert expect <= set(stored), f"{world}: not written {sorted(expect - set(stored))}"


@pytest.mark.spark
def test_kpi_types_are_the_same_on_spark(workspaces: list[Any], schemas: dict[str, Any], spark_con: Any) -> None:
    """The KPI tables Spark would store have DuckDB's stored types. ``write_kpis`` stores
    ``expr.to_pyarrow()``, which Ibis casts to the expression's schema on both engines, so comparing
    the schemas of the expressions built on Spark suffices (no query runs; executing all 23 on a tiny
    log gave the same types but took 90 s)."""
    from trustecon.kpis.catalogue import compute_all

    ws = workspaces[0]
    tables = compute_all(ws.events(spark_con), timezone=ws.timezone, min_followers=2)
    problems = []
    for name, expr in tables.items():
        have = [(f.name, str(f.type)) for f in expr.schema().to_pyarrow()]
        problems += _type_differences("spark", schemas[f"tables/kpis_{name}"], have, f"tables/kpis_{name}")
    assert not problems, "\n".join(problems)
    assert len(tables) >= 20


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
