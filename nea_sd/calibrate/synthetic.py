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


def noisy(obs, pred: np.ndarray, flags: dict, rng: np.random.Generator) -> np.ndarray:
    """One draw of data around ``pred`` (points,) from the observation's error model."""
    err = obs.error
    if isinstance(err, LogNormal):
        return pred * np.exp(err.sigmas(pred.size, flags) * rng.standard_normal(pred.size))
    if isinstance(err, LogitNormal):
        z = rng.standard_normal(pred.size)
        return err.scale * expit(logit(pred / err.scale) + np.asarray(err.sigma) * z)
    if isinstance(err, Normal):
        return pred + np.asarray(err.sigma) * rng.standard_normal(pred.size)
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
) -> CalibrationSpec:
    """``setup.spec`` with every series replaced by model-at-``truth`` plus error, on the same
    years (fit and held-out). ``outputs`` (the model at ``truth``) saves a simulation."""
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
                values.append(noisy(obs, pred[0], flags, rng))
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
