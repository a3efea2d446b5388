"""Bayesian calibration: emcee's ensemble sampler over the batch engine.

The log-posterior is vectorized (``vectorize=True``): all walkers of a step are one batch
run. Diagnostics follow emcee's guidance — integrated autocorrelation time τ per parameter,
effective sample size (walkers · kept steps / τ), acceptance fraction (0.2–0.5 is healthy),
and a chain of at least 50 τ for a trustworthy τ. Posterior draws export as a Dataset with a
``run`` dimension in the batch engine's parameter format, for sensitivity and loop ensembles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.pool import Evaluate
from nea_sd.calibrate.problem import Problem, Setup
from nea_sd.errors import InvalidValueError, require


def _emcee():
    return require("emcee", "emcee", "Bayesian calibration")


@dataclass(frozen=True, eq=False)
class Posterior:
    """Posterior samples and sampler diagnostics.

    Fields:
        spec: spec file name; ``names``: free parameters (spec order).
        samples: (draws, k) after burn-in and thinning, walkers pooled; ``log_prob`` per draw.
        walkers, steps, burn, thin: sampler settings; ``seed``: the sampler's seed.
        acceptance: mean acceptance fraction; ``tau``: integrated autocorrelation time per
            parameter (steps; NaN where emcee could not estimate it); ``ess``: effective
            sample sizes; ``converged``: every τ finite and ``steps`` ≥ 50 τ.
    """

    spec: str
    names: tuple[str, ...]
    samples: np.ndarray
    log_prob: np.ndarray
    walkers: int
    steps: int
    burn: int
    thin: int
    seed: int
    acceptance: float
    tau: tuple[float, ...]
    ess: tuple[float, ...]
    converged: bool

    def quantiles(self, q: tuple[float, ...] = (0.025, 0.5, 0.975)) -> np.ndarray:
        return np.quantile(self.samples, q, axis=0)

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        j = self.names.index(name)
        a = (1 - level) / 2
        lo, hi = np.quantile(self.samples[:, j], [a, 1 - a])
        return float(lo), float(hi)

    def _rows(self) -> list[list[object]]:
        q = self.quantiles()
        mean, sd = self.samples.mean(axis=0), self.samples.std(axis=0, ddof=1)
        return [
            [n, mean[j], sd[j], q[0, j], q[1, j], q[2, j], self.tau[j], self.ess[j]]
            for j, n in enumerate(self.names)
        ]

    HEADER = ("parameter", "mean", "sd", "2.5%", "median", "97.5%", "tau", "ESS")

    def __str__(self) -> str:
        return (
            f"[[Posterior]] {self.spec}: {self.walkers} walkers x {self.steps} steps "
            f"(burn {self.burn}, thin {self.thin}), {len(self.samples)} draws, acceptance "
            f"{self.acceptance:.2f}, {'converged' if self.converged else 'NOT converged'} "
            f"(steps >= 50 tau), seed {self.seed}\n" + text_table(self.HEADER, self._rows())
        )

    def _repr_html_(self) -> str:
        cap = (
            f"Posterior: {len(self.samples)} draws, acceptance {self.acceptance:.2f}, "
            f"{'converged' if self.converged else 'NOT converged'}"
        )
        return html_table(self.HEADER, self._rows(), cap)

    def draws(self, n: int | None = None, seed: int = 0) -> xr.Dataset:
        """Free-parameter draws as a Dataset over ``draw`` (n random draws; all when None)."""
        idx = np.arange(len(self.samples))
        if n is not None:
            idx = np.random.default_rng(seed).choice(idx, size=n, replace=n > len(idx))
        return xr.Dataset(
            {name: ("draw", self.samples[idx, j]) for j, name in enumerate(self.names)},
            coords={"draw": np.arange(len(idx))},
            attrs={"spec": self.spec, "seed": str(seed)},
        )


def parameter_draws(setup: Setup, samples: np.ndarray) -> xr.Dataset:
    """Model-parameter draws in the batch engine's format: name -> (run, *dims).

    Subscripted parameters freed by element carry their full array (other elements at the
    model's values), so ``BatchModel.simulate(parameter_draws(...))`` runs the ensemble.
    """
    sets = setup.simulator.parameter_sets(np.atleast_2d(samples))
    data = {}
    for name, values in sets.items():
        param = setup.model.parameters[name]
        dims = ("run", *param.dims)
        coords = {d: list(c) for d, c in zip(param.dims, param.coords, strict=True)}
        data[name] = xr.DataArray(values, dims=dims, coords=coords)
    return xr.Dataset(data, coords={"run": np.arange(len(np.atleast_2d(samples)))})


def log_posterior_batch(problem: Problem, evaluate: Evaluate) -> Callable[[np.ndarray], np.ndarray]:
    """Vectorized log-posterior: rows outside the prior are not simulated."""

    def log_prob(X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        lp = np.asarray(problem.spec.log_prior(X), dtype=float)
        out = np.full(X.shape[0], -np.inf)
        ok = np.isfinite(lp)
        if ok.any():
            ll = problem.log_likelihood(evaluate(X[ok]), X[ok])
            out[ok] = np.where(np.isfinite(ll), lp[ok] + ll, -np.inf)
        return out

    return log_prob


def initial_walkers(
    setup: Setup, walkers: int, rng: np.random.Generator, centre: np.ndarray | None
) -> np.ndarray:
    """A ball (1 % of the bounds) around ``centre`` (e.g. the ML estimate), else prior draws."""
    bounds = setup.spec.bounds
    width = bounds[:, 1] - bounds[:, 0]
    if centre is None:
        return setup.spec.prior_ppf(rng.random((walkers, len(width))))
    ball = np.asarray(centre)[None] + 0.01 * width * rng.standard_normal((walkers, len(width)))
    return np.clip(ball, bounds[:, 0] + 1e-9 * width, bounds[:, 1] - 1e-9 * width)


def sample_task(
    problem: Problem,
    p0: np.ndarray,
    steps: int,
    seed: int,
    burn: int | None = None,
    thin: int | None = None,
) -> Callable[[Evaluate], Posterior]:
    """One emcee run as a pool task (SBC runs many of these against one simulator)."""
    emcee = _emcee()

    def task(evaluate: Evaluate) -> Posterior:
        walkers, k = p0.shape
        sampler = emcee.EnsembleSampler(
            walkers, k, log_posterior_batch(problem, evaluate), vectorize=True
        )
        sampler.random_state = np.random.RandomState(seed).get_state()
        sampler.run_mcmc(p0, steps, progress=False)
        tau = np.asarray(sampler.get_autocorr_time(tol=0, quiet=True), dtype=float)
        finite = np.isfinite(tau) & (tau > 0)
        t_max = float(tau[finite].max()) if finite.any() else float(steps) / 10
        b = int(burn if burn is not None else min(steps // 2, math.ceil(3 * t_max)))
        t = int(thin if thin is not None else max(1, math.floor(t_max / 2)))
        chain = sampler.get_chain(discard=b, thin=t, flat=True)
        logp = sampler.get_log_prob(discard=b, thin=t, flat=True)
        kept = (steps - b) * walkers
        ess = tuple(float(kept / tj) if np.isfinite(tj) and tj > 0 else float("nan") for tj in tau)
        return Posterior(
            spec=problem.spec.path.name,
            names=problem.names,
            samples=chain,
            log_prob=logp,
            walkers=walkers,
            steps=steps,
            burn=b,
            thin=t,
            seed=seed,
            acceptance=float(np.mean(sampler.acceptance_fraction)),
            tau=tuple(float(x) for x in tau),
            ess=ess,
            converged=bool(finite.all() and steps >= 50 * t_max),
        )

    return task


def sample(
    setup: Setup,
    *,
    walkers: int | None = None,
    steps: int = 2000,
    seed: int = 0,
    start: np.ndarray | None = None,
    burn: int | None = None,
    thin: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Posterior:
    """Sample the posterior (prior × likelihood on the fit period) with emcee.

    ``start``: the centre of the initial ball (pass the ML estimates); None draws walkers from
    the prior. ``burn``/``thin`` default to 3τ and τ/2 from the chain itself.
    """
    k = len(setup.spec.names)
    walkers = walkers or max(4 * k, 16)
    if walkers < 2 * k:
        raise InvalidValueError(f"emcee needs at least 2k = {2 * k} walkers, got {walkers}")
    rng = np.random.default_rng(seed)
    p0 = initial_walkers(setup, walkers, rng, start)
    task = sample_task(setup.problem, p0, steps, int(seed), burn, thin)

    def evaluate(X: np.ndarray):
        out = setup.simulator.run(X)
        if on_batch is not None:
            on_batch(X.shape[0])
        return out

    return task(evaluate)


def predictive(
    setup: Setup,
    samples: np.ndarray,
    *,
    n: int = 200,
    seed: int = 0,
    noise: bool = True,
    q: tuple[float, ...] = (0.05, 0.5, 0.95),
) -> dict[str, xr.DataArray]:
    """Posterior predictive quantiles per observation on the data scale, fit and held-out years.

    With ``noise`` each draw also gets observation error from the observation's error model
    as the fit used it (σ times its estimated scale, AR(1) over the years; Poisson and
    binomial counts drawn), so the band is where new data should fall, not only the mean path.
    """
    from nea_sd.calibrate.synthetic import replicate

    rng = np.random.default_rng(seed)
    samples = np.atleast_2d(samples)
    X = samples[rng.choice(len(samples), size=n, replace=len(samples) < n)]
    outputs = setup.simulator.run(X)
    out = {}
    parts = [setup.problem.predictions(outputs, X)]
    if setup.spec.holdout_period is not None:
        parts.append(setup.problem.predictions(outputs, X, holdout=True))
    for obs in setup.spec.observations:
        years, preds, datas, flags_all = [], [], [], {}
        for p in parts:
            if obs.name in p:
                y, pred, data, flags = p[obs.name]
                years.append(y)
                preds.append(pred)
                datas.append(data)
                for key, v in flags.items():
                    flags_all.setdefault(key, []).append(v)
        y = np.concatenate(years)
        pred = np.concatenate(preds, axis=1)
        data = np.concatenate(datas)
        if noise:
            fl = {k: np.concatenate(v) for k, v in flags_all.items()}
            with np.errstate(invalid="ignore", divide="ignore"):
                pred = replicate(obs, pred, fl, rng, y)
        band = np.nanquantile(pred, q, axis=0)
        out[obs.name] = xr.DataArray(
            band,
            dims=("quantile", "year"),
            coords={"quantile": list(q), "year": y, "data": ("year", data)},
            name=obs.name,
            attrs={"series": obs.series.name, "units": obs.series.units},
        )
    return out
