"""Synthetic data: a spec whose series are the model at known parameters plus observation error.

The independent truth for testing the estimators: fit the synthetic data and the estimates
must come back, the intervals must cover the truth at their nominal rate, and Bayesian
posteriors must pass simulation-based calibration (Talts et al. 2018).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import expit, logit

from nea_sd.calibrate.observation import (
    Binomial,
    Index,
    LogitNormal,
    LogNormal,
    Normal,
    Poisson,
)
from nea_sd.calibrate.problem import Outputs, Problem, Setup
from nea_sd.calibrate.spec import CalibrationSpec
from nea_sd.errors import InvalidValueError


def ar1_normal(
    years: np.ndarray, rho: float, rng: np.random.Generator, size: int | None = None
) -> np.ndarray:
    """Stationary AR(1) draws with unit variance at ``years`` (a gap of d years: rho**d);
    ``size`` independent paths as rows (size, years), one path (years,) without it."""
    years = np.asarray(years, dtype=float)
    z = rng.standard_normal(years.size if size is None else (size, years.size))
    out = np.empty_like(z)
    for i in range(years.size):
        if i == 0:
            out[..., i] = z[..., i]
        else:
            r = rho ** (years[i] - years[i - 1])
            out[..., i] = r * out[..., i - 1] + np.sqrt(1 - r**2) * z[..., i]
    return out


def noisy(
    obs,
    pred: np.ndarray,
    flags: dict,
    rng: np.random.Generator,
    *,
    years: np.ndarray | None = None,
    ar1: float = 0.0,
    scale: float = 1.0,
) -> np.ndarray:
    """One draw of data around ``pred`` from the observation's error model; with ``ar1`` the
    Gaussian errors are AR(1) over ``years``, with ``scale`` their σ is scaled. ``pred`` is
    (points,) for one draw or (draws, points) for one independent draw per row."""
    err = obs.error
    pred = np.asarray(pred, dtype=float)
    size = pred.shape[0] if pred.ndim == 2 else None
    n = pred.shape[-1]
    gaussian = isinstance(err, LogNormal | LogitNormal | Normal)
    if (ar1 or scale != 1.0) and not gaussian:
        raise InvalidValueError(f"no AR(1) or scaled synthetic data for {type(err).__name__}")
    if ar1:
        z = scale * ar1_normal(np.arange(n) if years is None else years, ar1, rng, size)
    elif gaussian:
        z = scale * rng.standard_normal(pred.shape)
    if isinstance(err, LogNormal):
        return pred * np.exp(err.sigmas(n, flags) * z)
    if isinstance(err, LogitNormal):
        return err.scale * expit(logit(pred / err.scale) + np.asarray(err.sigma) * z)
    if isinstance(err, Normal):
        return pred + np.asarray(err.sigma) * z
    ok = np.isfinite(pred)  # a diverged draw gives no data, not an error
    if isinstance(err, Poisson):
        k = rng.poisson(np.where(ok, np.maximum(pred, 0), 0)).astype(float)
        return np.where(ok, k, np.nan)
    if isinstance(err, Binomial):
        n_resp = np.asarray(err.n, dtype=float)
        k = rng.binomial(n_resp.astype(int), np.where(ok, np.clip(pred / err.scale, 0, 1), 0))
        return np.where(ok, err.scale * k / n_resp, np.nan)
    raise InvalidValueError(f"no synthetic data for {type(err).__name__} errors")


def replicate(obs, pred: np.ndarray, flags: dict, rng: np.random.Generator, years) -> np.ndarray:
    """Data as the observation's own error model would give it around ``pred`` (draws, points):
    the σ scale and AR(1) correlation a fit estimated (``obs.scale``, ``obs.ar1``) included,
    so predictive bands and checks see the noise the likelihood assumed."""
    return noisy(obs, pred, flags, rng, years=years, ar1=obs.ar1, scale=obs.scale)


def synthetic_spec(
    setup: Setup,
    truth: np.ndarray,
    rng: np.random.Generator,
    outputs: Outputs | None = None,
    *,
    ar1: float | None = None,
    scale: float | None = None,
) -> CalibrationSpec:
    """``setup.spec`` with every series replaced by model-at-``truth`` plus error, on the same
    years (fit and held-out). ``outputs`` (the model at ``truth``) saves a simulation.
    ``ar1``/``scale``: AR(1) errors over the years, σ times ``scale`` (see :func:`noisy`);
    by default each observation's own (1 and 0 unless a fit estimated them)."""
    X = np.atleast_2d(np.asarray(truth, dtype=float))
    if outputs is None:
        outputs = setup.simulator.run(X)
    problem = setup.problem
    parts = [problem.predictions(outputs, X), problem.predictions(outputs, X, holdout=True)]
    observations = []
    for obs in setup.spec.observations:
        if isinstance(obs.link, Index):
            raise InvalidValueError(f"observation {obs.name!r}: no synthetic data for index links")
        years, values, flags_all = [], [], {}
        for p in parts:
            if obs.name in p:
                y, pred, _, flags = p[obs.name]
                years.append(y)
                own = (obs.ar1 if ar1 is None else ar1, obs.scale if scale is None else scale)
                values.append(noisy(obs, pred[0], flags, rng, years=y, ar1=own[0], scale=own[1]))
                for key, v in flags.items():
                    flags_all.setdefault(key, []).append(v)
        y = np.concatenate(years)
        order = np.argsort(y)
        series = replace(
            obs.series,
            name=f"synthetic:{obs.series.name}",
            years=y[order],
            values=np.concatenate(values)[order],
            flags={k: np.concatenate(v)[order] for k, v in flags_all.items()},
            notes=("synthetic: model at known parameters plus observation error",),
        )
        observations.append(replace(obs, series=series))
    return replace(setup.spec, observations=tuple(observations))


def redrawn(
    setup: Setup, truth: np.ndarray, rng: np.random.Generator, n: int, outputs: Outputs
) -> list[Setup]:
    """``n`` setups on the same simulator, each scored against its own record drawn around
    ``truth`` (``outputs``: the model at ``truth``) with each observation's error model: the
    replicates of a parametric bootstrap."""
    return [with_spec(setup, synthetic_spec(setup, truth, rng, outputs)) for _ in range(n)]


def with_spec(setup: Setup, spec: CalibrationSpec) -> Setup:
    """The same simulator scored against another data set (synthetic replicate)."""
    return Setup(spec, setup.model, setup.simulator, Problem(spec))


def on_years(spec: CalibrationSpec, years: np.ndarray) -> CalibrationSpec:
    """``spec`` with every series replaced by a placeholder on ``years`` (values 1, no flags),
    and those years as the fit period: the frame of a longer synthetic data set."""
    years = np.asarray(years, dtype=np.int64)
    observations = tuple(
        replace(
            o,
            series=replace(o.series, years=years, values=np.ones(years.size), flags={}, breaks=()),
            fit_period=None,
            holdout_period=None,
        )
        for o in spec.observations
    )
    period = (int(years.min()), int(years.max()))
    return replace(spec, observations=observations, fit_period=period, holdout_period=None)
