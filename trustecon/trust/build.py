"""``build``: every trust table of a workspace from its event log, committed in one transaction.

Writes ``tables/pair_trust`` (one row per user → creator pair with evidence, with the decayed sums
an incremental update resumes from), ``tables/creator_trust`` (every user's evidence pooled per
creator, :class:`~trustecon.trust.creator_fit.CreatorTrust`, from pair trust's sums: no second read
of the log), ``tables/creator_credibility``, ``tables/trust_ranks`` (the
propagation's rank of every node, for explanations), ``tables/seller_reliability``,
``tables/seller_ledger``, and the incremental state ``tables/trust_orders`` (order → buyer, creator),
``tables/trust_order_totals`` (per order: its latest line's time and amount so far, so that another
line of an order the build saw moves that order instead of adding one), ``tables/trust_order_negatives``
(per refunded or complained-about order: its latest refund / complaint, so that another refund of it
moves that refund instead of counting again) and ``tables/trust_sessions`` (live spans);
:meth:`~trustecon.trust.online.OnlineTrust.from_workspace` resumes from all of them. An empty log or
one without commerce gives empty tables of the right schema and a message per missing part, never a
traceback or NaN.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from trustecon.engine import connect
from trustecon.store import Workspace
from trustecon.trust.creator_fit import CREATOR_TRUST_SCHEMA, CreatorTrust
from trustecon.trust.credibility import CreatorCredibility, _materialize
from trustecon.trust.evidence import (
    CHANNELS,
    as_of_of,
    commerce_log,
    evidence_sums,
    kind_pass,
    live_spans,
    order_pairs,
    order_totals,
    pair_pass,
    repurchase_sums,
    side_log,
    side_sums,
)
from trustecon.trust.orders import order_negatives
from trustecon.trust.pair import PairTrust
from trustecon.trust.pivot import fetch_chunks, hugepage_hints_off, merge_side, pivot_kind_pass
from trustecon.trust.reliability import SellerReliability

__all__ = ["BuildResult", "build"]

TABLES = (
    "pair_trust",
    "creator_trust",
    "creator_credibility",
    "trust_ranks",
    "seller_reliability",
    "seller_ledger",
    "trust_orders",
    "trust_order_totals",
    "trust_order_negatives",
    "trust_sessions",
)


@dataclass
class BuildResult:
    """What ``build`` wrote: rows per table, the as-of time, the seed rule, and messages."""

    as_of: dt.datetime | None
    rows: dict[str, int] = field(default_factory=dict)
    seed_rule: str | None = None
    seeds: int = 0
    messages: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    #: Wall seconds per phase, and process CPU seconds (all threads) per phase (for the benchmark's
    #: breakdown; not stored).
    timings: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    _cpu_mark: float = field(default_factory=time.process_time, repr=False)

    def lap(self, phase: str, since: float) -> float:
        now, cpu = time.perf_counter(), time.process_time()
        self.timings[phase] = round(self.timings.get(phase, 0.0) + now - since, 3)
        self.cpu[phase] = round(self.cpu.get(phase, 0.0) + cpu - self._cpu_mark, 3)
        self._cpu_mark = cpu
        return now

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "rows": self.rows,
            "seed_rule": self.seed_rule,
            "seeds": self.seeds,
            "messages": self.messages,
            "params": self.params,
        }


def _empty(schema: list[tuple[str, pa.DataType]]) -> pa.Table:
    return pa.schema(schema).empty_table()


CREDIBILITY_SCHEMA = [
    ("creator_id", pa.int64()), ("credibility", pa.float64()), ("ppr", pa.float64()), ("score", pa.float64()),
    ("rank", pa.int64()),
    ("in_degree", pa.int64()), ("seed_trusters", pa.int64()), ("is_seed", pa.bool_()),
]
RANKS_SCHEMA = [("node", pa.int64()), ("r", pa.float64()), ("is_seed", pa.bool_())]
RELIABILITY_SCHEMA = [
    ("seller_id", pa.int64()), ("seller_kind", pa.string()), ("reliability", pa.float64()),
    ("confidence", pa.float64()), ("alpha", pa.float64()), ("beta", pa.float64()), ("orders", pa.int64()),
    ("kept", pa.int64()), ("refunded", pa.int64()), ("complained", pa.int64()), ("pending", pa.int64()),
    ("raw_kept_rate", pa.float64()), ("as_of", pa.timestamp("us", tz="UTC")),
]
LEDGER_SCHEMA = [
    ("seller_id", pa.int64()), ("seller_kind", pa.string()), ("order_id", pa.int64()), ("buyer_id", pa.int64()),
    ("order_s", pa.float64()), ("amount", pa.float64()), ("refunded_fraction", pa.float64()),
    ("complained", pa.bool_()), ("outcome", pa.string()), ("vetted", pa.bool_()), ("engaged", pa.bool_()),
    ("buyer_weight", pa.float64()), ("decay", pa.float64()),
    ("d_alpha", pa.float64()), ("d_beta", pa.float64()), ("buyer_orders", pa.int64()), ("delta", pa.float64()),
    ("reason", pa.string()),
]
ORDERS_SCHEMA = [("order_id", pa.int64()), ("user_id", pa.int64()), ("creator_id", pa.int64())]
ORDER_TOTALS_SCHEMA = [("user_id", pa.int64()), ("creator_id", pa.int64()), ("order_id", pa.int64()),
                       ("last_s", pa.float64()), ("amount", pa.float64())]
ORDER_NEGATIVES_SCHEMA = [("user_id", pa.int64()), ("creator_id", pa.int64()), ("order_id", pa.int64()),
                          ("refund_last_s", pa.float64()), ("complaint_last_s", pa.float64())]
SESSIONS_SCHEMA = [
    ("user_id", pa.int64()), ("session_id", pa.int64()), ("creator_id", pa.int64()),
    ("enter_s", pa.float64()), ("leave_s", pa.float64()),
]


def build(
    ws: Workspace,
    *,
    engine: str = "duckdb",
    as_of: dt.datetime | None = None,
    model: PairTrust | None = None,
    credibility: CreatorCredibility | None = None,
    reliability: SellerReliability | None = None,
    creator: CreatorTrust | None = None,
    con: Any = None,
) -> BuildResult:
    """Compute all trust tables on ``engine`` (or the given Ibis ``con``) and commit them together.

    ``creator``: the creator-level model (default: unfitted, on the pair model's evidence config, so
    its pooled sums are pair trust's; one with another half-life or short-view ratio reads the log
    again)."""
    con = con or connect(engine)
    model = model or PairTrust()
    credibility = credibility or CreatorCredibility()
    reliability = reliability or SellerReliability()
    creator = creator or CreatorTrust(model.config)
    t0 = time.perf_counter()
    events = ws.events(con)
    if as_of is not None and ws.event_count():
        first = _bounds(ws)
        first_ts = first[0] if first is not None else events.ts.min().to_pyarrow().as_py()
        at = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=dt.UTC)
        if at < first_ts:
            raise ValueError(f"as of {at.isoformat()} is before the log's first event ({first_ts.isoformat()}): "
                             "nothing would be scored; the trust tables were left as they were")
    when = (as_of_of(events, as_of) if as_of else _latest(ws, events)) if ws.event_count() else None
    res = BuildResult(as_of=when, params={"pair_trust": model.params(), "creator_trust": creator.params()})
    out: dict[str, pa.Table] = {}
    # One transaction around the computation: the largest table (pair trust) is written on a thread
    # while credibility and reliability are computed, the rest at the end; all commit together.
    with ws.transaction() as tx, ThreadPoolExecutor(1) as writer:
        written: dict[str, Future] = {}
        if when is None:
            res.messages.append("the workspace has no events: every trust table is empty")
            for name, schema in (("creator_credibility", CREDIBILITY_SCHEMA), ("trust_ranks", RANKS_SCHEMA),
                                 ("seller_reliability", RELIABILITY_SCHEMA), ("seller_ledger", LEDGER_SCHEMA),
                                 ("trust_orders", ORDERS_SCHEMA), ("trust_order_totals", ORDER_TOTALS_SCHEMA),
                                 ("trust_order_negatives", ORDER_NEGATIVES_SCHEMA),
                                 ("trust_sessions", SESSIONS_SCHEMA)):
                out[name] = _empty(schema)
            out["pair_trust"] = _empty_pairs()
            out["creator_trust"] = CREATOR_TRUST_SCHEMA.empty_table()
            res.params["credibility"] = {"damping": credibility.damping, "seed_rule": None,
                                         "vouch_fraction": credibility.vouch_fraction}
            res.params["reliability"] = dict(vars(reliability))
        else:
            t0 = res.lap("as_of", t0)

            def write_early(name: str) -> None:
                written[name] = writer.submit(tx.write_table, name, out[name])

            with hugepage_hints_off():  # (the in-memory path's large short-lived arrays; see there)
                _build_tables(ws, con, events, when, model, credibility, reliability, res, out, write_early,
                              creator)
            t0 = time.perf_counter()
        for name in TABLES:  # (the transaction is not thread-safe: the early write is waited for first)
            if name in written:
                written[name].result()
        for name in TABLES:
            if name not in written:
                tx.write_table(name, out[name])
    res.rows = {k: out[k].num_rows for k in TABLES}
    ws.set_config("trust", {"as_of": res.as_of.isoformat() if res.as_of else "", **_flat(res.params)})
    res.lap("write", t0)
    return res


def _build_tables(
    ws: Workspace,
    con: Any,
    events: Any,
    when: dt.datetime,
    model: PairTrust,
    credibility: CreatorCredibility,
    reliability: SellerReliability,
    res: BuildResult,
    out: dict[str, pa.Table],
    write_early: Callable[[str], None] = lambda name: None,
    creator: CreatorTrust | None = None,
) -> None:
    """The tables of a non-empty log. The log is read once for the evidence (one aggregate per
    (user, creator), :func:`~trustecon.trust.evidence.pair_pass`), once for its commerce events and
    once for its live spans; these three are materialised on the engine and every table is derived
    from them (pair trust, the trust graph, reliability's engaged-buyer rule, the seed rule, the
    incremental state). The seed rule reads the log once more for the few candidate seeds' days.
    ``write_early(name)`` is called once ``out[name]`` is final and will not be read again here."""
    tag = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()

    def side_pass() -> tuple[Any, Any]:
        side = _materialize(con, side_log(events), f"_tb_side_{tag}")
        return side, _materialize(con, live_spans(side, when), f"_tb_spans_{tag}")

    def pick_seeds(commerce: Any) -> tuple[np.ndarray, str]:
        # The seed rule needs only the log and its commerce events, not pair trust: engine work that
        # runs beside numpy work instead of a step between pair trust and propagation.
        return credibility.pick_seeds(events, timezone=ws.timezone, commerce=commerce, day_column="day")

    if con.name == "duckdb":
        # In memory after the one read of the log (trustecon.trust.pivot): level 2 of the evidence pass,
        # the merge with the small side sums and the beta score in numpy, while the engine reads the
        # commerce and live events and their per-pair sums, then picks the seeds, on a thread (the main
        # thread makes no engine call meanwhile: one connection, one query at a time). The engine path
        # below is the reference they equal.
        def side_and_sums() -> tuple[Any, Any, tuple[pa.Table, pa.Table]]:
            side, spans = side_pass()
            com = commerce_log(side)  # (the per-pair sums the evidence pass lacks: a few percent of pairs)
            return side, spans, (con.to_pyarrow(side_sums(com, spans, when, model.config)),
                                 con.to_pyarrow(repurchase_sums(com, when, model.config)))

        kinds = fetch_chunks(con, kind_pass(events, when, model.config))
        with ThreadPoolExecutor(1) as pool:
            side_done = pool.submit(side_and_sums)
            arrays = pivot_kind_pass(kinds)
            del kinds
            t0 = res.lap("evidence pass", t0)
            side, spans, small = side_done.result()
            commerce = commerce_log(side)
            seeds_done = pool.submit(pick_seeds, commerce)
            t0 = res.lap("commerce and live pass", t0)
            engaged_at = ~np.isnan(arrays.engaged_s)
            engaged = ibis.memtable(pa.table({
                "user_id": arrays.user_id[engaged_at], "creator_id": arrays.creator_id[engaged_at],
                "first_s": arrays.engaged_s[engaged_at],
            }))
            out["pair_trust"] = model.score(merge_side(arrays, *small), when)
            del arrays
            picked = seeds_done.result()
    else:
        passed = _materialize(con, pair_pass(events, when, model.config), f"_tb_pass_{tag}")
        t0 = res.lap("evidence pass", t0)
        side, spans = side_pass()
        commerce = commerce_log(side)
        picked = pick_seeds(commerce)
        engaged = passed.filter(passed.engaged_s.notnull()).select("user_id", "creator_id", first_s="engaged_s")
        t0 = res.lap("commerce and live pass", t0)
        out["pair_trust"] = con.to_pyarrow(model.transform(events, when, passed=passed, commerce=commerce,
                                                           spans=spans))
    t0 = res.lap("pair trust", t0)
    pt = out["pair_trust"]
    write_early("pair_trust")
    if pt.num_rows == 0:
        res.messages.append("no event names both a user and a creator: no pair trust")
    out["creator_trust"] = _creator_trust(con, events, when, creator or CreatorTrust(model.config), model, pt)
    t0 = res.lap("creator trust", t0)
    with ThreadPoolExecutor(1) as aux:
        # Credibility's fast path on in-memory edges with seeds already picked is numpy only, so it
        # propagates on a thread while reliability's queries run on the engine (one query at a time
        # on the connection still holds: the thread makes no engine call).
        cred = None
        if pt.num_rows:
            graph = pt.select(["user_id", "creator_id", "positive", "negative"])  # (in memory: no round trip)
            kw = {"timezone": ws.timezone, "con": con, "commerce": commerce, "day_column": "day", "picked": picked}
            if credibility.path == "fast":
                cred = aux.submit(credibility.fit, graph, events, **kw)
            else:
                credibility.fit(graph, events, **kw)
        _reliability(con, events, when, reliability, engaged, commerce, res, out, tag)
        t0 = res.lap("reliability", t0)
        if cred is not None:
            cred.result()
    _credibility_tables(credibility, pt.num_rows > 0, res, out)
    t0 = res.lap("credibility", t0)
    # Live spans, the state OnlineTrust resumes live minutes from.
    sp = spans.filter(spans.user_id.notnull())
    out["trust_sessions"] = con.to_pyarrow(sp.order_by(["user_id", "session_id"]))
    res.lap("sessions", t0)


def _creator_trust(con: Any, events: Any, when: dt.datetime, creator: CreatorTrust, model: PairTrust,
                   pt: pa.Table) -> pa.Table:
    """``creator_trust``: pair trust's decayed sums pooled per creator when both models decay and cut
    short views alike (the usual case), else the creator model on the log."""
    same = (creator.config.half_life_days, creator.config.short_view) == (model.config.half_life_days,
                                                                         model.config.short_view)
    if same:
        return creator.score(pt, when)
    sums = evidence_sums(events, when, creator.config)
    return creator.score(con.to_pyarrow(sums.select("user_id", "creator_id", *[f"e_{c}" for c in CHANNELS])), when)


def _credibility_tables(credibility: CreatorCredibility, fitted: bool, res: BuildResult,
                        out: dict[str, pa.Table]) -> None:
    """``creator_credibility`` and ``trust_ranks`` from a fitted model (empty when nothing was fitted)."""
    if fitted:
        out["creator_credibility"] = credibility.credibility_
        nodes = getattr(credibility, "node_ids_", np.empty(0, np.int64))
        r = getattr(credibility, "node_rank_", np.empty(0))
        out["trust_ranks"] = pa.table(
            {"node": pa.array(nodes, pa.int64()), "r": pa.array(r, pa.float64()),
             "is_seed": pa.array(np.isin(nodes, credibility.seeds_), pa.bool_())}
        )
        res.seed_rule, res.seeds = credibility.seed_rule_, int(len(credibility.seeds_))
        if res.seeds == 0:
            res.messages.append("no seed users (nobody meets the seed rule): credibility is 0 for every creator")
    else:
        out["creator_credibility"] = _empty(CREDIBILITY_SCHEMA)
        out["trust_ranks"] = _empty(RANKS_SCHEMA)
    res.params["credibility"] = {"damping": credibility.damping, "seed_rule": res.seed_rule,
                                 "vouch_fraction": credibility.vouch_fraction}


def _reliability(con: Any, events: Any, when: dt.datetime, reliability: SellerReliability, engaged: Any,
                 commerce: Any, res: BuildResult, out: dict[str, pa.Table], tag: str) -> None:
    """``seller_reliability``, ``seller_ledger``, ``trust_orders`` and ``trust_order_totals`` (empty
    without orders), and ``trust_order_negatives``;
    ``engaged``: each pair's first engagement (``user_id, creator_id, first_s``); ``tag`` names the
    build's engine temporaries."""
    n_orders = int(commerce.filter(commerce.kind == "order").count().execute())
    if n_orders:
        led = _materialize(con, reliability.ledger(events, when, commerce=commerce, engaged=engaged),
                           f"_tb_led_{tag}")
        rel, led = reliability.summarize(led, when)
        # Cast to the declared schemas: DuckDB types the literal weights (1.0, 0.1) as DECIMAL(2,1), and
        # a log with orders stored decimals where one without stored float64 (found by docs/tables.md).
        out["seller_reliability"] = con.to_pyarrow(rel.order_by(["seller_kind", "seller_id"])).cast(
            pa.schema(RELIABILITY_SCHEMA))
        out["seller_ledger"] = con.to_pyarrow(led.order_by(["seller_kind", "seller_id", "order_id"])).cast(
            pa.schema(LEDGER_SCHEMA))
        op = order_pairs(commerce)
        out["trust_orders"] = con.to_pyarrow(
            op.select(order_id=op.order_id, user_id=op.o_user, creator_id=op.o_creator).order_by("order_id")
        )
        ot = order_totals(commerce, when)
        out["trust_order_totals"] = con.to_pyarrow(ot.order_by(["user_id", "creator_id", "order_id"])).cast(
            pa.schema(ORDER_TOTALS_SCHEMA))
    else:
        res.messages.append("no commerce events (orders): seller reliability and its ledger are empty")
        out["seller_reliability"] = _empty(RELIABILITY_SCHEMA)
        out["seller_ledger"] = _empty(LEDGER_SCHEMA)
        out["trust_orders"] = _empty(ORDERS_SCHEMA)
        out["trust_order_totals"] = _empty(ORDER_TOTALS_SCHEMA)
    # (outside the branch: a refund naming its own pair counts even in a log without order lines)
    on = order_negatives(commerce, when)
    out["trust_order_negatives"] = con.to_pyarrow(on.order_by(["user_id", "creator_id", "order_id"])).cast(
        pa.schema(ORDER_NEGATIVES_SCHEMA))
    res.params["reliability"] = dict(vars(reliability))


