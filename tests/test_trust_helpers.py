"""Shared builders for the trust tests (tiny event logs written by hand or by hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa
from hypothesis import strategies as st

from trustecon.events import SCHEMA

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


class Log:
    """Append events with generated ids; ``table()`` gives the Arrow event table."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, kind: str, ts: dt.datetime, **fields: Any) -> Log:
        self.rows.append({"event_id": f"t{len(self.rows)}", "ts": ts, "kind": kind, **fields})
        return self

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=SCHEMA)


def events_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def scores(con, rows: list[dict[str, Any]] | pa.Table, as_of: dt.datetime, model=None) -> dict[tuple[int, int], dict]:
    """Batch pair trust on ``con`` as ``{(user, creator): row}``."""
    from trustecon.trust.pair import PairTrust

    t = rows if isinstance(rows, pa.Table) else events_table(rows)
    out = con.to_pyarrow((model or PairTrust()).transform(ibis.memtable(t), as_of)).to_pylist()
    return {(r["user_id"], r["creator_id"]): r for r in out}


def assert_order_free_bounded_deterministic(con, rows: list[dict[str, Any]], seed: int,
                                            as_of: dt.datetime) -> dict[tuple[int, int], dict]:
    """The batch scores of ``rows`` equal those of any shuffle of them (≤ 1e-12), lie in [0, 1] with a
    confidence in [0, 1), are never NaN, and repeat bit for bit; returns them."""
    import math
    import random

    a = scores(con, rows, as_of)
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    b = scores(con, shuffled, as_of)
    assert a.keys() == b.keys()
    for k in a:
        assert abs(a[k]["trust"] - b[k]["trust"]) < 1e-12
        assert 0.0 <= a[k]["trust"] <= 1.0 and 0.0 <= a[k]["confidence"] < 1.0
        assert not math.isnan(a[k]["trust"])
    assert scores(con, rows, as_of) == a  # same input, same bits
    return a


def resumed_after_build(tmp_path_factory, con, rows: list[dict[str, Any]], when: dt.datetime, seed: int):
    """Build a workspace on the rows up to ``when``, resume :class:`OnlineTrust` from it
    (``from_workspace``: every state table the build wrote) and feed the later rows shuffled."""
    import random

    from trustecon.store import Workspace
    from trustecon.trust.build import build
    from trustecon.trust.online import OnlineTrust

    before = [r for r in rows if r["ts"] <= when]
    after = [r for r in rows if r["ts"] > when]
    ws = Workspace.init(tmp_path_factory.mktemp("ws") / "w")
    if before:
        ws.append(events_table(before))
    build(ws, con=con, as_of=when)
    online = OnlineTrust.from_workspace(ws)
    random.Random(seed).shuffle(after)
    return online.update(after)


USERS = (1, 2, 3)
CREATORS = (10, 11)
SIMPLE_KINDS = ("like", "comment", "share", "profile_visit", "follow", "product_click", "unfollow", "hate", "gift")


@st.composite
def event_logs(draw: st.DrawFn, max_events: int = 14, no_ratio_views: bool = False) -> list[dict[str, Any]]:
    """Random small logs over 3 users × 2 creators: views, interactions, live visits, orders and
    refunds/complaints (after their order, or for orders that never arrive). ``no_ratio_views``: some
    views carry no watch ratio (no ``watch_ms``, or a zero duration)."""
    n = draw(st.integers(0, max_events))
    rows: list[dict[str, Any]] = []
    orders: list[tuple[int, float]] = []
    for i in range(n):
        u, c = draw(st.sampled_from(USERS)), draw(st.sampled_from(CREATORS))
        day = draw(st.integers(0, 40)) + draw(st.sampled_from([0.0, 0.25, 0.5]))
        kind = draw(st.sampled_from(["view", "simple", "live", "order", "refund", "complaint"]))
        base = {"event_id": f"h{i}", "ts": at(day), "user_id": u, "creator_id": c}
        if kind == "view":
            dur = draw(st.integers(1, 60_000))
            watch: int | None = draw(st.integers(0, 2 * dur))
            if no_ratio_views:
                dur, watch = draw(st.sampled_from([(dur, watch), (dur, None), (0, watch)]))
            rows.append({**base, "kind": "view", "content_id": 1, "duration_ms": dur, "watch_ms": watch})
        elif kind == "simple":
            k = draw(st.sampled_from(SIMPLE_KINDS))
            extra = {"amount": float(draw(st.integers(0, 500)))} if k == "gift" else {}
            if k == "product_click":
                extra = {"product_id": 7}  # the event contract requires the product
            rows.append({**base, "kind": k, **extra})
        elif kind == "live":
            sid = draw(st.integers(100, 102))
            rows.append({**base, "kind": draw(st.sampled_from(["live_enter", "live_leave"])), "session_id": sid})
        elif kind == "order":
            oid = 1000 + i
            rows.append({**base, "kind": "order", "order_id": oid, "amount": float(draw(st.integers(0, 400)))})
            orders.append((oid, day))
        else:
            if orders and draw(st.booleans()):
                oid, oday = draw(st.sampled_from(orders))
                ts = at(oday + draw(st.integers(0, 10)))
            else:
                oid, ts = 9999, base["ts"]  # an order that never arrives: no pair to credit
            rows.append({"event_id": f"h{i}", "ts": ts, "kind": kind, "order_id": oid,
                         **({"amount": 1.0} if kind == "refund" else {})})
    return rows


def assert_fused_sums_equal_rows(con, ev, as_of: dt.datetime) -> tuple[dict, dict]:
    """The fused pass's per-pair sums equal, channel by channel, the decayed sum of the documented
    evidence rows, their count and first/last times (repurchase aside: it is not a row). Returns the
    fused rows and the hand sums (with ``neg``: how many refund/complaint rows) by pair."""
    import pytest

    from trustecon.trust.evidence import CHANNELS, EvidenceConfig, evidence_rows, evidence_sums, to_seconds

    fused = {(r["user_id"], r["creator_id"]): r for r in con.to_pyarrow(evidence_sums(ev, as_of)).to_pylist()}
    ref_s, h = to_seconds(as_of), EvidenceConfig().half_life_seconds
    expect: dict[tuple[int, int], dict] = {}
    for r in con.to_pyarrow(evidence_rows(ev, as_of)).to_pylist():
        e = expect.setdefault((r["user_id"], r["creator_id"]), {"n": 0, "first": r["t"], "last": r["t"]})
        e[r["channel"]] = e.get(r["channel"], 0.0) + r["intensity"] * 2.0 ** ((r["t"] - ref_s) / h)
        e["n"] += 1
        e["neg"] = e.get("neg", 0) + (r["channel"] in ("refund", "complaint"))
        e["first"], e["last"] = min(e["first"], r["t"]), max(e["last"], r["t"])
    assert fused.keys() == expect.keys()
    for k, e in expect.items():
        got = fused[k]
        assert got["n_events"] == e["n"] and got["first_s"] == e["first"] and got["last_s"] == e["last"]
        for ch in CHANNELS:
            if ch != "repurchase":
                assert got[f"e_{ch}"] == pytest.approx(e.get(ch, 0.0), rel=1e-12, abs=1e-12), (k, ch)
    return fused, expect
