"""Run every benchmark (benchmarks/bench_*.py) and append their results to benchmarks/RESULTS.md.

Each benchmark is a script that prints one JSON object per result line on stdout; it measures its own
floor in the same run and prints the ratio. Run: python benchmarks/run.py [NAME ...]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem.removeprefix("bench_") in wanted)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    lines = [
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — `python benchmarks/run.py {' '.join(argv)}`".rstrip(),
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average at start {os.getloadavg()[0]:.2f}.\n",
    ]
    failed = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=HERE.parent)
        sys.stdout.write(proc.stdout)
        results = []
        for line in proc.stdout.splitlines():
            try:
                results.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        lines.append(f"### {script.stem}\n")
        if proc.returncode != 0:
            failed += 1
            lines.append(f"failed (exit {proc.returncode}): `{proc.stderr.strip().splitlines()[-1:]}`\n")
            sys.stderr.write(proc.stderr)
            continue
        for r in results:
            lines.append("- " + ", ".join(f"{k}: {v}" for k, v in r.items()))
        if not results:
            # A benchmark that prints its own tables (markdown) or a multi-line JSON document.
            text = proc.stdout.strip()
            try:
                doc = json.loads(text)
                lines.append("- " + ", ".join(f"{k}: {v}" for k, v in doc.items()))
            except (json.JSONDecodeError, AttributeError):
                lines.append(text)
        lines.append("")
    with open(HERE / "RESULTS.md", "a") as fh:
        fh.write("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
