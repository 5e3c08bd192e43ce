"""Creator credibility C(c): trust propagated from pre-trusted seeds (DESIGN.md §5).

The trust graph has an edge u → c weighted by EigenTrust's local trust (Kamvar, Schlosser &
Garcia-Molina, 2003, §4.1): ``s_uc = max(P_uc − N_uc, 0)`` with ``P``/``N`` the weighted positive and
negative evidence masses of pair trust, normalised per truster: ``c_uc = s_uc / Σ_c' s_uc'``.
Credibility is the personalized PageRank of that graph with teleport to the seed set ``p``
(TrustRank, Gyöngyi et al. 2004; EigenTrust's pre-trusted peers):

    r = d · Cᵀ r + d · (Σ_{dangling v} r_v) · p + (1 − d) · p

with dangling mass returned to the seeds (networkx ``pagerank(alpha=d, personalization=p,
dangling=p)`` computes the same vector). Rank only enters the graph at the seeds, so accounts
nobody credible trusts — a ring of fake accounts — pass on nothing however many they are.

The published credibility is the *vouched trust* built on that propagation:

    C(c) = Σ_{u → c} min(1, r_u / r_ref),     r_ref = ε (1 − d) / |seeds|,  ε = 0.1

the number of c's trusters, each counted up to one in proportion to their own propagated rank (a
truster the propagation reached with at least a tenth of a seed's teleport share counts fully). It
keeps in-degree's strength — breadth of trust predicts future trust best on real graphs (measured on
Ciao and FilmTrust in docs/evaluation/trust.md) — while a truster nobody credible reaches counts
zero, as in the propagation; the raw mass ``r_c`` is kept as ``ppr`` and breaks ties. The cap per
truster is in the spirit of Advogato's capacity-limited trust flow (Levien & Aiken, 1998).

Seeds, by a documented rule unless given: a user is pre-trusted when they put money at stake and
kept it across sellers — kept (never refunded, never complained) orders from at least
``seed_min_sellers`` creators — over at least ``seed_min_days`` active days. That is costly to fake at
scale (brushing rings buy from one target). Without enough such users (logs with no commerce), the
``seed_fraction`` of users with the longest activity (distinct active days) are the seeds, among
(and as a fraction of) the users whose events name at least ``seed_min_creators`` (2) creators: a
sybil account active every day toward its one target would otherwise be pre-trusted (measured: the
simulator's ring accounts became activity seeds; docs/evaluation/trust.md §4). A ring spreading its
activity over two creators passes this filter; the commerce rule is the strong one.

Two implementations that must agree (tests: within 1e-6): a scipy.sparse iteration in memory (the
fast path, :mod:`trustecon.trust.propagation`: block Gauss–Seidel sweeps, no igraph/networkx graph
to build), and an engine path on Ibis with one join per iteration (edges ⋈ ranks, then one
union-aggregate), for graphs that live on Spark.
"""

from __future__ import annotations

import uuid

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from ibis.backends import BaseBackend
from scipy.stats import rankdata

from trustecon.trust.propagation import personalized_pagerank, personalized_pagerank_reference

__all__ = [
    "CreatorCredibility",
    "personalized_pagerank",
    "personalized_pagerank_engine",
    "personalized_pagerank_reference",
    "seed_users",
    "tie_key",
    "vouched_trust",
]


def _materialize(con: BaseBackend, expr: ir.Table, name: str) -> ir.Table:
    """Compute ``expr`` now and return it as a table, so an iteration's plan does not grow.

    DuckDB: a temporary table. Spark: a local checkpoint (eager, lineage cut) registered as a temp
    view; Ibis's own ``cache()`` is avoided because its finaliser fails on DuckDB 2 (``DROP TABLE IF
    EXISTS`` without a name) and pyspark's ``create_table`` has no temporary tables.
    """
    con._run_pre_execute_hooks(expr)  # registers in-memory tables the expression reads (as Ibis does)
    if con.name == "pyspark":
        df = con._session.sql(con.compile(expr)).localCheckpoint()
        df.createOrReplaceTempView(name)
        return con.table(name)
    # Raw DDL: Ibis 12's create_table(overwrite=True) emits a DROP that DuckDB 2 rejects.
    con.raw_sql(f"CREATE OR REPLACE TEMP TABLE {name} AS {con.compile(expr)}")
    return con.table(name)


