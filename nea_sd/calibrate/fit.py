"""Maximum-likelihood point estimates from many Latin-hypercube starts.

Every start is a scipy optimiser — ``least_squares`` (trust-region reflective) on whitened
residuals when all error models allow it, else ``minimize`` (L-BFGS-B) on −log L — run in the
unit cube of the bounds. The starts share the batch engine through :mod:`pool`: each iteration
of all starts (their residuals and finite-difference Jacobians) is one vectorized simulation.
Each start's optimum is kept, so a multimodal likelihood shows as starts ending apart.
``method="differential_evolution"`` runs scipy's DE with the whole population in one batch,
then polishes its best member with the local optimiser.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution, least_squares, minimize
from scipy.stats import qmc

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.marginal import Profiled, check_links, target
from nea_sd.calibrate.pool import Evaluate, run_tasks
from nea_sd.calibrate.problem import Problem, Setup
from nea_sd.calibrate.stats import FitStatistics, fit_statistics
from nea_sd.errors import InvalidValueError, NeaSdError

METHODS = ("least_squares", "minimize", "differential_evolution")
# forward-difference step of the search, in the unit cube: large enough to step over the kinks
# that MIN/MAX/IF THEN ELSE put into a model's response (1e-5 crawled on nea.mdl)
FD_STEP = 3e-3
WALD_STEP = 1e-3  # central differences for the standard errors at the optimum
BIG = 1e12  # −log L reported to the optimiser for an impossible parameter set
# evaluations per start. 60 left 8 and 9 of 27 starts of the regional 2012-crisis fits short of
# convergence, and two of them were counted as competing optima; a start that still runs out is
# reported as not converged and never counted as an optimum (``FitResult.optima``)
MAX_NFEV = 240
FTOL = 1e-5  # the Euler kinks of MIN/MAX make the last steps crawl; 1e-5 of the cost is far
# below a unit of log L


def beats(candidate: float, fit: float) -> bool:
    """Whether a point with −log L ``candidate`` beats a fit at −log L ``fit`` by more than the
    search's own resolution (``FTOL`` of the cost): a smaller gain is the optimiser stopping,
    not a better optimum elsewhere, and a refit from it would only chase rounding."""
    return candidate < fit - FTOL * max(1.0, abs(fit))


class FitFailedError(NeaSdError):
    """No start reached a parameter set that can explain the data."""


@dataclass(frozen=True)
class StartResult:
    """One optimiser start.

    Fields: ``start`` and ``estimate`` (parameter values, spec order); ``neg_log_likelihood``
    at the estimate (fit period); ``success``/``message``/``evaluations`` from scipy;
    ``rescored``: the optimum of an earlier likelihood scored under the current one (by
    :func:`~nea_sd.calibrate.noise.honest_fit`), a point there, not an optimum.
    """

    start: tuple[float, ...]
    estimate: tuple[float, ...]
    neg_log_likelihood: float
    success: bool
    message: str
    evaluations: int
    rescored: bool = False

    def _repr_html_(self) -> str:
        rows = [[f"{a:.4g}", f"{b:.4g}"] for a, b in zip(self.start, self.estimate, strict=True)]
        cap = (
            f"Start: -log L {self.neg_log_likelihood:.4f}, "
            f"{'converged' if self.success else 'not converged'} ({self.evaluations} evals)"
        )
        return html_table(("start", "estimate"), rows, cap)


@dataclass(frozen=True)
class SeriesFit:
    """Fit statistics of one observation at the estimate, on the fit and held-out years."""

    name: str
    series: str
    variable: str
    fit: FitStatistics | None
    holdout: FitStatistics | None

    def __str__(self) -> str:
        return "\n".join(
            [f"{self.name} ({self.series} ~ {self.variable})"]
            + [
                f"  {label}: {st}"
                for label, st in (("fit", self.fit), ("held out", self.holdout))
                if st is not None
            ]
        )

    def _repr_html_(self) -> str:
        rows = [
            [label, st.n, st.rmse, st.mape, st.r2, st.um, st.us, st.uc]
            for label, st in (("fit", self.fit), ("holdout", self.holdout))
            if st is not None
        ]
        return html_table(
            ("period", "n", "RMSE", "MAPE %", "R²", "U^M", "U^S", "U^C"),
            rows,
            f"{self.name}: {self.series} ~ {self.variable}",
        )


@dataclass(frozen=True)
class FitResult:
    """A maximum-likelihood calibration.

    Fields:
        spec, model: file names; ``model_sha256``: the model's content hash.
        names: free parameters (model parameters then link constants); ``estimates``,
            ``stderr`` (Wald, from the Gauss-Newton or numerical Hessian; NaN if singular),
            ``bounds`` and ``at_bound`` in the same order.
        log_likelihood: at the estimate on the fit period; ``holdout_log_likelihood`` on the
            held-out period (None without one); ``n_points``: fitted data points.
        method: the optimiser; ``starts``: every start's optimum, best first.
        series: per-observation fit statistics (RMSE, MAPE, R², Theil) for both periods.
        seed: the seed of the Latin hypercube (recorded even when 0).
        simulations, batches, elapsed: cost (model runs, engine calls, seconds).
        noise: the estimated error model (:mod:`nea_sd.calibrate.noise`), empty when the
            spec's σ were used as given.
        links: ``"closed-form"`` when the search maximised each closed-form link constant
            given the model values (:class:`~nea_sd.calibrate.marginal.Profiled`), ``"free"``
            when it searched them like the rest.
    """

    spec: str
    model: str
    model_sha256: str
    names: tuple[str, ...]
    estimates: tuple[float, ...]
    stderr: tuple[float, ...]
    bounds: tuple[tuple[float, float], ...]
    at_bound: tuple[bool, ...]
    log_likelihood: float
    holdout_log_likelihood: float | None
    n_points: int
    method: str
    starts: tuple[StartResult, ...]
    series: tuple[SeriesFit, ...]
    seed: int
    simulations: int
    batches: int
    elapsed: float
    data_files: dict[str, str] = field(default_factory=dict)
    reduced_chi2: float = float("nan")
    noise: tuple[Any, ...] = ()  # SeriesNoise per observation when the error model was estimated
    links: str = "free"  # how the search treated closed-form link constants (LINK_MODES)

    @property
    def stderr_scaled(self) -> tuple[float, ...]:
        """Wald errors times sqrt(reduced χ²) (lmfit's ``scale_covar``): a quasi-likelihood
        correction when the residuals are larger than the error model's σ says (misfit)."""
        factor = math.sqrt(self.reduced_chi2) if self.reduced_chi2 > 1 else 1.0
        return tuple(se * factor for se in self.stderr)

    @property
    def values(self) -> dict[str, float]:
        return dict(zip(self.names, self.estimates, strict=True))

    @property
    def aic(self) -> float:
        return 2 * len(self.names) - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        return len(self.names) * math.log(max(self.n_points, 1)) - 2 * self.log_likelihood

    @property
    def unconverged(self) -> int:
        """Starts the optimiser left before convergence (its evaluation budget spent)."""
        return sum(not s.success for s in self.starts)

    def optima(self, tol: float = 0.5) -> list[list[int]]:
        """Converged starts grouped by optimum: same −log L within ``tol`` and estimates
        within 2 % of the bounds' width. More than one group with a good −log L means
        multimodality; an unconverged or re-scored start is no optimum of this likelihood,
        so it joins no group."""
        width = np.array([hi - lo for lo, hi in self.bounds])
        groups: list[list[int]] = []
        for i, s in enumerate(self.starts):
            if s.rescored or not (s.success and math.isfinite(s.neg_log_likelihood)):
                continue
            for g in groups:
                ref = self.starts[g[0]]
                close = np.all(np.abs(np.subtract(s.estimate, ref.estimate)) <= 0.02 * width)
                if close and abs(s.neg_log_likelihood - ref.neg_log_likelihood) <= tol:
                    g.append(i)
                    break
            else:
                groups.append([i])
        return groups

    # -- presentation ---------------------------------------------------------------------
    def _parameter_rows(self) -> list[list[object]]:
        return [
            [n, v, se, ss, f"[{lo:g}, {hi:g}]", "at bound" if b else ""]
            for n, v, se, ss, (lo, hi), b in zip(
                self.names,
                self.estimates,
                self.stderr,
                self.stderr_scaled,
                self.bounds,
                self.at_bound,
                strict=True,
            )
        ]

    def _series_rows(self) -> list[list[object]]:
        rows = []
        for s in self.series:
            for label, st in (("fit", s.fit), ("holdout", s.holdout)):
                if st is None:
                    continue
                rows.append([s.name, label, st.n, st.rmse, st.mape, st.r2, st.um, st.us, st.uc])
        return rows

    def _start_rows(self) -> list[list[object]]:
        return [
            [
                i,
                s.neg_log_likelihood,
                "re-scored" if s.rescored else s.success,
                s.evaluations,
                ", ".join(f"{v:.4g}" for v in s.estimate),
            ]
            for i, s in enumerate(self.starts)
        ]

    PARAM_HEADER = ("name", "estimate", "stderr", "scaled stderr", "bounds", "")
    SERIES_HEADER = ("series", "period", "n", "RMSE", "MAPE %", "R²", "U^M", "U^S", "U^C")

    def report(self, max_starts: int = 10) -> str:
        groups = self.optima()
        lines = [
            f"[[Fit]] {self.spec} (model {self.model}), method {self.method}",
            f"    starts: {len(self.starts)}, distinct optima: {len(groups)} "
            f"({self.unconverged} starts not converged), simulations: {self.simulations} "
            f"in {self.batches} batches, {self.elapsed:.1f} s, seed {self.seed}",
            f"    log L (fit) = {self.log_likelihood:.4f} on {self.n_points} points, "
            f"AIC {self.aic:.2f}, BIC {self.bic:.2f}"
            + (
                f"; log L (held out) = {self.holdout_log_likelihood:.4f}"
                if self.holdout_log_likelihood is not None
                else ""
            ),
            f"[[Parameters]] (± Wald standard error; scaled: x sqrt(reduced chi2 = "
            f"{self.reduced_chi2:.3g}) for misfit)",
            text_table(self.PARAM_HEADER, self._parameter_rows()),
            *([_noise_report(self.noise)] if self.noise else []),
            "[[Series]] fit statistics (Theil: U^M bias, U^S variation, U^C covariation)",
            text_table(self.SERIES_HEADER, self._series_rows()),
            f"[[Starts]] best {min(max_starts, len(self.starts))} of {len(self.starts)}",
            text_table(
                ("start", "-log L", "converged", "evals", "estimate"),
                self._start_rows()[:max_starts],
            ),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def _repr_html_(self) -> str:
        groups = self.optima()
        head = (
            f"<h4>Fit: {self.spec} ({self.model}), {self.method}</h4>"
            f"<p>{len(self.starts)} starts ({self.unconverged} not converged), "
            f"{len(groups)} distinct optima; log L = "
            f"{self.log_likelihood:.4f} on {self.n_points} points; seed {self.seed}</p>"
        )
        return (
            head
            + html_table(self.PARAM_HEADER, self._parameter_rows(), "Parameters")
            + html_table(self.SERIES_HEADER, self._series_rows(), "Fit statistics")
            + html_table(
                ("start", "-log L", "converged", "evals", "estimate"),
                self._start_rows()[:10],
                "Starts (best first)",
            )
        )


def _noise_report(noise: tuple[Any, ...]) -> str:
    from nea_sd.calibrate.noise import noise_table

    return noise_table(noise)


# -- the optimisers -----------------------------------------------------------------------------


class _Space:
    """The unit cube of the bounds: optimisers work in u, the model in x = low + u·width."""

    def __init__(self, bounds: np.ndarray, fixed: dict[int, float] | None = None):
        self.low = bounds[:, 0].astype(float)
        self.width = (bounds[:, 1] - bounds[:, 0]).astype(float)
        self.fixed = fixed or {}
        self.free = np.array([i for i in range(len(self.low)) if i not in self.fixed], dtype=int)

    def to_x(self, U: np.ndarray) -> np.ndarray:
        U = np.atleast_2d(U)
        X = np.empty((U.shape[0], len(self.low)))
        X[:, self.free] = self.low[self.free] + U * self.width[self.free]
        for i, v in self.fixed.items():
            X[:, i] = v
        return X

    def to_u(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.clip((x[..., self.free] - self.low[self.free]) / self.width[self.free], 0, 1)


def objective(setup: Setup, links: str, hold: int | None = None) -> tuple[Any, dict[int, float]]:
    """What the local optimisers minimise, and the columns they leave alone (column ->
    placeholder, for :class:`_Space`'s ``fixed``). With ``closed-form`` links each
    closed-form constant but column ``hold`` is maximised inside the objective (variable
    projection: the search moves in the model values and shared constants only, fewer and
    better-scaled dimensions, to the same optimum), so its column is left alone; with
    ``free`` links the spec's likelihood over every column."""
    check_links(links)
    if links == "free":
        return setup.problem, {}
    goal = target(setup)
    bounds = setup.spec.bounds
    inner = {p.column: float(bounds[p.column].mean()) for p in goal.parts if p.column != hold}
    held = frozenset() if hold is None else frozenset({hold})
    return Profiled(goal, setup.problem, held), inner


def _fd_points(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.where(u + FD_STEP <= 1.0, FD_STEP, -FD_STEP)
    return u + np.diag(steps), steps


def lsq_task(
    problem: Problem, space: _Space, u0: np.ndarray, max_nfev: int | None
) -> Callable[[Evaluate], tuple[Any, float]]:
    """One ``least_squares`` start, asking ``evaluate`` for batches (value + Jacobian)."""

    def task(evaluate: Evaluate) -> tuple[Any, float]:
        cache: dict[str, np.ndarray] = {}

        def residuals(U: np.ndarray) -> np.ndarray:
            X = space.to_x(U)
            return problem.residuals(evaluate(X), X)

        def fun(u: np.ndarray) -> np.ndarray:
            # the Jacobian's points ride along in the same batch: the engine's cost is per
            # call far more than per run, and TRF asks for the Jacobian after most steps
            points, steps = _fd_points(u)
            R = residuals(np.vstack([u[None], points]))
            cache["u"], cache["r"] = u.copy(), R[0]
            cache["J"] = ((R[1:] - R[0]) / steps[:, None]).T
            return R[0]

        def jac(u: np.ndarray) -> np.ndarray:
            if "u" not in cache or not np.array_equal(cache["u"], u):
                fun(u)
            return cache["J"]

        res = least_squares(
            fun,
            u0,
            jac=jac,
            bounds=(0.0, 1.0),
            method="trf",
            max_nfev=max_nfev or MAX_NFEV,
            x_scale="jac",
            ftol=FTOL,
        )
        return res, float(0.5 * np.sum(res.fun**2))

    return task


def min_task(
    problem: Problem, space: _Space, u0: np.ndarray, max_iter: int | None
) -> Callable[[Evaluate], tuple[Any, float]]:
    """One L-BFGS-B start on −log L with a batched finite-difference gradient."""

    def task(evaluate: Evaluate) -> tuple[Any, float]:
        def nll(U: np.ndarray) -> np.ndarray:
            X = space.to_x(U)
            ll = problem.log_likelihood(evaluate(X), X)
            return np.where(np.isfinite(ll), -ll, BIG)

        def fun(u: np.ndarray) -> tuple[float, np.ndarray]:
            points, steps = _fd_points(u)
            values = nll(np.vstack([u[None], points]))
            return float(values[0]), (values[1:] - values[0]) / steps

        options = {"maxiter": max_iter or MAX_NFEV, "ftol": FTOL * 1e-2}
        res = minimize(
            fun, u0, jac=True, method="L-BFGS-B", bounds=[(0, 1)] * len(u0), options=options
        )
        return res, float(res.fun)

    return task


def local_tasks(
    problem: Problem, space: _Space, U0: np.ndarray, method: str, max_nfev: int | None
) -> list[Callable[[Evaluate], tuple[Any, float]]]:
    make = lsq_task if method == "least_squares" else min_task
    return [make(problem, space, u0, max_nfev) for u0 in U0]


def latin_starts(setup: Setup, n: int, seed: int) -> np.ndarray:
    """``n`` Latin-hypercube starts, placed through each prior's quantiles (values, (n, k))."""
    k = len(setup.spec.free)
    u = qmc.LatinHypercube(d=k, seed=np.random.default_rng(seed)).random(n)
    return setup.spec.prior_ppf(u)


def fit(
    setup: Setup,
    *,
    starts: int = 20,
    seed: int | None = None,
    method: str | None = None,
    max_nfev: int | None = None,
    initial: Sequence[Sequence[float]] | None = None,
    links: str = "free",
    on_batch: Callable[[int], None] | None = None,
) -> FitResult:
    """Maximum-likelihood estimates of the spec's free parameters.

    ``method``: ``least_squares`` (default when every error model is Gaussian on some scale),
    ``minimize`` (otherwise), or ``differential_evolution``. ``initial`` adds given starts
    before the Latin-hypercube ones. ``links``: ``"free"`` searches every free parameter,
    ``"closed-form"`` maximises each link constant with a closed form given the model values
    inside the objective (see :func:`objective`; half the model runs on the regional base but
    no time saved, and one profile walk there fell off its ridge: not the default).
    ``on_batch(runs)`` is called after each engine call.
    """
    t0 = time.perf_counter()
    problem, spec = setup.problem, setup.spec
    if seed is None:
        seed = secrets.randbelow(2**31)
    seed = int(seed)
    local = "least_squares" if problem.whitenable else "minimize"
    method = method or local
    if method not in METHODS:
        raise InvalidValueError(
            f"unknown fit method {method!r}; valid: " + ", ".join(repr(m) for m in METHODS)
        )
    if method == "least_squares" and not problem.whitenable:
        raise InvalidValueError(
            "least_squares needs Gaussian errors (normal, lognormal, logitnormal) for every "
            "observation; use method='minimize'"
        )
    if starts < (0 if initial is not None else 1):
        raise InvalidValueError(f"starts must be at least 1, got {starts!r}")
    search, inner = objective(setup, links)
    space = _Space(spec.bounds, inner)
    sim = setup.simulator
    runs0, calls0 = sim.runs, sim.calls
    if method == "differential_evolution":
        results, U0 = _de(setup, search, space, seed, starts, local, max_nfev, on_batch)
        X0 = space.to_x(U0)
    else:
        X0 = latin_starts(setup, starts, seed) if starts else np.empty((0, len(spec.free)))
        if initial is not None:
            X0 = np.vstack([np.atleast_2d(np.asarray(initial, dtype=float)), X0])
        U0 = space.to_u(X0)
        tasks = local_tasks(search, space, U0, local, max_nfev)
        results = run_tasks(sim.run, tasks, on_batch=on_batch)
    U = np.array([r.x for r, _ in results])
    X = space.to_x(U)
    outputs = sim.run(X)
    if inner:
        X = search.concentrate(outputs, X)
    nll = -problem.log_likelihood(outputs, X)
    order = np.argsort(np.where(np.isfinite(nll), nll, np.inf), kind="stable")
    best = int(order[0])
    if not np.isfinite(nll[best]):
        raise FitFailedError(
            f"{spec.path.name}: no start found parameters that can explain the data "
            f"(every run diverged or predicted impossible values); check bounds and links"
        )
    start_results = tuple(
        StartResult(
            start=tuple(float(v) for v in X0[i]),
            estimate=tuple(float(v) for v in X[i]),
            neg_log_likelihood=float(nll[i]),
            success=bool(results[i][0].success),
            message=str(results[i][0].message),
            evaluations=int(getattr(results[i][0], "nfev", 0)),
        )
        for i in order
    )
    xbest = X[best]
    stderr = wald_stderr(setup, _Space(spec.bounds), xbest, results[best][0], local)
    series = series_statistics(setup, xbest)
    hold = None
    if spec.holdout_period is not None:
        hold = float(problem.log_likelihood(sim.run(xbest[None]), xbest[None], holdout=True)[0])
    at_bound = tuple(bool(v) for v in bound_sides(xbest[None], spec.bounds)[0] != 0)
    return FitResult(
        spec=spec.path.name,
        model=spec.model.name,
        model_sha256=sim.batch.sha256,
        names=spec.names,
        estimates=tuple(float(v) for v in xbest),
        stderr=tuple(float(v) for v in stderr),
        reduced_chi2=_reduced_chi2(setup, xbest),
        bounds=tuple((float(lo), float(hi)) for lo, hi in spec.bounds),
        at_bound=at_bound,
        log_likelihood=float(-nll[best]),
        holdout_log_likelihood=hold,
        n_points=problem.n_points,
        method=method,
        starts=start_results,
        series=series,
        seed=seed,
        simulations=sim.runs - runs0,
        batches=sim.calls - calls0,
        elapsed=time.perf_counter() - t0,
        data_files={o.series.source: o.series.sha256 for o in spec.observations},
        links=links,
    )


BOUND_TOL = 1e-3  # an estimate within this share of its range from a bound is at the bound


def bound_sides(X: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Per estimate (rows of ``X``), −1 at its lower bound, +1 at its upper, 0 inside: within
    BOUND_TOL of the range (one rule for fit results and for bootstraps)."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    lo, hi = np.asarray(bounds, dtype=float).T
    tol = BOUND_TOL * (hi - lo)
    return np.where(X - lo <= tol, -1, np.where(hi - X <= tol, 1, 0))


def refit_many(
    setups: Sequence[Setup],
    x0: Sequence[float],
    *,
    max_nfev: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Local refits of many data sets from one start (values, (len(setups), k)), every step
    of every refit in one engine batch: for parametric bootstraps, where each set is the
    record redrawn around a fit and the refit starts from it. The setups share one model and
    spec but for their data (:func:`nea_sd.calibrate.synthetic.with_spec`)."""
    if not setups:
        return np.empty((0, len(x0)))
    first = setups[0]
    if any(s.simulator is not first.simulator for s in setups):
        raise InvalidValueError("refit_many needs setups that share one simulator (with_spec)")
    method = "least_squares" if first.problem.whitenable else "minimize"
    space = _Space(first.spec.bounds)
    u0 = space.to_u(np.asarray(x0, dtype=float))
    tasks = [local_tasks(s.problem, space, u0[None], method, max_nfev)[0] for s in setups]
    results = run_tasks(first.simulator.run, tasks, on_batch=on_batch)
    return space.to_x(np.array([r.x for r, _ in results]))


def refine(
    setup: Setup,
    result: FitResult,
    x: Sequence[float],
    *,
    max_nfev: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> FitResult:
    """One more local start from ``x`` (e.g. a profile point that beat the fit), merged into
    ``result``; the better optimum wins and every start stays in the list."""
    method = "minimize" if result.method == "minimize" else None
    new = fit(
        setup,
        starts=0,
        initial=[list(x)],
        seed=result.seed,
        method=method,
        max_nfev=max_nfev,
        links=result.links,
        on_batch=on_batch,
    )
    best, other = (new, result) if new.log_likelihood > result.log_likelihood else (result, new)
    starts = sorted(best.starts + other.starts, key=lambda s: s.neg_log_likelihood)
    return dataclasses.replace(
        best,
        method=result.method,
        starts=tuple(starts),
        noise=result.noise,
        simulations=result.simulations + new.simulations,
        batches=result.batches + new.batches,
        elapsed=result.elapsed + new.elapsed,
    )


def _de(
    setup: Setup,
    problem: Any,
    space: _Space,
    seed: int,
    popsize: int,
    local: str,
    max_nfev: int | None,
    on_batch: Callable[[int], None] | None,
) -> tuple[list[tuple[Any, float]], np.ndarray]:
    """Differential evolution, whole population per batch, then a local polish of the best."""
    sim = setup.simulator
    k = len(space.free)

    def f(U: np.ndarray) -> np.ndarray:
        U = np.atleast_2d(U.T if U.ndim == 2 else U[None])
        X = space.to_x(U)
        ll = problem.log_likelihood(sim.run(X), X)
        if on_batch is not None:
            on_batch(X.shape[0])
        return np.where(np.isfinite(ll), -ll, BIG)

    de = differential_evolution(
        f,
        [(0.0, 1.0)] * k,
        vectorized=True,
        updating="deferred",
        seed=seed,
        popsize=max(popsize // max(k, 1), 5),
        init="latinhypercube",
        polish=False,
        maxiter=max_nfev or 200,
        tol=1e-8,
    )
    task = local_tasks(problem, space, de.x[None], local, max_nfev)
    return run_tasks(sim.run, task, on_batch=on_batch), de.x[None]


def wald_stderr(setup: Setup, space: _Space, x: np.ndarray, res: Any, local: str) -> np.ndarray:
    """Standard errors from the inverse Hessian of −log L (Gauss-Newton JᵀJ for least squares).

    Parameters on a bound get NaN: the Wald approximation does not hold there; use profiles.
    """
    k = len(x)
    if local == "least_squares":
        J = _central_jacobian(setup, space, space.to_u(x))
        H = J.T @ J
    else:
        H = _numeric_hessian(setup, space, space.to_u(x))
    try:
        cov = np.linalg.pinv(H, rcond=1e-12)
    except np.linalg.LinAlgError:
        return np.full(k, np.nan)
    var = np.diag(cov)
    se = np.where(var > 0, np.sqrt(np.abs(var)), np.nan) * space.width
    u = space.to_u(x)
    se[(u <= 1e-3) | (u >= 1 - 1e-3)] = np.nan
    rank = np.linalg.matrix_rank(H, tol=1e-10 * max(np.abs(H).max(), 1e-300))
    if rank < k:  # directions without curvature: those parameters are not identified
        eig, vec = np.linalg.eigh(H)
        flat = np.abs(vec[:, eig < 1e-10 * eig.max()]).max(axis=1) > 0.1
        se[flat] = np.inf
    return se


def _central_jacobian(setup: Setup, space: _Space, u: np.ndarray) -> np.ndarray:
    """Jacobian of the whitened residuals by central differences (one-sided at a bound)."""
    k, h = len(u), WALD_STEP
    up = np.minimum(u + h, 1.0)
    down = np.maximum(u - h, 0.0)
    U = np.vstack(
        [np.where(np.eye(k, dtype=bool), up, u), np.where(np.eye(k, dtype=bool), down, u)]
    )
    X = space.to_x(U)
    R = setup.problem.residuals(setup.simulator.run(X), X)
    return ((R[:k] - R[k:]) / (up - down)[:, None]).T


def _numeric_hessian(setup: Setup, space: _Space, u: np.ndarray, h: float = 1e-3) -> np.ndarray:
    k = len(u)
    u = np.clip(u, h, 1 - h)
    E = np.eye(k) * h
    pts = [u]
    for i in range(k):
        pts += [u + E[i], u - E[i]]
    for i in range(k):
        for j in range(i + 1, k):
            pts += [u + E[i] + E[j], u + E[i] - E[j], u - E[i] + E[j], u - E[i] - E[j]]
    U = np.array(pts)
    X = space.to_x(U)
    f = -setup.problem.log_likelihood(setup.simulator.run(X), X)
    f = np.where(np.isfinite(f), f, BIG)
    H = np.zeros((k, k))
    for i in range(k):
        H[i, i] = (f[1 + 2 * i] - 2 * f[0] + f[2 + 2 * i]) / h**2
    n = 1 + 2 * k
    for i in range(k):
        for j in range(i + 1, k):
            a, b, c, d = f[n : n + 4]
            H[i, j] = H[j, i] = (a - b - c + d) / (4 * h * h)
            n += 4
    return H


def _reduced_chi2(setup: Setup, x: np.ndarray) -> float:
    """Σ r² / (n − k) of the whitened residuals of the Gaussian observations (NaN when the
    errors are not Gaussian; Poisson counts' deviances are not χ²-distributed, so left out)."""
    if not setup.problem.whitenable:
        return float("nan")
    X = np.atleast_2d(x)
    r = setup.problem.residuals(setup.simulator.run(X), X, counts=False)[0]
    if not r.size:
        return float("nan")
    dof = max(r.size - X.shape[1], 1)
    return float(np.sum(r**2) / dof)


def series_statistics(setup: Setup, x: np.ndarray) -> tuple[SeriesFit, ...]:
    """RMSE, MAPE, R² and Theil's decomposition per observation, fit and held-out years."""
    X = np.atleast_2d(x)
    outputs = setup.simulator.run(X)
    fit_pred = setup.problem.predictions(outputs, X)
    hold_pred = setup.problem.predictions(outputs, X, holdout=True)
    out = []
    for obs in setup.spec.observations:
        stats = []
        for preds in (fit_pred, hold_pred):
            if obs.name not in preds:
                stats.append(None)
                continue
            _, pred, data, _ = preds[obs.name]
            stats.append(fit_statistics(pred[0], data) if data.size >= 2 else None)
        out.append(SeriesFit(obs.name, obs.series.name, obs.variable, stats[0], stats[1]))
    return tuple(out)
