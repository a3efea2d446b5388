"""Richardson model against its closed form.

Vensim/PySD integrate with Euler, so the exact truth for the simulated trajectory is the linear
recurrence z[n+1] = M z[n] + dt c with M = I + dt A, i.e. z[n] = z* + M^n (z0 - z*), where
z* = (x*, y*) is Richardson's equilibrium
x* = (b g + k h)/(a b - k l), y* = (a h + l g)/(a b - k l).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nea_sd.engine import simulate
from tests.support import bundled

OUT = ["Arms X", "Arms Y", "Equilibrium arms X", "Equilibrium arms Y", "Stability margin"]


def run(**params: float):
    model = bundled("richardson")
    overrides = {name.replace("_", " "): value for name, value in params.items()}
    return simulate(model, [overrides], OUT, engine="pysd").isel(run=0)


def euler_closed_form(a, b, k, l, g, h, x0, y0, dt, times, t0):  # noqa: E741
    A = np.array([[-a, k], [l, -b]])
    c = np.array([g, h])
    z_star = np.linalg.solve(-A, c)
    M = np.eye(2) + dt * A
    steps = np.rint((np.asarray(times) - t0) / dt).astype(int)
    z0 = np.array([x0, y0]) - z_star
    return np.array([z_star + np.linalg.matrix_power(M, n) @ z0 for n in steps]), z_star


def test_default_run_matches_closed_form_and_equilibrium() -> None:
    result = run()
    times = result["time"].values
    expected, z_star = euler_closed_form(0.5, 0.5, 0.3, 0.3, 10, 10, 30, 30, 0.0625, times, 1900)
    np.testing.assert_allclose(result["Arms X"].values, expected[:, 0], rtol=1e-10)
    np.testing.assert_allclose(result["Arms Y"].values, expected[:, 1], rtol=1e-10)
    # x* = (b g + k h)/(a b - k l) = (0.5*10 + 0.3*10)/(0.25 - 0.09) = 50
    assert z_star == pytest.approx([50.0, 50.0])
    assert float(result["Equilibrium arms X"][0]) == pytest.approx(50.0)
    assert float(result["Arms X"][-1]) == pytest.approx(50.0, rel=1e-4)


coefficient = st.floats(0.05, 1.5)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=coefficient, b=coefficient, k=coefficient, l=coefficient, g=st.floats(-50, 50),
       h=st.floats(-50, 50))  # fmt: skip
def test_random_coefficients_follow_closed_form(a, b, k, l, g, h) -> None:  # noqa: E741
    margin = a * b - k * l
    if abs(margin) < 1e-3:
        return
    result = run(Fatigue_coefficient_X=a, Fatigue_coefficient_Y=b, Defence_coefficient_X=k,
                 Defence_coefficient_Y=l, Grievance_X=g, Grievance_Y=h)  # fmt: skip
    times = result["time"].values
    expected, z_star = euler_closed_form(a, b, k, l, g, h, 30, 30, 0.0625, times, 1900)
    got = np.stack([result["Arms X"].values, result["Arms Y"].values], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())
    assert float(result["Equilibrium arms X"][0]) == pytest.approx(z_star[0], rel=1e-9)
    assert float(result["Equilibrium arms Y"][0]) == pytest.approx(z_star[1], rel=1e-9)
    assert float(result["Stability margin"][0]) == pytest.approx(margin)


def test_stable_regime_converges_to_equilibrium() -> None:
    result = run(Fatigue_coefficient_X=0.8, Fatigue_coefficient_Y=0.6, Defence_coefficient_X=0.3,
                 Defence_coefficient_Y=0.4, Grievance_X=5, Grievance_Y=20)  # fmt: skip
    x_star = (0.6 * 5 + 0.3 * 20) / (0.8 * 0.6 - 0.3 * 0.4)
    y_star = (0.8 * 20 + 0.4 * 5) / (0.8 * 0.6 - 0.3 * 0.4)
    assert float(result["Arms X"][-1]) == pytest.approx(x_star, rel=1e-6)
    assert float(result["Arms Y"][-1]) == pytest.approx(y_star, rel=1e-6)


def test_unstable_regime_diverges() -> None:
    # a b - k l = 0.04 - 0.36 < 0: the race runs away from the (repelling) equilibrium
    result = run(Fatigue_coefficient_X=0.2, Fatigue_coefficient_Y=0.2, Defence_coefficient_X=0.6,
                 Defence_coefficient_Y=0.6)  # fmt: skip
    x = result["Arms X"].values
    assert float(result["Stability margin"][0]) < 0
    assert x[-1] > 1e6 * x[0]
    growth = np.log(x[-1] / x[-2])  # per saved year; dominant eigenvalue of M^16
    M = np.eye(2) + 0.0625 * np.array([[-0.2, 0.6], [0.6, -0.2]])
    assert growth == pytest.approx(16 * np.log(np.abs(np.linalg.eigvals(M)).max()), rel=1e-6)
