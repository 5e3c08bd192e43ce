"""One simulated day's events, gathered as numpy columns per kind and built into an Arrow table.

Rows are sorted by time (stable, so ties keep generation order) and then numbered, so the ids
``sim:{seed}:{counter:012d}`` are deterministic for a seed and sort in time order. The id strings are
written as one fixed-width byte buffer with numpy digit arithmetic, not a Python loop: they are the
hot path at 10^8 rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trustecon.events import ID_FIELDS, SCHEMA

__all__ = ["SURFACES", "SURFACE_CODE", "DayBuffer"]

_INT_FIELDS = (*ID_FIELDS, "watch_ms", "duration_ms", "quantity")
_FLOAT_FIELDS = ("amount", "value")
#: Surface codes for per-row surfaces given as an int array (0 = no surface).
SURFACES: tuple[str, ...] = ("", "campaign", "discover", "follow", "live", "search")
SURFACE_CODE = {s: i for i, s in enumerate(SURFACES)}


class DayBuffer:
    """Columns of one day's events; ``add`` a kind's rows, then ``build`` the table."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, int, np.ndarray, dict[str, np.ndarray], str | np.ndarray | None]] = []
        self.n = 0

    def add(self, kind: str, ts: np.ndarray, surface: str | np.ndarray | None = None,
            **cols: np.ndarray | int | float) -> None:
        """Rows of one kind: ``ts`` in µs since the epoch (UTC); other columns broadcast to its length."""
        n = int(np.asarray(ts).shape[0])
        if n == 0:
            return
        arrays = {k: _column(v, n) for k, v in cols.items()}
        self.chunks.append((kind, n, np.asarray(ts, dtype=np.int64), arrays, surface))
        self.n += n

    def build(self, seed: int, first: int) -> pa.Table:
        """The day's table in :data:`SCHEMA`, sorted by time, ids numbered from ``first``."""
        if self.n == 0:
            return SCHEMA.empty_table()
        n = self.n
        sizes = np.array([c[1] for c in self.chunks], dtype=np.int64)
        ts = np.concatenate([c[2] for c in self.chunks])
        order = _time_order(ts)
        # Chunk of each output row: every per-chunk attribute (kind, surface, which columns are set) is
        # a small-table gather by it.
        chunk = np.repeat(np.arange(len(self.chunks), dtype=np.intp), sizes)[order]
        kinds = sorted({c[0] for c in self.chunks})
        kind_code = np.array([kinds.index(c[0]) for c in self.chunks], dtype=np.int32)[chunk]
        surf_code = np.concatenate([_surface_codes(c[4], c[1]) for c in self.chunks])[order]
        columns: dict[str, pa.Array] = {
            "event_id": _event_ids(f"sim:{seed}:", first, n),
            "ts": _from_numpy(pa.timestamp("us", tz="UTC"), np.take(ts, order, out=_pooled(n, np.int64))),
            # take() on a small string array materialises plain strings faster than a dictionary cast.
            "kind": pc.take(_strings(kinds), _from_numpy(pa.int32(), kind_code)),
            "surface": pc.take(_SURFACE_STRINGS, _from_numpy(pa.int32(), surf_code)),
        }
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        inverse = None  # output row of each generated row, for columns that only a few rows carry
        zeros = {np.int64: np.zeros(int(sizes.max()), np.int64), np.float64: np.zeros(int(sizes.max()))}
        for name in _INT_FIELDS + _FLOAT_FIELDS:
            typ = SCHEMA.field(name).type
            has = np.array([name in c[3] for c in self.chunks])
            if not has.any():
                columns[name] = pa.nulls(n, typ)
                continue
            z = zeros[np.float64 if name in _FLOAT_FIELDS else np.int64]
            if int(sizes[has].sum()) * 4 >= n:  # dense enough: concatenate, then one gather in time order
                vals = np.concatenate([c[3][name] if h else z[:c[1]] for c, h in zip(self.chunks, has, strict=True)],
                                      dtype=z.dtype, casting="unsafe")
                columns[name] = _from_numpy(typ, np.take(vals, order, out=_pooled(n, z.dtype)),
                                            None if has.all() else has[chunk])
                continue
            if inverse is None:
                inverse = np.empty(n, dtype=np.intp)
                inverse[order] = np.arange(n)
            vals = _pooled(n, z.dtype)
            vals[:] = 0
            valid = np.zeros(n, dtype=bool)
            for i in np.flatnonzero(has):
                at = inverse[bounds[i]:bounds[i + 1]]
                vals[at] = self.chunks[i][3][name]
                valid[at] = True
            columns[name] = _from_numpy(typ, vals, valid)
        return pa.table([columns[f.name] for f in SCHEMA], schema=SCHEMA)


def _column(values: np.ndarray | int | float, n: int) -> np.ndarray:
    """``values`` as an array of length ``n`` (a scalar is broadcast without copying)."""
    a = np.asarray(values)
    return a if a.shape == (n,) else np.broadcast_to(a, (n,))


