"""The dashboard in a real headless browser against a real ``trustecon serve`` (uvicorn) on a free port.

With an admin key the page shows the headline KPIs equal to ``GET /kpis`` and the top creators equal to
``GET /creators``; the trust explorer shows a creator's credibility and creator trust (equal to the built
tables, with the channels that moved it most), the pair's explanation, and the API's one-line reason for
an id with no score; a workspace with no commerce or no events shows what can be computed and why the
rest cannot; who to follow lists the library's suggestions with their reasons and parts (a user's own, an
admin's pick, a new user's popularity reasons) and a user key's refusal for someone else's; the feed panel
lists the library's feed (positions, creators, sources, reasons; a pending notice once, then not again), a
new user's cold-start feed, a refusal and the API's reason where no feed is built; a bad key
shows an error and no data. Every request the page makes must go to the server
itself (no CDN: the machine is offline).
Skips with a reason where Chromium or Playwright is absent (scripts/setup.sh installs them).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pytest

httpx = pytest.importorskip("httpx", reason="httpx is in the test extra")
pytest.importorskip("fastapi", reason="the HTTP API needs the serve extra")

from api_world import built_world  # noqa: E402

from trustecon.api import KeyStore  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium on PATH (scripts/setup.sh installs Debian's chromium as root)")
    pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    ws = built_world(tmp_path_factory, "dash")
    store = KeyStore.load(ws)
    admin, _ = store.add("admin")
    pt = ws.read_table("pair_trust").to_pylist()
    pair = max(pt, key=lambda r: (r["evidence"], -r["user_id"]))
    user, _ = store.add("user", pair["user_id"])
    store.save(ws)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustecon.cli", "serve", str(ws.path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"trustecon serve exited: {proc.stdout.read().decode()}")
            time.sleep(0.1)
        else:
            pytest.fail("trustecon serve did not answer /health within 30 s")
        yield {"base": base, "admin": admin, "user": user, "pair": pair, "exe": exe, "ws": ws}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=server["exe"],
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


def _page(browser, base: str, outside: list[str]):
    page = browser.new_page(viewport={"width": 1300, "height": 900})

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:  # offline: any other origin is a failure of "no CDN"
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(base + "/")
    return page


def _sign_in(page, key: str) -> None:
    page.fill("#key", key)
    page.click("#connect")


def test_dashboard_shows_the_api_numbers(server, browser):
    base, key = server["base"], server["admin"]
    outside: list[str] = []
    page = _page(browser, base, outside)
    assert page.url == base + "/dashboard"
    _sign_in(page, key)
    page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
    kpis = httpx.get(base + "/kpis", headers={"Authorization": f"Bearer {key}"}).json()
    rows = page.locator("#kpis tbody tr")
    assert rows.count() == len(kpis["headline"]) == 6
    for name, h in kpis["headline"].items():
        tr = page.locator(f"#kpis tr[data-kpi='{name}']")
        ours = tr.locator("td.ours")
        raw = ours.get_attribute("data-value")
        if h["value"] is None:
            assert raw == "null" and ours.inner_text() == "—"
            assert tr.locator("td").nth(3).inner_text() == h["reason"]
        else:
            assert float(raw) == h["value"]
            want = f"{h['value'] * 100:.1f}%" if h["unit"] == "share" else f"{h['value']:.2f}"
            assert ours.inner_text() == want
        assert float(tr.locator("td.article").get_attribute("data-value")) == h["article"]
    top = httpx.get(base + "/creators?top=10", headers={"X-API-Key": key}).json()
    shown = [int(x) for x in page.locator("#creators tbody tr").evaluate_all("rs => rs.map(r => r.dataset.creator)")]
    assert shown == [c["creator_id"] for c in top]
    cred = page.locator("#creators td.credibility").evaluate_all("ts => ts.map(t => Number(t.dataset.value))")
    assert cred == [c["credibility"] for c in top]
    rooms = httpx.get(base + "/rooms?limit=10", headers={"X-API-Key": key}).json()
    assert page.locator("#rooms tbody tr").count() == len(rooms) > 0
    assert "admin" in page.inner_text("#who")
    _assert_creator_trust_equals_the_tables(page, server["ws"], server["pair"]["creator_id"])
    assert outside == []
    page.close()


#: The page's words for the channels the small world's creators have (dashboard.html CHANNEL_WORDS).
WORDS = {"like": "likes", "comment": "comments", "follow": "new followers", "share": "shares", "gift": "gifts",
         "ignored": "shown in feeds but not opened", "short_view": "videos left early or skipped",
         "hate": '"not interested" taps', "view": "videos watched through",
         "live_minutes": "minutes watched in live rooms", "live_visit": "live-room visits"}


def _moved(v: float) -> str:
    return ("+" if v >= 0 else "−") + f"{abs(v):.4f}"


def _assert_creator_trust_equals_the_tables(page, ws, creator: int) -> None:
    """The explorer (admin) for ``creator``: C(c) and T_c, its confidence, users and evidence mass equal the
    built rows; the three channels that raised and lowered T_c most, each with T_c minus T_c without that
    channel computed here from the row (α, β, e_ch) and the stored weights, in the creator's words."""
    cred = next(r for r in ws.read_table("creator_credibility").to_pylist() if r["creator_id"] == creator)
    row = next(r for r in ws.read_table("creator_trust").to_pylist() if r["creator_id"] == creator)
    weights = ws.config["trust"]["creator_trust"]["weights"]
    page.fill("#pair-user", "")
    _explain_on_page(page, creator)
    assert page.get_attribute("#creator-view", "data-creator") == str(creator)
    c_row = page.locator("#creator-scores tr[data-score='credibility']")
    assert float(c_row.locator("td.value").get_attribute("data-value")) == pytest.approx(cred["credibility"], abs=1e-9)
    assert c_row.locator("td.value").inner_text() == f"{cred['credibility']:.2f}"
    t_row = page.locator("#creator-scores tr[data-score='creator_trust']")
    assert float(t_row.locator("td.value").get_attribute("data-value")) == pytest.approx(row["trust"], abs=1e-9)
    assert t_row.locator("td.value").inner_text() == f"{row['trust']:.3f}"
    assert float(t_row.get_attribute("data-confidence")) == pytest.approx(row["confidence"], abs=1e-9)
    assert int(t_row.get_attribute("data-users")) == row["users"]
    mass = row["positive"] + row["negative"]
    assert float(t_row.get_attribute("data-mass")) == pytest.approx(mass, rel=1e-9)
    assert f"confidence {row['confidence']:.2f}: the evidence of {row['users']} people" in t_row.inner_text()
    a, b = row["alpha"], row["beta"]
    moved = {}
    for ch, w in weights.items():
        x = w * (row.get(f"e_{ch}") or 0.0)
        if x > 0:
            pos = ch not in ("ignored", "short_view", "unfollow", "hate", "refund", "complaint")
            moved[ch] = row["trust"] - ((a - x) / (a + b - x) if pos else a / (a + b - x))
    up = sorted((c for c, v in moved.items() if v > 0), key=lambda c: -moved[c])[:3]
    down = sorted((c for c, v in moved.items() if v < 0), key=lambda c: moved[c])[:3]
    for sel, want in (("#creator-raised", up), ("#creator-lowered", down)):
        items = page.locator(f"{sel} li")
        assert items.evaluate_all("ls => ls.map(l => l.dataset.channel)") == want and want
        got = items.evaluate_all("ls => ls.map(l => Number(l.dataset.moved))")
        assert got == pytest.approx([moved[c] for c in want], abs=1e-9)
        for i, ch in enumerate(want):
            assert items.nth(i).inner_text().startswith(f"{WORDS.get(ch, ch)}: {_moved(moved[ch])} (")
    assert "NaN" not in page.inner_text("body")


