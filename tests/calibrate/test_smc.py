"""The SMC sampler's reference distribution: the evidence of a run tempered from it is only
right if it is a normalised density, and its draws follow it."""

import numpy as np
import pytest
from scipy import stats

from nea_sd.calibrate.smc import DEFENSIVE, _log_logistic, _Reference


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
