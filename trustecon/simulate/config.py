"""Simulator configuration: one dataclass, three presets, TOML loading, validation (DESIGN.md §10).

A configuration is checked whole by :meth:`SimConfig.validate` before anything is written; the first
problem raises :class:`ConfigError` naming the field (``users``, ``attacks.sybil_rings``,
``targets.live_watch_minutes`` ...).

The ``targets`` section holds the article's figures (DESIGN.md §2). Three of them set a knob in closed
form (see ``docs/simulator.md``, "Calibration"): the mean visit length from ``live_watch_minutes``,
the pin interval from ``products_seen_per_visit`` and the live interaction rate from
``live_vs_video_interactions``. The others are met by the fitted constants of the preset.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["POLICIES", "PRESETS", "AttackConfig", "ConfigError", "SimConfig", "Targets", "preset"]

#: Built-in distribution policies (DESIGN.md §2, "three stages").
POLICIES: tuple[str, ...] = ("traffic", "algorithm", "trust")


class ConfigError(ValueError):
    """A refused configuration; ``field`` names the offending setting."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass
class Targets:
    """Calibration targets: the article's headline figures (DESIGN.md §2)."""

    live_watch_minutes: float = 24.0
    products_seen_per_visit: float = 5.0
    fan_content_reach: float = 0.62
    live_vs_video_interactions: float = 12.0
    monthly_repurchase_rate: float = 0.65
    aov_top10_creators: float = 135.0


@dataclass
class AttackConfig:
    """Attacks, all off by default (sizes of zero). See ``docs/simulator.md`` §Attacks."""

    #: Sybil rings: fake accounts that follow, view, like and comment for one target creator each.
    sybil_rings: int = 0
    sybil_ring_size: int = 30
    #: Probability a ring member likes/comments each fresh item of its target per day.
    sybil_activity: float = 0.8
    #: Brushing (刷单): fake accounts placing kept orders with a target creator.
    brushing_creators: int = 0
    brushing_accounts: int = 15
    brushing_orders_per_day: float = 4.0
    #: Fake orders later refunded (with a complaint), against a target creator.
    fake_refund_creators: int = 0
    fake_refund_accounts: int = 15
    fake_refund_orders_per_day: float = 3.0
    #: Share of creators made dishonest (honesty set to ``dishonest_honesty``).
    dishonest_share: float = 0.0
    dishonest_honesty: float = 0.15


