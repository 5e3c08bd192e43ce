"""CreatorCredibility: personalized PageRank against networkx and igraph, fast == engine, sybils."""

from __future__ import annotations

import ibis
import networkx as nx
import numpy as np
import pyarrow as pa
import pytest
from test_trust_helpers import Log, at

from trustecon.trust.credibility import (
    CreatorCredibility,
    personalized_pagerank,
    personalized_pagerank_engine,
    personalized_pagerank_reference,
    seed_users,
)

#: The fast path (block Gauss–Seidel on counting-sorted CSR parts) and the plain power iteration on
#: one scipy matrix: every known answer below is checked on both.
BOTH = pytest.mark.parametrize("ppr", [personalized_pagerank, personalized_pagerank_reference], ids=["fast", "ref"])


def _random_graph(seed: int, n: int = 40, m: int = 160):
    rng = np.random.default_rng(seed)
    src, dst, w = rng.integers(0, n, m), rng.integers(0, n, m), rng.random(m)
    keep = src != dst
    return src[keep], dst[keep], w[keep]


@BOTH
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_networkx_personalized_pagerank(ppr, seed) -> None:
    src, dst, w = _random_graph(seed)
    pers = {0: 1.0, 3: 1.0, 5: 2.0}
    nodes, r, _ = ppr(src, dst, w, pers)
    g = nx.DiGraph()
    g.add_nodes_from(nodes.tolist())
    for a, b, c in zip(src.tolist(), dst.tolist(), w.tolist(), strict=True):
        g.add_edge(a, b, weight=g[a][b]["weight"] + c if g.has_edge(a, b) else c)
    p = {v: pers.get(v, 0.0) for v in g}
    ref = nx.pagerank(g, alpha=0.85, personalization=p, dangling=p, tol=1e-15, max_iter=10_000)
    assert max(abs(ref[v] - x) for v, x in zip(nodes.tolist(), r, strict=True)) < 1e-10
    assert r.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cores", [2, 3, 8])
def test_edge_parts_on_threads_equal_one_matrix(monkeypatch, cores) -> None:
    """The threaded path (one CSR per part of the edge list, duplicate edges included) gives the
    one-matrix answer in the same number of sweeps."""
    from trustecon.trust import propagation

    src, dst, w = _random_graph(5, n=300, m=3000)
    src, dst, w = np.concatenate([src, src[:50]]), np.concatenate([dst, dst[:50]]), np.concatenate([w, w[:50]])
    pers = {1: 1.0, 7: 3.0}
    nodes, ref, it_ref = personalized_pagerank(src, dst, w, pers)
    monkeypatch.setattr(propagation, "PARALLEL_MIN_EDGES", 0)
    monkeypatch.setattr(propagation.os, "cpu_count", lambda: cores)
    nodes2, r, it = personalized_pagerank(src, dst, w, pers)
    assert np.array_equal(nodes, nodes2) and it == it_ref
    assert np.max(np.abs(r - ref)) < 1e-15


@BOTH
def test_matches_igraph_prpack_without_dangling_nodes(ppr) -> None:
    igraph = pytest.importorskip("igraph")
    # A ring plus chords: every node has an out-edge, so dangling handling cannot differ.
    n = 12
    edges = [(i, (i + 1) % n) for i in range(n)] + [(i, (i * 5 + 2) % n) for i in range(n) if (i * 5 + 2) % n != i]
    w = [1.0 + (i % 3) for i in range(len(edges))]
    g = igraph.Graph(n=n, edges=edges, directed=True)
    ref = g.personalized_pagerank(damping=0.85, reset_vertices=[0, 4], weights=w, implementation="prpack")
    src, dst = np.array([e[0] for e in edges]), np.array([e[1] for e in edges])
    _, r, _ = ppr(src, dst, np.array(w), {0: 1.0, 4: 1.0})
    assert np.max(np.abs(np.array(ref) - r)) < 1e-9