def test_trust_explorer_shows_the_explanation(server, browser):
    base, key, pair = server["base"], server["user"], server["pair"]
    outside: list[str] = []
    page = _page(browser, base, outside)
    _sign_in(page, key)
    page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
    assert page.input_value("#pair-user") == str(pair["user_id"])  # a user's own id is filled in
    page.fill("#pair-creator", str(pair["creator_id"]))
    page.click("#pair-go")
    page.wait_for_selector("#pair-channels tbody tr", timeout=20_000)
    api = httpx.get(f"{base}/trust/pair?user={pair['user_id']}&creator={pair['creator_id']}",
                    headers={"X-API-Key": key}).json()
    assert page.inner_text("#pair-summary") == api["summary"]
    got = page.locator("#pair-channels tbody tr").evaluate_all("rs => rs.map(r => r.dataset.channel)")
    assert got == [c["channel"] for c in api["channels"]]
    # Beside it the creator's trust as a user sees it: channels from fewer than k users are not shown.
    cred = httpx.get(f"{base}/creators/{pair['creator_id']}/credibility", headers={"X-API-Key": key}).json()
    hidden = [c for c in cred["creator_trust"]["channels"] if c["moved_trust"] is None]
    assert hidden, "the small world should have a channel from fewer than k users"
    k = httpx.get(f"{base}/whoami", headers={"X-API-Key": key}).json()["k_anonymity"]
    want = f"{len(hidden)} kinds of evidence not shown (fewer than k={k} users each)"
    assert page.inner_text("#creator-hidden") == want
    shown = page.locator("#creator-raised li, #creator-lowered li").evaluate_all("ls => ls.map(l => l.dataset.channel)")
    assert not {c["channel"] for c in hidden} & set(shown) and shown
    # An id with no score: the API's one-line reason (the same as trustecon explain), nothing else shown.
    _explain_on_page(page, 987654321)
    assert page.inner_text("#error") == "creator 987654321: not in the event log (no event names this creator)"
    assert page.locator("#creator-view").is_hidden() and page.locator("#pair-channels tbody tr").count() == 0
    page.fill("#pair-creator", str(pair["creator_id"]))
    # Another user's pair: the page says it may not, and shows no explanation.
    page.fill("#pair-user", str(pair["user_id"] + 1))
    page.click("#pair-go")
    page.wait_for_selector("#error", state="visible")
    assert "may not read" in page.inner_text("#error")
    assert page.locator("#pair-channels tbody tr").count() == 0 and page.inner_text("#pair-summary") == ""
    assert outside == []
    page.close()