@dataclass
class SimConfig:
    """Everything a simulation run depends on; same config and seed → same event log."""

    # ---- sizes
    users: int = 5_000
    creators: int = 300
    brands: int = 60
    products_per_brand: int = 12
    categories: int = 12
    days: int = 62
    start: str = "2026-01-01"
    seed: int = 0
    #: Each day draws from its own stream, ``default_rng([seed, 1 + day])`` (common random numbers):
    #: two runs of one seed that differ in policy or market still share every draw of a day whose
    #: draws come in the same order (publishing, live schedules, who is active), instead of drifting
    #: apart from the first difference on. Off by default, so that every earlier log reproduces.
    daily_streams: bool = False
    policy: str = "trust"
    #: Feed slots (creators shown) per active user per day.
    slots: int = 10
    # ---- users
    activity_mean: float = 0.25  # mean daily probability a user is active
    activity_concentration: float = 4.0  # Beta concentration of activity across users
    interest_concentration: float = 0.4  # Dirichlet alpha of interests over categories
    initial_follows: float = 5.0  # mean creators a user follows at day 0
    trust_propensity_a: float = 2.0  # Beta(a, b) of users' prior trust
    trust_propensity_b: float = 2.5
    # ---- creators
    seller_share: float = 0.6  # creators who sell and go live
    publish_rate: float = 0.6  # mean short videos per creator per day
    live_days_per_week: float = 4.0
    live_session_minutes: tuple[float, float] = (150.0, 240.0)
    skip_probability: float = 0.08  # a scheduled stream is skipped
    fresh_days: int = 7  # content this recent makes a creator eligible for the feed
    max_items_per_exposure: int = 5
    commission: float = 0.2
    # ---- products
    price_median: float = 121.0
    price_sigma: float = 0.4
    # ---- choice model constants (docs/simulator.md §Choice)
    view_base: float = 0.45
    like_p: float = 0.015
    comment_p: float = 0.003
    share_p: float = 0.0015
    hate_p: float = 0.03
    profile_visit_p: float = 0.03
    enter_base: float = 0.35
    click_base: float = 0.07
    order_base: float = 0.35
    gift_share: float = 0.03  # share of live interactions that are gifts
    follow_base: float = 0.06
    unfollow_base: float = 0.25
    refund_base: float = 0.03
    repurchase_base: float = 1.0
    repurchase_cycle_days: float = 9.0
    settle_days: int = 7
    # ---- latent trust dynamics (docs/simulator.md §Trust)
    learning_rate: float = 0.15
    w_view: float = 0.05
    w_live: float = 0.25
    w_interact: float = 0.1
    w_hate: float = 0.3
    w_kept: float = 0.6
    w_refund: float = 0.8
    w_complaint: float = 0.5
    w_broken: float = 0.4
    notice_softening: float = 0.8
    follow_threshold: float = 0.55
    unfollow_threshold: float = 0.3
    targets: Targets = field(default_factory=Targets)
    attacks: AttackConfig = field(default_factory=AttackConfig)

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> SimConfig:
        """A copy with top-level fields changed (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: SimConfig | None = None) -> SimConfig:
        """Overlay ``data`` (as read from TOML) on ``base`` (default: the default preset)."""
        cfg = dataclasses.replace(base or SimConfig())
        known = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(key, "unknown setting")
            if key in ("targets", "attacks"):
                if not isinstance(value, dict):
                    raise ConfigError(key, "expected a table")
                sub = getattr(cfg, key)
                sub_known = {f.name for f in fields(sub)}
                for k in value:
                    if k not in sub_known:
                        raise ConfigError(f"{key}.{k}", "unknown setting")
                sub = dataclasses.replace(sub, **value)
                setattr(cfg, key, sub)
            elif key == "live_session_minutes":
                cfg.live_session_minutes = tuple(value)
            else:
                setattr(cfg, key, value)
        return cfg

    @classmethod
    def from_toml(cls, path: str | Path, base: SimConfig | None = None) -> SimConfig:
        """Read a TOML file (top-level settings, ``[targets]``, ``[attacks]``); also ``preset = "..."``."""
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError("config", f"cannot read {path}: {exc}") from exc
        if "preset" in data:
            base = preset(str(data.pop("preset")))
        return cls.from_dict(data, base)

    # ------------------------------------------------------------------ validation
    def validate(self) -> SimConfig:
        """Check every field; raise :class:`ConfigError` naming the first bad one. Returns self."""
        ints_pos = ["users", "creators", "brands", "products_per_brand", "categories", "days", "slots",
                    "fresh_days", "max_items_per_exposure", "settle_days"]
        for name in ints_pos:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(name, f"expected a whole number, got {v!r}")
            if v <= 0:
                raise ConfigError(name, f"must be positive, got {v}")
        if not isinstance(self.daily_streams, bool):
            raise ConfigError("daily_streams", f"expected true or false, got {self.daily_streams!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError("seed", f"expected a non-negative whole number, got {self.seed!r}")
        if self.creators > self.users:
            raise ConfigError("creators", f"creators are users: {self.creators} creators > {self.users} users")
        if self.policy not in POLICIES:
            raise ConfigError("policy", f"unknown policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        try:
            dt.date.fromisoformat(self.start)
        except (TypeError, ValueError) as exc:
            raise ConfigError("start", f"expected an ISO date like 2026-01-01, got {self.start!r}") from exc
        probs = ["activity_mean", "seller_share", "skip_probability", "commission", "view_base", "like_p",
                 "comment_p", "share_p", "hate_p", "profile_visit_p", "enter_base", "click_base", "order_base",
                 "gift_share", "follow_base", "unfollow_base", "refund_base", "repurchase_base", "learning_rate",
                 "w_view", "w_live", "w_interact", "w_hate", "w_kept", "w_refund", "w_complaint", "w_broken",
                 "notice_softening", "follow_threshold", "unfollow_threshold"]
        for name in probs:
            _prob(name, getattr(self, name))
        positives = ["activity_concentration", "interest_concentration", "trust_propensity_a", "trust_propensity_b",
                     "publish_rate", "price_median", "price_sigma", "repurchase_cycle_days"]
        for name in positives:
            v = getattr(self, name)
            if not isinstance(v, int | float) or not v > 0:
                raise ConfigError(name, f"must be a positive number, got {v!r}")
        if not 0 <= self.initial_follows <= self.creators:
            raise ConfigError("initial_follows", f"must lie in [0, creators], got {self.initial_follows}")
        if not 0 <= self.live_days_per_week <= 7:
            raise ConfigError("live_days_per_week", f"must lie in [0, 7], got {self.live_days_per_week}")
        try:
            lo, hi = (float(x) for x in self.live_session_minutes)
        except (TypeError, ValueError) as exc:
            got = self.live_session_minutes
            raise ConfigError("live_session_minutes", f"expected [min, max], got {got!r}") from exc
        if not 0 < lo <= hi <= 23 * 60:
            raise ConfigError("live_session_minutes", f"expected 0 < min <= max <= 1380, got {(lo, hi)}")
        if self.follow_threshold <= self.unfollow_threshold:
            raise ConfigError("unfollow_threshold", "must be below follow_threshold")
        self._validate_targets()
        self._validate_attacks()
        return self

    def _validate_targets(self) -> None:
        t = self.targets
        for name in ("live_watch_minutes", "products_seen_per_visit", "live_vs_video_interactions",
                     "aov_top10_creators"):
            v = getattr(t, name)
            if not isinstance(v, int | float) or not v > 0:
                raise ConfigError(f"targets.{name}", f"must be a positive number, got {v!r}")
        _prob("targets.fan_content_reach", t.fan_content_reach)
        _prob("targets.monthly_repurchase_rate", t.monthly_repurchase_rate)
        lo = self.live_session_minutes[0]
        # A visit lies inside one session, so its mean length must be well below the shortest session.
        if t.live_watch_minutes >= lo / 2:
            raise ConfigError(
                "targets.live_watch_minutes",
                f"{t.live_watch_minutes} min per visit contradicts sessions of {lo} min "
                "(the mean visit must be under half the shortest session)",
            )
        # One product is pinned on entry, then one per pin interval: at least 1, and a pin interval
        # under one minute is not a product introduction.
        if t.products_seen_per_visit <= 1:
            raise ConfigError("targets.products_seen_per_visit", "must exceed 1 (one product is pinned on entry)")
        if t.live_watch_minutes / (t.products_seen_per_visit - 1) < 1:
            raise ConfigError(
                "targets.products_seen_per_visit",
                f"{t.products_seen_per_visit} products in a {t.live_watch_minutes}-minute visit contradicts "
                "targets.live_watch_minutes (a pin interval under one minute)",
            )

    def _validate_attacks(self) -> None:
        a = self.attacks
        for name in ("sybil_rings", "sybil_ring_size", "brushing_creators", "brushing_accounts",
                     "fake_refund_creators", "fake_refund_accounts"):
            v = getattr(a, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"attacks.{name}", f"expected a whole number >= 0, got {v!r}")
        for name in ("brushing_orders_per_day", "fake_refund_orders_per_day"):
            v = getattr(a, name)
            if not isinstance(v, int | float) or v < 0:
                raise ConfigError(f"attacks.{name}", f"must be >= 0, got {v!r}")
        for name in ("sybil_activity", "dishonest_share", "dishonest_honesty"):
            _prob(f"attacks.{name}", getattr(a, name))
        targets = a.sybil_rings + a.brushing_creators + a.fake_refund_creators
        if targets > self.creators:
            raise ConfigError("attacks.sybil_rings", f"{targets} attack targets exceed {self.creators} creators")
        if a.sybil_rings and a.sybil_ring_size == 0:
            raise ConfigError("attacks.sybil_ring_size", "a sybil ring needs at least one member")


def _prob(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
        raise ConfigError(name, f"must be a probability in [0, 1], got {v!r}")


def preset(name: str) -> SimConfig:
    """The ``small`` (tests, seconds), ``default`` (calibrated, ~2 M events) or ``large`` preset."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], targets=Targets(), attacks=AttackConfig())


PRESETS: dict[str, SimConfig] = {
    "small": SimConfig(users=1_500, creators=60, brands=16, products_per_brand=12, categories=6, days=14),
    "default": SimConfig(),
    # ~10 events per user-day at the default rates: 160k users × 62 days ≈ 100 M events.
    "large": SimConfig(users=160_000, creators=8_000, brands=400, products_per_brand=20, categories=20, days=62),
}
