"""Trust models (DESIGN.md §5): evidence → pair trust, creator credibility, seller reliability.

- :class:`PairTrust` — beta evidence model T(u, c) with confidence; ``fit`` learns the weights.
- :class:`CreatorTrust` — every user's evidence pooled per creator; ``fit`` learns the weights so
  that it predicts the creator's future outcome rate.
- :class:`OnlineTrust` — the same scores updated event by event, equal to a batch rebuild.
- :class:`OnlineReliability` — seller reliability updated event by event (and as time passes), equal to
  a batch rebuild.
- :class:`CreatorCredibility` — propagation from pre-trusted seeds (personalized PageRank) and the
  vouched-trust count built on it; scipy fast path and engine path.
- :class:`SellerReliability` — beta reputation of order outcomes per creator and brand, with a ledger.
- :func:`build` — every trust table of a workspace in one transaction; ``explain_*`` — why a score is
  what it is.
"""

from trustecon.trust.build import BuildResult, build
from trustecon.trust.creator_fit import CreatorTrust
from trustecon.trust.credibility import CreatorCredibility, personalized_pagerank, vouched_trust
from trustecon.trust.evidence import CHANNELS, DEFAULT_WEIGHTS, NEGATIVE, POSITIVE, EvidenceConfig
from trustecon.trust.explain import explain_creator, explain_pair, explain_seller
from trustecon.trust.online import OnlineTrust
from trustecon.trust.online_reliability import OnlineReliability
from trustecon.trust.pair import PairTrust, beta_score
from trustecon.trust.reliability import SellerReliability

__all__ = [
    "CHANNELS",
    "DEFAULT_WEIGHTS",
    "NEGATIVE",
    "POSITIVE",
    "BuildResult",
    "CreatorCredibility",
    "CreatorTrust",
    "EvidenceConfig",
    "OnlineReliability",
    "OnlineTrust",
    "PairTrust",
    "SellerReliability",
    "beta_score",
    "build",
    "explain_creator",
    "explain_pair",
    "explain_seller",
    "personalized_pagerank",
    "vouched_trust",
]
