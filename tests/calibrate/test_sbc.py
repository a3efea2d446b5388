"""Simulation-based calibration of the Bayesian pipeline (Talts et al. 2018).

Draw θ from the prior, data from the model at θ, sample the posterior with emcee, and rank θ
among the posterior draws. If prior, simulator, likelihood and sampler agree, the ranks are
uniform; a chi-square test on their histogram fails otherwise (the negative control uses a
likelihood narrower than the data-generating error, which must be detected).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nea_sd.calibrate.bayes import Posterior, initial_walkers, sample, sample_task
from nea_sd.calibrate.observation import LogNormal
from nea_sd.calibrate.pool import run_tasks
from nea_sd.calibrate.problem import prepare
from nea_sd.calibrate.synthetic import synthetic_spec, with_spec

SMALL = Path(__file__).parent / "fixtures" / "richardson_small.toml"
WALKERS, STEPS, BURN, THIN = 8, 240, 120, 20  # kept: 8 walkers x 6 steps = 48 draws


@pytest.fixture(scope="module")
def setup(data_dir):
    # a quarter-year Euler step and no held-out years (runs end in 1910): data and fits use
    # the same simulator, so SBC still holds, at a third of the cost
    spec = dataclasses.replace(prepare(SMALL, data_dir).spec, holdout_period=None)
    return prepare(SMALL, data_dir, spec=spec, time_step=0.25)


def sbc_ranks(setup, replicates: int, seed: int, sigma_fit: float | None = None) -> np.ndarray:
    """Rank of each true θ among its posterior draws, (replicates, k); all replicates'
    samplers run together, one batch per step."""
    rng = np.random.default_rng(seed)
    k = len(setup.spec.names)
    truths = setup.spec.prior_ppf(rng.random((replicates, k)))
    tasks, reps = [], []
    for r in range(replicates):
        spec = synthetic_spec(setup, truths[r], rng)
        if sigma_fit is not None:
            spec = dataclasses.replace(
                spec,
                observations=tuple(
                    dataclasses.replace(o, error=LogNormal(sigma_fit)) for o in spec.observations
                ),
            )
        rep = with_spec(setup, spec)
        reps.append(rep)
        p0 = initial_walkers(rep, WALKERS, rng, None)
        tasks.append(sample_task(rep.problem, p0, STEPS, seed + r, BURN, THIN))
    posteriors: list[Posterior] = run_tasks(setup.simulator.run, tasks)
    return np.array([(p.samples < t).sum(axis=0) for p, t in zip(posteriors, truths, strict=True)])


def chi2_uniform(ranks: np.ndarray, draws: int, bins: int = 8) -> float:
    """p-value of a chi-square test that ranks (0..draws) are uniform, pooled over parameters."""
    edges = np.linspace(0, draws + 1, bins + 1)
    p = []
    for j in range(ranks.shape[1]):
        counts, _ = np.histogram(ranks[:, j], bins=edges)
        p.append(stats.chisquare(counts).pvalue)
    # Bonferroni over parameters: the smallest p-value times their number
    return float(min(1.0, min(p) * len(p)))


DRAWS = WALKERS * ((STEPS - BURN + THIN - 1) // THIN)


@pytest.mark.slow  # 60 emcee fits (~80 s): the default suite keeps under 10 minutes
def test_sbc_ranks_are_uniform(setup):
    ranks = sbc_ranks(setup, replicates=60, seed=0)
    assert ranks.shape == (60, 2) and ranks.max() <= DRAWS
    p = chi2_uniform(ranks, DRAWS, bins=8)
    print(f"SBC chi-square p-value (60 replicates): {p:.3f}")
    assert p > 0.01


@pytest.mark.slow  # 40 emcee fits (~55 s)
def test_sbc_detects_an_overconfident_likelihood(setup):
    ranks = sbc_ranks(setup, replicates=40, seed=1, sigma_fit=0.01)  # data have sigma 0.05
    assert chi2_uniform(ranks, DRAWS, bins=8) < 0.01


@pytest.mark.slow
def test_sbc_many_replicates(setup):
    ranks = sbc_ranks(setup, replicates=400, seed=100)
    p = chi2_uniform(ranks, DRAWS, bins=10)
    print(f"SBC chi-square p-value (400 replicates): {p:.3f}")
    assert p > 0.01
    # and a KS test on the normalised ranks of each parameter
    for j in range(ranks.shape[1]):
        u = (ranks[:, j] + np.random.default_rng(j).random(len(ranks))) / (DRAWS + 1)
        assert stats.kstest(u, "uniform").pvalue > 0.005


def test_sample_reports_diagnostics_and_exports_draws(setup):
    rep = with_spec(setup, synthetic_spec(setup, np.array([0.3, 10.0]), np.random.default_rng(0)))
    post = sample(rep, walkers=8, steps=200, seed=0, start=np.array([0.3, 10.0]))
    assert 0.15 < post.acceptance < 0.8
    assert len(post.tau) == 2 and len(post.ess) == 2
    assert post.samples.shape[1] == 2 and len(post.log_prob) == len(post.samples)
    lo, hi = post.interval("Defence coefficient X")
    assert lo < 0.3 < hi
    again = sample(rep, walkers=8, steps=200, seed=0, start=np.array([0.3, 10.0]))
    np.testing.assert_array_equal(post.samples, again.samples)  # seed honoured
    draws = post.draws(50, seed=0)
    assert draws.sizes["draw"] == 50 and set(draws.data_vars) == set(rep.spec.names)
    assert "<table>" in post._repr_html_() and "tau" in str(post)
