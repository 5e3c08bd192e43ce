"""Dataset adapters: counts per kind equal docs/datasets.md, reloads change nothing, id maps read back,
and known source lines map to the exact events worked out by hand.

Each dataset loads once per module (module-scoped workspaces); the tests skip with a reason where
``../shared/data`` is absent (the ``shared_data`` fixture).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from trustecon.datasets import default_data_dir, load
from trustecon.datasets.expected import EXPECTED, NOT_KINDS, doc_counts
from trustecon.store import Workspace, WorkspaceError

DOC = Path(__file__).resolve().parents[1] / "docs" / "datasets.md"
NAMES = {"kuairand": "kuairand", "filmtrust": "filmtrust", "ciao": "ciao", "online_retail": "online-retail"}


@pytest.fixture(scope="module")
def loaded(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """Each dataset loaded once into its own workspace: {name: (workspace path, LoadResult)}."""
    cache: dict[str, tuple[Path, object]] = {}

    def get(name: str):
        if name not in cache:
            path = tmp_path_factory.mktemp(name) / "ws"
            cache[name] = (path, load(NAMES[name], path, shared_data))
        return cache[name]

    return get


def _events(path: Path) -> pa.Table:
    return Workspace.open(path).events_arrow()


def _row(events: pa.Table, event_id: str) -> dict:
    hit = events.filter(pc.equal(events["event_id"], event_id)).to_pylist()
    assert len(hit) == 1, f"{event_id}: {len(hit)} events"
    return {k: v for k, v in hit[0].items() if v is not None and k != "day"}


def test_doc_shows_the_expected_counts() -> None:
    """docs/datasets.md's count tables are EXPECTED (no copy that could drift)."""
    want = {d: {k: c.value for k, c in kinds.items()} for d, kinds in EXPECTED.items()}
    assert doc_counts(DOC) == want


def test_derivations_add_up_and_name_their_sources() -> None:
    for kinds in EXPECTED.values():
        for c in kinds.values():
            assert c.value == sum(n for _, n in c.terms) and c.value >= 0
            assert all(any(w in label for w in ("MANIFEST", "measured", "above")) for label, _ in c.terms)


@pytest.mark.parametrize("name", list(NAMES))
def test_counts_per_kind_equal_the_doc(loaded, name: str) -> None:
    path, result = loaded(name)
    want = {k: c.value for k, c in EXPECTED[name].items() if k not in NOT_KINDS}
    assert dict(result.by_kind) == want
    assert result.quarantined == EXPECTED[name]["quarantined"].value
    assert result.duplicates == EXPECTED[name]["duplicates"].value
    # What the store holds (read back through the store) is what the load reported.
    stored = pc.value_counts(_events(path)["kind"]).to_pylist()
    assert {d["values"]: d["counts"] for d in stored} == want
    assert Workspace.open(path).quarantine_arrow().num_rows == EXPECTED[name]["quarantined"].value


# Ciao is left out only for time: its reload takes the same path as FilmTrust's (conflicts) and Online
# Retail's (adapter-level quarantine).
@pytest.mark.parametrize("name", ["kuairand", "filmtrust", "online_retail"])
def test_loading_twice_changes_nothing(loaded, shared_data: Path, name: str) -> None:
    path, first = loaded(name)
    ws = Workspace.open(path)
    before = (ws.event_count(), ws.quarantine_arrow().num_rows, ws.read_table("id_map").num_rows, dict(ws.config))
    again = load(NAMES[name], path, shared_data)
    ws = Workspace.open(path)
    assert (again.added, again.quarantined) == (0, 0)
    assert again.read == first.read
    after = (ws.event_count(), ws.quarantine_arrow().num_rows, ws.read_table("id_map").num_rows, dict(ws.config))
    assert after == before


def test_workspace_settings_and_provenance(loaded) -> None:
    want = {
        "kuairand": ("Asia/Shanghai", "CNY"),
        "filmtrust": ("UTC", "USD"),
        "ciao": ("UTC", "GBP"),
        "online_retail": ("Europe/London", "GBP"),
    }
    for name, (tz, cur) in want.items():
        ws = Workspace.open(loaded(name)[0])
        assert (ws.timezone, ws.currency) == (tz, cur)
        prov = ws.config["provenance"]
        assert (prov["source"], prov["dataset"]) == ("dataset", name)
        assert all(len(f["sha256_16"]) == 16 for f in prov["files"].values())


def test_a_second_dataset_is_refused(loaded, shared_data: Path) -> None:
    path, _ = loaded("filmtrust")
    with pytest.raises(WorkspaceError, match="already holds dataset 'filmtrust'"):
        load("ciao", path, shared_data)


