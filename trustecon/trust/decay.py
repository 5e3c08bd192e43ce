"""Evidence time: when an event happened, read alike on every engine, and how much it still weighs.

Time is epoch seconds at millisecond resolution (floor of the epoch second + milliseconds), which
DuckDB and Spark compute identically (:func:`event_seconds`) and Python too (:func:`to_seconds`).
Evidence ``t`` seconds old as of ``τ`` weighs ``2^(−(τ − t)/h)`` for a half-life ``h`` (the
forgetting curve of the Beta Reputation System, Jøsang & Ismail 2002, §4): :func:`decay_factor` in
Python, :func:`decay_weight` on the engine. The lowest piece of the evidence model, shared by
:mod:`trustecon.trust.evidence` and :mod:`trustecon.trust.orders`.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import ibis.expr.types as ir

__all__ = ["DAY_SECONDS", "decay_factor", "decay_weight", "event_seconds", "to_seconds"]

DAY_SECONDS = 86_400.0


def to_seconds(ts: dt.datetime) -> float:
    """A UTC instant as epoch seconds at millisecond resolution (the same rule as :func:`event_seconds`)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    us = (ts - epoch) // dt.timedelta(microseconds=1)
    return float(us // 1_000_000) + float((us % 1_000_000) // 1000) / 1000.0


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(ts: dt.datetime) -> int:  # type: ignore[empty-body]
    """DuckDB's ``epoch_us``: microseconds since the epoch (an integer read, no calendar work)."""


def _backend_name(expr: ir.Value) -> str | None:
    try:
        return expr._find_backend(use_default=True).name
    except Exception:  # an unbound expression: the portable form
        return None


def event_seconds(ts: ir.TimestampValue) -> ir.FloatingValue:
    """Epoch seconds of a timestamp column at millisecond resolution, identical on DuckDB and Spark:
    ``⌊s⌋ + ms / 1000`` (the same arithmetic as :func:`to_seconds`).

    On DuckDB it is computed from the integer ``epoch_us`` (twenty times cheaper than extracting the
    epoch and the milliseconds of a zoned timestamp, which goes through the calendar); elsewhere from
    the epoch seconds and the millisecond field."""
    if _backend_name(ts) == "duckdb":
        us = _epoch_us(ts)
        return (us // 1_000_000).cast("float64") + ((us % 1_000_000) // 1000).cast("float64") / 1000.0
    return ts.epoch_seconds().cast("float64").floor() + ts.millisecond().cast("float64") / 1000.0


def decay_factor(age_seconds: float, half_life_seconds: float) -> float:
    """``2^(−age / h)``: the weight of evidence ``age_seconds`` old."""
    return 2.0 ** (-age_seconds / half_life_seconds)


def decay_weight(t: ir.FloatingValue, ref: float, h: float) -> ir.FloatingValue:
    """``2^((t − ref)/h)`` on the engine: the weight as of ``ref`` (epoch s) of evidence at ``t``."""
    return ((t - ref) / h * math.log(2.0)).exp()
