"""Link constants integrated out in closed form (nea_sd.calibrate.marginal) against numerical
quadrature of the full likelihood, their conditional draws against the numerical conditional
distribution, and a posterior sampled both ways against each other."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from nea_sd.calibrate.fit import fit
from nea_sd.calibrate.marginal import target
from nea_sd.calibrate.nested import nested_sample
from nea_sd.calibrate.observation import (
    Logistic,
    LogitNormal,
    LogLinear,
    LogNormal,
    Observation,
    Poisson,
    Scale,
)
from nea_sd.calibrate.priors import Prior
from nea_sd.calibrate.problem import Outputs, Problem, prepare
from nea_sd.calibrate.profile import profile
from nea_sd.calibrate.spec import CalibrationSpec, FreeParameter
from nea_sd.calibrate.synthetic import synthetic_spec, with_spec
from nea_sd.data.series import Series

YEARS = np.arange(2000, 2013)
MODEL_YEARS = np.arange(2000.0, 2014.0)


def _free(name: str, low: float, high: float, dist: str = "uniform", **args) -> FreeParameter:
    return FreeParameter(name, low, high, Prior(dist, args, low, high))


def _series(name: str, values: np.ndarray) -> Series:
    keep = np.isfinite(values)
    return Series(name, "XX", YEARS[keep], np.asarray(values)[keep], "u", "synthetic", "0")


def _problem(rng: np.random.Generator):
    """Four observations — a scale factor under a log-normal error with AR(1) and a weight, a
    poll intercept, two MID intercepts sharing a slope (one dyad without any dispute) — of three
    runs' outputs."""
    runs = 3
    spend = np.exp(rng.normal(0, 0.3, (runs, 1)) + 0.05 * np.arange(MODEL_YEARS.size))
    trust = 1 / (1 + np.exp(-rng.normal(0, 0.4, (runs, MODEL_YEARS.size)).cumsum(1) / 3))
    security = rng.uniform(0.2, 0.8, (runs, MODEL_YEARS.size))
    outputs = Outputs(
        {"Spend": 1000 * spend, "Trust": trust, "Security": security, "Other": security},
        MODEL_YEARS,
    )
    spend_data = 2.0e3 * spend[0, :-1] * np.exp(rng.normal(0, 0.1, YEARS.size))
    spend_data[4] = np.nan  # a gap
    poll = 100 * (1 - 1 / (1 + np.exp(-(-1.0 + np.log(trust[0, :-1] / (1 - trust[0, :-1]))))))
    poll = np.clip(poll + rng.normal(0, 3, YEARS.size), 1, 99)
    counts = rng.poisson(np.exp(0.5 - 2.0 * security[0, :-1]))
    observations = (
        Observation(
            "spend",
            _series("spend", spend_data),
            "Spend",
            Scale(None),
            LogNormal(0.1),
            weight=0.7,
            scale=1.3,
            ar1=0.4,
        ),
        Observation("poll", _series("poll", poll), "Trust", Logistic(None, 1.0), LogitNormal(0.3)),
        Observation(
            "mid a",
            _series("mid a", counts.astype(float)),
            "Security",
            LogLinear(None, None),
            Poisson(),
            shared=(("slope", "MID slope"),),
        ),
        Observation(
            "mid b",
            _series("mid b", np.zeros(YEARS.size)),
            "Other",
            LogLinear(None, None),
            Poisson(),
            shared=(("slope", "MID slope"),),
        ),
    )
    links = (
        _free("spend.factor", 0.5, 8.0),
        _free("poll.alpha", -4.0, 4.0),
        _free("mid a.intercept", -8.0, 8.0),
        _free("MID slope", -10.0, 10.0),
        _free("mid b.intercept", -8.0, 8.0),
    )
    spec = CalibrationSpec(
        path=Path("synthetic.toml"),
        model=Path("synthetic.mdl"),
        parameters=(_free("Rate a", 0.0, 1.0), _free("Rate b", 0.0, 1.0)),
        link_parameters=links,
        observations=observations,
        fit_period=(2000, 2012),
        holdout_period=None,
        data_dir=Path("."),
    )
    X = np.column_stack(
        [rng.random(runs), rng.random(runs), np.full(runs, 2.0), np.zeros(runs), np.zeros(runs)]
        + [np.array([-2.0, -1.5, -2.5]), np.zeros(runs)]
    )
    return spec, outputs, X