def test_kuairand_first_line_by_hand(loaded) -> None:
    """log t0 line 1: 712,5239,20220425,0,1650812741436,is_click=1,…,play 61802,duration 49866,…,tab 1;
    video 5239's author is 8079479 (video_features_basic_pure.csv)."""
    path, _ = loaded("kuairand")
    ev = _events(path)
    ts = datetime(2022, 4, 24, 15, 5, 41, 436000, tzinfo=UTC)  # 1650812741436 ms
    base = {"ts": ts, "user_id": 712, "creator_id": 1_000_000_000 + 8079479, "content_id": 5239, "surface": "discover"}
    key = "kuairand:712:5239:1650812741436"
    assert _row(ev, f"{key}:impression") == {"event_id": f"{key}:impression", "kind": "impression", **base}
    assert _row(ev, f"{key}:view") == {
        "event_id": f"{key}:view", "kind": "view", **base, "watch_ms": 61802, "duration_ms": 49866,
    }
    assert pc.sum(pc.starts_with(ev["event_id"], key)).as_py() == 2  # no like, follow, … on this row
    # Stored in its day in Asia/Shanghai: 15:05 UTC is 23:05 on 2022-04-24 there (the row's own date
    # column says 20220425: the logger's hour bucket; time_ms is what the adapter uses).
    files = [f for f in Workspace.open(path).event_files() if "day=2022-04-24" in f]
    assert any(key + ":view" in pq.read_table(f, columns=["event_id"])["event_id"].to_pylist() for f in files)
    # The 4 quarantined rows are view conflicts (a key repeated with another play_time_ms), named by file row.
    q = Workspace.open(path).quarantine_arrow().to_pylist()
    assert len(q) == 4 and all(json.loads(r["raw"])["event_id"].endswith(":view") for r in q)
    assert all(r["file"].startswith("kuairand-pure/log_standard_") and r["row"] > 1 for r in q)
    pub = _row(ev, "kuairand:publish:5239")
    assert pub["ts"] == datetime(2022, 4, 10, 16, 0, tzinfo=UTC)  # 2022-04-11 00:00 Asia/Shanghai
    assert (pub["creator_id"], pub["content_id"], pub["duration_ms"]) == (1_000_000_000 + 8079479, 5239, 49866)


def test_kuairand_id_map_reads_back(loaded) -> None:
    path, _ = loaded("kuairand")
    ws = Workspace.open(path)
    ids = ws.read_table("id_map")
    creators = ids.filter(pc.equal(ids["entity"], "creator"))
    back = dict(zip(creators["id"].to_pylist(), creators["source_id"].to_pylist(), strict=True))
    assert back[1_000_000_000 + 8079479] == "8079479"
    ev = ws.events_arrow()
    assert set(pc.unique(ev["creator_id"]).to_pylist()) <= set(back)
    users = ids.filter(pc.equal(ids["entity"], "user"))
    assert set(pc.unique(ev["user_id"].drop_null()).to_pylist()) <= set(users["id"].to_pylist())
    assert len(users) == 21184 + 22709 - 18737  # users of t0 + t1 - in both (MANIFEST)


def test_filmtrust_lines_by_hand(loaded) -> None:
    path, _ = loaded("filmtrust")
    ev = _events(path)
    # ratings_0.txt line 1 "1050 215 3"; trust.txt line 1 "2 966 1".
    assert _row(ev, "filmtrust:rate:1050:215") == {
        "event_id": "filmtrust:rate:1050:215", "ts": datetime(2011, 1, 2, tzinfo=UTC), "kind": "rate",
        "user_id": 1050, "content_id": 215, "value": 3.0,
    }
    assert _row(ev, "filmtrust:follow:2:966") == {
        "event_id": "filmtrust:follow:2:966", "ts": datetime(2011, 1, 1, tzinfo=UTC), "kind": "follow",
        "user_id": 2, "creator_id": 966,
    }
    # User 308 rated item 207 twice (3.5 then 3.0): the first stands, the second is quarantined as a conflict.
    assert _row(ev, "filmtrust:rate:308:207")["value"] == 3.5
    q = Workspace.open(path).quarantine_arrow().to_pylist()
    assert {(r["file"], r["row"]) for r in q} == {("filmtrust/ratings_2.txt", 7249), ("filmtrust/ratings_2.txt", 7280)}
    assert all("conflict" in r["reason"] for r in q)


