"""One run of adaptive tempered sequential Monte Carlo (SMCPy) for :mod:`nested`.

Why a third sampler: on the regional model nautilus needs few model runs but spends most of
its wall time training its networks, and UltraNest spends little of its own but needs millions
of runs. Tempered SMC moves a population of particles from the prior to the posterior through
likelihood powers phi (each next phi chosen so the reweighted population keeps 80 % of its
effective size), resampling and then moving every particle by random-walk Metropolis steps
whose proposal is the population's covariance: every step is one batch-engine call over the
whole population, and the sampler's own work is a few array operations. The product of the
steps' mean incremental weights estimates the evidence Z (Del Moral, Doucet and Jasra 2006).

The particles live in the unit cube (uniform prior there) and are mapped to the parameters by
the spec's prior transform, as the nested samplers' are; a proposal outside the cube has zero
prior density and is rejected.

A run's log Z error is importance sampling's over the tempering steps (sqrt of the sum over
steps of 1/ESS - 1/N), which ignores the correlation the resampling and the Metropolis moves
leave between particles: the pooled error also takes the spread between runs.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from nea_sd.errors import require

if TYPE_CHECKING:
    from nea_sd.calibrate.nested import _Run, _Settings, _Timed
    from nea_sd.calibrate.problem import Setup

MCMC_STEPS = 20  # Metropolis moves per tempering step (5 left the regional log Z 6.5 low)
TARGET_ESS = 0.8  # the population's effective share kept by each tempering step


def _smcpy():
    return require("smcpy", "smcpy", "the smc sampler")


class _UnitCube:
    """U(0, 1) in one coordinate, as SMCPy's priors are called (``rvs`` with its generator)."""

    dim = 1

    @staticmethod
    def rvs(size: int, random_state: np.random.Generator) -> np.ndarray:
        return random_state.uniform(0.0, 1.0, size)

    @staticmethod
    def logpdf(u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        return np.where((u >= 0.0) & (u <= 1.0), 0.0, -np.inf)


def smc_run(setup: Setup, loglike: _Timed, settings: _Settings, seed: int) -> _Run:
    """One SMC run with ``settings.live_points`` particles (see the module doc)."""
    from nea_sd.calibrate.nested import _Run

    smcpy = _smcpy()
    goal = loglike.target
    k = len(goal.names)

    class LogLike:  # SMCPy's likelihood interface: built with (model, data, args), called
        def __init__(self, *_args: object):
            pass

        def __call__(self, u: np.ndarray) -> np.ndarray:
            return np.asarray(loglike(goal.prior_ppf(u)), dtype=float)

    names = [f"u{j}" for j in range(k)]
    mcmc = smcpy.VectorMCMC(_identity, np.zeros(1), [_UnitCube()] * k, log_like_func=LogLike)
    kernel = smcpy.VectorMCMCKernel(mcmc, param_order=names, rng=np.random.default_rng(seed))
    sampler = smcpy.AdaptiveSampler(kernel, show_progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log of a zero prior density: rejected
        steps, log_z = sampler.sample(
            num_particles=settings.live_points,
            num_mcmc_samples=MCMC_STEPS,
            target_ess=TARGET_ESS,
        )
    last = steps[-1]
    u = np.column_stack([np.ravel(last.param_dict[n]) for n in names])
    n = u.shape[0]
    phis = np.asarray(sampler.phi_sequence, dtype=float)
    variance = 0.0
    for t in range(1, len(phis)):  # step t reweights step t-1's equal-weight particles
        inc = (phis[t] - phis[t - 1]) * np.ravel(steps[t - 1].log_likes)
        w = np.exp(inc - inc.max())
        variance += max(1.0 / (w.sum() ** 2 / np.sum(w**2)) - 1.0 / n, 0.0)
    return _Run(
        points=goal.prior_ppf(u),
        weights=np.ravel(np.asarray(last.weights, dtype=float)),
        log_z=float(log_z[-1]),
        log_z_err=math.sqrt(variance),
        max_log_l=float(np.max(last.log_likes)),
        capped=False,
    )


def _identity(x: np.ndarray) -> np.ndarray:
    return x
