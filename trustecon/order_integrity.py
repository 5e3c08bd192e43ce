"""Order integrity: the rows of one ``order_id`` agree on who bought from whom (DESIGN.md §4).

An order is one buyer's purchase from one seller: its ``order`` lines, and the ``refund`` and
``complaint`` events that carry its ``order_id``, must name one buyer (``user_id``) and one seller
(``creator_id``). Every model attributes an order to one pair (the batch takes the minimum over its
lines, :func:`trustecon.trust.orders.order_pairs`); a log whose lines name two buyers has no right
answer, and an incremental update cannot follow a pair that changes after the fact. So the store
refuses such rows at ingest, the way it refuses a conflicting ``event_id``:

- The first row that names a buyer binds the order's buyer; the first that names a seller binds its
  seller (the two fields bind independently: an order line may lack ``creator_id``, and a refund
  may name only one of them). *First* is: rows already stored (in the workspace, or earlier in the
  same transaction, e.g. an earlier chunk of the same file) before the batch, and within the batch
  the first row in file order. A refund that arrives before its order binds it like an order line
  would: the store cannot un-store it, so the later line that disagrees is the one refused.
- A later ``order``, ``refund`` or ``complaint`` row that names a different buyer or seller for a
  bound ``order_id`` goes to quarantine with the field and a one-line reason ("order_id 17 belongs
  to user 3 (stored); this row names user 5"); a refused row binds nothing. A NULL ``user_id`` or
  ``creator_id`` (allowed on refunds and complaints) means "the order's" and agrees with anything.
- Rows without an ``order_id`` and other kinds are not concerned.

The stored owner of an order is the minimum ``user_id`` (``creator_id``) over its stored order
lines, or over its stored refunds and complaints when no stored line names one: on a log written
through this check every stored row agrees, so the minimum is the one value; on an older log (or
one a loader wrote, which does not pass here) it is the batch's own rule.

Cost: a batch with no order, refund or complaint rows is not looked at. Otherwise it is one DuckDB
aggregate over the batch's commerce rows (min/max ids per order) joined with one read of the stored
event files' four columns (``kind``, ``order_id``, ``user_id``, ``creator_id``) restricted to the
batch's order-id range (row groups outside it are skipped by their statistics); a batch whose orders
all agree passes whole. Only the rows of the orders that may disagree are judged further: the
sequential "first row binds" rule computed set-wise — each field binds once, so an order's state
changes at most twice in the batch, at the first row that binds something and at the first later
one that binds the other field; both are ``min(pos)`` aggregates, and each row is then judged
against the state in force at its position.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trustecon.engine import scratch_duckdb
from trustecon.events import QUARANTINE_SCHEMA, _row_number

__all__ = ["ORDER_KINDS", "check_order_owners"]

#: The kinds whose ``order_id`` names an order and whose ``user_id``/``creator_id`` name its pair.
ORDER_KINDS: tuple[str, ...] = ("order", "refund", "complaint")

_KINDS_SQL = ", ".join(f"'{k}'" for k in ORDER_KINDS)


def _names_unbound(b: str) -> str:
    """SQL: the row names a field that is unbound in state ``b`` (columns ``{b}u``, ``{b}c``)."""
    return f"((u IS NOT NULL AND {b}u IS NULL) OR (c IS NOT NULL AND {b}c IS NULL))"


def _agrees(b: str) -> str:
    """SQL: the row agrees with state ``b`` on both fields (a NULL on either side agrees)."""
    return f"(u IS NULL OR {b}u IS NULL OR u = {b}u) AND (c IS NULL OR {b}c IS NULL OR c = {b}c)"


def _stored_owners(con: Any, stored: list[str], lo: int, hi: int) -> None:
    """Temp table ``s(order_id, su, sc)``: the stored owners of the batch's orders (module doc)."""
    if not stored:
        con.execute("CREATE TEMP TABLE s (order_id BIGINT, su BIGINT, sc BIGINT)")
        return
    files = ", ".join("'" + f.replace("'", "''") + "'" for f in stored)
    con.execute(
        f"""CREATE TEMP TABLE s AS
            SELECT order_id,
                   coalesce(min(user_id) FILTER (WHERE kind = 'order'), min(user_id)) AS su,
                   coalesce(min(creator_id) FILTER (WHERE kind = 'order'), min(creator_id)) AS sc
            FROM read_parquet([{files}], hive_partitioning=false)
            WHERE kind IN ({_KINDS_SQL}) AND order_id BETWEEN {lo} AND {hi}
              AND order_id IN (SELECT order_id FROM com)
            GROUP BY order_id"""
    )