def _suggest_on_page(page, user: int) -> list[tuple[int, str]]:
    """Asks the who-to-follow panel for ``user``; the rendered (creator, reasons) rows, in order."""
    page.fill("#suggest-user", str(user))
    page.click("#suggest-go")
    page.wait_for_selector("#suggest[data-state='done']", timeout=20_000)
    return _suggestions_shown(page)


def _suggestions_shown(page) -> list[tuple[int, str]]:
    got = page.locator("#suggestions tbody tr").evaluate_all(
        "rs => rs.map(r => [Number(r.dataset.creator), r.querySelector('td.because').textContent])")
    return [(c, why) for c, why in got]


def _assert_suggestions_equal(page, want: list[dict]) -> None:
    """The panel shows ``want`` (``suggest_creators``'s answer): creators in order with their reasons, and
    for each the non-zero parts (feature → contribution, adding up to the score) beside its score."""
    assert _suggestions_shown(page) == [(s["creator_id"], s["because"]) for s in want] and want
    assert page.locator("#suggestions").is_visible()
    for i, s in enumerate(want):
        tr = page.locator("#suggestions tbody tr").nth(i)
        parts = dict(tr.locator("ul.parts li[data-part]").evaluate_all(
            "ls => ls.map(l => [l.dataset.part, Number(l.dataset.value)])"))
        nonzero = {f: v for f, v in s["parts"].items() if v != 0}
        assert parts == pytest.approx(nonzero, abs=1e-12)
        assert float(tr.get_attribute("data-score")) == pytest.approx(s["score"], abs=1e-12)
        assert sum(parts.values()) == pytest.approx(s["score"], abs=1e-9)


