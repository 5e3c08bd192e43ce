"""Parquet files of the workspace: encodings, compression, and writing several files at once.

Data layer, used by :mod:`trustecon.store` only. Kept apart so the store's module is about
transactions, and so each write choice here carries its measurement.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trustecon.events import SCHEMA

__all__ = ["fsync_path", "table_parts", "write_event_files", "write_parquet", "write_parts"]


#: Event columns worth a Parquet dictionary. Ids and times are near-unique per file: a dictionary for
#: them costs encoding time and ends up larger (measured on the ingest benchmark's 1 M rows: files
#: 25.3 MB -> 18.5 MB and encoding CPU 0.66 s -> 0.42 s with dictionaries for these columns only).
_EVENT_DICTIONARY = ("kind", "surface")


#: Integer and time columns of event files as DELTA_BINARY_PACKED (read by DuckDB, Spark ≥ 3.3 and
#: Arrow): on the same benchmark, encoding CPU a further -18% and files 18.4 MB -> 16.0 MB.
_EVENT_DELTA = {f.name: "DELTA_BINARY_PACKED" for f in SCHEMA if pa.types.is_int64(f.type) or f.name == "ts"}


#: Event files are Snappy-compressed: with the encodings above, zstd saves little (on the benchmark
#: 16.0 MB vs 18.9 MB) for 30% more encoding CPU (0.30 s vs 0.235 s per 1 M rows), and the log is
#: written far more often than it is archived.
_EVENT_COMPRESSION = "snappy"

#: Derived tables (and quarantine files) are Snappy too, with statistics on their non-float columns
#: only (ids, kinds, times: what a reader filters on; min/max of a score or a decayed sum prunes
#: nothing). Every build rewrites them and any build can remake them, so encoding CPU counts more than
#: size: ``pair_trust`` (1.25 M rows x 34 columns) took 0.56 CPU-s as zstd with all statistics and
#: 0.39 s like this, for 116 MB instead of 91 MB (session 5).
_TABLE_COMPRESSION = "snappy"


#: Statistics only where something reads them: ``ts`` (``as_of`` from the footers, and DuckDB's row
#: group pruning on time windows) and ``day``. Min/max of ids over a day's random users, creators and
#: kinds prune nothing, and the store keeps each file's event_id range in its manifest; writing them
#: cost 13% of the event files' encoding CPU (0.24 -> 0.21 s per 1 M rows in 30 day files).
_EVENT_STATISTICS = ["ts", "day"]


def fsync_path(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk. The store calls this on every staged file
    and its folder before the commit point, so a journal never names a file a power loss could leave
    short (SIGKILL alone cannot: the page cache survives the process)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet(table: pa.Table, path: Path) -> None:
    """One Parquet file, flushed to disk; event files with the encodings and compression above."""
    if table.schema.names[: len(SCHEMA)] == SCHEMA.names:
        pq.write_table(
            table,
            path,
            compression=_EVENT_COMPRESSION,
            use_dictionary=list(_EVENT_DICTIONARY),
            column_encoding=_EVENT_DELTA,
            write_statistics=_EVENT_STATISTICS,
            # No Arrow schema in the footer: a dictionary-encoded ``kind`` (the store encodes it once)
            # then reads back as the plain text column of SCHEMA in every reader. Parquet's own
            # logical types carry everything else (UTC timestamps, dates).
            store_schema=False,
        )
    else:
        stats = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
        pq.write_table(table, path, compression=_TABLE_COMPRESSION, use_dictionary=_table_dictionary(table),
                       write_statistics=stats)
    fsync_path(path)  # on the writer's thread: files written at once are flushed at once


def _write_event_file(make: Callable[[], pa.Table], path: Path) -> tuple[str, str]:
    table = make()
    write_parquet(table, path)
    mm = pc.min_max(table["event_id"])
    return mm["min"].as_py(), mm["max"].as_py()


def write_event_files(jobs: list[tuple[Callable[[], pa.Table], Path]]) -> list[tuple[str, str]]:
    """Build and write each event file, several at once on a thread pool (Arrow's gather and Parquet
    encoding release the GIL; one file per day is the natural unit of parallel work). Returns each
    file's (min, max) event_id, in order."""
    if len(jobs) <= 1 or (os.cpu_count() or 1) == 1:
        return [_write_event_file(make, path) for make, path in jobs]
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1, 8)) as pool:
        return list(pool.map(lambda job: _write_event_file(*job), jobs))


#: Derived tables above this many rows are written as several part files at once: Parquet encodes one
#: file on one thread (measured: ``pair_trust``, 1.25 M rows x 34 columns, 1.06 s as one zstd file).
PART_ROWS = 400_000


def _table_dictionary(table: pa.Table) -> list[str]:
    """Dictionary-encode text columns only: derived tables are mostly numbers, whose dictionaries
    cost encoding time for nothing (``pair_trust``: 1.06 s → 0.67 s without them)."""
    return [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def table_parts(table: pa.Table) -> list[pa.Table]:
    """``table`` cut into at most one slice per core, each of at least :data:`PART_ROWS` rows."""
    k = max(1, min(os.cpu_count() or 1, 8, table.num_rows // PART_ROWS))
    step = -(-table.num_rows // k)
    return [table] if k == 1 else [table.slice(p * step, step) for p in range(k)]


def write_parts(jobs: list[tuple[pa.Table, Path]]) -> None:
    """Write each (table, path), several at once on a thread pool (Parquet encoding releases the GIL)."""
    if len(jobs) == 1:
        write_parquet(*jobs[0])
        return
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(lambda job: write_parquet(*job), jobs))
