"""Group buys: success / failure, exactly-once refunds through crashes, rejections with reasons."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustecon.events import SCHEMA
from trustecon.live import groupbuy as gb
from trustecon.store import Workspace

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
D = T0 + dt.timedelta(hours=2)  # the deadline
REPO = Path(__file__).resolve().parents[1]


def h(x: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=x)


def open7(ws: Workspace, target: int = 5, deal: int = 7) -> gb.Deal:
    return gb.open_deal(
        ws, deal, creator_id=100, product_id=55, unit_price=9.5, target_quantity=target, deadline=D, opened_at=T0
    )


def append(ws: Workspace, rows: list[dict]) -> None:
    full = [{"creator_id": 100, **r} for r in rows]
    ws.append(pa.Table.from_pylist(full, schema=SCHEMA))


def buyer_refund(ws: Workspace, order_id: int, at: dt.datetime, n: int = 0) -> None:
    append(ws, [{"event_id": f"buyer:{order_id}:{n}", "ts": at, "kind": "refund", "order_id": order_id, "amount": 1.0}])


def refunds(ws: Workspace) -> Counter:
    ev = ws.events_arrow()
    return Counter(r["order_id"] for r in ev.to_pylist() if r["kind"] == "refund")


def deal_refunds(ws: Workspace) -> dict[int, tuple[str, float]]:
    ev = ws.events_arrow().to_pylist()
    return {
        r["order_id"]: (r["event_id"], r["amount"])
        for r in ev
        if r["event_id"].startswith("groupbuy:7:") and r["kind"] == "refund"
    }


def test_failed_deal_refunds_each_order_once(ws: Workspace) -> None:
    # Target 5; orders 1 (qty 1), 2 (qty 2), 3 (qty 1) = 4 < 5 → failed; refunds 9.5, 19.0, 9.5.
    open7(ws)
    for oid, q in ((1, 1), (2, 2), (3, 1)):
        gb.join_deal(ws, 7, user_id=10 + oid, order_id=oid, ts=h(0.5 + oid / 10), quantity=q)
    st_ = gb.deal_status(ws, 7)
    assert (st_.quantity, st_.joined_orders, st_.due) == (4, 3, False)  # latest event is before the deadline
    with pytest.raises(gb.GroupBuyError, match="open until"):
        gb.settle_deal(ws, 7)
    deal = gb.settle_deal(ws, 7, as_of=D)
    assert (deal.state, deal.quantity, deal.orders, deal.refunds_written) == ("failed", 4, 3, 3)
    assert deal_refunds(ws) == {1: ("groupbuy:7:1", 9.5), 2: ("groupbuy:7:2", 19.0), 3: ("groupbuy:7:3", 9.5)}
    again = gb.settle_deal(ws, 7, as_of=D + dt.timedelta(days=1))
    assert again == deal and refunds(ws) == Counter({1: 1, 2: 1, 3: 1})
    # An on-time order naming the deal that reaches the log after settlement (another source) is
    # refunded by the next settle, once; the rest stay refunded once.
    late = {"event_id": "src:4", "ts": h(1), "kind": "order", "user_id": 14, "order_id": 4, "amount": 9.5}
    append(ws, [{**late, "campaign_id": 7}])
    assert gb.settle_deal(ws, 7).refunds_written == 4
    gb.settle_deal(ws, 7)
    assert refunds(ws) == Counter({1: 1, 2: 1, 3: 1, 4: 1})
    assert gb.list_deals(ws)[0].state == "failed"
    with pytest.raises(gb.GroupBuyError, match="closed"):
        gb.join_deal(ws, 7, user_id=1, order_id=9, ts=h(1))


def test_successful_deal_refunds_nothing(ws: Workspace) -> None:
    open7(ws, target=4)
    for oid, q in ((1, 1), (2, 2), (3, 1)):
        gb.join_deal(ws, 7, user_id=10 + oid, order_id=oid, ts=h(1), quantity=q)
    deal = gb.settle_deal(ws, 7, as_of=D)
    assert (deal.state, deal.quantity, deal.refunds_written) == ("succeeded", 4, 0)
    assert refunds(ws) == Counter()
    assert gb.settle_deal(ws, 7, as_of=D) == deal


def test_buyer_refund_before_deadline_is_not_refunded_again(ws: Workspace) -> None:
    # Target 3; orders 1 (1), 2 (2), 3 (1); the buyer of order 2 refunds it before the deadline, so
    # the deal counts 1 + 1 = 2 < 3 → failed; order 3's buyer refunds after the deadline, before
    # settlement. The deal refunds only order 1; every order ends with exactly one refund.
    open7(ws, target=3)
    for oid, q in ((1, 1), (2, 2), (3, 1)):
        gb.join_deal(ws, 7, user_id=10 + oid, order_id=oid, ts=h(0.5), quantity=q)
    buyer_refund(ws, 2, h(1))
    buyer_refund(ws, 3, h(3))
    st_ = gb.deal_status(ws, 7)
    assert (st_.quantity, st_.buyer_refunded, st_.due) == (2, 2, True)
    deal = gb.settle_deal(ws, 7)
    assert (deal.state, deal.quantity, deal.refunds_written) == ("failed", 2, 1)
    assert list(deal_refunds(ws)) == [1]
    assert refunds(ws) == Counter({1: 1, 2: 1, 3: 1})


def test_rejections_and_bad_input(ws: Workspace) -> None:
    open7(ws)
    with pytest.raises(gb.GroupBuyError, match="after the deadline"):
        gb.join_deal(ws, 7, user_id=1, order_id=1, ts=D + dt.timedelta(seconds=1))
    with pytest.raises(gb.GroupBuyError, match="before the deal opened"):
        gb.join_deal(ws, 7, user_id=1, order_id=1, ts=T0 - dt.timedelta(seconds=1))
    with pytest.raises(gb.GroupBuyError, match="no such group buy"):
        gb.join_deal(ws, 8, user_id=1, order_id=1, ts=h(1))
    with pytest.raises(gb.GroupBuyError, match="quantity"):
        gb.join_deal(ws, 7, user_id=1, order_id=1, ts=h(1), quantity=0)
    with pytest.raises(gb.GroupBuyError, match="already exists"):
        open7(ws)
    with pytest.raises(gb.GroupBuyError, match="target_quantity"):
        open7(ws, target=0, deal=9)
    with pytest.raises(gb.GroupBuyError, match="deadline"):
        gb.open_deal(ws, 9, creator_id=1, product_id=1, unit_price=1, target_quantity=1, deadline=T0, opened_at=T0)
    assert ws.event_count() == 0  # nothing rejected was written
    spend = {"event_id": "s1", "ts": T0, "kind": "spend", "brand_id": 3, "campaign_id": 9, "amount": 100.0}
    append(ws, [spend])
    with pytest.raises(gb.GroupBuyError, match="campaign_id 9 is already used"):
        open7(ws, deal=9)
    # An order from another source naming the deal after its deadline: listed as rejected, never
    # counted, never refunded by the deal.
    append(
        ws,
        [
            {
                "event_id": "x1",
                "ts": D + dt.timedelta(hours=1),
                "kind": "order",
                "user_id": 5,
                "order_id": 77,
                "amount": 9.5,
                "campaign_id": 7,
            }
        ],
    )
    st_ = gb.deal_status(ws, 7)
    assert st_.quantity == 0 and st_.rejected[0][0] == 77 and "after the deadline" in st_.rejected[0][1]
    # Order 77 belongs to user 5: joining the deal with that id as user 6 is refused with the owner
    # named (trustecon.order_integrity), and nothing is written, not even to quarantine.
    n, q = ws.event_count(), ws.quarantine_arrow().num_rows
    with pytest.raises(gb.GroupBuyError, match="order 77 rejected: order_id 77 belongs to user 5 .*names user 6"):
        gb.join_deal(ws, 7, user_id=6, order_id=77, ts=h(1))
    assert (ws.event_count(), ws.quarantine_arrow().num_rows) == (n, q)
    assert gb.settle_deal(ws, 7).state == "failed" and refunds(ws) == Counter()


@pytest.mark.parametrize("point", ["before-refunds", "after-refunds", "before-commit"])
def test_crash_inside_settlement_then_settle_again(ws: Workspace, monkeypatch, point: str) -> None:
    open7(ws)
    for oid in (1, 2):
        gb.join_deal(ws, 7, user_id=oid, order_id=oid, ts=h(1))

    def crash(at: str) -> None:
        if at == point:
            raise KeyboardInterrupt(f"crash at {at}")

    monkeypatch.setattr(gb, "_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        gb.settle_deal(ws, 7, as_of=D)
    ws = Workspace.open(ws.path)
    assert refunds(ws) == Counter() and gb.list_deals(ws)[0].state == "open"  # nothing half-written
    monkeypatch.setattr(gb, "_checkpoint", lambda at: None)
    assert gb.settle_deal(ws, 7, as_of=D).state == "failed"
    assert refunds(ws) == Counter({1: 1, 2: 1})


_SETTLE = """
import datetime as dt, sys
from trustecon.store import Workspace
from trustecon.live.groupbuy import settle_deal
settle_deal(Workspace.open(sys.argv[1]), 7, as_of=dt.datetime(2026, 3, 1, 14, 0, tzinfo=dt.UTC))
"""


@pytest.mark.parametrize("point", ["before-journal", "after-journal", "mid-moves"])
def test_process_killed_during_settlement(ws: Workspace, point: str) -> None:
    # The process dies (SIGKILL) inside the store's commit; reopening rolls back or forward, and a
    # second settlement leaves each order refunded exactly once.
    open7(ws)
    for oid in (1, 2, 3):
        gb.join_deal(ws, 7, user_id=oid, order_id=oid, ts=h(1))
    env = {**os.environ, "TRUSTECON_CRASH_AT": point}
    proc = subprocess.run([sys.executable, "-c", _SETTLE, str(ws.path)], env=env, cwd=REPO, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-500:]
    ws = Workspace.open(ws.path)
    state = gb.list_deals(ws)[0].state
    assert refunds(ws) == (Counter() if point == "before-journal" else Counter({1: 1, 2: 1, 3: 1}))
    assert state == ("open" if point == "before-journal" else "failed")
    gb.settle_deal(ws, 7, as_of=D)
    gb.settle_deal(ws, 7, as_of=D)
    assert refunds(ws) == Counter({1: 1, 2: 1, 3: 1})


# ------------------------------------------------------- hypothesis: any interleaving, exactly once
ops = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.integers(1, 2), st.integers(1, 6), st.integers(1, 3), st.integers(0, 5)),
        st.tuples(st.just("refund"), st.integers(1, 6), st.integers(0, 5)),
        st.tuples(st.just("settle"), st.integers(1, 2), st.integers(0, 5)),
        st.tuples(st.just("crash"), st.integers(1, 2), st.sampled_from(["after-refunds", "before-commit"])),
    ),
    min_size=2,
    max_size=10,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(ops=ops)
def test_any_interleaving_refunds_exactly_once(tmp_path_factory, ops: list[tuple]) -> None:
    ws = Workspace.init(tmp_path_factory.mktemp("gb") / "ws")
    # Deal 1: deadline at hour 2, target 3; deal 2: deadline at hour 4, target 2. Hours 0..5.
    deadlines = {1: h(2), 2: h(4)}
    for d, target in ((1, 3), (2, 2)):
        gb.open_deal(
            ws,
            d,
            creator_id=100,
            product_id=d,
            unit_price=2.0,
            target_quantity=target,
            deadline=deadlines[d],
            opened_at=T0,
        )
    owner: dict[int, int] = {}  # order → deal it joined
    buyer_refunds: Counter = Counter()
    clock = T0
    for op in ops:
        if op[0] == "join":
            _, d, oid, q, hour = op
            clock = max(clock, h(hour))
            if oid in owner:
                continue
            try:
                gb.join_deal(ws, d, user_id=oid, order_id=oid, ts=clock, quantity=q)
                owner[oid] = d
            except gb.GroupBuyError as exc:
                assert clock > deadlines[d] or "closed" in str(exc)
        elif op[0] == "refund":
            _, oid, hour = op
            clock = max(clock, h(hour))
            if oid in owner and not refunds(ws)[oid]:  # a buyer cannot refund a refunded order
                buyer_refund(ws, oid, clock)
                buyer_refunds[oid] += 1
        elif op[0] == "settle":
            _, d, hour = op
            clock = max(clock, h(hour))
            try:
                gb.settle_deal(ws, d, as_of=clock)
            except gb.GroupBuyError:
                assert clock < deadlines[d]
        else:
            _, d, point = op
            orig = gb._checkpoint

            def crash(at: str, point: str = point) -> None:
                if at == point:
                    raise KeyboardInterrupt

            gb._checkpoint = crash
            try:
                gb.settle_deal(ws, d, as_of=max(clock, deadlines[d]))
            except KeyboardInterrupt:
                pass
            finally:
                gb._checkpoint = orig
    for d in (1, 2):
        gb.settle_deal(ws, d, as_of=h(6))
    deals = {x.deal_id: x for x in gb.list_deals(ws)}
    got = refunds(ws)
    for oid, d in owner.items():
        if deals[d].state == "failed":
            assert got[oid] == 1, (oid, d)  # the buyer's own refund or the deal's, never both
        else:
            assert got[oid] == buyer_refunds[oid]


def test_cli_groupbuy_flow(ws: Workspace) -> None:
    import json

    from typer.testing import CliRunner

    from trustecon.cli import app

    def run(*args: str) -> tuple[int, str]:
        res = CliRunner().invoke(app, ["groupbuy", *args])
        return res.exit_code, res.output

    w = str(ws.path)
    code, out = run("open", w, "--deal", "7", "--creator", "100", "--product", "55", "--price", "9.5")
    assert code == 2  # missing options
    args = ["--creator", "100", "--product", "55", "--price", "2", "--target", "3", "--deadline", D.isoformat()]
    assert run("open", w, "--deal", "7", *args, "--opened-at", T0.isoformat())[0] == 0
    assert (
        run("join", w, "--deal", "7", "--user", "1", "--order", "1", "--at", h(1).isoformat(), "--quantity", "2")[0]
        == 0
    )
    code, out = run("join", w, "--deal", "7", "--user", "2", "--order", "2", "--at", h(3).isoformat())
    assert code == 2 and "after the deadline" in out
    code, out = run("status", w, "--json")
    st_ = json.loads(out)["deals"][0]
    assert (st_["quantity"], st_["joined_orders"], st_["due"]) == (2, 1, False)
    code, out = run("status", w)  # the table at the runner's 80 columns: the deadline whole, with its zone
    assert code == 0 and f"{D:%Y-%m-%d %H:%M} UTC" in out and "2 / 3" in out and "…" not in out
    # The same join retried: accepted, nothing written, and said so.
    code, out = run("join", w, "--deal", "7", "--user", "1", "--order", "1", "--at", h(1).isoformat(),
                    "--quantity", "2")
    assert code == 0 and "already in deal 7: nothing written" in out
    code, out = run("settle", w, "--deal", "7", "--as-of", D.isoformat(), "--json")
    assert code == 0 and json.loads(out)["settled"][0]["state"] == "failed"
    assert refunds(ws) == Counter({1: 1})
    # Settling the failed deal again writes nothing new, and the message tells now from in all.
    code, out = run("settle", w, "--deal", "7", "--as-of", D.isoformat())
    assert code == 0 and "refunds written now: 0, in all: 1" in out
    assert refunds(ws) == Counter({1: 1})


def _reference_status(ws: Workspace, deal: gb.Deal) -> tuple:
    """The module doc's rules over the whole log read into memory (what the pruned reads must equal)."""
    ev = ws.events_arrow().to_pylist()
    last = max(r["ts"] for r in ev)
    lines = [r for r in ev if r["kind"] == "order" and r["campaign_id"] == deal.deal_id]
    joined = {r["order_id"] for r in lines if deal.opened_at <= r["ts"] <= deal.deadline}
    first_refund: dict[int, dt.datetime] = {}
    for r in ev:
        if r["kind"] == "refund" and not r["event_id"].startswith(f"groupbuy:{deal.deal_id}:"):
            first_refund[r["order_id"]] = min(r["ts"], first_refund.get(r["order_id"], r["ts"]))
    quantity = sum(r["quantity"] or 1 for r in lines if r["order_id"] in joined
                   and not (r["order_id"] in first_refund and first_refund[r["order_id"]] <= deal.deadline))
    rejected = sorted({r["order_id"] for r in lines} - joined)
    return quantity, len(joined), len(joined & set(first_refund)), rejected, last