def test_who_to_follow_shows_the_library_suggestions(server, browser):
    """A user's key: the panel loads by itself with ``suggest_creators`` for that user (creators in order,
    the reasons in words, the parts); asking for another user shows the API's refusal and no rows. An
    admin picks users: another user's list, and a never-seen user's most followed creators with popularity
    reasons only and the note that says so."""
    from trustecon.distribution.suggest import suggest_creators
    from trustecon.engine import connect

    base, ws, me = server["base"], server["ws"], server["pair"]["user_id"]
    con = connect("duckdb")
    outside: list[str] = []
    page = _page(browser, base, outside)
    _sign_in(page, server["user"])
    page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
    page.wait_for_selector("#suggest[data-state='done']", timeout=20_000)
    assert page.input_value("#suggest-user") == str(me)
    _assert_suggestions_equal(page, suggest_creators(ws, con, me, 10))
    assert page.inner_text("#suggest-note") == ""  # a known user's own graph: no cold-start note
    assert page.locator("#suggest h2").inner_text() == "Who to follow"
    heads = page.locator("#suggestions th[scope='col']").evaluate_all("hs => hs.map(h => h.textContent)")
    assert heads == ["#", "creator", "why", "score by part"]
    assert _suggest_on_page(page, me + 1) == []
    assert page.inner_text("#suggest-note") == \
        f"user {me + 1}: this key may not read this resource (a user key sees only its own suggestions)"
    assert page.locator("#suggestions").is_hidden() and page.inner_text("#error") == ""
    page.close()

    page = _page(browser, base, outside)
    _sign_in(page, server["admin"])
    page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
    assert page.locator("#suggestions tbody tr").count() == 0  # an admin picks a user first
    _suggest_on_page(page, me + 1)
    _assert_suggestions_equal(page, suggest_creators(ws, con, me + 1, 10))
    new = 987654321
    want = suggest_creators(ws, con, new, 10)
    _suggest_on_page(page, new)
    _assert_suggestions_equal(page, want)
    popular = r"1 person follows or trusts them|[\d,]+ people follow or trust them"
    assert all(re.fullmatch(popular, why) for _, why in _suggestions_shown(page))
    assert page.inner_text("#suggest-note") == (f"user {new} follows and trusts no one yet (a new user): the most "
                                               "followed creators, by how many people follow or trust them")
    assert "NaN" not in page.inner_text("#suggest") and outside == []
    page.close()


#: The page's short words for the feed's sources (dashboard.html SOURCE_WORDS).
SOURCE_WORDS = {"notice": "notice", "follow": "you follow/trust", "discover": "discovery", "explore": "exploration"}


def _feed_on_page(page, user: int) -> list[tuple[str, int, str, str]]:
    """Asks the feed panel for ``user``; the rendered rows (see :func:`_feed_shown`)."""
    page.fill("#feed-user", str(user))
    page.click("#feed-go")
    page.wait_for_selector("#feed[data-state='done']", timeout=20_000)
    return _feed_shown(page)


def _feed_shown(page) -> list[tuple[str, int, str, str]]:
    """The feed panel's rows as people read them: (position, creator, source words, reason)."""
    got = page.locator("#feed-rows tbody tr").evaluate_all(
        "rs => rs.map(r => Array.from(r.querySelectorAll('td')).map(t => t.textContent))")
    return [(pos, int(creator), source, why) for pos, creator, _content, source, why in got]


def _feed_rows(items: list[dict]) -> list[tuple[str, int, str, str]]:
    """What the panel should show for the library's ``items``: positions counted from 1, in order."""
    return [(str(i["rank"] + 1), i["creator_id"], SOURCE_WORDS[i["source"]], i["because"]) for i in items]


def _assert_feed_equals(page, items: list[dict]) -> None:
    """The panel shows ``items`` (``FeedServer.feed``'s answer): every row in order, and each item's content
    (a dash for a notice) and source as the API names it."""
    assert _feed_shown(page) == _feed_rows(items) and items
    assert page.locator("#feed-rows").is_visible()
    rows = page.locator("#feed-rows tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.source)") == [i["source"] for i in items]
    content = rows.locator("td.content").evaluate_all("ts => ts.map(t => t.textContent)")
    assert content == ["—" if i["content_id"] is None else str(i["content_id"]) for i in items]