def test_ciao_lines_by_hand(loaded) -> None:
    path, _ = loaded("ciao")
    ws = Workspace.open(path)
    ev = ws.events_arrow()
    # ratings.csv line 1: 6119,92579,24,5,4,959670000 (2000-05-30 07:00 UTC).
    eid = "ciao:rate:6119:92579:959670000"
    assert _row(ev, eid) == {
        "event_id": eid, "ts": datetime(2000, 5, 30, 7, tzinfo=UTC), "kind": "rate",
        "user_id": 6119, "content_id": 92579, "value": 5.0,
    }
    meta = ws.read_table("ciao_rating_meta")
    m = meta.filter(pc.equal(meta["event_id"], eid)).to_pylist()
    assert m == [{"event_id": eid, "user_id": 6119, "product_id": 92579, "category_id": 24, "helpfulness": 4}]
    assert meta.num_rows == EXPECTED["ciao"]["rate"].value
    # trust.csv line 1: "1,2" — trust ids are kept apart from rating ids by the documented offset.
    assert _row(ev, "ciao:follow:1:2") == {
        "event_id": "ciao:follow:1:2", "ts": datetime(2000, 1, 1, tzinfo=UTC), "kind": "follow",
        "user_id": 1_000_000_001, "creator_id": 1_000_000_002,
    }
    ids = ws.read_table("id_map")
    two = ids.filter(pc.equal(ids["source_id"], "2")).select(["entity", "id"]).to_pylist()
    assert sorted(two, key=str) == sorted(
        [{"entity": "trust_user", "id": 1_000_000_002}, {"entity": "user", "id": 2}, {"entity": "content", "id": 2}],
        key=str,
    )
    q = ws.quarantine_arrow()
    zero = q.filter(pc.equal(q["field"], "rating"))
    assert zero.num_rows == 34 and all(json.loads(r)["rating"] == 0 for r in zero["raw"].to_pylist())


