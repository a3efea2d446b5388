"""Fit statistics against values computed by hand (Sterman 1984, population moments)."""

import math

import numpy as np
import pytest

from nea_sd.calibrate import batch_fit_statistics, fit_statistics
from nea_sd.errors import InvalidValueError

SIM = [1.0, 2.0, 3.0, 5.0]
ACT = [1.5, 2.0, 2.5, 4.0]


def test_four_point_example_by_hand():
    st = fit_statistics(SIM, ACT)
    # errors -0.5, 0, 0.5, 1 -> squared .25, 0, .25, 1
    mse = (0.25 + 0 + 0.25 + 1) / 4
    mean_s, mean_a = 11 / 4, 10 / 4
    var_s = ((-1.75) ** 2 + (-0.75) ** 2 + 0.25**2 + 2.25**2) / 4  # 2.1875
    var_a = ((-1) ** 2 + (-0.5) ** 2 + 0**2 + 1.5**2) / 4  # 0.875
    cov = ((-1.75) * (-1) + (-0.75) * (-0.5) + 0.25 * 0 + 2.25 * 1.5) / 4  # 1.375
    sd_s, sd_a = math.sqrt(var_s), math.sqrt(var_a)
    r = cov / (sd_s * sd_a)
    assert st.n == 4
    assert st.mse == pytest.approx(mse) and st.rmse == pytest.approx(math.sqrt(mse))
    assert st.mape == pytest.approx(100 / 4 * (0.5 / 1.5 + 0 + 0.5 / 2.5 + 1 / 4))
    assert st.r == pytest.approx(r) and st.r2 == pytest.approx(r**2)
    assert st.efficiency == pytest.approx(1 - 1.5 / 3.5)  # SS_tot(a) = 4 * 0.875
    assert st.um == pytest.approx((mean_s - mean_a) ** 2 / mse)  # 1/6
    assert st.us == pytest.approx((sd_s - sd_a) ** 2 / mse)
    assert st.uc == pytest.approx(2 * (1 - r) * sd_s * sd_a / mse)
    assert st.um == pytest.approx(1 / 6)
    assert st.um + st.us + st.uc == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_components_sum_to_one(seed):
    rng = np.random.default_rng(seed)
    a = rng.lognormal(size=30)
    s = 1.3 * a + rng.normal(scale=0.4, size=30) + 0.2
    st = fit_statistics(s, a)
    assert st.um + st.us + st.uc == pytest.approx(1, abs=1e-12)
    assert min(st.um, st.us, st.uc) >= 0


def test_pure_bias_and_pure_scale():
    a = np.array([1.0, 2.0, 4.0, 3.0])
    shifted = fit_statistics(a + 2, a)
    assert (shifted.um, shifted.us, shifted.uc) == pytest.approx((1, 0, 0), abs=1e-12)
    around_mean = a.mean() + 2 * (a - a.mean())  # same mean, double variation, r = 1
    scaled = fit_statistics(around_mean, a)
    assert (scaled.um, scaled.us, scaled.uc) == pytest.approx((0, 1, 0), abs=1e-12)


def test_nan_pairs_dropped():
    st = fit_statistics(SIM + [np.nan, 7.0], ACT + [3.0, np.nan])
    ref = fit_statistics(SIM, ACT)
    assert st.n == 4 and st.mse == ref.mse and st.uc == ref.uc


def test_fewer_than_two_points():
    with pytest.raises(InvalidValueError) as info:
        fit_statistics([1.0, np.nan, 3.0], [np.nan, 2.0, 3.0])
    assert str(info.value) == "fit statistics need at least 2 paired (non-missing) points; got 1"


def test_shape_mismatch():
    with pytest.raises(InvalidValueError, match=r"simulated \(3,\) and actual \(2,\)"):
        fit_statistics([1, 2, 3], [1, 2])


def test_perfect_fit_components_undefined_and_zero_actual_mape():
    st = fit_statistics(ACT, ACT)
    assert st.mse == 0 and math.isnan(st.um) and math.isnan(st.uc)
    assert math.isnan(fit_statistics([1.0, 2.0], [0.0, 2.0]).mape)


def test_batch_matches_single_runs():
    rng = np.random.default_rng(1)
    a = rng.normal(10, 2, size=12)
    a[3] = np.nan
    runs = a[None, :] + rng.normal(size=(4, 12))
    runs[:, 3] = 1.0
    batch = batch_fit_statistics(runs, a)
    assert batch.sizes["run"] == 4 and batch.attrs["n"] == 11
    for i in range(4):
        single = fit_statistics(runs[i], a)
        for key in ("mse", "mape", "r2", "um", "us", "uc", "efficiency"):
            assert float(batch[key][i]) == pytest.approx(getattr(single, key), rel=1e-12)


def test_text_and_html():
    st = fit_statistics(SIM, ACT)
    assert str(st).startswith("n=4  RMSE=0.6124  MAPE=19.6%")
    assert "U^M=0.167 (bias)" in str(st)
    assert "<table>" in st._repr_html_() and "U^C (unequal covariation)" in st._repr_html_()
    assert st.to_series()["n"] == 4
