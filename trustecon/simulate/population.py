"""The population sampler: users, creators, brands and products (DESIGN.md §10).

People share one id space (DESIGN.md §4): person ``i`` (0-based index) has ``user_id = i + 1``, and
creator ``j`` is person ``j`` — creators are the first ``creators`` users, so a creator also watches and
buys. Fake accounts made by attacks are appended after the real users. Products and brands have their
own id spaces (``product_id = p + 1``, ``brand_id = b + 1``).

Every draw comes from the one seeded generator passed in; array sizes depend only on the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from trustecon.simulate.config import SimConfig

__all__ = ["Population", "sample_population"]


@dataclass
class Population:
    """Latent attributes of every agent (arrays indexed by 0-based user / creator / product index)."""

    # users
    interest: np.ndarray  # (U, K) float32, rows sum to 1
    activity: np.ndarray  # (U,) daily probability of being active
    price_sensitivity: np.ndarray  # (U,) > 0; demand falls as exp(-s * price / price_median)
    propensity: np.ndarray  # (U,) prior trust in a creator never met, in (0, 1)
    hour: np.ndarray  # (U,) preferred hour of the day to use the app (local time)
    # creators
    category: np.ndarray  # (C,) int
    quality: np.ndarray  # (C,) content quality in (0, 1)
    honesty: np.ndarray  # (C,) in (0, 1): how truthfully the creator sells
    publish_rate: np.ndarray  # (C,) short videos per day (Poisson mean)
    sells: np.ndarray  # (C,) bool: sells in live rooms
    live_days: np.ndarray  # (C, 7) bool: weekday schedule of live sessions
    live_hour: np.ndarray  # (C,) local start hour (float)
    session_minutes: np.ndarray  # (C,) length of a live session
    fame: np.ndarray  # (C,) > 0, Pareto: how widely followed at the start
    assortment_ptr: np.ndarray  # (C+1,) CSR pointers into assortment
    assortment: np.ndarray  # product indices sold by each creator, in pin order
    # brands and products
    brand_category: np.ndarray  # (B,)
    product_brand: np.ndarray  # (P,)
    product_category: np.ndarray  # (P,)
    price: np.ndarray  # (P,) in the workspace currency
    product_quality: np.ndarray  # (P,) in (0, 1)

    @cached_property
    def match(self) -> np.ndarray:
        """(U, K) float32 interest match ``m_uk = interest[u, k] / max_k' interest[u, k']``, computed once."""
        return self.interest / self.interest.max(axis=1, keepdims=True)

    @property
    def n_users(self) -> int:
        return int(self.activity.shape[0])

    @property
    def n_creators(self) -> int:
        return int(self.quality.shape[0])

    @property
    def n_products(self) -> int:
        return int(self.price.shape[0])


def sample_population(cfg: SimConfig, rng: np.random.Generator) -> Population:
    """Draw all agents of a world described by ``cfg``."""
    U, C, K, B = cfg.users, cfg.creators, cfg.categories, cfg.brands
    P = B * cfg.products_per_brand
    # Users. A small Dirichlet alpha gives each user a few favourite categories.
    interest = rng.dirichlet(np.full(K, cfg.interest_concentration), size=U).astype(np.float32)
    k = cfg.activity_concentration
    activity = rng.beta(cfg.activity_mean * k, (1 - cfg.activity_mean) * k, size=U)
    price_sensitivity = rng.lognormal(0.0, 0.5, size=U)
    propensity = rng.beta(cfg.trust_propensity_a, cfg.trust_propensity_b, size=U)
    hour = np.clip(rng.normal(20.0, 2.5, size=U), 7.0, 23.5)

    # Creators. Categories are uneven (a few big verticals), like real platforms.
    cat_weights = rng.dirichlet(np.full(K, 2.0))
    category = rng.choice(K, size=C, p=cat_weights)
    quality = rng.beta(4.0, 3.0, size=C)
    honesty = rng.beta(9.0, 1.5, size=C)
    publish_rate = cfg.publish_rate * rng.lognormal(-0.18, 0.6, size=C)
    sells = rng.random(C) < cfg.seller_share
    p_day = cfg.live_days_per_week / 7.0
    live_days = (rng.random((C, 7)) < p_day) & sells[:, None]
    live_hour = rng.uniform(12.0, 19.5, size=C)
    lo, hi = cfg.live_session_minutes
    session_minutes = rng.uniform(lo, hi, size=C)
    fame = rng.pareto(1.2, size=C) + 1.0

    # Brands own products of one category; price and quality are independent of each other here
    # (a dear product is not a better one), so trust has something to discover.
    brand_category = rng.choice(K, size=B, p=cat_weights)
    product_brand = np.repeat(np.arange(B), cfg.products_per_brand)
    product_category = brand_category[product_brand]
    price = np.round(cfg.price_median * rng.lognormal(0.0, cfg.price_sigma, size=P), 1)
    product_quality = rng.beta(6.0, 1.8, size=P)

    # Assortment: each seller carries 12-30 products of its category (or any, if its category has none).
    by_cat = [np.flatnonzero(product_category == c) for c in range(K)]
    sizes = np.where(sells, rng.integers(12, 31, size=C), 0)
    chunks = []
    for c in range(C):
        if not sizes[c]:
            continue
        pool = by_cat[category[c]]
        if pool.size == 0:
            pool = np.arange(P)
        chunks.append(rng.choice(pool, size=min(sizes[c], pool.size), replace=False))
        sizes[c] = chunks[-1].size
    assortment = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    assortment_ptr = np.concatenate([[0], np.cumsum(sizes)])
    return Population(
        interest=interest,
        activity=activity,
        price_sensitivity=price_sensitivity,
        propensity=propensity,
        hour=hour,
        category=category,
        quality=quality,
        honesty=honesty,
        publish_rate=publish_rate,
        sells=sells,
        live_days=live_days,
        live_hour=live_hour,
        session_minutes=session_minutes,
        fame=fame,
        assortment_ptr=assortment_ptr.astype(np.int64),
        assortment=assortment.astype(np.int64),
        brand_category=brand_category,
        product_brand=product_brand,
        product_category=product_category,
        price=price,
        product_quality=product_quality,
    )
