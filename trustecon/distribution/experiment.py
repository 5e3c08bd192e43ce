"""The policy experiment (issue 5, acceptance 1): traffic, algorithm, trust and the engine's feed on
one simulated world, compared by the KPI code.

:func:`policy_experiment` simulates the same world (preset, seed, days) once per policy, each into
its own workspace, and returns :func:`policy_outcomes` per policy. ``traffic``, ``algorithm`` and
``trust`` are the simulator's built-ins (they read latent state); ``engine`` is
:class:`~trustecon.distribution.policy.EnginePolicy`, which sees only the logged events.
:func:`policy_daily` gives the per-day series (fan content reach by publish day, orders and buyers
by day) used to diagnose where the policies differ.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["EXPERIMENT_POLICIES", "policy_daily", "policy_experiment", "policy_outcomes"]

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


def policy_daily(ws: Any, con: Any) -> dict[str, list[Any]]:
    """Per-day series of one workspace: ``day`` labels, ``fan_reach`` (fan content reach of the
    content published that day, :func:`trustecon.kpis.fan_content_reach` with ``period='day'``),
    ``orders`` and ``buyers`` (order lines and distinct buyers that day) and ``first_month_buyers``
    (buyers that day who also bought in the log's first month: the numerator side of repurchase)."""
    from trustecon.kpis import reach
    from trustecon.kpis._base import period_label

    e = ws.events(con)
    tz = ws.timezone
    fr = reach.fan_content_reach(e, timezone=tz, period="day").to_pyarrow()
    fan = dict(zip(fr["period"].to_pylist(), fr["value"].to_pylist(), strict=True))
    o = e.filter(e.kind == "order").mutate(day=period_label(e.ts, tz, "day"), month=period_label(e.ts, tz, "month"))
    first_month = o.month.min()
    early = o.filter(o.month == first_month).select(b_user=o.user_id).distinct()
    o = o.left_join(early, o.user_id == early.b_user)
    agg = o.group_by("day").aggregate(orders=o.count(), buyers=o.user_id.nunique()).to_pyarrow()
    ob = o.filter(o.b_user.notnull())
    agg_b = ob.group_by("day").aggregate(n=ob.user_id.nunique()).to_pyarrow()
    fmb = dict(zip(agg_b["day"].to_pylist(), agg_b["n"].to_pylist(), strict=True))
    per = {d: (n, b, fmb.get(d, 0)) for d, n, b in zip(*(agg[c].to_pylist() for c in ("day", "orders", "buyers")),
                                                        strict=True)}
    days = sorted(set(fan) | set(per))
    return {
        "day": days,
        "fan_reach": [fan.get(d) for d in days],
        "orders": [per.get(d, (0, 0, 0))[0] for d in days],
        "buyers": [per.get(d, (0, 0, 0))[1] for d in days],
        "first_month_buyers": [per.get(d, (0, 0, 0))[2] for d in days],
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
    policy_options: dict[str, Any] | None = None,
    daily: bool = False,
    daily_streams: bool = False,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Simulate the same world (preset, seed, days) once per policy into ``root/<policy>`` and
    compare the outcomes. ``engine`` is the trust-first feed (:class:`EnginePolicy` with
    ``feed_config`` and ``policy_options``), seeing only the logged events; the others are the
    simulator's built-ins. The creator-income audience threshold N scales with the population:
    ``max(1, users // 200)`` (10,000 of 2 M in spirit). ``daily``: add :func:`policy_daily` per policy.
    ``daily_streams``: common random numbers across the policies' runs
    (:attr:`~trustecon.simulate.config.SimConfig.daily_streams`; off by default, as every recorded round)."""
    from trustecon.distribution.policy import ENGINE_FEED, EnginePolicy
    from trustecon.engine import connect
    from trustecon.simulate.config import preset
    from trustecon.simulate.run import simulate
    from trustecon.store import Workspace

    base = preset(preset_name)
    changes: dict[str, Any] = {"seed": seed, "daily_streams": daily_streams}
    if days is not None:
        changes["days"] = days
    rows: dict[str, dict[str, Any]] = {}
    series: dict[str, dict[str, list[Any]]] = {}
    min_followers = max(1, base.users // 200)
    fc = feed_config or ENGINE_FEED
    for name in policies:
        cfg = dataclasses.replace(base, **changes, policy=name if name != "engine" else base.policy)
        ws = Workspace.init(Path(root) / name)
        pol = EnginePolicy(fc, random_state=seed, **(policy_options or {})) if name == "engine" else None
        t = time.perf_counter()
        res = simulate(ws, cfg, policy=pol, calibrate=False)
        con = connect(engine)
        rows[name] = {
            **policy_outcomes(ws, con, min_followers),
            "events": res.events.added,
            "seconds": round(time.perf_counter() - t, 1),
        }
        if daily:
            series[name] = policy_daily(ws, con)
        if progress is not None:
            progress(name, rows[name])
    cfg_used = dataclasses.replace(base, **changes)
    out: dict[str, Any] = {
        "preset": preset_name,
        "seed": seed,
        "days": cfg_used.days,
        "users": cfg_used.users,
        "creators": cfg_used.creators,
        "creator_income_min_followers": min_followers,
        "engine_gini_cap": fc.gini_cap,
        "engine_feed_config": fc.as_dict(),
        "policies": rows,
    }
    if daily:
        out["daily"] = series
    return out
