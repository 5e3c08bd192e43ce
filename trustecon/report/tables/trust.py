"""The trust tables: what ``trustecon build`` writes (``trustecon.trust.build.TABLES``), in one commit.

Meanings are those of the models' docstrings: :mod:`trustecon.trust.evidence` (channels and their
intensities), :mod:`trustecon.trust.pair`, :mod:`trustecon.trust.creator_fit`,
:mod:`trustecon.trust.credibility`, :mod:`trustecon.trust.reliability` and :mod:`trustecon.trust.orders`.
"""

from __future__ import annotations

from trustecon.report.tables._spec import AS_OF, Column, TableSpec, cols

__all__ = ["TRUST_TABLES"]

GROUP = "Trust (trustecon build)"
BUILD = ("trustecon build WS",)
WRITER = ("trustecon.trust.build.build",)

#: Each evidence channel (:data:`trustecon.trust.evidence.CHANNELS`): its sign and the intensity of one
#: evidence row, from the channel table of :mod:`trustecon.trust.evidence`.
CHANNELS: dict[str, tuple[str, str]] = {
    "view": ("+", "the watch ratio r = min(watch_ms / duration_ms, 1) of a view with r ≥ short_view"),
    "like": ("+", "1 per like"),
    "comment": ("+", "1 per comment"),
    "share": ("+", "1 per share"),
    "profile_visit": ("+", "1 per profile visit"),
    "follow": ("+", "1 per follow"),
    "gift": ("+", "log1p(amount) per gift (diminishing)"),
    "live_visit": ("+", "1 per live_enter"),
    "live_minutes": ("+", "minutes in the room per live session (last live_leave − first live_enter), at the "
                     "last exit"),
    "product_click": ("+", "1 per product click"),
    "order": ("+", "1 + log1p(A) / log1p(135) once per order (A = its lines' amounts), at its latest line"),
    "repurchase": ("+", "1 per order of the pair but its earliest, at the order's time"),
    "ignored": ("−", "1 per impression"),
    "short_view": ("−", "the unwatched share 1 − r of a view with r ≥ short_view; 1 for a skip (r < short_view)"),
    "unfollow": ("−", "1 per unfollow"),
    "hate": ("−", "1 per hate (not interested)"),
    "refund": ("−", "1 per refunded order, at its latest refund event"),
    "complaint": ("−", "1 per order complained about, at its latest complaint"),
}


def _pair_channels() -> tuple[Column, ...]:
    sign = {"+": "positive", "−": "negative"}
    return tuple(Column(f"e_{c}", f"{sign[s]} evidence; intensity: {i}") for c, (s, i) in CHANNELS.items())


def _pooled_channels() -> tuple[Column, ...]:
    return tuple(Column(f"e_{c}", f"X_{c} = Σ over the creator's users of pair trust's e_{c}") for c in CHANNELS)


PAIR = "the user (the truster)"
CREATOR = "the creator trusted"
SELLER = (
    ("seller_id", "the seller: a creator_id (seller_kind creator) or a brand_id (seller_kind brand)"),
    ("seller_kind", "creator (who sold the order) or brand (whose product the order contains)"),
)

