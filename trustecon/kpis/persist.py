"""Persisting the KPI catalogue: every table of :func:`compute_all` as ``tables/kpis_<name>``."""

from __future__ import annotations

import ibis

from trustecon.kpis.catalogue import compute_all
from trustecon.store import Workspace

__all__ = ["write_kpis"]


def write_kpis(ws: Workspace, con: ibis.BaseBackend, *, min_followers: int = 10_000) -> dict[str, int]:
    """Compute every KPI table on ``con`` and replace ``tables/kpis_*`` in one transaction.

    Returns rows per table name. ``min_followers`` is the creator-income audience threshold N.
    """
    tables = compute_all(ws.events(con), timezone=ws.timezone, min_followers=min_followers)
    rows: dict[str, int] = {}
    with ws.transaction() as tx:
        for name, expr in tables.items():
            t = expr.to_pyarrow()
            tx.write_table(f"kpis_{name}", t)
            rows[f"kpis_{name}"] = t.num_rows
    return rows
