"""Loop dominance as a sensitivity output, checked against the logistic model's closed form.

Logistic growth X' = r X - r X^2 / K has a reinforcing loop (births) and a balancing loop
(crowding). Over a step the births change by r dX and the deaths by r (X0 + X1) dX / K, so the
reinforcing loop's relative score is 1 / (1 + (X0 + X1) / K) ~ 1 / (1 + 2X / K): the balancing
loop takes over at the inflection X = K / 2, reached at t* = ln(K / X0 - 1) / r.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sensitivity_helpers import FIXTURES

from nea_sd.engine.batch import compile_model
from nea_sd.errors import NeaSdError
from nea_sd.model import load_model
from nea_sd.sensitivity import build_problem, evaluate_chunk, run_sweep, spec_from_dict

LOOPS = """
[logistic.R1]
title = "growth"
polarity = "R"
path = ["Population", "Births"]

[logistic.B1]
title = "crowding"
polarity = "B"
path = ["Population", "Deaths"]
"""

RATES = np.array([0.3, 0.5, 0.8, 1.0])
CAPACITIES = np.array([60.0, 100.0, 150.0, 200.0])
OUTPUTS = {
    "growth_share": {"kind": "loop_dominance", "loops": ["R1"], "start": 1, "end": 12},
    "crowding_first": {"kind": "loop_dominance", "polarity": "B", "statistic": "first_dominance"},
    "crowding_overtakes": {
        "kind": "loop_dominance",
        "statistic": "overtake",
        "loops": ["B1"],
        "spirals": ["R1"],
        "end": 20,  # before the stock settles (at equilibrium no loop has a score)
    },
}


@pytest.fixture(scope="module")
def logistic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("logistic")
    shutil.copy(FIXTURES / "logistic.mdl", folder / "logistic.mdl")
    (folder / "loops.toml").write_text(LOOPS)
    return load_model(folder / "logistic.mdl")


def _problem(model, outputs=OUTPUTS):
    spec = {
        "parameters": {"Growth rate": {}, "Capacity": {}},
        "outputs": outputs,
        "sweep": {"calc_second_order": False},
    }
    return build_problem(model, spec_from_dict(spec))


def test_outputs_follow_the_closed_form(logistic):
    problem = _problem(logistic)
    X = np.column_stack([RATES, CAPACITIES])
    out = evaluate_chunk(problem, X)[:, 0, :]
    sim = compile_model(logistic.path).simulate(
        {"Growth rate": RATES, "Capacity": CAPACITIES}, outputs=["Population"]
    )
    times = sim["time"].values
    stock = sim["Population"].values
    inside = (times >= 1) & (times <= 12)  # before equilibrium, where no loop has a score
    closed = 1 / (1 + 2 * stock / CAPACITIES[:, None])
    np.testing.assert_allclose(out[:, 0], closed[:, inside].mean(axis=1), atol=3e-3)
    half = times[np.argmax(stock >= CAPACITIES[:, None] / 2, axis=1)]  # simulated inflection
    np.testing.assert_allclose(out[:, 1], half, atol=0.25 + 1e-9)  # within one saved step
    switch = np.log(CAPACITIES / 1.0 - 1) / RATES  # the continuous inflection (X0 = 1)
    np.testing.assert_allclose(out[:, 1], switch, atol=0.5)  # + Euler's lag at dt = 1/32
    np.testing.assert_array_equal(out[:, 2], out[:, 1])  # two loops: overtaking is dominating


def test_never_dominant_is_censored_at_the_end(logistic):
    outputs = {
        "late": {
            "kind": "loop_dominance",
            "polarity": "B",
            "statistic": "first_dominance",
            "end": 5,
        }
    }
    out = evaluate_chunk(_problem(logistic, outputs), np.array([[0.3, 200.0], [1.0, 60.0]]))
    assert out[0, 0, 0] == 5.0  # t* = 17.7 lies after the window
    assert out[1, 0, 0] == pytest.approx(np.log(59.0), abs=0.3)


def test_sobol_of_the_switch_year_ranks_the_growth_rate_first(logistic):
    # t* = ln(K - 1) / r: over r in [0.2, 1] and K in [50, 200] the rate decides almost all
    outputs = {"switch": OUTPUTS["crowding_first"]}
    result = run_sweep(_problem(logistic, outputs), "sobol", 64, seed=1)
    table = result.table("switch")
    assert table.index[0] == "Growth rate"
    assert table.loc["Growth rate", "ST"] > 0.8 > 0.2 > table.loc["Capacity", "S1"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"loops": ["R9"]}, "no named loop 'R9'"),
        ({"loops": ["R1"], "statistic": "peak"}, "statistic"),
        ({"loops": ["R1"], "polarity": "R"}, "either loops or polarity"),
        ({}, "needs loops"),
        ({"polarity": "X"}, "polarity must be"),
        ({"loops": ["R1"], "threshold": 2}, "threshold must lie in"),
        ({"loops": ["R1"], "start": 30, "end": 10}, "must be after start"),
    ],
)
def test_bad_specs_name_the_fix(logistic, table, message):
    with pytest.raises(NeaSdError, match=message):
        _problem(logistic, {"bad": {"kind": "loop_dominance", **table}})


def test_overtaking_is_lasting_not_a_momentary_crossing():
    from nea_sd.loops.dominance import sustained_from

    times = np.arange(2026.0, 2031.0)
    flags = np.array(
        [
            [True, False, False, True, True],  # a blip in 2026, lasting from 2029
            [True, True, True, True, False],  # ahead until it falls back: never lasting
            [True, True, True, True, True],  # ahead throughout
        ]
    )
    assert sustained_from(flags, times, 2026, 2030).tolist() == [2029.0, 2030.0, 2026.0]
    assert sustained_from(flags, times, 2028, 2030).tolist() == [2029.0, 2030.0, 2028.0]