def test_online_retail_lines_by_hand(loaded) -> None:
    path, _ = loaded("online_retail")
    ws = Workspace.open(path)
    ev = ws.events_arrow()
    ids = ws.read_table("id_map")
    prod = {
        r["source_id"]: r["id"] for r in ids.filter(pc.equal(ids["entity"], "product")).to_pylist()
    }
    # Line 1: 536365,85123A,…,6.0,2010-12-01 08:26:00,2.55,17850.0 — GMT in December, so 08:26 UTC.
    eid = "online_retail:order:536365:85123A:6:2.55:2010-12-01T08:26:00"
    assert _row(ev, eid) == {
        "event_id": eid, "ts": datetime(2010, 12, 1, 8, 26, tzinfo=UTC), "kind": "order", "user_id": 17850,
        "creator_id": 1_000_000_000, "product_id": prod["85123A"], "order_id": 536365, "amount": 15.3,
        "quantity": 6,
    }
    # 558644,C2,CARRIAGE,1.0,2011-07-01 10:16:00,50.0,14156.0 — BST in July, so 09:16 UTC.
    assert _row(ev, "online_retail:order:558644:C2:1:50.0:2011-07-01T10:16:00")["ts"] == datetime(
        2011, 7, 1, 9, 16, tzinfo=UTC
    )
    # C536379,D,Discount,-1.0,2010-12-01 09:41:00,27.5,14527.0: no earlier sale of D to 14527, so
    # the refund carries the cancellation's own id.
    r = _row(ev, "online_retail:refund:C536379:D:-1:27.5:2010-12-01T09:41:00")
    assert (r["amount"], r["quantity"], r["order_id"], r["product_id"]) == (27.5, 1, 1_000_536_379, prod["D"])
    # Every matched refund points at a sale of the same customer and product at or before it.
    con = duckdb.connect()
    con.register("e", ev.drop_columns([c for c in ev.column_names if c == "day"]))
    matched, unsupported, bad_amounts = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
                  SELECT 1 FROM e o WHERE o.kind = 'order' AND o.order_id = r.order_id
                  AND o.user_id = r.user_id AND o.product_id = r.product_id AND o.ts <= r.ts)),
                  (SELECT count(*) FROM e WHERE kind = 'refund' AND NOT (amount >= 0 AND quantity > 0))
           FROM e r WHERE r.kind = 'refund' AND r.order_id < 1000000000"""
    ).fetchone()
    assert (matched, unsupported, bad_amounts) == (7569, 0, 0)
    back = {r["id"]: r["source_id"] for r in ids.filter(pc.equal(ids["entity"], "order")).to_pylist()}
    assert back[536365] == "536365" and back[1_000_536_379] == "C536379"


def test_cli_load_json(shared_data: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trustecon.cli import app

    out = CliRunner().invoke(app, ["load", "filmtrust", str(tmp_path / "ws"), "--data", str(shared_data), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["by_kind"] == {"follow": 1853, "rate": 35494}
    assert (summary["added"], summary["duplicates"], summary["quarantined"]) == (37347, 1, 2)
    assert sum(summary["source_rows"].values()) == 35497 + 1853


def test_cli_load_missing_data_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trustecon.cli import app

    out = CliRunner().invoke(app, ["load", "ciao", str(tmp_path / "ws"), "--data", str(tmp_path / "nope")])
    assert out.exit_code == 2 and "no such folder" in " ".join(out.output.split())


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRUSTECON_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("TRUSTECON_DATA")
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path.parent / "shared" / "data"


def test_online_retail_rules_on_a_hand_made_file(tmp_path: Path) -> None:
    """Refund matching, quarantine rules and BST on six lines worked out by hand (no shared data needed)."""
    import gzip

    from trustecon.datasets.online_retail import load_online_retail

    lines = [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        "500001,A1,x,2.0,2011-01-10 10:00:00,1.5,100.0,UK",  # row 1: sale, customer 100
        "500002,A1,x,1.0,2011-06-10 10:00:00,1.5,100.0,UK",  # row 2: later sale (BST: 09:00 UTC)
        "C500003,A1,x,-1.0,2011-06-11 10:00:00,1.5,100.0,UK",  # row 3: refund → latest earlier sale 500002
        "C500004,B2,y,-3.0,2011-06-11 10:00:00,2.0,100.0,UK",  # row 4: no sale of B2 → own id
        "500005,A1,x,1.0,2011-06-12 10:00:00,1.5,,UK",  # row 5: no customer → quarantined
        "500001,A1,x,2.0,2011-01-10 10:00:00,1.5,100.0,UK",  # row 6: exact duplicate of row 1
    ]
    data = tmp_path / "data" / "uci-online-retail"
    data.mkdir(parents=True)
    with gzip.open(data / "online_retail.csv.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    ws = Workspace.init(tmp_path / "ws", timezone="Europe/London", currency="GBP")
    res = load_online_retail(ws, tmp_path / "data")
    assert (dict(res.by_kind), res.duplicates, res.quarantined) == ({"order": 2, "refund": 2}, 1, 1)
    ev = {r["event_id"]: r for r in ws.events_arrow().to_pylist()}
    r3 = ev["online_retail:refund:C500003:A1:-1:1.5:2011-06-11T10:00:00"]
    assert (r3["order_id"], r3["amount"], r3["quantity"]) == (500002, 1.5, 1)
    assert r3["ts"] == datetime(2011, 6, 11, 9, tzinfo=UTC)
    r4 = ev["online_retail:refund:C500004:B2:-3:2.0:2011-06-11T10:00:00"]
    assert (r4["order_id"], r4["amount"], r4["quantity"]) == (1_000_500_004, 6.0, 3)
    assert ev["online_retail:order:500001:A1:2:1.5:2011-01-10T10:00:00"]["ts"] == datetime(2011, 1, 10, 10, tzinfo=UTC)
    q = ws.quarantine_arrow().to_pylist()
    assert [(x["row"], x["field"]) for x in q] == [(5, "CustomerID")]
    products = {r["source_id"]: r["id"] for r in ws.read_table("id_map").to_pylist() if r["entity"] == "product"}
    assert products == {"A1": 1, "B2": 2}


def test_missing_files_leave_no_workspace(tmp_path: Path) -> None:
    (tmp_path / "data" / "filmtrust").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="ratings_0.txt: missing"):
        load("filmtrust", tmp_path / "ws", tmp_path / "data")
    assert not (tmp_path / "ws").exists()
    with pytest.raises(ValueError, match="unknown dataset"):
        load("movielens", tmp_path / "ws", tmp_path / "data")


def test_filmtrust_malformed_lines_are_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    """Mixed line endings parse; bad lines name their line number and reason; blank lines are skipped."""
    from trustecon.datasets.filmtrust import FILES, load_filmtrust

    data = tmp_path / "data"
    (data / "filmtrust").mkdir(parents=True)
    for rel in FILES.values():
        (data / rel).write_text("")
    (data / FILES["ratings_0"]).write_text("1 10 3.5\r\n2 10 x\n")
    (data / FILES["trust"]).write_text("1 2 1\n\n3 4 2\n5 6\n")
    ws = Workspace.init(tmp_path / "ws")
    res = load_filmtrust(ws, data)
    assert dict(res.by_kind) == {"rate": 1, "follow": 1}
    q = {(r["file"], r["row"]): (r["field"], r["raw"]) for r in ws.quarantine_arrow().to_pylist()}
    assert q == {
        ("filmtrust/ratings_0.txt", 2): ("line", "2 10 x"),
        ("filmtrust/trust.txt", 3): ("value", "3 4 2"),
        ("filmtrust/trust.txt", 4): ("line", "5 6"),
    }