def test_status_over_many_day_folders(tmp_path: Path) -> None:
    """A log over 40 local days (Asia/Shanghai, so local days are not UTC days) with the deal's orders
    inside its window, orders naming it before it opened and after its deadline (in day folders far
    from the window: still listed as rejected), a buyer refund stamped before the deal opened, and the
    log's last instant in the last day folder. Known answer, equal to the rules over the whole log."""
    ws = Workspace.init(tmp_path / "ws", timezone="Asia/Shanghai")
    b = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)

    def day(x: float) -> dt.datetime:
        return b + dt.timedelta(days=x)

    views = [{"event_id": f"v{i}", "ts": day(i / 2), "kind": "view", "user_id": 1 + i % 3, "content_id": 1,
              "watch_ms": 5, "duration_ms": 10} for i in range(78)]
    last = dt.datetime(2026, 2, 9, 15, 59, 59, 500_000, tzinfo=dt.UTC)  # 23:59:59.5 local, the last day
    views.append({"event_id": "v-last", "ts": last, "kind": "view", "user_id": 1, "content_id": 1})
    append(ws, views)
    deal = gb.open_deal(ws, 8, creator_id=100, product_id=55, unit_price=9.5, target_quantity=5,
                        opened_at=day(20), deadline=day(22))
    for oid, at_, q in ((1, 20.5, 1), (2, 21.0, 2), (3, 21.5, 1), (4, 21.9, 1)):
        gb.join_deal(ws, 8, user_id=10 + oid, order_id=oid, ts=day(at_), quantity=q)
    line = {"kind": "order", "product_id": 55, "campaign_id": 8, "amount": 9.5}
    append(ws, [{**line, "event_id": "o5", "ts": day(5), "user_id": 15, "order_id": 5},  # before it opened
                {**line, "event_id": "o6", "ts": day(35), "user_id": 16, "order_id": 6},  # after the deadline
                {**line, "event_id": "o7a", "ts": day(21.2), "user_id": 17, "order_id": 7},  # two lines
                {**line, "event_id": "o7b", "ts": day(21.2), "user_id": 17, "order_id": 7, "amount": 3.0}])
    buyer_refund(ws, 2, day(21.8))  # by the deadline: not counted
    buyer_refund(ws, 3, day(30))  # after it: counted, not refunded again
    buyer_refund(ws, 4, day(10))  # stamped before the deal opened (and before its order): by the deadline
    assert len({f.split("/day=")[1][:10] for f in ws.event_files()}) == 40
    assert gb._last_instant(ws) == last == gb._scan_last(ws.event_files())
    st_ = gb.deal_status(ws, 8)
    # Joined 1, 2, 3, 4, 7; counted 1 (1) + 3 (1) + 7 (1 + 1) = 4; buyer refunds on 2, 3, 4.
    assert (st_.quantity, st_.joined_orders, st_.buyer_refunded, st_.as_of, st_.due) == (4, 5, 3, last, True)
    assert [o for o, _ in st_.rejected] == [5, 6]
    assert "before the deal opened" in st_.rejected[0][1] and "after the deadline" in st_.rejected[1][1]
    assert (st_.quantity, st_.joined_orders, st_.buyer_refunded, [o for o, _ in st_.rejected], st_.as_of) == \
        _reference_status(ws, deal)
    # settle_due settles the due deals only: 8 (4 < 5: failed, refunds 1 and 7) and 10 (no orders).
    gb.open_deal(ws, 9, creator_id=100, product_id=56, unit_price=1.0, target_quantity=1, opened_at=day(30),
                 deadline=last + dt.timedelta(seconds=1))
    gb.open_deal(ws, 10, creator_id=100, product_id=57, unit_price=1.0, target_quantity=1, opened_at=day(30),
                 deadline=last)
    assert gb.settle_due(ws, as_of=day(21)) == []
    settled = {d.deal_id: d for d in gb.settle_due(ws)}
    assert sorted(settled) == [8, 10] and gb.deal_status(ws, 9).deal.state == "open"
    assert (settled[8].state, settled[8].quantity, settled[8].orders, settled[8].refunds_written,
            settled[8].settled_at) == ("failed", 4, 5, 2, last)
    ours = {r["order_id"]: (r["amount"], r["user_id"]) for r in ws.events_arrow().to_pylist()
            if r["event_id"].startswith("groupbuy:8:") and r["kind"] == "refund"}
    assert ours == {1: (9.5, 11), 7: (12.5, 17)}
    assert (settled[10].state, settled[10].refunds_written) == ("failed", 0)


