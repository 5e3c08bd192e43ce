"""Compaction of the event log's small files (trustecon.partitions.compact): the stored events are the
same rows before and after, deduplication keeps working, a crash leaves the workspace before or after,
a second compaction does nothing, and a trust build reads the same log either way. Replaced files are
retired (trustecon.retention): a reader that listed them before the commit still reads them, and a
write after the retention (an injected clock, no sleeps) deletes them."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trustecon.cli import app
from trustecon.events import SCHEMA
from trustecon.partitions import STORED_SCHEMA, _groups
from trustecon.store import Workspace

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[1]


def _ev(eid: str, day: int, minute: int, **fields: Any) -> dict[str, Any]:
    row = {"event_id": eid, "ts": T0 + dt.timedelta(days=day, minutes=minute), "kind": "like", "user_id": 1,
           "creator_id": 2}
    return row | fields


def _batch(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([("event_id", "ascending")])


def _on_disk(ws: Workspace, area: str) -> set[str]:
    return {str(p.relative_to(ws.path)) for p in (ws.path / area).rglob("*.parquet")}


def _retired(ws: Workspace, area: str = "") -> set[str]:
    return {r["file"] for r in ws.manifest().get("retired", []) if r["file"].startswith(area)}


def _build_tiny(path: Path) -> Workspace:
    """3 days x 5 single-event appends, minutes in reverse order of appending (so sorting shows), a
    mix of kinds and nulls, and two appends with a bad row each (two quarantine files)."""
    ws = Workspace.init(path)
    for day in range(3):
        for i in range(5):
            extra = {"kind": "order", "order_id": 100 * day + i, "amount": 1.5 * i} if i % 2 else {"surface": "live"}
            ws.append(_batch(_ev(f"d{day}-{i}", day, 50 - i, **extra)))
    ws.append(_batch(_ev("bad1", 0, 1, kind="teleport")))
    ws.append(_batch(_ev("bad2", 1, 1, kind="order")))  # an order without order_id or amount
    return ws


@pytest.fixture(scope="module")
def _tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_tiny(tmp_path_factory.mktemp("tiny") / "ws").path


@pytest.fixture()
def tiny(_tiny_template: Path, tmp_path: Path) -> Callable[[str], Workspace]:
    """A fresh copy of the tiny workspace (built once per module: 17 appends cost ~1 s)."""

    def make(name: str = "ws") -> Workspace:
        shutil.copytree(_tiny_template, tmp_path / name)
        return Workspace.open(tmp_path / name)

    return make


# ------------------------------------------------------------------------------- known answers
def test_three_days_of_five_tiny_files_become_three_sorted_files(tiny: Callable[..., Workspace]) -> None:
    ws = tiny()
    ws.write_table("pair_trust", pa.table({"user_id": [1], "trust": [0.5]}))
    before, quarantine = ws.events_arrow(), ws.quarantine_arrow()
    m0 = ws.manifest()
    assert len(m0["events"]) == 15 and len(m0["quarantine"]) == 2

    res = ws.compact()

    assert res.as_dict() | {"seconds": 0} == {
        "changed": True, "files_before": 15, "files_after": 3, "rows_rewritten": 15, "partitions": 3,
        "days": ["2024-03-01", "2024-03-02", "2024-03-03"], "quarantine_files_before": 2,
        "quarantine_files_after": 1, "quarantine_rows_rewritten": 2, "seconds": 0,
    }
    m = ws.manifest()
    assert [f.split("/")[1] for f in m["events"]] == ["day=2024-03-01", "day=2024-03-02", "day=2024-03-03"]
    after = ws.events_arrow()
    assert after.schema == STORED_SCHEMA == before.schema
    assert _sorted(after).equals(_sorted(before))  # every column, every row, day included
    assert ws.quarantine_arrow().equals(quarantine)  # same rows in the same order
    for f in m["events"]:
        t = pq.read_table(ws.path / f, schema=STORED_SCHEMA)
        day = int(f.split("day=2024-03-0")[1][0]) - 1
        # Appended at minutes 50, 49, ..., 46: stored by (ts, event_id), so ids run backwards.
        assert t["event_id"].to_pylist() == [f"d{day}-{i}" for i in (4, 3, 2, 1, 0)]
        assert m["id_ranges"][f] == [f"d{day}-0", f"d{day}-4"]
        assert pq.read_metadata(ws.path / f).row_group(0).column(1).statistics.has_min_max  # ts stats kept
    assert set(m["id_ranges"]) == set(m["events"]) and m["counts"] == m0["counts"]
    assert m["tables"] == m0["tables"] and m["truth"] == m0["truth"]  # derived tables untouched
    # The replaced files are retired (kept for readers that listed them), not listed to readers.
    assert _retired(ws, "events/") == set(m0["events"]) and _retired(ws, "quarantine/") == set(m0["quarantine"])
    assert _on_disk(ws, "events") == set(m["events"]) | set(m0["events"])
    assert not (ws.path / ".staging").exists() or not any((ws.path / ".staging").iterdir())
    assert sorted(ws.purge_retired(0)) == sorted(m0["events"] + m0["quarantine"])
    assert _on_disk(ws, "events") == set(m["events"]) and _on_disk(ws, "quarantine") == set(m["quarantine"])
    assert ws.manifest()["retired"] == [] and ws.events_arrow().equals(after)


def test_dedup_after_compaction(tiny: Callable[..., Workspace]) -> None:
    ws = tiny()
    ws.compact()
    stored = _sorted(ws.events_arrow())
    again = ws.append(_batch(_ev("d1-2", 1, 48, surface="live"), _ev("d2-3", 2, 47, user_id=99)))
    assert (again.added, again.duplicates, again.conflicts, again.quarantined) == (0, 1, 1, 1)
    assert _sorted(ws.events_arrow()).equals(stored)
    assert "conflict" in ws.quarantine_arrow()["reason"][-1].as_py()


def test_target_rows_groups_consecutive_files_and_leaves_large_ones(tiny: Callable[..., Workspace],
                                                                   tmp_path: Path) -> None:
    ws = tiny()
    res = ws.compact(target_rows=4, quarantine=False)
    # Each day: files of 1 row; 1+1+1+1 = 4 fits, the fifth does not -> one 4-row file + the fifth as is.
    assert (res.files_before, res.files_after, res.rows_rewritten) == (15, 6, 12)
    assert sorted(pq.read_metadata(ws.path / f).num_rows for f in ws.manifest()["events"]) == [1, 1, 1, 4, 4, 4]
    assert len(ws.manifest()["quarantine"]) == 2
    assert not ws.compact(target_rows=4, quarantine=False).changed
    assert not Workspace.init(tmp_path / "few").compact().changed  # an empty log: nothing to do
    assert not tiny("ws2").compact(min_files=6, quarantine=False).changed  # 5 per day


def test_groups_known_answer_and_bad_options(ws: Workspace) -> None:
    assert _groups([8, 5, 5, 1], 10) == [[0], [1, 2], [3]]
    assert _groups([3, 12, 2, 2], 10) == [[0], [1], [2, 3]]  # a file over target stands alone
    with pytest.raises(ValueError, match="target_rows"):
        ws.compact(target_rows=0)
    with pytest.raises(ValueError, match="min_files"):
        ws.compact(min_files=1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 30), max_size=30), st.integers(1, 40))
def test_groups_are_idempotent(rows: list[int], target: int) -> None:
    groups = _groups(rows, target)
    assert [i for g in groups for i in g] == list(range(len(rows)))  # consecutive, each file once
    assert all(len(g) == 1 or sum(rows[i] for i in g) <= target for g in groups)
    sums = [sum(rows[i] for i in g) for g in groups]
    assert all(len(g) == 1 for g in _groups(sums, target))  # cutting the result again merges nothing


def test_second_compaction_does_nothing(tiny: Callable[..., Workspace]) -> None:
    ws = tiny()
    ws.compact()
    m = ws.manifest()
    res = ws.compact()
    assert not res.changed and (res.files_before, res.files_after, res.rows_rewritten) == (3, 3, 0)
    assert ws.manifest() == m  # not even a new version
    ws.append(_batch(_ev("late", 0, 5)))  # a new small file joins its day's compacted one next time
    res = ws.compact()
    assert (res.files_before, res.files_after, res.days) == (4, 3, ["2024-03-01"])


# ------------------------------------------------------- property: compaction is invisible to appends
def _rows(draw: Any, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        k = draw(st.integers(0, 11))  # a small id pool: repeats (duplicates) and conflicts are common
        user = draw(st.sampled_from([1, 1, 1, 2]))  # same id, another user: a conflict
        out.append(_ev(f"e{k:02d}", k % 3, k, user_id=user))
    return out


batches = st.composite(lambda draw: [_rows(draw, draw(st.integers(1, 4))) for _ in range(draw(st.integers(2, 5)))])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bs=batches(), cut=st.integers(1, 4))
def test_compact_then_append_equals_append(tmp_path_factory: pytest.TempPathFactory, bs: list, cut: int) -> None:
    cut = min(cut, len(bs) - 1)
    a = Workspace.init(tmp_path_factory.mktemp("a") / "ws")
    b = Workspace.init(tmp_path_factory.mktemp("b") / "ws")
    for i, rows in enumerate(bs[:cut]):
        a.append(_batch(*rows), file=f"b{i}")
        b.append(_batch(*rows), file=f"b{i}")
    stored = _sorted(a.events_arrow())
    a.compact(target_rows=3)
    assert _sorted(a.events_arrow()).equals(stored)
    for i, rows in enumerate(bs[cut:], cut):
        ra = a.append(_batch(*rows), file=f"b{i}")
        rb = b.append(_batch(*rows), file=f"b{i}")
        assert ra.as_dict() == rb.as_dict()
    assert _sorted(a.events_arrow()).equals(_sorted(b.events_arrow()))
    qa, qb = (w.quarantine_arrow().to_pylist() for w in (a, b))
    assert sorted(map(str, qa)) == sorted(map(str, qb))
    assert a.event_count() == b.event_count() == a.events_arrow().num_rows


# ----------------------------------------------------------------------- crash at each fault point
# Compact, then delete the retired files at once: the compaction deletes nothing, so the mid-deletes
# point falls in the purge (the first three fall in the compaction).
_COMPACT = "import sys; from trustecon.store import Workspace; ws = Workspace.open(sys.argv[1]); ws.compact(); " \
    "ws.purge_retired(0)"


@pytest.mark.parametrize("point", ["before-journal", "after-journal", "mid-moves", "mid-deletes"])
def test_crash_leaves_before_or_after(tiny: Callable[..., Workspace], point: str) -> None:
    ws = tiny()
    events, quarantine = _sorted(ws.events_arrow()), ws.quarantine_arrow()
    files_before = ws.manifest()["events"]
    env = {**os.environ, "TRUSTECON_CRASH_AT": point}
    proc = subprocess.run([sys.executable, "-c", _COMPACT, str(ws.path)], env=env, cwd=REPO, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-500:]
    # A reader that does not recover (no lock, no journal replay) sees every listed file and the same rows.
    raw = json.loads((ws.path / "manifest.json").read_text())
    assert all((ws.path / f).exists() for f in raw["events"] + raw["quarantine"])
    assert len(raw["events"]) == (15 if point in ("before-journal", "after-journal", "mid-moves") else 3)
    assert _sorted(ws.events_arrow()).equals(events)
    if point == "mid-deletes":  # the manifest without them was replaced before the first deletion
        assert raw["retired"] == [] and sum(not (ws.path / f).exists() for f in files_before) == 1
    ws = Workspace.open(ws.path)  # rolls back (before the journal) or forward
    m = ws.manifest()
    if point == "before-journal":
        assert m["events"] == files_before
    else:
        assert len(m["events"]) == 3
    assert _sorted(ws.events_arrow()).equals(events) and ws.quarantine_arrow().equals(quarantine)
    retired = _retired(ws, "events/")
    assert retired == (set() if point in ("before-journal", "mid-deletes") else set(files_before))
    assert _on_disk(ws, "events") == set(m["events"]) | retired and set(m["id_ranges"]) == set(m["events"])
    assert not list((ws.path / ".journal").glob("*.json"))
    assert not (ws.path / ".staging").exists()
    ws.compact()  # completes (or finds done) the compaction; dedup works afterwards
    ws.purge_retired(0)
    assert len(ws.manifest()["events"]) == 3 and _sorted(ws.events_arrow()).equals(events)
    assert _on_disk(ws, "events") == set(ws.manifest()["events"])
    assert ws.append(_batch(_ev("d0-0", 0, 50, surface="live"))).duplicates == 1


# ------------------------------------------------------------- retention: in-flight readers, expiry
class Clock:
    """An injected clock (``Workspace.clock``): seconds since the epoch, moved by hand."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_reader_that_listed_before_a_compaction_reads_the_same_rows(tiny: Callable[..., Workspace]) -> None:
    import duckdb

    from trustecon.engine import connect

    ws = tiny()
    ws.clock = clock = Clock()
    ws.write_table("pair_trust", pa.table({"user_id": [1, 2], "trust": [0.5, 0.25]}))
    expected, quarantine = _sorted(ws.events_arrow()), ws.quarantine_arrow()
    # Three readers resolve their files now: a listed path set, a table's parts, a lazy DuckDB relation.
    listed = ws.event_files()
    q_listed = [str(ws.path / f) for f in ws.manifest()["quarantine"]]
    parts = ws.table_files("pair_trust")
    lazy = ws.events(connect("duckdb"))
    assert ws.compact().files_after == 3
    ws.write_table("pair_trust", pa.table({"user_id": [3], "trust": [0.75]}))  # replaces the table's parts
    clock.t += 599.0  # a write inside the retention deletes nothing
    ws.append(_batch(_ev("new", 0, 1)))
    assert set(listed).isdisjoint(ws.event_files())  # the readers' files are not listed any more ...
    read = pa.concat_tables([pq.read_table(f, schema=STORED_SCHEMA) for f in listed])  # ... and still read
    assert _sorted(read).equals(expected)
    assert pa.concat_tables([pq.read_table(f) for f in q_listed]).equals(quarantine)
    assert pa.concat_tables([pq.read_table(f) for f in parts]).to_pydict() == {"user_id": [1, 2], "trust": [0.5, 0.25]}
    assert _sorted(lazy.to_pyarrow()).to_pylist() == expected.to_pylist()  # every column of every row
    # At the retention a write deletes them: after the manifest without them is committed.
    clock.t += 1.0
    ws.append(_batch(_ev("newer", 0, 2)))
    assert not any(Path(f).exists() for f in listed + q_listed + parts)
    assert ws.manifest()["retired"] == [] and ws.events_arrow().num_rows == expected.num_rows + 2
    with pytest.raises(duckdb.IOException):  # a reader past the retention is not protected
        lazy.to_pyarrow()


