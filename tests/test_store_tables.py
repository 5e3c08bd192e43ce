"""Derived tables written as several part files at once read back whole and replace atomically."""

from __future__ import annotations

import pyarrow as pa

from trustecon import parquet
from trustecon.engine import connect
from trustecon.store import Workspace


def test_large_table_in_parts_reads_back_whole_and_replaces(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(parquet, "PART_ROWS", 10)
    monkeypatch.setattr(parquet.os, "cpu_count", lambda: 2)
    ws = Workspace.init(tmp_path / "ws")
    big = pa.table({"k": pa.array(range(35), pa.int64()), "name": pa.array([f"n{i % 3}" for i in range(35)])})
    ws.write_table("t", big)
    files = ws.table_files("t")
    assert len(files) == 2  # min(cores = 2, 35 // 10 = 3) parts
    assert ws.read_table("t").equals(big)  # part order kept
    got = ws.table(connect("duckdb"), "t").to_pyarrow().sort_by("k")
    assert got.equals(big)
    small = big.slice(0, 5)
    ws.write_table("t", small)
    assert len(ws.table_files("t")) == 1
    assert ws.read_table("t").equals(small)
    # The old parts are retired (kept for readers that listed them, trustecon.retention), then gone.
    assert not set(files) & set(ws.table_files("t")) and ws.purge_retired(0)
    assert not any((tmp_path / "ws" / f).exists() for f in files)


def test_part_slices_cover_the_table_once(monkeypatch) -> None:
    monkeypatch.setattr(parquet, "PART_ROWS", 4)
    monkeypatch.setattr(parquet.os, "cpu_count", lambda: 8)
    t = pa.table({"k": pa.array(range(29), pa.int64())})
    parts = parquet.table_parts(t)
    assert len(parts) == 7  # 29 // 4
    assert pa.concat_tables(parts).equals(t)
    assert len(parquet.table_parts(t.slice(0, 3))) == 1
