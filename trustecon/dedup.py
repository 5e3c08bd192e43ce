"""Deduplication of appended rows (DESIGN.md §4): by ``event_id`` against the batch and the stored log,
and of rejections against quarantine.

An exact repeat of a stored event (or of an earlier row of the batch) is skipped and counted; a
different row under a stored id is a conflict that goes to quarantine while the stored event stays as
it was. A rejection already in quarantine (same file, row, reason and raw text: a file ingested
twice) is not stored twice. :class:`trustecon.store.Transaction` calls both for every append; they
read only the files they are given, so they know nothing of staging or the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trustecon.engine import scratch_duckdb
from trustecon.events import QUARANTINE_SCHEMA, SCHEMA, _row_number

__all__ = ["dedup", "new_rejections"]


def dedup(
    valid: pa.Table,
    index: pa.Array | None,
    stored_files: Callable[[str, str], list[str]],
    file: str,
    row_offset: int,
    row_numbers: pa.Array | None,
) -> tuple[pa.Table, int, pa.Table]:
    """Split valid rows into new ones, exact duplicates (count) and conflicts (quarantine rows).

    ``stored_files(lo, hi)``: paths of the stored event files that may hold an event_id in [lo, hi].
    Row i of ``valid`` is input row ``index[i]`` (None: the batch is the input, unfiltered); quarantine
    row numbers follow :func:`trustecon.events._row_number`."""
    cols = [f.name for f in SCHEMA]
    ids = valid["event_id"]
    mm = pc.min_max(ids)
    stored = stored_files(mm["min"].as_py(), mm["max"].as_py())
    # Fast path, the common case: no id repeats in the batch and none already stored. Both checks
    # read only event_id (a hash aggregate and a semi-join; strictly increasing ids, like the
    # simulator's, need neither query); the full comparison runs only on a hit.
    sorted_ids = len(ids) < 2 or pc.all(pc.less(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py()
    if sorted_ids and not stored:
        return valid, 0, QUARANTINE_SCHEMA.empty_table()
    valid = valid.append_column("_i", index if index is not None else pa.array(np.arange(len(valid))))
    con = scratch_duckdb()
    con.register("v", valid)
    repeats = 0
    if not sorted_ids:
        # Distinct hashes prove distinct ids (equal ids hash equal): one 64-bit hash per row and a
        # numpy sort cost ~1/3 of DuckDB's distinct count on strings, which runs only on a clash.
        h = np.sort(con.sql("SELECT hash(event_id) AS h FROM v").to_arrow_table()["h"].to_numpy())
        if np.any(h[1:] == h[:-1]):
            repeats = con.execute("SELECT count(*) - count(DISTINCT event_id) FROM v").fetchall()[0][0]
    files = ", ".join(f"'{f}'" for f in stored)
    hit = bool(stored) and bool(
        con.execute(
            f"SELECT count(*) FROM read_parquet([{files}], hive_partitioning=false) "
            "WHERE event_id IN (SELECT event_id FROM v)"
        ).fetchall()[0][0]
    )
    if not repeats and not hit:
        con.close()
        return valid.drop_columns(["_i"]), 0, QUARANTINE_SCHEMA.empty_table()
    same = " AND ".join(f'a."{c}" IS NOT DISTINCT FROM b."{c}"' for c in cols)
    # First occurrence of each event_id in the batch wins; later rows are duplicates or conflicts.
    con.execute(
        "CREATE TEMP TABLE firsts AS SELECT * FROM v "
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _i) = 1"
    )
    con.execute(
        f"""CREATE TEMP TABLE later AS
            SELECT b._i, (CASE WHEN {same} THEN 1 ELSE 0 END) AS same_content
            FROM v b JOIN firsts a ON a.event_id = b.event_id AND b._i <> a._i"""
    )
    if stored:
        con.execute(
            f"""CREATE TEMP TABLE hits AS
                SELECT b._i, (CASE WHEN {same} THEN 1 ELSE 0 END) AS same_content
                FROM firsts b JOIN (SELECT * FROM read_parquet([{files}], hive_partitioning=false)
                                    WHERE event_id IN (SELECT event_id FROM firsts)) a
                ON a.event_id = b.event_id"""
        )
    else:
        con.execute("CREATE TEMP TABLE hits (_i BIGINT, same_content INTEGER)")
    con.execute("CREATE TEMP TABLE drop_rows AS SELECT * FROM later UNION ALL SELECT * FROM hits")
    dup = con.execute("SELECT count(*) FROM drop_rows WHERE same_content = 1").fetchall()[0][0]
    conflict_rows = con.execute(
        "SELECT v.*, d._i FROM v JOIN drop_rows d USING (_i) WHERE d.same_content = 0 ORDER BY d._i"
    ).fetchall()
    keep = con.sql(
        "SELECT * EXCLUDE (_i) FROM v WHERE _i NOT IN (SELECT _i FROM drop_rows) ORDER BY _i"
    ).to_arrow_table()
    con.close()
    names = [*cols, "_i"]
    conflicts = pa.table(
        {
            "file": [file] * len(conflict_rows),
            "row": [_row_number(int(r[-1]), row_offset, row_numbers) for r in conflict_rows],
            "field": ["event_id"] * len(conflict_rows),
            "reason": ["event_id: conflict: an event with this id is already stored with different content"]
            * len(conflict_rows),
            "raw": [json.dumps(dict(zip(names[:-1], r[:-2], strict=False)), default=str) for r in conflict_rows],
        },
        schema=QUARANTINE_SCHEMA,
    )
    return keep.cast(SCHEMA), int(dup), conflicts


def new_rejections(rejected: pa.Table, stored: list[str]) -> pa.Table:
    """``rejected`` without the rows already in the quarantine files ``stored`` (paths), so re-ingesting
    a file does not repeat its rejections."""
    if not stored or not rejected.num_rows:
        return rejected
    con = scratch_duckdb()
    con.register("r", rejected)
    files = ", ".join(f"'{f}'" for f in stored)
    out = con.sql(
        f"""SELECT * FROM r WHERE NOT EXISTS (
                SELECT 1 FROM read_parquet([{files}]) q
                WHERE q.file IS NOT DISTINCT FROM r.file AND q.row IS NOT DISTINCT FROM r.row
                  AND q.reason IS NOT DISTINCT FROM r.reason AND q.raw IS NOT DISTINCT FROM r.raw)"""
    ).to_arrow_table()
    con.close()
    return out.cast(QUARANTINE_SCHEMA)