def test_retired_files_go_after_the_retention(tiny: Callable[..., Workspace]) -> None:
    ws = tiny()
    ws.clock = clock = Clock()
    old = set(ws.manifest()["events"] + ws.manifest()["quarantine"])
    ws.compact()
    m = ws.manifest()
    assert {r["retired_at"] for r in m["retired"]} == {"2023-11-14T22:13:20.000000+00:00"}  # the clock's instant
    assert {r["file"] for r in m["retired"]} == old and all((ws.path / f).exists() for f in old)
    clock.t += 10_000
    assert all((ws.path / f).exists() for f in old)  # time alone deletes nothing: a write does
    version = m["version"]
    # A write transaction with nothing else to commit still commits the deletion (a new version).
    ws.write_table("t", pa.table({"x": [1]}))
    ws.write_table("t", pa.table({"x": [2]}))  # its first parts are retired at this instant
    assert not any((ws.path / f).exists() for f in old) and ws.manifest()["version"] == version + 2
    assert _retired(ws) and all(f.startswith("tables/t/") for f in _retired(ws))
    ws.set_config("store", {"retention_seconds": 30})  # trustecon.toml, read on each transaction
    clock.t += 29
    assert ws.purge_retired() == [] and _retired(ws)
    clock.t += 1
    assert ws.purge_retired() != [] and not _retired(ws)
    assert ws.read_table("t").to_pydict() == {"x": [2]}


