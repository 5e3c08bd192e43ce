"""SellerReliability: a hand-computed ledger, leave-one-out deltas, brushing and fake refunds."""

from __future__ import annotations

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_helpers import Log, at, event_logs, events_table

from trustecon.trust.evidence import to_seconds
from trustecon.trust.reliability import SellerReliability


def _run(con, log: Log, as_of, **kw):
    rel, led = SellerReliability(**kw).transform(ibis.memtable(log.table()), as_of)
    return (
        {(r["seller_kind"], r["seller_id"]): r for r in con.to_pyarrow(rel).to_pylist()},
        {(r["seller_kind"], r["seller_id"], r["order_id"]): r for r in con.to_pyarrow(led).to_pylist()},
    )


def known_ledger_log() -> Log:
    """The hand-computed ledger's log (also replayed online in test_trust_online_reliability.py)."""
    log = Log()
    # Buyer 10 is vetted: kept, matured orders from creators 1 and 2.
    log.add("order", at(0), user_id=10, creator_id=1, order_id=1, amount=100.0, brand_id=7, product_id=70)
    log.add("order", at(0), user_id=10, creator_id=2, order_id=2, amount=10.0)
    # Buyer 11 (unvetted, no engagement with the seller) is refunded in full.
    log.add("order", at(0), user_id=11, creator_id=1, order_id=3, amount=40.0)
    log.add("refund", at(2), order_id=3, amount=40.0)
    # A fresh order: pending, moves nothing.
    log.add("order", at(89), user_id=10, creator_id=1, order_id=4, amount=5.0)
    return log


def test_known_answer_ledger(duck_con) -> None:
    log = known_ledger_log()
    rel, led = _run(duck_con, log, at(90))  # one half-life (90 days) after day 0
    r1 = rel[("creator", 1)]
    # alpha = 1 + 1·0.5 (order 1), beta = 1 + 0.1·0.5·1 (order 3)
    assert r1["alpha"] == pytest.approx(1.5, abs=1e-12)
    assert r1["beta"] == pytest.approx(1.05, abs=1e-12)
    assert r1["reliability"] == pytest.approx(1.5 / 2.55, abs=1e-12)
    assert (r1["orders"], r1["kept"], r1["refunded"], r1["complained"], r1["pending"]) == (3, 1, 1, 0, 1)
    assert r1["raw_kept_rate"] == pytest.approx(0.5)
    o1 = led[("creator", 1, 1)]
    assert o1["outcome"] == "kept" and o1["buyer_weight"] == 1.0 and o1["reason"] == "kept, vetted buyer"
    assert o1["delta"] == pytest.approx(1.5 / 2.55 - 1.0 / 2.05, abs=1e-12)
    o3 = led[("creator", 1, 3)]
    assert o3["outcome"] == "refunded" and o3["buyer_weight"] == 0.1 and not o3["engaged"]
    assert o3["delta"] == pytest.approx(1.5 / 2.55 - 1.5 / 2.5, abs=1e-12)
    assert led[("creator", 1, 4)]["delta"] == 0.0 and led[("creator", 1, 4)]["outcome"] == "pending"
    assert o1["buyer_orders"] == 1  # the pending order 4 of the same buyer does not share the vote
    # The brand of order 1 gets the same evidence.
    assert rel[("brand", 7)]["alpha"] == pytest.approx(1.5, abs=1e-12)


def test_partial_refund_and_complaint(duck_con) -> None:
    log = Log().add("order", at(0), user_id=10, creator_id=1, order_id=1, amount=100.0)
    log.add("refund", at(1), order_id=1, amount=25.0)
    log.add("order", at(0), user_id=10, creator_id=1, order_id=2, amount=100.0)
    log.add("complaint", at(1), order_id=2)
    rel, led = _run(duck_con, log, at(0) + (at(1) - at(0)) * 30, half_life_days=1e9)  # no decay
    o1, o2 = led[("creator", 1, 1)], led[("creator", 1, 2)]
    # Buyer 10 (weight 0.1: one seller, no engagement): Σa = 0.1·0.75 ≤ the cap 0.1 and
    # Σc = 0.1·0.25 + 0.1·2 ≤ 0.1·(1 + 2), so nothing is scaled.
    assert o1["refunded_fraction"] == 0.25 and o1["buyer_orders"] == 2
    assert o1["d_alpha"] == pytest.approx(0.1 * 0.75) and o1["d_beta"] == pytest.approx(0.1 * 0.25)
    assert o2["outcome"] == "complained" and o2["d_alpha"] == 0.0 and o2["d_beta"] == pytest.approx(0.1 * 2)
    # Two more refunded-and-complained orders: Σc = 0.225 + 2·0.3 = 0.825 > 0.3, each scaled by 0.3/0.825.
    for oid in (3, 4):
        log.add("order", at(0), user_id=10, creator_id=1, order_id=oid, amount=10.0)
        log.add("refund", at(1), order_id=oid, amount=10.0)
        log.add("complaint", at(1), order_id=oid)
    rel, led = _run(duck_con, log, at(0) + (at(1) - at(0)) * 30, half_life_days=1e9)
    k = 0.3 / 0.825
    assert led[("creator", 1, 2)]["d_beta"] == pytest.approx(0.2 * k)
    assert led[("creator", 1, 3)]["d_beta"] == pytest.approx(0.3 * k)
    assert rel[("creator", 1)]["beta"] == pytest.approx(1.0 + 0.3)
    assert rel[("creator", 1)]["alpha"] == pytest.approx(1.075)


