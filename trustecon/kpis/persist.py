"""Persisting the KPI catalogue: every table of :func:`compute_all` as ``tables/kpis_<name>``."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator

import ibis
import ibis.expr.types as ir

from trustecon.kpis._base import shared_intermediates
from trustecon.kpis.catalogue import compute_all
from trustecon.store import Workspace

__all__ = ["temporary_tables", "write_kpis"]


@contextlib.contextmanager
def temporary_tables(con: ibis.BaseBackend) -> Iterator[None]:
    """:func:`~trustecon.kpis._base.shared_intermediates` on ``con``: on DuckDB each shared
    intermediate becomes a temporary table (``CREATE TEMP TABLE … AS`` the expression's SQL), dropped
    when the block ends; on other engines nothing is shared (Spark recomputes in parallel, and
    caching there is the cluster's business)."""
    if con.name != "duckdb":
        yield
        return
    prefix = f"_trustecon_shared_{uuid.uuid4().hex[:8]}_"
    counter = itertools.count()
    made: list[str] = []

    def materialize(expr: ir.Table) -> ir.Table:
        name = f"{prefix}{next(counter)}"
        con.raw_sql(f'CREATE TEMP TABLE "{name}" AS {con.compile(expr)}')
        made.append(name)
        return con.table(name)

    try:
        with shared_intermediates(materialize):
            yield
    finally:
        for name in made:
            con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')


def write_kpis(ws: Workspace, con: ibis.BaseBackend, *, min_followers: int = 10_000) -> dict[str, int]:
    """Compute every KPI table on ``con`` and replace ``tables/kpis_*`` in one transaction.

    Returns rows per table name. ``min_followers`` is the creator-income audience threshold N.
    """
    rows: dict[str, int] = {}
    with temporary_tables(con), ws.transaction() as tx:
        tables = compute_all(ws.events(con), timezone=ws.timezone, min_followers=min_followers)
        for name, expr in tables.items():
            t = expr.to_pyarrow()
            tx.write_table(f"kpis_{name}", t)
            rows[f"kpis_{name}"] = t.num_rows
    return rows
