"""Distribution (DESIGN.md §6): trust-first feeds, discovery, exposure control, who-to-follow.

- :mod:`.feed`: the ranker (:class:`FeedConfig`, :func:`rank_feeds`);
- :mod:`.build`: batch feeds for all active users (``tables/feeds``) and :class:`FeedServer` for one
  user in process;
- :mod:`.discovery`: implicit ALS on user × creator; :mod:`.exposure`: the Gini cap;
- :mod:`.suggest`: who-to-follow; :mod:`.policy`: the feed as a simulator policy;
- :mod:`.experiment`: the policy experiment (traffic, algorithm, trust, engine on one world).
"""

from trustecon.distribution.build import FeedServer, UnknownCreatorError, build_feeds
from trustecon.distribution.discovery import CreatorALS, interaction_weights
from trustecon.distribution.experiment import EXPERIMENT_POLICIES, policy_daily, policy_experiment, policy_outcomes
from trustecon.distribution.exposure import ExposureResult, cap_exposure, gini
from trustecon.distribution.feed import FeedConfig, FeedInputs, rank_feeds

__all__ = [
    "EXPERIMENT_POLICIES",
    "CreatorALS",
    "ExposureResult",
    "FeedConfig",
    "FeedInputs",
    "FeedServer",
    "UnknownCreatorError",
    "build_feeds",
    "cap_exposure",
    "gini",
    "interaction_weights",
    "policy_daily",
    "policy_experiment",
    "policy_outcomes",
    "rank_feeds",
]
