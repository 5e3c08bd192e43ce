"""Live-commerce commands: ``trustecon live WS`` (the room monitor replayed from the log) and
``trustecon groupbuy open|join|status|settle WS …`` (group buys, DESIGN.md §7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer
from rich.table import Table

from trustecon.cli._app import (
    EngineOpt,
    JsonOpt,
    app,
    check_engine,
    console,
    err_console,
    fail,
    open_workspace,
    parse_instant,
    print_json,
    rows_view,
)

if TYPE_CHECKING:  # the CLI imports the live layer lazily, inside commands
    from trustecon.live.rooms import RoomSnapshot

__all__: list[str] = []

groupbuy_app = typer.Typer(help="Group buys: open a deal, join orders, see its status, settle it at the deadline.")
app.add_typer(groupbuy_app, name="groupbuy")


def _when(value: str | None, option: str) -> dt.datetime | None:
    return parse_instant(value, option)


def _num(x: float | None, fmt: str = "{:,.2f}") -> str:
    return "—" if x is None else fmt.format(x)


@app.command()
def live(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    session: int | None = typer.Option(None, "--session", help="One session (with its per-minute viewers)."),
    check: bool = typer.Option(
        False, "--check", help="Also compute the batch KPIs on --engine; exit 1 if they differ."
    ),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The live-room monitor's numbers per session, replayed from the event log (equal to the batch KPIs)."""
    from trustecon.live.monitor import replay

    ws = open_workspace(workspace)
    mon = replay(ws.events_arrow())
    if check:
        from trustecon.engine import connect
        from trustecon.live.rooms import differences

        check_engine(engine)
        diffs = differences(mon.snapshot_all(), ws.events(connect(engine)))
        for line in diffs[:20]:
            err_console.print(f"[red]differs:[/] {line}", highlight=False)
        if diffs:
            fail(f"the monitor differs from the batch KPIs ({engine}) in {len(diffs)} places", code=1)
        err_console.print(f"monitor == batch KPIs ({engine}) on {len(mon.sessions())} sessions")
    if session is not None:
        try:
            snaps = [mon.snapshot(session)]
        except KeyError as exc:
            fail(str(exc.args[0]))
    else:
        snaps = mon.snapshot_all()
    if as_json:
        rows: list[dict[str, Any]] = [s.as_dict() for s in snaps]
        if session is None:
            for r in rows:
                r.pop("concurrent_per_minute")
        print_json({"workspace": str(workspace), "currency": ws.currency, "sessions": rows})
        return
    if not snaps:
        console.print("no live sessions in the log")
        return
    if session is not None:
        console.print(_one_session(snaps[0], ws.currency))
        if snaps[0].concurrent_per_minute:
            series = " ".join(str(n) for _, n in snaps[0].concurrent_per_minute)
            console.print(f"concurrent viewers per minute from {snaps[0].concurrent_per_minute[0][0]:%H:%M}: {series}")
        return
    t, hidden = rooms_table(snaps, f"live rooms of {workspace} ({len(snaps)} sessions; money in {ws.currency})",
                            console.width)
    console.print(t)
    if hidden:
        console.print(
            f"{len(hidden)} columns left out at width {console.width}: {', '.join(c.header for c in hidden)} "
            "(a wider terminal shows them; --session S shows one session whole; --json has everything)",
            soft_wrap=True,
        )


@dataclass(frozen=True)
class _Col:
    header: str
    #: Kept while the table fits the terminal, lowest first; 0 is never left out.
    priority: int
    cell: Callable[[RoomSnapshot], str]
    label: str = ""
    justify: Literal["left", "right"] = "right"


def _funnel(s: RoomSnapshot) -> str:
    return "→".join(str(n) for n in (s.entered, s.watched_1min, s.clicked, s.ordered, s.kept))


