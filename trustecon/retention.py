"""Retired files: what a commit replaces stays on disk for a grace period before it is deleted.

Readers take no lock: they list a table's files from ``manifest.json`` and read them afterwards (a
``trustecon serve`` request, a long ``trustecon build``, DuckDB or Spark scanning the listed files
lazily). A commit that deleted the files it replaces (compaction's merged event and quarantine files,
the old parts of a rewritten ``tables/`` or ``truth/`` table) would make such a reader fail on a file
that was there when it listed it. So a commit *retires* them: the new manifest no longer lists them
to readers and records each under ``retired`` (``{"file": ..., "retired_at": ISO 8601 UTC}``); the
first write transaction that starts at least ``retention`` seconds later deletes them, after its
manifest without them is durable (:class:`trustecon.store.Transaction`).

This is the practice of Delta Lake's ``VACUUM`` (files a commit removed stay until older than
``delta.deletedFileRetentionDuration``, 7 days by default, so that readers of older versions keep
working) and of Apache Iceberg's expire-snapshots (data files are deleted only once no snapshot
newer than the cutoff references them). The default here is 10 minutes, not days: the workspace
offers no time travel, so the retention only has to outlast one read that listed the files before
the commit. The longest measured read path, the feed benchmark's batch build (1.2 M events, 140–250 s
in benchmarks/RESULTS.md), fits in it more than twice; a 10 M-event trust build takes ~5 s. Retired
files cost disk meanwhile (at most one extra copy of what was compacted or rewritten).

Set it with ``[store] retention_seconds`` in ``trustecon.toml``; ``trustecon compact --purge-now``
(:meth:`trustecon.store.Workspace.purge_retired` with 0) deletes every retired file at once, for an
operator who knows nobody is reading. A reader that globs ``events/`` instead of reading the manifest
also sees retired files until they are deleted (and sees none of this protection).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["RETENTION_SECONDS", "expire", "retention_seconds", "retire"]

#: Default grace period (seconds) between retiring a replaced file and deleting it.
RETENTION_SECONDS = 600.0


def retention_seconds(config: Mapping[str, Any]) -> float:
    """``[store] retention_seconds`` of a workspace's configuration (default :data:`RETENTION_SECONDS`);
    ``ValueError`` naming the key unless it is a number of seconds ≥ 0."""
    raw = config.get("store", {}).get("retention_seconds", RETENTION_SECONDS)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or math.isnan(raw) or raw < 0:
        raise ValueError(f"[store] retention_seconds: expected a number of seconds >= 0, got {raw!r}")
    return float(raw)


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="microseconds")


def retire(manifest: dict[str, Any], files: list[str], now: float) -> None:
    """Record ``files`` (no longer listed to readers) as retired at ``now`` (seconds since the epoch)."""
    if files:
        manifest.setdefault("retired", []).extend({"file": f, "retired_at": _stamp(now)} for f in files)


def expire(manifest: dict[str, Any], now: float, retention: float) -> list[str]:
    """Remove from ``manifest`` the retired files retired at least ``retention`` seconds before ``now``
    and return them: the caller deletes them once that manifest is durable. A clock set back only
    delays deletion (an entry stamped in the future waits)."""
    retired = manifest.get("retired")
    if not retired:
        return []
    cutoff = now - retention
    keep: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for r in retired:
        old = dt.datetime.fromisoformat(r["retired_at"]).timestamp() <= cutoff
        (out if old else keep).append(r)
    if out:
        manifest["retired"] = keep
    return [r["file"] for r in out]
