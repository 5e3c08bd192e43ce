"""trustecon: a trust-economy engine for creator-led social commerce.

Layers (DESIGN.md §3), each importing only those below it:
interfaces (cli, api, report) → apps (distribution, live, marketing) → models (trust) | sources
(simulate, datasets, ingest) → metrics (kpis) → data (events, store, engine).
"""

from trustecon.engine import connect
from trustecon.events import KINDS, SCHEMA, validate
from trustecon.store import AppendResult, Workspace, WorkspaceError

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "SCHEMA",
    "AppendResult",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "connect",
    "validate",
]