def test_engaged_buyer_counts_fully(duck_con) -> None:
    # A buyer who watched the seller before ordering counts 1; one who ordered out of nowhere, 0.1.
    log = Log().add("view", at(0), user_id=10, creator_id=1, content_id=1, watch_ms=5, duration_ms=10)
    log.add("order", at(1), user_id=10, creator_id=1, order_id=1, amount=10.0)
    log.add("order", at(1), user_id=11, creator_id=1, order_id=2, amount=10.0)
    log.add("view", at(2), user_id=11, creator_id=1, content_id=1, watch_ms=5, duration_ms=10)  # after
    _, led = _run(duck_con, log, at(30))
    assert led[("creator", 1, 1)]["buyer_weight"] == 1.0 and led[("creator", 1, 1)]["engaged"]
    assert led[("creator", 1, 2)]["buyer_weight"] == 0.1 and not led[("creator", 1, 2)]["engaged"]
    assert led[("creator", 1, 1)]["reason"] == "kept, buyer engaged with the seller before ordering"


def test_brushing_moves_reliability_less_than_raw_kept_rate(duck_con) -> None:
    # An honest seller 1 and a seller 2 with the same real record (8 kept, 2 refunded, vetted buyers);
    # then 30 fake accounts each place 3 kept orders with seller 2 only.
    def base() -> Log:
        log = Log()
        oid = 0
        for s in (1, 2):
            for b in range(10):
                buyer = 100 * s + b
                oid += 1
                log.add("order", at(1), user_id=buyer, creator_id=s, order_id=oid, amount=10.0)
                if b < 2:
                    log.add("refund", at(3), order_id=oid, amount=10.0)
                oid += 1  # the same buyer keeps an order from a third seller: vetted
                log.add("order", at(1), user_id=buyer, creator_id=3, order_id=oid, amount=10.0)
        return log

    clean, _ = _run(duck_con, base(), at(30))
    log = base()
    for f in range(30):
        for k in range(3):
            log.add("order", at(2 + k), user_id=5000 + f, creator_id=2, order_id=10_000 + 3 * f + k, amount=10.0)
    attacked, _ = _run(duck_con, log, at(30))
    raw_shift = attacked[("creator", 2)]["raw_kept_rate"] - clean[("creator", 2)]["raw_kept_rate"]
    rel_shift = attacked[("creator", 2)]["reliability"] - clean[("creator", 2)]["reliability"]
    assert raw_shift > 0.15
    assert 0 < rel_shift < raw_shift


def test_no_orders_is_an_error_with_a_reason() -> None:
    with pytest.raises(ValueError, match="empty event log"):
        SellerReliability().ledger(ibis.memtable(Log().table()))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=event_logs(20, no_ratio_views=True))
