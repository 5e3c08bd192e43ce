"""The report and the live funnel: known answers on a hand-built log, and the page in a real browser.

The browser test opens the report in headless Chromium (Debian's ``chromium``, installed by
scripts/setup.sh) with every non-file request blocked, screenshots each chart and checks it is not
blank.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from trustecon.engine import connect
from trustecon.live import live_funnel
from trustecon.report import build_report
from trustecon.store import Workspace

C = 100  # the creator (a user who publishes: same id space)


def ev(i: int, ts: str, kind: str, **kw) -> dict:
    return {"event_id": f"t{i}", "ts": ts, "kind": kind, **{k: str(v) for k, v in kw.items()}}


def tiny_log() -> pa.Table:
    """One live session (id 500) of creator 100 with three viewers; see the funnel test for the answer."""
    rows = [
        ev(1, "2023-12-31T09:00:00Z", "follow", user_id=1, creator_id=C),
        ev(2, "2024-01-01T00:00:00Z", "publish", creator_id=C, content_id=1000),
        ev(3, "2024-01-01T01:00:00Z", "impression", user_id=1, creator_id=C, content_id=1000, surface="follow"),
        ev(4, "2024-01-01T01:00:00Z", "impression", user_id=2, creator_id=C, content_id=1000, surface="discover"),
        ev(
            5,
            "2024-01-01T01:01:00Z",
            "view",
            user_id=1,
            creator_id=C,
            content_id=1000,
            watch_ms=30000,
            duration_ms=30000,
        ),
        ev(6, "2024-01-02T10:00:00Z", "live_start", creator_id=C, session_id=500),
        ev(7, "2024-01-02T10:00:00Z", "product_pin", creator_id=C, session_id=500, product_id=7),
        ev(8, "2024-01-02T10:20:00Z", "product_pin", creator_id=C, session_id=500, product_id=8),
        ev(9, "2024-01-02T10:05:00Z", "live_enter", user_id=1, creator_id=C, session_id=500),
        ev(10, "2024-01-02T10:35:00Z", "live_leave", user_id=1, creator_id=C, session_id=500),
        ev(11, "2024-01-02T10:10:00Z", "live_enter", user_id=2, creator_id=C, session_id=500),
        ev(12, "2024-01-02T10:10:30Z", "live_leave", user_id=2, creator_id=C, session_id=500),
        ev(13, "2024-01-02T10:15:00Z", "live_enter", user_id=3, creator_id=C, session_id=500),
        ev(14, "2024-01-02T10:45:00Z", "live_leave", user_id=3, creator_id=C, session_id=500),
        ev(15, "2024-01-02T10:10:00Z", "product_click", user_id=1, creator_id=C, session_id=500, product_id=7),
        ev(16, "2024-01-02T10:25:00Z", "product_click", user_id=3, creator_id=C, session_id=500, product_id=8),
        ev(
            17,
            "2024-01-02T10:12:00Z",
            "order",
            user_id=1,
            creator_id=C,
            session_id=500,
            product_id=7,
            order_id=1,
            amount=100,
            quantity=1,
        ),
        ev(
            18,
            "2024-01-02T10:30:00Z",
            "order",
            user_id=3,
            creator_id=C,
            session_id=500,
            product_id=8,
            order_id=2,
            amount=50,
            quantity=1,
        ),
        ev(19, "2024-01-02T10:20:00Z", "like", user_id=1, creator_id=C, session_id=500),
        ev(20, "2024-01-02T11:00:00Z", "live_end", creator_id=C, session_id=500),
        ev(21, "2024-01-03T12:00:00Z", "refund", user_id=3, creator_id=C, order_id=2, amount=50),
        ev(
            22,
            "2024-01-10T12:00:00Z",
            "order",
            user_id=1,
            creator_id=C,
            product_id=7,
            order_id=3,
            amount=80,
            quantity=1,
        ),
        ev(23, "2024-01-20T12:00:00Z", "publish", creator_id=200, content_id=2000),
    ]
    names = sorted({k for r in rows for k in r})
    return pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})


@pytest.fixture()
def tiny_ws(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "tiny")
    res = ws.append(tiny_log())
    assert res.quarantined == 0
    return ws


def test_live_funnel_known_answer(tiny_ws, duck_con):
    f = live_funnel(tiny_ws.events(duck_con)).to_pyarrow().to_pylist()
    # entered: u1, u2, u3 · watched ≥ 1 min: u1 (30 min), u3 (30 min), not u2 (30 s) · both clicked
    # · both ordered in the room · kept: u1 only (u3's order 2 refunded) · u1 bought again on 01-10.
    assert [(r["stage"], r["visits"]) for r in f] == [
        ("entered", 3),
        ("watched_1min", 2),
        ("clicked", 2),
        ("ordered", 2),
        ("kept", 1),
        ("repurchased", 1),
    ]
    assert [r["conversion"] for r in f] == pytest.approx([1.0, 2 / 3, 1.0, 1.0, 0.5, 1.0])


@pytest.mark.spark
def test_live_funnel_same_on_spark(tiny_ws, duck_con, spark_con):
    a = live_funnel(tiny_ws.events(duck_con)).to_pyarrow().to_pylist()
    b = live_funnel(tiny_ws.events(spark_con)).to_pyarrow().to_pylist()
    assert a == b


def _build(ws: Workspace) -> None:
    from trustecon.trust.build import build

    build(ws)


def test_report_sections_and_reasons(tiny_ws):
    _build(tiny_ws)
    res = build_report(tiny_ws, connect("duckdb"))
    page = res.path.read_text()
    assert {"provenance", "kpis", "trust", "creators", "exposure", "live"} <= set(res.drawn)
    # The tiny log has no two whole months, so repurchase cohorts are left out, with the reason.
    assert res.left_out["repurchase"] == "no pair of whole consecutive months in the log"
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # no CDN, no fetches
    assert page.count("<svg") == len(res.charts) >= 5


def test_report_folds_nested_provenance_away(tiny_ws):
    """A simulator's configuration (a nested mapping) is listed parameter by parameter in a folded
    block, not run together in one cell of the provenance table."""
    tiny_ws.set_config("provenance", {"source": "simulator", "config": {"users": 10, "attacks": {"rings": 0}}})
    page = build_report(tiny_ws, connect("duckdb")).path.read_text()
    main = page.split("<details>")[0]
    assert "<td>simulator</td>" in main and "users" not in main.split("Where the data comes from")[1]
    assert "<details><summary>config (2 parameters)</summary>" in page
    assert "<td>users</td><td>10</td>" in page and "<td>attacks</td><td>rings=0</td>" in page


def test_review_dataset_report_leaves_out_live_and_commerce(tmp_path, shared_data):
    from trustecon.datasets import load

    load("filmtrust", tmp_path / "ft", shared_data)
    ws = Workspace.open(tmp_path / "ft")
    _build(ws)
    res = build_report(ws, connect("duckdb"))
    assert res.left_out["live"] == "no live sessions in the log (no live_enter events)"
    assert res.left_out["repurchase"] == "no orders in the log"
    assert "trust" in res.drawn and "creators" in res.drawn
    _assert_renders_in_chromium(res.path, res.charts)


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium on PATH (scripts/setup.sh installs Debian's chromium as root)")
    return exe


def _assert_renders_in_chromium(path: Path, chart_names: list[str]) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    from PIL import Image, ImageStat

    exe = _chromium()
    blocked: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=exe,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:  # networking disabled: anything else is a failure of "self-contained"
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(path.resolve().as_uri())
        figures = page.locator("figure.chart")
        assert figures.count() == len(chart_names)
        for i in range(figures.count()):
            fig = figures.nth(i)
            name = fig.get_attribute("data-chart")
            box = fig.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 100, f"chart {name} has no size"
            img = Image.open(io.BytesIO(fig.screenshot())).convert("L")
            extrema = img.getextrema()
            # Non-blank: more than one shade, and a real share of non-white pixels (axes, marks).
            dark = sum(1 for px in img.getdata() if px < 200) / (img.width * img.height)
            assert extrema[0] < extrema[1] and dark > 0.01, f"chart {name} rendered blank"
            assert ImageStat.Stat(img).stddev[0] > 5, f"chart {name} rendered blank"
        page.screenshot(path=str(path.with_suffix(".png")), full_page=True)
        browser.close()
    assert blocked == [], f"the report tried to fetch {blocked}"


def test_report_renders_every_chart_in_headless_chromium(tiny_ws):
    _build(tiny_ws)
    res = build_report(tiny_ws, connect("duckdb"))
    _assert_renders_in_chromium(res.path, res.charts)
