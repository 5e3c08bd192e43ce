"""``build``'s in-memory path on DuckDB (``trustecon.trust.pivot`` + ``PairTrust.score``) against the
engine path it replaces (``PairTrust.transform``: ``pair_pass`` → ``evidence_sums`` → beta score):
the same pairs, every integer and sum equal, scores within 1e-12."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_helpers import Log, at, event_logs, events_table

from trustecon.store import Workspace
from trustecon.trust.evidence import commerce_log, kind_pass, live_spans, repurchase_sums, side_sums
from trustecon.trust.pair import PairTrust
from trustecon.trust.pivot import fetch_chunks, merge_side, pivot_kind_pass

AS_OF = at(30)
KEY = [("user_id", "ascending"), ("creator_id", "ascending")]


def _in_memory(con, events, model: PairTrust, as_of=AS_OF) -> pa.Table:
    com, spans = commerce_log(events), live_spans(events, as_of)
    arrays = pivot_kind_pass(fetch_chunks(con, kind_pass(events, as_of, model.config)))
    side = con.to_pyarrow(side_sums(com, spans, as_of, model.config))
    rep = con.to_pyarrow(repurchase_sums(com, as_of, model.config))
    return model.score(merge_side(arrays, side, rep), as_of)


def _assert_same(con, rows, model: PairTrust, as_of=AS_OF) -> pa.Table:
    events = ibis.memtable(events_table(rows))
    want = con.to_pyarrow(model.transform(events, as_of)).sort_by(KEY)
    got = _in_memory(con, events, model, as_of).sort_by(KEY)
    assert got.schema == want.schema
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        a, b = got[name], want[name]
        assert a.null_count == b.null_count, name
        if pa.types.is_floating(b.type):
            x, y = a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False)
            # Sums are bit-equal; the scores differ at most by rounding of the per-user pooled sums.
            exact = name.startswith("e_") or name.endswith("_s")
            np.testing.assert_allclose(x, y, rtol=0 if exact else 1e-12, atol=0, err_msg=name)
        else:
            assert a.to_pylist() == b.to_pylist(), name
    return got


def _extra_rows(draw: st.DrawFn) -> list[dict]:
    """What event_logs lacks: self-pairs (a creator acting on their own content) and refunds or
    complaints naming a pair of their own (a pair with no other evidence: appended by the merge)."""
    rows = []
    for i in range(draw(st.integers(0, 4))):
        day = draw(st.integers(0, 40))
        kind = draw(st.sampled_from(["like", "view", "refund", "complaint", "order"]))
        u = draw(st.sampled_from([10, 11, 4]))
        c = draw(st.sampled_from([10, 11])) if kind in ("like", "view", "order") else draw(st.sampled_from([11, 12]))
        row = {"event_id": f"x{i}", "ts": at(day), "kind": kind, "user_id": u, "creator_id": c}
        if kind == "view":
            row.update(content_id=1, duration_ms=1000, watch_ms=draw(st.integers(0, 1500)))
        elif kind in ("refund", "complaint", "order"):
            row.update(order_id=5000 + i, amount=3.0 if kind != "complaint" else None)
        rows.append(row)
    return rows


@st.composite
def logs(draw: st.DrawFn) -> list[dict]:
    return draw(event_logs(24, no_ratio_views=True)) + _extra_rows(draw)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(), user_prior=st.booleans(), fitted=st.booleans(), seed=st.integers(0, 2**16))
def test_in_memory_pair_trust_equals_engine(duck_con, rows, user_prior, fitted, seed) -> None:
    model = PairTrust(user_prior=user_prior)
    if fitted:  # any non-negative weights and prior (what fit may learn)
        rng = np.random.default_rng(seed)
        model.weights_ = {c: float(rng.uniform(0, 5)) for c in model.weights}
        model.prior_alpha_, model.prior_beta_ = float(rng.uniform(0.1, 5)), float(rng.uniform(0.1, 5))
    _assert_same(duck_con, rows, model)


def test_known_merge_cases(duck_con) -> None:
    """By hand: a self-pair is dropped; a refund naming its own pair appends that pair (n_events 1,
    only e_refund); a pair seen only through views without a ratio has no evidence and is dropped;
    a repurchase lands on its pair."""
    log = Log()
    log.add("like", at(1), user_id=10, creator_id=10)  # self-pair
    log.add("view", at(1), user_id=1, creator_id=11, content_id=1, duration_ms=0, watch_ms=5)  # no ratio
    log.add("refund", at(2), user_id=2, creator_id=12, order_id=77, amount=1.0)  # its own pair
    log.add("order", at(3), user_id=3, creator_id=10, order_id=1, amount=10.0)
    log.add("order", at(5), user_id=3, creator_id=10, order_id=2, amount=10.0)
    got = _assert_same(duck_con, log.rows, PairTrust())
    rows = {(r["user_id"], r["creator_id"]): r for r in got.to_pylist()}
    assert set(rows) == {(2, 12), (3, 10)}
    h = 30 * 86_400.0
    assert rows[(2, 12)]["n_events"] == 1 and rows[(2, 12)]["e_refund"] == pytest.approx(2 ** (-28 * 86_400.0 / h))
    assert rows[(3, 10)]["e_repurchase"] == pytest.approx(2 ** (-25 * 86_400.0 / h))
    assert rows[(3, 10)]["first_order_s"] == pytest.approx(at(3).timestamp())


def test_build_on_duckdb_writes_the_engine_table(tmp_path, duck_con) -> None:
    """``build`` (in-memory path) writes the pair_trust table the engine path computes."""
    from trustecon.trust.build import build

    log = Log()
    for u in range(1, 6):
        for d in range(6):
            log.add("view", at(d), user_id=u, creator_id=10 + u % 2, content_id=d, watch_ms=700 * u, duration_ms=3000)
        log.add("order", at(2), user_id=u, creator_id=10, order_id=100 + u, amount=20.0 * u)
        log.add("live_enter", at(3), user_id=u, creator_id=11, session_id=9)
        log.add("live_leave", at(3.01), user_id=u, creator_id=11, session_id=9)
    log.add("refund", at(4), order_id=101, amount=20.0)
    ws = Workspace.init(tmp_path / "ws")
    ws.append(log.table())
    res = build(ws)
    got = ws.read_table("pair_trust").sort_by(KEY)
    want = duck_con.to_pyarrow(PairTrust().transform(ibis.memtable(log.table()), res.as_of)).sort_by(KEY)
    assert got.column_names == want.column_names and got.num_rows == want.num_rows == 10
    for name in want.column_names:
        if pa.types.is_floating(want[name].type):
            np.testing.assert_allclose(got[name].to_numpy(zero_copy_only=False),
                                       want[name].to_numpy(zero_copy_only=False), rtol=1e-12, err_msg=name)
        else:
            assert got[name].to_pylist() == want[name].to_pylist(), name


@pytest.mark.parametrize("shift", [-7, 2**31, 2**40])
def test_any_int64_ids(duck_con, shift) -> None:
    """Ids outside 31 bits (negative, ≥ 2³¹) take the two-level pair index: still the engine's table,
    with an appended refund-only pair, a repurchase and live minutes."""
    log = Log()
    for i, (u, c, kind) in enumerate([(1, 2, "like"), (1, 2, "view"), (3, 2, "order"), (1, 4, "impression"),
                                      (3, 4, "view"), (3, 2, "order"), (4, 1, "order")]):
        log.add(kind, at(i), user_id=u * shift, creator_id=c + shift, watch_ms=300 * i, duration_ms=1000,
                order_id=i if kind == "order" else None, amount=9.0 if kind == "order" else None)
    log.add("refund", at(8), user_id=5 * shift, creator_id=6 + shift, order_id=99, amount=1.0)
    log.add("live_enter", at(9), user_id=1 * shift, creator_id=2 + shift, session_id=3)
    log.add("live_leave", at(9.1), user_id=1 * shift, creator_id=2 + shift, session_id=3)
    for user_prior in (False, True):
        got = _assert_same(duck_con, log.rows, PairTrust(user_prior=user_prior))
        assert got.num_rows == 6  # (1,2) (3,2) (1,4) (3,4) (4,1) and the refund-only (5,6)


def test_hugepage_hints_off_restores_numpy_setting() -> None:
    """The build switches numpy's huge-page hint off only for its own duration, even when it fails."""
    mod = pytest.importorskip("numpy._core.multiarray", reason="numpy >= 2 exposes the runtime toggle here")
    from trustecon.trust.pivot import hugepage_hints_off

    before = mod._get_madvise_hugepage()
    for start in (True, False):
        mod._set_madvise_hugepage(start)
        with pytest.raises(RuntimeError), hugepage_hints_off():
            assert mod._get_madvise_hugepage() is False
            raise RuntimeError("a build that fails")
        assert mod._get_madvise_hugepage() is start
    mod._set_madvise_hugepage(before)
