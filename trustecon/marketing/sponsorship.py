"""What a live-room pin sponsorship sells: pin exposures and a Poisson rate model of orders per exposure
(the planner's ``conversion="pins"``, DESIGN.md §8).

A sponsorship buys *pins*: the brand's product shown in a creator's live room. So the forecast is
exposures × orders per exposure, both from the log:

- **Pin exposures** (:func:`pin_exposures`): a live visit sees the pin showing when the viewer enters
  and every pin until they leave (the rule of :func:`trustecon.kpis.visit_products`, tested equal);
  a visit ends at the viewer's next ``live_leave`` or re-entry of the session, else at ``live_end``.
  Per (creator, brand): ``X_cb`` exposures of the brand's products in c's rooms and ``k_cb`` distinct
  orders of them placed in c's rooms (``session_id`` set). Per creator: exposures per day of history.
- **Orders per exposure** (:func:`poisson_rates`): ``k_cb ~ Poisson(X_cb · exp(a_b + c_c))``, a
  log-linear model with a brand effect and a room effect (McCullagh & Nelder, *Generalized Linear
  Models*, 2nd ed., §6 — main effects of a two-way table of counts with exposure offsets), fitted by
  alternating closed-form updates (each is the exact maximiser of the log-posterior in one set of
  effects given the other) with a Gamma(1 + s, s) prior on every multiplicative effect (mode 1: s
  pseudo-orders at the pooled rate m), so a brand or room with little exposure stays near the
  pooled rate. A brand can then be forecast in a
  room that never pinned it: the room's conversion × the brand's.

**Calibration on a held-out slice of the history** (``holdout > 0``; :func:`pin_calibration`). Two
parts of that forecast are assumptions the log can check: that the fitted room effects C_c carry over
to the coming weeks (with a weak prior they partly fit noise, and a planner that chooses the rooms
rated best then meets the winner's curse), and that orders scale one-for-one with the viewers' fit
(``F_cb / F_b``). So the model is first fitted on the history's early part, its forecast of every
(room, brand) cell with pins in the held-out late part is compared with the orders those pins
actually got, and a Poisson regression with the exposures as offset,
``k ~ Poisson(X · m · exp(c₀ + b₁ log(A_b C_c) + b₂ log(F_cb / F_b)))``, gives the shrinkage of each
part — the calibration slope of Cox (1958) and the shrinkage factor of Copas (1983), *Regression,
prediction and shrinkage* (JRSS B 45) and Van Houwelingen & le Cessie (1990), estimated out of time
instead of by cross-validation. ``b₁, b₂`` are kept in [0, 1] (a calibration may only shrink an
effect toward the pooled rate, never amplify or reverse it: a noisy holdout must not invent one).
The model is then refitted on the whole history and forecasts
``m · exp(c₀) · (A_b C_c)^b₁ · (F_cb / F_b)^b₂`` per exposure; without a holdout ``(c₀, b₁, b₂) =
(0, 1, 1)``, the model as first written.

Hand-written because it is the trust economy's own forecast; the iteration is short (two effects,
closed-form steps) and has a slow, obviously-correct reference in the tests (the log-posterior
maximised numerically by scipy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from trustecon.marketing.interest import shopping_interest, user_fit

__all__ = ["PinModel", "pin_calibration", "pin_exposures", "poisson_rates", "visit_pins"]


_COLUMNS = ("user_id", "creator_id", "session_id", "product_id", "order_id")


def _columns(ev: pd.DataFrame) -> pd.DataFrame:
    """``ev`` with every id column this module reads (a log without live rooms may lack some)."""
    missing = [c for c in _COLUMNS if c not in ev.columns]
    return ev.assign(**{c: pd.array([pd.NA] * len(ev), dtype="Int64") for c in missing}) if missing else ev


def _visits(ev: pd.DataFrame) -> pd.DataFrame:
    """Closed visits: user_id, session_id, creator_id, enter, end (µs since the epoch)."""
    lv = ev[ev["kind"].isin(["live_enter", "live_leave"]) & ev["session_id"].notna() & ev["user_id"].notna()]
    lv = pd.DataFrame({
        "user_id": lv["user_id"].astype("int64").to_numpy(),
        "session_id": lv["session_id"].astype("int64").to_numpy(),
        "creator_id": lv["creator_id"].astype("Int64").to_numpy(),
        "ts": _micros(lv["ts"]),
        "is_enter": (lv["kind"] == "live_enter").to_numpy().astype(np.int8),
    }).sort_values(["user_id", "session_id", "ts", "is_enter"], kind="stable")
    same = (lv["user_id"].to_numpy()[1:] == lv["user_id"].to_numpy()[:-1]) & (
        lv["session_id"].to_numpy()[1:] == lv["session_id"].to_numpy()[:-1])
    nxt = np.full(len(lv), -1, dtype=np.int64)
    nxt[:-1] = np.where(same, lv["ts"].to_numpy()[1:], -1)
    lv["end"] = nxt
    v = lv[lv["is_enter"] == 1].rename(columns={"ts": "enter"})
    ends = ev[(ev["kind"] == "live_end") & ev["session_id"].notna()]
    last = pd.Series(_micros(ends["ts"]), index=ends["session_id"].astype("int64").to_numpy()).groupby(level=0).max()
    fallback = v["session_id"].map(last)
    use = (v["end"] < 0) & fallback.notna() & (fallback >= v["enter"])
    v.loc[use, "end"] = fallback[use].astype("int64")
    return v[v["end"] >= 0][["user_id", "session_id", "creator_id", "enter", "end"]].reset_index(drop=True)


def _micros(ts: pd.Series) -> np.ndarray:
    """Instants as integer µs since the epoch (UTC)."""
    return ((pd.to_datetime(ts, utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy(
        dtype=np.int64)


def visit_pins(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per (closed visit, pin seen): visit (row number of the visit), user_id, session_id,
    creator_id, product_id — the pin showing at entry and every later pin up to the leave."""
    ev = _columns(ev)
    v = _visits(ev)
    pins = ev[(ev["kind"] == "product_pin") & ev["session_id"].notna() & ev["product_id"].notna()]
    p_sess = pins["session_id"].astype("int64").to_numpy()
    p_ts = _micros(pins["ts"])
    order = np.lexsort((p_ts, p_sess))
    p_sess, p_ts, p_prod = p_sess[order], p_ts[order], pins["product_id"].astype("int64").to_numpy()[order]
    s = v["session_id"].to_numpy()
    first = np.searchsorted(p_sess, s, side="left")
    stop = np.searchsorted(p_sess, s, side="right")
    # Position of (session, t) in the sorted pins: pins of earlier sessions + pins of this one at or before t.
    at_enter = first + _count_le(p_sess, p_ts, s, v["enter"].to_numpy(), first, stop)
    at_end = first + _count_le(p_sess, p_ts, s, v["end"].to_numpy(), first, stop)
    lo = np.maximum(at_enter - 1, first)  # the pin showing at entry (or the first pin after it)
    n = np.maximum(at_end - lo, 0)
    rows = np.repeat(np.arange(len(v)), n)
    idx = lo[rows] + np.arange(rows.size) - np.repeat(np.cumsum(n) - n, n)
    return pd.DataFrame({
        "visit": rows,
        "user_id": v["user_id"].to_numpy()[rows],
        "session_id": s[rows],
        "creator_id": v["creator_id"].to_numpy()[rows],
        "product_id": p_prod[idx],
    })


