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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trustecon.engine import scratch_duckdb

__all__ = [
    "ID_FIELDS",
    "CheckPlan",
    "check_plan",
    "clean_typed",
    "given_flags_sql",
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


def _sql_cast(name: str, typ: pa.DataType, given: pa.DataType | None) -> tuple[str, str]:
    """SQL for the typed value of a column and for the condition "given but unparsable".

    A column that already has the schema's type passes as is (the simulator's path); text is parsed.
    """
    if given is None:
        null = {"string": "NULL::VARCHAR", "double": "NULL::DOUBLE"}.get(str(typ), "NULL::BIGINT")
        return null, "FALSE"
    col = f'"{name}"'
    if _passes_typed(given, typ):
        if pa.types.is_floating(typ):
            # Checked in the second pass, which sees only the t_/g_ columns.
            return col, f"(isnan(t_{name}) OR isinf(t_{name}))"
        return (f"NULLIF({col}, '')" if pa.types.is_string(typ) else col), "FALSE"
    raw = f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"
    if pa.types.is_string(typ):
        return raw, "FALSE"
    if pa.types.is_int64(typ):
        # DuckDB's cast rounds "12.5" to 13; a dotted value is an integer only as "12" + ".0…"
        # (pandas float round trips), so only then is it accepted.
        expr = (
            f"CASE WHEN NOT contains({raw}, '.') THEN TRY_CAST({raw} AS BIGINT) "
            f"WHEN regexp_full_match({raw}, '[+-]?[0-9]+[.]0*') THEN TRY_CAST(split_part({raw}, '.', 1) AS BIGINT) END"
        )
        return expr, f"(g_{name} AND t_{name} IS NULL)"
    if pa.types.is_floating(typ):
        expr = f"TRY_CAST({raw} AS DOUBLE)"
        return expr, f"(g_{name} AND (t_{name} IS NULL OR isnan(t_{name}) OR isinf(t_{name})))"
    raise TypeError(typ)  # pragma: no cover - the schema has no other types


def _ts_sql(given: pa.DataType | None) -> tuple[str, str]:
    if given is None:
        return "NULL::TIMESTAMPTZ", "FALSE"
    if pa.types.is_timestamp(given):
        # A typed instant: naive means UTC.
        return '"ts"::TIMESTAMPTZ', "FALSE"
    raw = _TS_RAW
    # ISO 8601 (naive means UTC) or epoch milliseconds of 13-16 digits (2001-09-09 onwards; negative:
    # before 1970 back to 1653). 10-12 digits are refused (:data:`_TS_SECONDS`): as milliseconds they
    # would be 1970, and they are almost always epoch *seconds*, which must not land silently in 1970.
    # The length guard is implied by the pattern (13-16 digits and a sign: at most 17 characters); it
    # spares the regex for ISO instants, which are longer.
    expr = (
        f"CASE WHEN length({raw}) <= 17 AND regexp_full_match({raw}, '-?[0-9]{{13,16}}') THEN "
        f"make_timestamp(CAST({raw} AS BIGINT) * 1000)::TIMESTAMPTZ "
        f"WHEN {_TS_SECONDS} THEN NULL "
        f"ELSE TRY_CAST({raw} AS TIMESTAMPTZ) END"
    )
    return expr, "(g_ts AND t_ts IS NULL)"


_TS_RAW = "NULLIF(TRIM(CAST(\"ts\" AS VARCHAR)), '')"
#: A ``ts`` of 10-12 digits: epoch seconds, most likely (refused with its own reason).
_TS_SECONDS = f"(length({_TS_RAW}) <= 13 AND regexp_full_match({_TS_RAW}, '-?[0-9]{{10,12}}'))"
_TS_SECONDS_REASON = (
    "a number of 10-12 digits (epoch seconds?): numbers are read as epoch milliseconds (13 digits for "
    "this century), so give milliseconds or an ISO 8601 time"
)


def _row_number(i: int, row_offset: int, row_numbers: pa.Array | None) -> int:
    return int(row_numbers[i].as_py()) if row_numbers is not None else row_offset + i


_TYPE_WORD = {"string": "text", "int64": "an integer", "double": "a number"}


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

    Cost: one vectorized pass that casts and checks every row; reasons are spelled out only for the
    rejected rows, so a clean batch pays for the checks and nothing else.
    """
    n = batch.num_rows
    clean = clean_typed(batch)
    if clean is not None:
        # Every row passes (the common case): no DuckDB query, no per-row reasons.
        rejected = QUARANTINE_SCHEMA.empty_table()
        if extra_errors is not None and extra_errors.num_rows:
            rejected = extra_errors.cast(QUARANTINE_SCHEMA)
        return ValidationResult(valid=clean, rejected=rejected, valid_index=pa.array(np.arange(n, dtype=np.int64)))
    return _validate_sql(batch, file=file, row_offset=row_offset, row_numbers=row_numbers, extra_errors=extra_errors)


def _validate_sql(
    batch: pa.Table,
    *,
    file: str = "<batch>",
    row_offset: int = 1,
    row_numbers: pa.Array | None = None,
    extra_errors: pa.Table | None = None,
) -> ValidationResult:
    """:func:`validate` by DuckDB: parse, check and spell out each rejected row's reasons."""
    n = batch.num_rows
    given = {f.name: f.type for f in batch.schema}
    names = batch.column_names
    batch = batch.append_column("_i", pa.array(np.arange(n, dtype=np.int64)))
    plan = check_plan(given)
    select_typed, checks, required_reasons, any_bad = plan.select_typed, plan.checks, plan.required, plan.any_bad
    con = scratch_duckdb()
    con.execute("SET TimeZone='UTC'")
    con.register("b", batch)
    # Pass 1 parses every column once into typed t_<field> columns plus g_<field> "was given" flags.
    # Pass 2 checks them. Two passes, because DuckDB would otherwise re-evaluate each parse expression
    # wherever a check refers to it (measured: 4x slower as one query).
    flags = given_flags_sql(given)
    parsed = con.sql(f"SELECT _i, {select_typed}{flags} FROM b").to_arrow_table()
    con.register("p", parsed)
    bad_index = con.sql(f"SELECT _i FROM p WHERE {any_bad} ORDER BY _i").to_arrow_table()["_i"]
    keep = pc.invert(pc.is_in(parsed["_i"], value_set=bad_index)) if len(bad_index) else None
    kept = parsed.filter(keep) if keep is not None else parsed
    valid_index = kept["_i"].combine_chunks().cast(pa.int64())
    if len(valid_index) > 1 and not pc.all(pc.greater(valid_index[1:], valid_index[:-1])).as_py():
        order = pc.sort_indices(valid_index)  # DuckDB keeps input order here; this is the safety net
        kept, valid_index = kept.take(order), valid_index.take(order)
    valid = pa.table({f.name: kept[f"t_{f.name}"] for f in SCHEMA})
    valid = valid.cast(SCHEMA) if valid.num_rows else SCHEMA.empty_table()
    bad: list[tuple] = []
    if len(bad_index):
        all_checks = checks + required_reasons
        reason_parts = ", ".join(
            f"CASE WHEN COALESCE({cond}, FALSE) THEN '{field}: {reason}' END" for field, cond, reason in all_checks
        )
        field_first = " ".join(f"WHEN COALESCE({cond}, FALSE) THEN '{field}'" for field, cond, _ in all_checks)
        con.register("bi", pa.table({"_i": bad_index}))
        reasons = con.execute(
            f"SELECT _i, CASE {field_first} ELSE NULL END, concat_ws('; ', {reason_parts}) "
            "FROM p SEMI JOIN bi USING (_i) ORDER BY _i"
        ).fetchall()
        raw_rows = batch.select(names).take(bad_index).to_pylist()
        bad = [(i, fld, why, *raw.values()) for (i, fld, why), raw in zip(reasons, raw_rows, strict=True)]
    con.close()
    rejected = pa.table(
        {
            "file": [file] * len(bad),
            "row": [_row_number(int(r[0]), row_offset, row_numbers) for r in bad],
            "field": [r[1] for r in bad],
            "reason": [r[2] for r in bad],
            "raw": [json.dumps(dict(zip(names, r[3:], strict=False)), default=str) for r in bad],
        },
        schema=QUARANTINE_SCHEMA,
    )
    if extra_errors is not None and extra_errors.num_rows:
        rejected = pa.concat_tables([rejected, extra_errors.cast(QUARANTINE_SCHEMA)])
    assert valid.num_rows + len(bad) == n
    return ValidationResult(valid=valid, rejected=rejected, valid_index=valid_index)


def _missing_sql(fields: tuple[str | tuple[str, ...], ...]) -> str:
    """SQL that is true when any required field (or every option of a one-of group) is null."""
    parts = []
    for req in fields:
        options = req if isinstance(req, tuple) else (req,)
        parts.append("(" + " AND ".join(f"t_{o} IS NULL" for o in options) + ")")
    return " OR ".join(parts)


@dataclass(frozen=True)
class CheckPlan:
    """The SQL that parses and checks rows of a batch whose columns have the ``given`` types.

    ``select_typed`` parses every schema column into ``t_<field>``; ``checks`` and ``required`` are
    (field, condition, reason) over the ``t_`` columns and the ``g_<field>`` "was given" flags of
    :func:`given_flags_sql`; ``any_bad`` is true for a row that must be rejected.
    """

    select_typed: str
    checks: list[tuple[str, str, str]]
    required: list[tuple[str, str, str]]
    any_bad: str


def given_flags_sql(given: Mapping[str, pa.DataType]) -> str:
    """``, <column is non-blank> AS g_<column>`` for each column that is parsed from text (a value
    was given). Columns that already have their schema type need no flag: no check reads one."""
    types = {f.name: f.type for f in SCHEMA}
    parsed = [c for c, t in given.items() if c in types and not _passes_typed(t, types[c])]
    return "".join(f", NULLIF(TRIM(CAST(\"{c}\" AS VARCHAR)), '') IS NOT NULL AS g_{c}" for c in parsed)


def _passes_typed(given: pa.DataType, typ: pa.DataType) -> bool:
    """Whether a column of type ``given`` is taken as is for schema type ``typ`` (no text parsing)."""
    if pa.types.is_timestamp(typ):
        return pa.types.is_timestamp(given)
    return given.equals(typ) or (pa.types.is_integer(given) and pa.types.is_int64(typ))


def check_plan(given: Mapping[str, pa.DataType]) -> CheckPlan:
    """Build the parse-and-check SQL for input columns of the ``given`` Arrow types."""
    typed: dict[str, str] = {}
    checks: list[tuple[str, str, str]] = []  # (field, condition on the t_ columns or raw ones, reason)
    ts_given_bad = "FALSE"  # a ts was given and did not parse
    for f in SCHEMA:
        if f.name == "ts":
            typed["ts"], bad = _ts_sql(given.get("ts"))
            if bad != "FALSE":
                # t_ts_secs is a flag column beside the typed ones (not a schema field: never stored).
                typed["ts_secs"] = _TS_SECONDS
                checks.append(("ts", "t_ts_secs", _TS_SECONDS_REASON))
                checks.append(("ts", f"({bad} AND NOT COALESCE(t_ts_secs, FALSE))", "unparsable time"))
                ts_given_bad = bad
            continue
        typed[f.name], bad = _sql_cast(f.name, f.type, given.get(f.name))
        if bad != "FALSE":
            checks.append((f.name, bad, f"wrong type: expected {_TYPE_WORD.get(str(f.type), str(f.type))}"))
    for c in ("event_id", "ts", "kind"):
        if c not in given:
            checks.append((c, "TRUE", f"missing required column {c}"))
    ts_bad = ts_given_bad
    kinds_sql = ",".join(f"'{k}'" for k in KINDS)
    checks += [
        ("event_id", "t_event_id IS NULL", "missing required field event_id"),
        ("ts", f"t_ts IS NULL AND NOT ({ts_bad})", "missing required field ts"),
        ("kind", "t_kind IS NULL", "missing required field kind"),
        ("kind", f"t_kind NOT IN ({kinds_sql})", "unknown kind"),
        ("amount", "t_amount < 0", "amount must be >= 0"),
        ("quantity", "t_quantity <= 0", "quantity must be > 0"),
        ("watch_ms", "t_watch_ms < 0", "watch_ms must be >= 0"),
        ("duration_ms", "t_duration_ms < 0", "duration_ms must be >= 0"),
        (
            "surface",
            "t_surface NOT IN (" + ",".join(f"'{s}'" for s in sorted(SURFACES)) + ")",
            "unknown surface",
        ),
    ]
    # One CASE over the kind says whether a required field is missing (cheap on clean rows) ...
    missing_any = (
        "CASE t_kind "
        + " ".join(f"WHEN '{kind}' THEN ({_missing_sql(fields)})" for kind, fields in REQUIRED.items())
        + " ELSE FALSE END"
    )
    # ... and, for rejected rows only, one reason per missing field.
    required_reasons = [
        (
            req[0] if isinstance(req, tuple) else req,
            f"t_kind = '{kind}' AND {_missing_sql((req,))}",
            f"missing required field {' or '.join(req) if isinstance(req, tuple) else req} for {kind}",
        )
        for kind, fields in REQUIRED.items()
        for req in fields
    ]
    any_bad = " OR ".join(f"COALESCE({cond}, FALSE)" for _, cond, _ in checks) + f" OR COALESCE({missing_any}, FALSE)"
    select_typed = ", ".join(f"{expr} AS t_{name}" for name, expr in typed.items())
    return CheckPlan(select_typed=select_typed, checks=checks, required=required_reasons, any_bad=any_bad)


# ---------------------------------------------------------------- the clean-batch check (Arrow compute)

_NONNEG = ("amount", "watch_ms", "duration_ms")  # must be >= 0 where given
_FINITE = ("amount", "value")


def _typed_column(name: str, typ: pa.DataType, col: pa.ChunkedArray, n: int) -> pa.ChunkedArray | None:
    """Column ``name`` as :func:`validate` would type it (the ``t_`` value), or None where only the
    SQL path knows how (text to parse, unusual types). Same rules as :func:`_sql_cast`: a string is
    taken as is with "" as missing, any integer type is an integer, float64 is a number."""
    given = col.type
    if pa.types.is_string(typ):
        if not given.equals(pa.string()):
            return None
        if col.null_count < n and pc.any(pc.equal(pc.binary_length(col), 0)).as_py():
            col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
        return col
    if pa.types.is_int64(typ):
        if not pa.types.is_integer(given):
            return None
        try:
            return col.cast(pa.int64())  # safe: an unsigned value beyond int64 raises
        except (pa.ArrowInvalid, OverflowError):
            return None
    if pa.types.is_floating(typ):
        return col if given.equals(typ) else None
    return None  # pragma: no cover - the schema has no other types


def _typed_ts(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """``ts`` as a UTC instant: a timestamp (naive means UTC, as in :func:`_ts_sql`) or text parsed by
    the very SQL expression of :func:`_ts_sql` (one column, evaluated once)."""
    given = col.type
    if pa.types.is_timestamp(given):
        if given.unit == "ns":
            return None  # DuckDB truncates nanoseconds; leave that to the SQL path
        try:
            return col.cast(pa.timestamp(given.unit, tz="UTC")).cast(pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            return None
    if not given.equals(pa.string()):
        return None
    if col.null_count:
        return None  # a missing or blank time: the SQL path names the row
    # The common shapes, parsed by Arrow's ISO 8601 cast (~10x cheaper than the SQL expression), only
    # where every value is plainly one of them, so both parsers must agree: "YYYY-MM-DDThh:mm:ss"
    # (or a space for "T"), with "Z" or nothing (UTC either way). Arrow's parser takes a 19-character
    # string only in that shape and checks the ranges (no hour 24, no second 60, no 30 February: it
    # raises, and the SQL expression decides); years before 1000 are left to the SQL expression.
    # The shape check is by length, not a regex: ~20x cheaper (a fuzz test holds the two equal).
    lengths = pc.min_max(pc.binary_length(col))
    lo, hi = lengths["min"].as_py(), lengths["max"].as_py()
    shape = None
    if lo == hi == 19:
        shape = pa.timestamp("us")
    elif lo == hi == 20 and pc.all(pc.ends_with(col, "Z")).as_py():
        shape = pa.timestamp("us", tz="UTC")
    if shape is not None:
        try:
            parsed = col.cast(shape).cast(pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            parsed = None
        if parsed is not None and pc.min(parsed).as_py().year >= 1000:
            return parsed
    expr, _ = _ts_sql(given)
    con = scratch_duckdb()
    try:
        con.register("b", pa.table({"ts": col}))
        out = con.sql(f"SELECT {expr} AS ts FROM b").to_arrow_table()["ts"]
    finally:
        con.close()
    return out.cast(pa.timestamp("us", tz="UTC"))


def clean_typed(batch: pa.Table) -> pa.Table | None:
    """``batch`` typed to :data:`SCHEMA` when every row passes validation, else None.

    The checks of :func:`check_plan` as a few Arrow compute calls over whole columns (kinds by a
    dictionary encoding, required fields by null masks per kind present, ranges by min/max): a clean
    batch, the simulator's and most files', is admitted without a DuckDB query or per-row work. None
    means "not known to be clean" (a bad row, or a column type only the SQL path parses), and the
    caller runs :func:`validate`'s SQL, which names each bad row. A test holds the two paths equal.
    """
    n = batch.num_rows
    if n == 0 or any(c not in batch.column_names for c in ("event_id", "ts", "kind")):
        return None
    if len(set(batch.column_names)) != len(batch.column_names):
        return None
    cols: dict[str, pa.ChunkedArray] = {}
    for f in SCHEMA:
        if f.name not in batch.column_names:
            cols[f.name] = pa.chunked_array([pa.nulls(n, f.type)])
            continue
        col = batch[f.name]
        typed = _typed_ts(col) if f.name == "ts" else _typed_column(f.name, f.type, col, n)
        if typed is None:
            return None
        cols[f.name] = typed
    if cols["event_id"].null_count or cols["ts"].null_count or cols["kind"].null_count:
        return None
    for name in _FINITE:
        c = cols[name]
        if c.null_count < n and not pc.all(pc.is_finite(c)).as_py():
            return None
    for name in _NONNEG:
        c = cols[name]
        if c.null_count < n and pc.min(c).as_py() < 0:
            return None
    q = cols["quantity"]
    if q.null_count < n and pc.min(q).as_py() <= 0:
        return None
    s = cols["surface"]
    if s.null_count < n and not set(pc.unique(s).drop_null().to_pylist()) <= SURFACES:
        return None
    kinds = pc.dictionary_encode(cols["kind"].combine_chunks())
    present = kinds.dictionary.to_pylist()
    if not set(present) <= set(KINDS):
        return None
    codes = kinds.indices
    nulls: dict[str, pa.Array] = {}

    def null_mask(name: str) -> pa.Array | None:
        c = cols[name]
        if c.null_count == 0:
            return None
        if name not in nulls:
            nulls[name] = pc.is_null(c).combine_chunks()
        return nulls[name]

    for code, kind in enumerate(present):
        rows: pa.Array | None = None
        for req in REQUIRED[kind]:
            options = req if isinstance(req, tuple) else (req,)
            masks = [null_mask(o) for o in options]
            if any(m is None for m in masks):
                continue  # one option is never null
            missing = masks[0]
            for m in masks[1:]:
                missing = pc.and_(missing, m)
            if len(present) > 1:
                rows = pc.equal(codes, code) if rows is None else rows
                missing = pc.and_(missing, rows)
            if pc.any(missing).as_py():
                return None
    return pa.table(cols, schema=SCHEMA)
