"""A built workspace whose log has views only (no commerce), shared by the API and dashboard tests.

Twelve users watch creator 100 (a known creator with credibility and creator trust, no orders);
creator 102 only publishes (in the log, no evidence); the latest event, as of which the build scores,
is 2024-01-03 00:00 UTC. Trust and KPI tables are built once per test session (the KPIs take seconds
even on 13 events) and each test gets its own copy.
"""

from __future__ import annotations

from pathlib import Path

from api_world import session_copy
from test_trust_helpers import Log, at

from trustecon.store import Workspace

#: The build's as-of instant, as the one-line reasons print it.
AS_OF = "2024-01-03 00:00 UTC"
USERS = 12


def views_log() -> Log:
    log = Log()
    for u in range(1, USERS + 1):
        watched = 900 if u % 4 else 100  # every fourth user skips: a little negative evidence
        log.add("view", at(u / 10), user_id=u, creator_id=100, content_id=1, watch_ms=watched, duration_ms=1000)
    log.add("publish", at(2), creator_id=102, content_id=2)
    return log


def _build_views(path: Path) -> None:
    from trustecon.engine import connect
    from trustecon.kpis.persist import write_kpis
    from trustecon.trust.build import build

    ws = Workspace.init(path)
    ws.append(views_log().table())
    build(ws)
    write_kpis(ws, connect("duckdb"))


def views_world(tmp_path_factory, name: str) -> Workspace:
    """A copy of the views-only workspace with its trust and KPI tables."""
    return session_copy(tmp_path_factory, "trustecon-views-world", _build_views, name)
