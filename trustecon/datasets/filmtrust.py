"""FilmTrust (Guo, Zhang & Yorke-Smith, IJCAI 2013): movie ratings and explicit trust → the event log.

Mapping (docs/datasets.md gives the reasons and the expected counts):

- each line ``user item rating`` of ``ratings_{0..3}.txt`` (one dataset in four shards) is a ``rate``
  with ``user_id`` = user, ``content_id`` = item, ``value`` = rating (0.5–4.0); natural key
  (user, item): ``event_id`` = ``filmtrust:rate:{user}:{item}``. A repeated pair with the same rating is
  one event; with a different rating it is a conflict the store quarantines (the first line, in shard
  order 0..3 and line order, stands);
- each line ``trustor trustee 1`` of ``trust.txt`` is a ``follow`` with ``user_id`` = trustor and
  ``creator_id`` = trustee (one person id space, as upstream and LibRec use it);
  ``event_id`` = ``filmtrust:follow:{trustor}:{trustee}``;
- the data has no times: every follow is at :data:`FOLLOW_TS` and every rating at :data:`RATE_TS`
  (the crawl year, follows first so that trust "as of" any rating sees the whole trust graph);
- a line that is not three numbers, or a trust line whose third field is not 1, is quarantined by the
  adapter with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from trustecon.datasets._common import (
    Batch,
    LoadResult,
    Progress,
    append_events,
    events_table,
    ids_table,
    quarantine_rows,
    record_provenance,
    require_files,
)
from trustecon.store import Workspace

__all__ = ["CURRENCY", "FILES", "FOLLOW_TS", "NAME", "RATE_TS", "TIMEZONE", "load_filmtrust", "parse_lines"]

NAME = "filmtrust"
TIMEZONE = "UTC"
#: FilmTrust has no money; a currency is required by the workspace, so the site's own (US) is used.
CURRENCY = "USD"
FOLLOW_TS = datetime(2011, 1, 1, tzinfo=UTC)
RATE_TS = datetime(2011, 1, 2, tzinfo=UTC)

FILES = {
    "ratings_0": "filmtrust/ratings_0.txt",
    "ratings_1": "filmtrust/ratings_1.txt",
    "ratings_2": "filmtrust/ratings_2.txt",
    "ratings_3": "filmtrust/ratings_3.txt",
    "trust": "filmtrust/trust.txt",
}


def parse_lines(path: Path, trust: bool) -> tuple[list[tuple[int, int, int, float]], list[tuple[int, str, str]]]:
    """Parse a space-separated file into ``(line, a, b, c)`` rows and ``(line, field, reason)`` rejects.

    Lines end in ``\\n`` or ``\\r\\n`` (the shards mix both); blank lines are skipped, not rejected.
    """
    good: list[tuple[int, int, int, float]] = []
    bad: list[tuple[int, str, str]] = []
    with open(path, encoding="utf-8", newline=None) as fh:
        for i, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                bad.append((i, "line", f"expected 3 space-separated fields, got {len(parts)}"))
                continue
            try:
                a, b, c = int(parts[0]), int(parts[1]), float(parts[2])
            except ValueError:
                bad.append((i, "line", "fields must be numbers (user item rating / trustor trustee 1)"))
                continue
            if trust and c != 1:
                bad.append((i, "value", f"trust value must be 1, got {parts[2]}"))
                continue
            good.append((i, a, b, c))
    return good, bad


def _batch(file: str, path: Path, trust: bool) -> tuple[Batch, int]:
    good, bad = parse_lines(path, trust)
    raw_lines = path.read_text(encoding="utf-8").splitlines()
    rejected = quarantine_rows(
        file,
        [line for line, _, _ in bad],
        [f"{fld}: {why}" for _, fld, why in bad],
        [fld for _, fld, _ in bad],
        [raw_lines[line - 1] for line, _, _ in bad],
    )
    n = len(good)
    if trust:
        cols = {
            "event_id": [f"{NAME}:follow:{a}:{b}" for _, a, b, _ in good],
            "ts": [FOLLOW_TS] * n,
            "kind": ["follow"] * n,
            "user_id": [a for _, a, _, _ in good],
            "creator_id": [b for _, _, b, _ in good],
        }
    else:
        cols = {
            "event_id": [f"{NAME}:rate:{a}:{b}" for _, a, b, _ in good],
            "ts": [RATE_TS] * n,
            "kind": ["rate"] * n,
            "user_id": [a for _, a, _, _ in good],
            "content_id": [b for _, _, b, _ in good],
            "value": [c for _, _, _, c in good],
        }
    rows = pa.array([g[0] for g in good], pa.int64())
    return Batch(file=file, events=events_table(cols, n), rows=rows, rejected=rejected), n + len(bad)


def load_filmtrust(ws: Workspace, data_dir: str | Path, *, progress: Progress | None = None) -> LoadResult:
    """Load FilmTrust's four rating shards and its trust statements into ``ws`` (one transaction)."""
    data_dir = Path(data_dir)
    paths = require_files(data_dir, FILES)
    batches, source_rows = [], {}
    for key, rel in FILES.items():
        b, n = _batch(rel, paths[key], trust=key == "trust")
        batches.append(b)
        source_rows[rel] = n
    people: set[int] = set()
    items: set[int] = set()
    for b in batches:
        people.update(x for x in b.events["user_id"].to_pylist() if x is not None)
        people.update(x for x in b.events["creator_id"].to_pylist() if x is not None)
        items.update(x for x in b.events["content_id"].to_pylist() if x is not None)
    id_map = pa.concat_tables(
        [
            ids_table(NAME, "user", sorted(people), sorted(people)),
            ids_table(NAME, "content", sorted(items), sorted(items)),
        ]
    )
    result = append_events(ws, NAME, batches, id_map, source_rows=source_rows, progress=progress)
    record_provenance(
        ws, NAME, data_dir, {FILES[k]: p for k, p in paths.items()},
        follow_ts=FOLLOW_TS.isoformat(), rate_ts=RATE_TS.isoformat(),
    )
    return result
