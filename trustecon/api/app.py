"""The HTTP API (FastAPI): :func:`create_app` over one workspace; ``trustecon serve`` runs it.

Each endpoint authenticates the key (401), authorises the principal against the resource's owner
(403), then makes one library call through :class:`~trustecon.api.service.Service` (404 for unknown
ids, 409 when a table is not built). Keys come in ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.
``/docs`` (Swagger UI) and ``/redoc`` are served from this server (``fastapi-offline``, in the ``serve``
extra), not from a CDN: the API must be browsable on a machine without internet, like the dashboard.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from trustecon.api import models as m
from trustecon.api.access import DEFAULT_K, can_read_creator_stats, suppress, suppress_creator_trust, suppress_stats
from trustecon.api.keys import KeyStore, Principal
from trustecon.api.service import HEADLINE_TABLES, PLATFORM_TABLES, NotFound, NotReady, Service
from trustecon.store import SCHEMA_VERSION, AppendResult, Workspace

__all__ = ["MAX_BATCH_BYTES", "create_app"]

#: Largest ``POST /events`` body accepted (bigger batches: ``trustecon ingest`` on files).
MAX_BATCH_BYTES = 64 << 20

#: Error responses for the OpenAPI schema, in FastAPI's ``responses`` type (status code -> response spec).
_Responses = dict[int | str, dict[str, Any]]
_ERR: _Responses = {401: {"model": m.Error, "description": "Missing or unknown key."},
                    403: {"model": m.Error, "description": "A valid key for another principal's data."}}
_404: _Responses = {404: {"model": m.Error, "description": "Unknown id."}}
_409: _Responses = {409: {"model": m.Error, "description": "A table this needs is not built yet."}}


def create_app(
    workspace: str | os.PathLike[str] | Workspace,
    keys: KeyStore | dict[str, Principal] | None = None,
    *,
    engine: str = "duckdb",
    k_anonymity: int | None = None,
) -> FastAPI:
    """The API over ``workspace``. ``keys``: a :class:`KeyStore`, ``{key: Principal}``, or None to read
    the workspace's ``api_keys.json`` on each request (so ``trustecon keys add`` works while serving).
    ``k_anonymity``: minimum group size of audience aggregates for non-admin views (default: the
    workspace's ``[api] k_anonymity`` in trustecon.toml, else 10)."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    svc = Service(ws, engine)
    k = int(k_anonymity if k_anonymity is not None else ws.config.get("api", {}).get("k_anonymity", DEFAULT_K))
    if k < 1:
        raise ValueError(f"k_anonymity must be >= 1, got {k}")
    fixed = KeyStore.from_plain(keys) if isinstance(keys, dict) else keys

    make_app: Callable[..., FastAPI] = FastAPI  # without fastapi-offline: FastAPI's own (CDN) pages
    with contextlib.suppress(ImportError):
        from fastapi_offline import FastAPIOffline  # the docs pages' files served locally

        make_app = FastAPIOffline
    app = make_app(
        title="trustecon",
        version="0.1.0",
        description="Trust-economy engine over one workspace: ingest, feeds, trust with explanations, creator "
        f"and room stats, campaign plans, KPIs. Roles admin, brand, creator, user; audience aggregates under k={k} "
        "users are suppressed outside admin and a creator's own view.",
    )
    app.state.service, app.state.k = svc, k
    app.state.keys = lambda: fixed if fixed is not None else KeyStore.load(ws)

    @app.exception_handler(NotFound)
    def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(NotReady)
    def _not_ready(_: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    # ------------------------------------------------------------------ open
    @app.get("/health", response_model=m.Health, summary="Liveness (no key)", tags=["meta"])
    def health() -> dict[str, Any]:
        """The server is up and the workspace opens. Says nothing about its content."""
        return {"status": "ok", "schema_version": SCHEMA_VERSION}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/dashboard", response_class=HTMLResponse, summary="The dashboard page (its data needs a key)",
             tags=["meta"])
    def dashboard() -> str:
        """Static HTML + JS; every number on it comes from this API with the key typed into the page."""
        return resources.files("trustecon.api").joinpath("static/dashboard.html").read_text()

    @app.get("/whoami", response_model=m.Whoami, responses=_ERR, summary="The key's role and id", tags=["meta"])
    def whoami(p: Who) -> dict[str, Any]:
        """Which principal the key speaks for (the dashboard shows what the role may see)."""
        return {"role": p.role, "id": p.id, "k_anonymity": 0 if p.role == "admin" else k}

    # ------------------------------------------------------------------ ingest
    @app.post("/events", response_model=m.IngestResponse, responses={**_ERR, 400: {"model": m.Error},
              413: {"model": m.Error}}, summary="Ingest a batch of events (admin)", tags=["ingest"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                  "application/x-ndjson": {"schema": {"type": "string"}}}}})
    async def post_events(request: Request, p: Who) -> dict[str, Any]:
        """A JSON array of event objects or JSON lines, validated and appended through the store in one
        transaction (committed whole or not at all; valid rows land, bad rows go to quarantine with
        their row, field and reason — the same as ``trustecon ingest``)."""
        allow(p.role == "admin")
        body = await request.body()
        if len(body) > MAX_BATCH_BYTES:
            raise HTTPException(413, f"batch of {len(body):,} bytes; the limit is {MAX_BATCH_BYTES:,} "
                                "(ingest larger logs with 'trustecon ingest')")
        lines = _batch_lines(body)
        name = f"api-{uuid.uuid4().hex[:12]}.jsonl"
        with tempfile.TemporaryDirectory(prefix="trustecon-api-") as tmp:
            path = Path(tmp) / name
            path.write_text(lines)
            try:  # off the event loop: validation and the commit are blocking work
                report = await run_in_threadpool(svc.ingest, path)
            except Exception as exc:  # the transaction aborted: nothing of the batch is committed
                raise HTTPException(500, f"ingest failed, nothing committed: {exc}") from exc
        if str(path) in report.errors:
            raise HTTPException(400, f"batch not readable: {report.errors[str(path)]}")
        res = report.files[str(path)]
        rejected = _own_rejections(ws, res, str(path))
        return {"batch": name, "read": res.read, "accepted": res.added, "duplicates": res.duplicates,
                "quarantined": res.quarantined, "conflicts": res.conflicts, "by_kind": dict(res.by_kind),
                "rejected": rejected}

    # ------------------------------------------------------------------ users
    KQ = Query(20, ge=1, le=200, description="How many items.")

    @app.get("/users/{user_id}/feed", response_model=m.FeedResponse, responses={**_ERR, **_409},
             summary="A user's feed (that user or admin)", tags=["distribution"])
    def feed(user_id: int, p: Who, k: int = KQ) -> dict[str, Any]:
        """The trust-first feed from the built tables (``FeedServer``); a never-seen user gets the
        cold-start feed. Pending creator notices come first; they are marked delivered only when the
        user asks (an admin looking at a user's feed sees them without using up the user's showing)."""
        allow(p.role == "admin" or (p.role == "user" and p.id == user_id))
        return svc.feed(user_id, k, deliver=p.role == "user")

    @app.get("/users/{user_id}/suggestions", response_model=m.SuggestionsResponse, responses=_ERR,
             summary="Creators to follow next (that user or admin)", tags=["distribution"])
    def suggestions(user_id: int, p: Who, k: int = Query(10, ge=1, le=200)) -> dict[str, Any]:
        """Who to trust next: trust propagation blended with co-behaviour (``suggest_creators``)."""
        allow(p.role == "admin" or (p.role == "user" and p.id == user_id))
        return svc.suggestions(user_id, k)

    # ------------------------------------------------------------------ trust
    @app.get("/trust/pair", response_model=m.PairTrustExplanation, responses={**_ERR, **_404, **_409},
             summary="T(user → creator) with its explanation (that user or admin)", tags=["trust"])
    def pair(p: Who, user: int = Query(...), creator: int = Query(...)) -> dict[str, Any]:
        """The same content as ``trustecon explain --user U --creator C --json``."""
        allow(p.role == "admin" or (p.role == "user" and p.id == user))
        return svc.pair(user, creator)

    @app.get("/creators", response_model=list[m.TopCreator], responses={**_ERR, **_409},
             summary="Most credible creators (any key)", tags=["trust"])
    def creators(p: Who, top: int = Query(20, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Creators by credibility rank: scores and counts only, no individuals."""
        return svc.top_creators(top)

    @app.get("/creators/{creator_id}/credibility", response_model=m.Credibility,
             responses={**_ERR, **_404, **_409}, summary="C(creator) with its explanation (any key)", tags=["trust"])
    def credibility(creator_id: int, p: Who) -> dict[str, Any]:
        """As ``trustecon explain --creator C --json``; the list of individual trusters only for admin;
        the creator trust's groups under k users suppressed but for admin and the creator itself; the
        note on seller reliability only for keys that may read it (admin, the creator, a brand). An id
        with no score: 404 with the one-line reason of ``trustecon explain``."""
        out = svc.credibility(creator_id)
        own = p.role == "creator" and p.id == creator_id
        if p.role != "admin":
            out = {k_: v for k_, v in out.items() if k_ != "top_trusters"}
            if out.get("creator_trust") and not own:
                out["creator_trust"] = suppress_creator_trust(out["creator_trust"], k)
        if not (p.role in ("admin", "brand") or own):  # whether a creator sells is the seller endpoint's
            out["notes"] = {k_: v for k_, v in (out.get("notes") or {}).items() if k_ != "seller_reliability"}
        return out

    @app.get("/sellers/{seller_id}/reliability", response_model=m.Reliability, responses={**_ERR, **_404, **_409},
             summary="R(seller) with its ledger explanation", tags=["trust"])
    def reliability(seller_id: int, p: Who, kind: str = Query("creator", pattern="^(creator|brand)$")) -> dict:
        """As ``trustecon explain --seller S --json``. Admin: everything; the seller itself: without buyer
        ids; a brand reading a creator seller: the score and counts without the order list."""
        own = p.role == kind and p.id == seller_id
        allow(p.role == "admin" or own or (p.role == "brand" and kind == "creator"))
        out = svc.reliability(seller_id, kind)
        if p.role != "admin" and own:
            out["orders_that_moved_it"] = [{k_: v for k_, v in o.items() if k_ != "buyer_id"}
                                           for o in out["orders_that_moved_it"]]
        elif p.role != "admin":
            out = {k_: v for k_, v in out.items() if k_ not in ("orders_that_moved_it", "by_month")}
        return out

    # ------------------------------------------------------------------ stats
    @app.get("/creators/{creator_id}/stats", response_model=m.CreatorStats, responses={**_ERR, **_404, **_409},
             summary="A creator's audience, reach, live funnel and GMV (that creator, brand, admin)", tags=["stats"])
    def creator_stats(creator_id: int, p: Who) -> dict[str, Any]:
        """Aggregates only. A brand sees groups of at least k users (smaller ones suppressed)."""
        allow(can_read_creator_stats(p, creator_id))
        out = svc.creator_stats(creator_id)
        return suppress_stats(out, k) if p.role == "brand" else out

    @app.get("/rooms", response_model=list[m.RoomSummary], responses={**_ERR, **_409},
             summary="Live rooms by GMV (admin, brand; a creator its own)", tags=["stats"])
    def rooms(p: Who, limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Each session's ``kpis_live_sessions`` row; a brand sees rooms with groups under k suppressed."""
        allow(p.role in ("admin", "brand", "creator"))
        rows = svc.rooms(p.id if p.role == "creator" else None, limit)
        return [suppress("live_sessions", r, k) for r in rows] if p.role == "brand" else rows

    @app.get("/rooms/{session_id}/stats", response_model=m.RoomStats, responses={**_ERR, **_404, **_409},
             summary="One live room's audience, funnel and GMV (its host, brand, admin)", tags=["stats"])
    def room_stats(session_id: int, p: Who) -> dict[str, Any]:
        """A creator may read only rooms it hosted (any other session id, known or not: 403)."""
        allow(p.role in ("admin", "brand", "creator"))
        if p.role == "creator":
            allow(svc.session_creator(session_id) == p.id)
        out = svc.room_stats(session_id)
        return suppress_stats(out, k) if p.role == "brand" else out

    @app.get("/brands/{brand_id}/plan", response_model=m.CampaignPlan, responses={**_ERR, **_404, **_409},
             summary="A campaign plan through trusted creators (that brand, admin)", tags=["campaigns"])
    def plan(brand_id: int, p: Who, budget: float = Query(..., gt=0, description="Budget in the workspace currency."),
             product: list[int] = Query([], description="Product ids (default: all the brand's products)."),
             days: float | None = Query(None, gt=0, description="Campaign length (default: the history's)."),
             max_cpa: float | None = Query(None, gt=0, description="Skip creators whose expected cost per kept "
                                           "order is above this.")
             ) -> dict[str, Any]:
        """Creators chosen to maximise expected kept orders within budget (``trustecon plan``). A brand
        sees a chosen creator's reach and conversion only when at least k users trust that creator."""
        allow(p.role == "admin" or (p.role == "brand" and p.id == brand_id))
        out = svc.plan(brand_id, budget, product, days, max_cpa)
        if p.role == "brand":
            for row in out["chosen"]:
                if row["audience_users"] < k:
                    row["reach"] = row["conversion"] = row["exposures"] = None
                    row["suppressed"] = f"suppressed: fewer than k={k} users"
        return out

    @app.get("/kpis", response_model=m.KpisResponse, responses={**_ERR, **_404, **_409},
             summary="KPIs of a period beside the article's figures (any key; what the role may see)", tags=["kpis"])
    def kpis(p: Who, period: str = Query("all", description="all, YYYY-MM or YYYY-MM-DD (workspace time zone).")
             ) -> dict[str, Any]:
        """Admin: every platform KPI and every campaign. Others: platform KPIs with groups under k users
        suppressed; a brand also its own campaigns."""
        out = svc.kpis(period)
        if p.role != "admin":
            out["tables"] = {t: suppress(t, out["tables"][t], k) for t in PLATFORM_TABLES}
            for name, h in out["headline"].items():
                row = out["tables"].get(HEADLINE_TABLES[name].removeprefix("kpis_"))
                if row is not None and (row.get("reason") or "").startswith("suppressed"):
                    h["value"], h["reason"] = None, row["reason"]
        if p.role == "admin":
            out["campaigns"] = svc.campaigns()
        elif p.role == "brand":
            out["campaigns"] = [suppress("campaigns", r, k) for r in svc.campaigns(p.id)]
        return out

    return app


def _principal(request: Request) -> Principal:
    """The key's principal (from ``Authorization: Bearer`` or ``X-API-Key``); 401 for a missing or unknown key."""
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key")
    p = request.app.state.keys().authenticate(key)
    if p is None:
        raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
    return p


Who = Annotated[Principal, Depends(_principal)]


def allow(ok: bool) -> None:
    """403 unless ``ok``: the key is valid but the resource belongs to someone else."""
    if not ok:
        raise HTTPException(403, "this key may not read this resource")


def _own_rejections(ws: Workspace, res: AppendResult, batch: str) -> list[dict[str, Any]]:
    """The batch's rejections: the rows of the quarantine files its own transaction wrote. Not a diff of
    the manifest's quarantine list before and after: a compaction in between merges earlier files into
    a new one, whose old rows would look new. A compaction after the commit retires the batch's files,
    which stay readable for the retention; if an operator purged them already (``compact
    --purge-now``), the same rows are found by their ``file`` (the batch's unique temporary name)."""
    cols = ["row", "field", "reason"]
    try:
        tables = [pq.read_table(ws.path / f, columns=cols) for f in res.quarantine_files]
    except FileNotFoundError:
        q = ws.quarantine_arrow()
        tables = [q.filter(pc.equal(q["file"], batch)).select(cols)]
    return [r for t in tables for r in t.to_pylist()]


def _batch_lines(body: bytes) -> str:
    """The request body as JSON lines: a JSON array becomes one line per element (row i = element i)."""
    text = body.decode("utf-8", errors="replace")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, f"malformed JSON array: {exc.msg} at line {exc.lineno}") from exc
        return "".join(json.dumps(i) + "\n" for i in items)
    return text
