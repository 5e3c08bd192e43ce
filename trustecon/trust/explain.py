"""Explanations: "why is this 0.83?" — the evidence that moved each score, by kind and by time.

- :func:`explain_pair`: T(u, c) as the prior plus each channel's weighted, decayed evidence (count,
  decayed sum, weight, contribution to α or β, share of the evidence mass), and the same split by
  week, from the event log (the pair's own events, refunds through their orders).
- :func:`explain_creator`: C(c) as its trusters, each counted ``min(1, r_u / r_ref)`` by their own
  propagated rank, and the rank flowing in along each edge (``d · r_u · c_uc``: the truster's rank
  times the share of their trust given to c), with the number of seeds among the trusters.
- :func:`explain_creator_trust`: the creator-level T_c (every user's evidence pooled) as the prior
  plus each channel's pooled, weighted, decayed evidence, biggest first, with what each moved T_c by;
  :func:`explain_built_creator` puts it beside C(c) from the built tables (``explain --creator``).
- :func:`explain_seller`: R(s) from its ledger: outcomes counted, the orders that moved it most
  (by ``delta``), and the net movement by month.

Each returns a plain dict (JSON-ready, no NaN) with a one-line ``summary``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any, TypedDict

import ibis.expr.types as ir
import pyarrow as pa

from trustecon.trust.evidence import CHANNELS, POSITIVE, EvidenceConfig, evidence_rows, to_seconds

__all__ = [
    "explain_built_creator",
    "explain_built_pair",
    "explain_creator",
    "explain_creator_trust",
    "explain_pair",
    "explain_seller",
]


class _Channel(TypedDict):
    """One channel's line of :func:`explain_pair`."""

    channel: str
    sign: str
    to: str
    events: int | None
    decayed: float
    weight: float
    contribution: float
    share: float


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return None if not math.isfinite(x) else round(x, 10)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, dt.datetime):
        return x.isoformat()
    return x


def explain_pair(
    events: ir.Table,
    pair: dict[str, Any],
    *,
    weights: dict[str, float],
    prior_alpha: float,
    prior_beta: float,
    config: EvidenceConfig | None = None,
    top_weeks: int = 12,
) -> dict[str, Any]:
    """Explain one ``pair_trust`` row (a dict with user_id, creator_id, trust, …, as_of, e_*)."""
    cfg = config or EvidenceConfig()
    u, c, as_of = int(pair["user_id"]), int(pair["creator_id"]), pair["as_of"]
    mass = float(pair["evidence"]) or 0.0
    ev = events.filter((events.user_id == u) | events.kind.isin(["refund", "complaint"]))
    rows = evidence_rows(ev, as_of, cfg)
    rows = rows.filter((rows.user_id == u) & (rows.creator_id == c)).to_pyarrow()
    counts: dict[str, int] = {}
    for ch in rows["channel"].to_pylist():
        counts[ch] = counts.get(ch, 0) + 1
    channels: list[_Channel] = []
    for ch in CHANNELS:
        dec = float(pair.get(f"e_{ch}") or 0.0)
        if dec == 0.0 and counts.get(ch, 0) == 0:
            continue
        contrib = weights[ch] * dec
        channels.append(
            {
                "channel": ch,
                "sign": "+" if ch in POSITIVE else "-",
                "to": "alpha" if ch in POSITIVE else "beta",
                "events": counts.get(ch, 0) if ch != "repurchase" else None,
                "decayed": dec,
                "weight": weights[ch],
                "contribution": contrib,
                "share": contrib / mass if mass > 0 else 0.0,
            }
        )
    channels.sort(key=lambda r: -r["contribution"])
    # By week: net weighted decayed evidence (repurchase is folded into its orders' weeks).
    ref = to_seconds(as_of)
    h = cfg.half_life_seconds
    weeks: dict[str, dict[str, float]] = {}
    for ch, t, inten in zip(rows["channel"].to_pylist(), rows["t"].to_pylist(), rows["intensity"].to_pylist(),
                            strict=True):
        wk = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%G-W%V")
        d = inten * 2.0 ** ((t - ref) / h) * weights[ch]
        slot = weeks.setdefault(wk, {"positive": 0.0, "negative": 0.0, "events": 0})
        slot["positive" if ch in POSITIVE else "negative"] += d
        slot["events"] += 1
    by_week = [{"week": k, **v} for k, v in sorted(weeks.items())][-top_weeks:]
    # "Raised by" names positive channels only; negative ones are what held it back.
    top = [r["channel"] for r in channels if r["sign"] == "+"][:3]
    neg = [r for r in channels if r["sign"] == "-"]
    summary = (
        f"T({u}→{c}) = {pair['trust']:.3f} with confidence {pair['confidence']:.2f} as of "
        f"{as_of:%Y-%m-%d %H:%M} UTC: prior Beta({prior_alpha:.3g}, {prior_beta:.3g}) plus evidence mass "
        f"{mass:.2f}; raised most by {', '.join(top) or 'nothing'}"
        + (f"; held back by {', '.join(r['channel'] for r in neg)}" if neg else "")
    )
    return _clean(
        {
            "kind": "pair",
            "user_id": u,
            "creator_id": c,
            "trust": pair["trust"],
            "confidence": pair["confidence"],
            "alpha": pair["alpha"],
            "beta": pair["beta"],
            "prior": {
                "alpha": prior_alpha,
                "beta": prior_beta,
                # With the hierarchical prior, the pair's prior mean is the user's pooled propensity.
                "mean": pair.get("user_prior", prior_alpha / (prior_alpha + prior_beta)),
            },
            "as_of": as_of,
            "half_life_days": cfg.half_life_days,
            "channels": channels,
            "by_week": by_week,
            "summary": summary,
        }
    )


