"""Checking a workspace against its own invariants (``trustecon check``): a file-system check for the
event log, as ``git fsck`` or Delta Lake's table validation are for theirs.

The store keeps these invariants by construction (DESIGN.md §4; :mod:`trustecon.store`); a workspace
can still break them from outside — a file deleted or truncated by hand or by a full disk, files
copied in, a manifest edited, a log written by an older trustecon or by a loader that does not check
order owners. :func:`verify` reads the manifest and the files it names and reports, without writing
anything:

errors (the workspace is not what the manifest says; reads or deduplication may be wrong)
  - ``files``: a file the manifest lists (events, quarantine, a table's or a truth table's part) is
    missing or is not readable Parquet;
  - ``schema``: an event file whose columns are not the stored event schema;
  - ``counts``: the manifest's event count differs from the rows of its event files;
  - ``id_ranges``: an event file's recorded ``event_id`` range does not cover its ids (deduplication
    prunes files by these ranges, so a repeat would be stored twice; a file with no recorded range,
    from a workspace older than the ranges, is always read and is fine);
  - ``duplicates``: an ``event_id`` stored more than once;
  - ``days``: a row whose ``day`` is not its folder's day, or not the local day of its ``ts`` in the
    workspace's time zone (readers prune day folders by date);

warnings (the data is readable; a model's answer may surprise)
  - ``orders``: an ``order_id`` whose rows name more than one buyer or seller (models take the
    smallest id, :mod:`trustecon.order_integrity`; ingest refuses such rows since session 10, a loader
    or an older trustecon did not);
  - ``stray``: a Parquet file under ``events/``, ``quarantine/``, ``tables/`` or ``truth/`` that the
    manifest neither lists nor retires (left by hand or by a copy; readers ignore it).

Cost: Parquet footers for every listed file, and three DuckDB passes over the event files, each
reading a few columns (ids, days and times; ids again; the order columns).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow.parquet as pq

from trustecon.engine import scratch_duckdb
from trustecon.partitions import STORED_SCHEMA

if TYPE_CHECKING:
    from trustecon.store import Workspace

__all__ = ["Finding", "VerifyResult", "verify"]

#: At most this many findings of one check are listed one by one (the rest are counted).
LIMIT = 20


@dataclass(frozen=True)
class Finding:
    """One broken invariant: its severity, which check found it, where (a file, an id) and why."""

    severity: Literal["error", "warning"]
    check: str
    where: str
    message: str


@dataclass
class VerifyResult:
    """What :func:`verify` found, and what it read."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    events: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "files": self.files, "events": self.events, "seconds": round(self.seconds, 3),
                "errors": sum(f.severity == "error" for f in self.findings),
                "warnings": sum(f.severity == "warning" for f in self.findings),
                "findings": [asdict(f) for f in self.findings]}


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def verify(ws: Workspace) -> VerifyResult:
    """Check ``ws`` against its invariants (module docstring); reads only."""
    t0 = time.perf_counter()
    res = VerifyResult()
    out = res.findings

    def add(severity: Literal["error", "warning"], check: str, where: str, message: str) -> None:
        out.append(Finding(severity, check, where, message))

    m = ws.manifest()
    listed: dict[str, str] = {f: "events" for f in m["events"]}
    listed |= {f: "quarantine" for f in m["quarantine"]}
    for area in ("tables", "truth"):
        for name, parts in m.get(area, {}).items():
            listed |= {f: f"{area}/{name}" for f in parts}
    res.files = len(listed)
    readable: dict[str, int] = {}
    for f, what in listed.items():
        path = ws.path / f
        if not path.exists():
            add("error", "files", f, f"listed in the manifest ({what}) but missing on disk")
            continue
        try:
            meta = pq.read_metadata(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            add("error", "files", f, f"not readable Parquet ({what}): {exc}")
            continue
        readable[f] = meta.num_rows
        if what == "events":
            got = meta.schema.to_arrow_schema()
            if [(x.name, x.type) for x in got] != [(x.name, x.type) for x in STORED_SCHEMA]:
                add("error", "schema", f, "columns differ from the stored event schema: "
                    + ", ".join(f"{x.name}:{x.type}" for x in got))
    events = [f for f in m["events"] if f in readable]
    res.events = sum(readable[f] for f in events)
    if len(events) == len(m["events"]) and res.events != m["counts"]["events"]:
        add("error", "counts", "manifest.json",
            f"counts.events is {m['counts']['events']:,} but the event files hold {res.events:,} rows")
    if events:
        _check_rows(ws, events, m.get("id_ranges", {}), add)
    _check_stray(ws, set(listed) | {r["file"] for r in m.get("retired", [])}, add)
    res.seconds = time.perf_counter() - t0
    return res


def _check_rows(ws: Workspace, events: list[str], ranges: dict[str, list[str]], add: Any) -> None:
    """Per-file id ranges and days, duplicate ids, and order owners, in one DuckDB pass."""
    con = scratch_duckdb()
    tz = ws.timezone.replace("'", "''")
    files = [ws.path / f for f in events]
    # A view, not a table: each of the three queries reads only its columns from the files.
    con.execute(f"CREATE TEMP VIEW v AS SELECT * FROM read_parquet({_sql_list(files)}, filename = true)")
    per_file = con.execute(
        f"SELECT filename, min(event_id), max(event_id), count(*) FILTER (WHERE day IS DISTINCT FROM "
        f"CAST(timezone('{tz}', ts) AS DATE)), min(day), max(day) FROM v GROUP BY filename"
    ).fetchall()
    root = str(ws.path) + "/"
    for path, lo, hi, bad_days, dmin, dmax in per_file:
        f = str(path).removeprefix(root)
        rec = ranges.get(f)
        # No recorded range (a workspace older than the ranges) is fine: deduplication then reads the file.
        if rec is not None and lo is not None and not (rec[0] <= lo and hi <= rec[1]):
            add("error", "id_ranges", f, f"holds event_ids {lo}..{hi} but the manifest records {rec[0]}..{rec[1]}")
        folder = f.split("/")[1].removeprefix("day=") if f.count("/") == 2 else None
        if folder is not None and (str(dmin) != folder or str(dmax) != folder):
            add("error", "days", f, f"rows of days {dmin}..{dmax} in the folder of {folder}")
        if bad_days:
            add("error", "days", f, f"{bad_days:,} rows whose day is not the local day of their ts ({ws.timezone})")
    dups = con.execute(
        "SELECT event_id, count(*) AS n FROM v GROUP BY event_id HAVING count(*) > 1 ORDER BY n DESC, event_id"
    ).fetchall()
    for eid, n in dups[:LIMIT]:
        add("error", "duplicates", str(eid), f"event_id stored {n} times")
    if len(dups) > LIMIT:
        add("error", "duplicates", "…", f"{len(dups) - LIMIT:,} more duplicated event_ids")
    owners = con.execute(
        "SELECT order_id, list(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL), "
        "list(DISTINCT creator_id ORDER BY creator_id) FILTER (WHERE creator_id IS NOT NULL) FROM v "
        "WHERE kind IN ('order', 'refund', 'complaint') AND order_id IS NOT NULL GROUP BY order_id "
        "HAVING count(DISTINCT user_id) > 1 OR count(DISTINCT creator_id) > 1 ORDER BY order_id"
    ).fetchall()
    for oid, users, creators in owners[:LIMIT]:
        who = []
        if users and len(users) > 1:
            who.append(f"buyers {', '.join(map(str, users))}")
        if creators and len(creators) > 1:
            who.append(f"sellers {', '.join(map(str, creators))}")
        add("warning", "orders", f"order_id {oid}",
            f"rows name {' and '.join(who)}; models take the smallest (ingest refuses such rows)")
    if len(owners) > LIMIT:
        add("warning", "orders", "…", f"{len(owners) - LIMIT:,} more orders with more than one buyer or seller")
    con.execute("DROP VIEW v")


def _check_stray(ws: Workspace, known: set[str], add: Any) -> None:
    n = 0
    for area in ("events", "quarantine", "tables", "truth"):
        for p in sorted((ws.path / area).rglob("*.parquet")) if (ws.path / area).exists() else []:
            f = p.relative_to(ws.path).as_posix()
            if f not in known:
                n += 1
                if n <= LIMIT:
                    add("warning", "stray", f, "not in the manifest (readers ignore it; left by hand or a copy?)")
    if n > LIMIT:
        add("warning", "stray", "…", f"{n - LIMIT:,} more files not in the manifest")
