"""The fast paths of validation and ingest admit exactly what the SQL validation and the general
ingest path admit, with the same values (speed must not change a single admission)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trustecon.ingest as ing
from trustecon.events import KINDS, REQUIRED, SCHEMA, SURFACES, _validate_sql, clean_typed, validate
from trustecon.ingest import ingest_files
from trustecon.store import Workspace

INTS = ["12", "-3", "0", "007", "+5", " 7", "12.0", "12.5", "1e3", "x", "", "9223372036854775808", "0x1F", "NA"]
FLOATS = ["9.5", "0", "-1", "-0.0", "1e3", ".5", "nan", "inf", "-inf", "1e400", "x", "", "NaN", " 2.5", "1_0"]
TIMES = [
    "2024-03-01T10:00:00",
    "2024-03-01T10:00:00Z",
    "2024-03-01 10:00:00.5",
    "2024-03-01T10:00:00.1234567",
    "2024-02-29T23:59:59",
    "2023-02-29T10:00:00",
    "2024-03-01T24:00:00",
    "2023-12-31T23:59:60",
    "0999-01-01T00:00:00",
    "2024-03-01T10:00:00+08:00",
    "2024-03-01",
    "1709287200000",
    "-1709287200",
    " 2024-03-01T10:00:00",
    "yesterday",
    "",
]
KIND_VALUES = [*KINDS, "teleport", ""]
SURFACE_VALUES = [*sorted(SURFACES), "moon", ""]
GOOD = {"int": ["12", "0", "007", "4"], "float": ["9.5", "0", "1e3"], "ts": TIMES[:5]}


@st.composite
def text_rows(draw, max_rows: int = 8, clean_bias: float = 0.85):
    """Rows of text values: mostly valid rows, some with one odd value of any kind."""
    n = draw(st.integers(1, max_rows))
    rows = []
    for _ in range(n):
        kind = draw(st.sampled_from(KINDS))
        row: dict[str, str | None] = {"event_id": f"e{draw(st.integers(0, n + 2))}", "kind": kind}
        row["ts"] = draw(st.sampled_from(GOOD["ts"]))
        for req in REQUIRED[kind]:
            name = req[0] if isinstance(req, tuple) else req
            row[name] = draw(st.sampled_from(GOOD["float" if name in ("amount", "value") else "int"]))
        if draw(st.booleans()):
            row["surface"] = draw(st.sampled_from(sorted(SURFACES)))
        if draw(st.floats(0, 1)) > clean_bias:
            field = draw(st.sampled_from(["event_id", "ts", "kind", "user_id", "amount", "watch_ms", "surface"]))
            pool = {"ts": TIMES, "kind": KIND_VALUES, "amount": FLOATS, "surface": SURFACE_VALUES}.get(field, INTS)
            row[field] = draw(st.sampled_from(["", *pool] if field == "event_id" else pool))
        rows.append(row)
    return rows


def _text_table(rows: list[dict]) -> pa.Table:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})


def _typed_table(rows: list[dict], ts_type: pa.DataType) -> pa.Table | None:
    """The same rows typed by the schema (None where a value does not convert: not a typed batch)."""
    cols = {}
    for f in SCHEMA:
        vals = [r.get(f.name) for r in rows]
        if all(v is None for v in vals) and f.name not in ("event_id", "ts", "kind"):
            continue
        try:
            if f.name == "ts":
                arr = pa.array(vals, pa.string()).cast(pa.timestamp("us", tz="UTC")).cast(ts_type)
            elif pa.types.is_string(f.type):
                arr = pa.array(vals, pa.string())
            elif pa.types.is_int64(f.type):
                arr = pa.array([None if v in (None, "") else int(v) for v in vals], pa.int64())
            else:
                arr = pa.array([None if v in (None, "") else float(v) for v in vals], pa.float64())
        except (ValueError, pa.ArrowInvalid, OverflowError):
            return None
        cols[f.name] = arr
    return pa.table(cols)


def _agree(batch: pa.Table) -> bool:
    """clean_typed never admits what the SQL path rejects, and then gives the same typed rows."""
    sql = _validate_sql(batch, file="f")
    fast = clean_typed(batch)
    if fast is not None:
        assert sql.rejected.num_rows == 0
        assert fast.schema.equals(SCHEMA)
        assert fast.to_pylist() == sql.valid.to_pylist()
    # validate() itself gives the SQL path's answer either way.
    via = validate(batch, file="f")
    assert via.valid.to_pylist() == sql.valid.to_pylist()
    assert via.rejected.to_pylist() == sql.rejected.to_pylist()
    assert via.valid_index.to_pylist() == sql.valid_index.to_pylist()
    return fast is not None


@settings(max_examples=60, deadline=None)
@given(text_rows())
def test_clean_check_agrees_with_sql_validation_on_text(rows):
    _agree(_text_table(rows))


@settings(max_examples=100, deadline=None)
@given(text_rows(), st.sampled_from([pa.timestamp("us", tz="UTC"), pa.timestamp("us"), pa.timestamp("ms", tz="UTC")]))
def test_clean_check_agrees_with_sql_validation_on_typed_batches(rows, ts_type):
    table = _typed_table(rows, ts_type)
    if table is None:
        return
    sql = _validate_sql(table, file="f")
    admitted = _agree(table)
    # Completeness where it matters (the simulator's typed batches): clean means no SQL at all.
    if sql.rejected.num_rows == 0:
        assert admitted


def test_clean_check_catches_each_kind_of_bad_value():
    base = {
        "event_id": "a",
        "ts": "2024-01-01T00:00:00Z",
        "kind": "order",
        "user_id": "1",
        "order_id": "2",
        "amount": "3",
    }
    assert clean_typed(_text_table([base])) is None  # integers as text: only the SQL path parses them
    typed = _typed_table([base], pa.timestamp("us", tz="UTC"))
    assert clean_typed(typed) is not None
    for field, value in [
        ("amount", "-1"),
        ("amount", "nan"),
        ("kind", "teleport"),
        ("kind", ""),
        ("user_id", None),
        ("event_id", ""),
        ("surface", "moon"),
        ("watch_ms", "-5"),
        ("quantity", "0"),
    ]:
        bad = _typed_table([{**base, field: value}], pa.timestamp("us", tz="UTC"))
        assert bad is not None
        assert clean_typed(bad) is None, (field, value)
        assert _validate_sql(bad).rejected.num_rows == 1


# ---------------------------------------------------------------- CSV: fast path == general path

HEADER = [
    "event_id",
    "ts",
    "kind",
    "user_id",
    "creator_id",
    "content_id",
    "session_id",
    "order_id",
    "product_id",
    "amount",
    "watch_ms",
    "surface",
    "value",
]


def _csv(path: Path, rows: list[dict]) -> Path:
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for r in rows:
            w.writerow(["" if r.get(h) is None else r[h] for h in HEADER])
    return path


def _snapshot(ws: Workspace) -> tuple:
    ev = sorted(ws.events_arrow().to_pylist(), key=lambda r: (r["event_id"], str(r)))
    q = sorted(ws.quarantine_arrow().to_pylist(), key=lambda r: (r["row"], r["reason"]))
    days = sorted(Path(f).parent.name for f in ws.event_files())
    return ev, q, days


def _both_paths(tmp_path: Path, f: Path, monkeypatch, tz: str = "UTC") -> tuple[dict, tuple, dict, tuple, bool]:
    used = []
    real = ing._clean_csv_fast_path
    monkeypatch.setattr(ing, "_clean_csv_fast_path", lambda tx, p: used.append(r := real(tx, p)) or r)
    fast_ws = Workspace.init(tmp_path / "fast", timezone=tz)
    fast = ingest_files(fast_ws, [f]).total.as_dict()
    monkeypatch.setattr(ing, "_clean_csv_fast_path", lambda tx, p: None)
    slow_ws = Workspace.init(tmp_path / "slow", timezone=tz)
    slow = ingest_files(slow_ws, [f]).total.as_dict()
    return fast, _snapshot(fast_ws), slow, _snapshot(slow_ws), used[0] is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text_rows(max_rows=12, clean_bias=0.9))
def test_csv_fast_path_stores_what_the_general_path_stores(tmp_path_factory, monkeypatch, rows):
    tmp = tmp_path_factory.mktemp("csv")
    f = _csv(tmp / "f.csv", rows)
    fast, fast_snap, slow, slow_snap, _ = _both_paths(tmp, f, monkeypatch)
    assert fast == slow
    assert fast_snap == slow_snap


def test_csv_fast_path_takes_a_clean_file_with_duplicates(tmp_path, monkeypatch):
    rows = [
        {
            "event_id": f"e{i % 40}",
            "ts": f"2024-03-{1 + i % 5:02d}T10:00:00",
            "kind": "view",
            "user_id": "1",
            "creator_id": "2",
            "content_id": str(i % 3),
            "watch_ms": "5",
        }
        for i in range(60)
    ]
    f = _csv(tmp_path / "dups.csv", rows)
    fast, fast_snap, slow, slow_snap, took = _both_paths(tmp_path, f, monkeypatch, tz="Asia/Shanghai")
    assert took  # no bad row: the fast path admitted it, duplicates and conflicts included
    assert fast == slow and fast_snap == slow_snap
    assert fast["duplicates"] + fast["conflicts"] == 20


@pytest.mark.parametrize("whole_read_bytes", [1 << 30, 0])  # read whole, or streamed
def test_fast_path_undoes_earlier_chunks_when_a_later_one_is_bad(tmp_path, monkeypatch, whole_read_bytes):
    from trustecon.store import Transaction

    monkeypatch.setattr(ing, "CHUNK_ROWS", 50)
    monkeypatch.setattr(ing, "WHOLE_READ_BYTES", whole_read_bytes)
    undone = []
    real_rollback = Transaction.rollback_to

    def rollback_to(self, point):
        undone.append(len(self.moves) - point[0])
        real_rollback(self, point)

    monkeypatch.setattr(Transaction, "rollback_to", rollback_to)
    rows = [
        {
            "event_id": f"e{i}",
            "ts": f"2024-03-{1 + i % 3:02d}T10:00:00",
            "kind": "like",
            "user_id": str(i),
            "creator_id": "2",
        }
        for i in range(230)
    ]
    rows[-1]["kind"] = "teleport"
    f = _csv(tmp_path / "late_bad.csv", rows)
    fast, fast_snap, slow, slow_snap, took = _both_paths(tmp_path, f, monkeypatch)
    assert not took
    if whole_read_bytes:
        assert undone and undone[0] > 0  # earlier chunks were staged, then undone
    assert fast == slow and fast_snap == slow_snap
    assert fast["added"] == 229 and fast["quarantined"] == 1
    ws = Workspace.open(tmp_path / "fast")
    on_disk = sorted(str(p.relative_to(ws.path)) for p in (ws.path / "events").rglob("*.parquet"))
    assert on_disk == sorted(str(Path(f).relative_to(ws.path)) for f in ws.event_files())


@pytest.mark.parametrize("value,fast_takes", [("1.0", False), (" 1", None), ("+1", None), ("1e0", False)])
def test_integers_only_the_general_path_parses_still_land(tmp_path, monkeypatch, value, fast_takes):
    """An integer written "1.0" is valid; the typed reader refuses it and the general path takes it.
    Where the typed reader does take a value, it reads what validation reads."""
    f = tmp_path / "odd.csv"
    f.write_text(f"event_id,ts,kind,user_id,creator_id\ne1,2024-03-01T10:00:00,like,{value},2\n")
    fast, fast_snap, slow, slow_snap, took = _both_paths(tmp_path, f, monkeypatch)
    assert fast == slow and fast_snap == slow_snap and fast["added"] == 1
    assert fast_snap[0][0]["user_id"] == 1
    if fast_takes is not None:
        assert took == fast_takes


_TS_ALPHABET = "0123456789-:TZ+. /"


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["2024-03-01T10:00:00", "2024-02-29 23:59:59", "1999-12-31T00:00:00Z", "0999-12-31T00:00:00"]),
    st.lists(st.tuples(st.integers(0, 19), st.sampled_from(_TS_ALPHABET)), max_size=3),
)
def test_fast_time_parse_equals_the_sql_expression(base, edits):
    """Arrow's ISO cast (taken for 19/20-character values) reads every time as the SQL expression does."""
    from trustecon.engine import scratch_duckdb
    from trustecon.events import _ts_sql, _typed_ts

    chars = list(base)
    for pos, ch in edits:
        chars[min(pos, len(chars) - 1)] = ch
    col = pa.chunked_array([pa.array(["".join(chars), base])])
    expr, _ = _ts_sql(pa.string())
    con = scratch_duckdb()
    con.register("b", pa.table({"ts": col}))
    want = con.sql(f"SELECT {expr} AS ts FROM b").to_arrow_table()["ts"].cast(pa.timestamp("us", tz="UTC"))
    con.close()
    got = _typed_ts(col)
    if got is not None:
        assert got.cast(pa.int64()).to_pylist() == want.cast(pa.int64()).to_pylist()
