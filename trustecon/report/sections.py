"""The report's sections. Each returns a :class:`Section` with its HTML, or with the one-line reason
it is left out (a KPI without data is never shown as 0)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd

from trustecon import kpis
from trustecon.live import live_funnel
from trustecon.report import charts
from trustecon.store import Workspace

__all__ = ["SECTIONS", "Context", "Section"]


@dataclass
class Context:
    """What every section reads: the workspace, an engine connection and the event log on it."""

    ws: Workspace
    con: ibis.BaseBackend
    events: ibis.Table
    kinds: dict[str, int]
    headline: dict[str, kpis.KpiValue] = field(default_factory=dict)

    def has(self, *kinds_: str) -> bool:
        return all(self.kinds.get(k, 0) > 0 for k in kinds_)


@dataclass
class Section:
    key: str
    title: str
    body: str | None = None
    reason: str | None = None
    charts: list[str] = field(default_factory=list)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "—"
    if isinstance(v, bool | np.bool_):  # before int: a flag is not a count
        return "true" if v else "false"
    if isinstance(v, float):
        if v != 0 and abs(v) < 0.1:
            # Fixed decimals would round 0.0015 to 0.002 (or 0.0004 to 0.000): keep the significant digits.
            return f"{v:.{digits}g}"
        return f"{v:,.{digits}f}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    return html.escape(str(v))


def counts_as_int(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` (those present) as nullable integers: a left join leaves NaN in count columns,
    which turns them into floats shown as 9.0000."""
    return df.astype({c: "Int64" for c in columns if c in df.columns})


def table_html(df: pd.DataFrame, digits: int = 3) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_fmt(v, digits)}</td>" for v in r) + "</tr>" for r in df.itertuples(False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def figure(name: str, chart: Any) -> str:
    return f'<figure class="chart" data-chart="{html.escape(name)}">{charts.to_svg(chart)}</figure>'


def _df(expr: ibis.Table) -> pd.DataFrame:
    return expr.to_pyarrow().to_pandas()


# ----------------------------------------------------------------------------------------- sections


def provenance(ctx: Context) -> Section:
    cfg = ctx.ws.config
    prov = cfg.get("provenance", {})
    rows: list[tuple[str, Any]] = [
        ("workspace", str(ctx.ws.path)), ("time zone", ctx.ws.timezone), ("currency", ctx.ws.currency)
    ]
    rows += [(k, v) for k, v in prov.items() if not isinstance(v, dict)]
    rows += [("events", sum(ctx.kinds.values()))] + [(f"  {k}", n) for k, n in sorted(ctx.kinds.items())]
    body = table_html(pd.DataFrame(rows, columns=["what", "value"]))
    # Nested provenance (the simulator's whole configuration) folds away: the reader asked where the
    # data comes from, and sixty parameters in one cell hid the answer.
    for k, v in prov.items():
        if isinstance(v, dict):
            flat = [(a, b if not isinstance(b, dict) else ", ".join(f"{x}={y}" for x, y in b.items()))
                    for a, b in v.items()]
            body += (f"<details><summary>{html.escape(str(k))} ({len(flat)} parameters)</summary>"
                     + table_html(pd.DataFrame(flat, columns=["parameter", "value"])) + "</details>")
    calib = ctx.ws.read_json("calibration.json")
    if calib:
        cal = pd.DataFrame(
            [(k, v.get("target"), v.get("achieved")) for k, v in calib.items() if isinstance(v, dict)],
            columns=["metric", "target", "achieved"],
        )
        body += "<h3>Simulator calibration (calibration.json)</h3>" + table_html(cal)
    if not prov:
        body += "<p class='note'>No provenance recorded: events were ingested from files.</p>"
    return Section("provenance", "Where the data comes from", body)


def kpis_vs_article(ctx: Context) -> Section:
    rows = []
    for name, v in ctx.headline.items():
        rows.append((name, v.value, kpis.ARTICLE_FIGURES.get(name), v.unit, v.reason or ""))
    df = pd.DataFrame(rows, columns=["KPI", "ours", "article", "unit", "why no value"])
    body = (
        table_html(df) + "<p class='note'>The article's figures are its claims (DESIGN.md §2), not verified facts.</p>"
    )
    have = df.dropna(subset=["ours", "article"])
    out = Section("kpis", "KPIs beside the article's figures")
    out.body = body
    if len(have):
        out.body += figure("kpi_vs_article", charts.kpi_vs_article(have.rename(columns={"KPI": "label"})))
        out.charts.append("kpi_vs_article")
    return out