def _quadrature(spec, obs, key, outputs, x_row, run, low, high, log_scale):
    """log ∫ L(constant) × uniform prior by adaptive quadrature, on the integration coordinate."""
    params = {k: x_row[spec.names.index(obs.link_name(k))] for k in obs.link.free if k != key}
    model = outputs.values[obs.variable][run : run + 1]

    def ll(c: float) -> float:
        value = np.exp(c) if log_scale else c
        return float(obs.log_likelihood(model, outputs.years, {**params, key: value})[0])

    def log_integrand(c: float) -> float:  # prior uniform in e^c: density ∝ e^c in c
        return ll(c) + (c if log_scale else 0.0)

    lo, hi = (np.log(low), np.log(high)) if log_scale else (low, high)
    grid = np.linspace(lo, hi, 4001)
    values = np.array([log_integrand(c) for c in grid])
    peak, ref = grid[np.argmax(values)], values.max()
    area, _ = integrate.quad(
        lambda c: np.exp(log_integrand(c) - ref),
        lo,
        hi,
        points=[peak],
        limit=400,
        epsabs=0,
        epsrel=1e-10,
    )
    return ref + np.log(area) - np.log(high - low)


def test_the_closed_forms_equal_quadrature_of_the_full_likelihood():
    spec, outputs, X = _problem(np.random.default_rng(1))
    goal = target(spec)
    assert set(goal.integrated) == {
        "spend.factor",
        "poll.alpha",
        "mid a.intercept",
        "mid b.intercept",
    }
    assert goal.names == ("Rate a", "Rate b", "MID slope")  # the shared slope stays sampled
    kept = X[:, list(goal.keep)]
    got = goal.log_likelihood(outputs, kept)
    bounds = {p.name: (p.low, p.high) for p in spec.free}
    for run in range(X.shape[0]):
        expected = 0.0
        for obs in spec.observations:
            key = obs.link.free[0]
            name = obs.link_name(key)
            low, high = bounds[name]
            expected += _quadrature(
                spec, obs, key, outputs, X[run], run, low, high, isinstance(obs.link, Scale)
            )
        assert got[run] == pytest.approx(expected, abs=1e-6)
    # the log-likelihood is no longer that of any one value of the constants
    full = Problem(spec).log_likelihood(outputs, goal.full(kept))
    assert np.all(np.abs(got - full) > 1e-3)


def test_sampling_every_link_constant_leaves_the_likelihood_alone():
    spec, outputs, X = _problem(np.random.default_rng(2))
    goal = target(spec, integrate=False)
    assert goal.names == spec.names and goal.integrated == ()
    np.testing.assert_array_equal(
        goal.log_likelihood(outputs, X), Problem(spec).log_likelihood(outputs, X)
    )


def test_a_shared_or_non_uniform_constant_stays_sampled():
    spec, outputs, X = _problem(np.random.default_rng(3))
    links = list(spec.link_parameters)
    links[1] = _free("poll.alpha", -4.0, 4.0, "normal", mean=0.0, sd=1.0)
    goal = target(replace(spec, link_parameters=tuple(links)))
    assert "poll.alpha" in goal.names and "MID slope" in goal.names
    assert "spend.factor" in goal.integrated


@pytest.mark.parametrize("narrow", [False, True])
def test_each_constant_is_put_at_its_conditional_maximum(narrow):
    # against a bounded numerical maximisation of the full log-likelihood in that constant;
    # ``narrow`` bounds put the unconstrained maxima outside them (the clip must find the edge)
    spec, outputs, X = _problem(np.random.default_rng(5))
    if narrow:
        tight = {
            "spend.factor": (0.5, 0.6),
            "poll.alpha": (2.0, 4.0),
            "mid a.intercept": (2.0, 3.0),
        }
        links = tuple(
            _free(p.name, *tight[p.name]) if p.name in tight else p for p in spec.link_parameters
        )
        spec = replace(spec, link_parameters=links)
    goal = target(spec)
    got = goal.concentrate(outputs, X)
    problem = Problem(spec)
    for p in goal.parts:
        name = spec.names[p.column]
        low, high = next((f.low, f.high) for f in spec.free if f.name == name)
        for run in range(X.shape[0]):
            row = got[run : run + 1].copy()

            def nll(v: float, row=row, run=run, p=p) -> float:
                row[0, p.column] = v
                return -float(problem.log_likelihood(outputs.take([run]), row)[0])

            best = optimize.minimize_scalar(
                nll, bounds=(low, high), method="bounded", options={"xatol": 1e-10}
            )
            edge = min((low, high), key=nll)
            expected = edge if nll(edge) <= best.fun else best.x
            assert nll(got[run, p.column]) <= nll(expected) + 1e-7, (name, run)
            assert got[run, p.column] == pytest.approx(expected, abs=1e-4 * (high - low)), name
    assert np.all(got[:, spec.names.index("mid b.intercept")] == -8.0)  # no dispute: lowest
    if narrow:
        assert got[0, spec.names.index("spend.factor")] == 0.6  # the optimum (2) beyond it
    untouched = [j for j in range(X.shape[1]) if j not in {p.column for p in goal.parts}]
    np.testing.assert_array_equal(got[:, untouched], X[:, untouched])