def _count_le(p_sess: np.ndarray, p_ts: np.ndarray, s: np.ndarray, t: np.ndarray, first: np.ndarray,
              stop: np.ndarray) -> np.ndarray:
    """Per query, how many pins of session ``s`` have a time ≤ ``t`` (pins sorted by session, time):
    one lexicographic binary search on (session, time) records."""
    key = np.empty(p_sess.size, dtype=[("s", np.int64), ("t", np.int64)])
    key["s"], key["t"] = p_sess, p_ts
    q = np.empty(s.size, dtype=key.dtype)
    q["s"], q["t"] = s, t
    return np.clip(np.searchsorted(key, q, side="right") - first, 0, stop - first)


def pin_exposures(events: pd.DataFrame, product_brand: dict[int, int],
                  vp: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """(per (creator_id, brand_id): ``exposures`` X and ``orders`` k; per creator: exposures per day of
    the log's span). Orders are distinct ``order_id`` of the brand's products in the creator's rooms.
    ``vp``: :func:`visit_pins` of ``events`` if already computed."""
    events = _columns(events)
    vp = visit_pins(events) if vp is None else vp.copy()
    vp["brand_id"] = vp["product_id"].map(product_brand)
    vp = vp.dropna(subset=["brand_id", "creator_id"])
    x = vp.groupby(["creator_id", "brand_id"]).size().rename("exposures")
    o = events[(events["kind"] == "order") & events["session_id"].notna() & events["creator_id"].notna()
               & events["product_id"].notna()].copy()
    o["brand_id"] = o["product_id"].astype("int64").map(product_brand)
    k = o.dropna(subset=["brand_id"]).groupby(["creator_id", "brand_id"])["order_id"].nunique().rename("orders")
    t = pd.concat([x, k], axis=1).fillna(0.0).reset_index()
    t.columns = ["creator_id", "brand_id", "exposures", "orders"]
    t = t.astype({"creator_id": "int64", "brand_id": "int64", "exposures": "float64", "orders": "float64"})
    ts = pd.to_datetime(events["ts"], utc=True)
    span = max((ts.max() - ts.min()).total_seconds() / 86400.0, 1.0) if len(events) else 1.0
    per_day = t.groupby("creator_id")["exposures"].sum() / span
    return t, per_day


def poisson_rates(creator: np.ndarray, brand: np.ndarray, k: np.ndarray, x: np.ndarray, *, strength: float = 1.0,
                  iters: int = 200, tol: float = 1e-10) -> tuple[float, dict[int, float], dict[int, float]]:
    """Fit ``k ~ Poisson(x · m · A_b · C_c)`` (module docstring): returns the pooled rate m = Σk / Σx and
    the posterior modes of the multiplicative effects A (brand → A_b) and C (creator → C_c) under a
    Gamma(1 + s, s) prior on each (mode 1; s = ``strength``). Each step is the exact maximiser of the
    log-posterior in one set of effects given the other, ``A_b = (Σ_c k + s) / (Σ_c x·m·C_c + s)``, so
    the log-posterior rises every step (coordinate ascent on a concave function of the log-effects)."""
    k = np.asarray(k, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if k.shape != x.shape or np.any(k < 0) or np.any(x < 0):
        raise ValueError("poisson_rates: counts and exposures must be ≥ 0 and of one length")
    m = float(k.sum() / x.sum()) if x.sum() > 0 else 0.0
    ub, bi = np.unique(brand, return_inverse=True)
    uc, ci = np.unique(creator, return_inverse=True)
    A, C = np.ones(ub.size), np.ones(uc.size)
    if m == 0.0:
        return 0.0, dict(zip(ub.tolist(), A.tolist(), strict=True)), dict(zip(uc.tolist(), C.tolist(), strict=True))
    kb = np.bincount(bi, weights=k, minlength=ub.size)
    kc = np.bincount(ci, weights=k, minlength=uc.size)
    # Prior pseudo-counts: s "expected orders" at rate 1 — Gamma(s, s) on each effect.
    s = strength
    for _ in range(iters):
        A_new = (kb + s) / (np.bincount(bi, weights=x * m * C[ci], minlength=ub.size) + s)
        C_new = (kc + s) / (np.bincount(ci, weights=x * m * A_new[bi], minlength=uc.size) + s)
        done = max(np.max(np.abs(A_new - A)), np.max(np.abs(C_new - C))) < tol
        A, C = A_new, C_new
        if done:
            break
    return m, dict(zip(ub.tolist(), A.tolist(), strict=True)), dict(zip(uc.tolist(), C.tolist(), strict=True))


def pin_calibration(k: np.ndarray, x: np.ndarray, log_ac: np.ndarray, log_ratio: np.ndarray, m: float,
                    ) -> tuple[float, float, float]:
    """``(c₀, b₁, b₂)`` maximising the Poisson log-likelihood of held-out counts ``k`` with exposures
    ``x`` under ``μ = x · m · exp(c₀ + b₁ log_ac + b₂ log_ratio)``, ``b₁, b₂ ∈ [0, 1]`` (module
    docstring). Identity ``(0, 1, 1)`` when the holdout has no exposure or no order to learn from."""
    k, x = np.asarray(k, dtype=np.float64), np.asarray(x, dtype=np.float64)
    Z = np.column_stack([np.ones(k.size), np.asarray(log_ac, dtype=np.float64),
                         np.asarray(log_ratio, dtype=np.float64)])
    if k.size == 0 or k.sum() <= 0 or x.sum() <= 0 or m <= 0:
        return 0.0, 1.0, 1.0
    off = np.log(np.maximum(x * m, 1e-300))

    def nll(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = off + Z @ beta
        mu = np.exp(eta)
        return float(np.sum(mu - k * eta)), Z.T @ (mu - k)

    res = minimize(nll, np.array([0.0, 1.0, 1.0]), jac=True, method="L-BFGS-B",
                   bounds=[(None, None), (0.0, 1.0), (0.0, 1.0)], options={"maxiter": 500, "ftol": 1e-14,
                                                                            "gtol": 1e-10})
    c0, b1, b2 = (float(v) for v in res.x)
    return c0, b1, b2


class PinModel:
    """Forecast of a pin sponsorship (module docstring): fitted on a log, asked per brand.

    ``forecast(brand, fit, days, pin_every)`` → per creator: the expected orders of a sponsorship
    that takes one pin in ``pin_every`` of the creator's live rooms for ``days`` days,
    ``E_c = (exposures per day)_c · days / pin_every · m · e^c₀ · (A_b C_c)^b₁ · (F_cb / F_b)^b₂``, with
    ``F_cb`` the mean fit to the brand of c's pin viewers (exposure-weighted; ``fit`` as the
    planner's) and ``F_b`` the same over the brand's own exposures anywhere (the brand's rate was
    learnt on its own viewers; elsewhere it sells as the viewers' fit says, to the extent ``b₂`` the
    held-out history supports). Gamma posteriors of A_b and C_c (given the other effect) give the
    uncertainty draws.

    Parameters: ``strength`` (s of the Gamma(1 + s, s) prior, 1); ``holdout`` (share of the history's
    span held out to calibrate, 0 = no calibration); ``fit_strength`` (the smoothing of fit used on the
    holdout, the planner's, 5). Learned: ``m_``, ``A_``, ``C_`` and their posteriors, ``per_day_``,
    ``calibration_`` = (c₀, b₁, b₂) and ``holdout_cells_`` (held-out (room, brand) cells used).
    """

    def __init__(self, strength: float = 1.0, holdout: float = 0.0, fit_strength: float = 5.0) -> None:
        self.strength = strength
        self.holdout = holdout
        self.fit_strength = fit_strength

    def fit(self, events: pd.DataFrame, product_brand: dict[int, int]) -> PinModel:
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout {self.holdout!r}: a share of the history in [0, 1)")
        self.calibration_: tuple[float, float, float] = (0.0, 1.0, 1.0)
        self.holdout_cells_ = 0
        if self.holdout > 0 and len(events):
            self._calibrate(events, product_brand)
        return self._fit_effects(events, product_brand)

    def _fit_effects(self, events: pd.DataFrame, product_brand: dict[int, int]) -> PinModel:
        vp = visit_pins(events)
        vp["brand_id"] = vp["product_id"].map(product_brand)
        self.views_ = vp.dropna(subset=["creator_id"])[["user_id", "creator_id", "brand_id"]].reset_index(drop=True)
        t, self.per_day_ = pin_exposures(events, product_brand, vp=vp)
        self.table_ = t
        self.m_, A, C = poisson_rates(t["creator_id"].to_numpy(), t["brand_id"].to_numpy(), t["orders"].to_numpy(),
                                      t["exposures"].to_numpy(), strength=self.strength)
        self.A_, self.C_ = pd.Series(A, dtype="float64"), pd.Series(C, dtype="float64")
        # Gamma posterior (shape, rate) of each effect given the other at the mode: Gamma(k + 1 + s, den + s).
        s = self.strength
        rate_b = (t["exposures"] * self.m_ * t["creator_id"].map(self.C_)).groupby(t["brand_id"]).sum()
        rate_c = (t["exposures"] * self.m_ * t["brand_id"].map(self.A_)).groupby(t["creator_id"]).sum()
        self.A_post_ = (t.groupby("brand_id")["orders"].sum() + 1 + s, rate_b + s)
        self.C_post_ = (t.groupby("creator_id")["orders"].sum() + 1 + s, rate_c + s)
        return self

    def _calibrate(self, events: pd.DataFrame, product_brand: dict[int, int]) -> None:
        """Fit on the early part of ``events``, regress the late part's orders on that forecast."""
        ts = pd.to_datetime(events["ts"], utc=True)
        cut = ts.min() + (ts.max() - ts.min()) * (1.0 - self.holdout)
        early_ev, late_ev = events[(ts < cut).to_numpy()], events[(ts >= cut).to_numpy()]
        late, _ = pin_exposures(late_ev, product_brand)
        late = late[late["exposures"] > 0]
        if late.empty or not len(early_ev):
            return
        early = PinModel(self.strength)._fit_effects(early_ev, product_brand)
        early.calibration_ = (0.0, 1.0, 1.0)
        inter, pb = shopping_interest(early_ev)
        n_brands = len(set(pb.values()))
        parts = []
        for b, cells in late.groupby("brand_id"):
            fit, pi = user_fit(inter, int(b), (), n_brands, self.fit_strength)
            fc = early.forecast(int(b), fit, pi, pd.Index(cells["creator_id"].to_numpy()), 1.0, 1)
            parts.append(pd.DataFrame({"ac": fc["ac"].to_numpy(), "ratio": fc["ratio"].to_numpy()}, index=cells.index))
        d = late.join(pd.concat(parts))
        self.calibration_ = pin_calibration(d["orders"].to_numpy(), d["exposures"].to_numpy(),
                                            np.log(d["ac"].to_numpy()), np.log(d["ratio"].to_numpy()), early.m_)
        self.holdout_cells_ = len(d)

    def forecast(self, brand_id: int, fit: pd.Series, pi: float, creators: pd.Index, days: float,
                 pin_every: int) -> pd.DataFrame:
        """Per creator in ``creators``: ``exposures`` bought, ``ac`` (A_b·C_c), ``ratio`` (F_cb / F_b),
        ``base`` (``m e^c₀ ratio^b₂``: the rate is ``base · ac^b₁``), ``rate`` (orders per exposure),
        ``orders`` expected, and the Gamma posteriors (``a_shape``, ``a_rate``, ``c_shape``, ``c_rate``)."""
        v = self.views_
        f = v["user_id"].map(fit).fillna(pi)
        f_c = f.groupby(v["creator_id"]).mean()
        own = v["brand_id"] == brand_id
        f_b = float(f[own].mean()) if own.any() else float("nan")
        ratio = (f_c / f_b) if np.isfinite(f_b) and f_b > 0 else pd.Series(1.0, index=f_c.index)
        a = float(self.A_.get(brand_id, 1.0))
        c0, b1, b2 = self.calibration_
        out = pd.DataFrame(index=creators)
        out["exposures"] = self.per_day_.reindex(creators).fillna(0.0) * days / pin_every
        out["ratio"] = ratio.reindex(creators).fillna(1.0)
        out["ac"] = a * self.C_.reindex(creators).fillna(1.0)
        out["base"] = self.m_ * np.exp(c0) * out["ratio"] ** b2
        out["rate"] = out["base"] * out["ac"] ** b1
        out["orders"] = out["exposures"] * out["rate"]
        s = self.strength
        # Effects never seen keep their prior, Gamma(1 + s, s).
        out["a_shape"] = float(self.A_post_[0].get(brand_id, 1 + s))
        out["a_rate"] = float(self.A_post_[1].get(brand_id, s))
        out["c_shape"] = self.C_post_[0].reindex(creators).fillna(1 + s)
        out["c_rate"] = self.C_post_[1].reindex(creators).fillna(s)
        return out