def test_pair_pass_counts_and_first_engagement(duck_con, rows) -> None:
    """The evidence pass's per-pair count, first/last evidence time and first engagement (reliability's
    "engaged buyer" rule) against a plain loop over the rows: a view without a watch ratio is no
    evidence (not counted, no time) but is engagement; a partly watched view counts twice."""
    from trustecon.trust.evidence import DIRECT_KINDS, ENGAGEMENT, pair_pass, to_seconds

    as_of = at(30)
    got = {(r["user_id"], r["creator_id"]): r
           for r in duck_con.to_pyarrow(pair_pass(ibis.memtable(events_table(rows)), as_of)).to_pylist()}
    expect: dict[tuple[int, int], dict] = {}
    for r in rows:
        if r["kind"] not in DIRECT_KINDS or r.get("user_id") is None or r.get("creator_id") is None or r["ts"] > as_of:
            continue
        e = expect.setdefault((r["user_id"], r["creator_id"]), {"n": 0, "first": None, "last": None, "eng": None})
        t = to_seconds(r["ts"])
        if r["kind"] in ENGAGEMENT:
            e["eng"] = t if e["eng"] is None else min(e["eng"], t)
        ratio = None
        if r["kind"] == "view":
            if not (r.get("duration_ms") or 0) > 0 or r.get("watch_ms") is None:
                continue  # no ratio: engagement only
            ratio = r["watch_ms"] / r["duration_ms"]
        e["n"] += 2 if ratio is not None and 0.2 <= ratio < 1.0 else 1
        e["first"] = t if e["first"] is None else min(e["first"], t)
        e["last"] = t if e["last"] is None else max(e["last"], t)
    assert got.keys() == expect.keys()
    for k, e in expect.items():
        g = got[k]
        assert (g["n_events"], g["first_s"], g["last_s"], g["engaged_s"]) == (e["n"], e["first"], e["last"], e["eng"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=event_logs(20, no_ratio_views=True))
def test_pair_pass_arrow_equals_engine_pivot(duck_con, rows) -> None:
    """``pair_pass_arrow`` (level 2 in numpy, what ``build`` uses on DuckDB) gives the engine's
    ``pair_pass`` table exactly: the same pairs, every channel sum bit for bit, nulls where it has them."""
    _assert_pivots_equal(duck_con, rows)


@pytest.mark.parametrize("shift", [-7, 2**31, 2**40])
def test_pair_pass_arrow_any_int64_ids(duck_con, shift) -> None:
    """Ids outside 31 bits (negative, ≥ 2³¹) take the general pair numbering: still the engine's table."""
    log = Log()
    for i, (u, c, kind) in enumerate([(1, 2, "like"), (1, 2, "view"), (3, 2, "follow"), (1, 4, "impression"),
                                      (3, 4, "view"), (3, 2, "like"), (4, 1, "order")]):
        log.add(kind, at(i), user_id=u * shift, creator_id=c + shift, watch_ms=300 * i, duration_ms=1000,
                amount=9.0 if kind == "order" else None)
    _assert_pivots_equal(duck_con, log.table().to_pylist())


def _assert_pivots_equal(duck_con, rows) -> None:
    from trustecon.trust.evidence import pair_pass
    from trustecon.trust.pivot import pair_pass_arrow

    as_of, events = at(30), ibis.memtable(events_table(rows))
    key = [("user_id", "ascending"), ("creator_id", "ascending")]
    want = duck_con.to_pyarrow(pair_pass(events, as_of)).sort_by(key)
    got = pair_pass_arrow(duck_con, events, as_of).sort_by(key)
    assert got.column_names == want.column_names
    for c in want.column_names:
        assert got[c].to_pylist() == want[c].to_pylist(), c


def _reliabilities(con, rows: list[dict], as_of) -> dict[tuple[str, int], float]:
    rel, _ = SellerReliability().transform(ibis.memtable(events_table(rows)), as_of)
    return {(r["seller_kind"], r["seller_id"]): r["reliability"] for r in con.to_pyarrow(rel).to_pylist()}


def refund_case_log() -> Log:
    """Session 9's hand case of a refund that raised R (also replayed online)."""
    lg = Log()
    for u in range(100, 110):
        lg.add("view", at(0), user_id=u, creator_id=10, content_id=1, duration_ms=1000, watch_ms=1000)
        lg.add("order", at(1), user_id=u, creator_id=10, order_id=1000 + u, amount=10.0)
    lg.add("order", at(1), user_id=1, creator_id=10, order_id=1, amount=10.0)
    lg.add("complaint", at(3), order_id=1)
    lg.add("order", at(58), user_id=1, creator_id=10, order_id=2, amount=10.0)  # pending at day 60
    lg.add("order", at(1), user_id=2, creator_id=10, order_id=3, amount=10.0)
    lg.add("order", at(1), user_id=2, creator_id=11, order_id=4, amount=10.0)
    lg.add("order", at(2), user_id=2, creator_id=10, order_id=5, amount=10.0)
    lg.add("complaint", at(5), order_id=5)
    return lg


def test_a_refund_never_raises_reliability_by_hand(duck_con) -> None:
    """The two ways a refund used to raise R (session 9), each by hand. Seller 10 has ten engaged
    buyers with kept orders (α = 1 + 10·δ). (a) Buyer 1 (no engagement) complained about one order
    of 10 and has another still pending; refunding the pending one settled it, and the old mean over
    settled orders halved the complaint. (b) Buyer 2 was vetted by kept orders from 10 and 11 and
    complained about another order of 10; refunding the order with 10 (or the one with 11) un-vetted
    them, and the old weight 0.1 shrank the complaint."""
    log = refund_case_log
    base = _reliabilities(duck_con, log().rows, at(60))
    for oid in (2, 3, 4):
        lg = log().add("refund", at(20 if oid != 2 else 59), order_id=oid, amount=10.0)
        after = _reliabilities(duck_con, lg.rows, at(60))
        for k, r in base.items():
            assert after[k] <= r + 1e-12, (oid, k, r, after[k])
    # The known answer, no refund: δ = 2^(−59/90) for day-1 orders; buyer 1's complaint (day 1 order)
    # counts in full (c = 0.1·δ·2, under its cap 0.1·3); buyer 2 is vetted (weight 1), a = δ (order 3),
    # c = 2·2^(−58/90) (order 5, under its cap 3).
    d1, d2 = 2 ** (-59 / 90), 2 ** (-58 / 90)
    alpha, beta = 1 + 10 * d1 + d1, 1 + 0.1 * d1 * 2 + 2 * d2
    assert base[("creator", 10)] == pytest.approx(alpha / (alpha + beta), abs=1e-12)


@st.composite
def _commerce_logs(draw: st.DrawFn, max_orders: int = 14) -> list[dict]:
    """Orders of 2 buyers with 2 creators and 2 brands (few, so that one buyer has several orders),
    some engaged before ordering, some with a second line later (maturing later: engaged between
    the lines, or not), some refunded (in part or in full) or complained about, some too young to
    have matured."""
    rows: list[dict] = []
    n = draw(st.integers(1, max_orders))
    for i in range(n):
        u, c = draw(st.sampled_from([1, 2])), draw(st.sampled_from([10, 11]))
        day = draw(st.sampled_from([0.0, 1.0, 5.0, 20.0, 27.0]))
        if draw(st.booleans()):
            rows.append({"event_id": f"v{i}", "ts": at(day - 0.5), "kind": "like", "user_id": u, "creator_id": c})
        rows.append({"event_id": f"o{i}", "ts": at(day), "kind": "order", "user_id": u, "creator_id": c,
                     "order_id": i, "amount": float(draw(st.sampled_from([0, 10, 40]))),
                     "brand_id": draw(st.sampled_from([None, 7, 8])), "product_id": 70})
        later = draw(st.sampled_from([None, None, 0.25, 1.0, 21.0]))
        if later is not None:
            rows.append({"event_id": f"p{i}", "ts": at(day + later), "kind": "order", "user_id": u,
                         "creator_id": c, "order_id": i, "amount": float(draw(st.sampled_from([0, 10]))),
                         "brand_id": draw(st.sampled_from([None, 7, 8])), "product_id": 71})
        outcome = draw(st.sampled_from(["none", "none", "refund", "complaint"]))
        if outcome != "none":
            rows.append({"event_id": f"x{i}", "ts": at(day + 1), "kind": outcome, "order_id": i,
                         **({"amount": float(draw(st.sampled_from([5, 10, 40])))} if outcome == "refund" else {})})
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_commerce_logs(), pick=st.integers(0, 100), kind=st.sampled_from(["refund", "complaint"]),
       amount=st.sampled_from([1.0, 10.0, 100.0]))
