"""Fit statistics for a simulated series against data, with Theil's MSE decomposition.

Sterman (1984, "Appropriate summary statistics for evaluating the historical fit of system
dynamics models") splits the mean-squared error into bias (U^M), unequal variation (U^S) and
unequal covariation (U^C). Which one dominates tells whether a poor fit is systematic (a wrong
level or amplitude, worth fixing) or unsystematic (noise and cycles the model is not meant to
reproduce point by point). Population moments are used throughout, as Sterman does, so that

    MSE = (mean_s - mean_a)^2 + (S_s - S_a)^2 + 2 (1 - r) S_s S_a    exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.errors import InvalidValueError


@dataclass(frozen=True)
class FitStatistics:
    """Summary of how a simulated series ``s`` matches actual data ``a`` on paired points.

    Fields:
        n: number of paired points (both finite); the others are ignored.
        mse, rmse: mean squared error and its root, in the data's units.
        mape: mean absolute percent error, 100 * mean(|s - a| / |a|); NaN when some a == 0.
        r: Pearson correlation of s and a (NaN when either is constant).
        r2: the squared correlation, as in Sterman's table — blind to bias, read with U^M.
        efficiency: 1 - SSE / SS_tot(a) (Nash-Sutcliffe; the R² of an identity fit, may be < 0).
        mean_sim, mean_act, sd_sim, sd_act: population means and standard deviations.
        um, us, uc: Theil's shares of MSE from bias, unequal variation and unequal
            covariation; they sum to 1 (all NaN for a perfect fit, MSE == 0).
    """

    n: int
    mse: float
    rmse: float
    mape: float
    r: float
    r2: float
    efficiency: float
    mean_sim: float
    mean_act: float
    sd_sim: float
    sd_act: float
    um: float
    us: float
    uc: float

    def to_series(self) -> pd.Series:
        return pd.Series(asdict(self))

    def __str__(self) -> str:
        return (
            f"n={self.n}  RMSE={self.rmse:.4g}  MAPE={self.mape:.3g}%  R²={self.r2:.3f}  "
            f"Theil: U^M={self.um:.3f} (bias)  U^S={self.us:.3f} (variation)  "
            f"U^C={self.uc:.3f} (covariation)"
        )

    def _repr_html_(self) -> str:
        labels = {
            "um": "U^M (bias)",
            "us": "U^S (unequal variation)",
            "uc": "U^C (unequal covariation)",
            "r2": "R² (squared correlation)",
            "mape": "MAPE (%)",
        }
        rows = "".join(
            f"<tr><th style='text-align:left'>{labels.get(k, k)}</th><td>{v:.4g}</td></tr>"
            for k, v in asdict(self).items()
        )
        return f"<table>{rows}</table>"


def paired(simulated: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points where both series are finite; a shape mismatch is an error."""
    s = np.asarray(simulated, dtype=float)
    a = np.asarray(actual, dtype=float)
    if s.shape != a.shape or s.ndim != 1:
        raise InvalidValueError(
            f"simulated {s.shape} and actual {a.shape} must be 1-D of the same length"
        )
    keep = np.isfinite(s) & np.isfinite(a)
    return s[keep], a[keep]


def _moments(s: np.ndarray, a: np.ndarray, axis: int = -1) -> dict[str, np.ndarray]:
    """The decomposition on the last axis; ``s`` and ``a`` already paired and broadcastable."""
    n = a.shape[axis]
    err = s - a
    mse = np.mean(err**2, axis=axis)
    ms, ma = s.mean(axis=axis), a.mean(axis=axis)
    ss, sa = s.std(axis=axis), a.std(axis=axis)  # population (ddof=0), as Sterman
    cov = np.mean((s - np.expand_dims(ms, axis)) * (a - np.expand_dims(ma, axis)), axis=axis)
    bias = (ms - ma) ** 2
    variation = (ss - sa) ** 2
    covariation = 2 * (ss * sa - cov)  # = 2 (1 - r) S_s S_a, defined even when r is not
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / (ss * sa)
        r = np.where((ss > 0) & (sa > 0), r, np.nan)
        share = np.where(mse > 0, 1.0, np.nan) / np.where(mse > 0, mse, 1.0)
        ape = np.abs(err) / np.abs(a)
        mape = 100 * np.mean(ape, axis=axis)
        mape = np.where(np.all(a != 0, axis=axis), mape, np.nan)
        sstot = np.sum((a - np.expand_dims(ma, axis)) ** 2, axis=axis)
        efficiency = np.where(sstot > 0, 1 - n * mse / np.where(sstot > 0, sstot, 1), np.nan)
    return {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mape": mape,
        "r": r,
        "r2": r**2,
        "efficiency": efficiency,
        "mean_sim": np.broadcast_to(ms, mse.shape),
        "mean_act": np.broadcast_to(ma, mse.shape),
        "sd_sim": np.broadcast_to(ss, mse.shape),
        "sd_act": np.broadcast_to(sa, mse.shape),
        "um": bias * share,
        "us": variation * share,
        "uc": covariation * share,
    }


def paired_moments(simulated: np.ndarray, actual: np.ndarray) -> dict[str, np.ndarray]:
    """:class:`FitStatistics`' fields but ``n`` over the last axis of already paired, broadcast-
    able arrays (many replicates at once; no missing points)."""
    return _moments(np.asarray(simulated, dtype=float), np.asarray(actual, dtype=float))


def fit_statistics(simulated: np.ndarray, actual: np.ndarray) -> FitStatistics:
    """RMSE, MAPE, R² and Theil's U^M/U^S/U^C on the paired finite points of two 1-D series."""
    s, a = paired(simulated, actual)
    if s.size < 2:
        raise InvalidValueError(
            f"fit statistics need at least 2 paired (non-missing) points; got {s.size}"
        )
    stats = {k: float(v) for k, v in _moments(s, a).items()}
    return FitStatistics(n=int(s.size), **stats)


def batch_fit_statistics(simulated: np.ndarray, actual: np.ndarray) -> xr.Dataset:
    """The same statistics for many runs at once: ``simulated`` is (runs, years).

    Points are paired on the data's missing values only (NaN in ``actual``); a NaN in a run
    makes that run's statistics NaN, since a diverged run should not look like a good fit.
    """
    s = np.asarray(simulated, dtype=float)
    a = np.asarray(actual, dtype=float)
    if s.ndim != 2 or a.ndim != 1 or s.shape[1] != a.shape[0]:
        raise InvalidValueError(
            f"simulated must be (runs, years) and actual (years,); got {s.shape} and {a.shape}"
        )
    keep = np.isfinite(a)
    if keep.sum() < 2:
        raise InvalidValueError(
            f"fit statistics need at least 2 paired (non-missing) points; got {int(keep.sum())}"
        )
    stats = _moments(s[:, keep], a[keep][None, :])
    data = {k: ("run", np.asarray(v, dtype=float)) for k, v in stats.items()}
    out = xr.Dataset(data, coords={"run": np.arange(s.shape[0])})
    out.attrs["n"] = int(keep.sum())
    return out
