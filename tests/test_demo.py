"""The demo end to end through the real CLI (small preset so it takes seconds, not minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_and_writes_the_report(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    cmd = [sys.executable, "-m", "trustecon.cli", "demo", str(ws), "--preset", "small", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert list(out["steps"]) == ["simulate", "trust", "feeds", "kpis", "report"]
    assert out["steps"]["simulate"]["events"] > 10_000
    assert out["steps"]["trust"]["pair_trust"] > 0
    report = Path(out["report"])
    assert report.is_file() and report.stat().st_size > 10_000
    # The calibrated live figures come out of the small world too (the simulator targets them).
    assert abs(out["headline"]["live_watch_minutes_per_visit"]["value"] - 24) < 24 * 0.25
    # Running again (the table output this time) reuses the simulated log — no event written — and
    # rebuilds the derived tables; a money KPI's unit is the workspace's currency.
    from trustecon.store import Workspace

    before = Workspace.open(ws).manifest()["events_version"]
    env = {**os.environ, "COLUMNS": "100"}
    again = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert Workspace.open(ws).manifest()["events_version"] == before
    aov = next(line for line in again.stdout.splitlines() if "aov_top10_creators" in line)
    assert "CNY" in aov and "currency" not in aov, aov


def test_cli_version_is_the_installed_package_version() -> None:
    from importlib.metadata import version

    from typer.testing import CliRunner

    from trustecon.cli import app

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output == f"trustecon {version('trustecon')}\n"
