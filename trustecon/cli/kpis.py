"""``trustecon kpis WORKSPACE``: compute the KPI catalogue, store ``tables/kpis_*``, print the headline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trustecon.cli._app import EngineOpt, JsonOpt, app, check_engine, console, fail, kpi_table, print_json

__all__: list[str] = []


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "gini":
        return f"{value:.3f}"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:,.2f}"


#: (table, value column, unit) of the further KPIs printed under the headline, from the "all" rows.
_OTHER = {
    "creator_income_share": ("creator_income", "value", "share"),
    "earning_creators": ("creator_income", "earning_creators", "count"),
    "refund_rate": ("refund_rate", "value", "share"),
    "order_value": ("order_value", "value", "currency"),
    "private_domain_gmv_share": ("private_domain_gmv", "value", "share"),
    "live_uv_value": ("live_rooms", "uv_value", "currency"),
    "live_gpm": ("live_rooms", "gpm", "currency"),
    "live_follower_conversion": ("live_rooms", "follower_conversion", "share"),
    "old_fan_buyer_share": ("live_rooms", "old_fan_buyer_share", "share"),
    "video_follow_conversion": ("follow_conversion", "value", "share"),
    "exposure_gini": ("exposure", "value", "gini"),
    "share_of_creators_exposed": ("exposure", "share_exposed", "share"),
}


def _others(ws: Any, min_followers: int, why: str | None = None) -> dict[str, dict]:
    """The "all" rows of the stored tables for :data:`_OTHER`."""
    out: dict[str, dict] = {}
    for key, (table, col, unit) in _OTHER.items():
        rows = [r for r in ws.read_table(f"kpis_{table}").to_pylist() if r["period"] == "all"]
        value = rows[0][col] if rows else None
        reason = (rows[0].get("reason") if rows else "empty event log") if value is None else None
        note = None
        if key.startswith("creator_income"):
            note = f"of creators with >= {min_followers:,} followers" + (f" ({why})" if why else "")
        out[key] = {"value": None if value is None else float(value), "reason": reason, "unit": unit, "note": note}
    return out


@app.command()
def kpis(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
    min_followers: int | None = typer.Option(
        None,
        "--min-followers",
        help="Audience threshold N of the creator-income KPI (default: 10,000, as on real platforms; on a "
        "simulated log scaled to its population, users / 200).",
    ),
) -> None:
    """Compute every KPI (DESIGN.md §9), write tables/kpis_<name>, print them beside the article's figures."""

    from trustecon.engine import connect
    from trustecon.kpis import ARTICLE_FIGURES, OTHER_ARTICLE_FIGURES
    from trustecon.kpis.persist import default_min_followers, stored_headline, write_kpis
    from trustecon.store import Workspace, WorkspaceError

    check_engine(engine)
    if min_followers is not None and min_followers < 1:
        fail(f"--min-followers: must be >= 1, got {min_followers}")
    try:
        ws = Workspace.open(workspace)
    except WorkspaceError as exc:
        fail(str(exc))
    why = None
    if min_followers is None:
        min_followers, why = default_min_followers(ws)
    if not ws.event_files():
        # Every KPI would be null; say why once instead of computing nothing (and the shared
        # intermediates cannot be materialized from an empty in-memory table).
        fail(f"{workspace}: the event log is empty; nothing to compute (ingest, load or simulate first)")
    con = connect(engine)
    written = write_kpis(ws, con, min_followers=min_followers)  # one transaction
    head = stored_headline(ws)  # the numbers just written, not computed again (6–8 s on the default preset)
    others = _others(ws, min_followers, why)
    if as_json:
        print_json(
            {
                "workspace": str(workspace),
                "engine": engine,
                "timezone": ws.timezone,
                "currency": ws.currency,
                "min_followers": min_followers,
                "headline": {k: {**v.as_dict(), "article": ARTICLE_FIGURES.get(k)} for k, v in head.items()},
                "other": others,
                "tables": written,
            }
        )
        return
    rows = []
    for k, v in head.items():
        unit = ws.currency if v.unit == "currency" else v.unit
        note = v.reason if v.value is None else unit
        rows.append((k, _fmt(v.value, v.unit), _fmt(ARTICLE_FIGURES.get(k), v.unit), note))
    console.print(kpi_table(f"KPIs of {workspace} ({engine}, days cut in {ws.timezone})", rows, "unit / note"))
    rows = []
    for k, row in others.items():
        unit = ws.currency if row["unit"] == "currency" else row["unit"]
        article = OTHER_ARTICLE_FIGURES.get(k)
        note = row["reason"] or row["note"] or unit
        rows.append((k, _fmt(row["value"], row["unit"]), _fmt(article, row["unit"]), note))
    console.print(kpi_table("More KPIs (whole log)", rows))
    console.print(f"wrote {len(written)} tables: tables/kpis_* in {workspace}")
