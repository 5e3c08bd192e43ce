"""File ingest: CSV, JSON Lines and Parquet files (or folders of them) into the event log.

Each file is one transaction: its valid rows land together or not at all, and re-running an
interrupted ingest completes it without duplicates (the store skips event_ids it already holds).
Bad rows never stop the good ones: a line the CSV parser cannot split, a JSON line that does not
parse, or a row that fails validation goes to quarantine with the file, its row and the reason.

Row numbers: for CSV and JSON Lines, ``row`` is the line number in the file (the CSV header is line
1, so the first data row is line 2); for Parquet it is the 1-based row index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trustecon.engine import scratch_duckdb
from trustecon.events import QUARANTINE_SCHEMA, SCHEMA, check_plan, given_flags_sql
from trustecon.store import AppendResult, Transaction, Workspace

__all__ = ["FORMATS", "IngestError", "IngestReport", "ingest_files", "iter_files"]

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
#: Rows per validated chunk: large enough for DuckDB's vectorized validation, small enough to bound memory.
CHUNK_ROWS = 1_000_000


class IngestError(Exception):
    """Nothing could be read (missing file, unknown format, unreadable header)."""


@dataclass
class IngestReport:
    """The summary of an ingest: totals and, per file, the append result or the error."""

    total: AppendResult = field(default_factory=AppendResult)
    files: dict[str, AppendResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            **self.total.as_dict(),
            "files": {k: v.as_dict() for k, v in self.files.items()},
            "errors": self.errors,
        }


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand folders (recursively, sorted) to the files with a known format; keep given files as is."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and _format(f) is not None)
        else:
            out.append(p)
    return out


def _format(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".zst", ".bz2"):
        suffixes = suffixes[:-1]
    return FORMATS.get(suffixes[-1]) if suffixes else None


def _quarantine(file: str, rows: list[tuple[int, str, str]]) -> pa.Table:
    """Rows the parser rejected before validation: (row, reason, raw text)."""
    return pa.table(
        {
            "file": [file] * len(rows),
            "row": [r[0] for r in rows],
            "field": [None] * len(rows),
            "reason": [r[1] for r in rows],
            "raw": [r[2] for r in rows],
        },
        schema=QUARANTINE_SCHEMA,
    )


Chunk = tuple[pa.Table, pa.Array, pa.Table]  # rows as text or typed, their row numbers, parse errors


def _csv_chunks(path: Path) -> Iterator[Chunk]:
    bad: list[tuple[int, str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        reason = f"malformed line: expected {row.expected_columns} fields, found {row.actual_columns}"
        bad.append((int(row.number or -1), reason, row.text))
        return "skip"

    header = _csv_header(path)
    # Every column is read as text so that validation, not the parser, judges each value (and names it).
    reader = pacsv.open_csv(
        path,
        # Single-threaded reading is what gives line numbers for rejected lines; validation (the heavier
        # part) runs multi-threaded in DuckDB.
        read_options=pacsv.ReadOptions(block_size=32 << 20, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header}, strings_can_be_null=True, quoted_strings_can_be_null=True
        ),
    )
    next_line = 2  # the first data line
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def flush() -> Chunk:
        nonlocal next_line, pending, pending_rows, bad
        n = pending_rows
        bad_lines = np.array(sorted(b[0] for b in bad if b[0] >= 0), dtype=np.int64)
        # Valid rows take the line numbers from next_line upward, skipping the rejected lines.
        span = n + len(bad_lines)
        candidates = np.arange(next_line, next_line + span, dtype=np.int64)
        lines = np.setdiff1d(candidates, bad_lines, assume_unique=True)[:n]
        next_line = next_line + span
        table = pa.Table.from_batches(pending, schema=reader.schema) if pending else pa.table({})
        errors = _quarantine(str(path), bad)
        pending, pending_rows, bad = [], 0, []
        return table, pa.array(lines), errors

    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= CHUNK_ROWS:
            yield flush()
    yield flush()


def _csv_header(path: Path) -> list[str]:
    import csv
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"{path}: cannot read a CSV header: {exc}") from exc
    if not header:
        raise IngestError(f"{path}: empty file (no CSV header)")
    if "event_id" not in header:
        raise IngestError(f"{path}: the CSV header has no event_id column (found: {', '.join(header[:20])})")
    return header


def _clean_csv_fast_path(tx: Transaction, path: Path) -> AppendResult | None:
    """Ingest a clean CSV file entirely inside DuckDB (parse, check, partition, write Parquet, all
    multi-threaded), or return None to take the general path.

    The general path reads single-threaded to number every rejected line; most files have none, so
    this path tries first and gives up at the first sign of trouble: a line DuckDB cannot parse, any
    row failing a check, or an event_id repeated in the file or already stored. It runs the very
    checks of :func:`trustecon.events.check_plan`, so both paths admit the same rows (a test holds
    them equal on the same files).
    """
    header = _csv_header(path)
    given = {c: pa.string() for c in header}
    plan = check_plan(given)
    cols = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in header) + "}"
    src = (
        f"read_csv('{_sql_str(path)}', header=true, columns={cols}, delim=',', quote='\"', escape='\"', "
        "auto_detect=false, strict_mode=true, null_padding=false)"
    )
    con = scratch_duckdb()
    try:
        con.execute("SET TimeZone='UTC'")
        con.execute(f"CREATE TEMP TABLE p AS SELECT {plan.select_typed}{given_flags_sql(given)} FROM {src}")
        n, bad, distinct = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {plan.any_bad}), count(DISTINCT t_event_id) FROM p"
        ).fetchall()[0]
        if bad or distinct != n:
            return None
        lo, hi = con.execute("SELECT min(t_event_id), max(t_event_id) FROM p").fetchall()[0]
        stored = tx.stored_event_files(lo, hi) if n else []
        if stored:
            files = ", ".join(f"'{_sql_str(f)}'" for f in stored)
            hit = con.execute(
                f"SELECT count(*) FROM read_parquet([{files}], hive_partitioning=false) "
                "WHERE event_id IN (SELECT t_event_id FROM p)"
            ).fetchall()[0][0]
            if hit:
                return None
        if n == 0:
            return AppendResult()
        tz = _sql_str(tx.ws.timezone)
        out = tx.scratch() / "csv"
        select = ", ".join(f't_{f.name}::{_DUCK[str(f.type)]} AS "{f.name}"' for f in SCHEMA)
        con.execute(
            f"COPY (SELECT {select}, CAST(timezone('{tz}', t_ts) AS DATE) AS day FROM p) TO '{_sql_str(out)}' "
            "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), WRITE_PARTITION_COLUMNS true)"
        )
        by_kind = dict(con.execute("SELECT t_kind, count(*) FROM p GROUP BY t_kind").fetchall())
    except duckdb.Error:
        return None  # a parse error: the general path finds and numbers the bad lines
    finally:
        con.close()
    files = [(f, f.parent.name.removeprefix("day=")) for f in sorted(out.rglob("*.parquet"))]
    return tx.adopt_events(files, read=int(n), by_kind=by_kind)


_DUCK = {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE", "timestamp[us, tz=UTC]": "TIMESTAMPTZ"}


def _sql_str(x: object) -> str:
    return str(x).replace("'", "''")


def _jsonl_chunks(path: Path) -> Iterator[Chunk]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                bad.append((lineno, f"malformed JSON: {exc.msg}", line.rstrip("\n")[:1000]))
                continue
            if not isinstance(obj, dict):
                bad.append((lineno, "malformed JSON: a line must hold one object", line.rstrip("\n")[:1000]))
                continue
            rows.append({k: (None if v is None else str(v)) for k, v in obj.items()})
            lines.append(lineno)
            if len(rows) >= CHUNK_ROWS:
                yield _rows_table(rows), pa.array(lines, pa.int64()), _quarantine(str(path), bad)
                rows, lines, bad = [], [], []
    yield _rows_table(rows), pa.array(lines, pa.int64()), _quarantine(str(path), bad)


def _rows_table(rows: list[dict[str, object]]) -> pa.Table:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})


def _parquet_chunks(path: Path) -> Iterator[Chunk]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"{path}: not a readable Parquet file: {exc}") from exc
    start = 1
    for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
        t = pa.Table.from_batches([batch])
        yield t, pa.array(np.arange(start, start + t.num_rows, dtype=np.int64)), QUARANTINE_SCHEMA.empty_table()
        start += t.num_rows


_READERS: dict[str, Callable[[Path], Iterator[Chunk]]] = {
    "csv": _csv_chunks,
    "jsonl": _jsonl_chunks,
    "parquet": _parquet_chunks,
}


def ingest_files(
    ws: Workspace,
    paths: Iterable[str | os.PathLike[str]],
    *,
    on_progress: Callable[[str, int], None] | None = None,
) -> IngestReport:
    """Ingest files (or folders of files) into ``ws``, one transaction per file.

    ``on_progress(file, rows)`` is called after each chunk with the rows it held. A file that cannot be
    read at all is reported in ``errors`` and the others still land.
    """
    report = IngestReport()
    for path in iter_files(paths):
        key = str(path)
        fmt = _format(path)
        if not path.exists():
            report.errors[key] = "no such file"
            continue
        if fmt is None:
            report.errors[key] = f"unknown format {path.suffix!r} (expected one of {', '.join(sorted(FORMATS))})"
            continue
        result = AppendResult()
        try:
            with ws.transaction() as tx:
                fast = _clean_csv_fast_path(tx, path) if fmt == "csv" else None
                if fast is not None:
                    result = fast
                    if on_progress is not None:
                        on_progress(key, fast.read)
                for table, lines, errors in _READERS[fmt](path) if fast is None else ():
                    if table.num_rows == 0 and errors.num_rows == 0:
                        continue
                    if table.num_rows == 0:
                        table = pa.table({"event_id": pa.array([], pa.string())})
                    result += tx.append(table, file=key, row_numbers=lines, extra_errors=errors)
                    if on_progress is not None:
                        on_progress(key, table.num_rows + errors.num_rows)
        except IngestError as exc:
            report.errors[key] = str(exc).removeprefix(f"{key}: ")
            continue
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
            report.errors[key] = f"unreadable: {exc}"
            continue
        report.files[key] = result
        report.total += result
    return report


def schema_columns() -> list[str]:
    """The event columns a file may carry (others are ignored)."""
    return [f.name for f in SCHEMA]
