"""The samplers' log evidence on a target shaped like the regional base's posterior (slow).

Why: on the regional base the samplers' log Z differ by 0.15-0.3, more than their Monte Carlo
errors; a closed form in two dimensions cannot say which one is off. Here the target has the
base posterior's 21 sampled dimensions, its correlations and its mass against the bounds: in
the unit cube (uniform prior, volume 1), L(u) = N(T(u); mu, Sigma) with mu, Sigma the committed
posterior draws' mean and covariance (each coordinate rescaled by its bounds) and T a shear
that bends seven of its ridges into bananas (unit Jacobian). Its evidence is then the mass
of N(mu, Sigma) that T^-1 maps into the cube, a plain Monte Carlo integral (4e6 draws, error
about 0.0015 in log Z), independent of either sampler.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nea_sd.calibrate.nested import _RUNNERS, _Settings, nested_sample

RESULTS = Path(__file__).parents[2] / "calibration" / "results"
BEND = 1.0  # the shear's strength: a ridge's centre moves BEND sd per sd squared across it


@dataclass(frozen=True)
class Shaped:
    """The target: names, the Gaussian (mean, Cholesky factor) and the bent pairs."""

    names: tuple[str, ...]
    mean: np.ndarray
    chol: np.ndarray
    pairs: tuple[tuple[int, int], ...]

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.sum(self.chol**2, axis=1))

    def bend(self, u: np.ndarray, sign: float) -> np.ndarray:
        """T (sign +1) or its inverse (-1): coordinate j moves with coordinate i squared; no
        bent coordinate bends another, so the inverse is exact."""
        v = np.array(u, dtype=float)
        sd = self.sd
        for i, j in self.pairs:
            v[:, j] += sign * BEND * sd[j] * ((v[:, i] - self.mean[i]) / sd[i]) ** 2
        return v

    def log_like(self, u: np.ndarray) -> np.ndarray:
        z = np.linalg.solve(self.chol, (self.bend(np.atleast_2d(u), 1.0) - self.mean).T)
        d = len(self.mean)
        log_det = 2.0 * np.sum(np.log(np.diag(self.chol)))
        return -0.5 * (np.sum(z**2, axis=0) + log_det + d * math.log(2 * math.pi))

    def log_z(self, draws: int, rng: np.random.Generator) -> tuple[float, float]:
        inside = 0
        for _ in range(draws // 500_000):
            v = self.mean + rng.standard_normal((500_000, len(self.mean))) @ self.chol.T
            u = self.bend(v, -1.0)
            inside += int(np.sum(np.all((u >= 0.0) & (u <= 1.0), axis=1)))
        p = inside / draws
        return math.log(p), math.sqrt((1.0 - p) / (p * draws))


def _shaped() -> Shaped:
    with open(RESULTS / "nea_base_posterior.toml", "rb") as f:
        result = tomllib.load(f)
    integrated = set(result["nested"]["integrated_links"])
    draws = pd.read_csv(RESULTS / result["nested"]["draws_file"])
    names = tuple(c for c in draws.columns if c != "run" and c not in integrated)
    bounds = np.array([result["parameters"][n]["bounds"] for n in names], dtype=float)
    u = (draws[list(names)].to_numpy() - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])
    d = len(names)
    pairs = tuple((i, (i + 7) % d) for i in range(0, d, 3))
    assert not {j for _, j in pairs} & {i for i, _ in pairs}
    return Shaped(names, u.mean(axis=0), np.linalg.cholesky(np.cov(u.T)), pairs)


class _Goal:
    """What a runner reads of the sampled target: names and the prior transform (the cube)."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    @staticmethod
    def prior_ppf(u: np.ndarray) -> np.ndarray:
        return np.asarray(u, dtype=float)


class _Like:
    """The runner's likelihood: vectorised over a population, counted."""

    def __init__(self, shaped: Shaped):
        self.target = _Goal(shaped.names)
        self.shaped = shaped
        self.runs = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        self.runs += len(X)
        return self.shaped.log_like(X)


