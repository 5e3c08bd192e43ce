"""Pydantic response models of the HTTP API (they make the OpenAPI description at ``/openapi.json``).

Explanations and KPI rows keep the library's own dict shape (``extra`` fields allowed) so the API
returns the same content as ``trustecon explain --json`` and the stored ``tables/kpis_*`` rows.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CampaignPlan", "CreatorStats", "Credibility", "Error", "FeedItem", "FunnelStage", "FeedResponse", "Health",
    "IngestRejection", "IngestResponse", "KpiHeadline", "KpisResponse", "PairTrustExplanation", "Reliability",
    "RoomStats", "RoomSummary", "Suggestion", "SuggestionsResponse", "TopCreator", "Whoami",
]


class Error(BaseModel):
    detail: str = Field(description="What went wrong, in one sentence.")


class Health(BaseModel):
    status: str = Field(description="'ok' when the workspace opens.")
    schema_version: int


class Whoami(BaseModel):
    role: str = Field(description="admin, brand, creator or user.")
    id: int | None = Field(description="The brand/creator/user id of the key (None for admin).")
    k_anonymity: int = Field(description="Minimum group size of audience aggregates shown to this key.")


class IngestRejection(BaseModel):
    row: int | None = Field(description="1-based row of the batch (line of the JSON lines, element of the array).")
    field: str | None = Field(description="The offending field, when one is to blame.")
    reason: str


class IngestResponse(BaseModel):
    batch: str = Field(description="Name of the batch in the quarantine table's 'file' column.")
    read: int
    accepted: int = Field(description="New events committed.")
    duplicates: int = Field(description="Exact repeats of stored events (skipped: re-ingesting is a no-op).")
    quarantined: int = Field(description="Rows rejected, with the reasons in 'rejected'.")
    conflicts: int = Field(description="Rows whose event_id is stored with different content (in quarantine).")
    by_kind: dict[str, int]
    rejected: list[IngestRejection]


class FeedItem(BaseModel):
    rank: int
    creator_id: int
    content_id: int | None
    source: str = Field(description="notice, follow, trust, discovery, explore or cold start source.")
    score: float
    notice_id: str | None
    because: str = Field(description="Why the item is there, in words (the follow and trust, the discovery "
                         "parts that raised it, or the fair-chance rule).")


class FeedResponse(BaseModel):
    user_id: int
    cold_start: bool = Field(description="True for a user the engine has never seen (the cold-start feed).")
    items: list[FeedItem]


class Suggestion(BaseModel):
    creator_id: int
    score: float
    because: str = Field(description="The parts that raised it, largest first, in words.")
    parts: dict[str, float] = Field(description="Feature -> weight x feature / scale; they add up to score.")
    via: int = Field(description="How many of the accounts the user follows or trusts follow or trust it.")
    follows_you: bool
    trusters: int = Field(description="Accounts that follow or trust it (its in-degree).")


class SuggestionsResponse(BaseModel):
    user_id: int
    suggestions: list[Suggestion]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PairTrustExplanation(_Open):
    kind: str = "pair"
    user_id: int
    creator_id: int
    trust: float = Field(description="T(u,c) = α/(α+β) of the beta evidence model (DESIGN.md §5).")
    confidence: float
    channels: list[dict[str, Any]] = Field(description="Each evidence channel's weighted, decayed contribution.")
    summary: str


class Credibility(_Open):
    kind: str = "creator"
    creator_id: int
    credibility: float = Field(description="C(c): propagated credibility from pre-trusted seeds (DESIGN.md §5).")
    summary: str
    creator_trust: dict[str, Any] | None = Field(
        None, description="T_c: every user's evidence pooled per creator (beta model), with its channels.")
    notes: dict[str, str] = Field(
        default_factory=dict, description="Scores that cannot be computed for this creator, each with why "
        "(e.g. seller_reliability in a log without orders; shown only to keys that may read that score).")


class Reliability(_Open):
    kind: str = "seller"
    seller_id: int
    seller_kind: str
    reliability: float = Field(description="R(s): beta reputation of order outcomes (DESIGN.md §5).")
    summary: str


class TopCreator(BaseModel):
    creator_id: int
    credibility: float
    score: float
    rank: int
    in_degree: int
    seed_trusters: int


class FunnelStage(BaseModel):
    stage: str
    step: int
    visits: int | None = Field(description="Live visits reaching the stage (None: suppressed, fewer than k).")
    conversion: float | None


class CreatorStats(BaseModel):
    creator_id: int
    audience: dict[str, float | int | None]
    reach: dict[str, dict[str, Any] | None]
    live: dict[str, Any] = Field(description="rooms and watch_time KPI rows, and the live funnel.")
    commerce: dict[str, dict[str, Any] | None]


class RoomStats(BaseModel):
    session_id: int
    creator_id: int
    room: dict[str, Any] | None = Field(description="The session's kpis_live_sessions row (audience, orders, GMV).")
    funnel: list[FunnelStage]


class RoomSummary(_Open):
    session_id: int
    creator_id: int


class KpiHeadline(BaseModel):
    value: float | None
    reason: str | None = Field(description="Why value is None (a KPI without its events is null, never 0).")
    unit: str
    definition: str
    article: float | None = Field(description="The article's figure (DESIGN.md §2), a claim not a fact.")


class KpisResponse(BaseModel):
    period: str
    currency: str
    timezone: str
    headline: dict[str, KpiHeadline]
    tables: dict[str, dict[str, Any] | None] = Field(description="Each platform KPI table's row for the period.")
    other_article: dict[str, float]
    campaigns: list[dict[str, Any]] | None = Field(
        default=None, description="Campaign KPIs: every campaign for admin, a brand's own for a brand."
    )


class CampaignPlan(_Open):
    """A campaign plan (:meth:`trustecon.marketing.planner.Plan.as_dict`, as ``trustecon plan --json``)."""

    campaign: dict[str, Any] = Field(description="Brand, budget, products, objective (kept orders), days.")
    totals: dict[str, Any] = Field(description="Expected kept orders, cost, cost per kept order and its range.")
    method: str
    candidates: int
    chosen: list[dict[str, Any]] = Field(description="Chosen creators: trusted reach, conversion, reliability, "
                                                     "credibility, expected (kept) orders, cost, range; "
                                                     "audience_users under k suppressed for a brand.")
    excluded: list[dict[str, Any]] = Field(description="Candidates below a floor, with the reason.")
    assumptions: list[str]

