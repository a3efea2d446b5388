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


def ar1_normal(years: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) draws with unit variance at ``years`` (a gap of d years: rho**d)."""
    years = np.asarray(years, dtype=float)
    z = rng.standard_normal(years.size)
    out = np.empty(years.size)
    for i in range(years.size):
        if i == 0:
            out[i] = z[i]
        else:
            r = rho ** (years[i] - years[i - 1])
            out[i] = r * out[i - 1] + np.sqrt(1 - r**2) * z[i]
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
    """One draw of data around ``pred`` (points,) from the observation's error model; with
    ``ar1`` the Gaussian errors are AR(1) over ``years``, with ``scale`` their σ is scaled."""
    err = obs.error
    gaussian = isinstance(err, LogNormal | LogitNormal | Normal)
    if (ar1 or scale != 1.0) and not gaussian:
        raise InvalidValueError(f"no AR(1) or scaled synthetic data for {type(err).__name__}")
    if ar1:
        z = scale * ar1_normal(np.arange(pred.size) if years is None else years, ar1, rng)
    elif gaussian:
        z = scale * rng.standard_normal(pred.size)
    if isinstance(err, LogNormal):
        return pred * np.exp(err.sigmas(pred.size, flags) * z)
    if isinstance(err, LogitNormal):
        return err.scale * expit(logit(pred / err.scale) + np.asarray(err.sigma) * z)
    if isinstance(err, Normal):
        return pred + np.asarray(err.sigma) * z
    if isinstance(err, Poisson):
        return rng.poisson(np.maximum(pred, 0)).astype(float)
    if isinstance(err, Binomial):
        n = np.asarray(err.n, dtype=float)
        k = rng.binomial(n.astype(int), np.clip(pred / err.scale, 0, 1))
        return err.scale * k / n
    raise InvalidValueError(f"no synthetic data for {type(err).__name__} errors")


def synthetic_spec(
    setup: Setup,
    truth: np.ndarray,
    rng: np.random.Generator,
    outputs: Outputs | None = None,
    *,
    ar1: float = 0.0,
    scale: float = 1.0,
) -> CalibrationSpec:
    """``setup.spec`` with every series replaced by model-at-``truth`` plus error, on the same
    years (fit and held-out). ``outputs`` (the model at ``truth``) saves a simulation.
    ``ar1``/``scale``: AR(1) errors over the years, σ times ``scale`` (see :func:`noisy`)."""
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
                values.append(noisy(obs, pred[0], flags, rng, years=y, ar1=ar1, scale=scale))
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