# The room monitor's per-session numbers, in the order a host reads them. Priorities say which stay on a
# narrow terminal: who and when, then the money, then reach and engagement; the rest fit or are named
# as left out (a table squeezed to 80 columns printed every cell as "0…").
_COLS: tuple[_Col, ...] = (
    _Col("session", 0, lambda s: str(s.session_id), "session"),
    _Col("host", 0, lambda s: str(s.creator_id), "host (creator)"),
    _Col("start", 1, lambda s: s.start.strftime("%m-%d %H:%M") if s.start else "—", "start", "left"),
    _Col("visits", 2, lambda s: f"{s.visits:,}", "visits (entries)"),
    _Col("viewers", 1, lambda s: f"{s.unique_viewers:,}", "unique viewers"),
    _Col("peak", 3, lambda s: str(s.peak_concurrent), "peak concurrent viewers"),
    _Col("min/visit", 2, lambda s: _num(s.watch_minutes_per_visit), "watch minutes per visit"),
    _Col("seen/visit", 5, lambda s: _num(s.products_seen_per_visit), "products seen per visit"),
    _Col("inter/min", 3, lambda s: _num(s.interactions_per_minute), "interactions per minute"),
    _Col("funnel e→w→c→o→k", 6, _funnel, "funnel: entered → watched 1 min → clicked → ordered → kept"),
    _Col("GMV", 1, lambda s: _num(s.gmv), "GMV"),
    _Col("UV value", 4, lambda s: _num(s.uv_value), "UV value (GMV per unique viewer)"),
    _Col("GPM", 3, lambda s: _num(s.gpm, "{:,.0f}"), "GPM (GMV per 1,000 visits)"),
    _Col("follow conv", 4, lambda s: _num(s.follower_conversion, "{:.1%}"), "follower conversion"),
    _Col("old fans", 5, lambda s: _num(s.old_fan_buyer_share, "{:.0%}"), "old-fan share of buyers"),
)


def _width(cols: Sequence[_Col], cells: dict[str, int]) -> int:
    """Width of a rich table with these columns: each column its widest cell or header (so nothing
    wraps), plus two of padding and one border; one more border at the end."""
    return 1 + sum(cells[c.header] + 3 for c in cols)


def _fit(snaps: Sequence[RoomSnapshot], width: int) -> tuple[list[_Col], list[_Col]]:
    """The columns that fit ``width`` (dropping the highest priority number first, the last listed
    first among equals) and those left out, both in table order."""
    cells = {
        c.header: max([len(c.header)] + [len(c.cell(s)) for s in snaps]) for c in _COLS
    }
    shown = list(_COLS)
    for c in sorted(_COLS, key=lambda c: (-c.priority, -_COLS.index(c))):
        if _width(shown, cells) <= width or c.priority == 0:
            break
        shown.remove(c)
    return shown, [c for c in _COLS if c not in shown]


def rooms_table(snaps: Sequence[RoomSnapshot], title: str, width: int) -> tuple[Table, list[_Col]]:
    """The sessions as one table no wider than ``width``, and the columns left out to make it fit."""
    shown, hidden = _fit(snaps, width)
    t = Table(title=title)
    for c in shown:
        t.add_column(c.header, justify=c.justify, no_wrap=True)
    for s in snaps:
        t.add_row(*(c.cell(s) for c in shown))
    return t, hidden


def _one_session(s: RoomSnapshot, currency: str) -> Table:
    """One session as a two-column table (fits any terminal), every monitor number named in full."""
    t = Table(title=f"live session {s.session_id} (money in {currency})", show_header=False)
    t.add_column("", justify="left")
    t.add_column("", justify="right")
    state = "live now" if s.live else (f"ended {s.end:%Y-%m-%d %H:%M}" if s.end else "ended")
    t.add_row("state", state)
    for c in _COLS:
        t.add_row(c.label, c.cell(s) if c.header != "start" else (f"{s.start:%Y-%m-%d %H:%M}" if s.start else "—"))
    t.add_row("orders / buyers", f"{s.orders:,} / {s.buyers:,}")
    t.add_row("AOV", _num(s.aov))
    t.add_row("new followers", f"{s.new_followers:,}")
    return t


