"""Regional model on the batch engine: bounded stocks, switchable mechanisms, equal effort."""

from __future__ import annotations

import numpy as np
import pytest

from nea_sd.compare import compare_strategies
from nea_sd.engine import simulate
from nea_sd.scenarios import load_scenarios
from tests.support import bundled

FUNCTIONAL_FIRST = {"Effort budget": 0.5, "Detente intensity": 0.5, "Alliance shock size": 1.0}


def trajectories(runs: list[dict], watched: str) -> np.ndarray:
    result = simulate(bundled("nea"), runs, [watched], engine="batch")
    return result[watched].values


def test_stocks_stay_bounded_for_random_parameters_within_ranges() -> None:
    model = bundled("nea")
    rng = np.random.default_rng(20261127)
    runs = []
    for _ in range(64):
        draw = {}
        for p in model.parameters.values():
            if not p.has_range or p.name in ("TIME STEP",):
                continue
            shape = np.shape(p.value)
            draw[p.name] = (
                rng.uniform(p.low, p.high, size=shape) if shape else rng.uniform(p.low, p.high)
            )
        runs.append(draw)
    result = simulate(model, runs, model.stocks, engine="batch")
    for name in model.stocks:
        values = result[name].values
        assert np.isfinite(values).all(), name
        assert values.min() >= -1e-9, name
    for name in ("Security trust", "Societal trust", "Reputational damage", "Functional regime",
                 "Security regime"):  # fmt: skip
        assert result[name].values.max() <= 1 + 1e-9, name


# (switches set to 0, a parameter acting only through them, its test value, watched variable)
SWITCHES = [
    (["Bloc polarisation"], "Alliance responsiveness", 2.0, "Rival weight"),
    (["Great power gate strength"], "Gate trust threshold", 0.9, "Functional regime"),
    (["Spillover", "Baseline contact spillover"], "Contact effect", 0.9, "Security trust"),
    (["Backfire strength"], "Stage trust threshold[ARC]", 0.9, "Regional security trust"),
    (["Boycott depth", "Trade boycott depth"], "Boycott threshold", 0.3, "People exchange"),
    (["Disappointment sensitivity"], "Expectation gain", 4.0, "Regional security trust"),
    (
        ["Alliance threat sensitivity", "Bloc polarisation"],
        "Alliance shock size",
        2.0,
        "Security trust",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("switches", "knob", "value", "watched"), SWITCHES)
def test_switched_off_mechanism_has_no_effect(switches, knob, value, watched) -> None:
    off = dict.fromkeys(switches, 0.0)
    runs = [
        FUNCTIONAL_FIRST,
        {**FUNCTIONAL_FIRST, knob: value},
        {**FUNCTIONAL_FIRST, **off},
        {**FUNCTIONAL_FIRST, **off, knob: value},
    ]
    on_default, on_knob, off_default, off_knob = trajectories(runs, watched)
    assert not np.allclose(on_default, on_knob), f"{knob} should matter while switched on"
    np.testing.assert_array_equal(off_default, off_knob)


def test_cooperative_strategies_spend_equal_total_effort() -> None:
    model = bundled("nea")
    scenarios = [  # the cooperative ones: status quo and history spend nothing
        s for s in load_scenarios(model).values() if s.overrides.get("Effort budget", 0) > 0
    ]
    result = simulate(
        model,
        [s.overrides for s in scenarios],
        ["Programme effort"],
        labels=[s.name for s in scenarios],
        engine="batch",
    )
    total = result["Programme effort"].sum("Stage").integrate("time")
    expected = 0.5 * (2050 - 2026)  # budget x years once the first stage runs
    np.testing.assert_allclose(total.values, expected, rtol=0.01)


def test_comparison_orders_and_labels_runs() -> None:
    model = bundled("nea")
    scenarios = load_scenarios(model)
    chosen = [scenarios["status-quo"], scenarios["functional-first/no-detente"]]
    comparison = compare_strategies(model, chosen, engine="batch")
    table = comparison.table()
    assert list(table.index) == ["status-quo", "functional-first/no-detente"]
    assert table.loc["status-quo", "stage"] == 0
    assert table.loc["functional-first/no-detente", "stage"] == 4
    assert table.loc["functional-first/no-detente", "since"] == pytest.approx(2040, abs=0.25)
    assert comparison.outcomes.attrs["model_sha256"] == model.sha256