def test_a_refund_or_complaint_never_raises_any_reliability(duck_con, rows, pick, kind, amount) -> None:
    """DESIGN.md §5 for R: another refund or complaint on any order (pending or settled, refunded
    before or not) never raises any seller's reliability — its own creator's and brands', nor anyone
    else's (vetting and the buyer's vote do not depend on outcomes)."""
    orders = [r for r in rows if r["kind"] == "order"]
    o = orders[pick % len(orders)]
    extra = {"event_id": "extra", "ts": at(29), "kind": kind, "order_id": o["order_id"],
             **({"amount": amount} if kind == "refund" else {})}
    before = _reliabilities(duck_con, rows, at(30))
    after = _reliabilities(duck_con, [*rows, extra], at(30))
    assert after.keys() == before.keys()
    for k, r in before.items():
        assert after[k] <= r + 1e-12, (k, r, after[k])


def _hand_case() -> Log:
    """Creator 10 as of day 100 (half-life 90 days, maturity 7). Buyer 2 liked the creator on day 0
    and was refunded in full for order 2 (day 10, no brand); buyer 1 liked it on day 50 and ordered
    order 1 on day 55 (amount 10, brand 7), refunded 5 on day 60."""
    log = Log().add("like", at(0), user_id=2, creator_id=10)
    log.add("order", at(10), user_id=2, creator_id=10, order_id=2, amount=10.0)
    log.add("refund", at(12), order_id=2, amount=10.0)
    log.add("like", at(50), user_id=1, creator_id=10)
    log.add("order", at(55), user_id=1, creator_id=10, order_id=1, amount=10.0, brand_id=7, product_id=70)
    return log.add("refund", at(60), order_id=1, amount=5.0)