def _deal_dict(d: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(d)


@groupbuy_app.command("open")
def gb_open(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    deal: int = typer.Option(..., "--deal", help="Deal id (orders name it in campaign_id)."),
    creator: int = typer.Option(..., "--creator", help="The creator opening the deal."),
    product: int = typer.Option(..., "--product", help="The product sold."),
    price: float = typer.Option(..., "--price", help="Unit price."),
    target: int = typer.Option(..., "--target", help="Target quantity: reached by the deadline = success."),
    deadline: str = typer.Option(..., "--deadline", help="ISO 8601 instant."),
    opened_at: str | None = typer.Option(None, "--opened-at", help="ISO 8601 (default: the latest event)."),
    as_json: bool = JsonOpt,
) -> None:
    """Open a group-buy deal."""
    from trustecon.live.groupbuy import GroupBuyError, open_deal

    ws = open_workspace(workspace)
    opened = _when(opened_at, "--opened-at") or _latest(ws)
    try:
        d = open_deal(
            ws,
            deal,
            creator_id=creator,
            product_id=product,
            unit_price=price,
            target_quantity=target,
            deadline=_when(deadline, "--deadline"),  # type: ignore[arg-type]
            opened_at=opened,
        )
    except GroupBuyError as exc:
        fail(str(exc))
    if as_json:
        print_json(_deal_dict(d))
    else:
        console.print(
            f"deal {d.deal_id} open: {d.target_quantity} × product {d.product_id} by {d.deadline.isoformat()}"
        )


def _latest(ws: Any) -> dt.datetime:
    ev = ws.events_arrow()
    if not ev.num_rows:
        fail("--opened-at: the log is empty, give the instant explicitly")
    import pyarrow.compute as pc

    return pc.max(ev["ts"]).as_py()


@groupbuy_app.command("join")
def gb_join(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    deal: int = typer.Option(..., "--deal"),
    user: int = typer.Option(..., "--user"),
    order: int = typer.Option(..., "--order", help="Order id."),
    at: str = typer.Option(..., "--at", help="Order time, ISO 8601."),
    quantity: int = typer.Option(1, "--quantity"),
) -> None:
    """Place an order in a deal (rejected with the reason when the deal is closed or the order late)."""
    from trustecon.live.groupbuy import GroupBuyError, join_deal

    ws = open_workspace(workspace)
    try:
        new = join_deal(ws, deal, user_id=user, order_id=order, ts=_when(at, "--at"), quantity=quantity)  # type: ignore[arg-type]
    except GroupBuyError as exc:
        fail(str(exc))
    console.print(f"order {order} joined deal {deal}" if new else
                  f"order {order} was already in deal {deal}: nothing written")


@groupbuy_app.command("status")
def gb_status(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    deal: int | None = typer.Option(None, "--deal", help="One deal (default: all)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Default: the latest event."),
    as_json: bool = JsonOpt,
) -> None:
    """Deals with their counted quantity, joined, buyer-refunded and rejected orders."""
    from trustecon.live.groupbuy import GroupBuyError, deal_status, list_deals

    ws = open_workspace(workspace)
    when = _when(as_of, "--as-of")
    try:
        ids = [deal] if deal is not None else [d.deal_id for d in list_deals(ws)]
        rows = [deal_status(ws, i, as_of=when) for i in ids]
    except GroupBuyError as exc:
        fail(str(exc))
    if as_json:
        print_json({"workspace": str(workspace), "deals": [r.as_dict() for r in rows]})
        return
    if not rows:
        console.print("no group-buy deals in this workspace")
        return
    view = [
        {
            "deal": r.deal.deal_id,
            "state": r.deal.state,
            "quantity / target": f"{r.quantity} / {r.deal.target_quantity}",
            "orders": r.joined_orders,
            "buyer refunds": r.buyer_refunded,
            "rejected": len(r.rejected),
            "deadline": r.deal.deadline,
            "due": r.due,
        }
        for r in rows
    ]
    console.print(rows_view(view, console.width, title=f"group buys of {workspace}", right=["quantity / target"]))


@groupbuy_app.command("settle")
def gb_settle(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    deal: int | None = typer.Option(None, "--deal", help="One deal (default: every deal past its deadline)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Default: the latest event."),
    as_json: bool = JsonOpt,
) -> None:
    """Settle at the deadline: success keeps the orders, failure refunds each order exactly once."""
    from trustecon.live.groupbuy import GroupBuyError, list_deals, settle_deal, settle_due

    ws = open_workspace(workspace)
    when = _when(as_of, "--as-of")
    before = {d.deal_id: d.refunds_written or 0 for d in list_deals(ws)}
    try:
        done = [settle_deal(ws, deal, as_of=when)] if deal is not None else settle_due(ws, as_of=when)
    except GroupBuyError as exc:
        fail(str(exc))
    if as_json:
        print_json({"workspace": str(workspace), "settled": [_deal_dict(d) for d in done]})
        return
    if not done:
        console.print("no deal is due")
    for d in done:
        console.print(
            f"deal {d.deal_id}: {d.state} ({d.quantity} / {d.target_quantity}); refunds written now: "
            f"{(d.refunds_written or 0) - before.get(d.deal_id, 0)}, in all: {d.refunds_written or 0}"
        )