def test_retention_setting_errors(tiny: Callable[..., Workspace]) -> None:
    from trustecon.store import WorkspaceError

    ws = tiny()
    with pytest.raises(ValueError, match="retention: must be >= 0"):
        ws.purge_retired(-1)
    for bad in ("ten", -5, True):
        ws.set_config("store", {"retention_seconds": bad})
        with pytest.raises(WorkspaceError, match=r"trustecon.toml: \[store\] retention_seconds: expected a number"):
            Workspace.open(ws.path)


def test_events_version_moves_with_the_log_not_with_compaction(tiny: Callable[..., Workspace]) -> None:
    ws = tiny()
    v = ws.events_version()
    ws.compact()
    ws.write_table("pair_trust", pa.table({"x": [1]}))
    assert ws.events_version() == v  # same rows in other files; a table is not the log
    ws.append(_batch(_ev("d0-0", 0, 50, surface="live")))  # an exact duplicate: nothing committed
    assert ws.events_version() == v
    ws.append(_batch(_ev("bad3", 0, 1, kind="teleport")))  # a rejection changes quarantine
    assert ws.events_version() == v + 1
    ws.append(_batch(_ev("fresh", 0, 1)))
    assert ws.events_version() == v + 2
    # A manifest written before events_version: it reads as version, and a compaction keeps it.
    ws2 = tiny("old")
    m = json.loads((ws2.path / "manifest.json").read_text())
    del m["events_version"], m["retired"]
    (ws2.path / "manifest.json").write_text(json.dumps(m))
    assert ws2.events_version() == m["version"]
    ws2.compact()
    assert ws2.events_version() == m["version"] and ws2.manifest()["version"] == m["version"] + 1


