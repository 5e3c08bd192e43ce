"""Run a simulation into a workspace: events day by day, ground truth, provenance, calibration.

:func:`simulate` is the one library call behind ``trustecon simulate``. Each day's events are
appended through the store as one transaction (validated, deduplicated, committed), so memory holds
one day at a time; the truth tables go in together at the end (DESIGN.md §4, ``truth/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import numpy as np
import pyarrow as pa

from trustecon.simulate.config import SimConfig
from trustecon.simulate.market import Market
from trustecon.simulate.policy import Policy
from trustecon.simulate.world import World
from trustecon.store import AppendResult, Workspace

__all__ = ["CalibrationRow", "SimulationResult", "calibration", "simulate", "truth_tables"]


class CalibrationRow(TypedDict):
    """One metric of :func:`calibration` (``reason``, when there, says why ``achieved`` is None)."""

    target: float
    achieved: float | None
    reason: NotRequired[str | None]


@dataclass
class SimulationResult:
    """What a run wrote: events appended (by kind), truth tables, the calibration table."""

    events: AppendResult
    truth: dict[str, int] = field(default_factory=dict)
    calibration: dict[str, CalibrationRow] = field(default_factory=dict)
    seconds_generating: float = 0.0
    seconds_total: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events.as_dict(),
            "truth": self.truth,
            "calibration": self.calibration,
            "seconds_generating": round(self.seconds_generating, 3),
            "seconds_total": round(self.seconds_total, 3),
        }


def simulate(
    ws: Workspace,
    cfg: SimConfig,
    *,
    policy: Policy | None = None,
    market: Market | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    calibrate: bool = True,
) -> SimulationResult:
    """Simulate ``cfg`` into ``ws`` and return what was written.

    ``policy`` replaces the built-in ``cfg.policy`` (e.g. the engine's feed, passed in by the apps
    layer); ``market`` runs brand campaigns (:mod:`trustecon.simulate.market`; the mechanisms are in
    the apps layer). ``progress(day, days, events_so_far)`` is called after each committed day. The config
    is validated before anything is written.
    """
    import time

    cfg.validate()
    if ws.event_count():
        raise ValueError(f"{ws.path}: the workspace already holds events; simulate into a new workspace")
    t_start = time.perf_counter()
    world = World(cfg, policy=policy, timezone=ws.timezone, market=market)
    total = AppendResult()
    gen = 0.0
    for day in range(cfg.days):
        t = time.perf_counter()
        table = world.step(day)
        gen += time.perf_counter() - t
        total += ws.append(table, file=f"simulate:{world.date(day).isoformat()}")
        if progress is not None:
            progress(day + 1, cfg.days, total.added)
    truth = truth_tables(world)
    with ws.transaction() as tx:
        for name, t in truth.items():
            tx.write_table(name, t, area="truth")
    ws.set_config("provenance", {
        "source": "simulator",
        "seed": cfg.seed,
        "policy": getattr(world.policy, "name", type(world.policy).__name__),
        **({"market": getattr(market, "name", type(market).__name__)} if market is not None else {}),
        "config": _plain(cfg.as_dict()),
    })
    result = SimulationResult(events=total, truth={k: v.num_rows for k, v in truth.items()},
                              seconds_generating=gen)
    if calibrate:
        result.calibration = calibration(ws)
        ws.write_json("calibration.json", result.calibration)
    result.seconds_total = time.perf_counter() - t_start
    return result


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def truth_tables(world: World) -> dict[str, pa.Table]:
    """Ground truth of a finished world (DESIGN.md §4): latent_trust, accounts, creators, products, attacks."""
    pop, cfg, pairs, plan = world.pop, world.cfg, world.pairs, world.plan
    order = np.argsort(pairs.keys)  # by (user, creator)
    u, c = pairs.split(pairs.keys[order])
    latent = pa.table({
        "user_id": pa.array(u + 1, pa.int64()),
        "creator_id": pa.array(c + 1, pa.int64()),
        "trust": pa.array(pairs.trust[order], pa.float64()),
        "follows": pa.array(pairs.follow[order]),
    })
    n_all = cfg.users + plan.n_fake
    labels = np.full(n_all, None, dtype=object)
    labels[cfg.users:] = plan.label_of_fake()
    accounts = pa.table({
        "user_id": pa.array(np.arange(1, n_all + 1), pa.int64()),
        "is_fake": pa.array(np.arange(n_all) >= cfg.users),
        "attack": pa.array(labels.tolist(), pa.string()),
        "is_creator": pa.array(np.arange(n_all) < cfg.creators),
        "activity": pa.array(np.concatenate([pop.activity, np.full(plan.n_fake, np.nan)])),
        "trust_propensity": pa.array(np.concatenate([pop.propensity, np.full(plan.n_fake, np.nan)])),
        "price_sensitivity": pa.array(np.concatenate([pop.price_sensitivity, np.full(plan.n_fake, np.nan)])),
    })
    dishonest = np.zeros(cfg.creators, dtype=bool)
    for a in plan.attacks:
        if a.kind == "dishonest":
            dishonest[a.target] = True
    creators = pa.table({
        "creator_id": pa.array(np.arange(1, cfg.creators + 1), pa.int64()),
        "category": pa.array(pop.category, pa.int64()),
        "quality": pa.array(pop.quality),
        "honesty": pa.array(pop.honesty),
        "dishonest": pa.array(dishonest),
        "sells": pa.array(pop.sells),
        "publish_rate": pa.array(pop.publish_rate),
        "live_days_per_week": pa.array(pop.live_days.sum(axis=1), pa.int64()),
        "fame": pa.array(pop.fame),
        "followers_end": pa.array(world.followers.astype(np.int64)),
    })
    products = pa.table({
        "product_id": pa.array(np.arange(1, pop.n_products + 1), pa.int64()),
        "brand_id": pa.array(pop.product_brand + 1, pa.int64()),
        "category": pa.array(pop.product_category, pa.int64()),
        "price": pa.array(pop.price),
        "quality": pa.array(pop.product_quality),
    })
    attacks = pa.table({
        "attack_id": pa.array([a.attack_id for a in plan.attacks], pa.int64()),
        "kind": pa.array([a.kind for a in plan.attacks], pa.string()),
        "target_creator": pa.array([a.target + 1 for a in plan.attacks], pa.int64()),
        "members": pa.array([(a.members + 1).tolist() for a in plan.attacks], pa.list_(pa.int64())),
        "n_members": pa.array([int(a.members.size) for a in plan.attacks], pa.int64()),
        "events": pa.array([a.events for a in plan.attacks], pa.int64()),
    })
    return {"latent_trust": latent, "accounts": accounts, "creators": creators, "products": products,
            "attacks": attacks}


def calibration(ws: Workspace, con: Any = None) -> dict[str, CalibrationRow]:
    """``{metric: {"target": x, "achieved": y}}`` for the article's figures, by :func:`trustecon.kpis.headline`.

    Targets are the run's ``[targets]`` where it set them (``provenance.config.targets``), else the
    article's figures."""
    from trustecon.engine import connect
    from trustecon.kpis import ARTICLE_FIGURES, headline

    con = con or connect("duckdb")
    values = headline(ws.events(con), timezone=ws.timezone)
    own = ws.config.get("provenance", {}).get("config", {}).get("targets", {})
    names = {  # kpis name -> simulator target name
        "live_watch_minutes_per_visit": "live_watch_minutes",
        "products_seen_per_live_visit": "products_seen_per_visit",
        "fan_content_reach": "fan_content_reach",
        "interactions_per_minute_live_vs_video": "live_vs_video_interactions",
        "monthly_repurchase_rate": "monthly_repurchase_rate",
        "aov_top10_creators": "aov_top10_creators",
    }
    out: dict[str, CalibrationRow] = {}
    for name, target in ARTICLE_FIGURES.items():
        kv = values.get(name)
        achieved = None if kv is None or kv.value is None else round(float(kv.value), 4)
        entry: CalibrationRow = {"target": float(own.get(names.get(name, ""), target)), "achieved": achieved}
        if achieved is None and kv is not None:
            entry["reason"] = kv.reason
        out[name] = entry
    return out
