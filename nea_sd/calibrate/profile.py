"""Profile-likelihood intervals: fix one parameter on a grid, re-optimise all the others.

The 95 % interval is where Δ(−2 log L) against the best fit stays below the threshold:
χ²₁(0.95) = 3.84 (Wilks) with the spec's σ, F(1, ν) on the effective degrees of freedom when
the error model was estimated (:mod:`nea_sd.calibrate.noise`). Labels:

- ``identified``: the profile crosses on both sides, Wald CV ≤ 50 %, ≥ 3 grid points inside;
- ``weakly identified (...)``: it crosses on both sides but the Wald CV is above 50 % or
  fewer than 3 grid points lie inside (an interval interpolated across a coarse grid), or it
  crosses on one side only while the estimate is inside the bounds;
- ``bound-active (...)``: the estimate sits on a bound and the data push against it (the
  profile rises away from it): a sign of wrong structure or a wrong bound, not a fitted value;
- ``flat``: no crossing on either side; the parameter belongs with the scenario axes.

All grid points of all parameters are re-optimised together, sharing one batch per iteration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.fit import FitResult, _Space, beats, local_tasks, objective
from nea_sd.calibrate.pool import run_tasks
from nea_sd.calibrate.problem import Setup
from nea_sd.errors import UnknownNameError, unknown_name

THRESHOLD = float(chi2.ppf(0.95, 1))  # 3.841


@dataclass(frozen=True)
class ParameterProfile:
    """The profile of one parameter.

    Fields: ``grid`` (values, increasing) and ``delta`` (Δ(−2 log L) against the best fit at
    each value, others re-optimised); ``lower``/``upper``: the 95 % interval (the bound where
    the profile does not cross); ``status``: ``identified``, ``one-sided (…)`` or ``flat``.
    """

    name: str
    estimate: float
    grid: tuple[float, ...]
    delta: tuple[float, ...]
    lower: float
    upper: float
    status: str

    @property
    def identified(self) -> bool:
        return self.status == "identified"

    def __str__(self) -> str:
        return (
            f"{self.name}: {self.estimate:.4g}, 95% [{self.lower:.4g}, {self.upper:.4g}] "
            f"({self.status})"
        )

    def _repr_html_(self) -> str:
        rows = [[g, d] for g, d in zip(self.grid, self.delta, strict=True)]
        return html_table(("value", "Δ(−2 log L)"), rows, str(self))


@dataclass(frozen=True)
class Profiles:
    """Profiles of the free parameters at a fit; ``improved`` is True when a grid point
    beat the fit by more than the search's tolerance (:func:`nea_sd.calibrate.fit.beats`: the
    optimum was not global): ``best_point`` is then that point, a start for
    :func:`nea_sd.calibrate.fit.refine`."""

    spec: str
    threshold: float
    profiles: tuple[ParameterProfile, ...]
    best_neg_log_likelihood: float
    improved: bool
    best_point: tuple[float, ...] = ()
    fit_neg_log_likelihood: float = math.nan

    def __getitem__(self, name: str) -> ParameterProfile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise unknown_name("profiled parameter", name, [p.name for p in self.profiles])

    @property
    def not_identified(self) -> list[str]:
        return [p.name for p in self.profiles if not p.identified]

    def _rows(self) -> list[list[object]]:
        return [[p.name, p.estimate, p.lower, p.upper, p.status] for p in self.profiles]

    HEADER = ("parameter", "estimate", "95% lower", "95% upper", "identifiability")

    def __str__(self) -> str:
        gain = self.fit_neg_log_likelihood - self.best_neg_log_likelihood
        if self.improved:
            note = f"\n(a grid point beat the fit by {gain:.3g} in -log L: not the global optimum)"
        elif gain > 0:
            note = f"\n(a grid point matched the fit within the search's tolerance: {gain:.2g})"
        else:
            note = ""
        return (
            f"[[Profile likelihood]] {self.spec}: Δ(-2 log L) < {self.threshold:.2f}\n"
            + text_table(self.HEADER, self._rows())
            + note
        )

    def _repr_html_(self) -> str:
        return html_table(
            self.HEADER,
            self._rows(),
            f"Profile-likelihood 95% intervals (Δ(−2 log L) < {self.threshold:.2f})",
        )


def default_grid(lo: float, hi: float, est: float, se: float, n: int) -> np.ndarray:
    """Evenly over the bounds, plus points at ±1, 2, 3 standard errors around the estimate."""
    grid = list(np.linspace(lo, hi, n))
    if math.isfinite(se) and se > 0:
        grid += [est + c * se for c in (-3, -2, -1, 1, 2, 3)]
    grid = np.clip(np.array(grid), lo, hi)
    return np.unique(np.round(grid, 12))


def profile(
    setup: Setup,
    result: FitResult,
    *,
    names: Sequence[str] | None = None,
    points: int = 11,
    max_nfev: int | None = None,
    threshold: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Profiles:
    """Profile each named parameter (default all) over ``points`` grid values plus points
    at multiples of its Wald standard error; the others are re-optimised at each point,
    walking outward from the estimate. All parameters' walks share the batches.

    ``threshold``: Δ(−2 log L) of the 95 % interval; default F(1, ν) when ``result`` carries
    an estimated error model (:func:`nea_sd.calibrate.noise.result_threshold`), else 3.84.
    """
    if threshold is None:
        from nea_sd.calibrate.noise import result_threshold

        threshold = result_threshold(result)
    spec, problem = setup.spec, setup.problem
    names = list(names or spec.names)
    for n in names:
        if n not in spec.names:
            raise UnknownNameError(str(unknown_name("free parameter", n, spec.names)))
    bounds = spec.bounds
    x0 = np.array(result.estimates)
    local = "least_squares" if problem.whitenable else "minimize"
    chains: list[tuple[int, list[float]]] = []
    for name in names:
        j = spec.names.index(name)
        grid = default_grid(bounds[j, 0], bounds[j, 1], x0[j], result.stderr[j], points)
        below = sorted((float(v) for v in grid if v < x0[j]), reverse=True)
        above = sorted(float(v) for v in grid if v >= x0[j])
        chains += [(j, side) for side in (below, above) if side]
    tasks = [
        _chain_task(*objective(setup, result.links, hold=j), bounds, x0, j, side, local, max_nfev)
        for j, side in chains
    ]
    raw = run_tasks(setup.simulator.run, tasks, on_batch=on_batch)
    plan = [(j, v) for j, side in chains for v in side]
    X = np.array([x for chain in raw for x in chain]).reshape(len(plan), len(x0))
    nll = -problem.log_likelihood(setup.simulator.run(X), X)
    best = min(
        float(-result.log_likelihood), float(np.nanmin(np.where(np.isfinite(nll), nll, np.inf)))
    )
    improved = beats(best, -result.log_likelihood)
    finite = np.where(np.isfinite(nll), nll, np.inf)
    best_point = tuple(float(v) for v in (X[int(np.argmin(finite))] if improved else x0))
    out = []
    plan_j = np.array([j for j, _ in plan])
    values = np.array([v for _, v in plan])
    for name in names:
        j = spec.names.index(name)
        sel = plan_j == j
        grid = np.concatenate([values[sel], [x0[j]]])
        delta = np.concatenate([2 * (nll[sel] - best), [2 * (-result.log_likelihood - best)]])
        order = np.argsort(grid, kind="stable")
        grid, delta = grid[order], np.where(np.isfinite(delta[order]), delta[order], np.inf)
        grid, keep = np.unique(grid, return_index=True)
        delta = delta[keep]
        se = result.stderr_scaled[j]
        out.append(_interval(name, x0[j], grid, delta, bounds[j], threshold, se))
    return Profiles(
        spec.path.name,
        threshold,
        tuple(out),
        best,
        bool(improved),
        best_point,
        fit_neg_log_likelihood=float(-result.log_likelihood),
    )


def _chain_task(problem, inner, bounds, x0, j, values, local, max_nfev):
    """Walk outward from the estimate along one side of the grid, each point re-optimised
    from the previous point's solution (continuation: it follows a ridge that a start from
    the estimate would miss). ``problem`` and ``inner`` from :func:`objective`: the
    constants it maximises in closed form come back at their maximum."""

    def task(evaluate):
        x = np.array(x0, dtype=float)
        out = []
        for value in values:
            space = _Space(bounds, fixed={**inner, j: value})
            if len(space.free):
                (run,) = local_tasks(problem, space, space.to_u(x)[None], local, max_nfev)
                res, _ = run(evaluate)
                x = space.to_x(res.x[None])[0]
            else:  # one free parameter: its profile is its likelihood
                x = space.to_x(np.empty((1, 0)))[0]
            if inner:
                x = problem.concentrate(evaluate(x[None]), x[None])[0]
            out.append(x)
        return out

    return task


MIN_INSIDE = 3  # grid points inside an interval for it to be more than an interpolation
MAX_CV = 0.5  # Wald standard error over |estimate| above which a value is weakly identified


def _interval(
    name: str,
    est: float,
    grid: np.ndarray,
    delta: np.ndarray,
    bounds,
    threshold: float = THRESHOLD,
    se: float = float("nan"),
) -> ParameterProfile:
    """Crossings of the threshold on each side of the profile's minimum (linear
    interpolation) and the label (module docstring)."""
    i0 = int(np.argmin(delta))
    lower = upper = None
    for i in range(i0, 0, -1):
        if delta[i - 1] >= threshold:
            lower = _cross(grid[i - 1], grid[i], delta[i - 1], delta[i], threshold)
            break
    for i in range(i0, len(grid) - 1):
        if delta[i + 1] >= threshold:
            upper = _cross(grid[i + 1], grid[i], delta[i + 1], delta[i], threshold)
            break
    lo_b, hi_b = float(bounds[0]), float(bounds[1])
    near = 1e-3 * (hi_b - lo_b)
    if lower is not None and upper is not None:
        inside = int(np.sum((grid > lower) & (grid < upper) & (np.abs(grid - est) > 1e-12)))
        cv = abs(se / est) if est != 0 and math.isfinite(se) else float("inf")
        if not math.isfinite(se) or cv > MAX_CV:
            status = "weakly identified (Wald CV " + (
                f"{100 * cv:.0f}%)" if math.isfinite(cv) else "undefined)"
            )
        elif inside < MIN_INSIDE:
            status = f"weakly identified (only {inside} profile points inside the interval)"
        else:
            status = "identified"
    elif lower is None and upper is None:
        status = "flat"
    elif lower is None and est - lo_b <= near:
        status = f"bound-active (lower bound {lo_b:g}; the data push below it)"
    elif upper is None and hi_b - est <= near:
        status = f"bound-active (upper bound {hi_b:g}; the data push above it)"
    else:
        status = f"weakly identified (one-sided: no {'lower' if lower is None else 'upper'} limit)"
    return ParameterProfile(
        name=name,
        estimate=float(est),
        grid=tuple(float(g) for g in grid),
        delta=tuple(float(d) for d in delta),
        lower=float(lo_b if lower is None else lower),
        upper=float(hi_b if upper is None else upper),
        status=status,
    )


def _cross(
    x_out: float, x_in: float, d_out: float, d_in: float, threshold: float = THRESHOLD
) -> float:
    if not math.isfinite(d_out) or d_out == d_in:
        return float(x_out if not math.isfinite(d_out) else x_in)
    t = (threshold - d_in) / (d_out - d_in)
    return float(x_in + min(max(t, 0.0), 1.0) * (x_out - x_in))
