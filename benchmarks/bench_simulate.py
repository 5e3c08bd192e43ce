"""Simulator benchmarks (one command): ``python benchmarks/bench_simulate.py [--quick]``.

``--policies``: exposure Gini and fan reach of the three built-in policies (small preset, 12 days).

1. generation: events/s of ``World.step`` over the default preset, tables built, nothing written
   (goal ≥ 1 M events/s); best of ``--repeat`` runs (3), each from a fresh ``World``;
2. end to end: events/s of ``simulate`` (validation, dedup, Parquet commit per day) on the default
   preset, calibration left out (goal ≥ 200 k events/s);
3. peak memory: a child process generates ~10 M events (default preset scaled to more users) and
   reports its peak RSS (``resource.getrusage``), with and without writing through the store
   (``--store-10m`` adds the written run, which takes minutes).

Every row reports wall seconds and the process's CPU seconds (``time.process_time``: what the run
itself used, which a busy shared machine inflates less than wall time), and the header a floor measured
in the same run — a fixed numpy workload (argsort + gather of 4 M int64), best of 3 — so that runs on
differently loaded machines can be compared as ratios (events/s ÷ floor).

Prints a markdown table; the numbers go into docs/evaluation/simulator.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trustecon.simulate import World, preset, simulate  # noqa: E402
from trustecon.store import Workspace  # noqa: E402


def generation(cfg, repeat: int = 1) -> dict:
    """Best (shortest wall time) of ``repeat`` runs of the whole world, each from a fresh ``World``."""
    best: dict = {}
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        w = World(cfg)
        n = 0
        for d in range(cfg.days):
            n += w.step(d).num_rows
        s = time.perf_counter() - t
        if not best or s < best["seconds"]:
            best = {"events": n, "seconds": s, "cpu_seconds": time.process_time() - c, "events_per_s": n / s}
    return best


def end_to_end(cfg) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        t, c = time.perf_counter(), time.process_time()
        res = simulate(ws, cfg, calibrate=False)
        s, cpu = time.perf_counter() - t, time.process_time() - c
    return {"events": res.events.added, "seconds": s, "cpu_seconds": cpu, "events_per_s": res.events.added / s,
            "generation_seconds": res.seconds_generating}


def floor() -> float:
    """Elements/s of a fixed numpy workload (argsort + gather of 4 M int64), best of 3: the machine's
    speed at the moment of the run, to compare runs as ratios."""
    import numpy as np

    x = np.random.default_rng(0).integers(0, 2**40, size=4_000_000)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        x[np.argsort(x)]
        best = min(best, time.perf_counter() - t)
    return x.size / best


def policies(days: int = 12, seeds: tuple[int, ...] = (0, 1)) -> list[tuple]:
    """Exposure Gini and fan content reach per built-in policy (small preset), by trustecon.kpis."""
    import ibis
    import pyarrow as pa

    from trustecon.engine import connect
    from trustecon.kpis import exposure, reach

    con = connect("duckdb")
    out = []
    for seed in seeds:
        for name in ("traffic", "algorithm", "trust"):
            cfg = dataclasses.replace(preset("small"), policy=name, days=days, seed=seed)
            w = World(cfg)
            t = ibis.memtable(pa.concat_tables([w.step(d) for d in range(days)]))
            g = con.to_pyarrow(exposure.exposure_gini(t))["value"][0].as_py()
            r = con.to_pyarrow(reach.fan_content_reach(t))["value"][0].as_py()
            out.append((seed, name, g, r))
    return out


def _child(users: int, store: bool) -> None:
    """Run in a subprocess: generate (and maybe store) ~10 M events, print peak RSS as JSON."""
    import resource

    cfg = dataclasses.replace(preset("default"), users=users, creators=max(300, users // 20))
    t, c = time.perf_counter(), time.process_time()
    if store:
        with tempfile.TemporaryDirectory() as tmp:
            res = simulate(Workspace.init(Path(tmp) / "ws"), cfg, calibrate=False)
            n = res.events.added
    else:
        n = generation(cfg)["events"]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": n, "seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
                      "peak_rss_mb": peak_kb / 1024}))


def peak_memory(users: int, store: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(users), "--child-store", str(int(store))],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small preset only (a smoke run)")
    ap.add_argument("--store-10m", action="store_true", help="also write the 10 M events through the store")
    ap.add_argument("--users-10m", type=int, default=16_000, help="users of the ~10 M-event run")
    ap.add_argument("--policies", action="store_true", help="only the policy comparison (small preset)")
    ap.add_argument("--repeat", type=int, default=3, help="generation runs (the best is reported)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-store", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, bool(args.child_store))
        return
    if args.policies:
        print("| seed | policy | exposure Gini | fan content reach |")
        print("|---:|---|---:|---:|")
        for seed, name, g, r in policies():
            print(f"| {seed} | {name} | {g:.3f} | {r:.3f} |")
        return
    cfg = preset("small" if args.quick else "default")
    rows = []
    fl = floor()
    g = generation(cfg, repeat=args.repeat)
    rows.append(("generation, no writing (goal ≥ 1 M/s)", g))
    e = end_to_end(cfg)
    rows.append(("end to end through the store (goal ≥ 200 k/s)", e))
    if not args.quick:
        rows.append(("peak RSS, ~10 M events generated", peak_memory(args.users_10m, False)))
        if args.store_10m:
            rows.append(("peak RSS, ~10 M events through the store", peak_memory(args.users_10m, True)))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"preset {'small' if args.quick else 'default'}; load average at the end {load}; "
          f"floor (numpy argsort + gather, 4 M int64) {fl / 1e6:.1f} M elements/s")
    print("| measurement | events | seconds | events/s | CPU seconds | events per CPU second | events/s ÷ floor "
          "| peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        rate = r["events"] / r["seconds"]
        peak = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "—"
        cpu = r.get("cpu_seconds")
        cpu_cols = f"{cpu:.1f} | {r['events'] / cpu:,.0f}" if cpu else "— | —"
        print(f"| {name} | {r['events']:,} | {r['seconds']:.1f} | {rate:,.0f} | {cpu_cols} | {rate / fl:.3f} "
              f"| {peak} |")


if __name__ == "__main__":
    main()