def test_settlement_compacts_the_joins_and_answers_the_same(tmp_path: Path) -> None:
    """70 joins leave 70 one-event files in the deal's day (and the failed deal's refunds one more); the
    settlement compacts them into one, and the deal's status, its settled row and the log's rows are
    those of the same settlement without compaction (known answer: target 200, 70 orders of 1 or 2)."""
    import shutil

    ws = Workspace.init(tmp_path / "ws")
    # Another day with as many small files (follows three days before): not the deal's, left alone.
    for i in range(gb.COMPACT_MIN_FILES):
        append(ws, [{"event_id": f"v{i}", "ts": T0 - dt.timedelta(days=3, minutes=i), "kind": "follow", "user_id": i}])
    other = {f for f in ws.manifest()["events"] if "day=2026-02-26" in f}
    assert len(other) == gb.COMPACT_MIN_FILES
    open7(ws, target=200)
    for oid in range(70):
        assert gb.join_deal(ws, 7, user_id=1000 + oid, order_id=oid, ts=T0 + dt.timedelta(minutes=oid),
                            quantity=1 + oid % 2)
    assert len(ws.event_files()) == 70 + gb.COMPACT_MIN_FILES
    plain = Workspace.open(shutil.copytree(ws.path, tmp_path / "plain"))
    before = gb.deal_status(ws, 7, as_of=D)
    assert (before.quantity, before.joined_orders, before.due) == (105, 70, True)  # 35 x 1 + 35 x 2

    settled = gb.settle_deal(ws, 7, as_of=D)
    reference = gb.settle_deal(plain, 7, as_of=D, compact=False)
    assert len(plain.event_files()) == 71 + gb.COMPACT_MIN_FILES  # the joins' files and the refunds' file
    # The deal's day merged into one file; the other day's files untouched.
    assert [f.split("/")[1] for f in ws.manifest()["events"] if f not in other] == ["day=2026-03-01"]
    assert other <= set(ws.manifest()["events"])
    assert settled == reference and (settled.state, settled.quantity, settled.orders,
                                     settled.refunds_written) == ("failed", 105, 70, 70)
    assert gb.deal_status(ws, 7) == gb.deal_status(plain, 7)
    key = [("event_id", "ascending")]
    assert ws.events_arrow().sort_by(key).equals(plain.events_arrow().sort_by(key))
    assert deal_refunds(ws) == deal_refunds(plain) == {o: (f"groupbuy:7:{o}", 9.5 * (1 + o % 2)) for o in range(70)}
    assert gb.settle_deal(ws, 7) == settled and len(ws.event_files()) == 1 + len(other)  # again: nothing new


def test_deal_days_are_local_days_from_opening_to_deadline(tmp_path: Path) -> None:
    # 15:00–17:00 UTC is 23:00–01:00 in Shanghai (UTC+8): two local days there, one in UTC.
    deal = gb.Deal(7, 100, 55, 9.5, 5, opened_at=dt.datetime(2026, 3, 1, 15, tzinfo=dt.UTC),
                   deadline=dt.datetime(2026, 3, 1, 17, tzinfo=dt.UTC))
    assert gb.deal_days(Workspace.init(tmp_path / "sh", timezone="Asia/Shanghai"), deal) == ["2026-03-01", "2026-03-02"]
    assert gb.deal_days(Workspace.init(tmp_path / "utc"), deal) == ["2026-03-01"]