def explain_built_pair(
    pair_trust: pa.Table, user: int, creator: int, model: Any, events: Callable[[], ir.Table]
) -> dict[str, Any]:
    """T(user → creator) from a built ``pair_trust`` table and the :class:`PairTrust` it was built
    with: :func:`explain_pair` of the pair's row, or, for a pair with no evidence, its prior (the
    user's own prior mean under the hierarchical prior, else α₀/(α₀+β₀)) with confidence 0.
    ``events`` is called only when the pair has a row (its evidence is read from the log)."""
    import pyarrow.compute as pc

    pt = pair_trust
    row = pt.filter(pc.and_(pc.equal(pt["user_id"], user), pc.equal(pt["creator_id"], creator))).to_pylist()
    a0, b0 = model.priors
    if row:
        return explain_pair(events(), row[0], weights=model.weights, prior_alpha=a0, prior_beta=b0,
                            config=model.config)
    others = pt.filter(pc.equal(pt["user_id"], user)).slice(0, 1).to_pylist() if model.user_prior else []
    prior = others[0]["user_prior"] if others else a0 / (a0 + b0)
    msg = f"no evidence between user {user} and creator {creator}: T is the prior {prior:.3f} with confidence 0"
    return {"kind": "pair", "user_id": user, "creator_id": creator, "trust": prior, "confidence": 0.0,
            "channels": [], "summary": msg}


def explain_creator(
    creator_id: int,
    credibility: pa.Table,
    ranks: pa.Table,
    pair_trust: pa.Table,
    *,
    damping: float = 0.85,
    vouch_fraction: float = 0.1,
    top: int = 10,
) -> dict[str, Any]:
    """Explain C(c) from the ``creator_credibility`` row, node ``ranks`` (node, r, is_seed) and the
    edges in ``pair_trust`` (positive − negative evidence per truster, normalised per truster)."""
    row = next(r for r in credibility.to_pylist() if r["creator_id"] == creator_id)
    pt = pair_trust.to_pandas()
    pt["w"] = (pt["positive"] - pt["negative"]).clip(lower=0.0)
    pt = pt[(pt["w"] > 0) & (pt["user_id"] != pt["creator_id"])]
    out_w = pt.groupby("user_id")["w"].sum()
    inc = pt[pt["creator_id"] == creator_id].copy()
    rk = ranks.to_pandas().set_index("node")
    inc["share_of_trust"] = inc["w"] / inc["user_id"].map(out_w)
    inc["truster_rank"] = inc["user_id"].map(rk["r"]).fillna(0.0)
    inc["is_seed"] = inc["user_id"].map(rk["is_seed"]).fillna(False).astype(bool)
    inc["inflow"] = damping * inc["truster_rank"] * inc["share_of_trust"]
    n_seeds = int(rk["is_seed"].sum()) if len(rk) else 0
    r_ref = vouch_fraction * (1 - damping) / n_seeds if n_seeds else float("inf")
    inc["counts_as"] = (inc["truster_rank"] / r_ref).clip(upper=1.0)
    total_in = float(inc["inflow"].sum())
    own = rk["r"].get(creator_id, 0.0)
    inc = inc.sort_values(["counts_as", "inflow", "user_id"], ascending=[False, False, True])
    trusters = [
        {
            "user_id": int(r.user_id),
            "is_seed": bool(r.is_seed),
            "trust": float(r.trust),
            "counts_as": float(r.counts_as),
            "share_of_their_trust": float(r.share_of_trust),
            "their_rank": float(r.truster_rank),
            "inflow": float(r.inflow),
            "share_of_inflow": float(r.inflow / total_in) if total_in > 0 else 0.0,
        }
        for r in inc.head(top).itertuples()
    ]
    n_zero = int((inc["truster_rank"] == 0).sum())
    summary = (
        f"C({creator_id}) = {row['credibility']:.3g} vouching trusters (rank {row['rank']} of "
        f"{credibility.num_rows} creators, percentile {row['score']:.2f}): {row['in_degree']} trusters with "
        f"positive net evidence, {row['seed_trusters']} of them seeds, each counted by their own credibility"
        + (f"; {n_zero} trusters carry no credibility themselves (nobody credible trusts them) and pass on nothing"
           if n_zero else "")
    )
    return _clean(
        {
            "kind": "creator",
            "creator_id": creator_id,
            **{k: row[k] for k in ("credibility", "ppr", "score", "rank", "in_degree", "seed_trusters",
                                   "is_seed")},
            "node_rank": float(own),
            "inflow_from_trusters": total_in,
            "top_trusters": trusters,
            "trusters_without_credibility": n_zero,
            "summary": summary,
        }
    )


