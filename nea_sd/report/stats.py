"""The report's statistics over paired draws: P(A > B) with a bootstrap interval, robust
decision criteria (mean, sd, worst 5 %, regret), and scenario discovery (PRIM boxes from the
EMA Workbench, the field's standard implementation: PRIM is not rewritten here).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.errors import MissingDependencyError

LEVEL = 0.95
RESAMPLES = 2000
SIGNIFICANT = 0.05  # a PRIM limit is kept when its quasi-p value is below this


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap interval over ``n`` paired draws."""

    value: float
    low: float
    high: float
    n: int


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)  # a diverged run has no outcome: its pair drops out
    return a[keep], b[keep]


def p_greater(
    a: np.ndarray,
    b: np.ndarray,
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> Interval:
    """P(A > B) over paired draws (a tie counts one half) with the percentile bootstrap
    interval at ``level`` (draws resampled in pairs)."""
    a, b = _paired(a, b)
    n = len(a)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    wins = (a > b) + 0.5 * (a == b)
    rng = np.random.default_rng(seed)
    means = wins[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(wins.mean()), float(low), float(high), n)


def mean_difference(
    a: np.ndarray, b: np.ndarray, *, seed: int = 0, resamples: int = RESAMPLES, level: float = LEVEL
) -> Interval:
    """Mean of A − B over paired draws with its percentile bootstrap interval."""
    a, b = _paired(a, b)
    n = len(a)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    d = a - b
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(d.mean()), float(low), float(high), n)


def robust_criteria(values: xr.DataArray, better: int) -> xr.Dataset:
    """Per strategy: mean, sd, the worst 5 % (5th percentile where more is better, 95th where
    less is), and regret (the best strategy's value in the same draw minus this one's, signed
    so that regret ≥ 0): its mean and maximum. ``values`` has dims (draw, strategy); draws
    where any strategy diverged are left out of every criterion (the comparison is paired)."""
    complete = values.dropna("draw", how="any")
    signed = complete * better
    regret = (signed.max("strategy") - signed).clip(min=0)
    worst = complete.quantile(0.05 if better > 0 else 0.95, dim="draw").drop_vars("quantile")
    ds = xr.Dataset(
        {
            "mean": complete.mean("draw"),
            "sd": complete.std("draw", ddof=1),
            "worst5": worst,
            "mean_regret": regret.mean("draw"),
            "max_regret": regret.max("draw"),
        }
    )
    ds["worst5"].attrs["description"] = (
        "5th percentile (more is better)" if better > 0 else "95th percentile (less is better)"
    )
    ds.attrs["draws_used"] = int(complete.sizes["draw"])
    return ds


def minimax_regret(criteria: xr.Dataset) -> str:
    """The strategy whose largest regret over the draws is smallest."""
    return str(criteria["max_regret"].idxmin("strategy").item())


def best_worst_case(criteria: xr.Dataset, better: int) -> str:
    """The strategy with the best worst 5 %."""
    worst = criteria["worst5"] * better
    return str(worst.idxmax("strategy").item())


@dataclass(frozen=True)
class Box:
    """A PRIM box: the share of all cases of interest inside it (coverage), the share of its
    points that are cases of interest (density), its share of all points (mass), and the
    limits of the dimensions it restricts."""

    coverage: float
    density: float
    mass: float
    limits: dict[str, tuple[float, float]]

    @property
    def restricted(self) -> tuple[str, ...]:
        return tuple(self.limits)

    def describe(self) -> str:
        if not self.limits:
            return "no restriction"
        return ", ".join(f"{lo:.3g} ≤ {name} ≤ {hi:.3g}" for name, (lo, hi) in self.limits.items())


def _prim_module() -> Any:
    try:
        logging.getLogger("EMA").setLevel(logging.WARNING)
        with warnings.catch_warnings():  # its optional back-ends announce themselves
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim
    except ImportError:
        raise MissingDependencyError(
            "the report's scenario discovery needs the EMA Workbench; install it with "
            "pip install 'nea-sd[report]' (or pip install ema_workbench)"
        ) from None
    return prim


def prim_box(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8) -> Box | None:
    """The first box of the EMA Workbench's PRIM whose density reaches ``threshold``: on the
    peeling trajectory, the box of largest coverage at that density, keeping only the limits
    whose quasi-p value is significant (coverage, density and mass are those of the box so
    kept). None when the cases of interest are fewer than 5 or no box reaches the threshold."""
    y = np.asarray(y, dtype=bool)
    if y.sum() < 5 or (~y).sum() < 5:
        return None
    prim = _prim_module()
    finder = prim.Prim(x.reset_index(drop=True).astype(float), y, threshold=threshold)
    box = finder.find_box()
    if box is None:
        return None
    trajectory = box.peeling_trajectory
    ok = np.flatnonzero(trajectory["density"].to_numpy() >= threshold)
    if len(ok) == 0:
        return None
    i = int(ok[0])
    lims = box.box_lims[i]
    init = finder.box_init
    qp = box.qp[i]  # quasi-p values (Bryant & Lempert 2010) of each restricted limit
    limits = {}
    for name in x.columns:
        lo, hi = float(lims.loc[0, name]), float(lims.loc[1, name])
        if not (lo > float(init.loc[0, name]) or hi < float(init.loc[1, name])):
            continue
        values = [v for v in qp.get(name, []) if v is not None and v >= 0]
        if values and min(values) < SIGNIFICANT:
            limits[str(name)] = (lo, hi)
    # the box without its insignificant limits (edge peels that only trim noise)
    inside = np.ones(len(x), dtype=bool)
    for name, (lo, hi) in limits.items():
        column = x[name].to_numpy(dtype=float)
        inside &= (column >= lo) & (column <= hi)
    coverage = float(y[inside].sum() / y.sum())
    density = float(y[inside].mean()) if inside.any() else float("nan")
    return Box(coverage, density, float(inside.mean()), limits)
