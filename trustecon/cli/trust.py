"""Trust commands: ``build`` (all trust tables) and ``explain`` (why a score is what it is)."""

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
    fail,
    open_workspace,
    parse_instant,
    print_json,
    rows_view,
)

__all__: list[str] = []


def _parse_as_of(value: str | None) -> dt.datetime | None:
    return parse_instant(value, "--as-of")


_open = open_workspace


@app.command()
def build(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    engine: str = EngineOpt,
    as_of: str | None = typer.Option(None, "--as-of", help="Score as of this instant (default: the latest event)."),
    json_out: bool = JsonOpt,
) -> None:
    """Build pair trust, creator trust, creator credibility and seller reliability (with its ledger) in one commit."""
    from trustecon.trust.build import build as run

    check_engine(engine)
    ws = _open(workspace)
    when = _parse_as_of(as_of)
    with console.status("building trust tables…", spinner="dots") if not json_out else _null():
        try:
            res = run(ws, engine=engine, as_of=when)
        except ValueError as exc:
            fail(str(exc))
    if json_out:
        print_json(res.as_dict())
        return
    for m in res.messages:
        console.print(f"[yellow]note:[/] {m}")
    t = Table(title=f"trust tables as of {res.as_of.isoformat() if res.as_of else '—'}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in res.rows.items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    if res.seed_rule:
        console.print(f"credibility seeds: {res.seeds:,} users by the '{res.seed_rule}' rule")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


@app.command()
def explain(
    workspace: Path = typer.Argument(..., help="Workspace folder (after 'trustecon build')."),
    user: int | None = typer.Option(None, "--user", help="User id: with --creator, explain T(user → creator)."),
    creator: int | None = typer.Option(None, "--creator",
                                       help="Creator id: alone, explain C(creator) and creator trust T_c."),
    seller: int | None = typer.Option(None, "--seller", help="Seller id: explain R(seller)."),
    seller_kind: str = typer.Option("creator", "--seller-kind", help="creator or brand."),
    engine: str = EngineOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Explain a trust score: the evidence that moved it, by kind and by time.

    An id without a score (not in the log, or no evidence as of the build) is a one-line error, exit 2."""
    from trustecon.engine import connect
    from trustecon.trust.lookup import UnknownId, explain_creator_by_id, explain_pair_by_id, explain_seller_by_id

    check_engine(engine)
    ws = _open(workspace)
    if not ws.has_table("pair_trust"):
        fail(f"{workspace}: no trust tables yet; run 'trustecon build {workspace}' first")
    if seller is None and creator is None:
        fail("say what to explain: --user U --creator C, --creator C, or --seller S")
    if seller is not None and (user is not None or creator is not None):
        fail("--seller explains a seller on its own; do not combine it with --user/--creator")
    if user is not None and creator is None:
        fail("--user needs --creator (pair trust is user → creator)")
    if seller is not None and seller_kind not in ("creator", "brand"):
        fail(f"--seller-kind must be creator or brand, not {seller_kind!r}")

    cons: list[Any] = []

    def events() -> Any:  # the log is read only when an id has no row (or for a pair's evidence)
        if not cons:
            cons.append(connect(engine))
        return ws.events(cons[0])

    try:
        if seller is not None:
            out = explain_seller_by_id(ws, events, seller, seller_kind)
        elif user is not None:
            assert creator is not None  # --user without --creator failed above
            out = explain_pair_by_id(ws, events, user, creator)
            if not out["channels"] and not json_out:
                console.print(out["summary"])
                return
        else:
            assert creator is not None  # neither --seller nor --creator failed above
            out = explain_creator_by_id(ws, events, creator)
    except UnknownId as exc:
        fail(str(exc))
    if json_out:
        print_json(out)
        return
    console.print(out["summary"])
    _rows(out.get("channels") or out.get("top_trusters") or out.get("orders_that_moved_it") or [])
    if "creator_trust" in out:
        console.print(out["creator_trust"]["summary"])
        _rows(out["creator_trust"]["channels"])
    for note in (out.get("notes") or {}).values():
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def _rows(rows: list[dict]) -> None:
    if rows:
        console.print(rows_view(rows, console.width))
