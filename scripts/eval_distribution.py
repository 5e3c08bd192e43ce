"""Evaluations of trustecon.distribution on real data (numbers go to docs/evaluation/distribution.md).

    python scripts/eval_distribution.py wtf --dataset filmtrust      # who-to-follow, FilmTrust
    python scripts/eval_distribution.py wtf --dataset ciao           # who-to-follow, Ciao (graph only)
    python scripts/eval_distribution.py kuairand                     # feed ranking on KuaiRand-Pure
    python scripts/eval_distribution.py policies --preset default --seed 7   # policy experiment + per-day series
    python scripts/eval_distribution.py policies --preset default --seed 141 --daily-streams   # paired (round 6)
    python scripts/eval_distribution.py tune-engine --preset small --seed 1  # engine feed grid (tuning seed only)
    python scripts/eval_distribution.py policies-summary --inputs e7.json e8.json e9.json  # mean ± s.e. over seeds

Data: ``$TRUSTECON_DATA`` or ``../shared/data`` (read the MANIFEST of each set). Every number is
printed as one JSON object at the end (``--out FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from trustecon.distribution.discovery import CreatorALS  # noqa: E402
from trustecon.distribution.suggest import WhoToFollow, average_precision, roc_auc  # noqa: E402

DATA = Path(os.environ.get("TRUSTECON_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


# ----------------------------------------------------------------------------- data
def load_trust(name: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(edges trustor→trustee without duplicates or self-loops, ratings or None)."""
    if name == "filmtrust":
        d = DATA / "filmtrust"
        e = pd.read_csv(d / "trust.txt", sep=" ", header=None, names=["src", "dst", "v"])[["src", "dst"]]
        r = pd.concat(
            [
                pd.read_csv(d / f"ratings_{i}.txt", sep=" ", header=None, names=["user", "item", "rating"])
                for i in range(4)
            ]
        )
        r = r.drop_duplicates(["user", "item"], keep="last")
    elif name == "ciao":
        d = DATA / "ciao"
        e = pd.read_csv(d / "trust.csv").rename(columns={"trustor": "src", "trustee": "dst"})
        r = None  # rating ids do not match trust ids in this copy (MANIFEST): graph only
    else:
        raise SystemExit(f"unknown dataset {name}")
    e = e[e.src != e.dst].drop_duplicates()
    return e.reset_index(drop=True), r


