"""The workspace: one folder with the event log, quarantine, derived tables and truth (DESIGN.md §4).

Every write is a transaction that commits whole or not at all:

1. new Parquet files are written aside, under ``.staging/<tx>/``;
2. a journal ``.journal/<tx>.json`` is written atomically (temp file + rename): this is the commit
   point; it lists the moves to make and the new manifest;
3. the staged files are renamed into place, ``manifest.json`` is replaced atomically, files retired
   long enough ago are deleted and the journal is removed.

Files a commit replaces (compaction's merged files, a rewritten table's old parts) are not deleted at
once: the new manifest records them as *retired*, and a write transaction deletes them once they have
been retired for the retention (``[store] retention_seconds``, default 10 minutes), so a reader that
listed them just before the commit can still read them (:mod:`trustecon.retention`).

A crash before (2) leaves staging that the next open deletes (rolled back); a crash after (2) leaves a
journal that the next open replays (rolled forward; each step is idempotent). Readers that go through
the store list files from ``manifest.json``, so they never see half a batch. ``version`` counts commits;
``events_version`` counts only those that changed the rows of the event log or quarantine (a
compaction does not), for caches of what is derived from the log. Writers hold an exclusive
``fcntl`` lock on ``.lock``; readers take none.

Events are deduplicated by ``event_id``: an exact repeat is skipped, a different row under a stored id
is a conflict that goes to quarantine while the stored event stays as it was (:mod:`trustecon.dedup`).
An append may also ask that order/refund/complaint rows agree with their order's stored buyer and
seller (``check_orders``: :mod:`trustecon.order_integrity`; file ingest does).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import shutil
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tomli_w

from trustecon.dedup import dedup, new_rejections
from trustecon.events import QUARANTINE_SCHEMA, SCHEMA, validate
from trustecon.order_integrity import check_order_owners
from trustecon.parquet import fsync_path, table_parts, write_parquet, write_parts
from trustecon.partitions import STORED_SCHEMA, TARGET_ROWS, CompactResult, compact, files_in_range, stage_events
from trustecon.retention import expire, retention_seconds, retire

__all__ = ["SCHEMA_VERSION", "STORED_SCHEMA", "AppendResult", "Transaction", "Workspace", "WorkspaceError"]

SCHEMA_VERSION = 1
CONFIG = "trustecon.toml"
MANIFEST = "manifest.json"


class WorkspaceError(Exception):
    """A workspace that cannot be opened or written, with the reason."""


@dataclass
class AppendResult:
    """What an append did: rows read, added, skipped as duplicates, quarantined, rejected again but
    already in quarantine (a file ingested twice: not stored twice, still counted, so that ``read =
    added + duplicates + quarantined + already_quarantined``); conflicts (among the last two); added
    by kind; ``quarantine_files``: the quarantine files it wrote (its own rejections, whatever a later
    compaction does to the manifest: retired files stay readable for the retention)."""

    read: int = 0
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    conflicts: int = 0
    already_quarantined: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    quarantine_files: list[str] = field(default_factory=list, compare=False)

    def __iadd__(self, other: AppendResult) -> Self:
        self.read += other.read
        self.added += other.added
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.conflicts += other.conflicts
        self.already_quarantined += other.already_quarantined
        self.by_kind.update(other.by_kind)
        self.quarantine_files += other.quarantine_files
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "added": self.added,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "conflicts": self.conflicts,
            "already_quarantined": self.already_quarantined,
            "by_kind": dict(sorted(self.by_kind.items())),
        }


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fault(point: str) -> None:
    """Fault injection for the crash tests: ``TRUSTECON_CRASH_AT=point`` kills the process there.

    The points are the instants a power cut matters: before the commit point, just after it, half-way
    through the moves and half-way through deleting expired retired files (``before-journal``, ``after-journal``,
    ``mid-moves``, ``mid-deletes``). Unset (always, outside tests) this is one dict lookup.
    """
    if os.environ.get("TRUSTECON_CRASH_AT") == point:
        os.kill(os.getpid(), 9)


def _empty_manifest() -> dict[str, Any]:
    return {"version": 0, "events_version": 0, "events": [], "quarantine": [], "tables": {}, "truth": {},
            "counts": {"events": 0}, "retired": []}


class Workspace:
    """A workspace folder. Open with :meth:`init` (new) or :meth:`open` (existing)."""

    def __init__(self, path: Path, config: dict[str, Any]):
        self.path = path
        self.config = config
        #: Seconds since the epoch: when files are retired and whether their retention has passed.
        #: Tests inject a clock here instead of sleeping.
        self.clock: Callable[[], float] = time.time

    # ----------------------------------------------------------------- creation and opening
    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        *,
        timezone: str = "UTC",
        currency: str = "CNY",
        exist_ok: bool = False,
    ) -> Workspace:
        """Create a workspace folder (or open it if it exists and ``exist_ok``)."""
        p = Path(path)
        if (p / CONFIG).exists():
            if exist_ok:
                return cls.open(p)
            raise WorkspaceError(f"{p}: a workspace already exists here")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise WorkspaceError(f"timezone: unknown time zone {timezone!r}") from exc
        if not (len(currency) == 3 and currency.isalpha()):
            raise WorkspaceError(f"currency: expected a 3-letter ISO 4217 code, got {currency!r}")
        if p.exists() and any(p.iterdir()):
            raise WorkspaceError(f"{p}: folder exists and is not empty; choose a new folder")
        p.mkdir(parents=True, exist_ok=True)
        for sub in ("events", "quarantine", "tables", "truth", "reports"):
            (p / sub).mkdir(exist_ok=True)
        config = {"schema_version": SCHEMA_VERSION, "timezone": timezone, "currency": currency.upper()}
        _atomic_write_bytes(p / CONFIG, tomli_w.dumps(config).encode())
        _atomic_write_bytes(p / MANIFEST, json.dumps(_empty_manifest()).encode())
        return cls(p, config)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open a workspace, replaying or rolling back any transaction a crash interrupted."""
        p = Path(path)
        cfg_path = p / CONFIG
        if not cfg_path.exists():
            raise WorkspaceError(f"{p}: not a trustecon workspace (no {CONFIG}); run 'trustecon init {p}'")
        try:
            config = tomllib.loads(cfg_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise WorkspaceError(f"{cfg_path}: unreadable configuration: {exc}") from exc
        version = config.get("schema_version")
        if version != SCHEMA_VERSION:
            raise WorkspaceError(
                f"{cfg_path}: schema_version {version!r} is not supported (this trustecon reads {SCHEMA_VERSION})"
            )
        ws = cls(p, config)
        try:
            ws.retention  # noqa: B018 (validated once here: a bad value is a one-line error at open)
        except ValueError as exc:
            raise WorkspaceError(f"{cfg_path}: {exc}") from exc
        ws._recover()
        return ws

    @property
    def timezone(self) -> str:
        return str(self.config.get("timezone", "UTC"))

    @property
    def currency(self) -> str:
        return str(self.config.get("currency", "CNY"))

    @property
    def retention(self) -> float:
        """Seconds a replaced file stays on disk after its commit (:mod:`trustecon.retention`)."""
        return retention_seconds(self.config)

    def set_config(self, section: str, values: Mapping[str, Any]) -> None:
        """Record a section of ``trustecon.toml`` (e.g. provenance of a simulated or loaded log)."""
        with self._lock():
            self.config[section] = _toml_clean(dict(values))
            _atomic_write_bytes(self.path / CONFIG, tomli_w.dumps(self.config).encode())

    # ----------------------------------------------------------------- locking and recovery
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.path / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _recover(self) -> None:
        journal_dir = self.path / ".journal"
        staging = self.path / ".staging"
        if not journal_dir.exists() and not staging.exists():
            return
        with self._lock():
            for j in sorted(journal_dir.glob("*.json")) if journal_dir.exists() else []:
                try:
                    entry = json.loads(j.read_text())
                except json.JSONDecodeError:
                    # A journal is written by rename, so a torn one cannot exist; be safe anyway.
                    j.unlink()
                    continue
                self._roll_forward(j, entry)
            if staging.exists():
                shutil.rmtree(staging)  # transactions that never reached their commit point

    def _roll_forward(self, journal: Path, entry: Mapping[str, Any]) -> None:
        for i, (staged, final) in enumerate(entry["moves"]):
            src, dst = self.path / staged, self.path / final
            if src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            if i == 0:
                _fault("mid-moves")
        _atomic_write_bytes(self.path / MANIFEST, json.dumps(entry["manifest"]).encode())
        if entry.get("delete"):
            fsync_path(self.path)  # the manifest without them is durable before any of them goes
        for i, old in enumerate(entry.get("delete", [])):
            with contextlib.suppress(FileNotFoundError):
                (self.path / old).unlink()
            if i == 0:
                _fault("mid-deletes")
        stage_dir = self.path / ".staging" / entry["tx"]
        if stage_dir.exists():
            shutil.rmtree(stage_dir)
        journal.unlink()

    def manifest(self) -> dict[str, Any]:
        """The committed state: which files make each table."""
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except FileNotFoundError as exc:
            raise WorkspaceError(f"{self.path}: {MANIFEST} is missing") from exc

    # ----------------------------------------------------------------- writing
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: everything staged in the ``with`` block commits together at its end."""
        with self._lock():
            tx = Transaction(self)
            try:
                yield tx
            except BaseException:
                tx.abort()
                raise
            tx.commit()

    def append(self, batch: pa.Table, **kwargs: Any) -> AppendResult:
        """Validate and append one batch of events as one transaction (see :meth:`Transaction.append`)."""
        with self.transaction() as tx:
            return tx.append(batch, **kwargs)

    def write_table(self, name: str, table: pa.Table, *, area: str = "tables") -> None:
        """Replace the derived table ``name`` (or a truth table with ``area='truth'``) atomically."""
        with self.transaction() as tx:
            tx.write_table(name, table, area=area)

    def compact(
        self,
        *,
        target_rows: int = TARGET_ROWS,
        min_files: int = 2,
        quarantine: bool = True,
        days: Collection[str] | None = None,
    ) -> CompactResult:
        """Merge each day's small event files (and quarantine's) into few, in one transaction; the stored
        events stay exactly the same rows. ``days``: only those local days. See
        :func:`trustecon.partitions.compact`."""
        return compact(self, target_rows=target_rows, min_files=min_files, quarantine=quarantine, days=days)

    def purge_retired(self, retention: float | None = None) -> list[str]:
        """Delete the retired files retired at least ``retention`` seconds ago (default: the workspace's;
        0: all of them, for an operator who knows nobody is reading) in one transaction; their paths."""
        if retention is not None and not retention >= 0:
            raise ValueError(f"retention: must be >= 0 seconds, got {retention}")
        with self.transaction() as tx:
            if retention is not None:
                tx.expired += expire(tx.manifest, self.clock(), retention)
            return list(tx.expired)

    def events_version(self) -> int:
        """A number that changes whenever the event log's or quarantine's rows change, and only then
        (a compaction or a table write keeps it): the key of caches derived from the log."""
        m = self.manifest()
        return int(m.get("events_version", m["version"]))  # manifests before it: every commit counted

    def write_json(self, name: str, obj: Any) -> Path:
        """Write a JSON document at the workspace root atomically (e.g. ``calibration.json``)."""
        target = self.path / name
        _atomic_write_bytes(target, json.dumps(obj, indent=2, default=str).encode())
        return target

    def read_json(self, name: str) -> Any | None:
        target = self.path / name
        return json.loads(target.read_text()) if target.exists() else None

    # ----------------------------------------------------------------- reading
    def event_files(self) -> list[str]:
        return [str(self.path / f) for f in self.manifest()["events"]]

    def event_count(self) -> int:
        return int(self.manifest()["counts"]["events"])

    def events(self, con: ibis.BaseBackend) -> ibis.Table:
        """The committed event log as an Ibis table on ``con`` (DuckDB or Spark), with the columns of
        :data:`STORED_SCHEMA` (the event schema plus the local ``day``)."""
        return _read(con, self.event_files(), STORED_SCHEMA)

    def events_arrow(self) -> pa.Table:
        """The committed event log as one Arrow table (for in-memory fast paths), :data:`STORED_SCHEMA`."""
        files = self.event_files()
        if not files:
            return STORED_SCHEMA.empty_table()
        return pa.concat_tables([pq.read_table(f, schema=STORED_SCHEMA) for f in files])

    def quarantine(self, con: ibis.BaseBackend) -> ibis.Table:
        files = [str(self.path / f) for f in self.manifest()["quarantine"]]
        return _read(con, files, QUARANTINE_SCHEMA)

    def quarantine_arrow(self) -> pa.Table:
        files = [str(self.path / f) for f in self.manifest()["quarantine"]]
        if not files:
            return QUARANTINE_SCHEMA.empty_table()
        return pa.concat_tables([pq.read_table(f) for f in files])

    def table_names(self, area: str = "tables") -> list[str]:
        return sorted(self.manifest()[area])

    def has_table(self, name: str, area: str = "tables") -> bool:
        return name in self.manifest()[area]

    def table_files(self, name: str, area: str = "tables") -> list[str]:
        entry = self.manifest()[area].get(name)
        if entry is None:
            hint = "run 'trustecon build'" if area == "tables" else "only simulated workspaces have truth"
            raise WorkspaceError(f"{self.path}: no {area[:-1] if area == 'tables' else area} table {name!r} ({hint})")
        return [str(self.path / f) for f in entry]

    def table(self, con: ibis.BaseBackend, name: str, area: str = "tables") -> ibis.Table:
        files = self.table_files(name, area)
        schema = pq.read_schema(files[0])
        return _read(con, files, schema)

    def read_table(self, name: str, area: str = "tables") -> pa.Table:
        return pa.concat_tables([pq.read_table(f) for f in self.table_files(name, area)])


def _read(con: ibis.BaseBackend, files: list[str], schema: pa.Schema) -> ibis.Table:
    if not files:
        return ibis.memtable(schema.empty_table())
    if con.name == "duckdb":
        t = con.read_parquet(files, hive_partitioning=False, union_by_name=True)
    elif con.name == "pyspark":
        # Ibis' Spark read_parquet takes one path; the manifest lists files, so read them natively.
        # Partition discovery is off: ``day`` is a column of the files themselves.
        df = con._session.read.option("basePath", os.path.dirname(os.path.commonpath(files))).parquet(*files)
        name = f"trustecon_{uuid.uuid4().hex[:12]}"
        df.createOrReplaceTempView(name)
        t = con.table(name)
    else:
        t = con.read_parquet(files)
    # ``.name``: on Spark the cast is real (its timestamps carry no zone) and would rename the column.
    return t.select(*[t[f.name].cast(ibis.dtype(f.type)).name(f.name) for f in schema])


def _toml_clean(obj: Any) -> Any:
    """TOML has no null: drop None values, recursively."""
    if isinstance(obj, Mapping):
        return {str(k): _toml_clean(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [_toml_clean(v) for v in obj if v is not None]
    return obj


class Transaction:
    """Files staged for one commit. Made by :meth:`Workspace.transaction`."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.tx = f"{uuid.uuid4().hex[:16]}"
        self.stage = ws.path / ".staging" / self.tx
        self.moves: list[tuple[str, str]] = []
        self.manifest = ws.manifest()
        #: Files this transaction replaces: retired at commit, deleted by a later one.
        self.replaced: list[str] = []
        #: Files retired long enough ago: deleted once this transaction's manifest is durable.
        self.expired = expire(self.manifest, ws.clock(), ws.retention)
        self.events_changed = False  # whether events_version moves at commit
        self._n = 0

    def _staged_path(self, final: str) -> Path:
        """A new staging path that becomes ``final`` at commit."""
        staged = self.stage / f"{self._n:06d}.parquet"
        self._n += 1
        staged.parent.mkdir(parents=True, exist_ok=True)
        self.moves.append((str(staged.relative_to(self.ws.path)), final))
        return staged

    def _stage_file(self, table: pa.Table, final: str) -> None:
        write_parquet(table, self._staged_path(final))

    def append(
        self,
        batch: pa.Table,
        *,
        file: str = "<batch>",
        row_offset: int = 1,
        row_numbers: pa.Array | None = None,
        extra_errors: pa.Table | None = None,
        check_orders: bool = False,
    ) -> AppendResult:
        """Validate ``batch``, drop duplicates, quarantine conflicts and bad rows, stage the rest.

        Row numbers in quarantine are ``row_offset + i`` for the batch's i-th row, or
        ``row_numbers[i]`` when given (see :func:`trustecon.events.validate`). ``check_orders``: also
        quarantine order/refund/complaint rows whose order the log binds to another buyer or seller
        (:mod:`trustecon.order_integrity`; file ingest asks for it, sources that write consistent
        orders by construction skip its read of the stored log)."""
        res = validate(batch, file=file, row_offset=row_offset, row_numbers=row_numbers, extra_errors=extra_errors)
        read = batch.num_rows + (extra_errors.num_rows if extra_errors is not None else 0)
        return self._admit(res.valid, res.valid_index, res.rejected, read, file, row_offset, row_numbers,
                           check_orders)

    def append_valid(
        self, valid: pa.Table, *, file: str = "<batch>", row_offset: int = 1, row_numbers: pa.Array | None = None,
        check_orders: bool = False,
    ) -> AppendResult:
        """Append rows already validated (:func:`trustecon.events.clean_typed` returned them): the same
        deduplication, order check and staging as :meth:`append`, without validating twice."""
        rejected = QUARANTINE_SCHEMA.empty_table()
        return self._admit(valid.cast(SCHEMA), None, rejected, valid.num_rows, file, row_offset, row_numbers,
                           check_orders)

    def _admit(
        self,
        valid: pa.Table,
        valid_index: pa.Array | None,
        rejected: pa.Table,
        read: int,
        file: str,
        row_offset: int,
        row_numbers: pa.Array | None,
        check_orders: bool = False,
    ) -> AppendResult:
        out = AppendResult(read=read)
        if valid.num_rows:
            given = valid
            valid, dup, conflicts = dedup(valid, valid_index, self.stored_event_files, file, row_offset, row_numbers)
            out.duplicates = dup
            out.conflicts = conflicts.num_rows
            if conflicts.num_rows:
                rejected = pa.concat_tables([rejected, conflicts])
            if check_orders and valid.num_rows:
                # Dedup keeps rows in order and each kept event_id's first occurrence: its position.
                pos = None if valid.num_rows == given.num_rows else pc.index_in(valid["event_id"], given["event_id"])
                index = valid_index if pos is None else (pos if valid_index is None else valid_index.take(pos))
                valid, wrong = check_order_owners(valid, index, self.stored_event_files, file, row_offset, row_numbers)
                rejected = pa.concat_tables([rejected, wrong]) if wrong.num_rows else rejected
        if valid.num_rows:
            out.by_kind.update(stage_events(self, valid))
            out.added = valid.num_rows
            self.manifest["counts"]["events"] += valid.num_rows
            self.events_changed = True
        before = rejected.num_rows
        rejected = new_rejections(rejected, self._readable(self.manifest["quarantine"]))
        out.already_quarantined = before - rejected.num_rows
        if rejected.num_rows:
            final = f"quarantine/part-{self.tx}-{self._n:06d}.parquet"
            self._stage_file(rejected, final)
            self.manifest["quarantine"].append(final)
            out.quarantine_files.append(final)
            self.events_changed = True
        out.quarantined = rejected.num_rows
        return out

    def savepoint(self) -> tuple[int, int, bool, dict[str, Any]]:
        """The transaction's state now, for :meth:`rollback_to` (a fast path that may give up)."""
        return len(self.moves), len(self.replaced), self.events_changed, copy.deepcopy(self.manifest)

    def rollback_to(self, point: tuple[int, int, bool, dict[str, Any]]) -> None:
        """Undo everything staged since :meth:`savepoint` (the files are deleted, the manifest restored)."""
        n_moves, n_replaced, self.events_changed, manifest = point
        for staged, _ in self.moves[n_moves:]:
            with contextlib.suppress(FileNotFoundError):
                (self.ws.path / staged).unlink()
        del self.moves[n_moves:]
        del self.replaced[n_replaced:]
        self.manifest = manifest

    def _readable(self, finals: list[str]) -> list[str]:
        """Paths to read ``finals`` from now: files this transaction staged are listed in the manifest
        under final paths that exist only after commit, so they are read from staging (this lets one
        transaction append several batches)."""
        staged = {final: st for st, final in self.moves}
        return [str(self.ws.path / staged.get(f, f)) for f in finals]

    def _add_event_file(self, final: str, id_range: tuple[str, str]) -> None:
        """List an event file and the range of its event_ids (what lets dedup skip most files)."""
        self.manifest["events"].append(final)
        self.manifest.setdefault("id_ranges", {})[final] = list(id_range)

    def stored_event_files(self, lo: str | None = None, hi: str | None = None) -> list[str]:
        """Paths of the event files visible to this transaction (committed, and staged by it); with
        ``lo``/``hi``, only those that may hold an event_id in [lo, hi] (:func:`files_in_range`)."""
        return self._readable(files_in_range(self.manifest, lo, hi))

    def write_table(self, name: str, table: pa.Table, *, area: str = "tables") -> None:
        if area not in ("tables", "truth"):
            raise ValueError(f"area must be 'tables' or 'truth', not {area!r}")
        if not name.replace("_", "").isalnum():
            raise WorkspaceError(f"table name {name!r}: use letters, digits and underscores")
        finals, jobs = [], []
        for piece in table_parts(table):
            finals.append(f"{area}/{name}/part-{self.tx}-{self._n:06d}.parquet")
            jobs.append((piece, self._staged_path(finals[-1])))
        write_parts(jobs)
        self.replaced += self.manifest[area].get(name, [])
        self.manifest[area][name] = finals

    def abort(self) -> None:
        if self.stage.exists():
            shutil.rmtree(self.stage)

    def commit(self) -> None:
        """Commit (module docstring). A transaction that staged nothing commits only to delete expired
        retired files, if any."""
        if not (self.moves or self.replaced or self.expired):
            self.abort()
            return
        m = self.manifest
        m["events_version"] = m.get("events_version", m["version"]) + self.events_changed
        m["version"] += 1
        retire(m, self.replaced, self.ws.clock())
        journal_dir = self.ws.path / ".journal"
        journal_dir.mkdir(exist_ok=True)
        journal = journal_dir / f"{m['version']:012d}-{self.tx}.json"
        # "delete": files no manifest from this one on lists, neither to readers nor as retired.
        entry = {"tx": self.tx, "moves": self.moves, "manifest": m, "delete": self.expired}
        if self.stage.exists():
            fsync_path(self.stage)  # the staged files' names; their contents were flushed when written
        _fault("before-journal")
        _atomic_write_bytes(journal, json.dumps(entry).encode())  # the commit point
        _fault("after-journal")
        self.ws._roll_forward(journal, entry)
