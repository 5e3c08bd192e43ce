"""``build``: every trust table of a workspace from its event log, committed in one transaction.

Writes ``tables/pair_trust`` (one row per user → creator pair with evidence, with the decayed sums
an incremental update resumes from), ``tables/creator_credibility``, ``tables/trust_ranks`` (the
propagation's rank of every node, for explanations), ``tables/seller_reliability``,
``tables/seller_ledger``, and the incremental state ``tables/trust_orders`` (order → buyer, creator)
and ``tables/trust_sessions`` (live spans). An empty log or one without commerce gives empty tables
of the right schema and a message per missing part, never a traceback or NaN.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from trustecon.engine import connect
from trustecon.store import Workspace
from trustecon.trust.credibility import CreatorCredibility
from trustecon.trust.evidence import as_of_of, event_seconds, order_pairs
from trustecon.trust.pair import PairTrust
from trustecon.trust.reliability import SellerReliability

__all__ = ["BuildResult", "build"]

TABLES = (
    "pair_trust",
    "creator_credibility",
    "trust_ranks",
    "seller_reliability",
    "seller_ledger",
    "trust_orders",
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
    con: Any = None,
) -> BuildResult:
    """Compute all trust tables on ``engine`` (or the given Ibis ``con``) and commit them together."""
    con = con or connect(engine)
    model = model or PairTrust()
    credibility = credibility or CreatorCredibility()
    reliability = reliability or SellerReliability()
    events = ws.events(con)
    when = as_of_of(events, as_of) if ws.event_count() else None
    res = BuildResult(as_of=when, params={"pair_trust": model.params()})
    out: dict[str, pa.Table] = {}
    if when is None:
        res.messages.append("the workspace has no events: every trust table is empty")
        out["pair_trust"] = _empty_pairs()
    else:
        out["pair_trust"] = con.to_pyarrow(model.transform(events, when))
        if out["pair_trust"].num_rows == 0:
            res.messages.append("no event names both a user and a creator: no pair trust")
    pt = out["pair_trust"]
    # Credibility: propagation over the pair-trust graph.
    if pt.num_rows:
        credibility.fit(ibis.memtable(pt), events, timezone=ws.timezone, con=con)
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
    # Reliability: only with orders.
    n_orders = int(events.filter(events.kind == "order").count().execute()) if when else 0
    if n_orders:
        rel, led = reliability.transform(events, when)
        out["seller_reliability"] = con.to_pyarrow(rel.order_by(["seller_kind", "seller_id"]))
        out["seller_ledger"] = con.to_pyarrow(led.order_by(["seller_kind", "seller_id", "order_id"]))
        op = order_pairs(events)
        out["trust_orders"] = con.to_pyarrow(
            op.select(order_id=op.order_id, user_id=op.o_user, creator_id=op.o_creator).order_by("order_id")
        )
    else:
        if when is not None:
            res.messages.append("no commerce events (orders): seller reliability and its ledger are empty")
        out["seller_reliability"] = _empty(RELIABILITY_SCHEMA)
        out["seller_ledger"] = _empty(LEDGER_SCHEMA)
        out["trust_orders"] = _empty(ORDERS_SCHEMA)
    res.params["reliability"] = dict(vars(reliability))
    # Live spans, the state OnlineTrust resumes live minutes from.
    if when is not None:
        lv = events.filter(
            events.kind.isin(["live_enter", "live_leave"]) & events.session_id.notnull() & events.user_id.notnull()
            & (events.ts <= ibis.literal(when, type="timestamp('UTC')"))
        )
        t = event_seconds(lv.ts)
        sp = lv.group_by(["user_id", "session_id"]).aggregate(
            creator_id=lv.creator_id.min(),
            enter_s=t.min(where=lv.kind == "live_enter"),
            leave_s=t.max(where=lv.kind == "live_leave"),
        )
        out["trust_sessions"] = con.to_pyarrow(sp.order_by(["user_id", "session_id"]))
    else:
        out["trust_sessions"] = _empty(SESSIONS_SCHEMA)
    with ws.transaction() as tx:
        for name in TABLES:
            tx.write_table(name, out[name])
    res.rows = {k: out[k].num_rows for k in TABLES}
    ws.set_config("trust", {"as_of": res.as_of.isoformat() if res.as_of else "", **_flat(res.params)})
    return res


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
