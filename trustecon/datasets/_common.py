"""What every dataset adapter shares: workspace checks, batched appends, id maps, quarantine, provenance.

An adapter turns its source files into event batches (one DuckDB query per source file, ordered by the
file's row number so that "first occurrence wins" is the file's order) and hands them to
:func:`append_events`, which appends them in ONE store transaction together with the ``id_map`` table,
so a load commits whole or not at all.

Reloading is a no-op: the store deduplicates events by ``event_id`` and does not quarantine a row that
is already in quarantine with the same file, row and reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from trustecon.events import QUARANTINE_SCHEMA, SCHEMA
from trustecon.store import AppendResult, Workspace, WorkspaceError

__all__ = [
    "ID_MAP_SCHEMA",
    "Batch",
    "LoadResult",
    "Progress",
    "append_events",
    "check_workspace",
    "connect_duckdb",
    "events_table",
    "fingerprint",
    "ids_table",
    "quarantine_rows",
    "record_provenance",
    "require_files",
    "to_batch",
]

#: ``progress(file, done, total)``: ``done`` of the ``total`` candidate events of ``file`` are appended.
Progress = Callable[[str, int, int], None]

#: The ``id_map`` derived table: how each source id was mapped to the event log's int64 id.
ID_MAP_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("entity", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("id", pa.int64()),
    ]
)

#: Rows per append inside the load's one transaction (bounds memory: each batch is validated alone).
BATCH_ROWS = 200_000


@dataclass
class LoadResult(AppendResult):
    """An :class:`~trustecon.store.AppendResult` plus what the adapter saw in its source files.

    ``read`` counts candidate events plus rows the adapter rejected itself (each such row is one
    quarantine record); ``source_rows`` counts the data rows of each source file.
    """

    dataset: str = ""
    source_rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out.update(
            dataset=self.dataset,
            source_rows=dict(self.source_rows),
        )
        return out


@dataclass
class Batch:
    """Candidate events of one source file (``SCHEMA`` columns) and the file row each came from."""

    file: str
    events: pa.Table
    rows: pa.Array
    #: Rows the adapter itself rejects (quarantine schema), e.g. an order line without a customer.
    rejected: pa.Table | None = None


def to_batch(con: duckdb.DuckDBPyConnection, sql: str, file: str, rejected: pa.Table | None = None) -> Batch:
    """Run ``sql`` (event columns by name plus ``_row``) into a :class:`Batch` typed to ``SCHEMA``."""
    t = con.sql(sql).to_arrow_table()
    cols = {
        f.name: t[f.name].cast(f.type) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
        for f in SCHEMA
    }
    return Batch(file=file, events=pa.table(cols, schema=SCHEMA), rows=t["_row"].combine_chunks(), rejected=rejected)


def events_table(columns: dict[str, Any], n: int) -> pa.Table:
    """An event table from a few columns (lists or arrays); the others are null."""
    return pa.table(
        {f.name: pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type) for f in SCHEMA},
        schema=SCHEMA,
    )


def connect_duckdb() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for an adapter's transforms (UTC session, bounded memory)."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")  # no bar on stdout beside the CLI's
    con.execute("SET memory_limit='2GB'")
    return con


def fingerprint(path: Path) -> dict[str, Any]:
    """Bytes and the first 16 hex digits of the SHA-256, as the MANIFESTs list them."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"bytes": path.stat().st_size, "sha256_16": h.hexdigest()[:16]}