_APPEND = (
    "import sys, datetime as dt, pyarrow as pa; from trustecon.events import SCHEMA; "
    "from trustecon.store import Workspace; ws = Workspace.open(sys.argv[1]); "
    "ws.append(pa.Table.from_pylist([{'event_id': 'late', 'ts': dt.datetime(2024, 3, 1, tzinfo=dt.UTC), "
    "'kind': 'like', 'user_id': 1, 'creator_id': 2}], schema=SCHEMA))"
)


@pytest.mark.parametrize("point", ["before-journal", "after-journal", "mid-moves", "mid-deletes"])
def test_crash_in_a_write_that_deletes_retired_files(tiny: Callable[..., Workspace], point: str) -> None:
    ws = tiny()
    ws.set_config("store", {"retention_seconds": 0})  # the next write deletes what compaction retired
    ws.compact()
    m0, rows = ws.manifest(), ws.events_arrow().num_rows
    retired = _retired(ws)
    assert len(retired) == 17
    env = {**os.environ, "TRUSTECON_CRASH_AT": point}
    proc = subprocess.run([sys.executable, "-c", _APPEND, str(ws.path)], env=env, cwd=REPO, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-500:]
    raw = json.loads((ws.path / "manifest.json").read_text())
    assert all((ws.path / f).exists() for f in raw["events"] + raw["quarantine"])
    if raw["retired"]:  # the manifest still names them: none is gone yet
        assert all((ws.path / f).exists() for f in retired)
    ws = Workspace.open(ws.path)
    m = ws.manifest()
    if point == "before-journal":  # before: the batch absent, the retired files listed and on disk
        assert m == m0 and all((ws.path / f).exists() for f in retired)
    else:  # after: the batch in, every retired file gone
        assert ws.events_arrow().num_rows == rows + 1 and m["retired"] == []
        assert not any((ws.path / f).exists() for f in retired)
    assert _on_disk(ws, "events") == set(m["events"]) | _retired(ws, "events/")
    assert not list((ws.path / ".journal").glob("*.json"))


