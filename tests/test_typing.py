"""The code is clean: mypy with pyproject's ``[tool.mypy]`` settings reports no error on the package,
and ruff (pyproject's ``[tool.ruff]``) none on the repository.

mypy and ruff are in the ``test`` extra, so a missing one fails here rather than skipping. Its cache is the
default ``.mypy_cache`` at the repository root (gitignored): a warm run takes about a second, a cold
one (a fresh checkout, CI) about half a minute.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[1]


def test_package_type_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # pyproject's ``files = ["trustecon"]`` and the cache dir are relative to it
    # mypy tunes the interpreter for itself (GC thresholds, recursion limit): put them back afterwards.
    thresholds, recursion = gc.get_threshold(), sys.getrecursionlimit()
    try:
        stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    finally:
        gc.set_threshold(*thresholds)
        sys.setrecursionlimit(recursion)
    assert status == 0, f"mypy exited {status}:\n{stdout}{stderr}"


def test_repository_is_ruff_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"ruff exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
