"""The simulator: an agent-based creator-commerce world that writes the real event log (DESIGN.md §10).

Shaped by role (as RecSim is): :mod:`~trustecon.simulate.config` (presets, validation),
:mod:`~trustecon.simulate.population` (users, creators, brands, products),
:mod:`~trustecon.simulate.choice` (what users do with what they see),
:mod:`~trustecon.simulate.transition` (latent trust and follows),
:mod:`~trustecon.simulate.attacks`, :mod:`~trustecon.simulate.policies` (traffic / algorithm / trust),
:mod:`~trustecon.simulate.market` (brand campaigns: sponsored pins, ad slots, fees),
:mod:`~trustecon.simulate.world` (the day loop) and :mod:`~trustecon.simulate.run` (into a workspace).
The dynamics are written down in ``docs/simulator.md``.
"""

from trustecon.simulate.config import POLICIES, PRESETS, AttackConfig, ConfigError, SimConfig, Targets, preset
from trustecon.simulate.market import Buys, Market, MarketDay
from trustecon.simulate.policies import AlgorithmPolicy, TrafficPolicy, TrustPolicy, builtin_policy
from trustecon.simulate.policy import DayContext, Policy
from trustecon.simulate.run import SimulationResult, calibration, simulate, truth_tables
from trustecon.simulate.transition import trust_step
from trustecon.simulate.world import World

__all__ = [
    "POLICIES",
    "PRESETS",
    "AlgorithmPolicy",
    "AttackConfig",
    "Buys",
    "ConfigError",
    "DayContext",
    "Market",
    "MarketDay",
    "Policy",
    "SimConfig",
    "SimulationResult",
    "Targets",
    "TrafficPolicy",
    "TrustPolicy",
    "World",
    "builtin_policy",
    "calibration",
    "preset",
    "simulate",
    "trust_step",
    "truth_tables",
]
