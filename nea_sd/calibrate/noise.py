"""The honest error model: per-series error scales and AR(1) residuals, estimated from the fit.

A spec's σ is a guess. At the maximum-likelihood point the standardized residuals of each
Gaussian series say how large the errors really are (scale ĉ, with the series' share of the
fitted degrees of freedom) and how much one year's error carries into the next (lag-one
correlation ρ̂ of annual residuals, small-sample bias corrected). :func:`honest_fit` puts both
into the likelihood (feasible generalised least squares: estimate, refit, estimate again), so
Wald errors, profile thresholds (χ²₁ on the rescaled likelihood) and posteriors are as wide as
the misfit and the autocorrelation say, instead of reduced χ² times too narrow.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from nea_sd.calibrate._report import text_table
from nea_sd.calibrate.fit import FitResult, StartResult, fit
from nea_sd.calibrate.observation import GAUSSIAN, Observation
from nea_sd.calibrate.problem import Problem, Setup
from nea_sd.calibrate.spec import CalibrationSpec

RHO_MAX = 0.95  # beyond this the AR(1) has no stationary scale worth the name
MIN_PAIRS = 5  # consecutive-year residual pairs needed to estimate ρ (else ρ = 0)


@dataclass(frozen=True)
class SeriesNoise:
    """The estimated error model of one observation.

    Fields: ``n`` fitted points; ``dof`` their share of the residual degrees of freedom;
    ``scale`` (ĉ: multiplies the spec's σ; 1 for count and binomial errors, not estimated);
    ``ar1`` (ρ̂ of annual residuals; 0 when fewer than MIN_PAIRS consecutive years);
    ``estimated``: False for error models without a scale (Poisson, binomial).
    """

    name: str
    n: int
    dof: float
    scale: float
    ar1: float
    estimated: bool = True


def _consecutive_pairs(z: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(z)
    z, years = z[ok], years[ok]
    step = np.diff(years) == 1
    return z[:-1][step], z[1:][step]


def estimate_noise(
    setup: Setup, x: Sequence[float], *, ar1: bool = True
) -> tuple[SeriesNoise, ...]:
    """Scale and AR(1) of each observation's standardized residuals at ``x`` (fit period),
    with the spec's σ (scale 1, ρ 0) as the reference: ĉ² = Σ z² / (n − kₛ(1+ρ)/(1−ρ)),
    kₛ = k·n/N the series' share of the parameters (fitting a level to AR(1) errors removes
    (1+ρ)/(1−ρ) points' worth of their variance, not one; at most half the points)."""
    X = np.atleast_2d(np.asarray(x, dtype=float))
    spec = setup.spec
    preds = setup.problem.predictions(setup.simulator.run(X), X)
    k = len(spec.names)
    total = sum(len(p[0]) for p in preds.values())
    out = []
    for obs in spec.observations:
        if obs.name not in preds:
            continue
        years, pred, data, flags = preds[obs.name]
        if not isinstance(obs.error, GAUSSIAN):
            out.append(SeriesNoise(obs.name, len(years), float("nan"), 1.0, 0.0, False))
            continue
        z = np.asarray(obs.error.standardized(pred[0], data, flags), dtype=float)
        finite = z[np.isfinite(z)]
        n = finite.size
        rho = 0.0
        centred = z - (finite.mean() if n else 0.0)  # ρ of the swings, not of a level bias
        a, b = _consecutive_pairs(centred, years.astype(float))
        if ar1 and a.size >= MIN_PAIRS and np.nansum(centred**2) > 0:
            raw = float(np.sum(a * b) / np.nansum(centred**2) * n / max(n - 1, 1))
            # Marriott-Pope: the lag-one estimate is biased low by about (1 + 3ρ)/n
            rho = float(np.clip(raw + (1 + 3 * raw) / n, -RHO_MAX, RHO_MAX))
        share = k * n / max(total, 1) * (1 + max(rho, 0.0)) / (1 - max(rho, 0.0))
        dof = max(n - share, n / 2, 1.0)
        scale = math.sqrt(float(np.sum(finite**2)) / dof) if n else 1.0
        out.append(SeriesNoise(obs.name, n, float(dof), float(max(scale, 1e-6)), rho))
    return tuple(out)


def effective_dof(noise: Sequence[SeriesNoise], k: int) -> float:
    """Residual degrees of freedom the estimated scales rest on: Σ n(1−ρ)/(1+ρ) − k, the
    AR(1) effective sample sizes less the free parameters (at least 1)."""
    n_eff = sum(s.n * (1 - s.ar1) / (1 + s.ar1) if s.estimated else 0.0 for s in noise if s.n > 0)
    return float(max(n_eff - k, 1.0))


def interval_quantile(noise: Sequence[SeriesNoise], k: int, level: float = 0.95) -> float:
    """Multiplier of a Wald standard error for a ``level`` interval: Student's t on
    :func:`effective_dof` when scales were estimated (their own uncertainty), else normal."""
    if not any(s.estimated for s in noise):
        return float(stats.norm.ppf(0.5 + level / 2))
    return float(stats.t.ppf(0.5 + level / 2, effective_dof(noise, k)))


def profile_threshold(noise: Sequence[SeriesNoise], k: int, level: float = 0.95) -> float:
    """Δ(−2 log L) threshold of a ``level`` profile interval: F(1, ν) = t_ν² with ν the
    :func:`effective_dof` when scales were estimated, else χ²₁ (3.84 at 95 %)."""
    return interval_quantile(noise, k, level) ** 2


def result_threshold(result: FitResult, level: float = 0.95) -> float:
    """The Δ(−2 log L) threshold for ``result``: :func:`profile_threshold` of its error model
    (χ²₁ when the spec's σ were used). One rule for its profiles and for counting the optima
    that compete with its best, with or without profiles."""
    return profile_threshold(result.noise, len(result.names), level)


def with_noise(spec: CalibrationSpec, noise: Sequence[SeriesNoise]) -> CalibrationSpec:
    """``spec`` with each observation's scale and AR(1) set from ``noise``."""
    by_name = {s.name: s for s in noise}
    observations: list[Observation] = []
    for obs in spec.observations:
        s = by_name.get(obs.name)
        if s is None or not s.estimated:
            observations.append(obs)
        else:
            observations.append(dataclasses.replace(obs, scale=s.scale, ar1=s.ar1))
    return dataclasses.replace(spec, observations=tuple(observations))


def noise_table(noise: Sequence[SeriesNoise]) -> str:
    rows = [
        [s.name, s.n, s.dof, s.scale if s.estimated else "—", s.ar1 if s.estimated else "—"]
        for s in noise
    ]
    return "[[Error model]] estimated per series (scale multiplies the spec's sigma)\n" + (
        text_table(("series", "n", "dof", "scale", "AR(1) rho"), rows)
    )


def honest_fit(
    setup: Setup,
    result: FitResult,
    *,
    ar1: bool = True,
    iterations: int = 2,
    max_nfev: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[Setup, FitResult, tuple[SeriesNoise, ...]]:
    """Estimate the error model at ``result``, refit under it from the best distinct optima,
    and repeat ``iterations`` times. Returns the rescaled setup (profile and sample with it),
    the refit and the error model.

    The last refit starts from every distinct optimum of ``result`` that scores within
    ``POLISH_MARGIN`` of the best under the final likelihood, so the optima the result counts
    are optima of that likelihood; every start of ``result`` stays listed, scored under it and
    marked ``rescored``."""
    from nea_sd.calibrate.synthetic import with_spec

    base = setup
    current = result
    noise: tuple[SeriesNoise, ...] = ()
    rescaled = setup
    rounds = max(iterations, 1)
    for i in range(rounds):
        noise = estimate_noise(base, current.estimates, ar1=ar1)
        rescaled = with_spec(base, with_noise(base.spec, noise))
        scored = _rescore(rescaled, result.starts)
        if i < rounds - 1:
            starts = [current.starts[g[0]].estimate for g in current.optima()[:5]]
        else:
            starts = _contenders(result, scored)
        if list(current.estimates) not in [list(s) for s in starts]:
            starts.insert(0, tuple(current.estimates))
        new = fit(
            rescaled,
            starts=0,
            initial=starts,
            seed=result.seed,
            method="minimize" if result.method == "minimize" else None,
            max_nfev=max_nfev,
            links=result.links,
            on_batch=on_batch,
        )
        current = dataclasses.replace(
            new,
            method=result.method,
            starts=tuple(sorted([*new.starts, *scored], key=lambda s: s.neg_log_likelihood)),
            simulations=current.simulations + new.simulations,
            batches=current.batches + new.batches,
            elapsed=current.elapsed + new.elapsed,
        )
    return rescaled, dataclasses.replace(current, noise=noise), noise


# −log L above the best re-scored optimum within which the last refit re-optimises a distinct
# optimum: far beyond any profile threshold (Δ(−2 log L) ≈ 4–8), so no optimum that could count
# as a competitor after re-optimisation is left out
POLISH_MARGIN = 10.0


def _contenders(result: FitResult, scored: Sequence[StartResult]) -> list[tuple[float, ...]]:
    """Estimates of ``result``'s distinct optima whose re-scored −log L (``scored``, in the
    order of ``result.starts``) lies within ``POLISH_MARGIN`` of the best of them."""
    reps = [g[0] for g in result.optima()]
    values = [scored[i].neg_log_likelihood for i in reps]
    best = min((v for v in values if math.isfinite(v)), default=math.inf)
    return [
        scored[i].estimate for i, v in zip(reps, values, strict=True) if v <= best + POLISH_MARGIN
    ]


def _rescore(setup: Setup, original: Sequence[StartResult]) -> list[StartResult]:
    """The starts' optima scored under the rescaled likelihood, in their order, marked as
    re-scored (they are optima of the old likelihood, not of this one)."""
    problem: Problem = setup.problem
    X = np.array([s.estimate for s in original])
    nll = -problem.log_likelihood(setup.simulator.run(X), X)
    return [
        dataclasses.replace(
            s,
            neg_log_likelihood=float(v) if np.isfinite(v) else math.inf,
            rescored=True,
        )
        for s, v in zip(original, nll, strict=True)
    ]
