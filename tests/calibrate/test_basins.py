"""Basins of optima against likelihoods whose landscape is known in closed form."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from nea_sd.calibrate.basins import BARRIER_TOL, basins, fit_basins
from nea_sd.calibrate.fit import fit
from nea_sd.calibrate.problem import prepare


def _analytic(neg_log_l):
    """A stand-in setup whose 'simulation' is the parameter rows and whose log L is given."""
    return SimpleNamespace(
        simulator=SimpleNamespace(run=lambda X: X),
        problem=SimpleNamespace(log_likelihood=lambda out, X: -neg_log_l(np.asarray(X))),
    )


def test_a_double_well_has_two_basins_and_the_barrier_height():
    # minima at x0 = ±1 (−log L 0), the saddle at x0 = 0 is 10 higher
    setup = _analytic(lambda X: 10 * (X[:, 0] ** 2 - 1) ** 2 + X[:, 1] ** 2)
    b = basins(setup, [[-1.0, 0.0], [1.0, 0.0]], [0.0, 0.0])
    assert b.count == 2
    (seg,) = b.segments
    assert seg.height == pytest.approx(10.0, rel=0.05)  # 15 interior points straddle x0 = 0


def test_points_on_a_ridge_are_one_basin():
    # −log L constant along x0 = x1: three optima found apart, none of them separate
    setup = _analytic(lambda X: 50 * (X[:, 0] - X[:, 1]) ** 2)
    b = basins(setup, [[0.0, 0.0], [1.0, 1.0], [3.0, 3.0]], [0.0, 0.0, 0.0])
    assert b.count == 1 and all(abs(s.height) < 1e-12 for s in b.segments)
    assert "1 basin(s)" in str(b)


@pytest.mark.parametrize(("height", "count"), [(2 * BARRIER_TOL, 2), (0.5 * BARRIER_TOL, 1)])
def test_the_tolerance_decides_between_a_bump_and_a_barrier(height, count):
    # a bump of the given height at x0 = 0 (the segment's middle point sits on it)
    setup = _analytic(lambda X: height * np.exp(-(X[:, 0] ** 2) / 0.01))
    assert basins(setup, [[-1.0, 0.0], [1.0, 0.0]], [0.0, 0.0]).count == count


def test_a_fit_whose_starts_agree_has_one_basin(data_dir):
    from pathlib import Path

    setup = prepare(Path(__file__).parent / "fixtures" / "richardson_small.toml", data_dir)
    result = fit(setup, starts=3, seed=0)
    b = fit_basins(setup, result, threshold=3.84)
    assert b.count == 1 and len(b.neg_log_likelihood) == len(result.optima()) == 1
    assert b.neg_log_likelihood[0] == pytest.approx(-result.log_likelihood)