@BOTH
def test_star_known_answer(ppr) -> None:
    """Seeds 0..9 each trust creator 100 (weights 1 and 3 to creator 101 for seed 0); creators have no
    out-edges, so their mass returns to the seeds. With s the mass of a seed other than 0 and t = 0's:
    r_100 = 0.85 (9 s + t/4), r_101 = 0.85 · 3t/4, and every seed gets (0.85 (r_100 + r_101) + 0.15)/10."""
    src = np.array([0, 0, *range(1, 10)])
    dst = np.array([100, 101, *[100] * 9])
    w = np.array([1.0, 3.0, *[2.0] * 9])
    nodes, r, _ = ppr(src, dst, w, dict.fromkeys(range(10), 1.0), tol=1e-14)
    got = dict(zip(nodes.tolist(), r.tolist(), strict=True))
    # Each seed: r_seed = (0.85 · (r_100 + r_101) + 0.15) / 10 = 1 / (10 + 8.5) (creators hold 0.85 · seeds).
    seed = 1 / (10 + 0.85 * 10)
    assert got[3] == pytest.approx(seed, abs=1e-13) and got[0] == pytest.approx(seed, abs=1e-13)
    assert got[100] == pytest.approx(0.85 * (9 * seed + seed / 4), abs=1e-13)
    assert got[101] == pytest.approx(0.85 * 3 * seed / 4, abs=1e-13)
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-13)


