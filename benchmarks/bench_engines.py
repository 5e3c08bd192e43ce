"""The same pipelines on DuckDB and on Spark (DESIGN.md §3: "Spark when a log outgrows one machine").

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_engines.py [--days 14] [--reps 2] [--engines duckdb,spark]

One simulated workspace (default preset, ``--days`` days; generating it is setup, not timed). On each
engine, with the connection opened first (Spark's JVM start is reported apart, not in any ratio):

- ``raw``: the floor — one pass over the stored events, the issue-4 query as an Ibis expression
  (``GROUP BY user_id, creator_id, kind``: count, Σ watch_ms, Σ amount), fetched as Arrow;
- ``headline``: the six article KPIs (:func:`trustecon.kpis.headline`);
- ``kpis``: every KPI table of ``trustecon kpis`` (:func:`trustecon.kpis.compute_all`), each fetched,
  as the command runs them (shared intermediates as temporary tables on DuckDB:
  :func:`trustecon.kpis.persist.temporary_tables`); ``kpis_unshared``: the same, each query alone;
- ``build``: the whole trust build (:func:`trustecon.trust.build.build`: seven tables, committed).
  On DuckDB the build takes its in-memory path; on Spark the engine path (one query per step).

Each is run ``--reps`` times, alternating, and the best time kept (the floor that survives a busy
machine). Printed per engine: each stage as a ratio to that engine's own raw pass; and per stage
Spark ÷ DuckDB. The headline values of the two engines are compared (largest absolute difference),
so a fast wrong answer cannot pass unnoticed.

This is one machine (2 cores, ``local[2]``): it measures what Spark costs where DuckDB suffices, the
price of being able to scale out, not Spark's scale-out itself.
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

from trustecon.engine import connect  # noqa: E402
from trustecon.kpis import compute_all, headline  # noqa: E402
from trustecon.kpis.persist import temporary_tables  # noqa: E402
from trustecon.store import Workspace  # noqa: E402
from trustecon.trust.build import build  # noqa: E402


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps({**obj, "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)


def simulated(path: Path, days: int, seed: int) -> Workspace:
    from trustecon.simulate.config import preset
    from trustecon.simulate.run import simulate

    ws = Workspace.init(path)
    simulate(ws, dataclasses.replace(preset("default"), days=days, seed=seed), calibrate=False)
    return ws


def stages(ws: Workspace, con: Any) -> dict[str, Any]:
    tz = ws.timezone

    def raw() -> Any:
        e = ws.events(con)
        q = e.group_by(["user_id", "creator_id", "kind"]).aggregate(
            n=e.count(), watch=e.watch_ms.sum(), amount=e.amount.sum()
        )
        return q.to_pyarrow().num_rows

    def head() -> Any:
        return {k: v.value for k, v in headline(ws.events(con), timezone=tz).items()}

    def kpis() -> Any:
        # As `trustecon kpis` runs them: shared intermediates as temporary tables on DuckDB.
        with temporary_tables(con):
            return sum(t.to_pyarrow().num_rows for t in compute_all(ws.events(con), timezone=tz).values())

    def kpis_unshared() -> Any:
        return sum(t.to_pyarrow().num_rows for t in compute_all(ws.events(con), timezone=tz).values())

    def trust() -> Any:
        return build(ws, con=con).rows

    return {"raw": raw, "headline": head, "kpis": kpis, "kpis_unshared": kpis_unshared, "build": trust}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--workspace", type=Path, help="reuse (or create) this workspace instead of a temporary one")
    args = ap.parse_args()
    engines = [e for e in args.engines.split(",") if e]

    with tempfile.TemporaryDirectory() as tmp:
        path = args.workspace or Path(tmp) / "ws"
        t = time.perf_counter()
        ws = Workspace.open(path) if (path / "manifest.json").exists() else simulated(path, args.days, args.seed)
        n_events = ws.event_count()
        emit({"bench": "setup", "events": n_events, "days": args.days, "setup_s": round(time.perf_counter() - t, 1)})

        best: dict[str, dict[str, float]] = {}
        answers: dict[str, dict[str, Any]] = {}
        for engine in engines:
            t = time.perf_counter()
            con = connect(engine)
            con.raw_sql("SELECT 1") if engine == "duckdb" else None
            connect_s = time.perf_counter() - t
            fns = stages(ws, con)
            times: dict[str, list[float]] = {k: [] for k in fns}
            for _ in range(args.reps):
                for name, fn in fns.items():
                    t = time.perf_counter()
                    answers.setdefault(engine, {})[name] = fn()
                    times[name].append(time.perf_counter() - t)
            best[engine] = {k: min(v) for k, v in times.items()}
            floor = best[engine]["raw"]
            emit({
                "bench": f"engine {engine}", "events": n_events, "connect_s": round(connect_s, 1),
                **{f"{k}_s": round(v, 2) for k, v in best[engine].items()},
                **{f"{k}_vs_raw": round(v / floor, 1) for k, v in best[engine].items() if k != "raw"},
                "all_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
            })
        if {"duckdb", "spark"} <= set(best):
            d, s = answers["duckdb"]["headline"], answers["spark"]["headline"]
            diffs = [abs(d[k] - s[k]) for k in d if d[k] is not None and s[k] is not None]
            nulls_agree = all((d[k] is None) == (s[k] is None) for k in d)
            emit({
                "bench": "spark / duckdb", "events": n_events,
                **{k: round(best["spark"][k] / best["duckdb"][k], 1) for k in best["duckdb"]},
                "headline_max_abs_diff": max(diffs, default=0.0), "headline_nulls_agree": nulls_agree,
                "build_rows_equal": answers["duckdb"]["build"] == answers["spark"]["build"],
                "kpi_rows_equal": answers["duckdb"]["kpis"] == answers["spark"]["kpis"]
                == answers["duckdb"]["kpis_unshared"],
            })


if __name__ == "__main__":
    main()
