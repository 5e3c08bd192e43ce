"""The bidding baseline: a generalized second-price auction over discovery impression slots (DESIGN.md §8).

**One auction** (:func:`gsp`, Edelman, Ostrovsky & Schwarz 2007, "Internet Advertising and the
Generalized Second-Price Auction", AER 97(1)): bidders are ranked by ``bid × quality`` (ties: lower
index first); the bidder in slot s pays, per click, ``price_s = bid_{s+1} · q_{s+1} / q_s``, the least
bid that keeps its rank; the last winner pays the first loser's score over its own quality, or the
``reserve`` per click when no one is left. So a winner never pays more than its bid, and with one
slot GSP is the Vickrey (second-price) auction.

**Rounds** (:func:`run_auction`): each round the same slots are sold for ``impressions`` discovery
impressions; slot s gets ``impressions · ctr[s]`` clicks, a brand's clicks give ``clicks ·
conversion`` expected orders (its historical orders per click), and it pays ``clicks · price``.
Bid rule (stated; a multiplicative controller toward a target CPA, as in autobidding practice):
a brand whose cost per order ``cpa_t = price / conversion`` was above its target lowers its bid and
one below raises it, ``bid ← bid · clip((target / cpa_t)^eta, 1/max_step, max_step)``; a brand that
won no slot raises its bid by ``max_step``; bids never exceed ``target · conversion`` (the bid at
which paying one's own bid meets the target). Outcomes are expected values, so runs are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["AuctionResult", "BidderState", "bid_step", "gsp", "gsp_one_slot", "run_auction"]


def gsp(
    bids: Sequence[float], quality: Sequence[float], n_slots: int, *, reserve: float = 0.0
) -> tuple[list[int], list[float]]:
    """Winners (bidder indices, best slot first) and their per-click prices in one GSP auction.

    Only bids with ``bid × quality > 0`` and ``bid ≥ reserve`` take part.
    """
    b = np.asarray(bids, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if b.shape != q.shape or b.ndim != 1:
        raise ValueError("gsp: bids and quality must be 1-d and of one length")
    if np.any(b < 0) or np.any(q < 0) or not (np.all(np.isfinite(b)) and np.all(np.isfinite(q))):
        raise ValueError("gsp: bids and quality must be finite and ≥ 0")
    if n_slots < 0 or reserve < 0:
        raise ValueError("gsp: n_slots and reserve must be ≥ 0")
    score = b * q
    live = np.flatnonzero((score > 0) & (b >= reserve))
    order = live[np.lexsort((live, -score[live]))]
    winners = [int(i) for i in order[:n_slots]]
    prices: list[float] = []
    for s, i in enumerate(winners):
        if s + 1 < len(order):
            nxt = int(order[s + 1])
            # ≤ own bid by the ranking; the min only removes floating-point rounding.
            prices.append(min(max(float(score[nxt] / q[i]), reserve), float(b[i])))
        else:
            prices.append(float(reserve))
    return winners, prices


@dataclass
class BidderState:
    """A brand in the auction: its per-click bid, quality score, orders per click and target CPA."""

    brand_id: int
    bid: float
    quality: float
    conversion: float
    target_cpa: float

    def __post_init__(self) -> None:
        if self.bid < 0 or self.quality < 0 or not 0 <= self.conversion <= 1 or self.target_cpa <= 0:
            raise ValueError(f"bidder {self.brand_id}: bid, quality ≥ 0, conversion in [0,1], target_cpa > 0")


@dataclass
class AuctionResult:
    """Per-round rows (brand, round, bid, slot, price, clicks, orders, spend) and per-brand totals."""

    rounds: list[dict[str, Any]] = field(default_factory=list)

    def totals(self) -> dict[int, dict[str, float | None]]:
        sums: dict[int, dict[str, float]] = {}
        for r in self.rounds:
            t = sums.setdefault(r["brand_id"], {"clicks": 0.0, "orders": 0.0, "spend": 0.0})
            for k in ("clicks", "orders", "spend"):
                t[k] = float(t[k] or 0.0) + r[k]
        return {b: {**t, "cpa": t["spend"] / t["orders"] if t["orders"] else None} for b, t in sums.items()}

    @property
    def platform_revenue(self) -> float:
        return float(sum(r["spend"] for r in self.rounds))


def run_auction(
    bidders: Sequence[BidderState],
    ctr: Sequence[float],
    *,
    rounds: int = 20,
    impressions: float = 1000.0,
    eta: float = 0.5,
    max_step: float = 1.5,
    reserve: float = 0.0,
) -> AuctionResult:
    """Repeat GSP for ``rounds`` rounds with brands adjusting bids toward their target CPA (module doc)."""
    ctr_a = np.asarray(ctr, dtype=np.float64)
    if ctr_a.ndim != 1 or np.any(ctr_a < 0) or np.any(np.diff(ctr_a) > 0):
        raise ValueError("run_auction: ctr must be ≥ 0 and non-increasing by slot")
    if rounds < 0 or impressions < 0 or eta < 0 or max_step < 1:
        raise ValueError("run_auction: rounds, impressions, eta ≥ 0 and max_step ≥ 1")
    state = [BidderState(b.brand_id, b.bid, b.quality, b.conversion, b.target_cpa) for b in bidders]
    res = AuctionResult()
    for t in range(rounds):
        winners, prices = gsp([b.bid for b in state], [b.quality for b in state], len(ctr_a), reserve=reserve)
        slot_of = {i: (s, p) for s, (i, p) in enumerate(zip(winners, prices, strict=True))}
        for i, b in enumerate(state):
            s, price = slot_of.get(i, (None, 0.0))
            clicks = float(impressions * ctr_a[s]) if s is not None else 0.0
            orders = clicks * b.conversion
            res.rounds.append(
                {
                    "round": t,
                    "brand_id": b.brand_id,
                    "bid": b.bid,
                    "slot": s,
                    "price": price,
                    "clicks": clicks,
                    "orders": orders,
                    "spend": clicks * price,
                }
            )
            cpa = price / b.conversion if (s is not None and price > 0 and b.conversion > 0) else None
            b.bid = bid_step(b.bid, b.target_cpa, cpa, won=s is not None, cap=b.target_cpa * b.conversion,
                             eta=eta, max_step=max_step)
    return res


def bid_step(bid: float, target_cpa: float, cpa: float | None, *, won: bool, cap: float, eta: float = 0.5,
             max_step: float = 1.5) -> float:
    """One round of the bid rule (module docstring): ``bid · clip((target / cpa)^eta, 1/max_step, max_step)``
    when the round had a cost per order; ``bid · max_step`` when the brand won nothing or paid nothing
    per order (no price signal: it bids up); never above ``cap``."""
    if won and cpa is not None and cpa > 0:
        return min(bid * float(np.clip((target_cpa / cpa) ** eta, 1 / max_step, max_step)), cap)
    return min(max(bid, 1e-9) * max_step, cap)


def gsp_one_slot(bids: np.ndarray, quality: np.ndarray, *, reserve: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """One-slot GSP for many auctions at once (one per row of ``quality``, shape ``(n, B)``; ``bids``
    shape ``(B,)``): winner per row (−1: nobody) and its per-click price, equal to :func:`gsp` with
    ``n_slots = 1`` row by row (tested). With one slot GSP is the second-price auction: the winner pays
    the runner-up's score over its own quality (or the reserve), never more than its bid."""
    b = np.asarray(bids, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if q.ndim != 2 or b.shape != (q.shape[1],):
        raise ValueError("gsp_one_slot: quality must be (n, B) and bids (B,)")
    score = b[None, :] * q
    live = (score > 0) & (b >= reserve)[None, :]
    score = np.where(live, score, -np.inf)
    win = np.argmax(score, axis=1)  # first of the ties: the lower index, as gsp
    rows = np.arange(q.shape[0])
    top = score[rows, win]
    ok = np.isfinite(top)
    score[rows, win] = -np.inf
    second = score.max(axis=1) if q.shape[1] > 1 else np.full(q.shape[0], -np.inf)
    qw = q[rows, win]
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.where(np.isfinite(second), np.maximum(second / qw, reserve), reserve)
    price = np.minimum(price, b[win])
    return np.where(ok, win, -1), np.where(ok, price, 0.0)