def check_order_owners(
    valid: pa.Table,
    index: pa.Array | None,
    stored_files: Callable[[], list[str]],
    file: str,
    row_offset: int,
    row_numbers: pa.Array | None,
) -> tuple[pa.Table, pa.Table]:
    """Split ``valid`` (typed event rows, in file order) into the rows that agree with their order's
    owners and quarantine rows for those that do not (module doc: the rule and the cost).

    ``stored_files()``: paths of the event files already visible (read only when the batch has
    commerce rows). Row ``i`` of ``valid`` is input row ``index[i]`` (None: ``i``); quarantine row
    numbers follow :func:`trustecon.events._row_number`, as validation's and deduplication's do."""
    empty = QUARANTINE_SCHEMA.empty_table()
    n = valid.num_rows
    if n == 0:
        return valid, empty
    # Rows with an order id first (a validity bitmap: nearly free), then their kinds (few rows).
    pos = np.flatnonzero(pc.is_valid(valid["order_id"]).to_numpy(zero_copy_only=False))
    if pos.size:
        kinds = pc.is_in(valid["kind"].take(pa.array(pos)), pa.array(ORDER_KINDS))
        pos = pos[kinds.to_numpy(zero_copy_only=False)]
    if pos.size == 0:
        return valid, empty
    take = pa.array(pos)
    com = pa.table({"pos": take, "order_id": valid["order_id"].take(take),
                    "u": valid["user_id"].take(take), "c": valid["creator_id"].take(take)})
    mm = pc.min_max(com["order_id"])
    con = scratch_duckdb()
    try:
        con.register("com", com)
        _stored_owners(con, stored_files(), int(mm["min"].as_py()), int(mm["max"].as_py()))
        # The orders whose rows could disagree: two buyers (sellers) in the batch, or one other than the
        # stored one. Usually none, and the batch passes whole; else only their rows are judged.
        con.execute(
            """CREATE TEMP TABLE clash AS SELECT order_id FROM (
                   SELECT order_id, min(u) AS mu, max(u) AS xu, min(c) AS mc, max(c) AS xc
                   FROM com GROUP BY order_id) g LEFT JOIN s USING (order_id)
               WHERE mu <> xu OR mc <> xc OR mu <> su OR mc <> sc"""
        )
        if not con.execute("SELECT count(*) FROM clash").fetchall()[0][0]:
            return valid, empty
        bad = con.execute(_BAD_ROWS_SQL).fetchall()
    finally:
        con.close()
    bad_pos = np.array([r[0] for r in bad], dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[bad_pos] = False
    idx = index.to_numpy(zero_copy_only=False) if index is not None else np.arange(n)

    def where(src: int) -> str:
        return "stored" if src < 0 else f"row {_row_number(int(idx[src]), row_offset, row_numbers)} of this file"

    fields, reasons = [], []
    for _, oid, u, c, bu, bc, su, sc in bad:
        why = []
        user_bad = u is not None and bu is not None and u != bu
        if user_bad:
            why.append(f"order_id {oid} belongs to user {bu} ({where(su)}); this row names user {u}")
        if c is not None and bc is not None and c != bc:
            why.append(f"order_id {oid} belongs to creator {bc} ({where(sc)}); this row names creator {c}")
        fields.append("user_id" if user_bad else "creator_id")  # (both wrong: the buyer first, as the reason)
        reasons.append("; ".join(why))
    raws = valid.take(pa.array(bad_pos)).to_pylist()
    rejected = pa.table(
        {
            "file": [file] * len(bad),
            "row": [_row_number(int(idx[p]), row_offset, row_numbers) for p in bad_pos],
            "field": fields,
            "reason": reasons,
            "raw": [json.dumps(r, default=str) for r in raws],
        },
        schema=QUARANTINE_SCHEMA,
    )
    return valid.filter(pa.array(keep)), rejected


# The rows to refuse: r = the batch's commerce rows with the stored state b0; p1 = the first row
# that binds a field unbound in b0 and agrees with b0 (state b1 after it); p2 = the first row after
# p1 that binds the field still unbound and agrees with b1 (state b2). A row is judged against the
# state in force at its position (p1 and p2 themselves agree by construction). ``su``/``sc``: where
# the binding it is judged against came from (-1 stored, else the batch position of the binding row).
_BAD_ROWS_SQL = f"""
WITH r AS (
    SELECT com.pos, com.order_id, com.u, com.c, s.su AS b0u, s.sc AS b0c
    FROM com SEMI JOIN clash USING (order_id) LEFT JOIN s USING (order_id)
), e1 AS (
    SELECT order_id, min(pos) AS p1 FROM r WHERE {_names_unbound('b0')} AND {_agrees('b0')} GROUP BY order_id
), r1 AS (
    SELECT r.*, e1.p1, coalesce(r.b0u, f.u) AS b1u, coalesce(r.b0c, f.c) AS b1c
    FROM r LEFT JOIN e1 USING (order_id) LEFT JOIN r f ON f.pos = e1.p1
), e2 AS (
    SELECT order_id, min(pos) AS p2 FROM r1
    WHERE p1 IS NOT NULL AND pos > p1 AND {_names_unbound('b1')} AND {_agrees('b1')} GROUP BY order_id
), r2 AS (
    SELECT r1.*, e2.p2, coalesce(r1.b1u, f.u) AS b2u, coalesce(r1.b1c, f.c) AS b2c
    FROM r1 LEFT JOIN e2 USING (order_id) LEFT JOIN r f ON f.pos = e2.p2
), judged AS (
    SELECT pos, order_id, u, c,
           CASE WHEN p1 IS NULL OR pos <= p1 THEN b0u WHEN p2 IS NULL OR pos <= p2 THEN b1u ELSE b2u END AS bu,
           CASE WHEN p1 IS NULL OR pos <= p1 THEN b0c WHEN p2 IS NULL OR pos <= p2 THEN b1c ELSE b2c END AS bc,
           CASE WHEN b0u IS NOT NULL THEN -1 WHEN b1u IS NOT NULL THEN p1 ELSE p2 END AS su,
           CASE WHEN b0c IS NOT NULL THEN -1 WHEN b1c IS NOT NULL THEN p1 ELSE p2 END AS sc
    FROM r2
)
SELECT pos, order_id, u, c, bu, bc, su, sc FROM judged
WHERE (u IS NOT NULL AND bu IS NOT NULL AND u <> bu) OR (c IS NOT NULL AND bc IS NOT NULL AND c <> bc)
ORDER BY pos
"""