def test_feed_shows_the_library_feed(browser, tmp_path_factory):
    """A user with a pending notice signs in: the panel loads by itself and equals ``FeedServer.feed`` for
    that user (k=20) — the notice first, then the private domain, discovery and exploration, each with the
    library's reason. The API marked the notice delivered, so the next look (an admin's) shows the rest,
    equal to a new ``FeedServer`` over the saved deliveries. An admin's look at another user shows that
    user's notice and leaves it pending. Enter while a feed is loading sends no second request (for a user's
    own feed its answer would replace the notice unseen). A user key asking for someone else's feed gets the
    refusal in the panel; a never-seen user gets the library's cold-start feed."""
    from trustecon.distribution import FeedServer
    from trustecon.engine import connect

    ws = built_world(tmp_path_factory, "dash-feed")
    con = connect("duckdb")
    # The build delivered every notice of the log; two users' are made pending again (as if posted since).
    d = ws.read_table("notice_deliveries")
    me, other = sorted(set(d["user_id"].to_pylist()))[:2]
    ws.write_table("notice_deliveries", d.filter(pc.invert(pc.is_in(d["user_id"], pa.array([me, other])))))
    lib = FeedServer(ws, con)  # not saved: the API delivers the notices itself
    want, want_other = lib.feed(me, 20), lib.feed(other, 20)
    assert want[0]["source"] == "notice" and {"follow", "discover", "explore"} <= {i["source"] for i in want}
    assert [i["source"] for i in want_other].count("notice") == 1
    store = KeyStore.load(ws)
    admin, _ = store.add("admin")
    user, _ = store.add("user", me)
    store.save(ws)
    outside: list[str] = []
    with _serve_in_thread(ws) as base:
        page = _page(browser, base, outside)
        _sign_in(page, user)
        page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
        page.wait_for_selector("#feed[data-state='done']", timeout=20_000)
        assert page.input_value("#feed-user") == str(me)
        _assert_feed_equals(page, want)
        assert page.inner_text("#feed-note") == \
            "1 notice from creators they follow (shown to the user once: their own look marks a notice delivered)"
        assert page.locator("#feed h2").inner_text() == "Feed"
        heads = page.locator("#feed-rows th[scope='col']").evaluate_all("hs => hs.map(h => h.textContent)")
        assert heads == ["#", "creator", "content", "source", "why"]
        assert _feed_on_page(page, me + 1) == []
        assert page.inner_text("#feed-note") == \
            f"user {me + 1}: this key may not read this resource (a user key sees only its own feed)"
        assert page.locator("#feed-rows").is_hidden() and page.inner_text("#error") == ""
        page.close()

        page = _page(browser, base, outside)
        _sign_in(page, admin)
        page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
        assert page.locator("#feed-rows tbody tr").count() == 0  # an admin's look waits for an id
        assert "pending notices show without being used up" in page.inner_text("#feed-note")
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/feed" in r.url else None)
        page.fill("#feed-user", str(other))
        page.evaluate("() => { document.querySelector('#feed-go').click(); document.querySelector('#feed-user')"
                      ".dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); }")  # click, then Enter
        page.wait_for_selector("#feed[data-state='done']", timeout=20_000)
        _assert_feed_equals(page, want_other)
        assert asked == [f"{base}/users/{other}/feed?k=20"] and not page.is_disabled("#feed-go")
        assert FeedServer(ws, con).feed(other, 20, deliver=False) == want_other  # the admin used nothing up
        again = FeedServer(ws, con).feed(me, 20)  # over the deliveries the API saved: no notice left
        assert again == [{**i, "rank": i["rank"] - 1} for i in want[1:]]
        _feed_on_page(page, me)
        _assert_feed_equals(page, again)
        assert page.inner_text("#feed-note") == ""  # a known user, no notice: nothing to add
        new = 987654321
        cold = FeedServer(ws, con).feed(new, 20)
        _feed_on_page(page, new)
        _assert_feed_equals(page, cold)
        assert page.get_attribute("#feed", "data-cold-start") == "true"
        assert page.inner_text("#feed-note") == (f"user {new} is new to the engine (cold start): credible and "
                                                "popular creators and exploration, nothing from their own "
                                                "follows or trust yet")
        assert "NaN" not in page.inner_text("#feed") and "undefined" not in page.inner_text("#feed")
        # Signed in again while a feed is out: that answer belongs to the previous sign-in and is not shown.
        held: list = []
        page.route("**/users/*/feed*", lambda r: held.append(r))
        page.click("#feed-go")
        page.wait_for_function("() => feedPending === 1")
        _sign_in(page, admin)
        page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
        page.unroute("**/users/*/feed*")
        held[0].continue_()
        page.wait_for_function("() => feedPending === 0", timeout=20_000)
        assert page.locator("#feed-rows tbody tr").count() == 0 and page.locator("#feed-rows").is_hidden()
        page.close()
    assert outside == []


