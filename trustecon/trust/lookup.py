"""A built workspace's trust scores by id, or one line saying why an id has none (DESIGN.md §5, §11).

``trustecon explain`` and the HTTP API answer the same ids the same way through these functions:

- :func:`explain_pair_by_id`: T(user → creator) (:func:`~trustecon.trust.explain.explain_built_pair`).
  Two ids that are both in the log with no evidence between them are not unknown: the pair's score
  is its prior with confidence 0 (a score that can be computed).
- :func:`explain_creator_by_id`: C(c) and T_c (:func:`~trustecon.trust.explain.explain_built_creator`),
  with ``notes`` on the scores that cannot be computed (no seller reliability in a log without orders).
- :func:`explain_seller_by_id`: R(s) (:func:`~trustecon.trust.explain.explain_seller`).

An id the built tables hold no score for raises :class:`UnknownId` (the CLI exits 2, the API answers
404) with a one-line message naming the id and why (:func:`why_absent`): not in the event log (no event
names it, or the log is empty), or named in the log but without evidence as of the build (its first
event is later than the build's as-of: "run 'trustecon build' again"). Checking the log happens only
for an id without a row, so a known id costs one table filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from trustecon.store import Workspace
from trustecon.trust.creator_fit import CreatorTrust
from trustecon.trust.explain import explain_built_creator, explain_built_pair, explain_seller
from trustecon.trust.pair import PairTrust

__all__ = [
    "UnknownId",
    "explain_creator_by_id",
    "explain_pair_by_id",
    "explain_seller_by_id",
    "not_in_log",
    "why_absent",
]

#: The event column that names each role (a seller is a creator or a brand).
_COLUMN = {"user": "user_id", "creator": "creator_id", "brand": "brand_id"}


class UnknownId(LookupError):
    """An id the built trust tables hold no score for; the message is one line naming the id and why."""


def _build_as_of(ws: Workspace) -> dt.datetime | None:
    """The as-of instant of the last ``trustecon build`` (``[trust] as_of``; None before any event)."""
    s = ws.config.get("trust", {}).get("as_of") or ""
    return dt.datetime.fromisoformat(s) if s else None


def _first_event(ws: Workspace, events: Callable[[], ir.Table], role: str, ident: int) -> tuple[str | None, Any]:
    """``(why role ident is not in the event log or None, the time of its first event)`` from one
    filtered pass over the log (no event's ``user_id``/``creator_id``/``brand_id`` names it: the time
    is None)."""
    if ws.event_count() == 0:
        return f"{role} {ident}: not in the event log (the log is empty)", None
    e = events()
    first = e.filter(e[_COLUMN[role]] == ident).ts.min().to_pyarrow().as_py()
    if first is None:
        return f"{role} {ident}: not in the event log (no event names this {role})", None
    return None, first


def not_in_log(ws: Workspace, events: Callable[[], ir.Table], role: str, ident: int) -> str | None:
    """Why ``role ident`` is not in the event log, or None when some event names it."""
    return _first_event(ws, events, role, ident)[0]


def why_absent(ws: Workspace, events: Callable[[], ir.Table], role: str, ident: int, score: str, detail: str) -> str:
    """One line saying why ``role ident`` has no ``score`` in the built tables: not in the log, or in
    the log with no evidence as of the build — because its first event is later (rebuild), or
    ``detail`` (e.g. "no orders name this seller")."""
    missing, first = _first_event(ws, events, role, ident)
    if missing is not None:
        return missing
    as_of = _build_as_of(ws)
    if as_of is None:  # built while the log was empty
        return f"{role} {ident}: no {score}: the trust tables were built before any event; run 'trustecon build' again"
    head = f"{role} {ident}: no {score} as of the build ({as_of.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC)"
    if first > as_of:
        return f"{head}: its first event is later; run 'trustecon build' again"
    return f"{head}: {detail}"


def _has(table: pa.Table | None, **key: Any) -> bool:
    if table is None or table.num_rows == 0:
        return False
    mask = None
    for col, v in key.items():
        m = pc.equal(table[col], v)
        mask = m if mask is None else pc.and_(mask, m)
    return bool(pc.any(mask).as_py())


def _table(ws: Workspace, name: str) -> pa.Table | None:
    return ws.read_table(name) if ws.has_table(name) else None


def explain_pair_by_id(ws: Workspace, events: Callable[[], ir.Table], user: int, creator: int) -> dict[str, Any]:
    """T(user → creator) from the built ``pair_trust`` (the model from ``[trust.pair_trust]``): the
    pair's explanation, or its prior with confidence 0 when both ids are in the log; else
    :class:`UnknownId` (the creator is checked first)."""
    pt = ws.read_table("pair_trust")
    if not _has(pt, user_id=user, creator_id=creator):
        for role, ident in (("creator", creator), ("user", user)):
            missing = not_in_log(ws, events, role, ident)
            if missing is not None:
                raise UnknownId(missing)
    model = PairTrust.from_params(ws.config.get("trust", {}).get("pair_trust"))
    return explain_built_pair(pt, user, creator, model, events=events)


def explain_creator_by_id(ws: Workspace, events: Callable[[], ir.Table], creator: int) -> dict[str, Any]:
    """C(creator) and T_c from the built tables, with ``notes`` ({score: why it is absent}) for the
    scores that cannot be computed — today ``seller_reliability`` when no order names the creator;
    :class:`UnknownId` when neither credibility nor creator trust has a row for it."""
    names = ("creator_credibility", "trust_ranks", "pair_trust", "creator_trust")
    tables = {n: _table(ws, n) for n in names}
    if not (_has(tables["creator_credibility"], creator_id=creator) or _has(tables["creator_trust"],
                                                                             creator_id=creator)):
        raise UnknownId(why_absent(ws, events, "creator", creator, "trust evidence",
                                   "no user event toward this creator counts as evidence"))
    model = CreatorTrust.from_params(ws.config.get("trust", {}).get("creator_trust"))
    out = explain_built_creator(creator, tables, model)
    notes: dict[str, str] = {}
    rel = _table(ws, "seller_reliability")
    if rel is not None and not _has(rel, seller_id=creator, seller_kind="creator"):
        why = "the workspace has no orders" if rel.num_rows == 0 else "no orders name this creator"
        notes["seller_reliability"] = f"no seller reliability for creator {creator}: {why}"
    out["notes"] = notes
    return out


def explain_seller_by_id(ws: Workspace, events: Callable[[], ir.Table], seller: int, kind: str) -> dict[str, Any]:
    """R(seller) of ``kind`` (creator or brand) with its ledger explanation, or :class:`UnknownId`."""
    rel = ws.read_table("seller_reliability")
    if not _has(rel, seller_id=seller, seller_kind=kind):
        detail = "the workspace has no orders" if rel.num_rows == 0 else "no orders name this seller"
        raise UnknownId(why_absent(ws, events, kind, seller, "seller reliability", detail))
    return explain_seller(seller, kind, rel, ws.read_table("seller_ledger"))
