"""The SMC sampler's reference distribution (the evidence of a run tempered from it is only
right if it is a normalised density, and its draws follow it) and which refinements make a
run's result."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from nea_sd.calibrate import smc
from nea_sd.calibrate.smc import DEFENSIVE, _log_logistic, _Reference, _Stage


def _reference() -> _Reference:
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([1.0, -2.0], [[0.5, 0.3], [0.3, 0.4]], size=400)
    return _Reference.fit(z)


def test_the_reference_is_a_normalised_density():
    ref = _reference()
    g = np.linspace(-40.0, 40.0, 1601)
    zz = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    mass = np.exp(ref.logpdf(zz)).sum() * (g[1] - g[0]) ** 2
    assert mass == pytest.approx(1.0, abs=2e-3)
    # the defensive share is the logistic prior's: far from the Gaussian only it is left
    far = np.array([[25.0, 25.0]])
    assert ref.logpdf(far)[0] == pytest.approx(np.log(DEFENSIVE) + _log_logistic(far).sum())


def test_the_reference_draws_follow_its_density():
    ref = _reference()
    z = ref.rvs(20000, np.random.default_rng(1))
    # a draw's density, integrated along the first coordinate's marginal: compare CDFs
    g = np.linspace(-40.0, 40.0, 4001)
    zz = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    dens = np.exp(ref.logpdf(zz)).reshape(len(g), len(g)).sum(axis=1) * (g[1] - g[0])
    cdf = np.cumsum(dens) * (g[1] - g[0])
    p = stats.kstest(z[:, 0], lambda x: np.interp(x, g, cdf)).pvalue
    assert p > 0.01


def _stage(value: float, log_z: float, n: int, weight: float) -> _Stage:
    return _Stage(
        z=np.full((n, 1), value),
        log_likes=np.full(n, log_z),
        weights=np.full(n, weight),
        log_z=log_z,
        log_z_err=0.1,
    )


def _scripted_run(monkeypatch, log_zs: list[float]):
    """smc_run over scripted stages (a pilot, then refinements with these log Z): which of
    them make the run's result."""
    stages = iter(
        [_stage(0.0, -50.0, 3, 1.0)]
        + [_stage(float(i), z, 2 + i, 1.0 + i) for i, z in enumerate(log_zs, start=1)]
    )
    monkeypatch.setattr(smc, "_tempered", lambda *args: next(stages))
    target = SimpleNamespace(prior_ppf=lambda u: u)
    settings = SimpleNamespace(live_points=100, tempering_ess=None)
    return smc.smc_run(None, SimpleNamespace(target=target), settings, seed=0)


def test_two_agreeing_refinements_are_pooled_half_and_half(monkeypatch):
    # refinements 2 and 3 agree within LOG_Z_TOL: both are the run's posterior, each with half
    # the weight whatever its particles' count and raw weights
    tol = smc.LOG_Z_TOL
    run = _scripted_run(monkeypatch, [-10.0, -12.0, -12.0 + tol / 2])
    assert run.log_z == pytest.approx(-12.0 + tol / 4)
    assert run.log_z_err == pytest.approx(0.5 * np.hypot(0.1, 0.1))
    z = smc.logit(np.clip(run.points[:, 0], 1e-12, 1 - 1e-12))  # back from the cube
    assert len(z) == 4 + 5
    assert np.sum(run.weights) == pytest.approx(1.0)
    assert np.sum(run.weights[z < 2.5]) == pytest.approx(0.5)  # refinement 2's particles


def test_without_agreement_the_last_refinement_alone_is_the_result(monkeypatch):
    run = _scripted_run(monkeypatch, [-10.0, -11.0, -12.0])
    assert run.log_z == -12.0 and len(run.points) == 5


def test_the_moves_leave_their_target_invariant():
    # draws of a known target (independent standard logistics, heavier-tailed than the
    # Gaussian the independence moves propose from) must still follow it after the moves:
    # leaving out the proposal's density from the acceptance ratio would concentrate them
    rng = np.random.default_rng(2)
    n, d = 4000, 3
    z = stats.logistic.rvs(size=(n, d), random_state=rng)
    mcmc = smc._moves_class()(smc._identity, np.zeros(1), [smc._Logistic()] * d)
    mcmc.rng = rng
    mcmc.evaluate_log_likelihood = lambda x: np.zeros((len(x), 1))
    mcmc.evaluate_log_posterior = lambda x, like, prior: np.sum(prior, axis=1) + np.ravel(like)
    moved, _ = smc._moves(mcmc, z, 20, np.cov(z, rowvar=False), np.zeros(n))
    assert np.mean(np.any(moved != z, axis=1)) > 0.9  # nearly every particle moved
    for j in range(d):
        assert stats.kstest(moved[:, j], stats.logistic.cdf).pvalue > 0.01
        assert np.var(moved[:, j]) == pytest.approx(np.pi**2 / 3, rel=0.08)
