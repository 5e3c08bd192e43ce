"""File ingest: CSV, JSON Lines and Parquet files (or folders of them) into the event log.

Each file is one transaction: its valid rows land together or not at all, and re-running an
interrupted ingest completes it without duplicates (the store skips event_ids it already holds).
Bad rows never stop the good ones: a line the CSV parser cannot split, a JSON line that does not
parse, or a row that fails validation goes to quarantine with the file, its row and the reason. So
does an ``order``, ``refund`` or ``complaint`` row whose ``order_id`` is already bound to another
buyer or seller — by a stored row, or by an earlier row of the same file (the first row in file
order binds): :mod:`trustecon.order_integrity`.

Row numbers: for CSV and JSON Lines, ``row`` is the line number in the file (the CSV header is line
1, so the first data row is line 2); for Parquet it is the 1-based row index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trustecon.events import QUARANTINE_SCHEMA, SCHEMA, clean_typed
from trustecon.store import AppendResult, Transaction, Workspace

__all__ = ["FORMATS", "IngestError", "IngestReport", "ingest_files", "iter_files"]

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
#: Rows per validated chunk: large enough for DuckDB's vectorized validation, small enough to bound memory.
CHUNK_ROWS = 1_000_000
#: CSV files up to this size are read whole by the fast path (parsed on all cores); larger ones stream.
WHOLE_READ_BYTES = 256 << 20


class IngestError(Exception):
    """Nothing could be read (missing file, unknown format, unreadable header)."""


@dataclass
class IngestReport:
    """The summary of an ingest: totals and, per file, the append result or the error, and the
    columns a file carried outside the event schema (not stored: a misspelt ``user`` shows here, not
    only later as a missing ``user_id``)."""

    total: AppendResult = field(default_factory=AppendResult)
    files: dict[str, AppendResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            **self.total.as_dict(),
            "files": {k: v.as_dict() for k, v in self.files.items()},
            "errors": self.errors,
            "ignored_columns": self.ignored_columns,
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
        # utf-8-sig: a byte-order mark (spreadsheets' "CSV UTF-8") is not part of the first column's
        # name; the Arrow reader drops it too.
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"{path}: cannot read a CSV header: {exc}") from exc
    if not header:
        raise IngestError(f"{path}: empty file (no CSV header)")
    if "event_id" not in header:
        raise IngestError(f"{path}: the CSV header has no event_id column (found: {', '.join(header[:20])})")
    return header


#: How the fast path's reader types each event column: integers and numbers are parsed by the CSV
#: reader itself (multi-threaded, and strict: it accepts only what validation would read the same way;
#: anything else raises and the general path takes the file), everything else stays text.
_FAST_TYPES: dict[str, pa.DataType] = {
    f.name: f.type for f in SCHEMA if pa.types.is_int64(f.type) or pa.types.is_floating(f.type)
}


def _clean_csv_fast_path(tx: Transaction, path: Path) -> AppendResult | None:
    """Ingest a clean CSV file with a multi-threaded typed read and whole-column checks, or return None
    (after undoing what it staged) to take the general path.

    The general path reads single-threaded, every value as text, to number every rejected line and
    keep its raw text; most files have no such line, so this path tries first and gives up at the
    first sign of trouble: a line the reader cannot split, a value its typed parser refuses, or a row
    :func:`trustecon.events.clean_typed` does not pass. The reader's integer and number parsers accept
    a subset of what validation's casts accept, with equal values, and the remaining checks are
    validation's own, so both paths admit the same rows with the same values (tests hold them equal).
    Duplicates and conflicts go through the store exactly as on the general path.
    """
    header = _csv_header(path)
    if len(set(header)) != len(header):
        return None
    reader_types = {c: _FAST_TYPES.get(c, pa.string()) for c in header}
    point = tx.savepoint()
    result = AppendResult()
    next_line = 2  # the first data line
    try:
        for chunk in _typed_csv_chunks(path, reader_types):
            clean = clean_typed(chunk)
            if clean is None:
                tx.rollback_to(point)
                return None
            # Row i of the chunk is line next_line + i: the reader refused no line in between.
            result += tx.append_valid(clean, file=str(path), row_offset=next_line, check_orders=True)
            next_line += chunk.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError):
        tx.rollback_to(point)
        return None  # a line or a value the typed reader refuses: the general path numbers it
    return result


def _typed_csv_chunks(path: Path, types: dict[str, pa.DataType]) -> Iterator[pa.Table]:
    """The file typed by the CSV reader, in chunks of about :data:`CHUNK_ROWS` rows; raises
    ``ArrowInvalid`` at the first line or value it refuses."""
    parse = pacsv.ParseOptions(newlines_in_values=False)
    convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=True)
    if path.stat().st_size <= WHOLE_READ_BYTES:
        # Read whole: its blocks parse on all cores (the streaming reader keeps about one busy).
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(block_size=1 << 20), parse_options=parse, convert_options=convert
        )
        for start in range(0, table.num_rows, CHUNK_ROWS):
            yield table.slice(start, CHUNK_ROWS)
        return
    # Stream, so memory stays bounded; 4 MB blocks measured best (1-32 MB).
    stream = pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(block_size=4 << 20), parse_options=parse, convert_options=convert
    )
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in stream:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield pa.Table.from_batches(pending, schema=stream.schema)
            pending, rows = [], 0
    if rows:
        yield pa.Table.from_batches(pending, schema=stream.schema)


def _jsonl_chunks(path: Path) -> Iterator[Chunk]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:  # -sig: a BOM is no JSON
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
        seen: dict[str, None] = {}  # the file's columns, in order
        try:
            with ws.transaction() as tx:
                fast = _clean_csv_fast_path(tx, path) if fmt == "csv" else None
                if fast is not None:
                    result = fast
                    seen.update(dict.fromkeys(_csv_header(path)))
                    if on_progress is not None:
                        on_progress(key, fast.read)
                for table, lines, errors in _READERS[fmt](path) if fast is None else ():
                    seen.update(dict.fromkeys(table.column_names))
                    if table.num_rows == 0 and errors.num_rows == 0:
                        continue
                    if table.num_rows == 0:
                        table = pa.table({"event_id": pa.array([], pa.string())})
                    result += tx.append(table, file=key, row_numbers=lines, extra_errors=errors, check_orders=True)
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
        extra = [c for c in seen if c not in _SCHEMA_NAMES]
        if extra:
            report.ignored_columns[key] = extra
    return report


_SCHEMA_NAMES = frozenset(f.name for f in SCHEMA)


def schema_columns() -> list[str]:
    """The event columns a file may carry (others are ignored)."""
    return [f.name for f in SCHEMA]
