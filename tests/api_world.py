"""The small built world the HTTP API and dashboard tests share (built once per test session)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

from trustecon.engine import connect
from trustecon.store import Workspace


def build_world(path: Path) -> Workspace:
    """A small simulated platform (300 users, 15 creators, 3 days) with trust, feeds and KPI tables."""
    from trustecon.distribution.build import build_feeds
    from trustecon.kpis.persist import write_kpis
    from trustecon.simulate.config import preset
    from trustecon.simulate.run import simulate
    from trustecon.trust.build import build

    ws = Workspace.init(path)
    con = connect("duckdb")
    cfg = dataclasses.replace(preset("small"), users=300, creators=15, brands=4, products_per_brand=5, days=3, seed=1)
    simulate(ws, cfg, calibrate=False)
    build(ws, con=con)
    build_feeds(ws, con)
    write_kpis(ws, con)
    return ws


def session_copy(tmp_path_factory, key: str, build_fn: Callable[[Path], object], name: str) -> Workspace:
    """A copy of the workspace ``build_fn`` writes, built once per test session under ``key`` (built
    aside and renamed, so an interrupted build is never reused); each caller gets its own copy."""
    base = tmp_path_factory.getbasetemp() / key
    if not (base / "trustecon.toml").exists():
        tmp = base.with_name(base.name + ".building")
        shutil.rmtree(tmp, ignore_errors=True)
        build_fn(tmp)
        tmp.rename(base)
    dest = tmp_path_factory.mktemp(name) / "ws"
    shutil.copytree(base, dest)
    return Workspace.open(dest)


def built_world(tmp_path_factory, name: str) -> Workspace:
    """A copy of the small world, built once per test session (test_api and test_dashboard share it)."""
    return session_copy(tmp_path_factory, "trustecon-api-world", build_world, name)
