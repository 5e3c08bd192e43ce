"""Attacks on the trust economy, off by default and sized in ``[attacks]`` (docs/simulator.md §Attacks).

- **sybil ring**: fake accounts that follow one target creator (spread over the first week) and view,
  like and comment on each of its new videos;
- **brushing** (刷单): fake accounts place orders with a target seller that are kept, inflating its
  sales and apparent reliability;
- **fake refunds**: fake accounts order from a target seller and refund (with a complaint) 1–3 days
  later, damaging its reliability;
- **dishonest creators**: real sellers whose honesty is set low, so their buyers refund and complain.

Fake accounts get person ids after the real users. Every attack is recorded (kind, target, members,
events made) for ``truth/attacks`` and every fake account in ``truth/accounts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trustecon.simulate.buffer import DayBuffer
from trustecon.simulate.config import SimConfig
from trustecon.simulate.population import Population

__all__ = ["Attack", "AttackPlan", "plan_attacks"]


@dataclass
class Attack:
    """One attack: ``kind`` in sybil|brushing|fake_refund|dishonest, its target and fake members."""

    attack_id: int
    kind: str
    target: int  # creator index
    members: np.ndarray  # user indices of its fake accounts (empty for dishonest)
    follow_day: np.ndarray | None = None  # sybil: day each member follows
    events: int = 0


@dataclass
class AttackPlan:
    """All attacks of a run and the fake-account index range ``[first_fake, first_fake + n_fake)``."""

    first_fake: int
    n_fake: int
    attacks: list[Attack] = field(default_factory=list)

    def label_of_fake(self) -> np.ndarray:
        """For each fake account (in order), the label ``kind:attack_id`` of its attack."""
        out = np.empty(self.n_fake, dtype=object)
        for a in self.attacks:
            out[a.members - self.first_fake] = f"{a.kind}:{a.attack_id}"
        return out


def plan_attacks(cfg: SimConfig, pop: Population, rng: np.random.Generator) -> AttackPlan:
    """Choose targets and fake accounts. Dishonest creators are made so here (``pop.honesty`` changes)."""
    a = cfg.attacks
    plan = AttackPlan(first_fake=cfg.users, n_fake=0)
    sellers = np.flatnonzero(pop.sells)
    # Targets are distinct creators; sales attacks need sellers.
    taken: set[int] = set()

    def pick(pool: np.ndarray) -> int:
        free = np.array([c for c in pool.tolist() if c not in taken])
        if free.size == 0:
            free = np.array([c for c in range(pop.n_creators) if c not in taken])
        c = int(rng.choice(free))
        taken.add(c)
        return c

    def members(n: int) -> np.ndarray:
        m = np.arange(plan.first_fake + plan.n_fake, plan.first_fake + plan.n_fake + n)
        plan.n_fake += n
        return m

    for _ in range(a.sybil_rings):
        mem = members(a.sybil_ring_size)
        plan.attacks.append(Attack(len(plan.attacks) + 1, "sybil", pick(np.arange(pop.n_creators)), mem,
                                   follow_day=rng.integers(0, min(7, cfg.days), size=mem.size)))
    for _ in range(a.brushing_creators):
        plan.attacks.append(Attack(len(plan.attacks) + 1, "brushing", pick(sellers), members(a.brushing_accounts)))
    for _ in range(a.fake_refund_creators):
        plan.attacks.append(
            Attack(len(plan.attacks) + 1, "fake_refund", pick(sellers), members(a.fake_refund_accounts))
        )
    n_dis = int(round(a.dishonest_share * sellers.size))
    if n_dis:
        for c in rng.choice(sellers, size=n_dis, replace=False):
            pop.honesty[c] = a.dishonest_honesty
            plan.attacks.append(Attack(len(plan.attacks) + 1, "dishonest", int(c), np.zeros(0, np.int64)))
    return plan


def sybil_day(plan: AttackPlan, cfg: SimConfig, rng: np.random.Generator, day: int, day_start: int,
              buf: DayBuffer, content_creator: np.ndarray, content_id: np.ndarray, content_ts: np.ndarray,
              content_dur: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Write today's sybil events; returns the (member indices, target) follows made today."""
    follows = []
    for atk in plan.attacks:
        if atk.kind != "sybil":
            continue
        assert atk.follow_day is not None
        now = atk.members[atk.follow_day == day]
        if now.size:
            ts = day_start + rng.integers(8 * 3600, 23 * 3600, size=now.size) * 1_000_000
            buf.add("follow", ts, surface="discover", user_id=now + 1, creator_id=atk.target + 1)
            atk.events += now.size
            follows.append((now, atk.target))
        mine = np.flatnonzero(content_creator == atk.target)
        if mine.size == 0:
            continue
        active = atk.members[atk.follow_day <= day]
        uu = np.repeat(active, mine.size)
        cc = np.tile(mine, active.size)
        ts = content_ts[cc] + rng.integers(60, 6 * 3600, size=uu.size) * 1_000_000
        buf.add("view", ts, surface="follow", user_id=uu + 1, creator_id=atk.target + 1,
                content_id=content_id[cc], watch_ms=content_dur[cc], duration_ms=content_dur[cc])
        like = rng.random(uu.size) < cfg.attacks.sybil_activity
        com = rng.random(uu.size) < cfg.attacks.sybil_activity / 3
        buf.add("like", ts[like] + 5_000_000, surface="follow", user_id=uu[like] + 1, creator_id=atk.target + 1,
                content_id=content_id[cc[like]])
        buf.add("comment", ts[com] + 9_000_000, surface="follow", user_id=uu[com] + 1,
                creator_id=atk.target + 1, content_id=content_id[cc[com]])
        atk.events += int(uu.size + like.sum() + com.sum())
    return follows


def fake_orders_day(plan: AttackPlan, cfg: SimConfig, pop: Population,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Today's fake orders: (buyer index, creator index, product index, forced outcome 0 kept / 1 refund)."""
    users, creators, products, outcome = [], [], [], []
    for atk in plan.attacks:
        if atk.kind not in ("brushing", "fake_refund"):
            continue
        rate = cfg.attacks.brushing_orders_per_day if atk.kind == "brushing" else cfg.attacks.fake_refund_orders_per_day
        n = int(rng.poisson(rate))
        lo, hi = pop.assortment_ptr[atk.target], pop.assortment_ptr[atk.target + 1]
        if n == 0 or hi == lo:
            continue
        users.append(rng.choice(atk.members, size=n))
        creators.append(np.full(n, atk.target))
        products.append(pop.assortment[rng.integers(lo, hi, size=n)])
        outcome.append(np.full(n, 0 if atk.kind == "brushing" else 1))
        atk.events += n * (1 if atk.kind == "brushing" else 3)
    if not users:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z
    u, c, p, o = (np.concatenate(x).astype(np.int64) for x in (users, creators, products, outcome))
    return u, c, p, o