def trust(ctx: Context) -> Section:
    if not ctx.ws.has_table("pair_trust"):
        return Section("trust", "Trust", reason="no trust tables yet: run 'trustecon build WORKSPACE'")
    pt = ctx.ws.read_table("pair_trust").to_pandas()
    if pt.empty:
        return Section("trust", "Trust", reason="no user → creator evidence in the log, so no pair trust")
    s = Section("trust", "Pair trust: distribution and calibration")
    desc = pt["trust"].describe()
    s.body = table_html(pd.DataFrame({"statistic": desc.index, "trust": desc.values}))
    s.body += figure("trust_hist", charts.histogram(pt["trust"], "Distribution of pair trust T(u, c)", "trust"))
    s.charts.append("trust_hist")
    if ctx.ws.has_table("latent_trust", area="truth"):
        truth = ctx.ws.read_table("latent_trust", area="truth").to_pandas()
        j = pt.merge(truth, on=["user_id", "creator_id"], suffixes=("", "_true"))
        if len(j) >= 10:
            j["decile"] = pd.qcut(j["trust"].rank(method="first"), 10, labels=False) + 1
            cal = j.groupby("decile").agg(
                mean_T=("trust", "mean"), mean_latent=("trust_true", "mean"), pairs=("trust", "size")
            )
            cal = cal.reset_index()
            rho = j["trust"].corr(j["trust_true"], method="spearman")
            s.body += (
                f"<p>Spearman ρ between T and the simulator's latent trust over {len(j):,} pairs: <b>{rho:.3f}</b>.</p>"
            )
            s.body += figure(
                "trust_calibration",
                charts.line(
                    cal,
                    "mean_T",
                    "mean_latent",
                    "Calibration: latent trust by decile of T",
                    "mean T",
                    "mean latent trust",
                ),
            )
            s.charts.append("trust_calibration")
            s.body += table_html(cal)
    else:
        s.body += (
            "<p class='note'>Calibration against truth is left out: no ground truth (not a simulated workspace).</p>"
        )
    return s


def creators(ctx: Context) -> Section:
    if not ctx.ws.has_table("creator_credibility"):
        return Section("creators", "Top creators", reason="no credibility table: run 'trustecon build WORKSPACE'")
    cred = ctx.ws.read_table("creator_credibility").to_pandas()
    if cred.empty:
        return Section("creators", "Top creators", reason="no trust graph to propagate over, so no credibility")
    top = cred.sort_values("credibility", ascending=False).head(15)[["creator_id", "credibility"]]
    fol = _df(kpis.follower_counts(ctx.events, timezone=ctx.ws.timezone))
    if {"creator_id", "followers"} <= set(fol.columns):
        top = top.merge(fol[["creator_id", "followers"]], on="creator_id", how="left")
    if ctx.ws.has_table("seller_reliability"):
        rel = ctx.ws.read_table("seller_reliability").to_pandas()
        if not rel.empty:
            rel = rel[rel["seller_kind"] == "creator"].rename(columns={"seller_id": "creator_id"})
            keep = [
                c for c in ("creator_id", "reliability", "orders", "kept", "refunded", "complained") if c in rel.columns
            ]
            top = top.merge(rel[keep], on="creator_id", how="left")
    if ctx.ws.has_table("seller_ledger"):
        led = ctx.ws.read_table("seller_ledger").to_pandas()
        if not led.empty and "seller_id" in led.columns:
            n = led.groupby("seller_id").size().rename("ledger_entries").reset_index()
            top = top.merge(n.rename(columns={"seller_id": "creator_id"}), on="creator_id", how="left")
    top = counts_as_int(top, ("followers", "orders", "kept", "refunded", "complained", "ledger_entries"))
    s = Section("creators", "Top creators by credibility")
    s.body = table_html(top, 4)
    chart_df = top.assign(creator=top["creator_id"].astype(str))
    s.body += figure(
        "top_credibility",
        charts.bar(
            chart_df, "creator", "credibility", "Credibility of the top creators", "creator", "credibility", sort="-y"
        ),
    )
    s.charts.append("top_credibility")
    return s