class _PooledChannel(TypedDict):
    """One channel's line of :func:`explain_creator_trust`."""

    channel: str
    sign: str
    to: str
    users: int | None
    decayed: float
    weight: float
    contribution: float
    share: float
    moved_trust: float


def explain_creator_trust(
    creator_id: int, creator_trust: pa.Table, model: Any, pair_trust: pa.Table | None = None
) -> dict[str, Any]:
    """Explain T_c from its ``creator_trust`` row and the :class:`~trustecon.trust.creator_fit.CreatorTrust`
    it was built with: the prior plus each channel's pooled decayed sum × weight (its contribution to
    α or β and share of the evidence mass), biggest first, and ``moved_trust``: T_c minus what T_c
    would be without that channel. ``pair_trust`` (optional) gives how many users have evidence on each
    channel. A creator without a row (unknown, or nobody's evidence names it) gets the prior with
    confidence 0 and "no evidence"."""
    import pyarrow.compute as pc

    a0, b0 = model.priors
    weights = model.weights
    rows = creator_trust.filter(pc.equal(creator_trust["creator_id"], creator_id)).to_pylist()
    if not rows:
        prior = a0 / (a0 + b0)
        return _clean({
            "kind": "creator_trust", "creator_id": creator_id, "trust": prior, "confidence": 0.0,
            "alpha": a0, "beta": b0, "positive": 0.0, "negative": 0.0, "users": 0,
            "prior": {"alpha": a0, "beta": b0, "mean": prior}, "channels": [],
            "summary": f"T_c({creator_id}): no evidence toward this creator: creator trust is the prior {prior:.3f} "
                       "with confidence 0",
        })
    row = rows[0]
    mass = float(row["positive"]) + float(row["negative"])
    alpha, beta = float(row["alpha"]), float(row["beta"])
    per_user: dict[str, int] = {}
    if pair_trust is not None:
        mine = pair_trust.filter(pc.equal(pair_trust["creator_id"], creator_id))
        per_user = {ch: int(pc.sum(pc.greater(mine[f"e_{ch}"], 0.0)).as_py() or 0) for ch in CHANNELS
                    if f"e_{ch}" in mine.column_names}
    channels: list[_PooledChannel] = []
    for ch in CHANNELS:
        dec = float(row.get(f"e_{ch}") or 0.0)
        if dec == 0.0:
            continue
        contrib = weights[ch] * dec
        pos = ch in POSITIVE
        a, b = (alpha - contrib, beta) if pos else (alpha, beta - contrib)
        channels.append({
            "channel": ch, "sign": "+" if pos else "-", "to": "alpha" if pos else "beta",
            "users": per_user.get(ch) if pair_trust is not None else None, "decayed": dec, "weight": weights[ch],
            "contribution": contrib, "share": contrib / mass if mass > 0 else 0.0,
            "moved_trust": float(row["trust"]) - a / (a + b),
        })
    channels.sort(key=lambda r: (-r["contribution"], r["channel"]))
    top = [r["channel"] for r in channels if r["sign"] == "+" and r["contribution"] > 0][:3]
    neg = [r["channel"] for r in channels if r["sign"] == "-" and r["contribution"] > 0]
    as_of = row["as_of"]
    summary = (
        f"T_c({creator_id}) = {row['trust']:.3f} with confidence {row['confidence']:.2f} as of "
        f"{as_of:%Y-%m-%d %H:%M} UTC: the evidence of {row['users']} users pooled, prior Beta({a0:.3g}, {b0:.3g}) "
        f"plus positive {row['positive']:.4g} and negative {row['negative']:.4g}; raised most by "
        f"{', '.join(top) or 'nothing'}" + (f"; held back by {', '.join(neg)}" if neg else "")
    )
    return _clean({
        "kind": "creator_trust", "creator_id": creator_id,
        **{k: row[k] for k in ("trust", "confidence", "alpha", "beta", "positive", "negative", "users")},
        "prior": {"alpha": a0, "beta": b0, "mean": a0 / (a0 + b0)}, "as_of": as_of,
        "half_life_days": model.config.half_life_days, "channels": channels, "summary": summary,
    })


