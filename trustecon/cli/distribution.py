"""Distribution commands: ``feed``, ``suggest``, ``experiment policies`` (a thin layer over
:mod:`trustecon.distribution`; the experiment itself is :func:`trustecon.distribution.experiment.policy_experiment`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trustecon.cli._app import (
    EngineOpt,
    JsonOpt,
    app,
    check_engine,
    console,
    experiment_app,
    fail,
    new_folder,
    print_json,
    rows_view,
)

__all__: list[str] = []


def _open(workspace: Path, engine: str) -> tuple[Any, Any]:
    from trustecon.engine import connect
    from trustecon.store import Workspace, WorkspaceError

    check_engine(engine)
    try:
        ws = Workspace.open(workspace)
    except WorkspaceError as exc:
        fail(str(exc))
    return ws, connect(engine)


def _config(k: int, private_share: float, gini_cap: float, exploration: float) -> Any:
    from trustecon.distribution import FeedConfig

    for name, v in (("--private-share", private_share), ("--gini-cap", gini_cap), ("--exploration", exploration)):
        if not 0.0 <= v <= 1.0:
            fail(f"{name}: must be between 0 and 1, got {v}")
    if k < 1:
        fail(f"--k: must be >= 1, got {k}")
    return FeedConfig(k=k, private_share=private_share, gini_cap=gini_cap, exploration_rate=exploration)


KOpt = typer.Option(20, "--k", help="Feed slots (notices come on top).")
PrivOpt = typer.Option(0.5, "--private-share", help="Max share of slots for followed/trusted creators.")
CapOpt = typer.Option(0.6, "--gini-cap", help="Cap on the period's creator-exposure Gini.")
ExpOpt = typer.Option(0.1, "--exploration", help="Share of slots for new and long-tail creators.")


@app.command()
def feed(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    user: int | None = typer.Option(None, "--user", help="Show this user's feed (from the built tables)."),
    all_users: bool = typer.Option(False, "--all", help="Build every active user's feed into tables/feeds."),
    creator: int | None = typer.Option(None, "--creator", help="Also say where this creator stands in the feed."),
    peek: bool = typer.Option(
        False, "--peek", help="Show pending notices without marking them delivered (looking at someone's feed)."
    ),
    k: int = KOpt,
    private_share: float = PrivOpt,
    gini_cap: float = CapOpt,
    exploration: float = ExpOpt,
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build feeds (``--all``) or show one user's feed (``--user U``; builds first if none is built)."""
    from trustecon.distribution import FeedServer, UnknownCreatorError, build_feeds

    if user is None and not all_users:
        fail("give --user U (one feed) or --all (build every active user's feed)")
    ws, con = _open(workspace, engine)
    cfg = _config(k, private_share, gini_cap, exploration)
    report = None
    if all_users or not ws.has_table("feed_creators"):
        try:
            report = build_feeds(ws, con, cfg)
        except ValueError as exc:
            fail(str(exc))
    if user is None:
        if as_json:
            print_json({"workspace": str(workspace), "build": report})
        else:
            assert report is not None  # no --user means --all, so the feeds were built above
            console.print(
                f"built feeds for {report['users']:,} users over {report['creators']:,} creators "
                f"({report['items']:,} items, {report['notices_delivered']:,} notices): exposure Gini "
                f"{report['gini_before']:.3f} → {report['gini_after']:.3f} (cap {cfg.gini_cap}), relevance cost "
                f"{report['relevance_cost']:.2%}; wrote tables/feeds"
            )
        return
    server = FeedServer(ws, con, cfg)
    if creator is not None:
        try:
            server.check_creator(creator)
        except UnknownCreatorError as exc:
            fail(str(exc))
    items = server.feed(user, deliver=not peek)
    server.save_deliveries()
    known = server.is_known_user(user)
    where = next((i["rank"] for i in items if i["creator_id"] == creator and i["source"] != "notice"), None)
    if as_json:
        out: dict[str, Any] = {"user_id": user, "cold_start": not known, "items": items}
        if creator is not None:
            out["creator"] = {"creator_id": creator, "rank": where}
        print_json(out)
        return

    rows = [{"rank": i["rank"], "creator": i["creator_id"], "content": i["content_id"], "source": i["source"],
             "score": f"{i['score']:.3f}", "why": i["because"]} for i in items]
    title = f"feed of user {user}" + ("" if known else " (cold start: never seen)")
    console.print(rows_view(rows, console.width, title=title, right=["score"]))
    if creator is not None:
        console.print(f"creator {creator}: " + (f"rank {where}" if where is not None else f"not in the top {cfg.k}"))


@app.command()
def suggest(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    user: int = typer.Option(..., "--user", help="Whom to suggest creators to."),
    k: int = typer.Option(10, "--k", help="How many suggestions."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Creators to follow next ("who to trust next"): trust propagation blended with co-behaviour."""
    from trustecon.distribution.suggest import suggest_creators

    ws, con = _open(workspace, engine)
    if k < 1:
        fail(f"--k: must be >= 1, got {k}")
    if not ws.event_files():
        fail(f"{workspace}: the event log is empty; nothing to suggest")
    got = suggest_creators(ws, con, user, k)
    if as_json:
        print_json({"user_id": user, "suggestions": got})
        return
    if not got:
        console.print(f"no creator to suggest to user {user}: they follow every creator the log names")
        return
    rows = [{"creator": g["creator_id"], "score": f"{g['score']:.3f}", "why": g["because"]} for g in got]
    console.print(rows_view(rows, console.width, title=f"creators for user {user} to follow", right=["score"]))


# ----------------------------------------------------------------------------- experiment policies
@experiment_app.command("policies")
def experiment_policies(
    workspace: Path = typer.Argument(..., help="Folder to create; one sub-workspace per policy."),
    preset: str = typer.Option("default", "--preset", help="Simulator preset: small, default or large."),
    seed: int = typer.Option(0, "--seed", help="One seed for every policy."),
    days: int | None = typer.Option(None, "--days", help="Days to simulate (default: the preset's)."),
    daily_streams: bool = typer.Option(False, "--daily-streams", help="Common random numbers: every day of "
                                       "every policy's run draws from the same daily stream (paired runs)."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run traffic, algorithm, trust and the engine's feed on the same world; compare the KPIs."""
    from trustecon.distribution.experiment import policy_experiment

    check_engine(engine)
    new_folder(workspace)

    def show(name: str, row: dict[str, Any]) -> None:
        if not as_json:
            console.print(f"{name}: {row['events']:,} events in {row['seconds']} s")

    try:
        res = policy_experiment(workspace, preset, seed=seed, days=days, engine=engine, daily_streams=daily_streams,
                                progress=show)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json(res)
        return
    from rich.table import Table

    t = Table(title=f"policies on preset {preset} (seed {seed}, {res['days']} days)")
    t.add_column("metric")
    for p in res["policies"]:
        t.add_column(p, justify="right")
    for metric in next(iter(res["policies"].values())):
        vals = [res["policies"][p][metric] for p in res["policies"]]
        # Counts in full (events: 177,405, not 1.774e+05); measures to 4 significant digits.
        t.add_row(metric, *("—" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.4g}" for v in vals))
    console.print(t)
    if "creator_income_min_followers" in res:
        console.print(f"creator_income_share: of creators with >= {res['creator_income_min_followers']:,} followers "
                      f"(scaled to the simulated population; 10,000 on real platforms)")