def reach_and_exposure(ctx: Context) -> Section:
    if not ctx.has("impression"):
        return Section("exposure", "Fan reach and exposure", reason="no impressions in the log")
    g = _df(kpis.exposure_gini(ctx.events, timezone=ctx.ws.timezone, period="all"))
    lz = _df(kpis.exposure_lorenz(ctx.events, timezone=ctx.ws.timezone, period="all"))
    reach = ctx.headline.get("fan_content_reach")
    s = Section("exposure", "Fan reach and the Lorenz curve of exposure")
    s.body = table_html(g)
    if reach is not None:
        s.body += f"<p>Fan content reach: <b>{_fmt(reach.value)}</b> {html.escape(reach.reason or '')}</p>"
    if len(lz) and {"creator_share", "exposure_share"} <= set(lz.columns):
        gini_v = float(g["value"].iloc[0]) if len(g) and g["value"].notna().iloc[0] else None
        s.body += figure("lorenz", charts.lorenz(lz, gini_v))
        s.charts.append("lorenz")
    return s


def live(ctx: Context) -> Section:
    if not ctx.has("live_enter"):
        return Section("live", "Live sessions", reason="no live sessions in the log (no live_enter events)")
    tz = ctx.ws.timezone
    parts = [
        _df(kpis.live_watch_time(ctx.events, timezone=tz, period="all")).assign(kpi="watch minutes per visit"),
        _df(kpis.interactions_per_minute(ctx.events, timezone=tz, period="all")).assign(kpi="interactions per minute"),
    ]
    rooms = _df(kpis.live_room_metrics(ctx.events, timezone=tz, period="all"))
    s = Section("live", "Live sessions")
    s.body = "".join(table_html(p.drop(columns=[c for c in ("period",) if c in p.columns])) for p in parts)
    s.body += "<h3>Room money metrics</h3>" + table_html(rooms)
    fun = _df(live_funnel(ctx.events))
    s.body += "<h3>Funnel</h3>" + table_html(fun)
    s.body += figure("funnel", charts.funnel(fun))
    s.charts.append("funnel")
    return s


def repurchase(ctx: Context) -> Section:
    if not ctx.has("order"):
        return Section("repurchase", "Repurchase cohorts", reason="no orders in the log")
    m = _df(kpis.monthly_repurchase(ctx.events, timezone=ctx.ws.timezone, period="month"))
    m = m[m["value"].notna()] if "value" in m.columns else m
    if m.empty:
        return Section("repurchase", "Repurchase cohorts", reason="no pair of whole consecutive months in the log")
    s = Section("repurchase", "Monthly repurchase cohorts")
    s.body = table_html(m)
    s.body += figure(
        "repurchase",
        charts.bar(
            m, "period", "value", "Share of month-m buyers who buy again in m+1", "cohort month", "repurchase rate"
        ),
    )
    s.charts.append("repurchase")
    return s


def policies(ctx: Context) -> Section:
    if not ctx.ws.has_table("policy_experiment"):
        return Section(
            "policies",
            "Distribution policies compared",
            reason="no policy comparison in this workspace ('trustecon experiment policies' makes one)",
        )
    df = ctx.ws.read_table("policy_experiment").to_pandas()
    s = Section("policies", "Distribution policies compared (same seed and days)")
    s.body = table_html(df)
    num = [c for c in df.columns if c != "policy" and pd.api.types.is_numeric_dtype(df[c])]
    if "policy" in df.columns and num:
        long = df.melt(id_vars="policy", value_vars=num[:4], var_name="metric", value_name="v")
        import altair as alt

        chart = (
            alt.Chart(long, width=160, height=160)
            .mark_bar()
            .encode(x=alt.X("policy:N", title=None), y=alt.Y("v:Q", title=None), column=alt.Column("metric:N"))
            .resolve_scale(y="independent")
        )
        s.body += figure("policies", chart)
        s.charts.append("policies")
    return s


SECTIONS: tuple[Callable[[Context], Section], ...] = (
    provenance,
    kpis_vs_article,
    trust,
    creators,
    reach_and_exposure,
    live,
    repurchase,
    policies,
)
