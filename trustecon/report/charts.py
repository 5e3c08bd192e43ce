"""Altair charts for the report, rendered offline to inline SVG with vl-convert (no CDN, no JS)."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import vl_convert as vlc

__all__ = [
    "bar",
    "funnel",
    "histogram",
    "kpi_vs_article",
    "line",
    "lorenz",
    "to_svg",
]

WIDTH = 520
HEIGHT = 260


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to an SVG string offline (vl-convert embeds the Vega runtime)."""
    return vlc.vegalite_to_svg(chart.to_json())


def _base(df: pd.DataFrame, title: str) -> alt.Chart:
    return alt.Chart(df, title=title, width=WIDTH, height=HEIGHT)


def kpi_vs_article(df: pd.DataFrame) -> alt.Chart:
    """Achieved / article figure per KPI, with a rule at 1 (= the article's number)."""
    d = df.assign(ratio=df["ours"] / df["article"])
    bars = (
        _base(d, "Our KPIs relative to the article's figures (1 = equal)")
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=None, title=None),
            x=alt.X("ratio:Q", title="ours / article"),
            tooltip=["label", "ours", "article"],
        )
    )
    rule = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color="black", strokeDash=[4, 4]).encode(x="x:Q")
    return bars + rule


def histogram(values: pd.Series, title: str, x_title: str, bins: int = 20) -> alt.Chart:
    """Binned in numpy first: the page carries ``bins`` rows, not one per value (logs have millions)."""
    v = values.astype(float).to_numpy()
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.005, hi + 0.005
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    df = pd.DataFrame({"start": edges[:-1], "end": edges[1:], "count": counts})
    return (
        _base(df, title)
        .mark_bar()
        .encode(
            x=alt.X("start:Q", title=x_title, scale=alt.Scale(domain=[lo, hi])),
            x2="end:Q",
            y=alt.Y("count:Q", title="count"),
            y2=alt.datum(0),  # a ranged x makes Vega-Lite draw bands unless the bar has a baseline
        )
    )


def thin(df: pd.DataFrame, max_points: int = 400) -> pd.DataFrame:
    """Every k-th row (first and last kept) so a curve stays a few hundred points on the page."""
    if len(df) <= max_points:
        return df
    idx = np.unique(np.r_[np.linspace(0, len(df) - 1, max_points).round().astype(int), len(df) - 1])
    return df.iloc[idx]


def line(df: pd.DataFrame, x: str, y: str, title: str, x_title: str, y_title: str, color: str | None = None):
    enc: dict[str, Any] = {"x": alt.X(f"{x}:Q", title=x_title), "y": alt.Y(f"{y}:Q", title=y_title)}
    if color:
        enc["color"] = alt.Color(f"{color}:N")
    return _base(df, title).mark_line(point=True).encode(**enc)


def lorenz(df: pd.DataFrame, gini: float | None) -> alt.Chart:
    """Lorenz curve of exposure (creators sorted by exposure) against the line of equality."""
    title = "Lorenz curve of exposure across creators" + (f" (Gini {gini:.3f})" if gini is not None else "")
    curve = (
        _base(thin(df.sort_values("creator_share")), title)
        .mark_line()
        .encode(
            x=alt.X("creator_share:Q", title="share of creators (fewest exposures first)"),
            y=alt.Y("exposure_share:Q", title="share of exposure"),
        )
    )
    eq = alt.Chart(pd.DataFrame({"a": [0.0, 1.0]})).mark_line(color="grey", strokeDash=[4, 4]).encode(x="a:Q", y="a:Q")
    return curve + eq


def bar(df: pd.DataFrame, x: str, y: str, title: str, x_title: str, y_title: str, sort: str | None = None):
    return (
        _base(df, title)
        .mark_bar()
        .encode(x=alt.X(f"{x}:N", sort=sort, title=x_title), y=alt.Y(f"{y}:Q", title=y_title), tooltip=[x, y])
    )


def funnel(df: pd.DataFrame) -> alt.Chart:
    return (
        _base(df, "Live funnel (visits reaching each stage)")
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", sort=list(df["stage"]), title=None),
            x=alt.X("visits:Q", title="live visits"),
            tooltip=["stage", "visits", "conversion"],
        )
    )