@pytest.mark.parametrize(
    "name", ["spend.factor", "poll.alpha", "mid a.intercept", "mid b.intercept"]
)
def test_conditional_draws_follow_the_numerical_conditional(name):
    spec, outputs, X = _problem(np.random.default_rng(4))
    goal = target(spec)
    n = 4000
    rows = np.repeat(X[:1, list(goal.keep)], n, axis=0)
    many = outputs.take(np.zeros(n, dtype=int))
    draws = goal.draw(many, rows, np.random.default_rng(0))[:, spec.names.index(name)]
    obs = next(o for o in spec.observations if name.startswith(o.name + "."))
    key = name.split(".")[-1]
    low, high = next((p.low, p.high) for p in spec.free if p.name == name)
    log_scale = isinstance(obs.link, Scale)
    params = {k: X[0, spec.names.index(obs.link_name(k))] for k in obs.link.free if k != key}
    model = outputs.values[obs.variable][:1]
    grid = (
        np.linspace(np.log(low), np.log(high), 20001)
        if log_scale
        else np.linspace(low, high, 20001)
    )
    ll = obs.log_likelihood(
        np.repeat(model, grid.size, 0),
        outputs.years,
        {**params, key: np.exp(grid) if log_scale else grid},
    ) + (grid if log_scale else 0.0)
    density = np.exp(ll - ll.max())
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]))])
    cdf /= cdf[-1]
    values = np.log(draws) if log_scale else draws
    assert np.all((values >= grid[0] - 1e-9) & (values <= grid[-1] + 1e-9))
    p = stats.kstest(values, lambda v: np.interp(v, grid, cdf)).pvalue
    assert p > 1e-3, f"{name}: KS p = {p:.2g}"


RICHARDSON = Path(__file__).parent / "fixtures" / "richardson_small.toml"


def test_a_posterior_sampled_with_and_without_the_constant_is_one_posterior(data_dir):
    # Richardson with a free scale factor on one series: integrating it out must leave log Z
    # and every marginal where sampling it puts them (3 dimensions against 2)
    base = prepare(RICHARDSON, data_dir, time_step=0.25)
    x, y = base.spec.observations
    spec = replace(
        base.spec,
        holdout_period=None,
        observations=(replace(x, link=Scale(None)), y),
        link_parameters=(_free("X.factor", 500.0, 2000.0),),
    )
    setup = with_spec(base, spec)
    truth = np.array([0.3, 10.0, 1000.0])
    rep = with_spec(setup, synthetic_spec(setup, truth, np.random.default_rng(0)))
    one = nested_sample(rep, runs=2, live_points=100, seed=0)
    both = nested_sample(rep, runs=2, live_points=100, seed=0, links="free")
    print(one, both)
    assert one.integrated == ("X.factor",) and both.integrated == ()
    assert one.chains.shape[2] == both.chains.shape[2] == 3 and one.converged
    err = np.hypot(one.log_z_err, both.log_z_err)
    assert abs(one.log_z - both.log_z) < max(4 * err, 0.1)
    for name in spec.names:
        j = spec.names.index(name)
        sd = both.samples[:, j].std()
        assert abs(np.median(one.samples[:, j]) - np.median(both.samples[:, j])) < 0.2 * sd
    lo, hi = one.interval("X.factor")
    assert lo < 1000.0 < hi


def test_fits_and_profiles_with_the_constant_in_closed_form_equal_the_free_ones(data_dir):
    # the same Richardson problem: maximising the factor inside the objective must reach the
    # optimum, standard errors and profiles of searching it as a free dimension
    base = prepare(RICHARDSON, data_dir, time_step=0.25)
    x, y = base.spec.observations
    spec = replace(
        base.spec,
        holdout_period=None,
        observations=(replace(x, link=Scale(None)), y),
        link_parameters=(_free("X.factor", 500.0, 2000.0),),
    )
    setup = with_spec(base, spec)
    truth = np.array([0.3, 10.0, 1000.0])
    rep = with_spec(setup, synthetic_spec(setup, truth, np.random.default_rng(1)))
    closed = fit(rep, starts=4, seed=0, links="closed-form")
    free = fit(rep, starts=4, seed=0)
    assert closed.links == "closed-form" and free.links == "free"
    assert closed.log_likelihood >= free.log_likelihood - 1e-4
    assert closed.log_likelihood == pytest.approx(free.log_likelihood, abs=1e-3)
    sd = np.array(free.stderr)
    gap = np.abs(np.subtract(closed.estimates, free.estimates)) / sd
    assert np.all(gap < 0.05), (closed.estimates, free.estimates, free.stderr)
    np.testing.assert_allclose(closed.stderr, free.stderr, rtol=0.02)
    # the starts of the closed-form search ask for no finite differences in the factor
    assert closed.simulations < free.simulations
    pc, pf = profile(rep, closed, points=7), profile(rep, free, points=7)
    for name in spec.names:
        a, b = pc[name], pf[name]
        assert a.status == b.status, name
        width = b.upper - b.lower
        assert a.lower == pytest.approx(b.lower, abs=0.02 * width), name
        assert a.upper == pytest.approx(b.upper, abs=0.02 * width), name
