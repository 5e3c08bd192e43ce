"""Live-commerce commands: ``trustecon live WS`` (the room monitor replayed from the log) and
``trustecon groupbuy open|join|status|settle WS …`` (group buys, DESIGN.md §7)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

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
)

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
    t = Table(title=f"live rooms of {workspace} ({len(snaps)} sessions; money in {ws.currency})")
    cols = ["session", "host", "start", "visits", "viewers", "peak", "min/visit", "seen/visit", "inter/min"]
    cols += ["funnel e→w→c→o→k", "GMV", "UV value", "GPM", "follow conv", "old fans"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("start",) else "right")
    for s in snaps:
        funnel = "→".join(str(n) for n in (s.entered, s.watched_1min, s.clicked, s.ordered, s.kept))
        t.add_row(
            str(s.session_id),
            str(s.creator_id),
            s.start.strftime("%m-%d %H:%M") if s.start else "—",
            f"{s.visits:,}",
            f"{s.unique_viewers:,}",
            str(s.peak_concurrent),
            _num(s.watch_minutes_per_visit),
            _num(s.products_seen_per_visit),
            _num(s.interactions_per_minute),
            funnel,
            _num(s.gmv),
            _num(s.uv_value),
            _num(s.gpm, "{:,.0f}"),
            _num(s.follower_conversion, "{:.1%}"),
            _num(s.old_fan_buyer_share, "{:.0%}"),
        )
    console.print(t)
    if session is not None and snaps[0].concurrent_per_minute:
        series = " ".join(str(n) for _, n in snaps[0].concurrent_per_minute)
        console.print(f"concurrent viewers per minute from {snaps[0].concurrent_per_minute[0][0]:%H:%M}: {series}")


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
    t = Table(title=f"group buys of {workspace}")
    for c in ("deal", "state", "quantity / target", "orders", "buyer refunds", "rejected", "deadline", "due"):
        t.add_column(c)
    for r in rows:
        d = r.deal
        t.add_row(
            str(d.deal_id),
            d.state,
            f"{r.quantity} / {d.target_quantity}",
            str(r.joined_orders),
            str(r.buyer_refunded),
            str(len(r.rejected)),
            d.deadline.isoformat(),
            "yes" if r.due else "no",
        )
    console.print(t)


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
