"""`trustecon check` / :func:`trustecon.verify.verify`: a healthy workspace has no finding; each way of
breaking one from outside is found by its check, at the right place, and nothing is written."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from trustecon.cli import app
from trustecon.events import SCHEMA
from trustecon.store import Workspace
from trustecon.verify import verify

T0 = dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)


def _rows(prefix: str, day: int, n: int = 3) -> pa.Table:
    rows = [{"event_id": f"{prefix}{i}", "ts": T0 + dt.timedelta(days=day, minutes=i), "kind": "follow",
             "user_id": i + 1, "creator_id": 100} for i in range(n)]
    rows.append({"event_id": f"{prefix}o", "ts": T0 + dt.timedelta(days=day, hours=1), "kind": "order",
                 "user_id": 1, "creator_id": 100, "order_id": 1000 + day, "amount": 9.5})
    return pa.Table.from_pylist(rows, schema=SCHEMA)


@pytest.fixture(scope="module")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = Workspace.init(tmp_path_factory.mktemp("verify") / "ws")
    for day, prefix in ((0, "a"), (1, "b"), (2, "c")):
        ws.append(_rows(prefix, day))
    ws.write_table("pair_trust", pa.table({"user_id": [1, 2], "trust": [0.5, 0.7]}))
    return ws.path


@pytest.fixture
def fresh(_template: Path, tmp_path: Path) -> Callable[[], Workspace]:
    def make() -> Workspace:
        return Workspace.open(shutil.copytree(_template, tmp_path / f"ws{len(list(tmp_path.iterdir()))}"))

    return make


def _edit_manifest(ws: Workspace, fn: Callable[[dict], None]) -> None:
    path = ws.path / "manifest.json"
    m = json.loads(path.read_text())
    fn(m)
    path.write_text(json.dumps(m))


def _found(ws: Workspace) -> set[tuple[str, str, str]]:
    return {(f.severity, f.check, f.where) for f in verify(Workspace.open(ws.path)).findings}


def test_a_healthy_workspace_has_no_finding(fresh: Callable[[], Workspace]) -> None:
    ws = fresh()
    before = (ws.path / "manifest.json").read_text()
    res = verify(ws)
    assert res.ok and res.findings == [] and (res.files, res.events) == (4, 12)  # 3 event files + 1 table part
    assert (ws.path / "manifest.json").read_text() == before  # reads only


def test_each_break_is_found_where_it_is(fresh: Callable[[], Workspace]) -> None:
    # A listed event file deleted; a table part truncated.
    ws = fresh()
    first = ws.manifest()["events"][0]
    (ws.path / first).unlink()
    part = ws.manifest()["tables"]["pair_trust"][0]
    (ws.path / part).write_bytes((ws.path / part).read_bytes()[:40])
    assert _found(ws) == {("error", "files", first), ("error", "files", part)}

    # The manifest's event count edited.
    ws = fresh()
    _edit_manifest(ws, lambda m: m["counts"].update(events=13))
    assert _found(ws) == {("error", "counts", "manifest.json")}

    # A recorded id range that no longer covers the file's ids (dedup would miss a repeat).
    ws = fresh()
    f = ws.manifest()["events"][1]
    _edit_manifest(ws, lambda m: m["id_ranges"].update({f: ["b0", "b1"]}))  # the file holds b0..bo
    assert _found(ws) == {("error", "id_ranges", f)}

    # A file copied in beside itself and listed: every id of it twice.
    ws = fresh()
    f = ws.manifest()["events"][2]
    copy = f.replace(".parquet", "-copy.parquet")
    shutil.copy(ws.path / f, ws.path / copy)

    def add_copy(m: dict) -> None:
        m["events"].append(copy)
        m["id_ranges"][copy] = m["id_ranges"][f]
        m["counts"]["events"] += 4

    _edit_manifest(ws, add_copy)
    assert _found(ws) == {("error", "duplicates", e) for e in ("c0", "c1", "c2", "co")}

    # A day's file moved into another day's folder (readers prune folders by date).
    ws = fresh()
    f = ws.manifest()["events"][0]
    moved = f.replace("day=2024-03-01", "day=2024-03-02").replace(".parquet", "-moved.parquet")
    (ws.path / moved).parent.mkdir(exist_ok=True)
    shutil.move(ws.path / f, ws.path / moved)

    def rename(m: dict) -> None:
        m["events"] = [moved if x == f else x for x in m["events"]]
        m["id_ranges"][moved] = m["id_ranges"].pop(f)

    _edit_manifest(ws, rename)
    assert _found(ws) == {("error", "days", moved)}


def test_warnings_order_owners_and_stray_files(fresh: Callable[[], Workspace]) -> None:
    ws = fresh()
    # An order whose lines name two buyers, written without the ingest check (as a loader would).
    two = pa.Table.from_pylist([
        {"event_id": "x1", "ts": T0, "kind": "order", "user_id": 5, "creator_id": 100, "order_id": 77, "amount": 1.0},
        {"event_id": "x2", "ts": T0, "kind": "order", "user_id": 6, "creator_id": 101, "order_id": 77, "amount": 1.0},
    ], schema=SCHEMA)
    assert ws.append(two).added == 2
    stray = ws.path / "tables" / "old_table" / "part-0.parquet"
    stray.parent.mkdir(parents=True)
    shutil.copy(ws.path / ws.manifest()["tables"]["pair_trust"][0], stray)
    res = verify(Workspace.open(ws.path))
    assert res.ok  # warnings only
    got = {(f.severity, f.check, f.where): f.message for f in res.findings}
    assert set(got) == {("warning", "orders", "order_id 77"), ("warning", "stray", "tables/old_table/part-0.parquet")}
    assert got[("warning", "orders", "order_id 77")].startswith("rows name buyers 5, 6 and sellers 100, 101")


def test_cli_check(fresh: Callable[[], Workspace]) -> None:
    runner = CliRunner()
    ws = fresh()
    res = runner.invoke(app, ["check", str(ws.path)])
    assert res.exit_code == 0 and res.output.startswith("ok: 4 files and 12 events checked"), res.output
    _edit_manifest(ws, lambda m: m["counts"].update(events=99))
    res = runner.invoke(app, ["check", str(ws.path), "--json"])
    out = json.loads(res.stdout)
    assert res.exit_code == 1 and (out["ok"], out["errors"], out["warnings"]) == (False, 1, 0)
    assert out["findings"][0]["message"] == "counts.events is 99 but the event files hold 12 rows"
    res = runner.invoke(app, ["check", str(ws.path)])
    assert res.exit_code == 1 and "NOT OK" in res.output and "counts" in res.output