def _bounds(ws: Workspace) -> tuple[dt.datetime, dt.datetime] | None:
    """The first and latest event times from the Parquet footers' ``ts`` statistics (no scan of the
    log); None when a file carries no statistics."""
    import pyarrow.parquet as pq

    lo = hi = None
    for f in ws.event_files():
        md = pq.ParquetFile(f).metadata
        col = md.schema.to_arrow_schema().get_field_index("ts")
        for i in range(md.num_row_groups):
            st = md.row_group(i).column(col).statistics
            if st is None or not st.has_min_max:
                return None
            mn, mx = (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC) for t in (st.min, st.max))
            lo = mn if lo is None or mn < lo else lo
            hi = mx if hi is None or mx > hi else hi
    return (lo, hi) if lo is not None and hi is not None else None


def _latest(ws: Workspace, events: Any) -> dt.datetime | None:
    """The latest event time, from the footers (:func:`_bounds`), else by a scan."""
    b = _bounds(ws)
    return b[1] if b is not None else as_of_of(events, None)


def _empty_pairs() -> pa.Table:
    from trustecon.trust.pair import _empty_pairs as ep

    return ep().to_pyarrow()


def _flat(params: dict[str, Any]) -> dict[str, Any]:
    """Provenance for trustecon.toml (nested tables are fine; None becomes an empty string)."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return "" if v is None else v

    return clean(params)
