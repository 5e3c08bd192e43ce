"""Ingest and the store: validation reasons, idempotence, quarantine, crash safety, engines agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustecon.events import REQUIRED, SCHEMA, validate
from trustecon.ingest import ingest_files
from trustecon.store import Workspace, WorkspaceError

MIXED = """event_id,ts,kind,user_id,creator_id,content_id,amount,order_id
e1,2024-03-01T10:00:00Z,view,1,2,3,,
e2,2024-03-01T10:00:01Z,bogus,1,2,3,,
e3,2024-03-01T10:00:02Z,like,,2,,,
e4,notatime,like,1,2,,,
e5,2024-03-01T10:00:03Z,order,1,2,,-5,9
e6,2024-03-01T10:00:04Z,like,abc,2,,,
e7,2024-03-02T10:00:04Z,order,1,2,,12.5,9
e8,2024-03-02T10:00"""

# Line numbers (header = line 1) and the reason each bad line must carry.
EXPECTED_BAD = {
    3: ("kind", "unknown kind"),
    4: ("user_id", "missing required field user_id for like"),
    5: ("ts", "unparsable time"),
    6: ("amount", "amount must be >= 0"),
    7: ("user_id", "wrong type: expected an integer"),
    9: (None, "malformed line: expected 8 fields, found 2"),
}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_mixed_file_lands_every_good_row_and_quarantines_every_bad_one(ws, tmp_path, duck_con):
    f = write(tmp_path / "mixed.csv", MIXED)
    report = ingest_files(ws, [f])
    assert report.total.read == 8
    assert report.total.added == 2
    assert report.total.quarantined == 6
    ids = sorted(ws.events(duck_con).event_id.execute().tolist())
    assert ids == ["e1", "e7"]
    q = {r["row"]: r for r in ws.quarantine_arrow().to_pylist()}
    assert set(q) == set(EXPECTED_BAD)
    for row, (field, reason) in EXPECTED_BAD.items():
        assert q[row]["file"] == str(f)
        assert q[row]["field"] == field
        assert reason in q[row]["reason"]
    # The raw row is kept so nothing that was sent is lost.
    assert json.loads(q[6]["raw"])["amount"] == "-5"


def test_ingesting_twice_changes_nothing_duckdb(ws, tmp_path, duck_con):
    f = write(tmp_path / "mixed.csv", MIXED)
    first = ingest_files(ws, [f])
    again = ingest_files(ws, [f])
    assert again.total.added == 0 and again.total.duplicates == 2
    assert again.total.quarantined == 0  # the same rejections are not repeated ...
    assert again.total.already_quarantined == first.total.quarantined == 6  # ... but counted
    t = again.total
    assert t.read == t.added + t.duplicates + t.quarantined + t.already_quarantined  # every row accounted for
    assert ws.events(duck_con).count().execute() == 2
    assert ws.quarantine_arrow().num_rows == 6


@pytest.mark.spark
def test_ingesting_twice_changes_nothing_spark(ws, tmp_path, spark_con):
    f = write(tmp_path / "mixed.csv", MIXED)
    ingest_files(ws, [f])
    ingest_files(ws, [f])
    assert ws.events(spark_con).count().execute() == 2


def test_conflicting_event_id_goes_to_quarantine_and_stored_event_stays(ws, duck_con):
    ws.append(
        pa.table(
            {
                "event_id": ["a"],
                "ts": ["2024-01-01T00:00:00Z"],
                "kind": ["follow"],
                "user_id": ["1"],
                "creator_id": ["2"],
            }
        )
    )
    res = ws.append(
        pa.table(
            {
                "event_id": ["a"],
                "ts": ["2024-01-01T00:00:00Z"],
                "kind": ["unfollow"],
                "user_id": ["1"],
                "creator_id": ["2"],
            }
        ),
        file="second",
    )
    assert res.conflicts == 1 and res.added == 0
    assert ws.events(duck_con).kind.execute().tolist() == ["follow"]
    (q,) = ws.quarantine_arrow().to_pylist()
    assert q["file"] == "second" and q["row"] == 1 and "conflict" in q["reason"]


def test_duplicates_inside_one_batch_are_one_event(ws, duck_con):
    row = {"event_id": "a", "ts": "2024-01-01T00:00:00Z", "kind": "like", "user_id": "1", "creator_id": "2"}
    res = ws.append(pa.Table.from_pylist([row, row, row]))
    assert (res.added, res.duplicates) == (1, 2)


def test_jsonl_and_parquet_ingest(ws, tmp_path, duck_con):
    lines = [
        json.dumps({"event_id": "j1", "ts": "2024-01-01T00:00:00Z", "kind": "like", "user_id": 1, "creator_id": 2}),
        "{not json",
        json.dumps(
            {"event_id": "j2", "ts": 1704067200000, "kind": "gift", "user_id": 1, "creator_id": 2, "amount": 3.5}
        ),
    ]
    j = write(tmp_path / "e.jsonl", "\n".join(lines) + "\n")
    p = tmp_path / "e.parquet"
    pq.write_table(
        pa.table(
            {
                "event_id": ["p1"],
                "ts": pa.array([0], pa.timestamp("us", tz="UTC")),
                "kind": ["notice"],
                "creator_id": pa.array([7], pa.int64()),
            }
        ),
        p,
    )
    report = ingest_files(ws, [j, p])
    assert report.total.added == 3
    (bad,) = ws.quarantine_arrow().to_pylist()
    assert bad["row"] == 2 and bad["reason"].startswith("malformed JSON")
    got = ws.events(duck_con).order_by("event_id").execute()
    assert got.event_id.tolist() == ["j1", "j2", "p1"]
    assert got.amount.tolist()[1] == 3.5
    # epoch milliseconds and ISO strings give the same instant
    assert got.ts.iloc[0] == got.ts.iloc[1]


def test_unreadable_files_are_reported_and_others_land(ws, tmp_path):
    good = write(tmp_path / "good.csv", "event_id,ts,kind,creator_id\nn1,2024-01-01,notice,5\n")
    empty = write(tmp_path / "empty.csv", "")
    odd = write(tmp_path / "x.xml", "<a/>")
    report = ingest_files(ws, [good, empty, odd, tmp_path / "missing.csv"])
    assert report.total.added == 1
    assert set(report.errors) == {str(empty), str(odd), str(tmp_path / "missing.csv")}


def test_days_are_cut_in_the_workspace_time_zone(tmp_path, duck_con):
    ws = Workspace.init(tmp_path / "sh", timezone="Asia/Shanghai")
    # 2024-01-01 20:00 UTC is 2024-01-02 04:00 in Shanghai.
    ws.append(pa.table({"event_id": ["x"], "ts": ["2024-01-01T20:00:00Z"], "kind": ["notice"], "creator_id": ["1"]}))
    assert str(ws.events(duck_con).day.execute().iloc[0])[:10] == "2024-01-02"
    assert any("day=2024-01-02" in f for f in ws.event_files())


def test_workspace_refuses_bad_settings(tmp_path):
    with pytest.raises(WorkspaceError, match="timezone"):
        Workspace.init(tmp_path / "a", timezone="Mars/Olympus")
    with pytest.raises(WorkspaceError, match="currency"):
        Workspace.init(tmp_path / "b", currency="yuan")
    with pytest.raises(WorkspaceError, match="not a trustecon workspace"):
        Workspace.open(tmp_path)


def test_derived_table_is_replaced_whole(ws):
    ws.write_table("pair_trust", pa.table({"user_id": [1], "trust": [0.5]}))
    first = ws.table_files("pair_trust")
    ws.write_table("pair_trust", pa.table({"user_id": [1, 2], "trust": [0.6, 0.7]}))
    assert ws.read_table("pair_trust").num_rows == 2
    assert all(Path(f).exists() for f in first)  # retired: readers that listed them still read them
    ws.purge_retired(0)
    assert not any(Path(f).exists() for f in first)


# ---------------------------------------------------------------- crash safety (SIGKILL mid-commit)


def _big_csv(path: Path, n: int) -> Path:
    with open(path, "w") as fh:
        fh.write("event_id,ts,kind,user_id,creator_id,content_id,watch_ms,duration_ms\n")
        for i in range(n):
            # Spread over 30 days so one commit moves many partition files.
            fh.write(f"big{i},2024-03-{1 + i % 30:02d}T10:00:00Z,view,{i % 997},{i % 89},{i},1000,2000\n")
    return path


INGEST_SCRIPT = (
    "import sys; from trustecon.store import Workspace; from trustecon.ingest import ingest_files; "
    "ingest_files(Workspace.open(sys.argv[1]), [sys.argv[2]])"
)


@pytest.mark.parametrize("point,expect_all", [("before-journal", False), ("after-journal", True), ("mid-moves", True)])
def test_sigkill_mid_commit_leaves_none_or_all(tmp_path, point, expect_all, duck_con):
    ws = Workspace.init(tmp_path / "ws")
    f = _big_csv(tmp_path / "big.csv", 3000)
    env = {**os.environ, "TRUSTECON_CRASH_AT": point}
    proc = subprocess.run([sys.executable, "-c", INGEST_SCRIPT, str(ws.path), str(f)], env=env)
    assert proc.returncode == -signal.SIGKILL
    reopened = Workspace.open(ws.path)  # rolls forward or back
    n = reopened.events(duck_con).count().execute()
    assert n == (3000 if expect_all else 0)
    assert not (ws.path / ".journal").exists() or not list((ws.path / ".journal").iterdir())
    # Re-running completes the batch without duplicates.
    subprocess.run([sys.executable, "-c", INGEST_SCRIPT, str(ws.path), str(f)], check=True)
    again = Workspace.open(ws.path)
    assert again.events(duck_con).count().execute() == 3000
    assert again.events(duck_con).event_id.nunique().execute() == 3000


def test_sigkill_at_a_random_moment_leaves_none_or_all(tmp_path, duck_con):
    ws = Workspace.init(tmp_path / "ws")
    f = _big_csv(tmp_path / "big.csv", 60_000)
    proc = subprocess.Popen([sys.executable, "-c", INGEST_SCRIPT, str(ws.path), str(f)])
    time.sleep(2.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n = Workspace.open(ws.path).events(duck_con).count().execute()
    assert n in (0, 60_000)
    subprocess.run([sys.executable, "-c", INGEST_SCRIPT, str(ws.path), str(f)], check=True)
    assert Workspace.open(ws.path).events(duck_con).count().execute() == 60_000


# ---------------------------------------------------------------- properties over random batches

_FIELD_VALUES = {
    "user_id": "11",
    "creator_id": "22",
    "content_id": "33",
    "session_id": "44",
    "product_id": "55",
    "brand_id": "66",
    "order_id": "77",
    "campaign_id": "88",
    "amount": "9.5",
    "value": "4",
}
CORRUPTIONS = ("unknown_kind", "drop_required", "bad_time", "negative_amount", "wrong_type", "none")


@st.composite
def rows(draw):
    n = draw(st.integers(1, 25))
    out, valid = [], []
    for i in range(n):
        kind = draw(st.sampled_from(sorted(REQUIRED)))
        row = {"event_id": f"r{i}", "ts": "2024-05-01T12:00:00Z", "kind": kind}
        for req in REQUIRED[kind]:
            name = req[0] if isinstance(req, tuple) else req
            row[name] = _FIELD_VALUES[name]
        corruption = draw(st.sampled_from(CORRUPTIONS))
        if corruption == "unknown_kind":
            row["kind"] = "teleport"
        elif corruption == "drop_required":
            req = REQUIRED[kind][0]
            for name in req if isinstance(req, tuple) else (req,):
                row.pop(name, None)
        elif corruption == "bad_time":
            row["ts"] = "yesterday-ish"
        elif corruption == "negative_amount":
            row["amount"] = "-1"
        elif corruption == "wrong_type":
            row["user_id"] = "eleven"
        out.append(row)
        valid.append(corruption == "none")
    return out, valid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows())
def test_validation_loses_no_valid_row_and_admits_no_invalid_one(batch):
    rows_, valid = batch
    names = list(dict.fromkeys(k for r in rows_ for k in [*r, "amount", "user_id"]))
    table = pa.table({n: pa.array([r.get(n) for r in rows_], pa.string()) for n in names})
    res = validate(table, file="prop")
    kept = set(res.valid["event_id"].to_pylist())
    assert kept == {r["event_id"] for r, ok in zip(rows_, valid, strict=True) if ok}
    assert sorted(res.rejected["row"].to_pylist()) == [i + 1 for i, ok in enumerate(valid) if not ok]
    assert res.valid.schema.equals(SCHEMA)


# ---------------------------------------------------------------- engines agree


@pytest.mark.spark
def test_same_queries_same_results_on_duckdb_and_spark(ws, tmp_path, duck_con, spark_con):
    ingest_files(ws, [_big_csv(tmp_path / "big.csv", 2000), write(tmp_path / "mixed.csv", MIXED)])

    def summary(con):
        ev = ws.events(con)
        by_kind = (
            ev.group_by("kind")
            .aggregate(n=ev.count(), amount=ev.amount.sum(), users=ev.user_id.nunique())
            .order_by("kind")
        )
        by_day = ev.group_by("day").aggregate(n=ev.count(), watch=ev.watch_ms.sum()).order_by("day")
        return by_kind.to_pyarrow().to_pylist(), by_day.to_pyarrow().to_pylist()

    assert summary(duck_con) == summary(spark_con)


def test_clean_csv_fast_path_equals_general_path(tmp_path, duck_con, monkeypatch):
    """The all-in-DuckDB path for clean files admits exactly what the general path admits."""
    import trustecon.ingest as ing

    f = _big_csv(tmp_path / "clean.csv", 5000)
    with open(f, "a") as fh:  # text ids, amounts, surfaces and epoch-ms times on a few rows
        fh.write("x1,1709287200000,view,5,6,7,100,200\n")
    fast_ws = Workspace.init(tmp_path / "fast", timezone="Asia/Shanghai")
    calls = []
    real = ing._clean_csv_fast_path
    monkeypatch.setattr(ing, "_clean_csv_fast_path", lambda tx, p: calls.append(p) or real(tx, p))
    fast = ingest_files(fast_ws, [f])
    assert calls and fast.total.added == 5001
    assert all(Path(x).stat().st_size for x in fast_ws.event_files())
    monkeypatch.setattr(ing, "_clean_csv_fast_path", lambda tx, p: None)
    slow_ws = Workspace.init(tmp_path / "slow", timezone="Asia/Shanghai")
    slow = ingest_files(slow_ws, [f])
    assert fast.total.as_dict() == slow.total.as_dict()

    def rows(w):
        return w.events(duck_con).order_by("event_id").to_pyarrow().to_pylist()

    assert rows(fast_ws) == rows(slow_ws)
    assert sorted(Path(x).parent.name for x in fast_ws.event_files()) == sorted(
        Path(x).parent.name for x in slow_ws.event_files()
    )


def test_fast_path_steps_aside_for_a_file_with_a_bad_row(ws, tmp_path, duck_con):
    # One bad row: the fast path must give up so the general path can number it.
    f = write(tmp_path / "one_bad.csv", "event_id,ts,kind,creator_id\nn1,2024-01-01,notice,5\nn2,2024-01-01,notice,x\n")
    report = ingest_files(ws, [f])
    assert report.total.added == 1
    (q,) = ws.quarantine_arrow().to_pylist()
    assert q["row"] == 3 and q["field"] == "creator_id"


def test_epoch_seconds_are_refused_not_moved_to_1970(ws, tmp_path, duck_con):
    """A number in ``ts`` is epoch milliseconds. 10-12 digits would be 1970 as milliseconds and are
    almost always epoch seconds: such rows go to quarantine with a reason that says so (CSV text and
    JSON numbers alike), 13-digit milliseconds and ISO times land, and no 1970 day folder appears."""
    csv = write(tmp_path / "t.csv", "event_id,ts,kind,creator_id\n"
                                    "s1,1772416800,notice,5\n"            # 2026-03-02 in seconds
                                    "m1,1772416800000,notice,5\n"         # the same instant in ms
                                    "i1,2026-03-02T02:00:00Z,notice,5\n")
    jl = write(tmp_path / "t.jsonl", '{"event_id":"j1","ts":1772416800,"kind":"notice","creator_id":5}\n'
                                     '{"event_id":"j2","ts":1772416800000,"kind":"notice","creator_id":5}\n')
    report = ingest_files(ws, [csv, jl])
    assert report.total.added == 3
    bad = sorted(ws.quarantine_arrow().to_pylist(), key=lambda r: r["file"])
    assert [(Path(r["file"]).name, r["row"], r["field"]) for r in bad] == [("t.csv", 2, "ts"), ("t.jsonl", 1, "ts")]
    assert all("epoch seconds?" in r["reason"] and "unparsable" not in r["reason"] for r in bad)
    got = ws.events(duck_con).execute()
    assert {str(t) for t in got.ts} == {"2026-03-02 02:00:00+00:00"}
    assert not any("1970" in str(f) for f in ws.event_files())


def test_columns_outside_the_schema_are_named_per_file(ws, tmp_path):
    """A misspelt column (``user``) and an extra one are listed for the file that carried them (CSV on
    the fast path, JSONL, Parquet); the rows still land or are quarantined by the columns that count."""
    csv = write(tmp_path / "a.csv", "event_id,ts,kind,creator_id,color\nn1,2026-01-01,notice,5,red\n")
    jl = write(tmp_path / "b.jsonl", '{"event_id":"v1","ts":"2026-01-01","kind":"view","user":1,"creator_id":2}\n')
    pq.write_table(pa.table({"event_id": ["p1"], "ts": ["2026-01-01"], "kind": ["notice"], "creator_id": [5]}),
                   tmp_path / "c.parquet")
    report = ingest_files(ws, [csv, jl, tmp_path / "c.parquet"])
    assert report.ignored_columns == {str(csv): ["color"], str(jl): ["user"]}
    assert report.as_dict()["ignored_columns"] == report.ignored_columns
    assert report.total.added == 2 and report.total.quarantined == 1  # the view lacks user_id
