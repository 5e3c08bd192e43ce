"""The HTTP API (DESIGN.md §11) with FastAPI's TestClient on a small simulated workspace.

The role × endpoint matrix of 401/403/200; values equal to the library calls and to ``trustecon
explain --json``; ingest through the store (counts, quarantine reasons, all-or-nothing); k-anonymity
(a group of k−1 users is not shown, known answers and a hypothesis property); keys stored as hashes;
OpenAPI lists every endpoint with a response model.
"""

from __future__ import annotations

import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the HTTP API needs the serve extra")
warnings.filterwarnings("ignore", message=".*httpx2.*")
from api_world import built_world  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trustecon.api import KeyStore, Principal, create_app, suppress  # noqa: E402
from trustecon.api.access import suppress_creator_trust, suppress_stats  # noqa: E402
from trustecon.cli import app as cli  # noqa: E402
from trustecon.engine import connect  # noqa: E402
from trustecon.store import Workspace  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ws = built_world(tmp_path_factory, "api")
    sessions = ws.read_table("kpis_live_sessions").to_pylist()
    room = max(sessions, key=lambda r: (r["unique_viewers"], -r["session_id"]))
    c = room["creator_id"]
    pt = ws.read_table("pair_trust").to_pylist()
    u = next(r["user_id"] for r in pt if r["creator_id"] == c and r["user_id"] != c)
    u2 = next(r["user_id"] for r in pt if r["user_id"] not in (u, c))
    c2 = next(r["creator_id"] for r in ws.read_table("creator_credibility").to_pylist() if r["creator_id"] != c)
    rel = ws.read_table("seller_reliability").to_pylist()
    b2 = next(r["seller_id"] for r in rel if r["seller_kind"] == "brand" and r["seller_id"] != 1)
    ids = {"U": u, "U2": u2, "C": c, "C2": c2, "S": room["session_id"], "B": 1, "B2": b2}
    keys = {
        "k-admin": Principal("admin"),
        "k-user": Principal("user", u),
        "k-user2": Principal("user", u2),
        "k-creator": Principal("creator", c),
        "k-creator2": Principal("creator", c2),
        "k-brand": Principal("brand", 1),
    }
    client = TestClient(create_app(ws, keys))
    return ws, ids, client, room


