"""Links and error models against closed forms from scipy.stats; vectorized over runs."""

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import least_squares
from scipy.special import logit

from nea_sd.calibrate import (
    Binomial,
    Identity,
    Index,
    Logistic,
    LogitNormal,
    LogLinear,
    LogNormal,
    Normal,
    Observation,
    Poisson,
    Scale,
    at_years,
)
from nea_sd.data import load_series
from nea_sd.data.series import Series
from nea_sd.errors import DataError, InvalidValueError

OBS = np.array([10.0, 12.0, np.nan, 15.0])
PRED = np.array([[9.0, 13.0, 1.0, 15.5], [11.0, 11.0, 1.0, 14.0], [10.0, 12.0, 5.0, 15.0]])
KEEP = np.isfinite(OBS)


def test_lognormal_equals_scipy_per_run():
    ll = LogNormal(0.2).log_likelihood(PRED, OBS)
    ref = [stats.lognorm(s=0.2, scale=p[KEEP]).logpdf(OBS[KEEP]).sum() for p in PRED]
    assert ll.shape == (3,) and ll == pytest.approx(ref, rel=1e-12)


def test_lognormal_sigma_larger_on_flagged_points():
    flags = {
        "sipri_estimate": np.array([False, True, False, True]),
        "sipri_highly_uncertain": np.array([False, False, False, True]),
    }
    error = LogNormal(0.05, sigma_estimate=0.15, sigma_highly_uncertain=0.4)
    assert error.sigmas(4, flags).tolist() == [0.05, 0.15, 0.05, 0.4]
    ll = error.log_likelihood(PRED, OBS, flags)
    sig = np.array([0.05, 0.15, 0.4])
    ref = [stats.lognorm(s=sig, scale=p[KEEP]).logpdf(OBS[KEEP]).sum() for p in PRED]
    assert ll == pytest.approx(ref, rel=1e-12)


def test_lognormal_nonpositive_prediction_is_impossible_and_data_must_be_positive():
    pred = np.array([[10.0, -1.0, 1.0, 15.0]])
    assert LogNormal(0.1).log_likelihood(pred, OBS)[0] == -np.inf
    with pytest.raises(DataError, match="log-normal error needs positive data; got \\[0.0\\]"):
        LogNormal(0.1).log_likelihood(PRED, np.array([10.0, 0.0, 1.0, 2.0]))


def test_normal_equals_scipy():
    ll = Normal(1.5).log_likelihood(PRED, OBS)
    ref = [stats.norm(p[KEEP], 1.5).logpdf(OBS[KEEP]).sum() for p in PRED]
    assert ll == pytest.approx(ref, rel=1e-12)


def test_logitnormal_equals_logit_normal_density():
    y = np.array([36.5, 65.2, np.nan, 92.8])
    pred = np.array([[40.0, 60.0, 50.0, 90.0], [30.0, 70.0, 50.0, 95.0]])
    keep = np.isfinite(y)
    p = y[keep] / 100
    ll = LogitNormal(0.3).log_likelihood(pred, y)
    ref = [
        (stats.norm(logit(q[keep] / 100), 0.3).logpdf(logit(p)) - np.log(p * (1 - p))).sum()
        for q in pred
    ]
    assert ll == pytest.approx(ref, rel=1e-12)
    with pytest.raises(DataError, match="strictly between 0 and 100"):
        LogitNormal(0.3).log_likelihood(pred, np.array([0.0, 50, 50, 50]))


def test_binomial_equals_scipy():
    y = np.array([36.5, 65.2, np.nan, 92.8])
    pred = np.array([[40.0, 60.0, 50.0, 90.0], [30.0, 70.0, 50.0, 95.0]])
    keep = np.isfinite(y)
    k = np.round(1000 * y[keep] / 100)  # 365, 652, 928 of 1000 respondents
    ll = Binomial(1000).log_likelihood(pred, y)
    ref = [stats.binom(1000, q[keep] / 100).logpmf(k).sum() for q in pred]
    assert ll == pytest.approx(ref, rel=1e-12)