# -------------------------------------------------------------------- a build reads the same log
def _shop_rows(seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for n in range(300):
        u, c, day = int(rng.integers(10, 30)), int(rng.integers(1, 5)), int(rng.integers(0, 6))
        base = {"event_id": f"s{n:04d}", "ts": T0 + dt.timedelta(days=day, seconds=int(rng.integers(0, 86_400))),
                "user_id": u, "creator_id": c}
        kind = rng.choice(["view", "like", "follow", "order", "refund"], p=[0.5, 0.2, 0.1, 0.15, 0.05])
        if kind == "view":
            rows.append(base | {"kind": "view", "content_id": c * 10, "watch_ms": int(rng.integers(100, 2000)),
                                "duration_ms": 2000})
        elif kind in ("order", "refund"):
            rows.append(base | {"kind": str(kind), "order_id": n if kind == "order" else n - 1, "product_id": c,
                                "amount": float(rng.integers(1, 90)), "brand_id": 7})
        else:
            rows.append(base | {"kind": str(kind)})
    return rows


def test_build_on_compacted_workspace_gives_the_same_pair_trust(tmp_path: Path) -> None:
    from trustecon.trust.build import build

    ws = Workspace.init(tmp_path / "ws")
    rows = _shop_rows(3)
    for i in range(0, len(rows), 10):  # 30 appends of 10 rows over 6 days: ~180 small files
        ws.append(_batch(*rows[i : i + 10]))
    n_files = len(ws.event_files())
    build(ws)
    key = [("user_id", "ascending"), ("creator_id", "ascending")]
    before = ws.read_table("pair_trust").sort_by(key)
    assert before.num_rows > 20
    assert ws.compact().files_after == 6 < n_files
    build(ws)
    after = ws.read_table("pair_trust").sort_by(key)
    assert after.schema == before.schema and after.num_rows == before.num_rows
    for name in before.column_names:
        x, y = before[name].to_numpy(zero_copy_only=False), after[name].to_numpy(zero_copy_only=False)
        if pa.types.is_floating(before.schema.field(name).type):
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-15, err_msg=name)  # sums in another order
        else:
            assert (x == y).all(), name