TRUST_TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "pair_trust", "tables", GROUP, BUILD, WRITER, "trustecon.trust.pair.PairTrust",
        row="one user → creator pair with evidence up to as_of", key=("user_id", "creator_id"),
        description="Pair trust T(u, c), a beta evidence model of how much user u trusts creator c (the Beta "
        "Reputation System, Jøsang & Ismail 2002; DESIGN.md §5), with the decayed sums an incremental update "
        "(OnlineTrust) resumes from. Each e_<channel> is the channel's decayed sum E_k = Σ i · 2^(−(as_of − t) / h) "
        "over its evidence rows (intensity i, time t, half-life h; sign and intensity per column).",
        columns=cols(
            ("user_id", PAIR), ("creator_id", CREATOR),
            ("trust", "T = α / (α + β), the mean of Beta(α, β)"),
            ("confidence", "(P + N) / (P + N + W), W = prior_weight (2): one minus subjective logic's uncertainty"),
            ("alpha", "α = κ m_u + P"),
            ("beta", "β = κ (1 − m_u) + N"),
            ("evidence", "P + N, the weighted evidence mass"),
            ("positive", "P = Σ over positive channels of w_k E_k"),
            ("negative", "N = Σ over negative channels of w_k E_k"),
            ("user_prior", "m_u, the prior mean: the user's pooled trust propensity (α₀ / (α₀ + β₀) when "
             "user_prior is off)"),
            ("n_events", "evidence rows, undecayed (a partly watched view counts twice, an order once)"),
            ("first_s", "epoch seconds of the pair's first evidence"),
            ("last_s", "epoch seconds of the pair's last evidence"),
            ("as_of", AS_OF),
            ("e_first_order", "the decayed weight of the pair's first order (the one e_repurchase leaves out)"),
            ("first_order_s", "epoch seconds of the pair's first order (null without orders)"),
        ) + _pair_channels(),
    ),
    TableSpec(
        "creator_trust", "tables", GROUP, BUILD, WRITER, "trustecon.trust.creator_fit.CreatorTrust",
        row="one creator with evidence", key=("creator_id",),
        description="Creator trust T_c: every user's decayed evidence pooled per creator (the beta model on "
        "X_ck = Σ_u E_uck), from pair trust's sums without a second read of the log.",
        columns=cols(
            "creator_id",
            ("trust", "T_c = α_c / (α_c + β_c)"),
            ("confidence", "(P_c + N_c) / (P_c + N_c + W)"),
            ("alpha", "α_c = κ m + P_c"),
            ("beta", "β_c = κ (1 − m) + N_c"),
            ("positive", "P_c = Σ over positive channels of w_k X_ck"),
            ("negative", "N_c = Σ over negative channels of w_k X_ck"),
            ("users", "users pooled (pairs with evidence toward the creator)"),
            ("as_of", AS_OF),
        ) + _pooled_channels(),
    ),
    TableSpec(
        "creator_credibility", "tables", GROUP, BUILD, WRITER, "trustecon.trust.credibility.CreatorCredibility",
        row="one creator", key=("creator_id",),
        description="Creator credibility C(c): trust propagated from pre-trusted seeds (personalized PageRank of "
        "the trust graph with teleport to the seeds, as in TrustRank and EigenTrust), published as vouched "
        "trust.",
        columns=cols(
            "creator_id",
            ("credibility", "vouched trust C(c) = Σ over trusters u of min(1, r_u / r_ref), r_ref = ε (1 − d) / "
             "(number of seeds)"),
            ("ppr", "r_c, the creator's propagated mass; breaks ties"),
            ("score", "percentile among creators by credibility, then ppr (ties averaged), in [0, 1]"),
            ("rank", "1 = most credible"),
            ("in_degree", "trusters with a positive edge (max(P_uc − N_uc, 0) > 0)"),
            ("seed_trusters", "of those trusters, seeds"),
            ("is_seed", "the creator is itself a seed user"),
        ),
    ),
    TableSpec(
        "trust_ranks", "tables", GROUP, BUILD, WRITER, "trustecon.trust.credibility.CreatorCredibility",
        row="one node of the trust graph (a user or a creator: one id space)", key=("node",),
        description="The propagation's rank of every node, for explanations (trustecon explain).",
        columns=cols(
            ("node", "a person id (user_id or creator_id)"),
            ("r", "the node's propagated rank r (personalized PageRank with teleport to the seeds)"),
            ("is_seed", "a seed (pre-trusted) user"),
        ),
    ),
    TableSpec(
        "seller_reliability", "tables", GROUP, BUILD, WRITER, "trustecon.trust.reliability.SellerReliability",
        row="one seller (creator or brand) with orders", key=("seller_kind", "seller_id"),
        description="Seller reliability R: a beta reputation of order outcomes, each buyer one capped vote, "
        "unvetted buyers down-weighted (DESIGN.md §5).",
        columns=cols(
            *SELLER,
            ("reliability", "R = α / (α + β)"),
            ("confidence", "m / (m + W), m = α + β − α₀ − β₀ the evidence mass"),
            ("alpha", "α₀ + Σ capped Δα (kept evidence)"),
            ("beta", "β₀ + Σ capped Δβ (refund and complaint evidence)"),
            ("orders", "orders (distinct order_id) with the seller"),
            ("kept", "orders with outcome kept"),
            ("refunded", "orders with outcome refunded"),
            ("complained", "orders with outcome complained"),
            ("pending", "orders with outcome pending (younger than maturity_days)"),
            ("raw_kept_rate", "kept / settled orders, unweighted: the naive baseline (null when none settled)"),
            ("as_of", AS_OF),
        ),
    ),
    TableSpec(
        "seller_ledger", "tables", GROUP, BUILD, WRITER, "trustecon.trust.reliability.SellerReliability.ledger",
        row="one (seller, order)", key=("seller_kind", "seller_id", "order_id"),
        description="Every order that moved a seller's score, by how much and why: outcome, buyer weight, decay, "
        "Δα, Δβ and the order's effect on R.",
        columns=cols(
            *SELLER,
            "order_id",
            ("buyer_id", "the ordering user (min user_id over the order's lines)"),
            ("order_s", "the order's time, epoch seconds: its latest line at or before as_of (when complete)"),
            ("amount", "Σ of the order's line amounts"),
            ("refunded_fraction", "f = min(1, refunded amount / order amount); 1 when the order has no amount"),
            ("complained", "a complaint was filed about the order"),
            ("outcome", "complained, refunded, kept (matured, no refund or complaint) or pending"),
            ("vetted", "the buyer has matured orders from at least vetted_min_sellers (2) creators"),
            ("engaged", "the buyer watched, entered a room, interacted with or clicked a product of the seller "
             "at or before order_s"),
            ("buyer_weight", "b: 1 for a vetted or engaged buyer, else unvetted_weight (0.1)"),
            ("decay", "δ = 2^(−(as_of − order_s) / h), half-life 90 days by default"),
            ("d_alpha", "Δα = b δ (1 − f) for a matured order without complaint, scaled to the buyer's one vote"),
            ("d_beta", "Δβ = b δ (w_refund f + w_complaint [complained]), scaled to the buyer's one vote"),
            ("buyer_orders", "the buyer's settled orders with the seller (they share one capped vote)"),
            ("delta", "the order's effect on the score: R − R without this order"),
            ("reason", "the outcome and why the buyer weighs what it does"),
        ),
    ),
    TableSpec(
        "trust_orders", "tables", GROUP, BUILD, WRITER, "trustecon.trust.orders.order_pairs",
        row="one order", key=("order_id",),
        description="Incremental state OnlineTrust resumes from: order → buyer and seller creator, so that later "
        "refunds find their pair.",
        columns=cols(
            "order_id",
            ("user_id", "the buyer (min user_id over the order's lines)"),
            ("creator_id", "the seller (min creator_id over the order's lines)"),
        ),
    ),
    TableSpec(
        "trust_order_totals", "tables", GROUP, BUILD, WRITER, "trustecon.trust.orders.order_totals",
        row="one (user, creator, order) with both ids, not a self-pair", key=("user_id", "creator_id", "order_id"),
        description="Incremental state: each order as evidence sees it, so that another line of an order the "
        "build saw moves that order instead of adding one.",
        columns=cols(
            "user_id", "creator_id", "order_id",
            ("last_s", "the latest line's time at or before as_of, epoch seconds: the order's time"),
            ("amount", "the lines' amounts, each clipped at 0, summed"),
        ),
    ),
    TableSpec(
        "trust_order_negatives", "tables", GROUP, BUILD, WRITER, "trustecon.trust.orders.order_negatives",
        row="one (user, creator, order) refunded or complained about", key=("user_id", "creator_id", "order_id"),
        description="Incremental state: the latest refund and complaint of each order, so that another refund "
        "of an order the build saw refunded moves that refund instead of counting again.",
        columns=cols(
            "user_id", "creator_id", "order_id",
            ("refund_last_s", "the latest refund at or before as_of, epoch seconds (null when none)"),
            ("complaint_last_s", "the latest complaint at or before as_of, epoch seconds (null when none)"),
        ),
    ),
    TableSpec(
        "trust_sessions", "tables", GROUP, BUILD, WRITER, "trustecon.trust.evidence.live_spans",
        row="one (user, live session) up to as_of", key=("user_id", "session_id"),
        description="Incremental state OnlineTrust resumes from: live spans, so that a live visit that spans "
        "the build extends its span.",
        columns=cols(
            "user_id", "session_id",
            ("creator_id", "the host (min creator_id of the user's live events in the session)"),
            ("enter_s", "the user's first live_enter, epoch seconds (null when none)"),
            ("leave_s", "the user's last live_leave, epoch seconds (null when none yet)"),
        ),
    ),
)
