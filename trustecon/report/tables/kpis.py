"""The KPI tables: ``tables/kpis_<name>`` for every table of :func:`trustecon.kpis.compute_all`.

Each KPI table has its own columns; meanings are those of the KPI functions' docstrings
(:mod:`trustecon.kpis.live`, ``.reach``, ``.commerce``, ``.creators``, ``.exposure``, ``.campaign``).
Per-period tables stack the periods ``all``, months and days; per-creator, per-session, Lorenz and
campaign tables are over the whole log (period ``all``).
"""

from __future__ import annotations

from trustecon.report.tables._spec import Column, TableSpec, cols

__all__ = ["KPI_TABLES"]

GROUP = "KPIs (trustecon kpis)"
KPIS = ("trustecon kpis WS",)
WRITER = ("trustecon.kpis.persist.write_kpis",)

PERIOD = Column("period", "all, a month YYYY-MM or a day YYYY-MM-DD, cut in the workspace's time zone")
WHOLE = Column("period", "all (the whole log)")
MONTHS = Column("period", "all (pooled) or a month YYYY-MM whose next month also lies wholly in the log")
REASON = Column("reason", "why value is null (null when value is defined)")
ROOMS_REASON = Column("reason", "why ratios are null: no live visits, or no live orders (for old_fan_buyer_share)")
BY_CREATOR = Column("creator_id", "the creator (over lines or events carrying its creator_id)")

# Column groups shared by a KPI and its per-creator table.
WATCH = cols(
    ("visits", "live visits (enter paired with a leave, a re-enter or live_end; open ones included)"),
    ("closed_visits", "visits with a known end"),
    ("watch_minutes", "Σ (end − enter) over closed visits, in minutes"),
    ("value", "watch_minutes / closed_visits: minutes per visit (article: 24)"),
)
ROOMS = cols(
    ("visits", "live visits (open ones included)"),
    ("unique_viewers", "distinct users who entered (pooled: a viewer of two sessions counts twice)"),
    ("orders", "distinct order_id of order lines carrying the session_id"),
    ("buyers", "distinct users among those order lines"),
    ("new_followers", "viewers with a follow of the host between their first enter and the session's end"),
    ("old_fan_buyers", "buyers who followed the host at the session's start"),
    ("gmv", "Σ amount of order lines carrying the session_id"),
    ("uv_value", "gmv / unique_viewers"),
    ("gpm", "1000 · gmv / visits"),
    ("follower_conversion", "new_followers / unique_viewers"),
    ("old_fan_buyer_share", "old_fan_buyers / buyers"),
)
SESSIONS = Column("sessions", "live sessions, each in the period of its start")
REACH = cols(
    ("contents", "content published at least 7 days before the log's last event"),
    ("pairs", "(follower of the creator at publish, content) pairs"),
    ("reached", "pairs with an impression or view of the content within 7 days of its publish"),
    ("value", "reached / pairs (article: 62%)"),
)
CONVERSION = cols(
    ("viewers", "distinct (user, creator) pairs with a view of the creator's content in the period"),
    ("followers", "of them, pairs with a follow of that creator in the period at or after the first view"),
    ("value", "followers / viewers"),
)
REPURCHASE = cols(
    ("buyers", "users with an order in month m, summed over the months m counted"),
    ("repeaters", "of them, users with an order in month m + 1"),
    ("value", "repeaters / buyers (article: 65%)"),
)
ORDER_VALUE = cols(
    ("gmv", "Σ amount of the order lines (gross: refunds not subtracted)"),
    ("orders", "distinct order_id"),
    ("value", "gmv / orders, the average order value"),
)
PRIVATE = cols(
    ("gmv", "Σ amount of order lines carrying a creator_id"),
    ("private_gmv", "of it, lines whose buyer followed that creator at the line's time"),
    ("value", "private_gmv / gmv"),
)


def _kpi(name: str, fn: str, row: str, description: str, key: tuple[str, ...], *columns: Column,
         reason: Column = REASON) -> TableSpec:
    return TableSpec(f"kpis_{name}", "tables", GROUP, KPIS, WRITER, f"trustecon.kpis.{fn}", row=row, key=key,
                     description=description, columns=(*columns, reason))


