"""Dyad model: the arms spiral and its tipping point, switchable mechanisms, bounded stocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nea_sd.engine import simulate
from tests.support import bundled

# Every evidence term set to zero: trust stays at its initial value, and the arms race is
# Richardson's with threat coefficient K = k w rho (1 - T) and linear fatigue a (exponent 0).
FROZEN_TRUST = {
    "Effort budget": 0,
    "Detente intensity": 0,
    "Spillover": 0,
    "Contact effect": 0,
    "Functional trust effect": 0,
    "Restraint trust effect": 0,
    "Summit trust effect": 0,
    "Detente spillover": 0,
    "Background friction": 0,
    "Arming threat sensitivity": 0,
    "Disappointment sensitivity": 0,
    "Fatigue exponent": 0,
    "Grievance A": 0,
    "Grievance B": 0,
    "Initial military expenditure A": 40,
    "Initial military expenditure B": 40,
}


def run(overrides: dict, outputs: list[str]):
    return simulate(bundled("dyad"), [overrides], outputs, engine="pysd").isel(run=0)


def tipping_trust(k=0.2, w=0.8, rho=1.0, a=0.1) -> float:
    """T* = 1 - a/(k w rho): below it the symmetric race is locally unstable (design 3.1)."""
    return 1 - a / (k * w * rho)


@pytest.mark.parametrize(("offset", "spirals"), [(-0.15, True), (-0.02, True), (0.1, False)])
def test_arms_race_grows_at_the_linear_rate_and_tips_at_t_star(offset, spirals) -> None:
    trust = tipping_trust() + offset  # T* = 0.375 at the defaults
    overrides = {
        **FROZEN_TRUST,
        "Initial security trust A": trust,
        "Initial security trust B": trust,
    }
    result = run(overrides, ["Military expenditure A", "Security trust A"])
    assert np.allclose(result["Security trust A"], trust)  # trust really frozen
    spending = result["Military expenditure A"].values
    # symmetric mode: x' = K p - a x, p' = (x - p)/tau with K = k w rho (1 - T); Euler dt = 1/16
    k_eff, a, tau, dt = 0.2 * 0.8 * (1 - trust), 0.1, 1.0, 0.0625
    jacobian = np.array([[-a, k_eff], [1 / tau, -1 / tau]])
    mu = np.abs(np.linalg.eigvals(np.eye(2) + dt * jacobian)).max()
    saved_steps = 4  # SAVEPER 0.25 / TIME STEP
    assert spending[-1] / spending[-2] == pytest.approx(mu**saved_steps, rel=1e-4)
    assert (mu > 1) == spirals
    assert (spending[-1] > spending[0]) == spirals


def test_without_cooperation_low_trust_runs_the_spiral() -> None:
    overrides = {
        "Effort budget": 0,
        "Detente intensity": 0,
        "Initial security trust A": 0.05,
        "Initial security trust B": 0.05,
        "History damage A": 0.6,
        "History damage B": 0.6,
    }
    low = run(overrides, ["Mean arms burden", "Military expenditure A"])
    base = run({"Effort budget": 0, "Detente intensity": 0}, ["Mean arms burden"])
    burden, reference = low["Mean arms burden"], base["Mean arms burden"]
    # the spiral: the burden climbs for a decade, more than twice as fast as the default-trust
    # dyad's (which drifts up too since intent is read from spending growth), until fatigue
    # (loop B1) bounds it
    climb = float(burden.sel(time=2010)) / float(burden.sel(time=2000)) - 1
    drift = float(reference.sel(time=2010)) / float(reference.sel(time=2000)) - 1
    assert climb > 0.1 and climb > 2 * drift
    early = slice(2000.25, 2020)
    assert np.all(burden.sel(time=early).values > reference.sel(time=early).values)


BASE = {"Effort budget": 0.5, "Incident size": 2.0}  # functional-first with a 2017 incident
# (switch set to 0, a parameter acting only through the switched mechanism, its test value,
#  watched variable, extra settings isolating the mechanism)
SWITCHES = [
    ("Spillover", "Functional trust effect", 0.2, "Security trust A", {}),
    ("Baseline contact spillover", "Contact effect", 0.8, "Security trust A", {}),
    ("Backfire strength", "Arms control trust threshold", 0.8, "Mean security trust", {}),
    ("Great power gate strength", "Gate trust threshold", 0.9, "Functional regime", {}),
    ("Boycott depth", "Boycott threshold", 0.3, "Exchange volume", {}),
    ("Disappointment sensitivity", "Expectation gain", 4.0, "Mean security trust", {}),
    (
        "Arms control limitation",
        "Arms control lifetime",
        30.0,
        "Threat response A",
        {"Arms control trust effect": 0, "Disappointment sensitivity": 0},
    ),
]


@pytest.mark.parametrize(("switch", "knob", "value", "watched", "extra"), SWITCHES)
def test_switched_off_mechanism_has_no_effect(switch, knob, value, watched, extra) -> None:
    base = {**BASE, **extra}

    def trajectory(overrides: dict) -> np.ndarray:
        return run({**base, **overrides}, [watched])[watched].values

    assert not np.allclose(trajectory({}), trajectory({knob: value})), (
        f"{knob} should matter while {switch} is on"
    )
    np.testing.assert_array_equal(trajectory({switch: 0}), trajectory({switch: 0, knob: value}))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_trust_bounded_and_stocks_nonnegative_for_random_parameters(seed: int) -> None:
    model = bundled("dyad")
    rng = np.random.default_rng(seed)
    draw = {
        p.name: float(rng.uniform(p.low, p.high))
        for p in model.parameters.values()
        if p.has_range and p.name != "TIME STEP"
    }
    result = simulate(model, [draw], model.stocks, engine="pysd").isel(run=0)
    for name in model.stocks:
        values = result[name].values
        assert np.all(np.isfinite(values)), name
        assert values.min() >= -1e-12, name
    for name in model.stocks:
        if "trust" in name.lower() or name in ("Functional regime", "CBMs", "Arms control"):
            assert result[name].values.max() <= 1 + 1e-12, name