def test_an_earlier_line_never_lowers_reliability_by_hand(duck_con) -> None:
    """Session 9's case (its fixture was not kept; this one has the same mechanism): another line of
    order 1 dated day 10, before the order's line of day 55 and before buyer 1's engagement (day 50).
    Dated by its first line, the order moved to day 10: decay 2^(−90/90) = 0.5 instead of 2^(−45/90),
    and the like of day 50 no longer came before ordering (weight 1 → 0.1), so R(creator 10) fell
    0.4221 → 0.4069 (α = 1 + 0.1·0.5·0.75 = 1.0375, β = 1 + 0.5 + 0.1·0.5·0.25 = 1.5125). Dated
    when complete (day 55), only its amount grows: f = 5/20 instead of 5/10, and R rises."""
    r = 2 ** -0.5  # δ of order 1: 45 days before as_of
    rel, led = _run(duck_con, _hand_case(), at(100))
    # Without the line: order 1 has f = 0.5, weight 1 (engaged day 50 ≤ 55): a = c = 0.5·r; order 2
    # (engaged, δ = 2^(−90/90) = 0.5) has f = 1: c = 0.5.
    a, b = 1 + 0.5 * r, 1 + 0.5 + 0.5 * r
    assert rel[("creator", 10)]["reliability"] == pytest.approx(a / (a + b), abs=1e-12)  # 0.42206
    assert rel[("brand", 7)]["reliability"] == pytest.approx(0.5, abs=1e-12)  # a = c for order 1 alone
    log = _hand_case().add("order", at(10), user_id=1, creator_id=10, order_id=1, amount=10.0, brand_id=7,
                           product_id=71)
    rel, led = _run(duck_con, log, at(100))
    o1 = led[("creator", 10, 1)]
    assert o1["order_s"] == to_seconds(at(55)) and o1["engaged"] and o1["buyer_weight"] == 1.0
    assert o1["amount"] == 20.0 and o1["refunded_fraction"] == 0.25 and o1["decay"] == pytest.approx(r)
    # a = 0.75·r = 0.53033, c = 0.25·r = 0.17678
    a, b = 1 + 0.75 * r, 1 + 0.5 + 0.25 * r
    assert rel[("creator", 10)]["reliability"] == pytest.approx(a / (a + b), abs=1e-12)  # 0.47717
    assert rel[("brand", 7)]["reliability"] == pytest.approx(a / (a + b - 0.5), abs=1e-12)  # 0.56529


def test_a_later_line_restarts_the_return_window(duck_con) -> None:
    """Documented, not a bug: the return window runs from the order's latest line, so a line dated
    after it moves the order forward. Order 3 (engaged buyer, day 80) is kept as of day 100 (matured:
    80 ≤ 100 − 7): R = (1 + 2^(−20/90)) / (2 + 2^(−20/90)). A second line on day 90 keeps it
    matured and only makes it fresher (δ = 2^(−10/90), R rises); one on day 95 makes it pending
    (95 > 93): it moves nothing and R is the prior's 0.5 — the order was not complete until then."""
    def log(*days: float) -> Log:
        lg = Log().add("like", at(0), user_id=3, creator_id=20)
        for d in (80, *days):
            lg.add("order", at(d), user_id=3, creator_id=20, order_id=3, amount=10.0)
        return lg

    for days, outcome, d in (((), "kept", 2 ** (-20 / 90)), ((90,), "kept", 2 ** (-10 / 90)),
                             ((95,), "pending", 2 ** (-5 / 90))):
        rel, led = _run(duck_con, log(*days), at(100))
        o3 = led[("creator", 20, 3)]
        assert o3["outcome"] == outcome and o3["decay"] == pytest.approx(d, abs=1e-12), days
        assert o3["order_s"] == to_seconds(at(max((80, *days))))
        a = 1 + (d if outcome == "kept" else 0.0)
        assert rel[("creator", 20)]["reliability"] == pytest.approx(a / (a + 1), abs=1e-12), days


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_commerce_logs(5), pick=st.integers(0, 100), back=st.sampled_from([0.0, 0.25, 0.75, 3.0, 30.0]),
       amount=st.sampled_from([0.0, 5.0, 40.0]), brand=st.integers(0, 10))