def personalized_pagerank_engine(
    con: BaseBackend,
    edges: ir.Table,
    personalization: ir.Table,
    *,
    damping: float = 0.85,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> tuple[ir.Table, int]:
    """The same iteration on the engine. ``edges``: ``src, dst, weight``; ``personalization``:
    ``node, p``. Returns the cached table ``node, r`` and the iteration count.

    Each iteration is one join (edges ⋈ current ranks) and one aggregate over the union of edge
    contributions and teleport rows; the dangling mass is a scalar subquery. Each step is
    materialised on ``con`` so the plan does not grow with the iteration count. The default ``tol``
    is looser than the fast path's: a parallel engine's sums may differ in the last bits between
    iterations, and 1e-10 in L1 already puts every rank within 1e-10 of the fixed point's.
    """
    tag = uuid.uuid4().hex[:8]
    e = edges.filter(edges.weight > 0)
    out = e.group_by("src").aggregate(out_w=e.weight.sum())
    e = e.inner_join(out, "src")
    e = _materialize(con, e.select(src=e.src, dst=e.dst, c=e.weight / e.out_w), f"_ppr_e_{tag}")
    node_ids = ibis.union(
        e.select(node=e.src), e.select(node=e.dst), personalization.select(node=personalization.node)
    ).distinct()
    pers = personalization.group_by("node").aggregate(p=personalization.p.sum())
    pers = pers.select(node=pers.node, p=pers.p / pers.p.sum())
    srcs = e.select(node=e.src).distinct().mutate(has_out=ibis.literal(1, type="int64"))
    nodes = node_ids.left_join(pers, "node").left_join(srcs, "node")
    state = _materialize(
        con,
        nodes.select(
            node=nodes.node,
            p=nodes.p.fill_null(0.0),
            has_out=nodes.has_out.fill_null(0).cast("int64"),
            r=nodes.p.fill_null(0.0).cast("float64"),
        ),
        f"_ppr_s_{tag}_0",
    )
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        dmass = state.filter(state.has_out == 0).r.sum().fill_null(0.0)
        j = e.inner_join(state, e.src == state.node)
        flow = j.select(
            node=j.dst.cast("int64"),
            p=ibis.literal(0.0, type="float64"),
            has_out=ibis.literal(0, type="int64"),
            r=(damping * j.c * j.r).cast("float64"),
            r0=ibis.literal(0.0, type="float64"),
        )
        tele = state.select(
            node=state.node.cast("int64"),
            p=state.p.cast("float64"),
            has_out=state.has_out.cast("int64"),
            r=((damping * dmass + (1.0 - damping)) * state.p).cast("float64"),
            r0=state.r.cast("float64"),
        )
        u = ibis.union(flow, tele, distinct=False)
        new = u.group_by("node").aggregate(p=u.p.max(), has_out=u.has_out.max(), r=u.r.sum(), r0=u.r0.sum())
        new = _materialize(con, new, f"_ppr_s_{tag}_{it % 2}")
        delta = float((new.r - new.r0).abs().sum().execute())
        state = new.select("node", "p", "has_out", "r")
        if delta < tol:
            break
    return _materialize(con, state.select("node", "r"), f"_ppr_r_{tag}"), it


def seed_users(
    events: ir.Table,
    *,
    min_sellers: int = 2,
    min_days: int = 7,
    min_seeds: int = 10,
    fraction: float = 0.1,
    timezone: str = "UTC",
    commerce: ir.Table | None = None,
    min_creators: int = 2,
    day_column: str | None = None,
) -> tuple[ir.Table, str]:
    """The seed rule (see module doc). Returns ``(table user_id, rule name)``; rule ``commerce``
    or ``activity``. ``commerce``: the log's order/refund/complaint events, if already at hand.

    Active days are counted only for the users the kept-orders condition leaves (a semi-join), so
    the commerce rule touches the full log once, for a few users; the activity fallback counts
    everyone's days, among users whose events name at least ``min_creators`` distinct creators (an
    account active every day toward one creator only is what a sybil ring member looks like; capped
    at the number of creators in the log). ``day_column``: a column of ``events`` that already holds
    each event's local date in ``timezone`` (the store's ``day``), read instead of converting every
    timestamp through the calendar."""
    com = commerce if commerce is not None else events.filter(events.kind.isin(["order", "refund", "complaint"]))

    def days_of(ev: ir.Table) -> ir.Table:
        if day_column is not None:
            day = ev[day_column]
        else:
            day = (ev.ts.cast(ibis.dtype(f"timestamp('{timezone}')")) if timezone != "UTC" else ev.ts).date()
        return ev.mutate(_day=day).group_by("user_id").aggregate(active_days=ibis._._day.nunique())

    orders = com.filter((com.kind == "order") & com.order_id.notnull())
    bad = com.filter(com.kind.isin(["refund", "complaint"]) & com.order_id.notnull())
    bad_ids = bad.select(bad_order=bad.order_id).distinct()
    kept = orders.left_join(bad_ids, orders.order_id == bad_ids.bad_order)
    kept = kept.filter(kept.bad_order.isnull() & kept.creator_id.notnull() & kept.user_id.notnull())
    sellers = kept.group_by("user_id").aggregate(kept_sellers=kept.creator_id.nunique())
    cand = sellers.filter(sellers.kept_sellers >= min_sellers)
    cand_ids = cand.select("user_id").to_pyarrow()["user_id"]
    if len(cand_ids):
        ct = ibis.memtable(pa.table({"cand_user": cand_ids}))
        d = days_of(events.semi_join(ct, events.user_id == ct.cand_user))
        commerce_seeds = d.filter(d.active_days >= min_days).select("user_id")
        got = commerce_seeds.to_pyarrow()
        if got.num_rows >= min_seeds:
            return ibis.memtable(got.sort_by("user_id")), "commerce"
    users = events.filter(events.user_id.notnull())
    days = days_of(users)
    named = users.filter(users.creator_id.notnull())
    # (never more creators than the log has: with one creator, breadth cannot tell anyone apart)
    need = min(min_creators, int(named.creator_id.nunique().execute() or 0))
    spread = named.group_by("user_id").aggregate(n_creators=named.creator_id.nunique())
    spread = spread.filter(spread.n_creators >= need).select(broad_user=spread.user_id)
    days = days.inner_join(spread, days.user_id == spread.broad_user)
    # The fraction is of the eligible users, so accounts that fail the breadth test cannot move the cut.
    k = max(1, int(np.ceil(fraction * int(days.count().execute()))))
    ranked = days.filter(days.active_days >= 2).order_by([ibis.desc("active_days"), "user_id"]).limit(k)
    return ranked.select("user_id"), "activity"


class CreatorCredibility:
    """Personalized PageRank credibility of creators from seed users.

    Parameters: ``damping`` d (0.85, PageRank's usual value: a 15% chance per step to return to the
    seeds), ``tol`` and ``max_iter`` of the power iteration, ``seeds`` (user ids; ``None`` = the rule),
    the seed rule's ``seed_min_sellers``, ``seed_min_days``, ``seed_min_seeds``, ``seed_fraction``,
    ``seed_min_creators``, ``vouch_fraction`` (ε of r_ref, 0.1), and ``path`` ``"fast"`` (scipy) or ``"engine"`` (Ibis).
    Learned: ``credibility_`` (Arrow table), ``seeds_``, ``seed_rule_``, ``n_iter_``, ``r_ref_``.
    """

    def __init__(
        self,
        *,
        damping: float = 0.85,
        tol: float = 1e-12,
        max_iter: int = 1000,
        seeds: list[int] | None = None,
        seed_min_sellers: int = 2,
        seed_min_days: int = 7,
        seed_min_seeds: int = 10,
        seed_fraction: float = 0.1,
        seed_min_creators: int = 2,
        vouch_fraction: float = 0.1,
        path: str = "fast",
    ) -> None:
        self.damping = damping
        self.tol = tol
        self.max_iter = max_iter
        self.seeds = seeds
        self.seed_min_sellers = seed_min_sellers
        self.seed_min_days = seed_min_days
        self.seed_min_seeds = seed_min_seeds
        self.seed_fraction = seed_fraction
        self.seed_min_creators = seed_min_creators
        self.vouch_fraction = vouch_fraction
        self.path = path

    @staticmethod
    def edges(pair_trust: ir.Table) -> ir.Table:
        """EigenTrust local trust ``src, dst, weight = max(positive − negative, 0)`` (self-loops dropped)."""
        pt = pair_trust
        w = (pt.positive - pt.negative).clip(lower=0.0)
        e = pt.select(src=pt.user_id, dst=pt.creator_id, weight=w)
        return e.filter((e.weight > 0) & (e.src != e.dst))

    def pick_seeds(
        self,
        events: ir.Table | None,
        *,
        timezone: str = "UTC",
        commerce: ir.Table | None = None,
        day_column: str | None = None,
    ) -> tuple[np.ndarray, str]:
        """The seed users (sorted, unique) and the rule that chose them: ``"given"`` when ``seeds``
        was set, else :func:`seed_users` on ``events`` (one engine query or two)."""
        if self.seeds is not None:
            return np.unique(np.asarray(self.seeds, dtype=np.int64)), "given"
        if events is None:
            raise ValueError("events are needed to pick seeds by the rule (or pass seeds=)")
        st, rule = seed_users(
            events,
            min_sellers=self.seed_min_sellers,
            min_days=self.seed_min_days,
            min_seeds=self.seed_min_seeds,
            fraction=self.seed_fraction,
            timezone=timezone,
            commerce=commerce,
            min_creators=self.seed_min_creators,
            day_column=day_column,
        )
        return np.unique(st.to_pyarrow()["user_id"].to_numpy(zero_copy_only=False)).astype(np.int64), rule

    def fit(
        self,
        pair_trust: ir.Table | pa.Table,
        events: ir.Table | None = None,
        *,
        timezone: str = "UTC",
        con: BaseBackend | None = None,
        commerce: ir.Table | None = None,
        day_column: str | None = None,
        picked: tuple[np.ndarray, str] | None = None,
    ) -> CreatorCredibility:
        """Propagate over ``pair_trust`` (an Ibis table from :meth:`PairTrust.transform`, or its
        columns ``user_id, creator_id, positive, negative`` as an Arrow table in memory); ``events``
        is needed only when seeds come from the rule, ``con`` (the engine) only for ``path="engine"``,
        ``commerce`` (the log's commerce events) only to spare the seed rule a scan, ``day_column``
        (events' local date in ``timezone``, see :func:`seed_users`) only to spare it the calendar.
        ``picked``: the result of :meth:`pick_seeds` on the same log, computed earlier (``build``
        runs the seed rule beside its evidence pass); with it and an Arrow ``pair_trust`` the fast
        path makes no engine call."""
        if self.path not in ("fast", "engine"):
            raise ValueError(f"path must be 'fast' or 'engine', not {self.path!r}")
        if self.path == "engine" and con is None:
            raise ValueError("the engine path runs on a connection: pass con=")
        seeds, self.seed_rule_ = picked if picked is not None else self.pick_seeds(
            events, timezone=timezone, commerce=commerce, day_column=day_column)
        self.seeds_ = seeds
        if isinstance(pair_trust, pa.Table):  # in memory already: the same edges without an engine query
            ea, creators = _edges_arrow(pair_trust), pa.chunked_array([np.unique(pair_trust["creator_id"].to_numpy())])
            edges = ibis.memtable(ea) if self.path == "engine" else None
        else:
            edges = self.edges(pair_trust)
            ea = edges.to_pyarrow()
            creators = pair_trust.select("creator_id").distinct().to_pyarrow()["creator_id"]
        if len(seeds) == 0:
            # No seeds: nothing is pre-trusted, so nobody has credibility (all zero, said so).
            self.n_iter_ = 0
            zeros = np.zeros(len(creators))
            self.credibility_ = _table(creators.to_numpy(zero_copy_only=False), zeros, zeros, ea, seeds)
            return self
        if self.path == "fast":
            nodes, r, self.n_iter_ = personalized_pagerank(
                ea["src"].to_numpy(zero_copy_only=False),
                ea["dst"].to_numpy(zero_copy_only=False),
                ea["weight"].to_numpy(zero_copy_only=False),
                dict.fromkeys(seeds.tolist(), 1.0),
                damping=self.damping,
                tol=self.tol,
                max_iter=self.max_iter,
            )
        else:
            pers = ibis.memtable(pa.table({"node": pa.array(seeds, pa.int64()), "p": np.ones(len(seeds))}))
            res, self.n_iter_ = personalized_pagerank_engine(
                con, edges, pers, damping=self.damping, tol=max(self.tol, 1e-10), max_iter=self.max_iter
            )
            ra = res.to_pyarrow()
            order = np.argsort(ra["node"].to_numpy(zero_copy_only=False))
            nodes = ra["node"].to_numpy(zero_copy_only=False)[order]
            r = ra["r"].to_numpy(zero_copy_only=False)[order]
        cid = np.sort(creators.to_numpy(zero_copy_only=False).astype(np.int64))
        pos = np.searchsorted(nodes, cid)
        found = (pos < len(nodes)) & (nodes[np.minimum(pos, len(nodes) - 1)] == cid) if len(nodes) else np.zeros(
            len(cid), bool
        )
        vals = np.where(found, r[np.minimum(pos, max(len(nodes) - 1, 0))] if len(nodes) else 0.0, 0.0)
        # r_ref: a tenth of the teleport mass one seed receives, so any truster the propagation reached
        # with a seed-like share counts fully and one it barely reached counts little.
        self.r_ref_ = self.vouch_fraction * (1.0 - self.damping) / len(seeds)
        vouched = vouched_trust(
            ea["src"].to_numpy(zero_copy_only=False), ea["dst"].to_numpy(zero_copy_only=False),
            nodes, r, self.r_ref_, cid,
        )
        self.credibility_ = _table(cid, vals, vouched, ea, seeds)
        self.node_ids_, self.node_rank_ = nodes, r
        return self


def _edges_arrow(pair_trust: pa.Table) -> pa.Table:
    """:meth:`CreatorCredibility.edges` of an in-memory ``pair_trust`` (``src, dst, weight``): the same
    ``max(positive − negative, 0)``, positive weights only, self-loops dropped."""
    src, dst = pair_trust["user_id"].to_numpy(), pair_trust["creator_id"].to_numpy()
    w = np.maximum(pair_trust["positive"].to_numpy() - pair_trust["negative"].to_numpy(), 0.0)
    keep = (w > 0) & (src != dst)
    return pa.table({"src": pa.array(src[keep], pa.int64()), "dst": pa.array(dst[keep], pa.int64()),
                     "weight": pa.array(w[keep], pa.float64())})


def vouched_trust(
    src: np.ndarray, dst: np.ndarray, node_ids: np.ndarray, r: np.ndarray, r_ref: float, targets: np.ndarray
) -> np.ndarray:
    """``V(c) = Σ_{u → c} min(1, r_u / r_ref)``: trusters of c counted up to one each, in proportion to
    their own propagated credibility. ``node_ids`` sorted, aligned with ``r``; returns V per target."""
    v = np.zeros(len(targets))
    if len(src) == 0 or len(node_ids) == 0:
        return v
    ps = np.searchsorted(node_ids, src)
    ok = (ps < len(node_ids)) & (node_ids[np.minimum(ps, len(node_ids) - 1)] == src)
    w = np.where(ok, np.minimum(1.0, r[np.minimum(ps, len(node_ids) - 1)] / r_ref), 0.0)
    pt = np.searchsorted(targets, dst)
    hit = (pt < len(targets)) & (targets[np.minimum(pt, len(targets) - 1)] == dst)
    np.add.at(v, pt[hit], w[hit])
    return v


def tie_key(x: np.ndarray, digits: int = 12) -> np.ndarray:
    """``x`` rounded to ``digits`` significant digits, for ranking: values equal to that precision
    rank as ties. Floating-point sums made in parallel (DuckDB, Spark) differ between runs of the same
    log in their last bits (measured: ≤ 3e-14 absolute on pair trust sums, 4e-15 on credibility), and
    an order decided by those bits is noise. Rounding cannot make every tie stable — two values either
    side of a rounding boundary stay apart — but with noise ≈ 1e-15 against a step of 1e-12 that
    befalls about one tied value in a thousand, where without it the noise decides every tie."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.floor(np.log10(np.abs(x)))
    e = np.where(np.isfinite(e), e, 0.0)
    scale = 10.0 ** (digits - 1 - e)
    return np.where(np.isfinite(x) & (x != 0), np.round(x * scale) / scale, x)


def _table(
    creator_ids: np.ndarray, ppr: np.ndarray, vouched: np.ndarray, ea: pa.Table, seeds: np.ndarray
) -> pa.Table:
    """creator_id, credibility (vouched trust V), ppr (propagated mass), score (percentile among
    creators by V then ppr, ties averaged), rank (1 = most credible), in_degree (trusters with a positive
    edge), seed_trusters (of them, seeds), is_seed."""
    order = np.argsort(creator_ids)
    cid = creator_ids[order].astype(np.int64)
    val, mass = vouched[order].astype(float), ppr[order].astype(float)
    src = ea["src"].to_numpy(zero_copy_only=False)
    dst = ea["dst"].to_numpy(zero_copy_only=False)
    indeg = np.zeros(len(cid), np.int64)
    seed_in = np.zeros(len(cid), np.int64)
    if len(dst) and len(cid):
        pos = np.searchsorted(cid, dst)
        ok = (pos < len(cid)) & (cid[np.minimum(pos, len(cid) - 1)] == dst)
        np.add.at(indeg, pos[ok], 1)
        np.add.at(seed_in, pos[ok & np.isin(src, seeds)], 1)
    n = len(cid)
    # Rank by V; the propagated mass breaks ties (it orders creators no credible truster reached).
    # Both compared at 12 significant digits (tie_key): V and the mass come from pair trust that the
    # engine sums in parallel, so two builds of one log can differ in the last bits (≈ 1e-15), and
    # creators tied in exact arithmetic must not be ordered by that noise.
    key = rankdata(tie_key(val), method="dense") + (rankdata(tie_key(mass), method="average") / (n + 1) if n else 0)
    score = (rankdata(key, method="average") - 1) / (n - 1) if n > 1 else np.full(n, 0.5)
    rank = rankdata(-key, method="min").astype(np.int64) if n else np.empty(0, np.int64)
    return pa.table(
        {
            "creator_id": pa.array(cid, pa.int64()),
            "credibility": pa.array(val, pa.float64()),
            "ppr": pa.array(mass, pa.float64()),
            "score": pa.array(score, pa.float64()),
            "rank": pa.array(rank, pa.int64()),
            "in_degree": pa.array(indeg, pa.int64()),
            "seed_trusters": pa.array(seed_in, pa.int64()),
            "is_seed": pa.array(np.isin(cid, seeds), pa.bool_()),
        }
    )
