"""Campaign KPIs: orders, kept orders, spend, cost per kept order, ROI, new repeat buyers (DESIGN.md §9)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from trustecon.kpis._base import PeriodSpec, Zone, ratio, reason_if, with_period, zone_for

__all__ = ["campaign_metrics", "campaign_order_lines"]


def campaign_order_lines(events: ir.Table) -> ir.Table:
    """``order`` lines carrying a ``campaign_id``, each with ``kept`` = no ``refund`` of its order
    anywhere in the log: the campaign KPIs' one rule for an attributed, kept order."""
    lines = events.filter((events.kind == "order") & events.campaign_id.notnull())
    ref = events.filter((events.kind == "refund") & events.order_id.notnull())
    ref = ref.select(r_order=ref.order_id).distinct()
    return lines.left_join(ref, lines.order_id == ref.r_order).select(lines, kept=ref.r_order.isnull())


def campaign_metrics(events: ir.Table, *, timezone: str | Zone = "UTC", period: PeriodSpec = "all") -> ir.Table:
    """Per (period, campaign_id), each event in the period of its own time.

    - spend = Σ ``amount`` of ``spend`` events; brand_id = the spend events' brand;
    - orders = distinct ``order_id`` of ``order`` lines carrying the campaign_id; kept_orders = those
      with no ``refund`` anywhere in the log; kept_gmv = Σ amount of the kept orders' campaign lines;
    - cost_per_kept_order = spend / kept_orders; roi = kept_gmv / spend;
    - new_repeat_buyers = buyers whose first campaign order (time t₁) had no order of the brand
      before t₁ and who ordered from the brand again after t₁ (another order_id, any time in the
      log). An order of the brand is a line with the campaign's brand_id or with this campaign_id.
    Null with a reason: no spend (cost and ROI), no kept orders (cost per kept order).
    """
    timezone = zone_for(events, timezone)
    sp = events.filter((events.kind == "spend") & events.campaign_id.notnull())
    brands = sp.group_by(b_campaign=sp.campaign_id).aggregate(brand_id=sp.brand_id.max())
    sp = with_period(sp, timezone, period)
    spa = sp.group_by(["period", "campaign_id"]).aggregate(spend=sp.amount.sum())

    lines = events.filter(events.kind == "order")
    cl = with_period(campaign_order_lines(events), timezone, period)
    oa = cl.group_by(["period", "campaign_id"]).aggregate(
        orders=cl.order_id.nunique(),
        kept_orders=ibis.ifelse(cl.kept, cl.order_id, ibis.null("int64")).nunique(),
        kept_gmv=ibis.ifelse(cl.kept, cl.amount, 0.0).sum(),
        buyers=cl.user_id.nunique(),
    )

    # New repeat buyers.
    first = cl.group_by(["campaign_id", "user_id"]).aggregate(t1=cl.ts.min(), o1=cl.order_id.min())
    first = first.left_join(brands, first.campaign_id == brands.b_campaign).select(first, brands.brand_id)
    first = with_period(first, timezone, period, ts="t1")
    bo = lines.select(
        b_user=lines.user_id,
        b_brand=lines.brand_id,
        b_campaign=lines.campaign_id,
        b_ts=lines.ts,
        b_order=lines.order_id,
    )
    of_brand = (bo.b_brand == first.brand_id) | (bo.b_campaign == first.campaign_id)
    j = first.left_join(bo, [bo.b_user == first.user_id, of_brand])
    per = j.group_by(["period", "campaign_id", "user_id"]).aggregate(
        before=(j.b_ts < j.t1).cast("int64").sum(),
        after=((j.b_ts > j.t1) & (j.b_order != j.o1)).cast("int64").sum(),
    )
    nr = per.group_by(["period", "campaign_id"]).aggregate(
        new_repeat_buyers=((per.before.fill_null(0) == 0) & (per.after.fill_null(0) > 0)).cast("int64").sum()
    )

    keys = ["period", "campaign_id"]
    ids = spa.select(*keys).union(oa.select(*keys)).distinct()
    t = ids.left_join(spa, [ids[k] == spa[k] for k in keys]).select(ids, spend=spa.spend)
    oa_cols = [oa[c] for c in ("orders", "kept_orders", "kept_gmv", "buyers")]
    t = t.left_join(oa, [t[k] == oa[k] for k in keys]).select(t, *oa_cols)
    t = t.left_join(nr, [t[k] == nr[k] for k in keys]).select(t, nr.new_repeat_buyers)
    t = t.left_join(brands, t.campaign_id == brands.b_campaign).select(t, brands.brand_id)
    spend = t.spend.fill_null(0.0)
    return t.select(
        "period",
        "campaign_id",
        "brand_id",
        spend=spend.cast("float64"),
        orders=t.orders.fill_null(0).cast("int64"),
        kept_orders=t.kept_orders.fill_null(0).cast("int64"),
        kept_gmv=t.kept_gmv.fill_null(0.0).cast("float64"),
        buyers=t.buyers.fill_null(0).cast("int64"),
        new_repeat_buyers=t.new_repeat_buyers.fill_null(0).cast("int64"),
        # No recorded spend means the cost is unknown, not zero.
        cost_per_kept_order=ibis.ifelse(spend > 0, ratio(spend, t.kept_orders.fill_null(0)), ibis.null("float64")),
        roi=ratio(t.kept_gmv.fill_null(0.0), spend),
        reason=reason_if(
            (spend == 0, "no spend recorded for the campaign"),
            (t.kept_orders.fill_null(0) == 0, "no kept orders"),
        ),
    )