def _strings(values: list[str] | tuple[str, ...], null_first: bool = False) -> pa.StringArray:
    """A small string array from its buffers (``pa.array`` of a Python list would import pandas)."""
    data = [v.encode() for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    valid = None
    if null_first:
        valid = pa.py_buffer(np.packbits(np.arange(len(data)) > 0, bitorder="little"))
    return pa.StringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(b"".join(data)), valid,
                                       null_count=int(null_first))


#: Surface strings by code; code 0 is null.
_SURFACE_STRINGS = _strings(SURFACES, null_first=True)


def _time_order(ts: np.ndarray) -> np.ndarray:
    """``argsort(ts, kind="stable")``, by an unstable sort of unique keys ``(ts − min) · 2^b + row``.

    The key makes ties break by row (generation order); an unstable sort of distinct int64 keys is
    several times faster than a stable argsort. Falls back to the stable argsort when the key
    would not fit in 63 bits."""
    n = ts.size
    bits = max(int(n - 1).bit_length(), 1)
    lo = int(ts.min())
    span = int(ts.max()) - lo
    if span.bit_length() + bits > 62:
        return np.argsort(ts, kind="stable")
    key = ((ts - lo) << bits) | np.arange(n, dtype=np.int64)
    key.sort()
    return key & ((1 << bits) - 1)


def _pooled(n: int, dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised writable array of ``n`` items over a buffer from Arrow's memory pool.

    The day's output columns are allocated here: Arrow's pool keeps freed memory for the next day,
    while numpy's large arrays come from malloc, which hands them back to the kernel between days, so
    every day faulted its output pages in again (≈ 15% of generation CPU, in the kernel)."""
    dtype = np.dtype(dtype)
    return np.frombuffer(pa.allocate_buffer(max(n, 1) * dtype.itemsize), dtype=dtype, count=n)


def _from_numpy(typ: pa.DataType, values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A primitive Arrow array over ``values`` (no copy), with a validity bitmap packed from ``valid``."""
    values = np.ascontiguousarray(values)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = -1 if valid is None else int(values.size - np.count_nonzero(valid))
    return pa.Array.from_buffers(typ, values.size, [bitmap, pa.py_buffer(values)], null_count=nulls)


#: The digits of 0000..9999 as four ASCII bytes each, one uint32 per number (40 kB): ids are written
#: four digits at a time, by one gather per group.
_DIGITS4 = (48 + np.arange(10_000)[:, None] // np.array([1000, 100, 10, 1]) % 10).astype(np.uint8).view(np.uint32)[:, 0]


def _event_ids(prefix: str, first: int, n: int) -> pa.Array:
    """``prefix`` + the counter zero-padded to 12 digits, built as one fixed-width byte buffer.

    Each row is a record (prefix bytes, three 4-digit groups, each a uint32 of ASCII from
    :data:`_DIGITS4`). The counters are consecutive, so the low group is :data:`_DIGITS4` read
    cyclically from ``first mod 10^4`` and the two high groups change once per 10^4 rows: no per-row
    arithmetic and no temporaries beyond the output."""
    if first + n > 10**12:
        raise OverflowError("more than 10^12 events in one run")
    head = prefix.encode()
    width = len(head) + 12
    if n == 0:
        return pa.StringArray.from_buffers(0, pa.py_buffer(_offsets(width, 0)), pa.py_buffer(b""))
    rows = _pooled(n, np.dtype([("prefix", f"V{len(head)}"), ("high", "=u4"), ("mid", "=u4"), ("low", "=u4")]))
    rows["prefix"] = np.frombuffer(head, dtype=f"V{len(head)}")[0]
    lo0 = first % 10**4
    rows["low"] = np.resize(np.roll(_DIGITS4, -lo0), n)
    # Blocks of rows sharing counter // 10^4: the first has 10^4 - lo0 rows, the others 10^4.
    block = first // 10**4 + np.arange((lo0 + n + 10**4 - 1) // 10**4)
    size = np.full(block.size, 10**4)
    size[0] -= lo0
    size[-1] = n - (size[:-1].sum())
    rows["high"] = np.repeat(_DIGITS4[block // 10**4], size)
    rows["mid"] = np.repeat(_DIGITS4[block % 10**4], size)
    return pa.StringArray.from_buffers(n, pa.py_buffer(_offsets(width, n)), pa.py_buffer(rows))


_OFFSETS: dict[int, np.ndarray] = {}


def _offsets(width: int, n: int) -> np.ndarray:
    """``0, width, 2·width, …, n·width`` as int32: a view of a cached array (read-only use)."""
    have = _OFFSETS.get(width)
    if have is None or have.size < n + 1:
        have = np.arange(0, max(n + 1, 1 << 16) * width, width, dtype=np.int32)
        _OFFSETS[width] = have
    return have[: n + 1]


def _surface_codes(surface: str | np.ndarray | None, n: int) -> np.ndarray:
    """A chunk's surface codes: one code for every row, or the per-row codes (:data:`SURFACE_CODE`)."""
    if surface is None or isinstance(surface, str):
        return np.full(n, SURFACE_CODE[surface or ""], dtype=np.int32)
    return np.asarray(surface, dtype=np.int32)
