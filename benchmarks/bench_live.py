"""Live commerce (DESIGN.md §7): the streaming room monitor against the batch numbers it must equal.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_live.py [--days 14] [--reps 3]

One simulated workspace (default preset, ``--days`` days; setup, not timed). The events the monitor
uses (its kinds: live starts/ends, pins, enters/leaves, follows, orders, refunds, interactions) are
read once and sorted by time (setup). Timed, alternating, ``--reps`` times, best kept:

- ``monitor``: :class:`trustecon.live.RoomMonitor` fed every such event (``feed_batch`` over the
  Arrow table, then ``flush``) and a snapshot of every session — what ``trustecon live`` does, and what
  a live room's dashboard pays per event; reported as events per second;
- floor 1, ``touch``: the same events converted to Python dicts and looped over doing nothing (what
  any per-event Python consumer pays before its first line of logic), so ``monitor / touch`` is the
  monitor's own logic;
- floor 2, ``batch``: :func:`trustecon.live.room_stats` over the same events on DuckDB (the batch
  query the monitor equals), fetched as Arrow — the price of answering once, in bulk, after the fact.

The snapshots are checked equal to the batch rows (sessions, visits, GMV, kept orders), so the
monitor measured is the monitor that is right.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from trustecon.engine import connect  # noqa: E402
from trustecon.live import RoomMonitor, room_stats  # noqa: E402
from trustecon.live.monitor import _COLUMNS, _USED  # noqa: E402
from trustecon.store import Workspace  # noqa: E402


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps({**obj, "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    from trustecon.simulate.config import preset
    from trustecon.simulate.run import simulate

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        simulate(ws, dataclasses.replace(preset("default"), days=args.days, seed=args.seed), calibrate=False)
        log = ws.events_arrow()
        used = log.filter(pc.is_in(log["kind"], pa.array(sorted(_USED)))).sort_by([("ts", "ascending")])
        used = used.select([c for c in _COLUMNS if c in used.column_names])
        con = connect("duckdb")
        full = ws.events(con)
        live_full = full.filter(full.kind.isin(sorted(_USED)))

        def monitor() -> list[Any]:
            mon = RoomMonitor()
            mon.feed_batch(used)
            mon.flush()
            return mon.snapshot_all()

        def touch() -> int:
            n = 0
            for _ in used.to_pylist():
                n += 1
            return n

        def batch() -> pa.Table:
            return room_stats(live_full).to_pyarrow()

        fns = {"monitor": monitor, "touch": touch, "batch": batch}
        times: dict[str, list[float]] = {k: [] for k in fns}
        out: dict[str, Any] = {}
        for _ in range(args.reps):
            for name, fn in fns.items():
                t = time.perf_counter()
                out[name] = fn()
                times[name].append(time.perf_counter() - t)
        best = {k: min(v) for k, v in times.items()}

        snaps = {s.session_id: s for s in out["monitor"]}
        rows = {r["session_id"]: r for r in out["batch"].to_pylist()}
        same = snaps.keys() == rows.keys() and all(
            snaps[s].visits == rows[s]["visits"] and snaps[s].kept == rows[s]["kept"]
            and abs(snaps[s].gmv - (rows[s]["gmv"] or 0.0)) < 1e-6
            for s in rows
        )
        emit({
            "bench": "live monitor", "days": args.days, "log_events": log.num_rows, "monitor_events": used.num_rows,
            "sessions": len(snaps), "monitor_s": round(best["monitor"], 2),
            "events_per_s": round(used.num_rows / best["monitor"]),
            "touch_s": round(best["touch"], 2), "monitor_vs_touch": round(best["monitor"] / best["touch"], 1),
            "batch_s": round(best["batch"], 2), "monitor_vs_batch": round(best["monitor"] / best["batch"], 1),
            "snapshots_equal_batch": same,
            "all_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
        })


if __name__ == "__main__":
    main()
