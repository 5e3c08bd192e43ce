"""``trustecon simulate WORKSPACE``: run the simulator into a (new) workspace."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trustecon.cli._app import JsonOpt, app, console, err_console, fail, print_json

__all__: list[str] = []


@app.command()
def simulate(
    workspace: Path = typer.Argument(..., help="Workspace folder (created if absent; must hold no events)."),
    preset: str = typer.Option("default", "--preset", help="small (seconds) | default (calibrated) | large."),
    users: int | None = typer.Option(None, "--users", help="Number of users (creators are users)."),
    creators: int | None = typer.Option(None, "--creators", help="Number of creators."),
    days: int | None = typer.Option(None, "--days", help="Simulated days."),
    policy: str | None = typer.Option(
        None, "--policy", help="traffic | algorithm | trust | engine (the engine's own trust-first feed)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (same seed, same log)."),
    config: Path | None = typer.Option(None, "--config", help="TOML: settings, targets and attacks tables."),
    timezone: str = typer.Option("UTC", "--timezone", help="Time zone of a new workspace."),
    json_out: bool = JsonOpt,
) -> None:
    """Simulate a creator-commerce platform and write its event log, ground truth and calibration."""
    from trustecon.simulate import ConfigError, SimConfig
    from trustecon.simulate import preset as get_preset
    from trustecon.simulate import simulate as run
    from trustecon.simulate.config import POLICIES
    from trustecon.store import Workspace, WorkspaceError

    # Everything is checked before anything is written.
    # "engine" is not a built-in of the simulator (sources never import the apps): the interface
    # passes the feed in as a Policy object, and the config keeps its built-in name for validation.
    engine_policy = policy == "engine"
    if policy is not None and not engine_policy and policy not in POLICIES:
        fail(f"--policy: unknown policy {policy!r}; choose one of {', '.join((*POLICIES, 'engine'))}")
    try:
        cfg = get_preset(preset)
        if config is not None:
            cfg = SimConfig.from_toml(config, base=cfg)
        cfg = cfg.replace(
            users=users, creators=creators, days=days, policy=None if engine_policy else policy, seed=seed
        )
        cfg.validate()
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}")
    try:
        if (workspace / "trustecon.toml").exists():
            ws = Workspace.open(workspace)
            if ws.event_count():
                fail(f"{workspace}: the workspace already holds events; simulate into a new workspace")
        else:
            ws = Workspace.init(workspace, timezone=timezone)
    except WorkspaceError as exc:
        fail(str(exc))

    progress = Progress(
        TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
        TextColumn("days · {task.fields[events]:,} events"), TimeElapsedColumn(),
        console=err_console, disable=json_out,
    )
    with progress:
        task = progress.add_task("days", total=cfg.days, events=0)
        pol = None
        if engine_policy:
            from trustecon.distribution.policy import EnginePolicy

            pol = EnginePolicy(random_state=cfg.seed)
        res = run(ws, cfg, policy=pol, progress=lambda d, n, ev: progress.update(task, completed=d, events=ev))
    if json_out:
        print_json({"workspace": str(workspace), "preset": preset, "seed": cfg.seed,
                    "policy": "engine" if engine_policy else cfg.policy,
                    **res.as_dict()})
        return
    console.print(f"{res.events.added:,} events in {cfg.days} days ({res.seconds_total:.1f} s) → {workspace}")
    t = Table(title="calibration (trustecon.kpis.headline vs the article's figures)")
    t.add_column("metric")
    t.add_column("target", justify="right")
    t.add_column("achieved", justify="right")
    t.add_column("off", justify="right")
    for name, row in res.calibration.items():
        a, target = row["achieved"], row["target"]
        if a is None:
            t.add_row(name, f"{target:g}", "—", str(row.get("reason")))
        else:
            t.add_row(name, f"{target:g}", f"{a:.3f}", f"{(a - target) / target:+.1%}")
    console.print(t)