def explain_built_creator(creator_id: int, tables: dict[str, pa.Table | None], model: Any) -> dict[str, Any]:
    """``trustecon explain --creator``: C(c) (:func:`explain_creator`) with the creator trust T_c
    (:func:`explain_creator_trust`) under ``creator_trust``, from the built tables (``tables``:
    ``creator_credibility``, ``trust_ranks``, ``pair_trust``, ``creator_trust``; ``None`` where the
    workspace lacks one, e.g. ``creator_trust`` of a workspace built before it existed). A creator
    without credibility gets ``credibility`` None and says so; ``model`` is the CreatorTrust built with."""
    import pyarrow.compute as pc

    cred, pt, ranks = tables.get("creator_credibility"), tables.get("pair_trust"), tables.get("trust_ranks")
    out: dict[str, Any]
    if cred is not None and pt is not None and ranks is not None and pc.any(
        pc.equal(cred["creator_id"], creator_id)
    ).as_py():
        out = explain_creator(creator_id, cred, ranks, pt)
    else:
        out = {"kind": "creator", "creator_id": creator_id, "credibility": None, "top_trusters": [],
               "summary": f"C({creator_id}): no credibility (nobody has evidence toward this creator)"}
    ct = tables.get("creator_trust")
    if ct is None:
        out["creator_trust"] = {"kind": "creator_trust", "creator_id": creator_id, "trust": None, "channels": [],
                                "summary": "no creator_trust table: run 'trustecon build' again to add creator trust"}
    else:
        out["creator_trust"] = explain_creator_trust(creator_id, ct, model, pt)
    return out


def explain_seller(
    seller_id: int, seller_kind: str, reliability: pa.Table, ledger: pa.Table, *, top: int = 10
) -> dict[str, Any]:
    """Explain R(s) from its ``seller_reliability`` row and its ledger rows. An order's ``time`` (and
    its ``by_month`` month) is the ledger's ``order_s``: when the order was complete, its latest line,
    the time its decay and return window run from."""
    rel = next(
        r for r in reliability.to_pylist() if r["seller_id"] == seller_id and r["seller_kind"] == seller_kind
    )
    led = ledger.to_pandas()
    led = led[(led["seller_id"] == seller_id) & (led["seller_kind"] == seller_kind)].copy()
    led["abs"] = led["delta"].abs()
    moved = led.sort_values(["abs", "order_id"], ascending=[False, True]).head(top)
    led["month"] = [dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m") for t in led["order_s"]]
    by_month = (
        led.groupby("month")
        .agg(orders=("order_id", "size"), d_alpha=("d_alpha", "sum"), d_beta=("d_beta", "sum"), delta=("delta", "sum"))
        .reset_index()
        .to_dict("records")
    )
    orders = [
        {
            "order_id": int(r.order_id),
            "buyer_id": None if r.buyer_id != r.buyer_id else int(r.buyer_id),
            "time": dt.datetime.fromtimestamp(r.order_s, dt.UTC),
            "outcome": r.outcome,
            "buyer_weight": float(r.buyer_weight),
            "d_alpha": float(r.d_alpha),
            "d_beta": float(r.d_beta),
            "delta": float(r.delta),
            "reason": r.reason,
        }
        for r in moved.itertuples()
    ]
    unvetted = int((led["buyer_weight"] < 1).sum())
    summary = (
        f"R({seller_kind} {seller_id}) = {rel['reliability']:.3f} (confidence {rel['confidence']:.2f}) from "
        f"{rel['orders']} orders: {rel['kept']} kept, {rel['refunded']} refunded, {rel['complained']} complained, "
        f"{rel['pending']} pending; {unvetted} orders from unvetted buyers count at reduced weight"
    )
    return _clean(
        {
            "kind": "seller",
            "seller_id": seller_id,
            "seller_kind": seller_kind,
            **{k: rel[k] for k in ("reliability", "confidence", "alpha", "beta", "orders", "kept", "refunded",
                                   "complained", "pending", "raw_kept_rate")},
            "orders_that_moved_it": orders,
            "by_month": by_month,
            "summary": summary,
        }
    )

