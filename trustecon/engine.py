"""Engine backends: the one place that opens Ibis connections (DESIGN.md §3).

DuckDB (embedded) is the default; PySpark runs the same Ibis expressions when a log outgrows one
machine. Pipelines take the connection as an argument; nothing holds a global one.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

import ibis
from ibis.backends import BaseBackend

__all__ = ["ENGINES", "Engine", "connect", "to_arrow"]

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")

_SPARK_SESSION = None


def _spark_session(master: str | None = None):  # pragma: no cover - exercised by spark tests
    """A local Spark session set for exact, reproducible analytics (UTC, no ANSI surprises)."""
    global _SPARK_SESSION
    if _SPARK_SESSION is not None:
        return _SPARK_SESSION
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master or os.environ.get("TRUSTECON_SPARK_MASTER", "local[2]"))
        .appName("trustecon")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # the CLI draws its own progress bars
        .config("spark.driver.memory", os.environ.get("TRUSTECON_SPARK_MEMORY", "2g"))
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    _SPARK_SESSION = builder.getOrCreate()
    _SPARK_SESSION.sparkContext.setLogLevel("ERROR")
    return _SPARK_SESSION


def connect(engine: str = "duckdb", *, path: str | None = None, master: str | None = None) -> BaseBackend:
    """Open an Ibis connection.

    ``duckdb``: in memory unless ``path`` names a database file. ``spark``: a local session
    (``local[2]`` or ``master``), reused within the process because a JVM start costs ~10 s.
    """
    if engine == "duckdb":
        con = ibis.duckdb.connect(path or ":memory:")
        con.raw_sql("SET TimeZone='UTC'")
        # DuckDB draws its own progress bar on stdout for queries over 2 s; it interleaved with the
        # CLI's rich progress bars and landed in `--json` output piped to a file.
        con.raw_sql("SET enable_progress_bar=false")
        return con
    if engine == "spark":
        try:
            session = _spark_session(master)
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("the spark engine needs the 'spark' extra: pip install 'trustecon[spark]'") from exc
        return ibis.pyspark.connect(session)
    raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")


def to_arrow(expr: ibis.Expr):
    """Execute ``expr`` on its backend and return a pyarrow Table (the common currency across engines)."""
    return expr.to_pyarrow()


_SCRATCH = None


def scratch_duckdb():
    """A fresh DuckDB connection (a cursor) on one in-memory database shared by the process.

    For the data layer's own vectorized work on Arrow batches (validation, deduplication, partitioning).
    Opening a new database costs ~30 ms; a cursor on a shared one costs ~30 µs, which matters when a
    simulator commits one batch per day. Temp tables and registered Arrow views are per cursor.
    """
    global _SCRATCH
    import duckdb

    if _SCRATCH is None:
        _SCRATCH = duckdb.connect()
    con = _SCRATCH.cursor()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")  # a session setting: no bar on stdout
    return con