# ----------------------------------------------------------------------------------------------- CLI
def test_cli_compact(tiny: Callable[..., Workspace], tmp_path: Path) -> None:
    runner = CliRunner()
    ws = tiny()
    res = runner.invoke(app, ["compact", str(ws.path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["files_before"], out["files_after"], out["rows_rewritten"], out["partitions"]) == (15, 3, 15, 3)
    again = json.loads(runner.invoke(app, ["compact", str(ws.path), "--json"]).stdout)
    assert out["changed"] is True and again["changed"] is False and again["files_after"] == 3
    res = runner.invoke(app, ["compact", str(ws.path)])
    assert res.exit_code == 0 and res.stdout.startswith("nothing to compact: 3 event files"), res.output
    for args, msg in [
        ([str(tmp_path / "missing")], "not a trustecon workspace"),
        ([str(tmp_path)], "not a trustecon workspace"),
        ([str(ws.path), "--target-rows", "0"], "--target-rows: must be >= 1"),
        ([str(ws.path), "--min-files", "1"], "--min-files: must be >= 2"),
    ]:
        res = runner.invoke(app, ["compact", *args])
        text = " ".join(res.output.split())  # rich wraps at the test terminal's 80 columns
        assert res.exit_code == 2 and text.startswith("error: ") and msg in text, res.output
        assert "Traceback" not in res.output and text.count("error:") == 1


def test_cli_compact_some_days(tiny: Callable[..., Workspace]) -> None:
    # --day: only those local days (5 small files each in the tiny workspace); the third day untouched.
    ws = tiny()
    args = ["compact", str(ws.path), "--json", "--day", "2024-03-01", "--day", "2024-03-03"]
    out = json.loads(CliRunner().invoke(app, args).stdout)
    assert (out["days"], out["files_before"], out["files_after"], out["rows_rewritten"]) == (
        ["2024-03-01", "2024-03-03"], 15, 7, 10)
    assert sum("day=2024-03-02" in f for f in ws.manifest()["events"]) == 5
    for bad in ("2024-3-1", "20240301", "yesterday"):
        res = CliRunner().invoke(app, ["compact", str(ws.path), "--day", bad])
        assert res.exit_code == 2 and f"--day: {bad!r} is not a date YYYY-MM-DD" in " ".join(res.output.split())


def test_cli_compact_purge_now(tiny: Callable[..., Workspace]) -> None:
    ws = tiny()
    res = CliRunner().invoke(app, ["compact", str(ws.path), "--json", "--purge-now"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["purged_files"] == 17  # 15 event files, 2 quarantine files
    assert _on_disk(ws, "events") == set(ws.manifest()["events"]) and not _retired(ws)
    res = CliRunner().invoke(app, ["compact", str(ws.path), "--purge-now"])
    assert res.stdout.splitlines()[-1] == "deleted 0 retired files now (--purge-now)", res.output


def test_cli_compact_summary_line(tiny: Callable[..., Workspace]) -> None:
    ws = tiny()
    res = CliRunner().invoke(app, ["compact", str(ws.path), "--target-rows", "4"])
    assert res.exit_code == 0, res.output
    line = " ".join(res.stdout.split())  # rich wraps at the test terminal's 80 columns
    assert re.fullmatch(
        r"compacted 15 event files into 6 \(12 rows rewritten in 3 day partitions; quarantine 2 -> 1 files\) "
        r"in \d+\.\d\d s", line), line
