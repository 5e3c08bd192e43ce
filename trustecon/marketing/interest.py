"""A user's shopping interest in a brand, from the log: what the planner calls *fit* (DESIGN.md §8).

The log has no product categories, so interest is by brand or product: every order line and product
click of a user is one observation of where their shopping goes, and ``fit(u)`` is the
additive-smoothing estimate of the share that goes to the brand (Manning et al., *Introduction to
Information Retrieval*, 2008, §13.2). Used by the planner (trusted reach, the pin model's viewer
scaling) and by the auction's targeting, so that both mechanisms see the same interest.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["shopping_interest", "user_fit"]


def shopping_interest(events: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, int]]:
    """Every (user, product, brand) order line and product click of the log, and product → brand
    (from the order lines; a click may carry no brand)."""
    ev = events
    orders = ev[(ev["kind"] == "order") & ev["order_id"].notna()]
    pb = orders.dropna(subset=["product_id", "brand_id"]).drop_duplicates("product_id")
    product_brand = dict(zip(pb["product_id"].astype("int64"), pb["brand_id"].astype("int64"), strict=True))
    clicks = ev[(ev["kind"] == "product_click") & ev["product_id"].notna() & ev["user_id"].notna()]
    inter = pd.concat(
        [orders[["user_id", "product_id"]].dropna(), clicks[["user_id", "product_id"]]], ignore_index=True
    ).astype("int64")
    inter["brand_id"] = inter["product_id"].map(product_brand).fillna(-1).astype("int64")
    return inter, product_brand


def user_fit(inter: pd.DataFrame, brand_id: int, product_ids: tuple[int, ...], n_brands: int,
             strength: float) -> tuple[pd.Series, float]:
    """fit(u) = (h_u + s·π) / (n_u + s) per user of ``inter`` (:func:`shopping_interest`), and π
    (module docstring): the additive-smoothing share of u's shopping on the brand (or products)."""
    hit = inter["product_id"].isin(product_ids) if product_ids else inter["brand_id"] == brand_id
    n = inter.groupby("user_id").size()
    h = hit.groupby(inter["user_id"]).sum()
    pi = (float(hit.sum()) + 1.0) / (len(inter) + max(n_brands, 1))
    return (h + strength * pi) / (n + strength), pi