@pytest.mark.parametrize("blocks", [1, 3, 16, 1000])
@pytest.mark.parametrize("seed", [6, 7])
def test_fast_path_equals_reference(monkeypatch, blocks, seed) -> None:
    """Duplicate edges, zero and negative weights, dangling nodes, ids not 0..n−1, given nodes, an
    array personalization: the fast path (any number of Gauss–Seidel blocks, threaded or not) and the
    reference agree."""
    from trustecon.trust import propagation

    rng = np.random.default_rng(seed)
    n, m = 200, 1500
    src, dst = rng.integers(0, n, m) * 3 + 5, rng.integers(0, n // 2, m) * 3 + 5  # half the nodes dangle
    w = rng.random(m)
    w[:40] = 0.0
    w[40:60] = -1.0
    src, dst, w = np.concatenate([src, src[:100]]), np.concatenate([dst, dst[:100]]), np.concatenate([w, w[:100]])
    pers = {5: 1.0, 11: 2.0, 3 * 150 + 5: 0.5}
    nodes, ref, _ = personalized_pagerank_reference(src, dst, w, pers, tol=1e-14)
    monkeypatch.setattr(propagation, "GS_BLOCKS", blocks)
    for cores in (1, 2):
        monkeypatch.setattr(propagation, "PARALLEL_MIN_EDGES", 0 if cores > 1 else 10**9)
        monkeypatch.setattr(propagation.os, "cpu_count", lambda c=cores: c)
        nodes2, r, _ = personalized_pagerank(src, dst, w, pers, tol=1e-14)
        assert np.array_equal(nodes, nodes2)
        assert np.max(np.abs(r - ref)) < 1e-13 and r.sum() == pytest.approx(1.0, abs=1e-13)
        all_nodes = np.arange(0, 3 * n + 10)
        arr = np.zeros(len(all_nodes))
        arr[[5, 11, 455]] = [1.0, 2.0, 0.5]
        nodes3, r3, _ = personalized_pagerank(src, dst, w, arr, nodes=all_nodes, tol=1e-14)
        _, ref3, _ = personalized_pagerank_reference(src, dst, w, arr, nodes=all_nodes, tol=1e-14)
        assert np.max(np.abs(r3 - ref3)) < 1e-13
        assert np.max(np.abs(r3[np.searchsorted(all_nodes, nodes)] - r)) < 1e-13


def test_counting_sort_csr_equals_summed_matrix() -> None:
    """The counting-sort CSR keeps repeated (row, col) entries apart, unsorted: the same matrix as
    scipy's summed conversion, so the same products."""
    import scipy.sparse as sp

    from trustecon.trust.propagation import _grouped_csr

    rng = np.random.default_rng(3)
    rows, cols, vals = rng.integers(0, 50, 800), rng.integers(0, 50, 800), rng.random(800)
    a = _grouped_csr(rows, cols, vals, 50)
    b = sp.csr_matrix((vals, (rows, cols)), shape=(50, 50))
    assert a.nnz == 800 and np.allclose(a.toarray(), b.toarray(), rtol=0, atol=1e-14)
    x = rng.random(50)
    assert np.max(np.abs(a @ x - b @ x)) < 1e-13


def test_public_csr_fallback_gives_the_same_ranks(monkeypatch) -> None:
    """Without scipy's private ``coo_tocsr`` (a scipy that drops it) the public conversion serves, with
    the same scores: the private call is a speed choice, never a correctness one."""
    import trustecon.trust.propagation as prop

    rng = np.random.default_rng(5)
    src, dst = rng.integers(0, 300, 3000), rng.integers(0, 300, 3000)
    w = rng.random(3000)
    seeds = {s: 1.0 for s in range(10)}
    nodes, fast, _ = personalized_pagerank(src, dst, w, seeds, tol=1e-13)
    monkeypatch.setattr(prop, "_coo_tocsr", None)
    nodes2, public, _ = personalized_pagerank(src, dst, w, seeds, tol=1e-13)
    assert np.array_equal(nodes, nodes2) and np.max(np.abs(fast - public)) < 1e-12


def test_fast_path_equals_engine_path(duck_con) -> None:
    for seed in (2, 3):
        src, dst, w = _random_graph(seed, n=30, m=100)
        nodes, r, _ = personalized_pagerank(src, dst, w, {1: 1.0, 2: 3.0})
        e = ibis.memtable(pa.table({"src": src, "dst": dst, "weight": w}))
        p = ibis.memtable(pa.table({"node": np.array([1, 2], np.int64), "p": [1.0, 3.0]}))
        res, _ = personalized_pagerank_engine(duck_con, e, p)
        got = dict(zip(*(res.to_pyarrow()[k].to_pylist() for k in ("node", "r")), strict=True))
        assert max(abs(got[v] - x) for v, x in zip(nodes.tolist(), r, strict=True)) < 1e-6


def test_engine_path_through_the_model(duck_con) -> None:
    edges = [(u, 100 + (u * 7) % 5, 1.0 + u % 3) for u in range(30)] + [(100, 101, 2.0), (102, 100, 1.0)]
    fast = CreatorCredibility(seeds=list(range(0, 30, 3))).fit(_pairs(edges)).credibility_
    eng = CreatorCredibility(seeds=list(range(0, 30, 3)), path="engine").fit(_pairs(edges), con=duck_con)
    a, b = fast.to_pydict(), eng.credibility_.to_pydict()
    assert a["creator_id"] == b["creator_id"] and a["credibility"] == b["credibility"]
    assert max(abs(x - y) for x, y in zip(a["ppr"], b["ppr"], strict=True)) < 1e-6
    with pytest.raises(ValueError, match="con="):
        CreatorCredibility(seeds=[1], path="engine").fit(_pairs(edges))


def _pairs(edges: list[tuple[int, int, float]]) -> ibis.Table:
    return ibis.memtable(
        pa.table(
            {
                "user_id": pa.array([e[0] for e in edges], pa.int64()),
                "creator_id": pa.array([e[1] for e in edges], pa.int64()),
                "trust": [0.8] * len(edges),
                "positive": [e[2] for e in edges],
                "negative": [0.0] * len(edges),
            }
        )
    )


def test_sybil_ring_buys_nothing() -> None:
    # 20 honest users (seeds) split their trust over creators 100 (12 fans) and 101 (8 fans).
    honest = [(u, 100 if u < 12 else 101, 5.0) for u in range(20)]
    seeds = list(range(20))
    clean = CreatorCredibility(seeds=seeds).fit(_pairs(honest)).credibility_.to_pylist()
    # 200 fake accounts, trusting creator 101 heavily and each other: more in-degree than anyone.
    ring = [(1000 + i, 101, 50.0) for i in range(200)] + [(1000 + i, 1000 + (i + 1) % 200, 50.0) for i in range(200)]
    attacked = CreatorCredibility(seeds=seeds).fit(_pairs(honest + ring)).credibility_
    a = {r["creator_id"]: r for r in attacked.to_pylist()}
    c = {r["creator_id"]: r for r in clean}
    assert a[101]["ppr"] == pytest.approx(c[101]["ppr"], abs=1e-12)
    assert (a[101]["credibility"], c[101]["credibility"]) == (8.0, 8.0)  # the ring vouches for nothing
    assert c[100]["credibility"] == 12.0  # every seed is reached with more than r_ref: counts 1
    assert a[100]["rank"] == 1 and a[101]["in_degree"] == 208  # in-degree would rank 101 first
    # Hand answer: each seed's teleport mass (0.15/20) flows one step to its creator; creators have no
    # out-edges, so their mass returns to the seeds. Stationary: r_creator = 0.85 · Σ fans' r.
    # With s = mass per seed, 20 s + r100 + r101 = 1, r100 = 0.85·12 s, r101 = 0.85·8 s.
    s = 1 / (20 + 0.85 * 20)
    assert c[100]["ppr"] == pytest.approx(0.85 * 12 * s, abs=1e-10)
    assert c[101]["ppr"] == pytest.approx(0.85 * 8 * s, abs=1e-10)


def test_vouched_trust_known_answer() -> None:
    # Seeds 1, 2; 1 → 3 → 4; 5 (unreached) → 4. r_ref = 0.1 · 0.15 / 2.
    from trustecon.trust.credibility import vouched_trust

    src, dst = np.array([1, 3, 5]), np.array([3, 4, 4])
    nodes, r, _ = personalized_pagerank(src, dst, np.ones(3), {1: 1.0, 2: 1.0}, nodes=np.arange(1, 6))
    r_ref = 0.1 * 0.15 / 2
    v = vouched_trust(src, dst, nodes, r, r_ref, np.array([3, 4]))
    assert r[4] == 0.0  # node 5 is never reached
    assert v[0] == 1.0  # the seed 1 counts fully
    assert v[1] == pytest.approx(min(1.0, r[2] / r_ref))  # node 3 by its own rank; node 5 adds 0


def test_seed_rule_commerce_then_activity(duck_con) -> None:
    log = Log()
    for u in range(1, 13):  # 12 buyers who kept orders from two creators over 8 days
        for d in range(8):
            log.add("like", at(d), user_id=u, creator_id=100)
        log.add("order", at(1), user_id=u, creator_id=100, order_id=u, amount=1.0)
        log.add("order", at(2), user_id=u, creator_id=101, order_id=100 + u, amount=1.0)
    log.add("refund", at(3), order_id=101, amount=1.0)  # user 1's second order is refunded: one seller kept
    seeds, rule = seed_users(ibis.memtable(log.table()), min_seeds=10)
    got = sorted(seeds.to_pyarrow()["user_id"].to_pylist())
    assert rule == "commerce" and got == list(range(2, 13))
    seeds, rule = seed_users(ibis.memtable(log.table()), min_seeds=50, fraction=0.25)
    assert rule == "activity" and len(seeds.to_pyarrow()) == 3


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai"])
def test_seed_rule_reads_the_stored_local_day(duck_con, tz) -> None:
    """With ``day_column`` (the store's local date) the seed rule counts the same active days as from
    the timestamps in ``tz``: events at 20:00 UTC fall on the next day in Shanghai."""
    import zoneinfo

    log = Log()
    for u in range(1, 13):
        for d in range(8 if u % 2 else 4):  # even users: 4 days, 8 events that straddle midnight in Shanghai
            log.add("like", at(d + 0.35), user_id=u, creator_id=100)
            log.add("like", at(d + 0.85), user_id=u, creator_id=100)
        log.add("order", at(1), user_id=u, creator_id=100, order_id=u, amount=1.0)
        log.add("order", at(2), user_id=u, creator_id=101, order_id=100 + u, amount=1.0)
    t = log.table()
    z = zoneinfo.ZoneInfo(tz)
    t = t.append_column("day", pa.array([ts.astimezone(z).date() for ts in t["ts"].to_pylist()], pa.date32()))
    for kw in ({"min_seeds": 1, "min_days": 7}, {"min_seeds": 50, "fraction": 0.5}):
        a, ra = seed_users(ibis.memtable(t), timezone=tz, **kw)
        b, rb = seed_users(ibis.memtable(t), timezone=tz, day_column="day", **kw)
        assert ra == rb
        assert sorted(a.to_pyarrow()["user_id"].to_pylist()) == sorted(b.to_pyarrow()["user_id"].to_pylist())
    # In Shanghai the even users' 4 UTC days span 5 local days (8 for the odd users, 9 local).
    need = 5 if tz != "UTC" else 4
    seeds, _ = seed_users(ibis.memtable(t), timezone=tz, day_column="day", min_seeds=1, min_days=need)
    assert len(seeds.to_pyarrow()) == 12


def test_no_seeds_gives_zero_not_nan() -> None:
    cred = CreatorCredibility(seeds=[]).fit(_pairs([(1, 100, 1.0)])).credibility_
    assert cred["credibility"].to_pylist() == [0.0]


def test_activity_seeds_skip_single_creator_accounts(duck_con) -> None:
    """No commerce: the activity rule picks the longest-active users, but not accounts that only ever
    engage one creator (a sybil ring member's footprint), however active."""
    log = Log()
    for u in range(1, 21):  # ordinary users: 3 active days, two creators
        for d in range(3):
            log.add("view", at(d), user_id=u, creator_id=100 + d % 2, content_id=1, watch_ms=5, duration_ms=10)
    for u in range(500, 505):  # ring accounts: active all 10 days, one target
        for d in range(10):
            log.add("like", at(d), user_id=u, creator_id=200)
    seeds, rule = seed_users(ibis.memtable(log.table()), min_seeds=10, fraction=0.2)
    got = seeds.to_pyarrow()["user_id"].to_pylist()
    # 20 % of the 20 eligible (two-creator) users; the ring accounts neither qualify nor move the cut
    assert rule == "activity" and len(got) == 4 and not set(got) & set(range(500, 505))
    seeds, _ = seed_users(ibis.memtable(log.table()), min_seeds=10, fraction=0.2, min_creators=1)
    assert set(seeds.to_pyarrow()["user_id"].to_pylist()) == set(range(500, 505))  # without the filter they win


def test_arrow_pair_trust_equals_ibis_pair_trust(duck_con) -> None:
    """``fit`` on an in-memory Arrow ``pair_trust`` (what ``build`` passes) builds the same edges as
    on the Ibis table — negative net evidence and self-loops dropped — so the same credibility, on
    both paths."""
    rng = np.random.default_rng(5)
    n = 200
    t = pa.table({"user_id": rng.integers(0, 40, n), "creator_id": rng.integers(0, 12, n),
                  "positive": rng.random(n) * 3, "negative": rng.random(n) * np.where(rng.random(n) < 0.3, 5, 0.5)})
    assert ((t["positive"].to_numpy() <= t["negative"].to_numpy()).any()
            and (t["user_id"].to_numpy() == t["creator_id"].to_numpy()).any())
    for path in ("fast", "engine"):
        a = CreatorCredibility(seeds=[1, 2, 3, 5, 8], path=path).fit(ibis.memtable(t), con=duck_con).credibility_
        b = CreatorCredibility(seeds=[1, 2, 3, 5, 8], path=path).fit(t, con=duck_con).credibility_
        assert a.column_names == b.column_names
        for c in a.column_names:
            x, y = a[c].to_pylist(), b[c].to_pylist()
            if pa.types.is_floating(a.schema.field(c).type):
                assert np.allclose(x, y, rtol=1e-12, atol=1e-15), c
            else:
                assert x == y, c


def test_ranks_ignore_the_last_bits_of_parallel_sums() -> None:
    # Two builds of one log differ in the last bits of their float sums (the engine adds in parallel;
    # measured ≤ 4e-15 on credibility): creators tied in exact arithmetic must rank as ties whatever
    # those bits say, and values that really differ must still be ordered.
    from trustecon.trust.credibility import _table, tie_key

    assert tie_key(np.array([0.1 + 0.2, 0.3, 0.0, -2.5e-7 * (1 + 1e-15), np.nan]))[:4].tolist() == [
        0.3, 0.3, 0.0, -2.5e-7
    ]
    assert tie_key(np.array([1.0, 1.0 + 1e-10]))[1] > 1.0  # a real difference (1e-10) survives
    ea = pa.table({"src": pa.array([], pa.int64()), "dst": pa.array([], pa.int64())})
    cid = np.array([10, 11, 12, 13])
    for noise in (0.0, 4e-15, -4e-15):
        v = np.array([2.0, 2.0 + noise, 1.0, 2.0 + 1e-9])
        t = _table(cid, np.full(4, 0.25), v, ea, np.array([], np.int64)).to_pydict()
        # 13 is first (V larger by 1e-9); 10 and 11 tie for second whatever the noise; 12 last.
        assert dict(zip(t["creator_id"], t["rank"], strict=True)) == {13: 1, 10: 2, 11: 2, 12: 4}
        assert dict(zip(t["creator_id"], t["score"], strict=True)) == pytest.approx(
            {13: 1.0, 10: 0.5, 11: 0.5, 12: 0.0})