@contextlib.contextmanager
def _serve_in_thread(ws) -> Iterator[str]:
    """The API over ``ws`` under uvicorn in a thread of this process (starts in well under a second, where a
    second ``trustecon serve`` process would import everything again); yields its base URL."""
    import uvicorn

    from trustecon.api import create_app

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if srv.started:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the in-thread server did not start within 10 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _explain_on_page(page, creator: int) -> None:
    page.fill("#pair-creator", str(creator))
    page.click("#pair-go")
    page.wait_for_selector("#explorer[data-state='done']", timeout=20_000)


#: The API's 409 for a feed where none is built (trustecon/api/service.py feed_server).
NO_FEEDS = "no feeds built yet; run 'trustecon feed WORKSPACE --all' first"


def test_dashboard_on_commerce_free_and_empty_workspaces(server, browser, tmp_path_factory):
    """Views only: the KPIs without their events are dashes with the reason, a known creator shows its
    credibility and creator trust with the note that seller reliability needs orders, a creator with no
    evidence and an unknown one show the API's one-line reason. An empty log: each panel says why it is
    empty, an id says it is not in the log. Neither has feeds built: the feed panel says so (the API's 409).
    Never a NaN on the page."""
    from views_world import AS_OF, views_world

    from trustecon.store import Workspace
    from trustecon.trust.build import build

    views, empty = views_world(tmp_path_factory, "dash-views"), Workspace.init(tmp_path_factory.mktemp("e") / "ws")
    build(empty)
    for w, checks in ((views, "views"), (empty, "empty")):
        store = KeyStore.load(w)
        key, _ = store.add("admin")
        store.save(w)
        outside: list[str] = []
        with _serve_in_thread(w) as base:
            page = _page(browser, base, outside)
            _sign_in(page, key)
            page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
            if checks == "views":
                kpis = httpx.get(base + "/kpis", headers={"X-API-Key": key}).json()["headline"]
                for name, h in kpis.items():
                    tr = page.locator(f"#kpis tr[data-kpi='{name}']")
                    if h["value"] is None:
                        assert tr.locator("td.ours").inner_text() == "—" and tr.locator("td").nth(3).inner_text() == \
                            h["reason"]
                assert page.inner_text("#rooms-note") == "no live rooms"
                assert page.locator("#creators tbody tr").count() == 1
                _explain_on_page(page, 100)
                row = views.read_table("creator_trust").to_pylist()[0]
                t_row = page.locator("#creator-scores tr[data-score='creator_trust']")
                assert float(t_row.locator("td.value").get_attribute("data-value")) == pytest.approx(row["trust"],
                                                                                                      abs=1e-9)
                assert page.inner_text("#creator-notes") == \
                    "no seller reliability for creator 100: the workspace has no orders"
                assert page.inner_text("#error") == ""
                for c, why in ((102, f"creator 102: no trust evidence as of the build ({AS_OF}): no user event "
                                     "toward this creator counts as evidence"),
                               (999, "creator 999: not in the event log (no event names this creator)")):
                    _explain_on_page(page, c)
                    assert page.inner_text("#error") == why and page.locator("#creator-view").is_hidden()
                # Who to follow with views only: user 1 trusts creator 100, so only 102 is left, with nothing
                # behind it; a new user gets 100 by its 12 trusters, then 102.
                assert _suggest_on_page(page, 1) == [(102, "no strong reason: the best left among few candidates")]
                assert page.inner_text("#suggest-note").startswith("nothing to go on for user 1 yet")
                assert _suggest_on_page(page, 999) == [
                    (100, "12 people follow or trust them"),
                    (102, "no strong reason: the best left among few candidates")]
                assert "(a new user)" in page.inner_text("#suggest-note")
                # No feeds built: the API's 409 reason (with the command), in the panel only, no rows.
                before = page.inner_text("#error")  # the explorer's last reason stays as it was
                assert _feed_on_page(page, 1) == []
                assert page.inner_text("#feed-note") == NO_FEEDS and page.inner_text("#error") == before
            else:
                assert "the event log is empty" in page.inner_text("#kpis-note")
                assert "the event log is empty" in page.inner_text("#rooms-note")
                assert page.inner_text("#creators-note").startswith("no creators with credibility yet")
                assert page.inner_text("#error") == ""
                _explain_on_page(page, 1)
                assert page.inner_text("#error") == "creator 1: not in the event log (the log is empty)"
                assert _suggest_on_page(page, 1) == []
                assert page.inner_text("#suggest-note") == "the event log is empty; ingest, load or simulate first"
                before = page.inner_text("#error")
                assert _feed_on_page(page, 1) == []
                assert page.inner_text("#feed-note") == "the event log is empty; ingest, load or simulate first"
                assert page.inner_text("#error") == before
            assert "NaN" not in page.inner_text("body") and "undefined" not in page.inner_text("body")
            page.close()
        assert outside == []


