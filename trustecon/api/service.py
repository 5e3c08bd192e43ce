"""What the endpoints return, as library calls on one workspace (DESIGN.md §3: interfaces are thin).

Every function here reads the workspace through the store and calls the same library functions as
the CLI (``trustecon feed``, ``suggest``, ``explain``, ``kpis``): :class:`FeedServer`,
:func:`suggest_creators`, :func:`explain_pair_by_id` / :func:`explain_creator_by_id` / :func:`explain_seller_by_id`
(an id without a score: the same one-line message as ``trustecon explain``),
:func:`live_funnel` and the persisted ``tables/kpis_*`` of :func:`write_kpis`. Role checks and
redaction are not here (see :mod:`trustecon.api.access`); errors are :class:`NotFound` (404) and
:class:`NotReady` (409: a table the request needs has not been built).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from trustecon.distribution import FeedConfig, FeedServer
from trustecon.distribution.pipelines import creator_stats
from trustecon.distribution.suggest import WhoToFollow, suggest_creators, trust_edges
from trustecon.ingest import IngestReport, ingest_files
from trustecon.kpis import ARTICLE_FIGURES, HEADLINE_TABLES, OTHER_ARTICLE_FIGURES
from trustecon.kpis.catalogue import headline_value
from trustecon.live.funnel import live_funnel
from trustecon.store import Workspace
from trustecon.trust.lookup import (
    UnknownId,
    explain_creator_by_id,
    explain_pair_by_id,
    explain_seller_by_id,
    not_in_log,
)

__all__ = ["HEADLINE_TABLES", "PLATFORM_TABLES", "NotFound", "NotReady", "Service"]


class NotFound(LookupError):
    """An id the workspace does not know (404)."""


class NotReady(RuntimeError):
    """A derived table the request needs is not built yet (409), with the command that builds it."""


#: Platform-wide KPI tables (one row per period), stored by ``trustecon kpis``.
PLATFORM_TABLES: tuple[str, ...] = (
    "live_watch_time", "products_seen", "interactions_per_minute", "live_rooms", "fan_content_reach",
    "follow_conversion", "order_value", "order_value_top10", "refund_rate", "private_domain_gmv",
    "creator_income", "exposure", "monthly_repurchase",
)
#: Per-creator KPI tables (period ``all``), read for ``/creators/{c}/stats``.
CREATOR_TABLES: tuple[str, ...] = (
    "live_watch_time_by_creator", "fan_content_reach_by_creator", "follow_conversion_by_creator",
    "monthly_repurchase_by_creator", "order_value_by_creator", "private_domain_gmv_by_creator",
    "live_rooms_by_creator",
)


def _rows(t: pa.Table, **eq: Any) -> list[dict[str, Any]]:
    mask = None
    for col, v in eq.items():
        m = pc.equal(t[col], pa.scalar(v, t.schema.field(col).type))
        mask = m if mask is None else pc.and_(mask, m)
    return (t if mask is None else t.filter(mask)).to_pylist()


class Service:
    """The library calls behind the endpoints, on one workspace and one engine connection.

    DuckDB connections are not safe across threads and the server runs handlers in a thread pool,
    so engine work is serialised by one lock. The feed server (the built world and ALS factors) is
    loaded once and reloaded when the feed tables change.
    """

    def __init__(self, ws: Workspace, engine: str = "duckdb") -> None:
        from trustecon.engine import connect

        self.ws = ws
        self.engine = engine
        self.con: ibis.BaseBackend = connect(engine)
        self.lock = threading.RLock()
        self._feed: tuple[Any, FeedServer, int] | None = None  # (tables stamp, server, events_version)
        self._who: tuple[tuple[Any, ...], WhoToFollow] | None = None
        self._planner: tuple[tuple[Any, ...], Any, dict[int, int]] | None = None
        self._config_mtime = (ws.path / "trustecon.toml").stat().st_mtime_ns

    # ------------------------------------------------------------------ helpers
    def table(self, name: str, hint: str) -> pa.Table:
        if not self.ws.has_table(name):
            if self.ws.event_count() == 0:  # the hint's command would only say the log is empty
                raise NotReady(f"no table {name!r}: the event log is empty; ingest, load or simulate, then run "
                               f"'{hint}'")
            raise NotReady(f"no table {name!r} in the workspace yet; run '{hint}' first")
        return self.ws.read_table(name)

    def events(self) -> ibis.Table:
        return self.ws.events(self.con)

    def require_in_log(self, role: str, ident: int) -> None:
        """:class:`NotFound` with the message of ``trustecon explain`` unless an event names ``role ident``."""
        missing = not_in_log(self.ws, self.events, role, ident)
        if missing is not None:
            raise NotFound(missing)

    def refresh(self) -> None:
        """Re-read ``trustecon.toml`` when it changed (a rebuild while serving records new weights)."""
        mtime = (self.ws.path / "trustecon.toml").stat().st_mtime_ns
        if mtime != self._config_mtime:
            self.ws.config = Workspace.open(self.ws.path).config
            self._config_mtime = mtime

    def cache_key(self, *tables: str) -> tuple[Any, ...]:
        """The key of a cache fitted on the event log and ``tables``: it changes when their rows may
        have changed, and not when a compaction only moves the log's rows into other files (the
        manifest's ``version`` does move then, and a refit on a large log costs seconds). The log's
        part is :meth:`Workspace.events_version`; a table's is its file list, new on every write."""
        parts = self.ws.manifest()["tables"]
        return (self.ws.events_version(), *(tuple(parts.get(t) or ()) for t in tables))

    def ingest(self, path: Path) -> IngestReport:
        """:func:`ingest_files` on one batch file: one transaction, as ``trustecon ingest``."""
        with self.lock:
            return ingest_files(self.ws, [path])

    # ------------------------------------------------------------------ distribution
    def feed_server(self) -> FeedServer:
        self.refresh()
        if not self.ws.event_files():  # as the other endpoints say it: nothing to build feeds from
            raise NotReady("the event log is empty; ingest, load or simulate first")
        if not self.ws.has_table("feed_creators"):
            raise NotReady("no feeds built yet; run 'trustecon feed WORKSPACE --all' first")
        m = self.ws.manifest()
        stamp = (m["tables"].get("feed_creators"), self.ws.config.get("feeds"))
        if self._feed is None or self._feed[0] != stamp:
            self._feed = (stamp, FeedServer(self.ws, self.con, FeedConfig()), m["events_version"])
        elif self._feed[2] != m["events_version"]:
            # New events since the server loaded: a notice may be due (the feed world itself changes
            # only with the next `trustecon feed --all`).
            self._feed[1].refresh_notices()
            self._feed = (stamp, self._feed[1], m["events_version"])
        return self._feed[1]

    def feed(self, user: int, k: int, *, deliver: bool = True) -> dict[str, Any]:
        """``FeedServer.feed`` as ``trustecon feed --user``: a never-seen user gets the cold-start feed;
        ``deliver=False`` shows pending notices without marking them delivered."""
        with self.lock:
            server = self.feed_server()
            items = server.feed(user, k, deliver=deliver)
            server.save_deliveries()
            return {"user_id": user, "cold_start": not server.is_known_user(user), "items": items}

    def suggestions(self, user: int, k: int) -> dict[str, Any]:
        """:func:`suggest_creators` as ``trustecon suggest``, with the :class:`WhoToFollow` fitted once per
        state of the log and ``pair_trust`` (:meth:`cache_key`; the fit is on the whole trust graph, a
        request only ranks)."""
        with self.lock:
            if not self.ws.event_files():  # no trust graph to walk, no creator to suggest
                raise NotReady("the event log is empty; ingest, load or simulate first")
            key = self.cache_key("pair_trust")  # trust_edges reads follows from the log and pair_trust
            if self._who is None or self._who[0] != key:
                creators = creator_stats(self.events()).to_pyarrow()["creator_id"].to_numpy()
                s, d, w = trust_edges(self.ws, self.con)
                self._who = (key, WhoToFollow().fit(s, d, w, nodes=creators))
            return {"user_id": user, "suggestions": suggest_creators(self.ws, self.con, user, k, model=self._who[1])}

    # ------------------------------------------------------------------ campaigns
    def plan(self, brand: int, budget: float, products: list[int], days: float | None,
             max_cpa: float | None = None) -> dict[str, Any]:
        """The plan of ``trustecon plan --json``, with the :class:`CampaignPlanner` fitted once per state of
        the log and the tables it reads (:meth:`cache_key`; a request only plans), and each chosen row's
        ``audience_users``: the users with trust evidence toward that creator (for k-anonymity)."""
        from trustecon.marketing.planner import REQUIRED_TABLES, Campaign, CampaignPlanner, PlanError

        with self.lock:
            for t in REQUIRED_TABLES:
                self.table(t, "trustecon build WORKSPACE")
            key = self.cache_key(*REQUIRED_TABLES)
            if self._planner is None or self._planner[0] != key:
                tables = [self.ws.read_table(t) for t in REQUIRED_TABLES]
                pt = tables[REQUIRED_TABLES.index("pair_trust")]
                fitted = CampaignPlanner().fit(self.ws.events_arrow(), *tables)
                counts = pt.group_by("creator_id").aggregate([("user_id", "count_distinct")]).to_pylist()
                users = {r["creator_id"]: int(r["user_id_count_distinct"]) for r in counts}
                self._planner = (key, fitted, users)
            _, planner, users = self._planner
            try:
                out = planner.plan(Campaign(brand_id=brand, budget=budget, product_ids=tuple(products),
                                            days=days, max_cpa=max_cpa)).as_dict()
            except PlanError as exc:
                raise NotFound(str(exc)) from exc
            for row in out["chosen"]:
                row["audience_users"] = users.get(row["creator_id"], 0)
            return out

    # ------------------------------------------------------------------ trust
    def pair(self, user: int, creator: int) -> dict[str, Any]:
        """T(user → creator) with :func:`explain_pair_by_id` (as ``trustecon explain --user --creator``; an
        id not in the log is :class:`NotFound` with the CLI's message)."""
        return self._explain("pair_trust", explain_pair_by_id, user, creator)

    def credibility(self, creator: int) -> dict[str, Any]:
        """C(creator) and the creator trust T_c with :func:`explain_creator_by_id` (as ``trustecon
        explain --creator``: ``notes`` on scores that cannot be computed; an id without evidence as of
        the build is :class:`NotFound` with the CLI's message)."""
        return self._explain("creator_credibility", explain_creator_by_id, creator)

    def reliability(self, seller: int, kind: str) -> dict[str, Any]:
        """R(seller) with :func:`explain_seller_by_id` (as ``trustecon explain --seller``)."""
        return self._explain("seller_reliability", explain_seller_by_id, seller, kind)

    def _explain(self, table: str, explain: Callable[..., dict[str, Any]], *ids: Any) -> dict[str, Any]:
        """One explanation from the built tables (409 until ``table`` is built); an id the tables
        hold no score for is :class:`NotFound` with the CLI's one-line reason."""
        with self.lock:
            self.table(table, "trustecon build WORKSPACE")
            self.refresh()
            try:
                return explain(self.ws, self.events, *ids)
            except UnknownId as exc:
                raise NotFound(str(exc)) from exc

    def top_creators(self, n: int) -> list[dict[str, Any]]:
        """The ``n`` most credible creators (``creator_credibility`` by rank)."""
        cred = self.table("creator_credibility", "trustecon build WORKSPACE")
        rows = sorted(cred.to_pylist(), key=lambda r: (r["rank"], r["creator_id"]))[:n]
        keep = ("creator_id", "credibility", "score", "rank", "in_degree", "seed_trusters")
        return [{k: r[k] for k in keep} for r in rows]

    # ------------------------------------------------------------------ stats
    def creator_stats(self, creator: int) -> dict[str, Any]:
        """Audience, reach, live funnel and GMV of one creator (its own aggregates, no individual rows)."""
        with self.lock:
            self.require_in_log("creator", creator)
            e = self.events()
            cs = creator_stats(e).filter(lambda t: t.creator_id == creator).to_pyarrow().to_pylist()
            trusters = 0
            mean_trust = None
            if self.ws.has_table("pair_trust"):
                pt = self.ws.read_table("pair_trust")
                t = pt.filter(pc.equal(pt["creator_id"], creator))["trust"]
                trusters = len(t)
                mean_trust = pc.mean(t).as_py() if len(t) else None
            kpis = {}
            for name in CREATOR_TABLES:
                rows = _rows(self.table(f"kpis_{name}", "trustecon kpis WORKSPACE"), creator_id=creator)
                kpis[name] = {k: v for k, v in rows[0].items() if k not in ("period", "creator_id")} if rows else None
            mine = e.filter((e.creator_id == creator) | (e.kind == "refund"))
            funnel = live_funnel(mine).to_pyarrow().to_pylist()
            return {
                "creator_id": creator,
                "audience": {
                    "followers": cs[0]["followers"] if cs else 0,
                    "impressions": cs[0]["impressions"] if cs else 0,
                    "trusters": trusters,
                    "mean_trust": mean_trust,
                    "live_unique_viewers": (kpis["live_rooms_by_creator"] or {}).get("unique_viewers", 0),
                },
                "reach": {k: kpis[k] for k in ("fan_content_reach_by_creator", "follow_conversion_by_creator")},
                "live": {"rooms": kpis["live_rooms_by_creator"], "watch_time": kpis["live_watch_time_by_creator"],
                         "funnel": funnel},
                "commerce": {k: kpis[k] for k in ("order_value_by_creator", "private_domain_gmv_by_creator",
                                                  "monthly_repurchase_by_creator")},
            }

    def session_creator(self, session: int) -> int | None:
        """The host of live session ``session`` (None when no event names it)."""
        with self.lock:
            e = self.events()
            r = e.filter((e.session_id == session) & e.creator_id.notnull()).select("creator_id").limit(1)
            rows = r.to_pyarrow().to_pylist()
            return int(rows[0]["creator_id"]) if rows else None

    def room_stats(self, session: int) -> dict[str, Any]:
        """One live room: its ``kpis_live_sessions`` row (audience, orders, GMV) and its funnel."""
        host = self.session_creator(session)
        if host is None:
            raise NotFound(f"live session {session}: no event names this session")
        with self.lock:
            rows = _rows(self.table("kpis_live_sessions", "trustecon kpis WORKSPACE"), session_id=session)
            e = self.events()
            mine = e.filter((e.session_id == session) | ((e.creator_id == host) & (e.kind == "order"))
                            | (e.kind == "refund"))
            funnel = live_funnel(mine).to_pyarrow().to_pylist()
            drop = ("period", "session_id", "creator_id")
            room = {k: v for k, v in rows[0].items() if k not in drop} if rows else None
            return {"session_id": session, "creator_id": host, "room": room, "funnel": funnel}

    def rooms(self, creator: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Live sessions by GMV (``kpis_live_sessions``), optionally of one creator."""
        t = self.table("kpis_live_sessions", "trustecon kpis WORKSPACE")
        rows = _rows(t, creator_id=creator) if creator is not None else t.to_pylist()
        rows.sort(key=lambda r: (-(r["gmv"] or 0.0), r["session_id"]))
        return [{k: v for k, v in r.items() if k != "period"} for r in rows[:limit]]

    # ------------------------------------------------------------------ KPIs
    def periods(self) -> list[str]:
        t = self.table("kpis_live_watch_time", "trustecon kpis WORKSPACE")
        return sorted(set(t["period"].to_pylist()))

    def kpis(self, period: str) -> dict[str, Any]:
        """Headline KPIs beside the article's figures and every platform KPI table's row for ``period``."""
        with self.lock:
            self.refresh()
            if period not in self.periods():
                raise NotFound(f"period {period!r}: no KPI rows (periods are 'all', months YYYY-MM, days YYYY-MM-DD "
                               "inside the log)")
            headline: dict[str, Any] = {}
            for name, table in HEADLINE_TABLES.items():
                kv = headline_value(name, _rows(self.ws.read_table(table), period=period),
                                    missing="no rows for this period")
                headline[name] = {"value": kv.value, "reason": kv.reason, "unit": kv.unit,
                                  "definition": kv.definition, "article": ARTICLE_FIGURES.get(name)}
            tables = {}
            for name in PLATFORM_TABLES:
                rows = _rows(self.ws.read_table(f"kpis_{name}"), period=period)
                tables[name] = {k: v for k, v in rows[0].items() if k != "period"} if rows else None
            return {"period": period, "currency": self.ws.currency, "timezone": self.ws.timezone,
                    "headline": headline, "tables": tables, "other_article": dict(OTHER_ARTICLE_FIGURES)}

    def campaigns(self, brand: int | None = None) -> list[dict[str, Any]]:
        t = self.table("kpis_campaigns", "trustecon kpis WORKSPACE")
        rows = _rows(t, brand_id=brand) if brand is not None else t.to_pylist()
        return [{k: v for k, v in r.items() if k != "period"} for r in rows]
