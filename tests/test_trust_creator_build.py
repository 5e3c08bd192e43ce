"""``creator_trust`` in ``trustecon build`` and ``trustecon explain --creator``: a hand-computed log,
equality with :meth:`CreatorTrust.transform` on the same events, provenance, and explanations
(known numbers, unknown creators, a workspace built before the table existed)."""

from __future__ import annotations

import json
import math

import ibis
import numpy as np
import pytest
from test_trust_cli import _shop_log
from test_trust_helpers import Log, at
from typer.testing import CliRunner

from trustecon.cli import app
from trustecon.trust.build import build
from trustecon.trust.creator_fit import CREATOR_TRUST_SCHEMA, CreatorTrust
from trustecon.trust.evidence import CHANNELS, EvidenceConfig
from trustecon.trust.explain import explain_built_creator

runner = CliRunner()


def _cli(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _hand_log() -> Log:
    """Half-life 30 days (the default), as of day 30 (the last event), prior Beta(1, 1), W = 2.

    Creator 10: user 1's like on day 0 counts 1/2 (× 1); user 2's follow (× 3) and comment (× 1.5) on
    day 30; user 3 hates (× 3), orders for 135 (intensity 1 + log1p(135)/log1p(135) = 2, × 2) and has
    the order refunded (× 5), all on day 30. P = 0.5 + 3 + 1.5 + 4 = 9, N = 3 + 5 = 8:
    T = (1 + 9) / (2 + 17) = 10/19, confidence 17/19, 3 users. Creator 11: user 1's like on day 30:
    T = 2/3, confidence 1/3, 1 user."""
    log = Log().add("like", at(0), user_id=1, creator_id=10)
    log.add("follow", at(30), user_id=2, creator_id=10).add("comment", at(30), user_id=2, creator_id=10)
    log.add("hate", at(30), user_id=3, creator_id=10)
    log.add("order", at(30), user_id=3, creator_id=10, order_id=500, product_id=9, amount=135.0)
    log.add("refund", at(30), order_id=500, amount=135.0)
    log.add("like", at(30), user_id=1, creator_id=11)
    return log


def test_known_answer(ws) -> None:
    ws.append(_hand_log().table())
    res = build(ws)
    assert res.rows["creator_trust"] == 2
    got = {r["creator_id"]: r for r in ws.read_table("creator_trust").to_pylist()}
    c10, c11 = got[10], got[11]
    assert c10["positive"] == pytest.approx(9.0, abs=1e-12) and c10["negative"] == pytest.approx(8.0, abs=1e-12)
    assert c10["trust"] == pytest.approx(10 / 19, abs=1e-12) and c10["confidence"] == pytest.approx(17 / 19, abs=1e-12)
    assert (c10["alpha"], c10["beta"], c10["users"]) == (pytest.approx(10.0), pytest.approx(9.0), 3)
    assert c10["e_like"] == pytest.approx(0.5, abs=1e-12) and c10["e_order"] == pytest.approx(2.0, abs=1e-12)
    assert c10["e_refund"] == pytest.approx(1.0, abs=1e-12) and c10["e_view"] == 0.0
    assert c11["trust"] == pytest.approx(2 / 3, abs=1e-12) and c11["confidence"] == pytest.approx(1 / 3, abs=1e-12)
    assert c10["as_of"] == at(30) and res.as_of == at(30)
    # Provenance: the model it was built with, read back.
    model = CreatorTrust.from_params(ws.config["trust"]["creator_trust"])
    assert model.weights == CreatorTrust().weights and model.priors == (1.0, 1.0)


def test_explain_known_creator(ws) -> None:
    ws.append(_hand_log().table())
    assert _cli("build", ws.path).exit_code == 0
    res = _cli("explain", ws.path, "--creator", 10, "--json")
    assert res.exit_code == 0, res.output
    ct = json.loads(res.stdout)["creator_trust"]
    assert ct["trust"] == pytest.approx(10 / 19, abs=1e-9) and ct["confidence"] == pytest.approx(17 / 19, abs=1e-9)
    assert ct["users"] == 3 and ct["prior"]["mean"] == 0.5
    # Biggest contributors first: refund 5, order 4, follow 3, hate 3, comment 1.5, like 0.5.
    chans = [(c["channel"], c["contribution"], c["users"]) for c in ct["channels"]]
    assert chans == [("refund", pytest.approx(5.0), 1), ("order", pytest.approx(4.0), 1), ("follow", 3.0, 1),
                     ("hate", 3.0, 1), ("comment", 1.5, 1), ("like", pytest.approx(0.5), 1)]
    assert sum(c["share"] for c in ct["channels"]) == pytest.approx(1.0, abs=1e-8)  # of the mass P + N
    by = {c["channel"]: c for c in ct["channels"]}
    assert by["refund"]["moved_trust"] == pytest.approx(10 / 19 - 10 / 14, abs=1e-9)
    assert by["order"]["moved_trust"] == pytest.approx(10 / 19 - 6 / 15, abs=1e-9)
    assert by["refund"]["sign"] == "-" and by["refund"]["to"] == "beta"
    text = _cli("explain", ws.path, "--creator", 10)
    assert text.exit_code == 0 and "T_c(10) = 0.526 with confidence 0.89" in text.output
    assert "held back by refund, hate" in text.output


def test_explain_unknown_creator_and_old_workspace(ws) -> None:
    ws.append(_hand_log().table())
    _cli("build", ws.path)
    # The CLI refuses an id not in the log (exit 2, one line; tests/test_trust_cli.py); the library
    # function still answers with the priors for a caller that asks anyway.
    res = _cli("explain", ws.path, "--creator", 999, "--json")
    assert res.exit_code == 2 and "creator 999: not in the event log" in " ".join(res.output.split())
    tables = {n: ws.read_table(n) for n in ("creator_credibility", "trust_ranks", "pair_trust", "creator_trust")}
    out = explain_built_creator(999, tables, CreatorTrust())
    assert out["credibility"] is None and "no credibility" in out["summary"]
    ct = out["creator_trust"]
    assert ct["trust"] == 0.5 and ct["confidence"] == 0.0 and ct["channels"] == []
    assert "no evidence" in ct["summary"] and "prior 0.500" in ct["summary"]
    # A workspace built before creator_trust existed: credibility still explained, and a pointer.
    tables = {n: ws.read_table(n) for n in ("creator_credibility", "trust_ranks", "pair_trust")}
    old = explain_built_creator(10, {**tables, "creator_trust": None}, CreatorTrust())
    assert old["credibility"] is not None and "trustecon build" in old["creator_trust"]["summary"]


def _assert_tables_equal(built, ref, columns, rtol: float = 1e-12) -> None:
    a = built.sort_by("creator_id").select(["creator_id", *columns])
    b = ref.sort_by("creator_id").select(["creator_id", *columns])
    assert a["creator_id"].to_pylist() == b["creator_id"].to_pylist()
    for c in columns:
        x, y = a[c].to_numpy(zero_copy_only=False), b[c].to_numpy(zero_copy_only=False)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-12, err_msg=c)