def _settings(live_points: int) -> _Settings:
    """What nested_sample asks a runner for at its defaults, with ``live_points``: its own
    defaults for the fields it always sets, _Settings' for the rest (as nested_sample does)."""
    defaults = inspect.signature(nested_sample).parameters
    required = [f.name for f in dataclasses.fields(_Settings) if f.default is dataclasses.MISSING]
    values = {name: defaults[name].default for name in required}
    return _Settings(**{**values, "live_points": live_points})


@pytest.fixture(scope="module")
def shaped() -> tuple[Shaped, float, float]:
    target = _shaped()
    log_z, err = target.log_z(4_000_000, np.random.default_rng(12345))
    return target, log_z, err


# measured (7 December): truth -2.1205 ± 0.0004 (4e7 draws); nautilus's runs -2.096 ± 0.047
# and -2.100 ± 0.033 (6-7 min each; on the unbent Gaussian, BEND = 0, four runs -1.330, -1.299,
# -1.310, -1.330 against -1.311)
@pytest.mark.slow  # 13-21 min
def test_nautilus_evidence_on_the_regional_posteriors_shape(shaped):
    target, truth, truth_err = shaped
    assert len(target.names) == 21 and truth_err < 0.005
    runs = [_RUNNERS["nautilus"](None, _Like(target), _settings(1000), seed) for seed in (0, 1)]
    zs = np.array([r.log_z for r in runs])
    own = math.sqrt(np.mean([r.log_z_err**2 for r in runs]) / 2)
    err = max(float(zs.std(ddof=1) / math.sqrt(2)), own)  # as nested_sample pools its runs
    assert zs.mean() == pytest.approx(truth, abs=max(4 * err, 0.05))


# measured (7 December): 20 runs, 500 particles: mean -0.172 below the truth (sd 0.144 between
# runs, mean reported error 0.063); other settings (20 runs each) move the bias both ways:
# 1,500 particles -0.104, 60 moves per step -0.049, each step keeping 95% of the effective size
# -0.025 (2.3 times the model runs), 300 particles keeping 93% +0.003 here and +0.202 on the
# unbent Gaussian (where the defaults give -0.013)
@pytest.mark.slow  # ~1 min
def test_smc_evidence_runs_low_on_the_regional_posteriors_shape(shaped):
    """Tempered SMC at its defaults comes out low here by more than its own error: its moves
    do not carry the population into the bananas' tails between tempering steps. The README
    says so and the evidence tables use nautilus; this test keeps that statement true (it fails
    once SMC's evidence no longer runs low, and the README must then change)."""
    target, truth, _ = shaped
    runs = [_RUNNERS["smc"](None, _Like(target), _settings(500), seed) for seed in range(20)]
    bias = np.array([r.log_z for r in runs]) - truth
    errs = np.array([r.log_z_err for r in runs])
    t = bias.mean() / (bias.std(ddof=1) / math.sqrt(len(bias)))
    assert bias.mean() < -0.08 and t < -3  # low, beyond the runs' spread
    assert bias.std(ddof=1) > 1.3 * errs.mean()  # and its own error understates the spread


# measured (7 December): 20 runs, 500 particles, 0.95: bent -0.025 (sd 0.099 between runs,
# mean reported error 0.041, 2.3 times the defaults' model runs); unbent Gaussian +0.064 (sd
# 0.097, reported 0.037): the bias shrinks and changes sign with the shape, it does not vanish
@pytest.mark.slow  # ~2-4 min
def test_smc_with_finer_tempering_steps_is_closer_on_both_shapes(shaped):
    """``--tempering-ess 0.95`` (each tempering step keeps 95% of the effective size): on the
    bent target and on the unbent Gaussian the mean bias stays within 0.1 (the defaults: 0.17
    low on the bent one, see above) — closer, not unbiased: the README says so and structures
    are still compared with nautilus."""
    target, truth, _ = shaped
    fine = dataclasses.replace(_settings(500), tempering_ess=0.95)
    for shape, goal in ((target, truth), (dataclasses.replace(target, pairs=()), None)):
        if goal is None:
            goal = shape.log_z(4_000_000, np.random.default_rng(12345))[0]
        runs = [_RUNNERS["smc"](None, _Like(shape), fine, seed) for seed in range(20)]
        bias = np.array([r.log_z for r in runs]) - goal
        assert abs(bias.mean()) < 0.1, (shape.pairs, bias.mean())