def test_poisson_equals_scipy():
    counts = np.array([0.0, 1.0, 3.0, np.nan, 0.0])
    rate = np.array([[0.2, 0.5, 1.0, 9.0, 0.0], [1.0, 1.0, 1.0, 1.0, 2.0]])
    keep = np.isfinite(counts)
    ll = Poisson().log_likelihood(rate, counts)
    ref = [stats.poisson(r[keep]).logpmf(counts[keep]).sum() for r in rate]
    assert ll == pytest.approx(ref, rel=1e-12)
    with pytest.raises(DataError, match="non-negative whole counts"):
        Poisson().log_likelihood(rate, np.array([0.5, 1, 1, 1, 1]))


def test_poisson_deviance_residuals_square_to_the_log_likelihood():
    # ½ Σ r² = −log L + Σ (y log y − y + log y!), a constant of the data alone
    counts = np.array([0.0, 1.0, 3.0, np.nan, 0.0, 7.0])
    rate = np.array([[0.2, 0.5, 1.0, 9.0, 0.01, 6.0], [1.0, 1.0, 4.0, 1.0, 2.0, 9.5]])
    keep = np.isfinite(counts)
    r = Poisson().standardized(rate, counts)
    assert np.isnan(r[:, ~keep]).all()
    y = counts[keep]
    const = np.sum(stats.poisson(np.where(y > 0, y, 1.0)).logpmf(y) * (y > 0))
    ll = Poisson().log_likelihood(rate, counts)
    assert 0.5 * np.sum(r[:, keep] ** 2, axis=1) == pytest.approx(-ll + const, rel=1e-12)
    assert np.sign(r[:, keep]).tolist() == [[-1, 1, 1, -1, 1], [-1, 0, -1, -1, -1]]


def test_loglinear_link_by_hand_and_fitted_per_run():
    link = LogLinear(intercept=np.log(2.0), slope=-3.0)
    assert link.transform(np.array([0.0, 1.0])) == pytest.approx([2.0, 2.0 * np.exp(-3.0)])
    fitted = LogLinear(slope=1.0)
    assert fitted.free == ("intercept",) and LogLinear().free == ("intercept", "slope")
    got = fitted.transform(np.zeros((2, 1)), {"intercept": np.array([0.0, np.log(5.0)])})
    assert got[:, 0] == pytest.approx([1.0, 5.0])


def test_poisson_loglinear_least_squares_recovers_synthetic_rates():
    # counts drawn with a known log-linear rate in a known covariate (trust): least squares on
    # the deviance residuals is the Poisson maximum likelihood — its score X'(y − μ) vanishes
    # — and recovers the truth within a few standard errors
    rng = np.random.default_rng(7)
    trust = rng.uniform(0.0, 1.0, 4000)
    truth = (0.5, -2.0)
    counts = rng.poisson(np.exp(truth[0] + truth[1] * trust)).astype(float)

    def residuals(p: np.ndarray) -> np.ndarray:
        rate = LogLinear(intercept=p[0], slope=p[1]).transform(trust)
        return Poisson().standardized(rate, counts)

    fit = least_squares(residuals, [0.0, 0.0], xtol=1e-12, ftol=1e-12, gtol=1e-12)
    mu = np.exp(fit.x[0] + fit.x[1] * trust)
    score = np.array([np.sum(counts - mu), np.sum((counts - mu) * trust)])
    assert np.abs(score) == pytest.approx([0.0, 0.0], abs=1e-4)
    cov = np.linalg.inv(
        np.array([[mu.sum(), (mu * trust).sum()], [(mu * trust).sum(), (mu * trust**2).sum()]])
    )
    assert (np.abs(fit.x - truth) < 4 * np.sqrt(np.diag(cov))).all()


def test_single_run_gives_scalar():
    ll = LogNormal(0.2).log_likelihood(PRED[0], OBS)
    assert np.ndim(ll) == 0


def test_logistic_link_by_hand():
    link = Logistic(alpha=0.0, beta=1.0)
    # 100 * (1 - logistic(logit(T))) = 100 * (1 - T)
    assert link.transform(np.array([0.25, 0.5])) == pytest.approx([75.0, 50.0])
    fitted = Logistic()
    assert fitted.free == ("alpha", "beta")
    values = fitted.transform(
        np.full((2, 1), 0.5), {"alpha": np.array([0.0, np.log(3)]), "beta": 2.0}
    )
    assert values[:, 0] == pytest.approx([50.0, 25.0])  # logistic(log 3) = 3/4
    with pytest.raises(InvalidValueError, match="has 'alpha' to fit; pass params="):
        fitted.transform(np.array([0.5]))