def test_an_order_line_at_or_before_the_latest_never_lowers_any_reliability(duck_con, rows, pick, back, amount,
                                                                            brand) -> None:
    """DESIGN.md §5 for R, order lines: another line of an order (same buyer, creator and one of its
    brands or none, any amount ≥ 0) dated at or before the order's latest line — before its first line
    too, or before the buyer's engagement — never lowers any seller's reliability. (Fails when an order
    is dated by its first line.)"""
    lines = [r for r in rows if r["kind"] == "order"]
    o = lines[pick % len(lines)]
    mine = [r for r in lines if r["order_id"] == o["order_id"]]
    latest = max(r["ts"] for r in mine)
    brands = sorted({r["brand_id"] for r in mine}, key=lambda b: (b is not None, b))
    extra = {**o, "event_id": "extra", "ts": latest - back * (at(1) - at(0)), "amount": amount,
             "brand_id": brands[brand % len(brands)], "product_id": 72}
    before = _reliabilities(duck_con, rows, at(30))
    after = _reliabilities(duck_con, [*rows, extra], at(30))
    assert after.keys() == before.keys()
    for k, r in before.items():
        assert after[k] >= r - 1e-12, (k, r, after[k])


def test_build_ledger_equals_the_plain_path(ws, duck_con) -> None:
    """``build`` passes reliability its precomputed commerce events and first engagements: it writes
    the ledger and scores ``transform`` computes from the log alone, with orders of several lines
    (engagement between them, a later line that makes an order pending, a line after ``as_of``)."""
    from trustecon.trust.build import build

    log = _hand_case().add("order", at(10), user_id=1, creator_id=10, order_id=1, amount=10.0, brand_id=7)
    log.add("like", at(0), user_id=3, creator_id=20)
    log.add("order", at(80), user_id=3, creator_id=20, order_id=3, amount=10.0, brand_id=8)
    log.add("order", at(95), user_id=3, creator_id=20, order_id=3, amount=4.0, brand_id=7)
    log.add("order", at(70), user_id=4, creator_id=20, order_id=4, amount=10.0)
    log.add("view", at(75), user_id=4, creator_id=20, content_id=1, watch_ms=900, duration_ms=1000)
    log.add("order", at(78), user_id=4, creator_id=20, order_id=4, amount=10.0)
    log.add("order", at(101), user_id=4, creator_id=20, order_id=4, amount=10.0)  # after as_of
    log.add("view", at(100), user_id=9, creator_id=20, content_id=1, watch_ms=900, duration_ms=1000)
    ws.append(log.table())
    build(ws, as_of=at(100))
    rel, led = SellerReliability().transform(ibis.memtable(log.table()), at(100))
    key = ["seller_kind", "seller_id", "order_id"]
    want_led = duck_con.to_pyarrow(led).sort_by([(k, "ascending") for k in key]).to_pylist()
    got_led = ws.read_table("seller_ledger").sort_by([(k, "ascending") for k in key]).to_pylist()
    assert [r["order_id"] for r in got_led] == [r["order_id"] for r in want_led]
    for g, w in zip(got_led, want_led, strict=True):
        assert g.keys() == w.keys()
        for c in w:
            assert g[c] == pytest.approx(w[c], rel=1e-12, abs=1e-15) if isinstance(w[c], float) else g[c] == w[c], c
    o4 = next(r for r in got_led if r["order_id"] == 4)
    assert o4["engaged"] and o4["order_s"] == to_seconds(at(78))  # the view on day 75 came before day 78
    want = {(r["seller_kind"], r["seller_id"]): r for r in duck_con.to_pyarrow(rel).to_pylist()}
    for r in ws.read_table("seller_reliability").to_pylist():
        w = want[(r["seller_kind"], r["seller_id"])]
        assert r["reliability"] == pytest.approx(w["reliability"], rel=1e-12)
        assert (r["kept"], r["refunded"], r["pending"]) == (w["kept"], w["refunded"], w["pending"])