def _plan_as(browser, base: str, outside: list[str], key: str, brand: int, budget: float):
    """A page signed in with ``key`` that has asked the planner for ``brand`` at ``budget``."""
    page = _page(browser, base, outside)
    _sign_in(page, key)
    page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
    page.fill("#plan-brand", str(brand))
    page.fill("#plan-budget", str(budget))
    page.click("#plan-go")
    return page


def test_campaign_planner_shows_the_api_plan(server, browser):
    """Admin plans brand 1 at budget 300: the page's rows and total are the API's; the user's key may
    not plan (an error, no rows)."""
    base = server["base"]
    outside: list[str] = []
    page = _plan_as(browser, base, outside, server["admin"], 1, 300)
    page.wait_for_selector("#plan-rows tbody tr", timeout=20_000)
    api = httpx.get(f"{base}/brands/1/plan?budget=300", headers={"X-API-Key": server["admin"]}).json()
    got = page.locator("#plan-rows tbody tr").evaluate_all("rs => rs.map(r => Number(r.dataset.creator))")
    assert got == [r["creator_id"] for r in api["chosen"]] and got
    kept = page.locator("#plan-rows td.kept").evaluate_all("ts => ts.map(t => Number(t.dataset.value))")
    assert kept == pytest.approx([r["expected_kept"] for r in api["chosen"]])
    total = float(page.get_attribute("#plan-summary", "data-kept"))
    assert total == pytest.approx(api["totals"]["expected_kept_orders"])
    page.close()
    page = _plan_as(browser, base, outside, server["user"], 1, 300)
    page.wait_for_selector("#error", state="visible")
    assert "may not plan" in page.inner_text("#error") and page.locator("#plan-rows tbody tr").count() == 0
    assert outside == []
    page.close()


def test_bad_key_shows_an_error_not_data(server, browser):
    base = server["base"]
    outside: list[str] = []
    page = _page(browser, base, outside)
    _sign_in(page, server["admin"] + "-wrong")
    page.wait_for_selector("#error", state="visible", timeout=20_000)
    assert "invalid API key" in page.inner_text("#error")
    for table in ("#kpis", "#creators", "#rooms", "#pair-channels", "#plan-rows", "#suggestions", "#feed-rows"):
        assert page.locator(f"{table} tbody tr").count() == 0
    assert page.get_attribute("body", "data-loaded") is None
    assert outside == []
    page.close()


def test_api_docs_render_offline(server, browser):
    """``/docs`` (Swagger UI) renders every operation of ``/openapi.json`` with no request leaving the
    server: its script and style come from the serve extra's bundle, not a CDN."""
    base = server["base"]
    outside: list[str] = []
    page = browser.new_page()

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(base + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    spec = httpx.get(base + "/openapi.json").json()
    n_ops = sum(len(ops) for ops in spec["paths"].values())
    assert page.locator(".opblock").count() == n_ops > 10
    assert outside == []
    page.close()
