"""Distribution commands: ``feed``, ``suggest``, ``experiment policies``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trustecon.cli._app import EngineOpt, JsonOpt, app, console, experiment_app, fail, print_json

__all__: list[str] = []


def _open(workspace: Path, engine: str) -> tuple[Any, Any]:
    from trustecon.engine import ENGINES, connect
    from trustecon.store import Workspace, WorkspaceError

    if engine not in ENGINES:
        fail(f"--engine: unknown engine {engine!r} (expected {', '.join(ENGINES)})")
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
    items = server.feed(user)
    server.save_deliveries()
    known = server.is_known_user(user)
    where = next((i["rank"] for i in items if i["creator_id"] == creator and i["source"] != "notice"), None)
    if as_json:
        out: dict[str, Any] = {"user_id": user, "cold_start": not known, "items": items}
        if creator is not None:
            out["creator"] = {"creator_id": creator, "rank": where}
        print_json(out)
        return
    from rich.table import Table

    t = Table(title=f"feed of user {user}" + ("" if known else " (cold start: never seen)"))
    for col in ("rank", "creator", "content", "source", "score"):
        t.add_column(col, justify="right" if col != "source" else "left")
    for i in items:
        t.add_row(str(i["rank"]), str(i["creator_id"]), str(i["content_id"] or "—"), i["source"], f"{i['score']:.3f}")
    console.print(t)
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
    got = suggest_creators(ws, con, user, k)
    if as_json:
        print_json({"user_id": user, "suggestions": got})
        return
    from rich.table import Table

    t = Table(title=f"creators for user {user} to follow")
    t.add_column("creator", justify="right")
    t.add_column("score", justify="right")
    for g in got:
        t.add_row(str(g["creator_id"]), f"{g['score']:.3f}")
    console.print(t)


# ----------------------------------------------------------------------------- experiment policies
EXPERIMENT_POLICIES: tuple[str, ...] = ("traffic", "algorithm", "trust", "engine")


def _metric(table: Any, col: str = "value") -> float | None:
    rows = table.to_pyarrow().to_pylist()
    if not rows or rows[0].get(col) is None:
        return None
    v = float(rows[0][col])
    return v if v == v and abs(v) != float("inf") else None


def policy_outcomes(ws: Any, con: Any, min_followers: int) -> dict[str, float | None]:
    """The experiment's numbers for one simulated workspace, by the KPI code (period ``all``)."""
    from trustecon.kpis import commerce, creators, exposure, live, reach

    e = ws.events(con)
    tz = ws.timezone
    ipm = live.interactions_per_minute(e, timezone=tz)
    eg = exposure.exposure_gini(e, timezone=tz)
    views = e.filter(e.kind == "view")
    users = e.filter(e.user_id.notnull()).user_id.nunique().to_pyarrow().as_py() or 1
    video_min = (views.watch_ms.sum().to_pyarrow().as_py() or 0) / 60_000
    return {
        "video_watch_min_per_user": video_min / users,
        "live_watch_min_per_visit": _metric(live.live_watch_time(e, timezone=tz)),
        "interactions_per_min_video": _metric(ipm, "video_per_minute"),
        "interactions_per_min_live": _metric(ipm, "live_per_minute"),
        "fan_content_reach": _metric(reach.fan_content_reach(e, timezone=tz)),
        "monthly_repurchase": _metric(commerce.monthly_repurchase(e, timezone=tz)),
        "refund_rate": _metric(commerce.refund_rate(e, timezone=tz)),
        "creator_income_share": _metric(creators.creator_income(e, timezone=tz, min_followers=min_followers)),
        "exposure_gini": _metric(eg),
        "share_creators_exposed": _metric(eg, "share_exposed"),
    }


def policy_experiment(
    root: Path,
    preset_name: str = "default",
    *,
    seed: int = 0,
    days: int | None = None,
    policies: tuple[str, ...] = EXPERIMENT_POLICIES,
    engine: str = "duckdb",
    feed_config: Any = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Simulate the same world (preset, seed, days) once per policy into ``root/<policy>`` and
    compare the outcomes. ``engine`` is the trust-first feed (:class:`EnginePolicy`), seeing only
    the logged events; the others are the simulator's built-ins. The creator-income audience
    threshold N scales with the population: ``max(1, users // 200)`` (10,000 of 2 M in spirit)."""
    import dataclasses
    import time

    from trustecon.distribution.policy import EnginePolicy
    from trustecon.engine import connect
    from trustecon.simulate.config import preset
    from trustecon.simulate.run import simulate
    from trustecon.store import Workspace

    base = preset(preset_name)
    changes: dict[str, Any] = {"seed": seed}
    if days is not None:
        changes["days"] = days
    rows: dict[str, dict[str, Any]] = {}
    min_followers = max(1, base.users // 200)
    for name in policies:
        cfg = dataclasses.replace(base, **changes, policy=name if name != "engine" else base.policy)
        ws = Workspace.init(Path(root) / name)
        pol = EnginePolicy(feed_config, random_state=seed) if name == "engine" else None
        t = time.perf_counter()
        res = simulate(ws, cfg, policy=pol, calibrate=False)
        con = connect(engine)
        rows[name] = {
            **policy_outcomes(ws, con, min_followers),
            "events": res.events.added,
            "seconds": round(time.perf_counter() - t, 1),
        }
        if progress is not None:
            progress(name, rows[name])
    cfg_used = dataclasses.replace(base, **changes)
    fc = feed_config or __import__("trustecon.distribution", fromlist=["FeedConfig"]).FeedConfig()
    return {
        "preset": preset_name,
        "seed": seed,
        "days": cfg_used.days,
        "users": cfg_used.users,
        "creators": cfg_used.creators,
        "creator_income_min_followers": min_followers,
        "engine_gini_cap": fc.gini_cap,
        "policies": rows,
    }


@experiment_app.command("policies")
def experiment_policies(
    workspace: Path = typer.Argument(..., help="Folder to create; one sub-workspace per policy."),
    preset: str = typer.Option("default", "--preset", help="Simulator preset: small, default or large."),
    seed: int = typer.Option(0, "--seed", help="One seed for every policy."),
    days: int | None = typer.Option(None, "--days", help="Days to simulate (default: the preset's)."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run traffic, algorithm, trust and the engine's feed on the same world; compare the KPIs."""
    from trustecon.engine import ENGINES

    if engine not in ENGINES:
        fail(f"--engine: unknown engine {engine!r} (expected {', '.join(ENGINES)})")
    if workspace.exists() and any(workspace.iterdir()):
        fail(f"{workspace}: exists and is not empty; give a new folder")

    def show(name: str, row: dict[str, Any]) -> None:
        if not as_json:
            console.print(f"{name}: {row['events']:,} events in {row['seconds']} s")

    try:
        res = policy_experiment(workspace, preset, seed=seed, days=days, engine=engine, progress=show)
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
        t.add_row(metric, *("—" if v is None else f"{v:,.4g}" for v in vals))
    console.print(t)
