"""Shared helpers of the trust evaluation scripts: Spearman, ROC-AUC, the percentile bootstrap, and the
workspaces they evaluate (a fresh simulation, or a public dataset loaded once).

``BOOT`` is the default number of bootstrap resamples; ``eval_trust.py --boot`` sets it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr

from trustecon.store import Workspace

BOOT = 1000


# ----------------------------------------------------------------------------- statistics
def rho(x: np.ndarray, y: np.ndarray) -> float:
    return float(spearmanr(x, y).statistic)


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC by the Mann–Whitney statistic (ties count half)."""
    y = np.asarray(y, bool)
    r = rankdata(score)
    n1, n0 = y.sum(), (~y).sum()
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def boot(fn, *cols: np.ndarray, n: int | None = None, seed: int = 0) -> dict[str, float]:
    """Point estimate and percentile 95% interval of ``fn(*cols)`` over resampled rows."""
    n = BOOT if n is None else n
    rng = np.random.default_rng(seed)
    m = len(cols[0])
    est = fn(*cols)
    vals = []
    for _ in range(n):
        i = rng.integers(0, m, m)
        v = fn(*(c[i] for c in cols))
        if np.isfinite(v):
            vals.append(v)
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return {"value": round(est, 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}


def simulate_into(path: Path, preset_name: str, seed: int, days: int | None = None, **attacks: Any) -> Workspace:
    """A fresh simulated workspace (the simulator is another engineer's; imported here, in a script,
    not in the models). ``days`` overrides the preset's horizon."""
    from trustecon.simulate.config import AttackConfig, preset
    from trustecon.simulate.run import simulate

    cfg = preset(preset_name)
    cfg = dataclasses.replace(cfg, seed=seed, attacks=dataclasses.replace(AttackConfig(), **attacks))
    if days is not None:
        cfg = dataclasses.replace(cfg, days=days)
    if path.exists():
        import shutil

        shutil.rmtree(path)
    ws = Workspace.init(path)
    simulate(ws, cfg, calibrate=False)
    return ws


def dataset_workspace(dataset: str, path: Path, data: Path) -> Workspace:
    """The dataset's workspace at ``path``, loaded from ``data`` the first time (reused after)."""
    from trustecon.datasets import load

    if not (path / "trustecon.toml").exists():
        load(dataset, path, data)
    return Workspace.open(path)
