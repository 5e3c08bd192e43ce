"""Ingest of a ≥ 1 M-row CSV into the event log, against DuckDB's own ``read_csv`` into a table.

The floor is DuckDB parsing the same file into an in-memory table in the same run; our ingest also
validates every field, deduplicates against the log, partitions by day and commits Parquet atomically.
Prints rows/s for both and the ratio (goal ≥ 0.5×).

Run: python benchmarks/bench_ingest.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np


def make_csv(path: Path, n: int, seed: int = 0) -> None:
    """A realistic mixed log: views with watch times, likes, orders with amounts, over 30 days."""
    rng = np.random.default_rng(seed)
    con = duckdb.connect()
    kinds = np.array(["impression", "view", "like", "comment", "follow", "order"])
    k = kinds[rng.choice(len(kinds), n, p=[0.45, 0.35, 0.1, 0.04, 0.03, 0.03])]
    ts = np.datetime64("2024-03-01T00:00:00") + rng.integers(0, 30 * 86400, n).astype("timedelta64[s]")
    is_order = k == "order"
    table = {
        "event_id": np.char.add("bench:", np.arange(n).astype(str)),
        "ts": np.datetime_as_string(ts, unit="s"),
        "kind": k,
        "user_id": rng.integers(0, 100_000, n),
        "creator_id": rng.integers(100_000, 105_000, n),
        "content_id": rng.integers(0, 200_000, n),
        "watch_ms": np.where(k == "view", rng.integers(0, 60_000, n), -1),
        "duration_ms": np.where(k == "view", 60_000, -1),
        "order_id": np.where(is_order, np.arange(n), -1),
        "amount": np.where(is_order, np.round(rng.gamma(2.0, 60.0, n), 2), -1.0),
    }
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = {}
    for name, arr in table.items():
        a = pa.array(arr)
        if name in ("watch_ms", "duration_ms", "order_id", "amount"):
            a = pc.if_else(pc.less(a, 0), pa.scalar(None, a.type), a)
        cols[name] = a
    con.register("t", pa.table(cols))
    con.execute(f"COPY t TO '{path}' (HEADER, DELIMITER ',')")


def main() -> dict[str, float]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    from trustecon.ingest import ingest_files
    from trustecon.store import Workspace

    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "events.csv"
        make_csv(csv, args.rows)
        size_mb = csv.stat().st_size / 1e6
        floor = []
        for _ in range(3):
            con = duckdb.connect()
            t0 = time.perf_counter()
            con.execute(f"CREATE TABLE e AS SELECT * FROM read_csv('{csv}')")
            floor.append(time.perf_counter() - t0)
            con.close()
        ours = []
        for i in range(3):
            ws = Workspace.init(Path(d) / f"ws{i}")
            t0 = time.perf_counter()
            report = ingest_files(ws, [csv])
            ours.append(time.perf_counter() - t0)
            assert report.total.added == args.rows, report.total.as_dict()
        f, o = min(floor), min(ours)
        out = {
            "rows": args.rows,
            "csv_mb": round(size_mb, 1),
            "duckdb_read_csv_rows_per_s": round(args.rows / f),
            "trustecon_ingest_rows_per_s": round(args.rows / o),
            "ratio": round(f / o, 3),
            "goal_ratio": 0.5,
        }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