PER_PERIOD, PER_CREATOR = "one period", "one creator (period all)"
P, PC = ("period",), ("period", "creator_id")

KPI_TABLES: tuple[TableSpec, ...] = (
    _kpi("live_watch_time", "live.live_watch_time", PER_PERIOD,
         "Live watch time per visit, in minutes: the mean over closed visits of (end − enter), visits cut by "
         "the enter's period.", P, PERIOD, *WATCH),
    _kpi("live_watch_time_by_creator", "live.live_watch_time", PER_CREATOR,
         "Live watch time per visit, per creator.", PC, WHOLE, BY_CREATOR, *WATCH),
    _kpi("products_seen", "live.products_seen_per_visit", PER_PERIOD,
         "Products seen per live visit: distinct products pinned in the session from the one on show at entry "
         "to the visit's end.", P, PERIOD,
         *cols(("closed_visits", "visits with a known end"),
               ("products_seen", "Σ over closed visits of the distinct products seen"),
               ("value", "products_seen / closed_visits (article: ~5); null when the log has no product_pin"))),
    _kpi("interactions_per_minute", "live.interactions_per_minute", PER_PERIOD,
         "Interactions (like, comment, share, gift, product_click) per minute watched, live against short "
         "video, and their ratio.", P, PERIOD,
         *cols(("live_interactions", "interactions carrying a session_id"),
               ("live_minutes", "closed live visits' watch time, in minutes (by the enter's period)"),
               ("video_interactions", "interactions without a session but with a content_id"),
               ("video_minutes", "Σ watch_ms of views without a session / 60,000"),
               ("live_per_minute", "live_interactions / live_minutes"),
               ("video_per_minute", "video_interactions / video_minutes"),
               ("value", "live_per_minute / video_per_minute (article: 12×)"))),
    _kpi("live_rooms", "live.live_room_metrics", PER_PERIOD,
         "Live-room money metrics pooled per period (sums over the sessions starting in it).", P, PERIOD,
         SESSIONS, *ROOMS, reason=ROOMS_REASON),
    _kpi("live_rooms_by_creator", "live.live_room_metrics", "one host creator (period all)",
         "Live-room money metrics per host.", PC, WHOLE, Column("creator_id", "the host"), SESSIONS, *ROOMS,
         reason=ROOMS_REASON),
    _kpi("live_sessions", "live.live_room_metrics", "one live session (period all)",
         "Live-room money metrics per session.", ("session_id",), WHOLE, Column("session_id"),
         Column("creator_id", "the host"), *ROOMS, reason=ROOMS_REASON),
    _kpi("fan_content_reach", "reach.fan_content_reach", PER_PERIOD,
         "Fan content reach rate: the share of (follower at publish, content) pairs the follower was shown "
         "within 7 days, per period of the publish.", P, PERIOD, *REACH),
    _kpi("fan_content_reach_by_creator", "reach.fan_content_reach", PER_CREATOR,
         "Fan content reach rate per creator.", PC, WHOLE, BY_CREATOR, *REACH),
    _kpi("follow_conversion", "reach.follow_conversion", PER_PERIOD,
         "Follow conversion of short-video viewers (the private-domain funnel's last step).", P, PERIOD,
         *CONVERSION),
    _kpi("follow_conversion_by_creator", "reach.follow_conversion", PER_CREATOR,
         "Follow conversion of short-video viewers per creator.", PC, WHOLE, BY_CREATOR, *CONVERSION),
    _kpi("monthly_repurchase", "commerce.monthly_repurchase", "one period (all, or a month)",
         "Monthly repurchase rate: of the users ordering in month m, the share ordering in m + 1, over months "
         "with m and m + 1 wholly in the log.", P, MONTHS, *REPURCHASE),
    _kpi("monthly_repurchase_by_creator", "commerce.monthly_repurchase", PER_CREATOR,
         "Monthly repurchase rate per creator: buying again from the same creator.", PC, WHOLE, BY_CREATOR,
         *REPURCHASE),
    _kpi("order_value", "commerce.order_value", PER_PERIOD,
         "Average order value (客单价): GMV / distinct orders, per period of the order line.", P, PERIOD,
         *ORDER_VALUE),
    _kpi("order_value_by_creator", "commerce.order_value", PER_CREATOR,
         "Average order value per creator, over the lines carrying its creator_id.", PC, WHOLE, BY_CREATOR,
         *ORDER_VALUE),
    _kpi("order_value_top10", "commerce.order_value", PER_PERIOD,
         "Average order value of the top 10% of the period's creators by GMV, over their own lines (article: "
         "¥135 for some top creators).", P, PERIOD, *ORDER_VALUE),
    _kpi("refund_rate", "commerce.refund_rate", PER_PERIOD,
         "Refund rate: refunded orders / orders, each order in the period of its first line.", P, PERIOD,
         *cols(("orders", "distinct order_id of order lines"),
               ("refunded", "orders with a refund event carrying their order_id, at any time in the log"),
               ("value", "refunded / orders"))),
    _kpi("private_domain_gmv", "commerce.private_domain_gmv_share", PER_PERIOD,
         "Private-domain GMV share: the share of GMV bought by the seller's own followers.", P, PERIOD, *PRIVATE),
    _kpi("private_domain_gmv_by_creator", "commerce.private_domain_gmv_share", PER_CREATOR,
         "Private-domain GMV share per creator.", PC, WHOLE, BY_CREATOR, *PRIVATE),
    _kpi("creator_income", "creators.creator_income", PER_PERIOD,
         "Share of creators with at least N followers who earn (payout and gift income); N = 10,000 on a real "
         "log, users / 200 on a simulated one (article: 55%).", P, PERIOD,
         *cols(("eligible", "creators with at least N followers at the period's end"),
               ("eligible_earning", "of them, creators with income (Σ payout and gift amounts > 0) in the period"),
               ("earning_creators", "all creators with income in the period, any audience"),
               ("income", "Σ payout and gift amounts of the earning creators"),
               ("value", "eligible_earning / eligible"))),
    _kpi("exposure", "exposure.exposure_gini", PER_PERIOD,
         "Exposure inequality across the creators active (published or went live) in the period.", P, PERIOD,
         *cols(("creators", "creators who published or went live in the period"),
               ("exposed", "of them, creators with at least one impression"),
               ("impressions", "impressions of those creators"),
               ("value", "Gini of their impression counts (0 = equal), zero exposure included"),
               ("share_exposed", "exposed / creators"))),
    TableSpec(
        "kpis_exposure_lorenz", "tables", GROUP, KPIS, WRITER, "trustecon.kpis.exposure.exposure_lorenz",
        row="one active creator (period all)", key=PC,
        description="Lorenz curve of exposure: active creators sorted by impressions, ascending (ties by id).",
        columns=(WHOLE, *cols(("creator_id", "a creator who published or went live"),
                              ("exposure", "the creator's impressions"),
                              ("rank", "position by exposure, ascending (ties by id), from 1"),
                              ("creator_share", "rank / number of creators"),
                              ("exposure_share", "Σ exposure up to this rank / Σ exposure (null when that is 0)"))),
    ),
    _kpi("campaigns", "campaign.campaign_metrics", "one campaign (period all)",
         "Brand campaigns: spend, attributed orders, kept orders, cost per kept order, ROI and new repeat "
         "buyers.", ("period", "campaign_id"), WHOLE,
         *cols(("campaign_id", "the campaign (spend events and the order lines carrying it)"),
               ("brand_id", "the spend events' brand"),
               ("spend", "Σ amount of the campaign's spend events"),
               ("orders", "distinct order_id of order lines carrying the campaign_id"),
               ("kept_orders", "of them, orders with no refund anywhere in the log"),
               ("kept_gmv", "Σ amount of the kept orders' campaign lines"),
               ("buyers", "distinct users among the campaign's order lines"),
               ("new_repeat_buyers", "buyers whose first campaign order had no order of the brand before it and "
                "who ordered from the brand again after it"),
               ("cost_per_kept_order", "spend / kept_orders (null without spend)"),
               ("roi", "kept_gmv / spend")),
         reason=Column("reason", "why a ratio is null: no spend recorded for the campaign, or no kept orders")),
)
