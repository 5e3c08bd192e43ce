"""Group buys (DESIGN.md §7): a creator opens a deal; orders join; at the deadline it succeeds or fails.

A deal has an id (an integer), a creator, a product, a unit price, a target quantity and a deadline.
Its state lives in the workspace table ``tables/group_buys`` (one row per deal: ``state`` is
``open``, ``succeeded`` or ``failed``, with what settlement found).

**How an order names its deal.** An ``order`` event whose ``campaign_id`` is the deal's id. Orders
come either through :func:`join_deal` (which checks the deal is open and the order is on time, then
writes the order event through the store, ``event_id`` ``groupbuy:<deal>:order:<order_id>``) or from
any source (ingest, simulator) carrying ``campaign_id``. A joined order counts if its time is in
[opened_at, deadline]; an order after the deadline is *rejected with a reason* (``join_deal`` raises
:class:`GroupBuyError`; one ingested is listed by :func:`deal_status` as rejected, never counted and
never refunded by the deal).

**Settlement** at or after the deadline (``as_of``: the latest event, or given; never the wall clock):
quantity = Σ ``quantity`` (1 when absent) of the joined lines whose order was not refunded at or
before the deadline. quantity ≥ target → ``succeeded`` (orders stand); else ``failed``: every joined
order with no refund in the log gets one ``refund`` event for its full amount (Σ of its lines),
``event_id`` = ``groupbuy:<deal>:<order_id>``, at the deadline. An order the buyer already refunded
(before the deadline or after) gets no second refund. The refunds and the deal's new row are one
store transaction, so a crash leaves either nothing or both; settling again is a no-op for a settled
deal, and even a replay of the same refunds is deduplicated by their deterministic ``event_id``: an
order is never refunded twice and never missed.

**Cost.** A deal's status reads the log twice, each time opening every event file: once for the
order lines naming the deal and once for refunds of its orders. Neither can skip day folders outside
the deal's window: an order naming the deal before it opened or after its deadline is still listed as
rejected, and a refund stamped before its order still counts as refunded by the deadline (skipping
it would refund the order twice). The log's last instant comes from the footers of the two latest day
folders, and :func:`settle_due` needs only that instant to know which deals are due.

**Compaction after settlement.** Every :func:`join_deal` is its own transaction and writes one tiny
event file, so a busy deal leaves its day folder with thousands of files, and every read above pays
per file: at 2,000 joins a status read takes 2.1 s against 0.06 s once the day is one file (measured
with ``deal_status`` on one deal, :data:`COMPACT_MIN_FILES` below). Compacting inside ``join_deal``
would hold the writer lock for that long on the hot path of every buyer; settlement is the natural
point instead: the deal's orders stop coming, its refunds have just landed in the same day, and
settling is rare. So :func:`settle_deal` (and :func:`settle_due`, once for all the deals it settles)
compacts the log in its own transaction after the settlement commits (``Workspace.compact``): a crash
or an error there leaves the settlement committed, and settling again compacts. Readers that listed
the old files keep reading them for the workspace's retention (:mod:`trustecon.retention`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from trustecon.engine import scratch_duckdb
from trustecon.events import SCHEMA
from trustecon.order_integrity import check_order_owners
from trustecon.store import Transaction, Workspace

__all__ = [
    "COMPACT_MIN_FILES",
    "DEALS_SCHEMA",
    "Deal",
    "DealStatus",
    "GroupBuyError",
    "deal_days",
    "deal_status",
    "join_deal",
    "list_deals",
    "open_deal",
    "settle_deal",
    "settle_due",
]

TABLE = "group_buys"
#: A day is compacted after a settlement when it holds this many small files. Measured on one deal
#: (``deal_status`` before and after ``Workspace.compact``, 1 file per join): from 32 files on,
#: compacting costs about one to two status reads (64 files: 0.10 s against 0.12 s per read, 0.03 s
#: after; 2,000 files: 2.6 s against 2.1 s, 0.06 s after), so it pays for itself by the next read or
#: two. Below 64 a read costs under ~0.1 s whatever the layout, and not compacting leaves the lock free.
COMPACT_MIN_FILES = 64
STATES = ("open", "succeeded", "failed")
_TS = pa.timestamp("us", tz="UTC")
DEALS_SCHEMA = pa.schema(
    [
        pa.field("deal_id", pa.int64(), nullable=False),
        pa.field("creator_id", pa.int64(), nullable=False),
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("unit_price", pa.float64(), nullable=False),
        pa.field("target_quantity", pa.int64(), nullable=False),
        pa.field("opened_at", _TS, nullable=False),
        pa.field("deadline", _TS, nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("settled_at", _TS),
        pa.field("quantity", pa.int64()),
        pa.field("orders", pa.int64()),
        pa.field("refunds_written", pa.int64()),
    ]
)


class GroupBuyError(ValueError):
    """A bad deal or a rejected action (the message says which deal and why)."""


def _utc(t: dt.datetime) -> dt.datetime:
    if not isinstance(t, dt.datetime):
        raise GroupBuyError(f"expected a datetime, got {t!r}")
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


@dataclass(frozen=True)
class Deal:
    """One row of ``tables/group_buys``."""

    deal_id: int
    creator_id: int
    product_id: int
    unit_price: float
    target_quantity: int
    opened_at: dt.datetime
    deadline: dt.datetime
    state: str = "open"
    settled_at: dt.datetime | None = None
    quantity: int | None = None
    orders: int | None = None
    refunds_written: int | None = None


@dataclass(frozen=True)
class DealStatus:
    """A deal as the log shows it at ``as_of``: counted quantity, joined / refunded / rejected orders."""

    deal: Deal
    as_of: dt.datetime | None
    quantity: int  # joined lines' quantity, orders refunded by the deadline left out
    joined_orders: int
    buyer_refunded: int  # joined orders with a refund in the log (not written by this deal)
    rejected: tuple[tuple[int, str], ...]  # (order_id, reason)
    due: bool  # as_of ≥ deadline and still open

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rejected"] = [{"order_id": o, "reason": r} for o, r in self.rejected]
        return d


def _read_deals(ws: Workspace) -> dict[int, Deal]:
    if not ws.has_table(TABLE):
        return {}
    return {r["deal_id"]: Deal(**r) for r in ws.read_table(TABLE).cast(DEALS_SCHEMA).to_pylist()}


def _write_deals(tx: Transaction, deals: dict[int, Deal]) -> None:
    rows = [asdict(deals[k]) for k in sorted(deals)]
    tx.write_table(TABLE, pa.Table.from_pylist(rows, schema=DEALS_SCHEMA))


def list_deals(ws: Workspace) -> list[Deal]:
    """Every deal, by id."""
    deals = _read_deals(ws)
    return [deals[k] for k in sorted(deals)]


def _get(deals: dict[int, Deal], deal_id: int) -> Deal:
    if deal_id not in deals:
        raise GroupBuyError(f"deal {deal_id}: no such group buy (open it first)")
    return deals[deal_id]


def _campaign_use(ws: Workspace, campaign_id: int) -> int:
    """Events of the log that already carry ``campaign_id``."""
    files = ws.event_files()
    if not files:
        return 0
    con = scratch_duckdb()
    src = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "], hive_partitioning=false)"
    n = con.execute(f"SELECT count(*) FROM {src} WHERE campaign_id = ?", [campaign_id]).fetchall()[0][0]
    con.close()
    return int(n)


def open_deal(
    ws: Workspace,
    deal_id: int,
    *,
    creator_id: int,
    product_id: int,
    unit_price: float,
    target_quantity: int,
    deadline: dt.datetime,
    opened_at: dt.datetime,
) -> Deal:
    """Open a deal (one transaction). Errors: an existing deal id or a ``campaign_id`` already in the log
    (a brand campaign's: the two share the id space), price < 0, target < 1, deadline ≤ opened_at."""
    deadline, opened_at = _utc(deadline), _utc(opened_at)
    if not unit_price >= 0:
        raise GroupBuyError(f"deal {deal_id}: unit_price must be >= 0, got {unit_price}")
    if target_quantity < 1:
        raise GroupBuyError(f"deal {deal_id}: target_quantity must be >= 1, got {target_quantity}")
    if deadline <= opened_at:
        raise GroupBuyError(f"deal {deal_id}: deadline {deadline.isoformat()} is not after opened_at")
    deal = Deal(deal_id, creator_id, product_id, float(unit_price), target_quantity, opened_at, deadline)
    with ws.transaction() as tx:
        deals = _read_deals(ws)  # read under the writer's lock
        if deal_id in deals:
            raise GroupBuyError(f"deal {deal_id}: already exists ({deals[deal_id].state})")
        used = _campaign_use(ws, deal_id)
        if used:
            raise GroupBuyError(
                f"deal {deal_id}: campaign_id {deal_id} is already used by {used} events of the log "
                "(a brand campaign?); deals and campaigns share that id space, choose another id"
            )
        deals[deal_id] = deal
        _write_deals(tx, deals)
    return deal


def join_deal(ws: Workspace, deal_id: int, *, user_id: int, order_id: int, ts: dt.datetime, quantity: int = 1) -> bool:
    """Place an order in the deal: one ``order`` event (``campaign_id`` = deal, amount = price × quantity).
    Returns False when the same order was already in the deal (a retried join writes nothing).

    Raises :class:`GroupBuyError` for an unknown deal, a settled deal, an order before the deal opened
    or after its deadline, or quantity < 1; nothing is written then."""
    ts = _utc(ts)
    if quantity < 1:
        raise GroupBuyError(f"deal {deal_id}: order {order_id}: quantity must be >= 1, got {quantity}")
    with ws.transaction() as tx:
        deal = _get(_read_deals(ws), deal_id)
        if deal.state != "open":
            raise GroupBuyError(f"deal {deal_id} is closed ({deal.state}): order {order_id} rejected")
        if ts > deal.deadline:
            raise GroupBuyError(
                f"deal {deal_id}: order {order_id} at {ts.isoformat()} is after the deadline "
                f"{deal.deadline.isoformat()}: rejected"
            )
        if ts < deal.opened_at:
            raise GroupBuyError(f"deal {deal_id}: order {order_id} at {ts.isoformat()} is before the deal opened")
        row = {
            "event_id": f"groupbuy:{deal_id}:order:{order_id}",
            "ts": ts,
            "kind": "order",
            "user_id": user_id,
            "creator_id": deal.creator_id,
            "product_id": deal.product_id,
            "order_id": order_id,
            "campaign_id": deal_id,
            "amount": deal.unit_price * quantity,
            "quantity": quantity,
        }
        line = pa.Table.from_pylist([row], schema=SCHEMA)
        # An order id the log already gives to another buyer (or seller) is refused with the owner
        # named (trustecon.order_integrity), as ingest refuses it, instead of storing a conflict.
        _, wrong = check_order_owners(line, None, tx.stored_event_files, f"groupbuy:{deal_id}", 1, None)
        if wrong.num_rows:
            raise GroupBuyError(f"deal {deal_id}: order {order_id} rejected: {wrong['reason'][0].as_py()}")
        res = tx.append(line, file=f"groupbuy:{deal_id}")
        if res.quarantined or res.already_quarantined:
            raise GroupBuyError(f"deal {deal_id}: order {order_id} was not accepted (an order with this id exists?)")
        return res.added == 1  # 0: this very order was already in the deal (a retried join)


def _deal_orders(ws: Workspace, deal: Deal) -> tuple[list[dict[str, Any]], set[int], set[int], dt.datetime | None]:
    """The deal's order lines, the order ids refunded by the deadline / at all, and the log's last instant."""
    files = ws.event_files()
    if not files:
        return [], set(), set(), None
    con = scratch_duckdb()
    src = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "], hive_partitioning=false)"
    cur = con.execute(
        f"SELECT order_id, user_id, ts, amount, coalesce(quantity, 1) AS quantity, event_id FROM {src} "
        "WHERE kind = 'order' AND campaign_id = ? ORDER BY ts, event_id",
        [deal.deal_id],
    )
    names = [d[0] for d in cur.description]
    lines = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    ids = sorted({r["order_id"] for r in lines})
    by_deadline: set[int] = set()
    refunded: set[int] = set()
    if ids:
        got = con.execute(
            f"SELECT order_id, min(ts) AS first FROM {src} WHERE kind = 'refund' AND order_id IN "
            f"(SELECT unnest(?::BIGINT[])) AND NOT starts_with(event_id, 'groupbuy:{deal.deal_id}:') "
            "GROUP BY order_id",
            [ids],
        ).fetchall()
        for oid, first in got:
            refunded.add(oid)
            if _utc(first) <= deal.deadline:
                by_deadline.add(oid)
    con.close()
    return lines, by_deadline, refunded, _last_instant(ws, files)


def _last_instant(ws: Workspace, files: list[str] | None = None) -> dt.datetime | None:
    """The log's latest ``ts`` without reading the log: the footers' ``ts`` statistics of the files in
    the two latest day folders (``events/day=YYYY-MM-DD/``, the local day of ``ts``). The latest
    instant is in the latest local day or, just after a clock set back across midnight (a zone whose
    DST ends at 00:00), in the day before; only a backward jump of a whole day (none since the 19th
    century) could put it further back. Scans the ``ts`` column of every file when a path is not in a
    day folder or a footer has no statistics."""
    import pyarrow.parquet as pq

    files = ws.event_files() if files is None else files
    if not files:
        return None
    days = [f.rsplit("/day=", 1)[-1].split("/", 1)[0] for f in files]
    best: dt.datetime | None = None
    if all("/day=" in f for f in files):
        last_two = sorted(set(days))[-2:]
        for f, d in zip(files, days, strict=True):
            if d not in last_two:
                continue
            md = pq.ParquetFile(f).metadata
            col = md.schema.to_arrow_schema().get_field_index("ts")
            for i in range(md.num_row_groups):
                st = md.row_group(i).column(col).statistics
                if st is None or not st.has_min_max:
                    if md.row_group(i).num_rows == 0:
                        continue
                    return _scan_last(files)
                mx = _utc(st.max)
                best = mx if best is None or mx > best else best
        return best if best is not None else _scan_last(files)
    return _scan_last(files)


def _scan_last(files: list[str]) -> dt.datetime | None:
    con = scratch_duckdb()
    src = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "], hive_partitioning=false)"
    last = con.execute(f"SELECT max(ts) FROM {src}").fetchall()[0][0]
    con.close()
    return _utc(last) if last is not None else None


def _status(
    ws: Workspace, deal: Deal, as_of: dt.datetime | None
) -> tuple[DealStatus, dict[int, float], dict[int, int | None]]:
    """The deal's status, the orders it would refund if it fails (id → amount), and each order's buyer."""
    lines, by_deadline, refunded, last = _deal_orders(ws, deal)
    as_of = _utc(as_of) if as_of is not None else last
    joined: dict[int, float] = {}
    rejected: dict[int, str] = {}
    quantity = 0
    for r in lines:
        t, oid = _utc(r["ts"]), r["order_id"]
        if t > deal.deadline or t < deal.opened_at:
            when = "after the deadline" if t > deal.deadline else "before the deal opened"
            rejected.setdefault(oid, f"order at {t.isoformat()} is {when} {deal.deadline.isoformat()}")
            continue
        joined[oid] = joined.get(oid, 0.0) + (r["amount"] or 0.0)
        if oid not in by_deadline:
            quantity += r["quantity"]
    rejected = {o: why for o, why in rejected.items() if o not in joined}
    status = DealStatus(
        deal=deal,
        as_of=as_of,
        quantity=quantity,
        joined_orders=len(joined),
        buyer_refunded=len(refunded & set(joined)),
        rejected=tuple(sorted(rejected.items())),
        due=deal.state == "open" and as_of is not None and as_of >= deal.deadline,
    )
    # Orders the deal would refund if it fails: joined, never refunded by anyone else; their buyers.
    return status, {o: a for o, a in joined.items() if o not in refunded}, {r["order_id"]: r["user_id"] for r in lines}


def deal_status(ws: Workspace, deal_id: int, *, as_of: dt.datetime | None = None) -> DealStatus:
    """The deal as the log shows it (as of the latest event unless ``as_of``)."""
    return _status(ws, _get(_read_deals(ws), deal_id), as_of)[0]


def _checkpoint(point: str) -> None:
    """A named instant inside settlement; the crash tests make it raise (a process dying there)."""


def _refund_rows(deal: Deal, to_refund: dict[int, float], users: dict[int, int | None]) -> pa.Table:
    rows = [
        {
            "event_id": f"groupbuy:{deal.deal_id}:{oid}",
            "ts": deal.deadline,
            "kind": "refund",
            "user_id": users.get(oid),
            "creator_id": deal.creator_id,
            "order_id": oid,
            "campaign_id": deal.deal_id,
            "amount": amount,
        }
        for oid, amount in sorted(to_refund.items())
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def settle_deal(ws: Workspace, deal_id: int, *, as_of: dt.datetime | None = None, compact: bool = True) -> Deal:
    """Settle one deal at or after its deadline (module docstring); returns its new row.

    A succeeded deal is returned unchanged. A failed deal settled again refunds only on-time orders
    that reached the log after its settlement (none usually; never one twice). Settling an open deal
    before its deadline is an error: orders may still come. ``compact``: then compact the deal's days
    (:func:`deal_days`) holding :data:`COMPACT_MIN_FILES` small files or more, in a transaction of its
    own."""
    settled = _settle(ws, deal_id, as_of)
    if compact:
        ws.compact(min_files=COMPACT_MIN_FILES, days=deal_days(ws, settled))
    return settled


def deal_days(ws: Workspace, deal: Deal) -> list[str]:
    """The local days (``YYYY-MM-DD``, the workspace's time zone) a deal writes to: its joins fall
    between its opening and its deadline, and its refunds are dated at the deadline, so these are
    the days a settlement compacts — not every day of the log that holds small files."""
    zone = ZoneInfo(ws.timezone)
    first, last = _utc(deal.opened_at).astimezone(zone).date(), _utc(deal.deadline).astimezone(zone).date()
    return [str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]


def _settle(ws: Workspace, deal_id: int, as_of: dt.datetime | None) -> Deal:
    with ws.transaction() as tx:
        deals = _read_deals(ws)
        deal = _get(deals, deal_id)
        if deal.state == "succeeded":
            return deal
        status, to_refund, users = _status(ws, deal, as_of)
        if deal.state == "open" and not status.due:
            when = status.as_of.isoformat() if status.as_of else "an empty log"
            raise GroupBuyError(f"deal {deal_id}: open until {deal.deadline.isoformat()}; cannot settle at {when}")
        failed = deal.state == "failed" or status.quantity < deal.target_quantity
        written = 0
        if failed and to_refund:
            _checkpoint("before-refunds")
            written = tx.append(_refund_rows(deal, to_refund, users), file=f"groupbuy:{deal_id}:settle").added
            _checkpoint("after-refunds")
        if deal.state == "failed":
            settled = replace(deal, refunds_written=(deal.refunds_written or 0) + written)
        else:
            settled = replace(
                deal,
                state="failed" if failed else "succeeded",
                settled_at=status.as_of,
                quantity=status.quantity,
                orders=status.joined_orders,
                refunds_written=written,
            )
        if settled != deal:
            deals[deal_id] = settled
            _write_deals(tx, deals)
        _checkpoint("before-commit")
    return settled


def settle_due(ws: Workspace, *, as_of: dt.datetime | None = None, compact: bool = True) -> list[Deal]:
    """Settle every open deal whose deadline has passed at ``as_of`` (each in its own transaction), then
    compact once as :func:`settle_deal` does. Whether a deal is due needs only the as-of time
    (:attr:`DealStatus.due`), not its orders."""
    out = []
    open_deals = [d for d in list_deals(ws) if d.state == "open"]
    when = _utc(as_of) if as_of is not None else (_last_instant(ws) if open_deals else None)
    for deal in open_deals:
        if when is not None and when >= deal.deadline:
            out.append(settle_deal(ws, deal.deal_id, as_of=as_of, compact=False))
    if out and compact:
        ws.compact(min_files=COMPACT_MIN_FILES, days=sorted({d for deal in out for d in deal_days(ws, deal)}))
    return out
