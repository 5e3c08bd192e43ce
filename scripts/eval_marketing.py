"""Backtest of the campaign planner (DESIGN.md §8) on the simulator: do its per-creator forecasts of a
brand's orders, and the creators it chooses, hold up in the next month?

    python scripts/eval_marketing.py [--seed 51] [--root /tmp/eval_marketing] [--out result.json]

Protocol (fixed before the first run, session 5; seed 51 was never simulated before):
- World: the simulator's default preset (5,000 users, 300 creators, 62 days from 2026-01-01), seed 51.
  The log has no campaigns, so the outcome is organic: what the planner forecasts is exactly "the
  creator sells the brand the way its trusting audience already buys it" (its stated assumption).
- Split: the training window is January (events up to 2026-01-31 23:59:59 UTC); trust is built as of
  that instant (``build(as_of=...)``) and the planner is fitted on the January events only; the test
  window is February (28 days; the log's last three days, in March, are not used).
- Units: every brand with at least 20 orders in January and 20 in February; for each, every creator
  the planner scores (a pair-trust row in January), with floors at 0 so none is excluded for them.
- Forecast: the planner's ``expected_orders`` for a 28-day campaign of the brand (all its products).
  Outcome: the brand's distinct orders sold through that creator in February.
- Baselines, same units: (a) *history*: the creator's January orders of the brand, scaled to 28 days;
  (b) *audience*: the creator's trusted audience ``H_c = Σ_u T(u,c)`` times the brand's platform share
  (reach without the brand fit or the creator's conversion).
- Metrics: per brand, Spearman ρ across creators (forecast vs outcome); the mean over brands with a
  95 % bootstrap interval over brands, and the paired difference planner − baseline. Calibration:
  Σ forecast / Σ outcome over all units. Choice: for each brand, at a budget of 10 % of the sum of all
  candidates' fees, the February kept orders of the planner's chosen creators vs those chosen by the
  same greedy on the history baseline (same fees, same budget), summed over brands.
Run once on seed 51 and reported whatever the outcome (docs/evaluation/marketing.md).

Round 2 (fixed before its run, after seed 51 showed the planner's platform-wide conversion ranking
creators far below their own brand history): the planner got ``conversion="brand"`` (a creator's own
history with the brand, Gamma–Poisson; now the default) beside the old ``"creator"``. Both are run
once on the fresh seed **52** with everything else as above (`--seed 52`); the verdict on the new
default is its mean ρ and its choice value against the history baseline on seed 52.

Round 3 (fixed before its run, after seed 52 showed the brand conversion choosing as well as history
but ranking all creators far below it, because it gives non-carriers a positive rate): the planner got
``conversion="carrier"`` (zero-inflated Gamma–Poisson by EM: P(carrier) × rate), made the default
before this run. All three models are run once on the fresh seed **53** (`--seed 53`). Rule declared
now: ``carrier`` stays the default unless ``brand`` keeps more kept orders in the choice metric on
seed 53, in which case the default goes back to ``brand``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from trust_evalkit import boot, rho, simulate_into  # noqa: E402

from trustecon.engine import connect  # noqa: E402
from trustecon.marketing.planner import REQUIRED_TABLES, Campaign, CampaignPlanner, choose  # noqa: E402
from trustecon.trust.build import build  # noqa: E402

SPLIT = dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.UTC)
TEST_END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
TEST_DAYS = 28.0
MIN_ORDERS = 20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=51)
    ap.add_argument("--root", default="/tmp/eval_marketing")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    root = Path(a.root)
    ws = simulate_into(root / f"s{a.seed}", "default", a.seed)
    build(ws, con=connect("duckdb"), as_of=SPLIT)
    ev = ws.events_arrow().to_pandas()
    ev["ts"] = pd.to_datetime(ev["ts"], utc=True)
    train = ev[ev["ts"] <= pd.Timestamp(SPLIT)]
    test = ev[(ev["ts"] > pd.Timestamp(SPLIT)) & (ev["ts"] < pd.Timestamp(TEST_END))]
    tables = [ws.read_table(t) for t in REQUIRED_TABLES]
    out = {"seed": a.seed, "split": SPLIT.isoformat()}
    for conversion in ("carrier", "brand", "creator"):
        planner = CampaignPlanner(conversion=conversion, min_credibility=0.0, min_reliability=0.0).fit(train, *tables)
        out[conversion] = evaluate(planner, train, test)
    text = json.dumps(out, indent=1, default=float)
    print(text)
    if a.out:
        Path(a.out).write_text(text)


def evaluate(planner: CampaignPlanner, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """The protocol's numbers for one fitted planner."""

    def orders(frame: pd.DataFrame) -> pd.DataFrame:
        o = frame[(frame["kind"] == "order") & frame["brand_id"].notna() & frame["creator_id"].notna()]
        return o.drop_duplicates("order_id")[["order_id", "brand_id", "creator_id"]].astype("int64")

    o_train, o_test = orders(train), orders(test)
    refunded = set(test.loc[test["kind"] == "refund", "order_id"].dropna().astype("int64"))
    n_train, n_test = o_train.groupby("brand_id").size(), o_test.groupby("brand_id").size()
    brands = sorted(b for b in n_train.index if n_train[b] >= MIN_ORDERS and n_test.get(b, 0) >= MIN_ORDERS)
    cre = planner.creators_
    share_all = n_train / n_train.sum()
    scale = TEST_DAYS / planner.history_days_
    per_brand, units = [], []
    kept_plan = kept_hist = 0
    for b in brands:
        plan = planner.plan(Campaign(brand_id=b, budget=1e15, days=TEST_DAYS))
        rows = pd.DataFrame([r.as_dict() for r in plan.chosen]).set_index("creator_id")
        y = o_test[o_test["brand_id"] == b].groupby("creator_id").size().reindex(rows.index).fillna(0.0)
        hist = o_train[o_train["brand_id"] == b].groupby("creator_id").size().reindex(rows.index).fillna(0.0) * scale
        aud = cre["H"].reindex(rows.index).fillna(0.0) * share_all[b]
        f = rows["expected_orders"]
        per_brand.append({"brand": int(b), "creators": len(rows), "test_orders": int(y.sum()),
                          "rho_planner": rho(f.to_numpy(), y.to_numpy()),
                          "rho_history": rho(hist.to_numpy(), y.to_numpy()),
                          "rho_audience": rho(aud.to_numpy(), y.to_numpy())})
        units.append(pd.DataFrame({"brand": b, "forecast": f, "history": hist, "y": y}))
        # Choice at 10 % of all candidates' fees: planner's value vs the same greedy on history.
        fees = rows["cost"].to_numpy()
        budget = 0.1 * fees.sum()
        kept_y = o_test[(o_test["brand_id"] == b) & ~o_test["order_id"].isin(refunded)].groupby("creator_id").size()
        kept_y = kept_y.reindex(rows.index).fillna(0.0).to_numpy()
        r = rows["reliability"].to_numpy()
        kept_plan += kept_y[choose(rows["expected_kept"].to_numpy(), fees, budget)].sum()
        kept_hist += kept_y[choose(hist.to_numpy() * r, fees, budget)].sum()
    pb = pd.DataFrame(per_brand)
    u = pd.concat(units)
    cols = [pb[c].to_numpy() for c in ("rho_planner", "rho_history", "rho_audience")]
    return {
        "brands": len(brands), "units": len(u),
        "rho_planner": boot(np.nanmean, cols[0]), "rho_history": boot(np.nanmean, cols[1]),
        "rho_audience": boot(np.nanmean, cols[2]),
        "paired_planner_minus_history": boot(np.nanmean, cols[0] - cols[1]),
        "paired_planner_minus_audience": boot(np.nanmean, cols[0] - cols[2]),
        "calibration_forecast_over_outcome": round(float(u["forecast"].sum() / u["y"].sum()), 3),
        "calibration_history_over_outcome": round(float(u["history"].sum() / u["y"].sum()), 3),
        "choice_kept_orders_planner": int(kept_plan), "choice_kept_orders_history": int(kept_hist),
        "per_brand": per_brand,
    }


if __name__ == "__main__":
    main()
