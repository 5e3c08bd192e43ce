"""trustecon: a trust-economy engine for creator-led social commerce.

Layers (DESIGN.md §3), each importing only those below it:
interfaces (cli, report, demo) → apps (distribution, live, marketing) → models (trust) | sources
(simulate, datasets, ingest) → metrics (kpis) → data (events, store, engine).

The data layer is imported eagerly; everything else on first use (``trustecon.PairTrust`` imports
``trustecon.trust``), so ``import trustecon`` stays light.
"""

import importlib as _importlib
from typing import Any as _Any

from trustecon.engine import connect
from trustecon.events import KINDS, SCHEMA, validate
from trustecon.partitions import CompactResult
from trustecon.store import AppendResult, Workspace, WorkspaceError

__version__ = "0.1.0"

#: Public names served lazily: name → module that defines it.
_LAZY: dict[str, str] = {
    "ingest_files": "trustecon.ingest",
    "load_dataset": "trustecon.datasets",
    "SimConfig": "trustecon.simulate",
    "simulate": "trustecon.simulate",
    "preset": "trustecon.simulate",
    "Policy": "trustecon.simulate.policy",
    "headline": "trustecon.kpis",
    "compute_all": "trustecon.kpis",
    "PairTrust": "trustecon.trust",
    "OnlineTrust": "trustecon.trust",
    "OnlineReliability": "trustecon.trust",
    "CreatorCredibility": "trustecon.trust",
    "CreatorTrust": "trustecon.trust",
    "SellerReliability": "trustecon.trust",
    "build_trust": "trustecon.trust.build",
    "FeedConfig": "trustecon.distribution",
    "build_feeds": "trustecon.distribution.build",
    "FeedServer": "trustecon.distribution.build",
    "EnginePolicy": "trustecon.distribution.policy",
    "WhoToFollow": "trustecon.distribution.suggest",
    "live_funnel": "trustecon.live",
    "RoomMonitor": "trustecon.live",
    "room_stats": "trustecon.live",
    "open_deal": "trustecon.live",
    "settle_deal": "trustecon.live",
    "Campaign": "trustecon.marketing",
    "CampaignPlanner": "trustecon.marketing",
    "plan_workspace": "trustecon.marketing",
    "gsp": "trustecon.marketing",
    "run_auction": "trustecon.marketing",
    "market_experiment": "trustecon.marketing",
    "TrustRouting": "trustecon.marketing",
    "AdAuction": "trustecon.marketing",
    "Market": "trustecon.simulate",
    "build_report": "trustecon.report",
    "run_demo": "trustecon.demo",
    "verify": "trustecon.verify",
    "VerifyResult": "trustecon.verify",
}
_RENAMED = {"load_dataset": "load", "build_trust": "build"}

__all__ = [
    "KINDS",
    "SCHEMA",
    "AppendResult",
    "CompactResult",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "connect",
    "validate",
    *_LAZY,
]


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trustecon' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
