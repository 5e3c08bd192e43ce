"""The apps' tables: feeds (:mod:`trustecon.distribution.build`) and group buys (:mod:`trustecon.live.groupbuy`).

Meanings are those of :mod:`trustecon.distribution.build`, :mod:`trustecon.distribution.feed` (the
sources and scores of a feed) and :mod:`trustecon.live.groupbuy` (a deal and its settlement).
"""

from __future__ import annotations

from trustecon.report.tables._spec import TableSpec, cols

__all__ = ["DEAL_TABLES", "FEED_TABLES"]

FEEDS = "Feeds (trustecon feed)"
FEED = ("trustecon feed WS --all",)
BUILD_FEEDS = "trustecon.distribution.build.build_feeds"
DEALS = "Group buys (trustecon groupbuy)"
FACTORS = "the factor vector (als_factors = 32 floats by default)"

FEED_TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "feeds", "tables", FEEDS, FEED, (BUILD_FEEDS,), "trustecon.distribution.feed",
        row="one slot of an active user's feed", key=("user_id", "rank"),
        description="Every active user's feed as of the build: undelivered notices on top, then the private "
        "domain, discovery and exploration slots, all under one exposure control (DESIGN.md §6).",
        columns=cols(
            ("user_id", "an active user (any event in the last active_days, 7)"),
            ("rank", "the slot's position in the user's feed, from 0"),
            ("creator_id", "the creator shown"),
            ("content_id", "the creator's latest content published within fresh_days (null for a notice)"),
            ("source", "follow (private domain), discover, explore or notice"),
            ("score", "the ranking score of the slot's tier (0 for a notice)"),
            ("notice_id", "the notice's event_id (null unless source is notice)"),
            ("as_of", "the instant the feeds are built as of: the latest event, or --as-of"),
        ),
    ),
    TableSpec(
        "feed_creators", "tables", FEEDS, FEED, (BUILD_FEEDS,), "trustecon.distribution.build",
        row="one creator with fresh content at the build", key=("creator_id",),
        description="The creators the build ranked and the exposure each got; FeedServer gives a creator that "
        "hit its quota no discovery slot.",
        columns=cols(
            "creator_id",
            ("content_id", "its latest content published within fresh_days (3)"),
            ("exposure", "the slots it got across all feeds"),
            ("quota", "the per-creator exposure quota that keeps the exposure Gini under gini_cap (−1: no quota)"),
            ("capped", "exposure reached the quota"),
            ("credibility", "creator credibility / its maximum among these creators (0.5 when not built)"),
            ("popularity", "log(1 + followers) / max log(1 + followers)"),
            ("novel", "first seen within new_days (7), or impressions at or below the median: long tail"),
        ),
    ),
    TableSpec(
        "feed_user_factors", "tables", FEEDS, FEED, (BUILD_FEEDS,), "trustecon.distribution.discovery.CreatorALS",
        row="one user in the co-behaviour matrix", key=("id",),
        description="User factors of implicit ALS on user × creator co-behaviour (discovery's x_u).",
        columns=cols(("id", "the user_id"), ("factors", FACTORS)),
    ),
    TableSpec(
        "feed_creator_factors", "tables", FEEDS, FEED, (BUILD_FEEDS,),
        "trustecon.distribution.discovery.CreatorALS",
        row="one creator in the co-behaviour matrix", key=("id",),
        description="Creator factors of implicit ALS on user × creator co-behaviour (discovery's y_c).",
        columns=cols(("id", "the creator_id"), ("factors", FACTORS)),
    ),
    TableSpec(
        "notice_deliveries", "tables", FEEDS, ("trustecon feed WS --all", "trustecon feed WS --user U"),
        (BUILD_FEEDS, "trustecon.distribution.build.FeedServer.save_deliveries"),
        "trustecon.distribution.pipelines.pending_notices",
        row="one notice shown to one follower", key=("user_id", "notice_id"),
        description="Every creator notice shown so far (e.g. a leave notice): each follower sees each notice "
        "once, in her next feed, never again.",
        columns=cols(("user_id", "the follower shown the notice"), ("notice_id", "the notice event's event_id")),
    ),
)

DEAL_TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "group_buys", "tables", DEALS, ("trustecon groupbuy open WS", "trustecon groupbuy settle WS"),
        ("trustecon.live.groupbuy.open_deal", "trustecon.live.groupbuy.settle_deal",
         "trustecon.live.groupbuy.settle_due"),
        "trustecon.live.groupbuy",
        row="one deal", key=("deal_id",), when="once a deal is opened",
        description="Group-buy deals (DESIGN.md §7): a creator opens a deal; orders naming it join; at the "
        "deadline it succeeds or fails (every joined order refunded once), with what settlement found.",
        columns=cols(
            ("deal_id", "the deal; its orders carry it as campaign_id"),
            ("creator_id", "the creator who opened the deal"),
            ("product_id", "the product sold"),
            "unit_price",
            ("target_quantity", "the quantity to reach by the deadline for success"),
            ("opened_at", "orders count from this instant"),
            ("deadline", "orders count up to this instant; settlement at or after it"),
            ("state", "open, succeeded or failed"),
            ("settled_at", "the instant the deal was settled as of (null while open)"),
            ("quantity", "Σ quantity of the joined lines whose order was not refunded by the deadline (null "
             "while open)"),
            ("orders", "joined orders at settlement (null while open)"),
            ("refunds_written", "refund events the deal wrote (null while open)"),
        ),
    ),
)
