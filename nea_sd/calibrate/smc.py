"""One run of adaptive tempered sequential Monte Carlo (SMCPy) for :mod:`nested`.

Why a third sampler: on the regional model nautilus needs few model runs but spends most of
its wall time training its networks, and UltraNest spends little of its own but needs millions
of runs. Tempered SMC moves a population of particles from a reference distribution to the
posterior through likelihood powers phi (each next phi chosen so the reweighted population
keeps 80 % of its effective size), resampling and then moving every particle by Metropolis
steps that alternate independence proposals from a Gaussian fitted to the population with a
tuned random walk (:func:`_moves`): every step is one batch-engine call over the whole
population, and the sampler's own work is a few array operations. The
product of the steps' mean incremental weights estimates the evidence Z (Del Moral, Doucet and
Jasra 2006); with a normalised reference q the path q^(1-phi) (prior L)^phi gives the same Z.

Two choices make it converge on the regional base, where tempering from the prior with moves
in the unit cube did not (its runs settled in different parts of the posterior's ridges and
came out 2.5-5 below nautilus's log Z; README):

- The particles live in logit space, z = logit(u) for the unit-cube coordinate u that the
  spec's prior transform maps to a parameter; the uniform prior on the cube is the standard
  logistic there. A ridge that runs into a bound (a reaction near 0, a size near its limit)
  is nearly straight in z, and no proposal leaves the prior's support.
- A run is a *pilot* from the prior (PILOT_SHARE of the particles), then *refinements*: each a
  tempered run from a reference fitted to the previous population (a Gaussian in z with its
  covariance inflated by INFLATE, mixed with the prior at the share DEFENSIVE, which bounds
  the importance weights where the Gaussian is thin), until two successive refinements'
  log Z agree within LOG_Z_TOL or MAX_REFINE are done. Each refinement's reference is fixed
  before it starts, so each is an ordinary tempered SMC run from a proposal (SMCPy's geometric
  path): a consistent estimate of the posterior and of Z on its own. The two that agree are
  pooled as the run's posterior (half the weight each) and evidence (their mean): twice the
  particles for no extra model run (on the regional base at 500 particles with SMCPy's own
  moves, R-hat 1.023 with the last refinement alone, 1.012 pooled; with :func:`_moves`, 1.008
  pooled: converged; README). If none agree, the last refinement alone is the run's result.

A run's log Z error is importance sampling's over the tempering steps (sqrt of the sum over
steps of 1/ESS - 1/N), which ignores the correlation the resampling and the Metropolis moves
leave between particles: the pooled error also takes the spread between runs.

Its evidence is not the one to compare structures by: on a target with the regional base
posterior's shape and a known evidence (tests/calibrate/test_evidence_shape.py) runs at the
defaults come out 0.17 low on average (sd 0.14 between runs, against 0.06 reported), while
nautilus's are within their error. The moves do not carry the population into curved ridges'
tails between tempering steps. No setting tried removes the bias on both that target and a
plain Gaussian at the defaults' cost (each step keeping 95 % of the effective size: 0.03 low
at 2.3 times the model runs; 300 particles keeping 93 %: unbiased on the curved target, 0.20
high on the Gaussian), so the defaults stay those the posterior converges with, and evidence
is nautilus's. On the regional base, 95 % per step moved SMC's log Z from 0.15 below
nautilus's to 0.09 above, at 2.2 times the model runs; on the known targets it leaves 0.03
low (bent) and 0.06 high (plain Gaussian): ``tempering_ess`` (``--tempering-ess``) offers it,
closer, not unbiased.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit, logit

from nea_sd.errors import require

if TYPE_CHECKING:
    from nea_sd.calibrate.nested import _Run, _Settings, _Timed
    from nea_sd.calibrate.problem import Setup

MCMC_STEPS = 20  # Metropolis moves per tempering step in the pilot (SMCPy's moves: 5 left
# log Z 6.5 low)
REFINE_STEPS = 20  # moves per step from a reference (SMCPy's moves: 10 left a bulk ESS of 145)
TARGET_ESS = 0.8  # the population's effective share kept by each tempering step
PILOT_SHARE = 0.3  # the pilot's particles, as a share of the run's
INFLATE = 2.0  # the reference's sd over the previous population's, in every direction
DEFENSIVE = 0.1  # the prior's share in the reference
LOG_Z_TOL = 0.15  # two successive refinements agreeing this closely end the run
MAX_REFINE = 3
EVIDENCE_NOTE = (
    "note: tempered SMC's log Z is biased on posteriors shaped like the regional base's, "
    "beyond its own error: 0.17 low at the default tempering steps, within 0.07 either way "
    "with --tempering-ess 0.95 (README, Calibration: 'Which sampler's evidence'); compare "
    "structures with --sampler nautilus"
)
RW_ACCEPT = 0.234  # random-walk Metropolis's best acceptance in many dimensions
ADAPT = 2.0  # log of the proposal scale moves by ADAPT * (acceptance - RW_ACCEPT) per move


def _smcpy():
    return require("smcpy", "smcpy", "the smc sampler")


def _log_logistic(z: np.ndarray) -> np.ndarray:
    """Log density of the standard logistic (the uniform prior on the cube, in logit space)."""
    z = np.asarray(z, dtype=float)
    return -np.abs(z) - 2.0 * np.log1p(np.exp(-np.abs(z)))


class _Logistic:
    """One coordinate's prior in logit space, as SMCPy's priors are called."""

    dim = 1

    @staticmethod
    def rvs(size: int, random_state: np.random.Generator) -> np.ndarray:
        return logit(random_state.uniform(0.0, 1.0, size))

    @staticmethod
    def logpdf(z: np.ndarray) -> np.ndarray:
        return _log_logistic(z)


@dataclass(frozen=True)
class _Reference:
    """A normalised proposal in logit space: (1 - DEFENSIVE) N(mean, cov) + DEFENSIVE prior."""

    mean: np.ndarray
    cov: np.ndarray
    chol: np.ndarray  # cov's Cholesky factor, once: the density is evaluated at every move

    @classmethod
    def fit(cls, z: np.ndarray) -> _Reference:
        cov = np.atleast_2d(np.cov(z, rowvar=False)) * INFLATE**2
        cov += 1e-9 * np.eye(len(cov))  # a coordinate the population holds constant
        return cls(z.mean(axis=0), cov, np.linalg.cholesky(cov))

    def rvs(self, n: int, random_state: np.random.Generator) -> np.ndarray:
        z = random_state.multivariate_normal(self.mean, self.cov, size=n)
        prior = random_state.random(n) < DEFENSIVE
        z[prior] = logit(random_state.uniform(0.0, 1.0, (int(prior.sum()), len(self.mean))))
        return z

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        dev = np.linalg.solve(self.chol, (z - self.mean).T)
        log_det = 2.0 * np.sum(np.log(np.diag(self.chol)))
        gauss = -0.5 * (np.sum(dev**2, axis=0) + log_det + len(self.mean) * math.log(2 * math.pi))
        prior = np.sum(_log_logistic(z), axis=1)
        return np.logaddexp(math.log(DEFENSIVE) + prior, math.log(1.0 - DEFENSIVE) + gauss)

    def __bool__(self) -> bool:  # SMCPy tests the proposal's truth to decide whether to use it
        return True


@dataclass(frozen=True)
class _Stage:
    """One tempered run's final population (logit space) and evidence."""

    z: np.ndarray
    log_likes: np.ndarray
    weights: np.ndarray
    log_z: float
    log_z_err: float


