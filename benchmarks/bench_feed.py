"""Feed benchmarks: batch feeds for many users, single-user latency from built tables, ALS fit time.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_feed.py --users 100000 --creators 2000

Writes a synthetic log (each user views ``--views`` creators drawn by a Zipf popularity and follows
``--follows`` of them; every creator publishes) into a temporary workspace, then times
:func:`trustecon.distribution.build_feeds` (all active users; ALS fit timed apart) and
:meth:`trustecon.distribution.FeedServer.feed` for ``--requests`` random users (p50/p99, in process,
after load). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from trustecon.distribution import CreatorALS, FeedConfig, FeedServer, build_feeds  # noqa: E402
from trustecon.engine import connect  # noqa: E402
from trustecon.events import SCHEMA  # noqa: E402
from trustecon.store import Workspace  # noqa: E402


def synthetic_log(users: int, creators: int, views: int, follows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2026-01-01T00:00:00", "us")
    c_ids = np.arange(1_000_000, 1_000_000 + creators)
    pop = 1.0 / np.arange(1, creators + 1) ** 0.8
    pop /= pop.sum()
    u = np.repeat(np.arange(1, users + 1), views)
    c = c_ids[rng.choice(creators, u.size, p=pop)]
    hours = rng.uniform(0, 72, u.size)
    f_u = np.repeat(np.arange(1, users + 1), follows)
    f_c = c_ids[rng.choice(creators, f_u.size, p=pop)]
    parts = {
        "kind": np.concatenate([np.full(creators, "publish"), np.full(u.size, "view"), np.full(f_u.size, "follow")]),
        "user_id": np.concatenate([np.full(creators, -1), u, f_u]),
        "creator_id": np.concatenate([c_ids, c, f_c]),
        "content_id": np.concatenate([c_ids * 10, c * 10, np.full(f_u.size, -1)]),
        "hours": np.concatenate([rng.uniform(48, 72, creators), hours, rng.uniform(0, 72, f_u.size)]),
    }
    n = parts["kind"].size
    ts = t0 + (parts["hours"] * 3.6e9).astype("timedelta64[us]")
    is_view = parts["kind"] == "view"
    watch = np.where(is_view, rng.integers(1_000, 30_000, n), -1)
    cols = {
        "event_id": pa.array([f"b{i}" for i in range(n)]),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "kind": pa.array(parts["kind"]),
        "user_id": pa.array(parts["user_id"], mask=parts["user_id"] < 0),
        "creator_id": pa.array(parts["creator_id"]),
        "content_id": pa.array(parts["content_id"], mask=parts["content_id"] < 0),
        "watch_ms": pa.array(watch, mask=~is_view),
        "duration_ms": pa.array(np.full(n, 30_000), mask=~is_view),
    }
    return pa.table({f.name: cols.get(f.name, pa.nulls(n, f.type)) for f in SCHEMA}, schema=SCHEMA)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--creators", type=int, default=2_000)
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--follows", type=int, default=2)
    ap.add_argument("--requests", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    out: dict[str, object] = {"users": a.users, "creators": a.creators, "views_per_user": a.views}
    log = synthetic_log(a.users, a.creators, a.views, a.follows, a.seed)
    out["events"] = log.num_rows
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(os.path.join(tmp, "ws"))
        t = time.perf_counter()
        ws.append(log)
        out["append_s"] = round(time.perf_counter() - t, 2)
        con = connect("duckdb")
        cfg = FeedConfig()
        # ALS fit time alone, on the same co-behaviour weights the build uses.
        from trustecon.distribution.discovery import interaction_weights

        w = interaction_weights(ws.events(con)).to_pyarrow()
        t = time.perf_counter()
        CreatorALS(factors=cfg.als_factors, iterations=cfg.als_iterations).fit_table(w)
        out["als_fit_s"] = round(time.perf_counter() - t, 2)
        out["als_pairs"] = w.num_rows
        t = time.perf_counter()
        rep = build_feeds(ws, con, cfg)
        out["batch_build_s"] = round(time.perf_counter() - t, 2)
        out["build"] = {k: rep[k] for k in ("users", "items", "gini_before", "gini_after", "relevance_cost", "quota")}
        t = time.perf_counter()
        server = FeedServer(ws, con, cfg)
        out["server_load_s"] = round(time.perf_counter() - t, 2)
        rng = np.random.default_rng(a.seed)
        lat = []
        for u in rng.integers(1, a.users + 1, a.requests):
            t = time.perf_counter()
            server.feed(int(u))
            lat.append((time.perf_counter() - t) * 1e3)
        out["single_user_ms"] = {
            "p50": round(float(np.percentile(lat, 50)), 3),
            "p99": round(float(np.percentile(lat, 99)), 3),
            "max": round(float(np.max(lat)), 3),
        }
        out["date"] = dt.date.today().isoformat()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