def _rich_log() -> Log:
    log = _shop_log()
    log.add("view", at(3), user_id=21, creator_id=2, content_id=6, watch_ms=100, duration_ms=1000)
    log.add("live_leave", at(9.02), user_id=20, creator_id=1, session_id=77)
    log.add("complaint", at(6), order_id=2021)
    log.add("order", at(7), user_id=22, creator_id=1, order_id=3022, amount=20.0)  # a repurchase
    for u in (20, 21, 50):
        log.add("hate", at(8), user_id=u, creator_id=3).add("impression", at(8), user_id=u, creator_id=3, content_id=4)
    log.add("gift", at(8.5), user_id=50, creator_id=3, amount=99.0)
    return log


def test_built_table_equals_transform(ws, duck_con) -> None:
    log = _rich_log()
    ws.append(log.table())
    build(ws)
    built = ws.read_table("creator_trust")
    assert built.schema.equals(CREATOR_TRUST_SCHEMA)
    events = ibis.memtable(log.table())
    ref = duck_con.to_pyarrow(CreatorTrust().transform(events))
    _assert_tables_equal(built, ref, ["trust", "confidence", "alpha", "beta", "positive", "negative", "users"])
    sums = duck_con.to_pyarrow(CreatorTrust().sums(events, built["as_of"][0].as_py()))
    _assert_tables_equal(built, sums, [f"e_{c}" for c in CHANNELS])
    assert built.num_rows == 3 and all(0 < t < 1 for t in built["trust"].to_pylist())


def test_other_half_life_reads_the_log_again(ws, duck_con) -> None:
    """A creator model with its own half-life cannot pool pair trust's sums: it scores from the log,
    equal to its transform."""
    log = _rich_log()
    ws.append(log.table())
    model = CreatorTrust(EvidenceConfig(half_life_days=7.0))
    build(ws, creator=model)
    ref = duck_con.to_pyarrow(model.transform(ibis.memtable(log.table())))
    _assert_tables_equal(ws.read_table("creator_trust"), ref, ["trust", "confidence", "positive", "negative", "users"])
    assert ws.config["trust"]["creator_trust"]["half_life_days"] == 7.0


def test_pooling_ignores_row_order(ws) -> None:
    ws.append(_rich_log().table())
    build(ws)
    pt = ws.read_table("pair_trust")
    when = ws.read_table("creator_trust")["as_of"][0].as_py()
    perm = np.random.default_rng(3).permutation(pt.num_rows)
    assert CreatorTrust().score(pt.take(perm), when).equals(CreatorTrust().score(pt, when))


def test_empty_log_gives_an_empty_table(ws) -> None:
    res = build(ws)
    assert res.rows["creator_trust"] == 0
    assert ws.read_table("creator_trust").schema.equals(CREATOR_TRUST_SCHEMA)
    res = _cli("explain", ws.path, "--creator", 1, "--json")
    assert res.exit_code == 2 and "creator 1: not in the event log (the log is empty)" in res.output
    tables = {n: ws.read_table(n) for n in ("creator_credibility", "trust_ranks", "pair_trust", "creator_trust")}
    out = explain_built_creator(1, tables, CreatorTrust())  # the library still answers with the prior
    assert out["creator_trust"]["trust"] == 0.5 and not any(
        isinstance(v, float) and math.isnan(v) for v in out["creator_trust"].values())