# ----------------------------------------------------------------------------- protocol
def split_edges(e: pd.DataFrame, rng: np.random.Generator, frac: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random ``frac`` of edges held out; returns (kept, held_out)."""
    mask = np.zeros(len(e), dtype=bool)
    mask[rng.choice(len(e), int(round(frac * len(e))), replace=False)] = True
    return e[~mask].reset_index(drop=True), e[mask].reset_index(drop=True)


def sample_pairs(
    held: pd.DataFrame, train: pd.DataFrame, all_edges: set[tuple[int, int]], rng: np.random.Generator, n_neg: int = 10
) -> pd.DataFrame:
    """Each held-out edge (u, v) with ``n_neg`` non-edges (u, v'), v' drawn without replacement from
    users with at least one training edge, v' ≠ u, (u, v') not an edge of the full graph."""
    pool = np.unique(np.concatenate([train.src.to_numpy(), train.dst.to_numpy()]))
    rows = []
    for u, v in zip(held.src.to_numpy(), held.dst.to_numpy(), strict=True):
        rows.append((u, v, 1))
        got: set[int] = set()
        while len(got) < n_neg:
            c = int(pool[rng.integers(pool.size)])
            if c != u and (u, c) not in all_edges and c not in got:
                got.add(c)
        rows += [(u, c, 0) for c in sorted(got)]
    return pd.DataFrame(rows, columns=["u", "v", "y"])


# ----------------------------------------------------------------------------- methods
class Scorers:
    """Every method as ``matrix(users) -> len(users) × n`` scores over ``nodes`` (same order)."""

    def __init__(self, train: pd.DataFrame, nodes: np.ndarray, model: WhoToFollow, seed: int):
        import igraph as ig

        self.nodes = nodes
        self.idx = {int(x): i for i, x in enumerate(nodes)}
        n = nodes.size
        si = np.array([self.idx[x] for x in train.src], dtype=np.int64)
        di = np.array([self.idx[x] for x in train.dst], dtype=np.int64)
        self.a = sp.csr_matrix((np.ones(si.size), (si, di)), shape=(n, n))
        und = ((self.a + self.a.T) > 0).astype(np.float64).tocsr()
        self.und = und
        self.indeg = np.asarray(self.a.sum(axis=0)).ravel()
        self.g = ig.Graph(n=n, edges=list(zip(si.tolist(), di.tolist(), strict=True)), directed=True)
        self.model = model
        t = time.perf_counter()
        self.als = CreatorALS(factors=32, iterations=15, random_state=seed).fit(si, di)
        self.als_fit_s = time.perf_counter() - t
        # ALS was fit on positions; keep its lookup in position space.
        self.als_u = self.als.user_index(np.arange(n))
        self.als_c = self.als.creator_index(np.arange(n))

    def matrix(self, method: str, users: np.ndarray) -> np.ndarray:
        ui = np.array([self.idx[int(u)] for u in users])
        n = self.nodes.size
        if method == "model":
            return self.model.score_matrix(users)
        if method == "popularity":
            return np.broadcast_to(self.indeg[None, :], (ui.size, n)).copy()
        if method == "common_neighbours":
            return (self.und[ui] @ self.und).toarray()
        if method == "adamic_adar":
            return np.array(self.g.similarity_inverse_log_weighted(vertices=ui.tolist(), mode="all"))
        if method == "ppr":
            return np.array(
                [self.g.personalized_pagerank(reset_vertices=[int(u)], damping=0.85, directed=True) for u in ui]
            )
        if method == "als":
            out = np.zeros((ui.size, n))
            ok_u = self.als_u[ui] >= 0
            ok_c = self.als_c >= 0
            uf = self.als.user_factors_[self.als_u[ui[ok_u]]]
            cf = self.als.creator_factors_[self.als_c[ok_c]]
            out[np.ix_(np.flatnonzero(ok_u), np.flatnonzero(ok_c))] = uf @ cf.T
            return out
        raise ValueError(method)


METHODS = ("model", "popularity", "common_neighbours", "adamic_adar", "ppr", "als")


def evaluate_wtf(name: str, seed: int = 0, n_boot: int = 1000) -> dict:
    e, ratings = load_trust(name)
    rng = np.random.default_rng(seed)
    all_edges = set(zip(e.src.tolist(), e.dst.tolist(), strict=True))
    train, test = split_edges(e, rng, 0.20)
    inner, val = split_edges(train, rng, 0.20)
    nodes = np.unique(np.concatenate([e.src, e.dst]))

    def behaviour_for(model_nodes: np.ndarray) -> sp.csr_matrix | None:
        if ratings is None:
            return None
        r = ratings[ratings.user.isin(model_nodes)]
        items = {x: i for i, x in enumerate(np.unique(r.item))}
        pos = np.searchsorted(model_nodes, r.user.to_numpy())
        # Mean-centred ratings: agreement, not just co-rating, is the behavioural signal.
        vals = r.rating.to_numpy() - r.groupby("user").rating.transform("mean").to_numpy()
        return sp.csr_matrix((vals + 1e-6, (pos, r.item.map(items).to_numpy())), shape=(model_nodes.size, len(items)))

    # Tune on the validation split: features from the inner graph only.
    val_pairs = sample_pairs(val, inner, all_edges, rng)
    t0 = time.perf_counter()
    tuner = WhoToFollow().fit(inner.src, inner.dst, nodes=nodes, behaviour=behaviour_for(nodes))
    tuner.tune(val_pairs.u.to_numpy(), val_pairs.v.to_numpy(), val_pairs.y.to_numpy())
    tune_s = time.perf_counter() - t0
    # Refit on all training edges with the tuned weights; score the test split once.
    model = WhoToFollow(weights=tuner.weights_).fit(train.src, train.dst, nodes=nodes, behaviour=behaviour_for(nodes))
    model.scale_ = dict(tuner.scale_)
    test_pairs = sample_pairs(test, train, all_edges, rng)
    sc = Scorers(train, nodes, model, seed)
    trained = set(np.concatenate([train.src, train.dst]).tolist())
    cand_mask = np.isin(nodes, list(trained))
    trustors = np.unique(test.src.to_numpy())
    warm = np.array([u for u in trustors if u in trained])
    cold = np.array([u for u in trustors if u not in trained])
    test_by_u = test.groupby("src").dst.apply(lambda s: set(s.tolist())).to_dict()
    out_train = train.groupby("src").dst.apply(lambda s: set(s.tolist())).to_dict()

    pair_scores: dict[str, np.ndarray] = {}
    prec: dict[str, dict[int, tuple[float, float]]] = {m: {} for m in METHODS}
    u_pairs = test_pairs.u.to_numpy()
    v_pos = np.array([sc.idx[int(v)] for v in test_pairs.v])
    for m in METHODS:
        ps = np.zeros(len(test_pairs))
        for s in range(0, trustors.size, 256):
            block = trustors[s : s + 256]
            mat = sc.matrix(m, block)
            bpos = {int(u): i for i, u in enumerate(block)}
            rows = np.flatnonzero(np.isin(u_pairs, block))
            ps[rows] = mat[[bpos[int(u)] for u in u_pairs[rows]], v_pos[rows]]
            for i, u in enumerate(block):
                s_u = mat[i].astype(np.float64).copy()
                excl = ~cand_mask.copy()
                excl[sc.idx[int(u)]] = True
                for w in out_train.get(int(u), ()):
                    excl[sc.idx[w]] = True
                s_u[excl] = -np.inf
                # Ties broken by node order (deterministic, the same for every method).
                top = np.argsort(-s_u, kind="stable")[:10]
                hits = len({int(nodes[j]) for j in top} & test_by_u[int(u)])
                prec[m][int(u)] = (hits / 10, hits / len(test_by_u[int(u)]))
        pair_scores[m] = ps

    # Paired bootstrap over trustors (each trustor's held-out edges and their negatives move together).
    y = test_pairs.y.to_numpy().astype(bool)
    groups = {int(u): np.flatnonzero(u_pairs == u) for u in trustors}
    brng = np.random.default_rng(seed + 1)

    def metrics_on(us: np.ndarray) -> dict[str, dict[str, float]]:
        idx = np.concatenate([groups[int(u)] for u in us])
        res = {}
        for m in METHODS:
            res[m] = {"auc": roc_auc(y[idx], pair_scores[m][idx]), "ap": average_precision(y[idx], pair_scores[m][idx])}
        return res

    def pk_on(us: np.ndarray) -> dict[str, dict[str, float]]:
        return {
            m: {
                "p@10": float(np.mean([prec[m][int(u)][0] for u in us])) if us.size else float("nan"),
                "r@10": float(np.mean([prec[m][int(u)][1] for u in us])) if us.size else float("nan"),
            }
            for m in METHODS
        }

    point = metrics_on(trustors)
    point_pk = pk_on(warm)
    cold_pk = pk_on(cold)
    diffs: dict[str, dict[str, list[float]]] = {m: {k: [] for k in ("auc", "ap", "p@10", "r@10")} for m in METHODS[1:]}
    for _ in range(n_boot):
        us = trustors[brng.integers(0, trustors.size, trustors.size)]
        mw = warm[brng.integers(0, warm.size, warm.size)] if warm.size else warm
        mm, pk = metrics_on(us), pk_on(mw)
        for m in METHODS[1:]:
            for k in ("auc", "ap"):
                diffs[m][k].append(mm["model"][k] - mm[m][k])
            for k in ("p@10", "r@10"):
                diffs[m][k].append(pk["model"][k] - pk[m][k])
    ci = {
        m: {k: [float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))] for k, v in d.items()}
        for m, d in diffs.items()
    }
    return {
        "dataset": name,
        "seed": seed,
        "edges": len(e),
        "train_edges": len(train),
        "inner_edges": len(inner),
        "validation_edges": len(val),
        "test_edges": len(test),
        "test_pairs": len(test_pairs),
        "trustors": int(trustors.size),
        "trustors_without_training_edge": int(cold.size),
        "weights": model.weights_,
        "validation_objective": tuner.tuning_,
        "tune_seconds": round(tune_s, 2),
        "als_fit_seconds": round(sc.als_fit_s, 3),
        "pooled": point,
        "per_trustor_warm": point_pk,
        "per_trustor_cold": cold_pk,
        "bootstrap": n_boot,
        "model_minus_baseline_ci95": ci,
    }


# ----------------------------------------------------------------------------- KuaiRand
_KR_COLS = [
    "user_id",
    "video_id",
    "date",
    "time_ms",
    "is_click",
    "is_like",
    "is_follow",
    "is_comment",
    "is_forward",
    "is_hate",
    "long_view",
    "play_time_ms",
    "duration_ms",
    "is_profile_enter",
]


def _kr_signals(train: pd.DataFrame, cfg, seed: int) -> dict:
    """Everything the engine's feed score needs, built from a training window only."""
    w = (
        train.is_click * 1.0
        + train.is_like * 2.0
        + train.is_comment * 3.0
        + train.is_forward * 3.0
        + train.is_profile_enter * 2.0
        + train.is_follow * 5.0
    )
    aff = train.assign(w=w)
    aff = aff[aff.w > 0].groupby(["user_id", "author_id"]).w.sum().reset_index()
    als = CreatorALS(factors=cfg.als_factors, iterations=cfg.als_iterations, random_state=seed)
    t = time.perf_counter()
    als.fit(aff.user_id.to_numpy(), aff.author_id.to_numpy(), aff.w.to_numpy())
    als_s = time.perf_counter() - t
    # Creator credibility stand-in: beta mean of an author's positive vs negative evidence
    # (clicks, long views, likes/follows/comments vs hates and skipped impressions).
    g = train.groupby("author_id")
    pos = g.is_click.sum() + 2 * g.long_view.sum() + 3 * (g.is_like.sum() + g.is_follow.sum() + g.is_comment.sum())
    neg = g.is_hate.sum() * 5 + (g.size() - g.is_click.sum())
    cred = (pos + 1) / (pos + neg + 2)
    # Pair trust from u's own evidence toward the author (beta mean) — rarely present (MANIFEST).
    pair = train.assign(
        p=train.is_click + 2 * train.long_view + 3 * (train.is_like + train.is_follow),
        n=1 - train.is_click + 5 * train.is_hate,
    )
    pt = pair.groupby(["user_id", "author_id"])[["p", "n"]].sum()
    pt = ((pt.p + 1) / (pt.p + pt.n + 2)).rename("trust").reset_index()
    return {"als": als, "als_s": als_s, "cred": cred, "pop": g.is_click.sum(), "pair": pt}


def _kr_scores(sig: dict, target: pd.DataFrame, cfg) -> dict[str, np.ndarray]:
    t = target.merge(sig["pair"], on=["user_id", "author_id"], how="left")
    a = sig["als"].score(t.user_id.to_numpy(), t.author_id.to_numpy())
    c = t.author_id.map(sig["cred"]).fillna(0.5).to_numpy()
    pop = np.log1p(t.author_id.map(sig["pop"]).fillna(0).to_numpy())
    popn = pop / pop.max()
    trust = t.trust.fillna(cfg.trust_prior).to_numpy()
    has_t = t.trust.notna().to_numpy()
    # The engine's feed score (trustecon.distribution.feed): private tier 1 + T where trusted, else
    # the discovery blend (this slice has no follow graph and no trust-graph neighbours).
    disc = cfg.w_als * np.clip(a, 0, 1) + cfg.w_credibility * c + cfg.w_popularity * popn
    engine = np.where(has_t & (trust >= cfg.trust_threshold), 1 + trust, disc)
    return {"engine": engine, "popularity": pop, "als": a, "credibility": c}


def _user_auc(users: np.ndarray, y: np.ndarray, s: np.ndarray) -> pd.Series:
    df = pd.DataFrame({"u": users, "y": y, "s": s})
    return df.groupby("u").apply(lambda x: roc_auc(x.y.to_numpy(), x.s.to_numpy()), include_groups=False)


def evaluate_kuairand(seed: int = 0, n_boot: int = 1000, long_view_ratio: float = 0.8) -> dict:
    """Rank each user's 05-01..05-08 impressions with signals built on 04-25..04-30.

    Engine weights: the feed's defaults, and a variant whose discovery weights are tuned on a
    validation split inside the training window (build 04-25..04-28, validate 04-29..04-30)."""
    import dataclasses

    from trustecon.distribution.feed import FeedConfig

    d = DATA / "kuairand-pure"
    t0 = pd.read_csv(d / "log_standard_4_25_to_4_30_pure.csv", usecols=_KR_COLS).drop_duplicates()
    t1 = pd.read_csv(d / "log_standard_5_01_to_5_08_pure.csv", usecols=_KR_COLS).drop_duplicates()
    vid = pd.read_csv(d / "video_features_basic_pure.csv", usecols=["video_id", "author_id"])
    t0, t1 = t0.merge(vid, on="video_id"), t1.merge(vid, on="video_id")
    cfg = FeedConfig()
    # Validation inside the training window only.
    inner, val = t0[t0.date <= 20220428], t0[t0.date > 20220428]
    sig_v = _kr_signals(inner, cfg, seed)
    best, best_w = -1.0, None
    grid = (0.0, 0.1, 0.3, 0.6, 1.0)
    for wa in grid:
        for wc in grid:
            for wp in grid:
                if wa == wc == wp == 0:
                    continue
                c2 = dataclasses.replace(cfg, w_als=wa, w_credibility=wc, w_popularity=wp)
                auc = _user_auc(
                    val.user_id.to_numpy(), val.is_click.to_numpy(), _kr_scores(sig_v, val, c2)["engine"]
                ).mean()
                if auc > best + 1e-9:
                    best, best_w = auc, (wa, wc, wp)
    tuned = dataclasses.replace(cfg, w_als=best_w[0], w_credibility=best_w[1], w_popularity=best_w[2])
    sig = _kr_signals(t0, cfg, seed)
    t1 = t1.assign(lv=(t1.play_time_ms >= long_view_ratio * t1.duration_ms) & (t1.duration_ms > 0))
    scores = _kr_scores(sig, t1, cfg)
    scores = {
        "engine": scores["engine"],
        "engine_tuned": _kr_scores(sig, t1, tuned)["engine"],
        **{k: v for k, v in scores.items() if k != "engine"},
    }
    users = t1.user_id.to_numpy()
    out: dict[str, object] = {
        "long_view_ratio": long_view_ratio,
        "als_fit_seconds": round(sig["als_s"], 3),
        "impressions": len(t1),
        "users": int(np.unique(users).size),
        "tuned_weights": {"w_als": best_w[0], "w_credibility": best_w[1], "w_popularity": best_w[2]},
        "validation_click_auc": float(best),
    }
    brng = np.random.default_rng(seed + 1)
    for target in ("is_click", "lv"):
        yv = t1[target].to_numpy().astype(bool)
        per = {k: _user_auc(users, yv, v) for k, v in scores.items()}
        valid = per["engine"].notna()
        tab = pd.DataFrame({k: v[valid] for k, v in per.items()})
        arr = tab.to_numpy()
        boots = np.array([arr[brng.integers(0, len(arr), len(arr))].mean(axis=0) for _ in range(n_boot)])
        names = list(scores)
        res = {
            "users_evaluated": int(valid.sum()),
            "mean_user_auc": {k: float(tab[k].mean()) for k in names},
            "ci95": {
                k: [float(np.percentile(boots[:, i], 2.5)), float(np.percentile(boots[:, i], 97.5))]
                for i, k in enumerate(names)
            },
        }
        for e in ("engine", "engine_tuned"):
            ei = names.index(e)
            res[f"{e}_minus_ci95"] = {
                k: [
                    float(np.percentile(boots[:, ei] - boots[:, i], 2.5)),
                    float(np.percentile(boots[:, ei] - boots[:, i], 97.5)),
                ]
                for i, k in enumerate(names)
                if not k.startswith("engine")
            }
        out[target] = res
    return out


# ----------------------------------------------------------------------------- policy experiment
def _followed_per_user_day(ws_path: Path) -> dict[str, float]:
    """From one policy's log: creators shown per active user-day, how many of them the user
    followed (impressions on the ``follow`` surface) and the content items behind each."""
    import duckdb

    from trustecon.engine import connect
    from trustecon.store import Workspace

    e = Workspace.open(ws_path).events(connect("duckdb"))
    e = e.select("ts", "kind", "surface", "user_id", "creator_id", "content_id").to_pyarrow()
    d = duckdb.connect()
    d.register("e", e)
    row = d.execute(
        """with imp as (select user_id u, creator_id c, cast(ts as date) d, max(surface) s, count(content_id) n
                        from e where kind = 'impression' group by 1, 2, 3),
                ud as (select u, d, count(*) shown, count(*) filter (where s = 'follow') fol,
                              coalesce(sum(n) filter (where s = 'follow'), 0) fol_items from imp group by 1, 2)
           select avg(shown), avg(fol), avg(fol_items) from ud"""
    ).fetchone()
    return {"creators_shown": row[0], "followed_shown": row[1], "followed_items": row[2]}


def evaluate_policies(preset: str, seed: int, root: Path, daily_streams: bool = False) -> dict:
    """The policy experiment with per-day series and the followed-creator counts per user-day;
    ``daily_streams``: paired runs (common random numbers, round 6)."""
    from trustecon.distribution.experiment import policy_experiment

    res = policy_experiment(root, preset, seed=seed, daily=True, daily_streams=daily_streams)
    res["daily_streams"] = daily_streams
    res["followed_per_user_day"] = {p: _followed_per_user_day(root / p) for p in res["policies"]}
    return res


#: The engine grid run on the tuning seed (changes to :data:`trustecon.distribution.policy.ENGINE_FEED`).
ENGINE_GRID: list[dict[str, float]] = [
    {},
    {"private_share": 0.5},
    {"private_share": 0.8},
    {"w_follow": 0.0},
    {"w_live": 0.0},
    {"w_live": 3.0},
    {"w_fresh": 0.0},
]


def tune_engine(preset: str, seed: int, root: Path) -> dict:
    """Engine-only runs of :data:`ENGINE_GRID` on one (tuning) seed: fan reach and repurchase."""
    import dataclasses
    import shutil

    from trustecon.distribution.experiment import policy_experiment
    from trustecon.distribution.policy import ENGINE_FEED

    out = []
    for i, change in enumerate(ENGINE_GRID):
        where = root / f"grid{i}"
        res = policy_experiment(where, preset, seed=seed, policies=("engine",),
                                feed_config=dataclasses.replace(ENGINE_FEED, **change))
        r = res["policies"]["engine"]
        keys = ("fan_content_reach", "monthly_repurchase", "exposure_gini")
        out.append({"change": change, **{k: r[k] for k in keys}})
        print(json.dumps(out[-1]), flush=True)
        shutil.rmtree(where, ignore_errors=True)
    return {"preset": preset, "seed": seed, "base": ENGINE_FEED.as_dict(), "grid": out}


SUMMARY_METRICS: tuple[str, ...] = (
    "video_watch_min_per_user",
    "live_watch_min_per_visit",
    "interactions_per_min_video",
    "interactions_per_min_live",
    "fan_content_reach",
    "monthly_repurchase",
    "refund_rate",
    "creator_income_share",
    "exposure_gini",
    "share_creators_exposed",
)


def summarize_policies(paths: list[str]) -> dict:
    """Mean over seeds and the run-to-run standard error (sample s.d. over seeds / √seeds) of every
    policy metric, from the JSON outputs of ``policies`` (one per seed); plus, per seed, which policy
    leads fan reach and repurchase."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    pols = list(runs[0]["policies"])
    out: dict[str, Any] = {"seeds": [r["seed"] for r in runs], "mean": {}, "se": {}, "leaders": []}
    for pol in pols:
        out["mean"][pol], out["se"][pol] = {}, {}
        for k in SUMMARY_METRICS:
            v = np.array([r["policies"][pol][k] for r in runs], dtype=float)
            out["mean"][pol][k] = float(v.mean())
            out["se"][pol][k] = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    for r in runs:
        lead = {
            k: max(pols, key=lambda p, k=k: r["policies"][p][k]) for k in ("fan_content_reach", "monthly_repurchase")
        }
        out["leaders"].append({"seed": r["seed"], **lead})
    for k in ("fan_content_reach", "monthly_repurchase"):
        d = {}
        for pol in pols:
            if pol == "engine":
                continue
            v = np.array([r["policies"]["engine"][k] - r["policies"][pol][k] for r in runs])
            d[pol] = {"mean": float(v.mean()), "se": float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None}
        out[f"engine_minus_{k}"] = d
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["wtf", "kuairand", "policies", "tune-engine", "policies-summary"])
    ap.add_argument("--inputs", nargs="*", help="policies-summary: JSON outputs of `policies`, one per seed")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--root", help="folder for the simulated workspaces (policies, tune-engine)")
    ap.add_argument("--dataset", default="filmtrust")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--out")
    ap.add_argument("--daily-streams", action="store_true", help="policies: paired runs (common random numbers)")
    a = ap.parse_args(argv)
    t = time.perf_counter()
    if a.what == "policies-summary":
        return _emit(summarize_policies(a.inputs or []), t, a.out)
    if a.what in ("policies", "tune-engine"):
        import tempfile

        root = Path(a.root) if a.root else Path(tempfile.mkdtemp(prefix="trustecon-policies-"))
        if a.what == "policies":
            return _emit(evaluate_policies(a.preset, a.seed, root, a.daily_streams), t, a.out)
        return _emit(tune_engine(a.preset, a.seed, root), t, a.out)
    if not DATA.is_dir():
        print(f"datasets not found at {DATA} (set TRUSTECON_DATA)", file=sys.stderr)
        return 2
    t = time.perf_counter()
    res = evaluate_wtf(a.dataset, a.seed, a.boot) if a.what == "wtf" else evaluate_kuairand(a.seed, a.boot)
    return _emit(res, t, a.out)


def _emit(res: dict[str, Any], started: float, out: str | None) -> int:
    """Print the result (with its run time) as JSON and write it to ``out`` when given."""
    res["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(res, indent=1, default=float)
    print(text)
    if out:
        Path(out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
