"""The market experiment of DESIGN.md §8 over many seeds: trust routing vs the GSP ad auction, each
against a no-campaign run of the same seed (protocol: docs/evaluation/market.md, committed before
the seeds it names were run).

    python scripts/eval_market.py run --seeds 61-80 --root /tmp/market --jobs 2
    python scripts/eval_market.py summary /tmp/market/seed*.json
    python scripts/eval_market.py coverage /tmp/market/seed*.json   (round 3: the planner's interval)
    python scripts/eval_market.py run --seeds 151-170 --root /tmp/p1 --jobs 2 \
        --mechanisms none,trust_routing --planner '{"pin_holdout": 0.3333333333333333}'
    python scripts/eval_market.py planners /tmp/p0 /tmp/p1            (round 4: two planners, paired)

``run`` calls :func:`trustecon.marketing.market_experiment` (the library function behind
``trustecon experiment market``) once per seed with its defaults on the default preset and writes
``ROOT/seedS.json``; ``summary`` prints the tables of docs/evaluation/market.md: per seed, and the
mean ± s.e. (s.d. / √n) over seeds of each mechanism's numbers and of the paired difference
trust routing − auction.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

RUN_KEYS = [
    ("spend", "spend"),
    ("campaign kept orders", "kept_orders"),
    ("cost per kept order", "cpa"),
    ("brand surplus, attributed", "surplus"),
    ("platform revenue", "platform_revenue"),
    ("creator fees", "creator_fees"),
]
CMP_KEYS = [
    ("incremental kept orders (vs none)", "incremental_kept_orders"),
    ("brand surplus, incremental", "incremental_surplus"),
    ("Δ video min per active user-day", "delta_watch_min_per_user_day"),
    ("Δ fan content reach", "delta_fan_reach"),
    ("Δ refund rate (all orders)", "delta_refund_rate"),
    ("Δ complaint rate (all orders)", "delta_complaint_rate"),
    ("Δ mean latent trust (truth)", "delta_latent_trust_mean"),
]
MECHS = ("trust_routing", "auction")


def _seeds(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def _one(seed: int, root: str, preset: str, mechanisms: tuple[str, ...] | None = None,
         planner: dict[str, Any] | None = None) -> str:
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from trustecon.marketing import market_experiment

    work = Path(root) / f"seed{seed}"
    if work.exists():
        shutil.rmtree(work)
    t = time.perf_counter()
    kw: dict[str, Any] = {"mechanisms": mechanisms} if mechanisms else {}
    res = market_experiment(work, preset, seed=seed, planner_params=planner, **kw)
    res["seconds"] = round(time.perf_counter() - t, 1)
    out = Path(root) / f"seed{seed}.json"
    out.write_text(json.dumps(res, default=str, indent=1))
    shutil.rmtree(work)  # the workspaces are ~100 MB a seed; the JSON holds every number reported
    return str(out)


def run(args: argparse.Namespace) -> None:
    seeds = _seeds(args.seeds)
    Path(args.root).mkdir(parents=True, exist_ok=True)
    mechs = tuple(args.mechanisms.split(",")) if args.mechanisms else None
    planner = json.loads(args.planner) if args.planner else None
    n = len(seeds)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for path in pool.map(_one, seeds, [args.root] * n, [args.preset] * n, [mechs] * n, [planner] * n):
            print(path, flush=True)


def _ms(values: list[Any]) -> str:
    """Mean ± s.e. (s.d. / √n) of the values that exist; "(n=k)" when some are missing (e.g. no CPA)."""
    xs = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return "—"
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else float("nan")
    return f"{m:,.4g} ± {sd / math.sqrt(n):,.2g}" + (f" (n={n})" if n != len(values) else "")


def summary(args: argparse.Namespace) -> None:
    res = [json.loads(Path(p).read_text()) for p in args.files]
    res.sort(key=lambda r: r["seed"])
    seeds = [r["seed"] for r in res]
    print(f"seeds {seeds[0]}–{seeds[-1]} (n = {len(res)}), preset {res[0]['preset']}, campaign days "
          f"{res[0]['start_day']}–{res[0]['start_day'] + res[0]['campaign_days'] - 1}, "
          f"{len(res[0]['campaigns'])} campaigns on seed {seeds[0]}\n")
    print("| metric | trust routing | auction | trust routing − auction (seeds where higher) |")
    print("|---|---|---|---|")
    for label, key in RUN_KEYS:
        a = [r["runs"]["trust_routing"][key] for r in res]
        b = [r["runs"]["auction"][key] for r in res]
        d = [x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None]
        print(f"| {label} | {_ms(a)} | {_ms(b)} | {_ms(d)} ({sum(x > 0 for x in d)}/{len(d)}) |")
    for label, key in CMP_KEYS:
        a = [r["compare"]["trust_routing"][key] for r in res]
        b = [r["compare"]["auction"][key] for r in res]
        d = [x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None]
        print(f"| {label} | {_ms(a)} | {_ms(b)} | {_ms(d)} ({sum(x > 0 for x in d)}/{len(d)}) |")
    budget = [sum(c["budget"] for c in r["campaigns"]) for r in res]
    none = [r["runs"]["none"]["brand_kept_orders"] for r in res]
    print(f"\nbudget (all campaigns) {_ms(budget)}; the campaign brands' kept orders in the window without "
          f"campaigns {_ms(none)}; chosen creators (trust routing) "
          f"{_ms([len(r.get('trust_routing_creators', [])) for r in res])}")
    print("\n| seed | kept orders (TR / auction) | cost per kept order | surplus, attributed | incremental kept "
          "orders | Δ video min per user-day |")
    print("|---:|---|---|---|---|---|")
    for r in res:
        t, a = r["runs"]["trust_routing"], r["runs"]["auction"]
        ct, ca = r["compare"]["trust_routing"], r["compare"]["auction"]

        def f(x: Any, fmt: str = "{:,.0f}") -> str:
            return "—" if x is None else fmt.format(x)

        print(f"| {r['seed']} | {t['kept_orders']} / {a['kept_orders']} | {f(t['cpa'], '{:.1f}')} / "
              f"{f(a['cpa'], '{:.1f}')} | {f(t['surplus'])} / {f(a['surplus'])} | {ct['incremental_kept_orders']} / "
              f"{ca['incremental_kept_orders']} | {ct['delta_watch_min_per_user_day']:+.3f} / "
              f"{ca['delta_watch_min_per_user_day']:+.3f} |")


def coverage(args: argparse.Namespace) -> None:
    """The planner's 90 % interval against what trust routing's sponsorships delivered (round 3)."""
    import numpy as np

    from trustecon.marketing import plan_outcomes

    res = sorted((json.loads(Path(p).read_text()) for p in args.files), key=lambda r: r["seed"])
    per_seed = [(plan_outcomes(r), plan_outcomes(r, by="creator")) for r in res]
    rng = np.random.default_rng(0)
    print(f"seeds {res[0]['seed']}–{res[-1]['seed']} (n = {len(res)}); seed-clustered bootstrap, 1,000 resamples, "
          "default_rng(0)\n")
    print("| unit | n | inside [low, high] | below low | above high | Σ delivered / Σ forecast | "
          "coverage 95 % interval (seed bootstrap) |")
    print("|---|---:|---|---|---|---|---|")
    for label, k in (("campaign (plan total)", 0), ("chosen creator (plan row)", 1)):
        units = [u for seed in per_seed for u in seed[k]]
        n = len(units)
        inside = [u["inside"] for u in units]
        below = sum(u["delivered"] < u["low"] for u in units)
        above = sum(u["delivered"] > u["high"] for u in units)
        ratio = sum(u["delivered"] for u in units) / max(sum(u["expected_kept"] for u in units), 1e-12)
        groups = [[u["inside"] for u in seed[k]] for seed in per_seed]
        boots = []
        for _ in range(1000):
            pick = rng.integers(0, len(groups), len(groups))
            flat = [x for i in pick for x in groups[i]]
            boots.append(sum(flat) / len(flat) if flat else float("nan"))
        lo, hi = np.nanpercentile(boots, [2.5, 97.5])
        print(f"| {label} | {n} | {sum(inside) / n:.3f} | {below / n:.3f} | {above / n:.3f} | {ratio:.2f} | "
              f"[{lo:.3f}, {hi:.3f}] |")
    print("\n| seed | campaigns with a plan | inside | forecast kept | delivered kept |")
    print("|---:|---:|---:|---:|---:|")
    for r, (camps, _) in zip(res, per_seed, strict=True):
        print(f"| {r['seed']} | {len(camps)} | {sum(c['inside'] for c in camps)} | "
              f"{sum(c['expected_kept'] for c in camps):.1f} | {sum(c['delivered'] for c in camps)} |")


def planners(args: argparse.Namespace) -> None:
    """Two planners on the same seeds (round 4): each one's forecast against delivery, interval
    coverage and what the brands got, and the paired differences, with seed-clustered bootstraps."""
    import numpy as np

    from trustecon.marketing import plan_outcomes

    def load(root: str) -> dict[int, dict[str, Any]]:
        return {r["seed"]: r for r in (json.loads(p.read_text()) for p in sorted(Path(root).glob("seed*.json")))}

    a, b = load(args.base), load(args.new)
    seeds = sorted(set(a) & set(b))
    if set(a) != set(b):
        print(f"note: seeds in one root only are left out: {sorted(set(a) ^ set(b))}")

    def per_seed(r: dict[str, Any]) -> dict[str, float]:
        camps = plan_outcomes(r)
        t = r["runs"]["trust_routing"]
        return {"forecast": sum(c["expected_kept"] for c in camps), "delivered": sum(c["delivered"] for c in camps),
                "inside": sum(c["inside"] for c in camps), "plans": len(camps), "kept": t["kept_orders"],
                "spend": t["spend"], "rows": len(r.get("trust_routing_creators", []))}

    A = [per_seed(a[s]) for s in seeds]
    B = [per_seed(b[s]) for s in seeds]
    rng = np.random.default_rng(0)
    picks = [rng.integers(0, len(seeds), len(seeds)) for _ in range(1000)]

    def tot(rows: list[dict[str, float]], idx: Any, key: str) -> float:
        return float(sum(rows[i][key] for i in idx))

    def stats(rows: list[dict[str, float]], idx: Any) -> dict[str, float]:
        f, d, sp = tot(rows, idx, "forecast"), tot(rows, idx, "delivered"), tot(rows, idx, "spend")
        return {"ratio": d / f if f else float("nan"), "bias": abs(math.log(d / f)) if f and d else float("nan"),
                "coverage": tot(rows, idx, "inside") / max(tot(rows, idx, "plans"), 1),
                "kept_per_1000": 1000 * tot(rows, idx, "kept") / sp if sp else float("nan")}

    full = range(len(seeds))
    sa, sb = stats(A, full), stats(B, full)
    boots: dict[str, list[float]] = {k: [] for k in ("bias", "coverage_a", "coverage_b", "kept_per_1000")}
    for idx in picks:
        xa, xb = stats(A, idx), stats(B, idx)
        boots["bias"].append(xa["bias"] - xb["bias"])
        boots["coverage_a"].append(xa["coverage"])
        boots["coverage_b"].append(xb["coverage"])
        boots["kept_per_1000"].append(xb["kept_per_1000"] - xa["kept_per_1000"])

    def ci(k: str) -> str:
        lo, hi = np.nanpercentile(boots[k], [2.5, 97.5])
        return f"[{lo:.3f}, {hi:.3f}]"

    print(f"seeds {seeds[0]}–{seeds[-1]} (n = {len(seeds)}); base = {args.base}, new = {args.new}; "
          "seed-clustered bootstrap, 1,000 resamples, default_rng(0)\n")
    print("| | base | new | new vs base (95 % interval) |")
    print("|---|---|---|---|")
    print(f"| campaigns with a plan | {tot(A, full, 'plans'):.0f} | {tot(B, full, 'plans'):.0f} | |")
    print(f"| chosen creators | {tot(A, full, 'rows'):.0f} | {tot(B, full, 'rows'):.0f} | |")
    print(f"| Σ forecast kept | {tot(A, full, 'forecast'):.1f} | {tot(B, full, 'forecast'):.1f} | |")
    print(f"| Σ delivered kept | {tot(A, full, 'delivered'):.0f} | {tot(B, full, 'delivered'):.0f} | |")
    print(f"| Σ delivered / Σ forecast | {sa['ratio']:.3f} | {sb['ratio']:.3f} | |")
    print(f"| bias \\|log(delivered / forecast)\\| | {sa['bias']:.3f} | {sb['bias']:.3f} | "
          f"base − new {sa['bias'] - sb['bias']:+.3f} {ci('bias')} |")
    print(f"| 90 % interval coverage (campaigns) | {sa['coverage']:.3f} {ci('coverage_a')} | "
          f"{sb['coverage']:.3f} {ci('coverage_b')} | |")
    print(f"| kept orders per 1,000 spend | {sa['kept_per_1000']:.2f} | {sb['kept_per_1000']:.2f} | "
          f"new − base {sb['kept_per_1000'] - sa['kept_per_1000']:+.2f} {ci('kept_per_1000')} |")
    print(f"| campaign kept orders (all seeds) | {tot(A, full, 'kept'):.0f} | {tot(B, full, 'kept'):.0f} | |")
    print(f"| spend (all seeds) | {tot(A, full, 'spend'):,.0f} | {tot(B, full, 'spend'):,.0f} | |")
    print("\n| seed | forecast / delivered (base) | forecast / delivered (new) | kept, spend (base) | "
          "kept, spend (new) |")
    print("|---:|---|---|---|---|")
    for s_, x, y in zip(seeds, A, B, strict=True):
        print(f"| {s_} | {x['forecast']:.1f} / {x['delivered']:.0f} | {y['forecast']:.1f} / {y['delivered']:.0f} | "
              f"{x['kept']:.0f}, {x['spend']:,.0f} | {y['kept']:.0f}, {y['spend']:,.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--seeds", required=True, help="e.g. 61-80 or 61,63")
    r.add_argument("--root", required=True)
    r.add_argument("--preset", default="default")
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--mechanisms", default=None, help="e.g. none,trust_routing (default: all three)")
    r.add_argument("--planner", default=None, help="planner parameters as JSON, e.g. '{\"pin_holdout\": 0.25}'")
    s = sub.add_parser("summary")
    s.add_argument("files", nargs="+")
    c = sub.add_parser("coverage")
    c.add_argument("files", nargs="+")
    pl = sub.add_parser("planners")
    pl.add_argument("base")
    pl.add_argument("new")
    args = ap.parse_args()
    {"run": run, "summary": summary, "coverage": coverage, "planners": planners}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