def _h(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


ROLES = ("admin", "user", "user2", "creator", "creator2", "brand")
ALL = dict.fromkeys(ROLES, 200)
OWN_USER = {"admin": 200, "user": 200, "user2": 403, "creator": 403, "creator2": 403, "brand": 403}
OWN_CREATOR = {"admin": 200, "user": 403, "user2": 403, "creator": 200, "creator2": 403, "brand": 200}
# (method, url template, expected status per role)
MATRIX = [
    ("GET", "/users/{U}/feed?k=5", OWN_USER),
    ("GET", "/users/{U}/suggestions?k=3", OWN_USER),
    ("GET", "/trust/pair?user={U}&creator={C}", OWN_USER),
    ("GET", "/creators?top=3", ALL),
    ("GET", "/creators/{C}/credibility", ALL),
    ("GET", "/sellers/{C}/reliability?kind=creator", OWN_CREATOR),
    ("GET", "/creators/{C}/stats", OWN_CREATOR),
    ("GET", "/rooms?limit=5", {**OWN_CREATOR, "creator2": 200}),
    ("GET", "/rooms/{S}/stats", OWN_CREATOR),
    ("GET", "/kpis?period=all", ALL),
    ("GET", "/brands/{B}/plan?budget=300", {r: 200 if r in ("admin", "brand") else 403 for r in ROLES}),
    ("GET", "/brands/{B2}/plan?budget=300", {r: 200 if r == "admin" else 403 for r in ROLES}),
    ("GET", "/whoami", ALL),
    ("POST", "/events", {r: 200 if r == "admin" else 403 for r in ROLES}),
]


@pytest.mark.parametrize(("method", "url", "expected"), MATRIX, ids=[m[1].split("?")[0] for m in MATRIX])
def test_role_matrix(world, method, url, expected):
    ws, ids, client, _ = world
    path = url.format(**ids)
    for role, status in expected.items():
        r = client.request(method, path, headers=_h(f"k-{role}"), content=b"[]" if method == "POST" else None)
        assert r.status_code == status, (role, path, r.text)
        if status == 403:
            assert r.json() == {"detail": "this key may not read this resource"}
    for headers in ({}, _h("wrong"), {"Authorization": "Basic k-admin"}, {"X-API-Key": ""}):
        r = client.request(method, path, headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": "missing or invalid API key"}, (path, headers)


def test_forbidden_says_nothing_about_existence(world):
    _, ids, client, _ = world
    # A creator asking for someone else's room gets 403 whether the session exists or not.
    for s in (ids["S"], 987654321):
        assert client.get(f"/rooms/{s}/stats", headers=_h("k-creator2")).status_code == 403
    assert client.get(f"/trust/pair?user={ids['U']}&creator=987654321", headers=_h("k-user2")).status_code == 403
    assert client.get("/users/987654321/feed", headers=_h("k-user")).status_code == 403
    # No key: 401 before any check of the request's parameters.
    assert client.get("/rooms/not-a-number/stats").status_code == 401
    assert client.get("/trust/pair").status_code == 401
    # Admin gets the clear 404.
    r = client.get("/rooms/987654321/stats", headers=_h("k-admin"))
    assert r.status_code == 404 and "987654321" in r.json()["detail"]


def test_unknown_ids_are_404_with_a_message(world):
    """Ids with no score: 404 with the one-line reason ``trustecon explain`` gives for the same id (exit 2)."""
    ws, ids, client, _ = world
    creator_not_in_log = "creator 987654321: not in the event log (no event names this creator)"
    for url, cli_args, detail in [
        ("/creators/987654321/credibility", ["--creator", "987654321"], creator_not_in_log),
        ("/sellers/987654321/reliability?kind=brand", ["--seller", "987654321", "--seller-kind", "brand"],
         "brand 987654321: not in the event log (no event names this brand)"),
        (f"/trust/pair?user={ids['U']}&creator=987654321", ["--user", str(ids["U"]), "--creator", "987654321"],
         creator_not_in_log),
        (f"/trust/pair?user=987654321&creator={ids['C']}", ["--user", "987654321", "--creator", str(ids["C"])],
         "user 987654321: not in the event log (no event names this user)"),
        ("/creators/987654321/stats", None, creator_not_in_log),
        ("/kpis?period=1999-01", None, None),
    ]:
        r = client.get(url, headers=_h("k-admin"))
        assert r.status_code == 404 and r.headers["content-type"] == "application/json", (url, r.text)
        got = r.json()["detail"]
        assert detail is None or got == detail, (url, got)
        if cli_args is not None:
            res = CliRunner().invoke(cli, ["explain", str(ws.path), *cli_args])
            assert res.exit_code == 2 and " ".join(res.output.split()) == f"error: {got}", (url, res.output)
    assert "no KPI rows" in client.get("/kpis?period=1999-01", headers=_h("k-admin")).json()["detail"]


def test_empty_and_commerce_free_workspaces(tmp_path_factory):
    """A log of views only: a known creator's credibility and creator trust (equal to the tables, k-suppressed
    for another user, whole for the creator), with the note on seller reliability for the keys that may read
    it; ids without a score 404 with the CLI's line; headline KPIs null with a reason. An empty built log:
    every id 404 "the log is empty", no creators, KPIs 409 saying the log is empty. Never a 500 or a NaN."""
    from views_world import AS_OF, USERS, views_world

    from trustecon.trust.build import build

    ws = views_world(tmp_path_factory, "api-views")
    keys = {"a": Principal("admin"), "u": Principal("user", 1), "c": Principal("creator", 100),
            "b": Principal("brand", 7)}
    client = TestClient(create_app(ws, keys, k_anonymity=USERS + 1), raise_server_exceptions=False)
    row = ws.read_table("creator_trust").to_pylist()[0]
    note = {"seller_reliability": "no seller reliability for creator 100: the workspace has no orders"}
    for key, notes, suppressed in (("a", note, False), ("c", note, False), ("b", note, True), ("u", {}, True)):
        r = client.get("/creators/100/credibility", headers=_h(key))
        assert r.status_code == 200 and "NaN" not in r.text, r.text
        got = r.json()
        assert got["notes"] == notes and got["credibility"] is not None, key
        if suppressed:  # 12 users pooled < k = 13
            assert got["creator_trust"]["trust"] is None and got["creator_trust"]["reason"].startswith("suppressed")
        else:
            assert got["creator_trust"]["trust"] == pytest.approx(row["trust"], abs=1e-9)
            assert got["creator_trust"]["users"] == row["users"] == USERS
    for url, detail in [
        ("/creators/102/credibility", f"creator 102: no trust evidence as of the build ({AS_OF}): no user event "
                                      "toward this creator counts as evidence"),
        ("/sellers/100/reliability?kind=creator", f"creator 100: no seller reliability as of the build ({AS_OF}): "
                                                  "the workspace has no orders"),
        ("/trust/pair?user=99&creator=100", "user 99: not in the event log (no event names this user)"),
    ]:
        r = client.get(url, headers=_h("a"))
        assert r.status_code == 404 and r.json() == {"detail": detail}, (url, r.text)
    pair = client.get("/trust/pair?user=1&creator=102", headers=_h("u")).json()  # both known: the prior
    assert pair["trust"] == 0.5 and pair["confidence"] == 0.0
    k = client.get("/kpis", headers=_h("a")).json()
    assert k["headline"]["monthly_repurchase_rate"]["value"] is None  # no orders: null with its reason
    assert all(h["reason"] for h in k["headline"].values() if h["value"] is None)
    empty_ws = Workspace.init(tmp_path_factory.mktemp("api-empty") / "ws")
    build(empty_ws)
    empty = TestClient(create_app(empty_ws, keys), raise_server_exceptions=False)
    assert empty.get("/creators", headers=_h("a")).json() == []
    for url, role_id in [("/creators/1/credibility", "creator 1"), ("/creators/1/stats", "creator 1"),
                         ("/trust/pair?user=1&creator=2", "creator 2"),
                         ("/sellers/7/reliability?kind=brand", "brand 7")]:
        r = empty.get(url, headers=_h("a"))
        assert r.status_code == 404 and r.json() == {"detail": f"{role_id}: not in the event log (the log is empty)"}
    r = empty.get("/kpis", headers=_h("a"))
    assert r.status_code == 409 and "the event log is empty" in r.json()["detail"]
    assert "trustecon kpis" in r.json()["detail"]


def _cli_json(args: list[str]) -> dict:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_explanations_equal_trustecon_explain(world):
    ws, ids, client, _ = world
    w = str(ws.path)
    api = client.get(f"/trust/pair?user={ids['U']}&creator={ids['C']}", headers=_h("k-admin")).json()
    assert api == _cli_json(["explain", w, "--user", str(ids["U"]), "--creator", str(ids["C"]), "--json"])
    assert api["channels"] and 0.0 <= api["trust"] <= 1.0
    # The user sees its own pair with the same content.
    assert client.get(f"/trust/pair?user={ids['U']}&creator={ids['C']}", headers=_h("k-user")).json() == api
    cred = client.get(f"/creators/{ids['C']}/credibility", headers=_h("k-admin")).json()
    assert cred == _cli_json(["explain", w, "--creator", str(ids["C"]), "--json"])
    assert cred["creator_trust"]["trust"] == pytest.approx(next(
        r["trust"] for r in ws.read_table("creator_trust").to_pylist() if r["creator_id"] == ids["C"]), abs=1e-9)
    # Others get the same explanation without the individual trusters, the creator trust's groups
    # under k users suppressed; the creator itself sees its whole creator trust.
    other = client.get(f"/creators/{ids['C']}/credibility", headers=_h("k-user2")).json()
    k = client.app.state.k
    assert other == {k_: v for k_, v in cred.items() if k_ != "top_trusters"} | {
        "creator_trust": suppress_creator_trust(cred["creator_trust"], k)}
    small = [c for c in cred["creator_trust"]["channels"] if 0 < c["users"] < k]
    assert all(c["decayed"] is None for c in other["creator_trust"]["channels"] if c["channel"] in
               {s["channel"] for s in small})
    own = client.get(f"/creators/{ids['C']}/credibility", headers=_h("k-creator")).json()
    assert own["creator_trust"] == cred["creator_trust"]
    rel = ws.read_table("seller_reliability").to_pylist()[0]
    s, kind = rel["seller_id"], rel["seller_kind"]
    api = client.get(f"/sellers/{s}/reliability?kind={kind}", headers=_h("k-admin")).json()
    assert api == _cli_json(["explain", w, "--seller", str(s), "--seller-kind", kind, "--json"])


def test_reliability_views_by_role(world):
    ws, ids, client, _ = world
    url = f"/sellers/{ids['C']}/reliability?kind=creator"
    full = client.get(url, headers=_h("k-admin")).json()
    assert full["orders_that_moved_it"] and all("buyer_id" in o for o in full["orders_that_moved_it"])
    own = client.get(url, headers=_h("k-creator")).json()  # the seller: its ledger without buyer ids
    assert own["orders_that_moved_it"] == [{k: v for k, v in o.items() if k != "buyer_id"}
                                           for o in full["orders_that_moved_it"]]
    brand = client.get(url, headers=_h("k-brand")).json()  # a brand choosing creators: score and counts
    assert "orders_that_moved_it" not in brand and brand["reliability"] == full["reliability"]
    assert client.get("/sellers/2/reliability?kind=brand", headers=_h("k-brand")).status_code == 403


def test_serve_refuses_a_folder_that_is_not_a_workspace(tmp_path):
    res = CliRunner().invoke(cli, ["serve", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "not a trustecon workspace" in res.output


def test_pair_without_evidence_is_the_prior(world):
    ws, ids, client, _ = world
    pt = ws.read_table("pair_trust").to_pylist()
    have = {(r["user_id"], r["creator_id"]) for r in pt}
    creators = sorted({r["creator_id"] for r in pt})
    c = next(c for c in creators if (ids["U"], c) not in have)
    r = client.get(f"/trust/pair?user={ids['U']}&creator={c}", headers=_h("k-user")).json()
    assert r["trust"] == 0.5 and r["confidence"] == 0.0 and r["channels"] == []


def test_feed_and_suggestions_equal_the_library(world):
    from trustecon.distribution import FeedServer
    from trustecon.distribution.suggest import suggest_creators

    ws, ids, client, _ = world
    u = ids["U"]
    want = [i for i in FeedServer(ws, connect("duckdb")).feed(u, 8) if i["source"] != "notice"]
    got = client.get(f"/users/{u}/feed?k=8", headers=_h("k-user")).json()
    assert got["user_id"] == u and got["cold_start"] is False
    assert [i for i in got["items"] if i["source"] != "notice"] == want
    cold = client.get("/users/987654321/feed?k=6", headers=_h("k-admin")).json()
    assert cold["cold_start"] is True and len(cold["items"]) == 6
    sug = client.get(f"/users/{u}/suggestions?k=4", headers=_h("k-user")).json()
    assert sug["suggestions"] == suggest_creators(ws, connect("duckdb"), u, 4)


def test_kpis_equal_the_catalogue(world):
    from trustecon.kpis import ARTICLE_FIGURES, headline

    ws, _, client, _ = world
    api = client.get("/kpis", headers=_h("k-admin")).json()
    lib = headline(ws.events(connect("duckdb")), timezone=ws.timezone)
    for name, v in lib.items():
        h = api["headline"][name]
        assert h["article"] == ARTICLE_FIGURES[name]
        assert h["unit"] == v.unit and h["definition"] == v.definition
        if v.value is None:
            assert h["value"] is None and h["reason"]
        else:
            assert h["value"] == pytest.approx(v.value, rel=1e-9)
    stored = [r for r in ws.read_table("kpis_live_rooms").to_pylist() if r["period"] == "all"][0]
    assert api["tables"]["live_rooms"] == {k: v for k, v in stored.items() if k != "period"}
    assert api["campaigns"] == []
    day = sorted(p for p in ws.read_table("kpis_order_value")["period"].to_pylist() if len(p) == 10)[0]
    assert client.get(f"/kpis?period={day}", headers=_h("k-user")).json()["period"] == day


def test_creator_and_room_stats(world):
    ws, ids, client, room = world
    c, s = ids["C"], ids["S"]
    stats = client.get(f"/creators/{c}/stats", headers=_h("k-creator")).json()
    rows = [r for r in ws.read_table("kpis_live_rooms_by_creator").to_pylist() if r["creator_id"] == c]
    assert stats["live"]["rooms"] == {k: v for k, v in rows[0].items() if k not in ("period", "creator_id")}
    assert stats["audience"]["trusters"] == sum(1 for r in ws.read_table("pair_trust").to_pylist()
                                                if r["creator_id"] == c)
    one = client.get(f"/rooms/{s}/stats", headers=_h("k-creator")).json()
    assert one["creator_id"] == c and one["room"]["unique_viewers"] == room["unique_viewers"]
    assert one["funnel"][0]["stage"] == "entered" and one["funnel"][0]["visits"] == room["visits"]
    # The creator's funnel is the sum of its rooms' funnels at every stage but repurchase (which looks past the room).
    mine = client.get("/rooms?limit=1000", headers=_h("k-creator")).json()
    assert {r["creator_id"] for r in mine} == {c}
    per_room = [client.get(f"/rooms/{r['session_id']}/stats", headers=_h("k-creator")).json()["funnel"] for r in mine]
    for i, stage in enumerate(stats["live"]["funnel"][:5]):
        assert stage["visits"] == sum(f[i]["visits"] for f in per_room), stage


def test_brand_sees_a_group_of_k_minus_1_suppressed(world):
    ws, ids, _, room = world
    n = room["unique_viewers"]
    assert n >= 2
    keys = {"b": Principal("brand", 1), "c": Principal("creator", ids["C"])}
    at_n = TestClient(create_app(ws, keys, k_anonymity=n))
    above = TestClient(create_app(ws, keys, k_anonymity=n + 1))
    url = f"/rooms/{ids['S']}/stats"
    shown = at_n.get(url, headers=_h("b")).json()
    hidden = above.get(url, headers=_h("b")).json()
    assert shown["room"]["unique_viewers"] == n and shown["funnel"][0]["visits"] == room["visits"]
    assert hidden["room"]["unique_viewers"] is None and hidden["room"]["visits"] is None
    assert hidden["room"]["reason"].startswith(f"suppressed: fewer than k={n + 1}")
    assert hidden["funnel"][0]["visits"] is None and hidden["funnel"][0]["conversion"] is None
    # The creator sees its own room in full whatever k is.
    assert above.get(url, headers=_h("c")).json()["room"]["unique_viewers"] == n
    listed = {r["session_id"]: r for r in above.get("/rooms?limit=1000", headers=_h("b")).json()}
    assert listed[ids["S"]]["unique_viewers"] is None
    # With k above every group, a brand's view of the creator keeps no audience number at all.
    huge = TestClient(create_app(ws, keys, k_anonymity=10**9))
    own = huge.get(f"/creators/{ids['C']}/stats", headers=_h("c")).json()
    seen = huge.get(f"/creators/{ids['C']}/stats", headers=_h("b")).json()
    assert own["audience"]["followers"] > 0 and own["live"]["funnel"][0]["visits"] > 0
    assert {k: v for k, v in seen["audience"].items() if k != "impressions"} == dict.fromkeys(
        ("followers", "trusters", "mean_trust", "live_unique_viewers"))
    for mine, theirs in zip(own["live"]["funnel"], seen["live"]["funnel"], strict=True):
        assert theirs["visits"] == (None if mine["visits"] else 0) and theirs["conversion"] is None
    assert seen["live"]["rooms"]["gmv"] is None and seen["commerce"]["order_value_by_creator"]["gmv"] is None
    assert seen["commerce"]["private_domain_gmv_by_creator"]["value"] is None


def test_suppress_known_answers():
    row = {"period": "all", "session_id": 5, "creator_id": 7, "visits": 12, "unique_viewers": 9, "orders": 3,
           "buyers": 3, "new_followers": 1, "old_fan_buyers": 1, "gmv": 300.0, "uv_value": 33.3, "gpm": 3.0,
           "follower_conversion": 0.1, "old_fan_buyer_share": 1 / 3, "reason": None}
    assert suppress("live_sessions", row, 3) == row  # every group ≥ 3
    four = suppress("live_sessions", row, 4)  # 3 buyers < 4: the money columns go, the audience stays
    assert four["unique_viewers"] == 9 and four["gmv"] is None and four["buyers"] is None
    assert four["reason"] == "suppressed: fewer than k=4 users (buyers < 4)"
    ten = suppress("live_sessions", row, 10)  # 9 viewers < 10: everything but ids
    assert ten["session_id"] == 5 and ten["creator_id"] == 7 and ten["visits"] is None and ten["gmv"] is None
    funnel = [{"stage": s, "step": i, "visits": v, "conversion": None} for i, (s, v) in
              enumerate([("entered", 12), ("watched_1min", 9), ("clicked", 4), ("ordered", 3)])]
    out = suppress_stats({"room": row, "funnel": funnel}, 4)["funnel"]
    assert [f["visits"] for f in out] == [12, 9, 4, None]
    assert out[3]["conversion"] is None
    empty = {**row, "unique_viewers": 0, "visits": 0, "buyers": 0, "orders": 0, "gmv": 0.0, "reason": "no live visits"}
    assert suppress("live_sessions", empty, 10) == empty  # nobody to protect: the real reason stays


def test_suppress_creator_trust_known_answers():
    ch = [{"channel": "like", "users": 12, "decayed": 9.0, "contribution": 9.0, "share": 0.9, "moved_trust": 0.1},
          {"channel": "refund", "users": 2, "decayed": 0.2, "contribution": 1.0, "share": 0.1, "moved_trust": -0.05}]
    ct = {"creator_id": 7, "trust": 0.8, "confidence": 0.8, "alpha": 10.0, "beta": 2.0, "positive": 9.0,
          "negative": 1.0, "users": 12, "channels": ch, "summary": "T_c(7) = 0.800"}
    assert suppress_creator_trust(ct, 2) == ct  # every group ≥ 2
    three = suppress_creator_trust(ct, 3)  # the refund's 2 users go, the score stays
    assert three["trust"] == 0.8 and three["channels"][0] == ch[0]
    assert three["channels"][1]["decayed"] is None and three["channels"][1]["users"] is None
    assert ct["channels"][1]["decayed"] == 0.2  # a copy
    low = suppress_creator_trust(ct, 13)  # 12 users pooled < 13: the whole score
    assert low["trust"] is None and low["channels"] == [] and low["reason"] == "suppressed: fewer than k=13 users"
    nobody = {**ct, "users": 0, "channels": []}
    assert suppress_creator_trust(nobody, 10) == nobody  # the prior, from nobody's evidence


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 50), buyers=st.integers(0, 50), k=st.integers(1, 60))
def test_suppress_property(n, buyers, k):
    row = {"period": "all", "unique_viewers": n, "visits": n, "buyers": buyers, "orders": buyers, "gmv": 1.0,
           "new_followers": 2, "reason": None}
    out = suppress("live_rooms", row, k)
    assert (out["unique_viewers"] is None) == (0 < n < k)
    assert (out["gmv"] is None) == (0 < n < k or 0 < buyers < k)
    assert out["period"] == "all" and row["unique_viewers"] == n  # ids kept, input untouched
    assert all(out[c] in (row[c], None) for c in row if c != "reason")


# ----------------------------------------------------------------------------- ingest
def _ev(i: int, **kw) -> dict:
    return {"event_id": f"api{i}", "ts": "2024-03-01T10:00:00Z", "kind": "like", "user_id": 1, "creator_id": 2, **kw}


@pytest.fixture()
def ingest_client(tmp_path):
    ws = Workspace.init(tmp_path / "ing")
    return ws, TestClient(create_app(ws, {"a": Principal("admin")}))


def test_ingest_counts_and_quarantine_reasons(ingest_client):
    ws, client = ingest_client
    batch = [_ev(1), _ev(2, kind="comment"), _ev(3, kind="nope"), _ev(4, kind="order", order_id=9, amount=-5), 7]
    r = client.post("/events", headers=_h("a"), json=batch)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["read"], got["accepted"], got["duplicates"], got["quarantined"]) == (5, 2, 0, 3)
    assert got["by_kind"] == {"comment": 1, "like": 1}
    rej = {x["row"]: x for x in got["rejected"]}
    assert set(rej) == {3, 4, 5}
    assert rej[3]["field"] == "kind" and rej[4]["field"] == "amount"
    assert "one object" in rej[5]["reason"]
    assert ws.event_count() == 2
    # The same batch again as JSON lines: exact repeats are duplicates, nothing new lands.
    lines = "\n".join(json.dumps(e) for e in batch[:2])
    again = client.post("/events", headers={**_h("a"), "Content-Type": "application/x-ndjson"}, content=lines).json()
    assert (again["accepted"], again["duplicates"], again["quarantined"]) == (0, 2, 0)
    # A stored id with different content is a conflict: quarantined, the stored event stays.
    conflict = client.post("/events", headers=_h("a"), json=[_ev(1, kind="share")]).json()
    assert (conflict["accepted"], conflict["conflicts"], conflict["quarantined"]) == (0, 1, 1)
    kinds = dict(zip(*ws.events_arrow().select(["event_id", "kind"]).to_pydict().values(), strict=True))
    assert kinds == {"api1": "like", "api2": "comment"}


def test_tables_not_built_yet_is_409_with_the_command(ingest_client):
    ws, client = ingest_client
    # Nothing ingested yet: who-to-follow has no graph to walk (409 with the reason, not a 500).
    r = client.get("/users/1/suggestions", headers=_h("a"))
    assert r.status_code == 409 and "event log is empty" in r.json()["detail"], r.text
    client.post("/events", headers=_h("a"), json=[_ev(1)])
    for url, cmd in [("/users/1/feed", "trustecon feed"), ("/trust/pair?user=1&creator=2", "trustecon build"),
                     ("/kpis", "trustecon kpis"), ("/creators", "trustecon build")]:
        r = client.get(url, headers=_h("a"))
        assert r.status_code == 409 and cmd in r.json()["detail"], (url, r.text)


def test_ingest_is_all_or_nothing(ingest_client, monkeypatch):
    import trustecon.store as store

    ws, client = ingest_client
    before = ws.manifest()

    calls = []
    real = store.Transaction._add_event_file

    def second_day_fails(self, *a, **kw):  # the first day's file is staged, then the batch breaks
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real(self, *a, **kw)

    monkeypatch.setattr(store.Transaction, "_add_event_file", second_day_fails)
    batch = [_ev(1), _ev(2, ts="2024-03-02T10:00:00Z"), _ev(3, kind="nope")]
    r = client.post("/events", headers=_h("a"), json=batch)
    assert len(calls) == 2
    assert r.status_code == 500 and r.json()["detail"] == "ingest failed, nothing committed: power cut"
    assert ws.manifest() == before and ws.event_count() == 0 and ws.quarantine_arrow().num_rows == 0
    assert not any((ws.path / "events").rglob("*.parquet"))


def test_ingest_rejects_unreadable_and_oversized(ingest_client, monkeypatch):
    import trustecon.api.app as api_app

    ws, client = ingest_client
    r = client.post("/events", headers=_h("a"), content=b"[{\"event_id\": ")
    assert r.status_code == 400 and "malformed JSON array" in r.json()["detail"]
    monkeypatch.setattr(api_app, "MAX_BATCH_BYTES", 10)
    assert client.post("/events", headers=_h("a"), json=[_ev(1)]).status_code == 413
    assert ws.event_count() == 0


# ----------------------------------------------------------------------------- keys and OpenAPI
def test_keys_cli_stores_hashes_and_the_app_reads_them(tmp_path):
    ws = Workspace.init(tmp_path / "k")
    runner = CliRunner()
    out = json.loads(runner.invoke(cli, ["keys", "add", str(ws.path), "--role", "creator", "--id", "7",
                                         "--json"]).stdout)
    key = out["key"]
    stored = (ws.path / "api_keys.json").read_text()
    assert key not in stored and key.split("_", 2)[2] not in stored and out["key_id"] in stored
    client = TestClient(create_app(ws))
    assert client.get("/whoami", headers={"X-API-Key": key}).json() == {"role": "creator", "id": 7,
                                                                         "k_anonymity": 10}
    assert client.get("/whoami", headers=_h(key + "x")).status_code == 401
    assert runner.invoke(cli, ["keys", "remove", str(ws.path), out["key_id"]]).exit_code == 0
    assert client.get("/whoami", headers=_h(key)).status_code == 401  # revoked while serving
    bad = runner.invoke(cli, ["keys", "add", str(ws.path), "--role", "creator"])
    assert bad.exit_code == 2 and "needs --id" in bad.output
    assert runner.invoke(cli, ["keys", "add", str(ws.path), "--role", "root"]).exit_code == 2
    assert KeyStore.load(ws).entries == {}


def test_openapi_lists_every_endpoint_with_models(world):
    _, _, client, _ = world
    spec = client.get("/openapi.json").json()
    want = {
        "/health", "/whoami", "/dashboard", "/events", "/users/{user_id}/feed", "/users/{user_id}/suggestions",
        "/trust/pair", "/creators", "/creators/{creator_id}/credibility", "/sellers/{seller_id}/reliability",
        "/creators/{creator_id}/stats", "/rooms", "/rooms/{session_id}/stats", "/kpis", "/brands/{brand_id}/plan",
    }
    assert set(spec["paths"]) == want
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description"), (path, method)
            ok = op["responses"]["200"]["content"]
            if path != "/dashboard":
                assert "schema" in ok["application/json"], (path, method)
            if path not in ("/health", "/dashboard"):
                assert {"401", "403"} <= set(op["responses"]), (path, method)
    assert "requestBody" in spec["paths"]["/events"]["post"]
    assert client.get("/health").json() == {"status": "ok", "schema_version": 1}


def test_plan_equals_the_library_and_hides_small_audiences_from_a_brand(world):
    """``/brands/{b}/plan`` is ``plan_workspace`` (as ``trustecon plan --json``); a brand sees a chosen
    creator's reach and conversion only when at least k users trust that creator; bad input is 404/422."""
    from trustecon.marketing import Campaign, plan_workspace

    ws, ids, client, _ = world
    want = plan_workspace(ws, Campaign(brand_id=ids["B"], budget=300.0)).as_dict()
    got = client.get(f"/brands/{ids['B']}/plan?budget=300", headers=_h("k-admin")).json()
    assert got["totals"] == want["totals"] and [r["creator_id"] for r in got["chosen"]] == \
        [r["creator_id"] for r in want["chosen"]]
    assert got["chosen"], "the small world should give brand 1 a non-empty plan"
    pt = ws.read_table("pair_trust").to_pylist()
    for row in got["chosen"]:
        assert row["audience_users"] == len({r["user_id"] for r in pt if r["creator_id"] == row["creator_id"]})
    # k above every audience: the brand sees the totals and the choice, not a creator's reach or conversion.
    big = max(r["audience_users"] for r in got["chosen"]) + 1
    brand_view = TestClient(create_app(ws, {"b": Principal("brand", ids["B"])}, k_anonymity=big)).get(
        f"/brands/{ids['B']}/plan?budget=300", headers=_h("b")).json()
    assert brand_view["totals"] == got["totals"]
    assert all(r["reach"] is None and r["conversion"] is None and r["exposures"] is None and r["suppressed"]
               for r in brand_view["chosen"])
    assert all(r["exposures"] is not None for r in got["chosen"])  # the admin sees the pin exposures bought
    assert client.get("/brands/987654/plan?budget=300", headers=_h("k-admin")).status_code == 404
    assert client.get(f"/brands/{ids['B']}/plan?budget=0", headers=_h("k-admin")).status_code == 422
    assert client.get(f"/brands/{ids['B']}/plan", headers=_h("k-admin")).status_code == 422
    # max_cpa reaches the planner: the same plan as the library's with that ceiling.
    cap = min(r["cost"] / r["expected_kept"] for r in want["chosen"] if r["expected_kept"] > 0) * 1.01
    want_cap = plan_workspace(ws, Campaign(brand_id=ids["B"], budget=300.0, max_cpa=cap)).as_dict()
    got_cap = client.get(f"/brands/{ids['B']}/plan?budget=300&max_cpa={cap}", headers=_h("k-admin")).json()
    assert [r["creator_id"] for r in got_cap["chosen"]] == [r["creator_id"] for r in want_cap["chosen"]]
    assert len(got_cap["chosen"]) < len(got["chosen"]) or len(got["chosen"]) == 1
    assert client.get(f"/brands/{ids['B']}/plan?budget=300&max_cpa=0", headers=_h("k-admin")).status_code == 422



@pytest.mark.parametrize("when", ["before", "after", "after-and-purge"])
def test_ingest_reports_only_its_own_rejections_across_a_compaction(ingest_client, monkeypatch, when):
    """A compaction while a batch is ingested (before its commit: earlier quarantine files merged into
    a new one; after it: the batch's own file merged too, and even purged at once) does not make
    earlier rejections look like the batch's own (the old before/after diff of the manifest did)."""
    ws, client = ingest_client
    for i in (1, 2):  # two earlier batches, one bad row each: two quarantine files to merge
        assert client.post("/events", headers=_h("a"), json=[_ev(10 + i), _ev(20 + i, kind="nope")]).status_code == 200
    svc = client.app.state.service
    real = svc.ingest

    def ingest_with_a_compaction(path):
        if when == "before":
            ws.compact()
        report = real(path)
        if when != "before":
            ws.compact()
        if when == "after-and-purge":
            ws.purge_retired(0)
        return report

    monkeypatch.setattr(svc, "ingest", ingest_with_a_compaction)
    r = client.post("/events", headers=_h("a"), json=[_ev(3, kind="order"), _ev(4), _ev(5, user_id="x")])
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["accepted"], got["quarantined"]) == (1, 2)
    assert [(x["row"], x["field"]) for x in got["rejected"]] == [(1, "order_id"), (3, "user_id")]
    assert len(ws.manifest()["quarantine"]) == (2 if when == "before" else 1)  # the earlier two merged
    assert ws.quarantine_arrow().num_rows == 4


