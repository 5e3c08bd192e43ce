"""Persisting the KPI catalogue: every table of :func:`compute_all` as ``tables/kpis_<name>``."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator

import ibis
import ibis.expr.types as ir

from trustecon.kpis._base import shared_intermediates
from trustecon.kpis.catalogue import HEADLINE_TABLES, KpiValue, compute_all, headline_value
from trustecon.store import Workspace

__all__ = ["REAL_MIN_FOLLOWERS", "default_min_followers", "stored_headline", "temporary_tables", "write_kpis"]

#: The creator-income audience threshold N on real platforms (DESIGN.md §9).
REAL_MIN_FOLLOWERS = 10_000


def default_min_followers(ws: Workspace) -> tuple[int, str | None]:
    """N for the creator-income KPI and why: 10,000 for a real log; for a simulated one, scaled with
    its population as DESIGN.md §9 asks (no simulated creator reaches 10,000 followers), by the rule
    of ``trustecon experiment policies`` (one follower per 200 users), and said so."""
    prov = ws.config.get("provenance", {})
    users = prov.get("config", {}).get("users") if prov.get("source") == "simulator" else None
    if not isinstance(users, int) or users <= 0:
        return REAL_MIN_FOLLOWERS, None
    n = max(1, users // 200)
    return n, f"simulated log of {users:,} users: N scaled to users / 200 = {n:,} (10,000 on real platforms)"


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


def write_kpis(ws: Workspace, con: ibis.BaseBackend, *, min_followers: int | None = None) -> dict[str, int]:
    """Compute every KPI table on ``con`` and replace ``tables/kpis_*`` in one transaction.

    Returns rows per table name. ``min_followers`` is the creator-income audience threshold N
    (default :func:`default_min_followers`, so the CLI, the demo and the API agree).
    """
    if min_followers is None:
        min_followers = default_min_followers(ws)[0]
    rows: dict[str, int] = {}
    # An empty log is an in-memory table the engine cannot build temporary tables from; nothing to share.
    sharing = temporary_tables(con) if ws.event_files() else contextlib.nullcontext()
    with sharing, ws.transaction() as tx:
        tables = compute_all(ws.events(con), timezone=ws.timezone, min_followers=min_followers)
        for name, expr in tables.items():
            t = expr.to_pyarrow()
            tx.write_table(f"kpis_{name}", t)
            rows[f"kpis_{name}"] = t.num_rows
    return rows


def stored_headline(ws: Workspace, period: str = "all") -> dict[str, KpiValue]:
    """The headline KPIs of ``period`` read from the stored ``tables/kpis_*`` (written by
    :func:`write_kpis`), equal to :func:`~trustecon.kpis.headline` over the log they were computed
    from; without a row for the period the reason says so. Raises ``KeyError`` naming the table when
    the KPIs were never written."""
    import pyarrow.compute as pc

    out: dict[str, KpiValue] = {}
    for name, table in HEADLINE_TABLES.items():
        if table not in ws.table_names():
            raise KeyError(f"{table}: not written yet (trustecon kpis WORKSPACE)")
        t = ws.read_table(table)
        rows = t.filter(pc.equal(t["period"], period)).to_pylist()
        out[name] = headline_value(name, rows, missing=f"no rows for period {period}")
    return out
