"""The market experiment's cost (one command): ``python benchmarks/bench_market.py [--preset default] [--seed 0]``.

Runs :func:`trustecon.marketing.market_experiment` once and prints one JSON line: the wall and CPU
seconds of each run (``none`` is the floor measured in the same run: the same world simulated and
measured with no campaigns), the ratios of the two mechanisms' runs to it, and where trust routing's
extra time goes (the trust build on day 31, the planner's fit, the allocation of creators to brands).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trustecon.marketing import market_experiment  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cpu: dict[str, float] = {}
    last = [time.process_time()]

    def lap(name: str, _row: dict) -> None:
        now = time.process_time()
        cpu[name] = now - last[0]
        last[0] = now

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        res = market_experiment(Path(d) / "m", a.preset, seed=a.seed, progress=lap)
        total = time.perf_counter() - t
    runs = res["runs"]
    floor = runs["none"]["seconds"]
    print(json.dumps({
        "bench": f"market experiment, preset {a.preset}, seed {a.seed}, {len(res['campaigns'])} campaigns",
        "none_s (floor)": floor,
        "trust_routing_s": runs["trust_routing"]["seconds"],
        "auction_s": runs["auction"]["seconds"],
        "ratio_trust_routing": round(runs["trust_routing"]["seconds"] / floor, 2),
        "ratio_auction": round(runs["auction"]["seconds"] / floor, 2),
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "trust_routing_parts_s": res.get("trust_routing_seconds"),
        "total_s": round(total, 1),
        "load": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