def test_caches_survive_a_compaction_and_refit_after_an_append(ingest_client):
    """Who-to-follow is fitted once per state of the log and pair_trust: a compaction (same rows, other
    files, a new manifest version) keeps the key and the fitted model; an append or a pair_trust write
    changes the key (and the next request refits)."""
    import pyarrow as pa

    ws, client = ingest_client
    for i in range(4):  # four small batches on one day: four files to compact
        client.post("/events", headers=_h("a"), json=[_ev(i, kind="follow", user_id=1 + i % 2, creator_id=2 + i)])
    svc = client.app.state.service
    assert client.get("/users/1/suggestions", headers=_h("a")).status_code == 200
    key, model = svc._who
    assert svc.cache_key("pair_trust") == key
    version = ws.manifest()["version"]
    assert ws.compact().files_after == 1 and ws.manifest()["version"] == version + 1
    assert svc.cache_key("pair_trust") == key
    assert client.get("/users/1/suggestions", headers=_h("a")).status_code == 200
    assert svc._who[1] is model  # not refitted
    client.post("/events", headers=_h("a"), json=[_ev(9, kind="follow", user_id=1, creator_id=9)])
    key2 = svc.cache_key("pair_trust")
    assert key2 != key and key2[0] == key[0] + 1
    assert client.get("/users/1/suggestions", headers=_h("a")).status_code == 200
    assert svc._who[1] is not model and svc._who[0] == key2
    ws.write_table("pair_trust", pa.table({"user_id": [1], "creator_id": [9], "trust": [0.5]}))
    assert svc.cache_key("pair_trust") != key2 and svc.cache_key() == key2[:1]


