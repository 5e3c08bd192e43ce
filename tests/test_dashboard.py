"""The dashboard in a real headless browser against a real ``trustecon serve`` (uvicorn) on a free port.

With an admin key the page shows the headline KPIs equal to ``GET /kpis`` and the top creators equal to
``GET /creators``; the trust explorer shows the pair's explanation; a bad key shows an error and no
data. Every request the page makes must go to the server itself (no CDN: the machine is offline).
Skips with a reason where Chromium or Playwright is absent (scripts/setup.sh installs them).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

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
        yield {"base": base, "admin": admin, "user": user, "pair": pair, "exe": exe}
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
    assert outside == []
    page.close()


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
    # Another user's pair: the page says it may not, and shows no explanation.
    page.fill("#pair-user", str(pair["user_id"] + 1))
    page.click("#pair-go")
    page.wait_for_selector("#error", state="visible")
    assert "may not read" in page.inner_text("#error")
    assert page.locator("#pair-channels tbody tr").count() == 0 and page.inner_text("#pair-summary") == ""
    assert outside == []
    page.close()


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
    for table in ("#kpis", "#creators", "#rooms", "#pair-channels", "#plan-rows"):
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