def _tempered(
    loglike: _Timed,
    n: int,
    moves: int,
    reference: _Reference | None,
    seed: tuple[int, ...],
    target_ess: float = TARGET_ESS,
) -> _Stage:
    smcpy = _smcpy()
    goal = loglike.target
    k = len(goal.names)

    class LogLike:  # SMCPy's likelihood interface: built with (model, data, args), called
        def __init__(self, *_args: object):
            pass

        def __call__(self, z: np.ndarray) -> np.ndarray:
            return np.asarray(loglike(goal.prior_ppf(expit(z))), dtype=float)

    names = [f"z{j}" for j in range(k)]
    mcmc = _moves_class()(_identity, np.zeros(1), [_Logistic()] * k, log_like_func=LogLike)
    path = smcpy.paths.GeometricPath(proposal=reference)
    rng = np.random.default_rng(list(seed))
    kernel = smcpy.VectorMCMCKernel(mcmc, param_order=names, path=path, rng=rng)
    sampler = smcpy.AdaptiveSampler(kernel, show_progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow of a rejected proposal
        steps, log_z = sampler.sample(
            num_particles=n, num_mcmc_samples=moves, target_ess=target_ess
        )
    phis = np.asarray(sampler.phi_sequence, dtype=float)
    variance = 0.0
    for t in range(1, len(phis)):  # step t reweights step t-1's equal-weight particles
        before = steps[t - 1]
        z = np.column_stack([np.ravel(before.param_dict[m]) for m in names])
        log_ratio = np.sum(_log_logistic(z), axis=1)
        if reference is not None:
            log_ratio = log_ratio - reference.logpdf(z)
        inc = (phis[t] - phis[t - 1]) * (np.ravel(before.log_likes) + log_ratio)
        w = np.exp(inc - inc.max())
        variance += max(1.0 / (w.sum() ** 2 / np.sum(w**2)) - 1.0 / n, 0.0)
    last = steps[-1]
    return _Stage(
        z=np.column_stack([np.ravel(last.param_dict[m]) for m in names]),
        log_likes=np.ravel(np.asarray(last.log_likes, dtype=float)),
        weights=np.ravel(np.asarray(last.weights, dtype=float)),
        log_z=float(log_z[-1]),
        log_z_err=math.sqrt(variance),
    )


def smc_run(setup: Setup, loglike: _Timed, settings: _Settings, seed: int) -> _Run:
    """One SMC run with ``settings.live_points`` particles (see the module doc)."""
    from nea_sd.calibrate.nested import _Run

    n = settings.live_points
    ess = TARGET_ESS if settings.tempering_ess is None else settings.tempering_ess
    pilot = max(int(n * PILOT_SHARE), 10)
    stage = _tempered(loglike, pilot, MCMC_STEPS, None, (seed, 0), ess)
    previous: _Stage | None = None
    for r in range(1, MAX_REFINE + 1):
        stage = _tempered(loglike, n, REFINE_STEPS, _Reference.fit(stage.z), (seed, r), ess)
        if previous is not None and abs(stage.log_z - previous.log_z) < LOG_Z_TOL:
            stage = _pooled(previous, stage)
            break
        previous = stage
    return _Run(
        points=loglike.target.prior_ppf(expit(stage.z)),
        weights=stage.weights,
        log_z=stage.log_z,
        log_z_err=stage.log_z_err,
        max_log_l=float(np.max(stage.log_likes)),
        capped=False,
    )


def _pooled(a: _Stage, b: _Stage) -> _Stage:
    """Two independent estimates of the same posterior and evidence as one: half the weight
    each, the mean log Z with the error of a mean of two independent estimates."""
    return _Stage(
        z=np.vstack([a.z, b.z]),
        log_likes=np.concatenate([a.log_likes, b.log_likes]),
        weights=np.concatenate([a.weights / a.weights.sum(), b.weights / b.weights.sum()]) / 2,
        log_z=0.5 * (a.log_z + b.log_z),
        log_z_err=0.5 * math.hypot(a.log_z_err, b.log_z_err),
    )


@functools.cache
def _moves_class() -> type:
    """SMCPy's vectorised Metropolis with the moves below in place of its own."""
    smcpy = _smcpy()

    class Moves(smcpy.VectorMCMC):
        def smc_metropolis(self, inputs, num_samples, cov, log_likes=None):
            return _moves(self, inputs, num_samples, cov, log_likes)

    return Moves


def _moves(mcmc, inputs: np.ndarray, num_samples: int, cov: np.ndarray, log_likes):
    """Alternate independence Metropolis-Hastings moves from a Gaussian fitted to the
    population with random-walk moves whose scale is tuned towards RW_ACCEPT.

    Why not SMCPy's own: it proposes with the population's full covariance (3-7 % accepted
    in 21 dimensions on the regional base) and divides it by 5 whenever fewer than 30 % are
    accepted, so most of its moves ran at 60-70 % acceptance with steps a fifth of the
    population's spread: small steps along a ridge. The random walk here starts at the
    optimal scale 2.38^2/d (Roberts, Gelman and Gilks 1997) and adapts smoothly; the
    independence moves jump across the population's spread in one step, which is what
    carries particles along a ridge they would otherwise crawl. Only SMCPy's public methods
    are used (its tempered target is ``evaluate_log_posterior``).
    """
    d = inputs.shape[1]
    like = mcmc.evaluate_log_likelihood(inputs) if log_likes is None else log_likes
    state = (inputs, np.reshape(like, (-1, 1)).astype(float), mcmc.evaluate_log_priors(inputs))
    mean = inputs.mean(axis=0)
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(d))
    scale = 2.38**2 / d
    for i in range(num_samples):
        if i % 2:
            new = mean + mcmc.rng.normal(0.0, 1.0, inputs.shape) @ chol.T
            log_q = _log_gauss(state[0], mean, chol) - _log_gauss(new, mean, chol)
            state, _ = _metropolis(mcmc, state, new, log_q)
        else:
            walk = _cholesky(cov * scale)
            new = state[0] + (walk @ mcmc.rng.normal(0.0, 1.0, inputs.shape).T).T
            state, accepted = _metropolis(mcmc, state, new, 0.0)
            scale *= math.exp(ADAPT * (accepted - RW_ACCEPT))
    return state[0], state[1]


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """The factor of a population's covariance; one that rounding left not quite positive
    definite (particles duplicated by resampling) gets a jitter of 1e-12 of its scale."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return np.linalg.cholesky(cov + 1e-12 * np.trace(cov) / len(cov) * np.eye(len(cov)))


def _metropolis(mcmc, state: tuple, new: np.ndarray, log_q: np.ndarray | float):
    """One Metropolis-Hastings accept/reject of ``new`` against ``state`` (particles, log
    likelihoods, log priors) with ``log_q`` the proposal's log density ratio q(old)/q(new):
    the next state and the share accepted. The ratio stays in log space, so an infinite
    target and a vanishing proposal density never meet as 0 * inf."""
    inputs, log_like, log_priors = state
    new_priors = mcmc.evaluate_log_priors(new)
    new_like = mcmc.evaluate_log_likelihood(new)
    log_ratio = (
        np.ravel(mcmc.evaluate_log_posterior(new, new_like, new_priors))
        - np.ravel(mcmc.evaluate_log_posterior(inputs, log_like, log_priors))
        + log_q
    )
    with np.errstate(over="ignore"):
        rejected = np.exp(log_ratio).reshape(-1, 1) < mcmc.rng.uniform(0.0, 1.0, (len(new), 1))
    state = (
        np.where(rejected, inputs, new),
        np.where(rejected, log_like, new_like),
        np.where(rejected, log_priors, new_priors),
    )
    return state, 1.0 - float(np.mean(rejected))


def _log_gauss(x: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Log density of N(mean, chol chol^T) up to its constant (which cancels in a ratio)."""
    dev = np.linalg.solve(chol, (x - mean).T)
    return -0.5 * np.sum(dev**2, axis=0)


def _identity(x: np.ndarray) -> np.ndarray:
    return x
