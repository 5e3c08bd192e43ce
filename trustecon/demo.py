"""The one-command demo: simulate the default world, build trust, feeds and KPIs, write the report.

An interfaces-layer orchestration (it composes a source, the models, an app, the metrics and the
report, which only the top layer may do). Each step is one library call; ``progress(step, i, n)``
reports them.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEMO_STEPS", "DemoResult", "run_demo"]

DEMO_STEPS = ("simulate", "trust", "feeds", "kpis", "report")


@dataclass
class DemoResult:
    """What the demo did: the workspace, each step's seconds and summary, the headline KPIs, the report."""

    workspace: Path
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    headline: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workspace": str(self.workspace),
            "steps": self.steps,
            "headline": self.headline,
            "report": str(self.report) if self.report else None,
        }


def run_demo(
    path: str | Path = "trustecon-demo",
    *,
    preset: str = "default",
    seed: int = 0,
    days: int | None = None,
    engine: str = "duckdb",
    fresh: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    day_progress: Callable[[int, int, int], None] | None = None,
) -> DemoResult:
    """Run the whole job into the workspace ``path``.

    A workspace that already holds a simulated log is reused (only the derived tables and the report
    are rebuilt) unless ``fresh``, which starts from an empty folder.
    """
    from trustecon.distribution.build import build_feeds
    from trustecon.engine import connect
    from trustecon.kpis import ARTICLE_FIGURES
    from trustecon.kpis.persist import default_min_followers, stored_headline, write_kpis
    from trustecon.report import build_report
    from trustecon.simulate.config import preset as sim_preset
    from trustecon.simulate.run import simulate
    from trustecon.store import Workspace
    from trustecon.trust.build import build as build_trust

    p = Path(path)
    if fresh and p.exists():
        shutil.rmtree(p)
    ws = Workspace.init(p, exist_ok=True)
    out = DemoResult(workspace=p)
    con = connect(engine)

    def step(i: int, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        if progress is not None:
            progress(name, i, len(DEMO_STEPS))
        t = time.perf_counter()
        summary = fn()
        out.steps[name] = {"seconds": round(time.perf_counter() - t, 2), **summary}

    def do_simulate() -> dict[str, Any]:
        if ws.event_count():
            return {"reused": True, "events": ws.event_count()}
        cfg = sim_preset(preset)
        days_: dict[str, Any] = {"days": days} if days is not None else {}
        cfg = dataclasses.replace(cfg, seed=seed, **days_)
        res = simulate(ws, cfg, progress=day_progress)
        return {"reused": False, "events": res.events.added, "calibration": res.calibration}

    step(0, "simulate", do_simulate)
    step(1, "trust", lambda: build_trust(ws, con=con).as_dict()["rows"])
    step(2, "feeds", lambda: _plain(build_feeds(ws, con)))
    step(3, "kpis", lambda: {"tables": len(write_kpis(ws, con)), "min_followers": default_min_followers(ws)[0]})
    # The headline numbers as just written (computing them again from the log cost 6–8 s per use on the
    # default preset, and the demo used them twice: the report and the printed table).
    head = stored_headline(ws)

    def do_report() -> dict[str, Any]:
        res = build_report(ws, con, headline_kpis=head)
        out.report = res.path
        return {"path": str(res.path), "charts": len(res.charts), "left_out": res.left_out}

    step(4, "report", do_report)
    for name, v in head.items():
        out.headline[name] = {**v.as_dict(), "article": ARTICLE_FIGURES.get(name)}
    return out


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if isinstance(v, int | float | str | bool) or v is None}
