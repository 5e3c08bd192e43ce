"""The report: one self-contained HTML file (charts inline as SVG, no CDN, works offline).

``build_report(ws, con)`` runs every section of :mod:`trustecon.report.sections`; a section without
data is listed under "Left out" with its one-line reason instead of being drawn empty.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from pathlib import Path

import ibis

from trustecon.kpis import KpiValue, headline
from trustecon.kpis.persist import temporary_tables
from trustecon.report.sections import SECTIONS, Context, Section
from trustecon.store import Workspace

__all__ = ["ReportResult", "build_report"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
  color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #e4e4e4;padding-bottom:.3rem;margin-top:2.4rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem;display:block;max-width:100%;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
figure.chart{margin:1rem 0;display:inline-block} .note{color:#666;font-size:.9rem}
ul.left-out li{color:#555}
"""


class ReportResult:
    """The written file, the sections drawn and the ones left out with their reasons."""

    def __init__(self, path: Path, sections: list[Section]):
        self.path = path
        self.drawn = [s.key for s in sections if s.reason is None]
        self.left_out = {s.key: s.reason for s in sections if s.reason is not None}
        self.charts = [c for s in sections for c in s.charts]

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "sections": self.drawn, "left_out": self.left_out, "charts": self.charts}


def build_report(
    ws: Workspace,
    con: ibis.BaseBackend,
    out: str | Path | None = None,
    *,
    headline_kpis: Mapping[str, KpiValue] | None = None,
) -> ReportResult:
    """Write the report of ``ws`` (default ``WORKSPACE/reports/report.html``) and say what it holds.

    ``headline_kpis``: the headline numbers when the caller has them for this log already (the demo
    reads them from the KPI tables it just wrote); computed from the log otherwise."""
    events = ws.events(con)
    kinds = {
        r["kind"]: int(r["n"]) for r in events.group_by("kind").aggregate(n=events.count()).to_pyarrow().to_pylist()
    }
    ctx = Context(ws=ws, con=con, events=events, kinds=kinds)
    with temporary_tables(con):  # the headline and the sections share spines, spells and visits
        if not kinds:
            ctx.headline = {}
        else:
            ctx.headline = dict(headline_kpis) if headline_kpis is not None else headline(events, timezone=ws.timezone)
        sections = [fn(ctx) for fn in SECTIONS]
    target = Path(out) if out else ws.path / "reports" / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = []
    for s in sections:
        if s.reason is None:
            body.append(f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>{s.body}</section>')
    left = [s for s in sections if s.reason is not None]
    if left:
        items = "".join(f"<li><b>{html.escape(s.title)}</b>: {html.escape(s.reason or '')}</li>" for s in left)
        body.append(f'<section id="left-out"><h2>Left out</h2><ul class="left-out">{items}</ul></section>')
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>trustecon report: {html.escape(ws.path.name)}</title><style>{CSS}</style></head><body>"
        f"<h1>Trust-economy report</h1><p class='note'>{html.escape(str(ws.path))} · generated {when} · "
        f"{sum(kinds.values()):,} events</p>{''.join(body)}</body></html>"
    )
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)  # a reader never sees half a report
    return ReportResult(target, sections)
