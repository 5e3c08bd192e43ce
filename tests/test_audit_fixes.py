"""Regression tests for the CLI and report findings of the user audit: every bad input gets a
one-line error (no traceback), and the report's tables show the numbers as they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trustecon.cli import app


def _run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(res, *needles: str) -> None:
    """Exit code 2, no exception escaped, and the message names what was wrong."""
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for n in needles:
        assert n in res.output, res.output


@pytest.fixture()
def empty_ws(tmp_path: Path) -> Path:
    from trustecon.store import Workspace

    Workspace.init(tmp_path / "ws")
    return tmp_path / "ws"


# ------------------------------------------------------------------ --engine is checked before any work
@pytest.mark.parametrize("command", [["stats"], ["report"]])
def test_unknown_engine_is_a_one_line_error(empty_ws: Path, command: list[str]) -> None:
    _one_line_error(_run(*command, empty_ws, "--engine", "bogus"), "--engine", "bogus")


def test_demo_unknown_engine_fails_before_creating_the_workspace(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    _one_line_error(_run("demo", target, "--engine", "bogus"), "--engine", "bogus")
    assert not target.exists()


# ------------------------------------------------------------------ empty workspaces
def test_kpis_on_an_empty_workspace_says_so(empty_ws: Path) -> None:
    _one_line_error(_run("kpis", empty_ws, "--json"), "event log is empty")


def test_suggest_on_an_empty_workspace_says_so(empty_ws: Path) -> None:
    _one_line_error(_run("suggest", empty_ws, "--user", "1"), "event log is empty")


# ------------------------------------------------------------------ option ranges
def test_quarantine_negative_limit(empty_ws: Path) -> None:
    _one_line_error(_run("quarantine", empty_ws, "--limit", "-1"), "--limit")


@pytest.mark.parametrize("port", ["-1", "65536", "99999"])
def test_serve_port_out_of_range(empty_ws: Path, port: str) -> None:
    _one_line_error(_run("serve", empty_ws, "--port", port), "--port", port)


@pytest.mark.parametrize("option", ["--min-credibility", "--min-reliability"])
@pytest.mark.parametrize("value", ["2", "-0.5", "nan"])
def test_plan_floors_are_shares(empty_ws: Path, option: str, value: str) -> None:
    _one_line_error(_run("plan", empty_ws, "--brand", "1", "--budget", "100", option, value), option)


def test_simulate_unknown_policy_lists_every_policy(tmp_path: Path) -> None:
    res = _run("simulate", tmp_path / "w", "--preset", "small", "--policy", "foo")
    _one_line_error(res, "foo", "traffic", "algorithm", "trust", "engine")
    assert not (tmp_path / "w").exists()


# ------------------------------------------------------------------ report -o
def test_report_output_into_an_existing_folder(empty_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    res = _run("report", empty_ws, "-o", out, "--json")
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


# ------------------------------------------------------------------ report tables
def test_report_numbers_keep_their_significant_digits() -> None:
    import pandas as pd

    from trustecon.report.sections import table_html

    df = pd.DataFrame({"parameter": ["share_p", "like_p", "big", "flag", "zero"],
                       "value": [0.0015, 0.015, 1234.5, False, 0.0]})
    html = table_html(df)
    assert "<td>0.0015</td>" in html  # not rounded to 0.002
    assert "<td>0.015</td>" in html
    assert "<td>1,234.500</td>" in html
    assert "<td>false</td>" in html  # a flag, not 0
    assert "<td>0.000</td>" in html


def test_report_counts_stay_integers_after_a_join() -> None:
    import pandas as pd

    from trustecon.report.sections import counts_as_int, table_html

    # A left join leaves NaN in count columns, which turns them into floats.
    df = pd.DataFrame({"creator_id": [1, 2], "credibility": [2.5, 1.25], "orders": [9.0, float("nan")]})
    html = table_html(counts_as_int(df, ("orders", "kept")), 4)
    assert "<td>9</td>" in html and "9.0000" not in html
    assert "<td>—</td>" in html
    assert "<td>2.5000</td>" in html


# ------------------------------------------------------------------ kpis: creator income on a simulated log
def _tiny_log(ws_path: Path, tmp_path: Path) -> None:
    lines = ["event_id,ts,kind,user_id,creator_id,amount"]
    lines += [f"f{u},2026-01-01T10:00:00Z,follow,{u},100," for u in range(1, 9)]
    lines += ["g1,2026-01-02T10:00:00Z,gift,1,100,5"]
    csv = tmp_path / "events.csv"
    csv.write_text("\n".join(lines) + "\n")
    assert _run("ingest", ws_path, csv).exit_code == 0


def test_kpis_scale_the_income_threshold_on_a_simulated_log(empty_ws: Path, tmp_path: Path) -> None:
    import json

    from trustecon.store import Workspace

    Workspace.open(empty_ws).set_config("provenance", {"source": "simulator", "config": {"users": 1500}})
    _tiny_log(empty_ws, tmp_path)
    res = _run("kpis", empty_ws, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["min_followers"] == 7  # 1,500 users / 200
    income = out["other"]["creator_income_share"]
    assert income["value"] == 1.0 and "scaled" in income["note"]
    # An explicit threshold wins, and a real log keeps the platforms' 10,000.
    assert json.loads(_run("kpis", empty_ws, "--json", "--min-followers", "20").output)["min_followers"] == 20


def test_kpis_keep_the_real_threshold_on_a_real_log(empty_ws: Path, tmp_path: Path) -> None:
    import json

    _tiny_log(empty_ws, tmp_path)
    out = json.loads(_run("kpis", empty_ws, "--json").output)
    assert out["min_followers"] == 10_000
    assert out["other"]["creator_income_share"]["value"] is None


def test_policy_table_prints_counts_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trustecon.distribution.experiment as experiment

    def fake(*_a, **_k):
        row = {"refund_rate": 0.04348, "creator_income_share": 0.65, "events": 177_405, "seconds": 5.1}
        return {"days": 14, "creator_income_min_followers": 7, "policies": {"traffic": row, "trust": row}}

    monkeypatch.setattr(experiment, "policy_experiment", fake)
    res = CliRunner().invoke(app, ["experiment", "policies", str(tmp_path / "p"), "--preset", "small"],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "177,405" in res.output and "e+05" not in res.output
    assert "0.04348" in res.output
    assert ">= 7 followers" in res.output


# ------------------------------------------------------------------ ingest
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_ingest_reads_a_csv_with_a_byte_order_mark(ws, tmp_path: Path, suffix: str) -> None:
    import gzip

    from trustecon.ingest import ingest_files

    text = "\ufeffevent_id,ts,kind,user_id,creator_id,content_id\r\nb1,2026-03-04T10:00:00Z,like,1,100,5000\r\n"
    path = tmp_path / f"excel{suffix}"
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    rep = ingest_files(ws, [path])
    assert rep.errors == {} and rep.total.added == 1, rep.as_dict()


def test_ingest_reads_json_lines_with_a_byte_order_mark(ws, tmp_path: Path) -> None:
    from trustecon.ingest import ingest_files

    path = tmp_path / "events.jsonl"
    line = '{"event_id": "j1", "ts": "2026-03-04T10:00:00Z", "kind": "like", "user_id": 1, "creator_id": 100}\n'
    path.write_bytes(("\ufeff" + line).encode("utf-8"))
    rep = ingest_files(ws, [path])
    assert rep.total.added == 1 and rep.total.quarantined == 0, rep.as_dict()


def test_market_experiment_says_when_trust_routing_chose_nobody(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import trustecon.marketing.experiment as experiment

    keys = ["spend", "orders", "kept_orders", "cpa", "surplus", "brand_kept_orders", "platform_revenue",
            "creator_fees", "watch_min_per_user_day", "fan_reach", "refund_rate", "complaint_rate",
            "latent_trust_mean"]
    run = {k: 0.0 for k in keys} | {"per_campaign": [], "per_campaign_creator": []}
    inc = {"incremental_kept_orders": 0.0, "incremental_cpa": None, "incremental_surplus": 0.0}

    def fake(*_a, **_k):
        plans = [{"campaign_id": 9001, "creators": 0, "cost": 0.0, "expected_kept": 0.0, "low": 0.0, "high": 0.0,
                  "interval": 0.9}]
        return {"campaigns": [{"campaign_id": 9001}], "start_day": 12, "campaign_days": 2, "assumptions": [],
                "runs": {"none": run, "trust_routing": run, "auction": run},
                "compare": {"trust_routing": inc, "auction": inc}, "trust_routing_plans": plans,
                "trust_routing_creators": []}

    monkeypatch.setattr(experiment, "market_experiment", fake)
    res = CliRunner().invoke(app, ["experiment", "market", str(tmp_path / "m"), "--preset", "small"],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "1 of 1 campaigns' plans chose no creator" in res.output


def test_plan_says_why_nothing_was_chosen(empty_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trustecon.marketing.planner as planner

    def fake(ws, campaign, **_k):
        return planner.Plan(campaign=campaign, chosen=[], excluded=[], candidates=37, expected_kept=0.0,
                            expected_orders=0.0, cost=0.0, low=0.0, high=0.0, interval=0.9, method="greedy")

    monkeypatch.setattr(planner, "plan_workspace", fake)
    res = CliRunner().invoke(app, ["plan", str(empty_ws), "--brand", "8", "--budget", "10"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "37 eligible creators' fees exceed the budget" in res.output


def test_serve_without_keys_says_how_to_make_one(empty_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[int] = []
    # serve binds the socket itself and hands it to uvicorn: record the port instead of serving.
    monkeypatch.setattr(uvicorn.Server, "run", lambda _self, sockets=None: served.append(sockets[0].getsockname()[1]))
    res = CliRunner().invoke(app, ["serve", str(empty_ws), "--port", "0"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    assert "no API keys" in res.output and "trustecon keys add" in res.output
    assert served and served[0] > 0 and f"127.0.0.1:{served[0]} " in res.output  # --port 0: the chosen port
    assert _run("keys", "add", empty_ws, "--role", "admin").exit_code == 0
    res = CliRunner().invoke(app, ["serve", str(empty_ws), "--port", "0"], env={"COLUMNS": "300"})
    assert "no API keys" not in res.output


def test_quarantine_lists_rows_in_file_order(empty_ws: Path, tmp_path: Path) -> None:
    import json

    lines = ["event_id,ts,kind,user_id,creator_id", "a1,2026-01-01T00:00:00Z,like,1,100",
             "a2,not-a-time,like,1,100",  # line 3: invalid
             "a3,2026-01-01T00:00:00Z,like,1",  # line 4: malformed (4 fields)
             "a1,2026-01-01T00:00:00Z,like,2,100",  # line 5: conflict with line 2
             "a5,2026-01-01T00:00:00Z,teleport,1,100"]  # line 6: invalid
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "a.csv").write_text("event_id,ts,kind\nz1,bad,like\n")
    _run("ingest", empty_ws, tmp_path / "b.csv")
    _run("ingest", empty_ws, tmp_path / "a.csv")
    out = json.loads(_run("quarantine", empty_ws, "--json").output)
    assert [(r["file"][-5:], r["row"]) for r in out["rows"]] == [
        ("b.csv", 3), ("b.csv", 4), ("b.csv", 5), ("b.csv", 6), ("a.csv", 2)
    ]


def test_json_output_writes_instants_as_iso_8601(capsys) -> None:
    """``--json`` prints instants as ISO 8601 with a ``T`` (what JSON readers parse), not Python's
    ``str`` (``2026-01-01 17:36:01+00:00``); other non-JSON values still as their string."""
    import datetime as dt
    import json
    from pathlib import PurePosixPath

    from trustecon.cli._app import print_json

    print_json({"t": dt.datetime(2026, 1, 1, 17, 36, 1, tzinfo=dt.UTC), "d": dt.date(2026, 1, 2),
                "p": PurePosixPath("/a/b")})
    out = json.loads(capsys.readouterr().out)
    assert out == {"t": "2026-01-01T17:36:01+00:00", "d": "2026-01-02", "p": "/a/b"}


def test_market_experiment_that_does_not_fit_says_how_many_days(tmp_path: Path) -> None:
    """The small preset's 14 days cannot hold half a log of history, a campaign and 10 outcome days:
    the error names the days needed (22 with the defaults, 2 × (1 + 10)) and the options, and no
    folder is left behind; with --campaign-days the need follows it."""
    res = _run("experiment", "market", tmp_path / "mk", "--preset", "small")
    _one_line_error(res, "does not fit in 14 days", "--days 22", "--campaign-days")
    assert not (tmp_path / "mk").exists()
    res = _run("experiment", "market", tmp_path / "mk", "--preset", "small", "--campaign-days", "5")
    _one_line_error(res, "--days 30")
    res = _run("experiment", "market", tmp_path / "mk", "--preset", "small", "--start-day", "5")
    _one_line_error(res, "--days 16")


def test_serve_on_a_port_in_use_is_a_one_line_error(empty_ws: Path) -> None:
    """The port is bound before ``serve`` says where it serves: one in use is an error naming it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        res = _run("serve", empty_ws, "--port", port)
    _one_line_error(res, "cannot listen", port)
    assert "serving" not in res.output