def quarantine_rows(
    file: str, rows: Iterable[int], reasons: str | list[str], fields: str | list[str], raws: Iterable[str]
) -> pa.Table:
    """Adapter-level rejects in the quarantine schema (the store adds them to ``quarantine/``).

    ``reasons`` and ``fields`` are one value for every row or one per row."""
    rows = list(rows)
    n = len(rows)
    return pa.table(
        {
            "file": [file] * n,
            "row": rows,
            "field": [fields] * n if isinstance(fields, str) else fields,
            "reason": [reasons] * n if isinstance(reasons, str) else reasons,
            "raw": list(raws),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _slices(table: pa.Table, rows: pa.Array) -> Iterator[tuple[pa.Table, pa.Array]]:
    for start in range(0, max(table.num_rows, 1), BATCH_ROWS):
        yield table.slice(start, BATCH_ROWS), rows.slice(start, BATCH_ROWS)


def append_events(
    ws: Workspace,
    dataset: str,
    batches: Iterable[Batch],
    id_map: pa.Table,
    *,
    source_rows: dict[str, int],
    progress: Progress | None = None,
    tables: dict[str, pa.Table] | None = None,
) -> LoadResult:
    """Append every batch, replace this source's rows of ``id_map`` and write ``tables`` (derived
    tables of the source, e.g. Ciao's review metadata), all in one transaction."""
    result = LoadResult(dataset=dataset, source_rows=dict(source_rows))
    with ws.transaction() as tx:
        for b in batches:
            events, rows, rejected = b.events.select(SCHEMA.names), b.rows.cast(pa.int64()), b.rejected
            first, done, total = True, 0, events.num_rows
            for part, part_rows in _slices(events, rows):
                extra = rejected if first else None
                first = False
                if part.num_rows == 0 and (extra is None or extra.num_rows == 0):
                    continue
                result += tx.append(part, file=b.file, row_numbers=part_rows, extra_errors=extra)
                done += part.num_rows
                if progress is not None:
                    progress(b.file, done, total)
        tx.write_table("id_map", _merge_id_map(ws, dataset, id_map))
        for name, table in (tables or {}).items():
            tx.write_table(name, table)
    return result


def _merge_id_map(ws: Workspace, dataset: str, id_map: pa.Table) -> pa.Table:
    """This source's mappings replace its earlier ones; other sources' rows are kept."""
    id_map = id_map.cast(ID_MAP_SCHEMA)
    if ws.has_table("id_map"):
        old = ws.read_table("id_map").cast(ID_MAP_SCHEMA)
        old = old.filter(pc.not_equal(old["source"], dataset))
        id_map = pa.concat_tables([old, id_map])
    return id_map


def check_workspace(ws_path: Path, dataset: str, timezone: str, currency: str) -> Workspace:
    """Open the workspace (creating it with the dataset's time zone and currency if it is new).

    A workspace holds one source's ids: loading a second, different dataset into it would mix id
    spaces (FilmTrust user 5 and Ciao user 5 are different people), so that is refused, as is a
    workspace whose time zone or currency differs from the dataset's.
    """
    if not (ws_path / "trustecon.toml").exists():
        return Workspace.init(ws_path, timezone=timezone, currency=currency)
    ws = Workspace.open(ws_path)
    prov = ws.config.get("provenance", {})
    if prov.get("source") == "dataset" and prov.get("dataset") not in (None, dataset):
        raise WorkspaceError(
            f"{ws_path}: already holds dataset {prov.get('dataset')!r}; load {dataset!r} into its own workspace"
        )
    if prov and prov.get("source") != "dataset":
        raise WorkspaceError(f"{ws_path}: holds a {prov.get('source')} log; load {dataset!r} into its own workspace")
    if ws.timezone != timezone or ws.currency != currency:
        raise WorkspaceError(
            f"{ws_path}: timezone/currency {ws.timezone}/{ws.currency} differ from {dataset}'s "
            f"{timezone}/{currency}; load it into a new workspace"
        )
    return ws


def record_provenance(ws: Workspace, dataset: str, data_dir: Path, files: dict[str, Path], **extra: Any) -> None:
    """Record where the log came from in ``trustecon.toml`` (no wall-clock time: reloads change nothing)."""
    ws.set_config(
        "provenance",
        {
            "source": "dataset",
            "dataset": dataset,
            "data_dir": str(data_dir),
            "files": {name: fingerprint(p) for name, p in sorted(files.items())},
            **extra,
        },
    )


def require_files(data_dir: Path, files: dict[str, str]) -> dict[str, Path]:
    """Resolve a dataset's files, or raise a clear error naming the first missing one."""
    out = {}
    for key, rel in files.items():
        p = data_dir / rel
        if not p.is_file():
            raise FileNotFoundError(f"{p}: missing (expected the dataset's {rel}; see its MANIFEST.md)")
        out[key] = p
    return out


def ids_table(source: str, entity: str, source_ids: Iterable[Any], ids: Iterable[int]) -> pa.Table:
    """Rows of ``id_map`` for one entity."""
    sid = [str(s) for s in source_ids]
    return pa.table(
        {
            "source": [source] * len(sid),
            "entity": [entity] * len(sid),
            "source_id": sid,
            "id": pa.array(list(ids), pa.int64()),
        },
        schema=ID_MAP_SCHEMA,
    )
