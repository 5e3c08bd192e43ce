"""The event log's schema, its kinds, and row validation (DESIGN.md §4).

One append-only table, ``events``; every source writes it, every model reads it. This module is the
data contract: the Arrow schema, which fields each kind requires, and :func:`validate`, which splits a
batch into typed valid rows and quarantined rows that name the file, the row, the field and the reason.

Validation runs as one DuckDB query over the Arrow batch (zero copy, multi-threaded) rather than a
Python loop over rows: it is the hot path of every ingest and of the simulator's writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

__all__ = [
    "ID_FIELDS",
    "KINDS",
    "OPTIONAL_FIELDS",
    "QUARANTINE_SCHEMA",
    "REQUIRED",
    "SCHEMA",
    "SURFACES",
    "ValidationResult",
    "empty_events",
    "validate",
]

ID_FIELDS: tuple[str, ...] = (
    "user_id",
    "creator_id",
    "content_id",
    "session_id",
    "product_id",
    "brand_id",
    "order_id",
    "campaign_id",
)

#: The event log's Arrow schema. ``ts`` is a UTC instant in microseconds.
SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        *[pa.field(name, pa.int64()) for name in ID_FIELDS],
        pa.field("surface", pa.string()),
        pa.field("watch_ms", pa.int64()),
        pa.field("duration_ms", pa.int64()),
        pa.field("amount", pa.float64()),
        pa.field("quantity", pa.int64()),
        pa.field("value", pa.float64()),
    ]
)

OPTIONAL_FIELDS: tuple[str, ...] = tuple(f.name for f in SCHEMA if f.name not in ("event_id", "ts", "kind"))

SURFACES: frozenset[str] = frozenset({"follow", "discover", "live", "search", "campaign"})

#: Fields each kind must carry (besides event_id, ts, kind). A tuple inside the tuple means "one of".
REQUIRED: Mapping[str, tuple[str | tuple[str, ...], ...]] = {
    "publish": ("creator_id", "content_id"),
    "impression": ("user_id", "creator_id", ("content_id", "session_id")),
    "view": ("user_id", "creator_id", "content_id"),
    "like": ("user_id", "creator_id"),
    "comment": ("user_id", "creator_id"),
    "share": ("user_id", "creator_id"),
    "hate": ("user_id", "creator_id"),
    "profile_visit": ("user_id", "creator_id"),
    "follow": ("user_id", "creator_id"),
    "unfollow": ("user_id", "creator_id"),
    "notice": ("creator_id",),
    "live_start": ("creator_id", "session_id"),
    "live_end": ("creator_id", "session_id"),
    "live_enter": ("user_id", "creator_id", "session_id"),
    "live_leave": ("user_id", "creator_id", "session_id"),
    "gift": ("user_id", "creator_id", "amount"),
    "product_pin": ("creator_id", "session_id", "product_id"),
    "product_click": ("user_id", "product_id"),
    "order": ("user_id", "order_id", "amount"),
    "refund": ("order_id", "amount"),
    "complaint": ("order_id",),
    "payout": ("creator_id", "amount"),
    "spend": ("brand_id", "campaign_id", "amount"),
    "rate": ("user_id", "value", ("content_id", "creator_id")),
}

KINDS: tuple[str, ...] = tuple(REQUIRED)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("row", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
    ]
)


def empty_events() -> pa.Table:
    """An empty table with the event schema."""
    return SCHEMA.empty_table()


@dataclass(frozen=True)
class ValidationResult:
    """Valid rows (typed to :data:`SCHEMA`) and rejected rows (:data:`QUARANTINE_SCHEMA`)."""

    valid: pa.Table
    rejected: pa.Table
    #: 0-based index in the input batch of each valid row (so later checks can name the file's row).
    valid_index: pa.Array


def _sql_cast(name: str, typ: pa.DataType, present: bool) -> tuple[str, str]:
    """SQL for the typed value of a column and for the condition "given but unparsable"."""
    if not present:
        null = {"string": "NULL::VARCHAR", "float64": "NULL::DOUBLE"}.get(str(typ), "NULL::BIGINT")
        return null, "FALSE"
    col = f'"{name}"'
    raw = f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"
    if pa.types.is_string(typ):
        return raw, "FALSE"
    if pa.types.is_int64(typ):
        # Integers given as "12.0" (pandas float round trips) are accepted when they are whole.
        expr = (
            f"COALESCE(TRY_CAST({raw} AS BIGINT), "
            f"CASE WHEN TRY_CAST({raw} AS DOUBLE) = TRUNC(TRY_CAST({raw} AS DOUBLE)) "
            f"AND abs(TRY_CAST({raw} AS DOUBLE)) < 9e18 "
            f"THEN CAST(TRY_CAST({raw} AS DOUBLE) AS BIGINT) END)"
        )
        return expr, f"({raw} IS NOT NULL AND {expr} IS NULL)"
    if pa.types.is_floating(typ):
        expr = f"TRY_CAST({raw} AS DOUBLE)"
        return expr, f"({raw} IS NOT NULL AND ({expr} IS NULL OR isnan({expr}) OR isinf({expr})))"
    raise TypeError(typ)  # pragma: no cover - the schema has no other types


def _ts_sql(present: bool) -> str:
    if not present:
        return "NULL::TIMESTAMPTZ"
    raw = "NULLIF(TRIM(CAST(\"ts\" AS VARCHAR)), '')"
    # Accept ISO 8601 (naive means UTC) or epoch milliseconds; a typed timestamp column passes as is.
    return (
        f"CASE WHEN regexp_full_match({raw}, '-?[0-9]{{10,16}}') THEN "
        f"make_timestamp(CAST({raw} AS BIGINT) * 1000)::TIMESTAMPTZ "
        f"ELSE TRY_CAST({raw} AS TIMESTAMPTZ) END"
    )


def _row_number(i: int, row_offset: int, row_numbers: pa.Array | None) -> int:
    return int(row_numbers[i].as_py()) if row_numbers is not None else row_offset + i


def validate(
    batch: pa.Table,
    *,
    file: str = "<batch>",
    row_offset: int = 1,
    row_numbers: pa.Array | None = None,
    extra_errors: pa.Table | None = None,
) -> ValidationResult:
    """Split ``batch`` into valid typed events and quarantined rows.

    ``batch`` may hold strings (from CSV/JSON) or typed columns; unknown columns are ignored. Each
    rejected row names ``file``, its ``row`` (``row_offset`` for the batch's first row, so 1-based data
    rows of a file by default), the first failing ``field`` and every ``reason`` joined by "; ".
    ``row_numbers``, when given, is the file's row number of each input row (e.g. CSV line numbers
    around lines the parser rejected) and takes precedence over ``row_offset``. ``extra_errors``
    (quarantine schema) is appended as is, e.g. lines the CSV parser could not split.
    """
    cols = set(batch.column_names)
    missing_core = [c for c in ("event_id", "ts", "kind") if c not in cols]
    n = batch.num_rows
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.register("b", batch)
    typed: dict[str, str] = {}
    checks: list[tuple[str, str, str]] = []  # (field, condition SQL, reason)
    for f in SCHEMA:
        if f.name == "ts":
            typed["ts"] = _ts_sql("ts" in cols)
            if "ts" in cols:
                checks.append(("ts", '("ts" IS NOT NULL AND t_ts IS NULL)', "unparsable time"))
            continue
        expr, bad = _sql_cast(f.name, f.type, f.name in cols)
        typed[f.name] = expr
        kind_word = {"string": "text", "int64": "an integer", "double": "a number"}.get(str(f.type), "")
        if bad != "FALSE":
            checks.append((f.name, bad, f"wrong type: expected {kind_word}"))
    for c in missing_core:
        checks.append((c, "TRUE", f"missing required column {c}"))
    # Checks on the typed values, written against t_<field> aliases.
    checks += [
        ("event_id", "t_event_id IS NULL", "missing required field event_id"),
        ("ts", 't_ts IS NULL AND NOT ("ts" IS NOT NULL AND t_ts IS NULL)', "missing required field ts")
        if "ts" in cols
        else ("ts", "FALSE", ""),
        ("kind", "t_kind IS NULL", "missing required field kind"),
        (
            "kind",
            "t_kind IS NOT NULL AND t_kind NOT IN (" + ",".join(f"'{k}'" for k in KINDS) + ")",
            "unknown kind",
        ),
        ("amount", "t_amount < 0", "amount must be >= 0"),
        ("quantity", "t_quantity <= 0", "quantity must be > 0"),
        ("watch_ms", "t_watch_ms < 0", "watch_ms must be >= 0"),
        ("duration_ms", "t_duration_ms < 0", "duration_ms must be >= 0"),
        (
            "surface",
            "t_surface IS NOT NULL AND t_surface NOT IN (" + ",".join(f"'{s}'" for s in sorted(SURFACES)) + ")",
            "unknown surface",
        ),
    ]
    for kind, fields in REQUIRED.items():
        for req in fields:
            options = req if isinstance(req, tuple) else (req,)
            cond = " AND ".join(f"t_{o} IS NULL" for o in options)
            # A field given but unparsable already has its own reason; do not report it twice.
            label = " or ".join(options)
            checks.append((options[0], f"t_kind = '{kind}' AND {cond}", f"missing required field {label} for {kind}"))
    checks = [c for c in checks if c[1] != "FALSE"]

    select_typed = ", ".join(f"{expr} AS t_{name}" for name, expr in typed.items())
    src = ", ".join(f'"{c}"' for c in batch.column_names)
    reason_parts = ", ".join(f"CASE WHEN {cond} THEN '{field}: {reason}' END" for field, cond, reason in checks)
    field_first = " ".join(f"WHEN {cond} THEN '{field}'" for field, cond, _ in checks)
    query = f"""
        WITH t AS (
            SELECT row_number() OVER () - 1 AS _i, {src}{", " if src else ""}{select_typed} FROM b
        ), r AS (
            SELECT *, concat_ws('; ', {reason_parts}) AS _reason,
                   CASE {field_first} ELSE NULL END AS _field
            FROM t
        )
        SELECT * FROM r
    """
    con.execute(f"CREATE TEMP TABLE r AS {query}")
    casts = ", ".join(f't_{f.name} AS "{f.name}"' for f in SCHEMA)
    valid = con.sql(f"SELECT {casts}, _i FROM r WHERE _reason = '' ORDER BY _i").to_arrow_table()
    valid_index = valid["_i"].combine_chunks().cast(pa.int64())
    valid = valid.drop_columns(["_i"])
    valid = valid.cast(SCHEMA) if valid.num_rows else SCHEMA.empty_table()
    bad = con.execute(
        f"SELECT _i, _field, _reason, {src or 'NULL AS x'} FROM r WHERE _reason <> '' ORDER BY _i"
    ).fetchall()
    names = batch.column_names
    rejected_rows = {
        "file": [file] * len(bad),
        "row": [_row_number(int(r[0]), row_offset, row_numbers) for r in bad],
        "field": [r[1] for r in bad],
        "reason": [r[2] for r in bad],
        "raw": [json.dumps(dict(zip(names, r[3:], strict=False)), default=str) for r in bad],
    }
    rejected = pa.table(rejected_rows, schema=QUARANTINE_SCHEMA)
    if extra_errors is not None and extra_errors.num_rows:
        rejected = pa.concat_tables([rejected, extra_errors.cast(QUARANTINE_SCHEMA)])
    con.close()
    assert valid.num_rows + len(bad) == n
    return ValidationResult(valid=valid, rejected=rejected, valid_index=valid_index)