def test_an_admin_looking_at_a_feed_does_not_use_up_the_users_notice(tmp_path):
    # A notice is shown once, to the user; an admin (or the dashboard's admin view) looking at that
    # user's feed sees it too, but only the user's own request marks it delivered. A notice posted
    # after the server loaded its feed world is due too (the server once showed it only after the next
    # `trustecon feed --all`).
    from test_distribution import small_log

    from trustecon.distribution import FeedConfig, build_feeds

    ws = Workspace.init(tmp_path / "n")
    log = small_log()
    ws.append(log.table())
    build_feeds(ws, connect("duckdb"), FeedConfig())
    log.add(6, "notice", creator_id=100)  # even users follow 100
    ws.append(log.table())
    client = TestClient(create_app(ws, {"a": Principal("admin"), "u": Principal("user", 2)}))

    def notices(key: str) -> int:
        items = client.get("/users/2/feed", headers=_h(key)).json()["items"]
        return sum(i["source"] == "notice" for i in items)

    assert (notices("a"), notices("a")) == (1, 1)
    assert (notices("u"), notices("u"), notices("a")) == (1, 0, 0)
    # A notice posted while the server runs (no feed rebuild) is due at the next request.
    log.add(7, "notice", creator_id=100)
    ws.append(log.table())
    assert (notices("a"), notices("u"), notices("u")) == (1, 1, 0)
