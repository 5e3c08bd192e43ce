"""Who may read what, and the k-anonymity rule for audience aggregates (DESIGN.md §11).

Every request is authenticated first (a missing or unknown key: 401), then authorised against the
resource's owner (a valid key for someone else's data: 403), and only then looked up (404). So a key
learns nothing about resources it may not read: not their data, not whether they exist.

k-anonymity: an aggregate over 1 to k−1 users is suppressed (value ``None`` and a reason) in
every view but the admin's and a creator's view of its own audience. Each KPI row has a group-size
column (its denominator: unique viewers, closed visits, follower–content pairs, buyers, orders); when
it is below ``k`` (and not 0: an empty group discloses nobody and keeps its own reason, e.g. "no live
orders") the columns computed from that group are suppressed. Small cells are suppressed one
by one (no complementary suppression: a total minus a shown cell can still be read off).
"""

from __future__ import annotations

import copy
from typing import Any, overload

from trustecon.api.keys import Principal

__all__ = ["DEFAULT_K", "SUPPRESSION", "can_read_creator_stats", "suppress", "suppress_creator_trust", "suppress_stats"]

#: Default minimum group size for audience aggregates shown to brands (and non-admin KPI views).
DEFAULT_K = 10

_ALL = ("*",)
_BUYER_COLS = ("orders", "buyers", "old_fan_buyers", "gmv", "uv_value", "gpm", "old_fan_buyer_share")
#: Per KPI table: group-size column → the columns it protects (``*``: every column but ids and period).
SUPPRESSION: dict[str, dict[str, tuple[str, ...]]] = {
    "live_rooms": {"unique_viewers": _ALL, "buyers": _BUYER_COLS},
    "live_watch_time": {"closed_visits": _ALL},
    "products_seen": {"closed_visits": _ALL},
    "fan_content_reach": {"pairs": _ALL},
    "follow_conversion": {"viewers": _ALL},
    "order_value": {"orders": _ALL},
    "order_value_top10": {"orders": _ALL},
    "refund_rate": {"orders": _ALL},
    "monthly_repurchase": {"buyers": _ALL},
    "campaigns": {"buyers": ("orders", "kept_orders", "kept_gmv", "buyers", "new_repeat_buyers",
                             "cost_per_kept_order", "roi")},
}
_IDS = {"period", "creator_id", "session_id", "campaign_id", "brand_id", "reason"}


@overload
def suppress(table: str, row: dict[str, Any], k: int) -> dict[str, Any]: ...


@overload
def suppress(table: str, row: None, k: int) -> None: ...


@overload
def suppress(table: str, row: dict[str, Any] | None, k: int) -> dict[str, Any] | None: ...


def suppress(table: str, row: dict[str, Any] | None, k: int) -> dict[str, Any] | None:
    """``row`` of KPI ``table`` with every group under ``k`` users suppressed (a copy; None stays None)."""
    if row is None:
        return None
    out = dict(row)
    for group, cols in SUPPRESSION.get(_base(table), {}).items():
        n = row.get(group)
        if n is None or n >= k or n == 0:  # an empty group discloses nobody: keep its own reason
            continue
        names = [c for c in row if c not in _IDS] if cols == _ALL else [c for c in cols if c in row]
        for c in names:
            out[c] = None
        out["reason"] = f"suppressed: fewer than k={k} users ({group} < {k})"
    return out


def _base(table: str) -> str:
    return table.removeprefix("kpis_").removesuffix("_by_creator").replace("live_sessions", "live_rooms")


def suppress_stats(stats: dict[str, Any], k: int) -> dict[str, Any]:
    """A creator's or room's stats (from :class:`trustecon.api.service.Service`) with groups under ``k``
    suppressed: audience counts, each KPI row, and each funnel stage (with the next stage's conversion)."""
    s = copy.deepcopy(stats)
    aud = s.get("audience")
    if aud:
        for key in ("followers", "trusters", "live_unique_viewers"):
            if aud.get(key) is not None and 0 < aud[key] < k:
                aud[key] = None
        if aud.get("trusters") is None:
            aud["mean_trust"] = None
    for section in ("reach", "live", "commerce"):
        for name, row in (s.get(section) or {}).items():
            if name != "funnel":
                s[section][name] = suppress(_SECTION_TABLE.get(name, name), row, k)
    if "room" in s:
        s["room"] = suppress("live_rooms", s["room"], k)
    # GMV shares have no count of their own: shown only when the creator's orders reach k.
    com = s.get("commerce") or {}
    if com.get("private_domain_gmv_by_creator") is not None:
        orders = (stats["commerce"].get("order_value_by_creator") or {}).get("orders") or 0
        if 0 < orders < k:
            com["private_domain_gmv_by_creator"] = {c: None for c in com["private_domain_gmv_by_creator"]} | {
                "reason": f"suppressed: fewer than k={k} users (orders < {k})"}
    funnel = (s.get("live") or {}).get("funnel") if "live" in s else s.get("funnel")
    if funnel:
        hidden = False
        for st in funnel:
            prev_hidden = hidden
            hidden = st["visits"] is not None and 0 < st["visits"] < k
            if hidden:
                st["visits"] = None
            if hidden or prev_hidden:
                st["conversion"] = None
    return s


def suppress_creator_trust(ct: dict[str, Any], k: int) -> dict[str, Any]:
    """A creator trust explanation (``explain --creator``'s ``creator_trust``) with groups of 1 to k−1
    users suppressed (a copy): the whole score when fewer than k users are pooled, else the numbers of
    each channel with evidence from fewer than k users."""
    out = copy.deepcopy(ct)
    n = out.get("users")
    if n is not None and 0 < n < k:
        for key in ("trust", "confidence", "alpha", "beta", "positive", "negative", "users"):
            out[key] = None
        out["channels"] = []
        out["reason"] = f"suppressed: fewer than k={k} users"
        out["summary"] = f"T_c({out.get('creator_id')}) suppressed: fewer than k={k} users"
        return out
    for ch in out.get("channels") or []:
        m = ch.get("users")
        if m is not None and 0 < m < k:
            for key in ("users", "decayed", "contribution", "share", "moved_trust"):
                ch[key] = None
            ch["reason"] = f"suppressed: fewer than k={k} users"
    return out


_SECTION_TABLE = {"rooms": "live_rooms", "watch_time": "live_watch_time"}


def can_read_creator_stats(p: Principal, creator: int) -> bool:
    """Admin, any brand (suppressed view) and the creator itself."""
    return p.role in ("admin", "brand") or (p.role == "creator" and p.id == creator)
