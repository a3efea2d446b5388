"""The report's statistics against known truths: bootstrap coverage of P(A > B) over synthetic
replicates, robust criteria by hand, PRIM recovering a planted box."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import norm

from nea_sd.errors import MissingDependencyError
from nea_sd.report.stats import (
    best_worst_case,
    mean_difference,
    minimax_regret,
    p_greater,
    prim_box,
    robust_criteria,
)


def test_bootstrap_interval_of_p_greater_covers_the_truth_about_95_percent() -> None:
    # A = Z1 + shift, B = Z2 with correlated normals: P(A > B) = Phi(shift / sd(Z1 - Z2))
    rng = np.random.default_rng(11)
    shift, rho, n = 0.4, 0.5, 150
    truth = norm.cdf(shift / np.sqrt(2 - 2 * rho))
    covered = 0
    replicates = 200
    for r in range(replicates):
        z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
        interval = p_greater(z[:, 0] + shift, z[:, 1], seed=r, resamples=1000)
        covered += interval.low <= truth <= interval.high
    assert 0.91 <= covered / replicates <= 0.99


def test_p_greater_counts_ties_half_and_drops_diverged_pairs() -> None:
    a = np.array([1.0, 2.0, 3.0, np.nan])
    b = np.array([0.0, 2.0, 4.0, 1.0])
    interval = p_greater(a, b)
    assert interval.n == 3
    assert interval.value == (1 + 0.5 + 0) / 3
    assert 0 <= interval.low <= interval.value <= interval.high <= 1
    d = mean_difference(a, b)
    assert d.value == 0.0 and d.n == 3


def test_robust_criteria_by_hand() -> None:
    values = xr.DataArray(
        [[1.0, 0.5], [0.0, 0.6], [0.9, np.nan]],
        dims=("draw", "strategy"),
        coords={"strategy": ["A", "B"]},
    )
    crit = robust_criteria(values, better=1)
    assert crit.attrs["draws_used"] == 2  # the draw where B diverged is left out
    np.testing.assert_allclose(crit["mean"].values, [0.5, 0.55])
    np.testing.assert_allclose(crit["max_regret"].values, [0.6, 0.5])
    np.testing.assert_allclose(crit["mean_regret"].values, [0.3, 0.25])
    assert minimax_regret(crit) == "B"
    assert best_worst_case(crit, 1) == "B"  # 5th percentile: A 0.05, B 0.505
    lower = robust_criteria(values, better=-1)  # less is better: regret from the minimum
    np.testing.assert_allclose(lower["max_regret"].values, [0.5, 0.6])
    assert minimax_regret(lower) == "A"


def test_prim_recovers_a_planted_box() -> None:
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.uniform(size=(3000, 5)), columns=[f"x{i}" for i in range(5)])
    y = (x["x0"].between(0.2, 0.6) & (x["x3"] > 0.5)).to_numpy()
    box = prim_box(x, y, threshold=0.9)
    assert box is not None
    assert box.coverage >= 0.9 and box.density >= 0.9
    assert set(box.restricted) == {"x0", "x3"}
    lo, hi = box.limits["x0"]
    assert abs(lo - 0.2) < 0.05 and abs(hi - 0.6) < 0.05
    assert abs(box.limits["x3"][0] - 0.5) < 0.05


def test_prim_without_enough_cases_finds_no_box() -> None:
    x = pd.DataFrame({"a": np.linspace(0, 1, 50)})
    assert prim_box(x, np.zeros(50, dtype=bool)) is None


def test_a_missing_ema_workbench_is_a_clear_error(monkeypatch) -> None:
    for name in [m for m in sys.modules if m.startswith("ema_workbench")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ema_workbench", None)  # import fails as if not installed
    x = pd.DataFrame({"a": np.linspace(0, 1, 40)})
    with pytest.raises(MissingDependencyError, match=r"pip install 'nea-sd\[report\]'"):
        prim_box(x, x["a"].to_numpy() > 0.5)