def test_scale_link_fixed_and_fitted_per_run():
    years = np.arange(2000.0, 2005.0)
    model = np.arange(10.0).reshape(2, 5)
    assert Scale(2.0).predict(model, years, np.array([2001, 2003])).tolist() == [[2, 6], [12, 16]]
    got = Scale().predict(model, years, np.array([2001]), {"factor": np.array([1.0, 10.0])})
    assert got.tolist() == [[1.0], [60.0]]
    assert Identity().free == () and Scale().free == ("factor",) and Scale(1.0).free == ()


def test_at_years_requires_saved_years():
    with pytest.raises(InvalidValueError, match="no value at year\\(s\\) 2010"):
        at_years(np.zeros((2, 3)), np.array([2000.0, 2001, 2002]), np.array([2001, 2010]))


def _kp_like() -> Series:
    years = [2000, 2001, 2002, 2003, 2004]
    return Series("kp", "KP", years, [2.0, 4.0, 8.0, 100.0, 200.0], "won", "f", "", breaks=(2003,))


def test_index_link_per_segment_by_hand():
    kp = _kp_like()
    link = Index((2000, 2003))
    years = np.array([2000, 2001, 2002, 2003, 2004])
    assert link.observe(kp, years).tolist() == [1.0, 2.0, 4.0, 1.0, 2.0]
    model = np.array([[1.0, 3.0, 9.0, 27.0, 81.0]])
    bases = link.bases(kp, years)
    assert link.predict(model, years, years, bases=bases).tolist() == [[1, 3, 9, 1, 3]]


def test_index_link_refuses_to_cross_a_break():
    with pytest.raises(DataError) as info:
        Index(2000).observe(_kp_like(), np.array([2000, 2001, 2002, 2003, 2004]))
    assert str(info.value) == (
        "index link for 'kp': no base year in segment 2003-2004 (level break(s) at [2003]); "
        "give exactly one base year per segment, e.g. base_year = [...], or restrict the period "
        "to one side of the break (comparing across it would be meaningless)"
    )


def test_observation_on_real_series(data_dir):
    cn = load_series("sipri:milex_constant_2022_usd:CN", data_dir)
    model_years = np.arange(1985.0, 2031.0)
    truth = cn.on_years(model_years.astype(int))
    model = np.vstack([np.where(np.isnan(truth), 1.0, truth) * f for f in (1.0, 1.2)])
    error = LogNormal(0.05, sigma_estimate=0.15)
    obs = Observation("milex CN", cn, "Military expenditure[CN]", Identity(), error, weight=2.0)
    ll = obs.log_likelihood(model, model_years, period=(1990, 2020))
    data = cn.within(1990, 2020).values
    ref = [
        2 * stats.lognorm(s=0.15, scale=data * f).logpdf(data).sum() for f in (1.0, 1.2)
    ]  # every Chinese point is a SIPRI estimate
    assert ll == pytest.approx(ref, rel=1e-12)
    assert ll[0] > ll[1]


def test_observation_dprk_index_across_break_needs_two_base_years(data_dir):
    kp = load_series("sipri:milex_local_currency:KP", data_dir)
    model_years = np.arange(1980.0, 2021.0)
    model = np.exp(0.03 * (model_years - 1980))[None, :]
    one = Observation("kp", kp, "Military expenditure[KP]", Index(1990), LogNormal(0.5))
    with pytest.raises(DataError, match="no base year in segment 2003-2018"):
        one.log_likelihood(model, model_years)
    two = Observation("kp", kp, "Military expenditure[KP]", Index((1990, 2010)), LogNormal(0.5))
    assert np.isfinite(two.log_likelihood(model, model_years)).all()
    gap = Observation("kp", kp, "Military expenditure[KP]", Index((1995, 2010)), LogNormal(0.5))
    with pytest.raises(DataError, match=r"base year \[1995\] has no observation"):
        gap.log_likelihood(model, model_years)
    before = Observation("kp", kp, "x", Index(1990), LogNormal(0.5))
    assert np.isfinite(before.log_likelihood(model, model_years, period=(1986, 2002)))
