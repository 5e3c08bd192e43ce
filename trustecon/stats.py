"""A summary of the event log: counts by kind and by day, distinct entities (``trustecon stats``)."""

from __future__ import annotations

from typing import Any

import ibis

__all__ = ["log_stats"]


def log_stats(events: ibis.Table, *, timezone: str = "UTC", quarantined: int = 0) -> dict[str, Any]:
    """Events by kind and by local day (the stored ``day`` column; ``timezone`` is reported), distinct
    users, creators, live sessions and orders.

    Distinct users count ``user_id`` values; creators count ``creator_id`` values (a person who is both
    counts in both); orders count distinct ``order_id`` of ``order`` events, as DESIGN.md §4 defines.
    """
    by_kind = events.group_by("kind").aggregate(n=events.count()).order_by("kind").to_pyarrow().to_pylist()
    # ``day`` is the local date the store keeps beside each event (see trustecon.store.STORED_SCHEMA).
    by_day = events.group_by("day").aggregate(n=events.count()).order_by("day").to_pyarrow().to_pylist()
    orders = events.filter(events.kind == "order")
    summary = (
        events.aggregate(
            events=events.count(),
            users=events.user_id.nunique(),
            creators=events.creator_id.nunique(),
            sessions=events.session_id.nunique(),
            first=events.ts.min(),
            last=events.ts.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    n_orders = orders.aggregate(n=orders.order_id.nunique()).to_pyarrow().to_pylist()[0]["n"]
    return {
        "events": int(summary["events"]),
        "by_kind": {r["kind"]: int(r["n"]) for r in by_kind},
        "by_day": {str(r["day"]): int(r["n"]) for r in by_day},
        "users": int(summary["users"]),
        "creators": int(summary["creators"]),
        "sessions": int(summary["sessions"]),
        "orders": int(n_orders or 0),
        "first": summary["first"].isoformat() if summary["first"] is not None else None,
        "last": summary["last"].isoformat() if summary["last"] is not None else None,
        "quarantined": int(quarantined),
        "timezone": timezone,
    }
