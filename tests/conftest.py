"""Shared fixtures: engines, a fresh workspace, the real datasets (skipped with a reason if absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TRUSTECON_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or $TRUSTECON_DATA); tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (set TRUSTECON_DATA or place ../shared/data)")
    return SHARED_DATA


@pytest.fixture()
def duck_con():
    from trustecon.engine import connect

    return connect("duckdb")


@pytest.fixture(scope="session")
def spark_con():
    """One local Spark session for the whole run (a JVM start costs ~10 s)."""
    pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install 'trustecon[spark]')")
    from trustecon.engine import connect

    return connect("spark")


@pytest.fixture()
def ws(tmp_path: Path):
    from trustecon.store import Workspace

    return Workspace.init(tmp_path / "ws")
