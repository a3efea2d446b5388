"""EMA connector: experiments through the batch evaluator equal single runs of the same sets.

The reference is the path ``nea-sd run --scenario S --set ...`` takes (the scenario file's
overrides plus the sampled values, one run through :func:`simulate`), so the EMA plumbing
(sampling, lever/uncertainty mapping, batching, ordering, outcome processing) is checked
against an independent route; PRIM and feature scoring then run on the result.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from nea_sd.cli import main
from nea_sd.engine import simulate
from nea_sd.outcomes import headline_outcomes, vocabulary_for
from nea_sd.scenarios import load_scenarios
from tests.support import bundled

if os.environ.get("CI"):  # CI installs the test extra, which has ema_workbench
    import ema_workbench  # noqa: F401
else:
    pytest.importorskip("ema_workbench")

from nea_sd.ema import BatchEvaluator, ema_model, strategy_policies  # noqa: E402

SERIES = "Security trust A"
N = 20  # scenarios in the default suite (the slow test runs 1000)


def _experiments(n_scenarios: int):
    model = bundled("dyad")
    em = ema_model(model, series=[SERIES], year=2040)
    policies = strategy_policies(model)
    with BatchEvaluator(em, chunk=400) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(
            n_scenarios, policies, log_progress=False
        )
    return model, em, experiments, outcomes


@pytest.fixture(scope="module")
def result():
    return _experiments(N)


def _check_against_single_runs(model, em, experiments, outcomes, rows) -> None:
    scenarios = load_scenarios(model)
    vocabulary = vocabulary_for(model)
    names = [u.name for u in em.uncertainties]
    for row in rows:
        record = experiments.iloc[row]
        sampled = {n: float(record[n]) for n in names}
        overrides = {**scenarios[record["policy"]].overrides, **sampled}
        single = simulate(model, [overrides], [*vocabulary.outputs(), SERIES])
        table = headline_outcomes(single, vocabulary, 2040)
        for name in table.data_vars:
            np.testing.assert_allclose(
                outcomes[name][row], float(table[name].values[0]), rtol=1e-12, equal_nan=True
            )
        np.testing.assert_allclose(outcomes[SERIES][row], single[SERIES].values[0], rtol=1e-12)


def test_model_reads_ranges_levers_and_scenarios(result) -> None:
    model, em, experiments, outcomes = result
    levers = {lever.name for lever in em.levers}
    assert {"Effort budget", "Functional start time", "Sequencing mode"} <= levers
    assert {c.name for c in em.constants} == {"Detente intensity", "Detente start time"}
    for u in em.uncertainties:
        param = model.parameters[u.name]
        assert (u.lower_bound, u.upper_bound) == (param.low, param.high)
        assert u.name not in levers
    strategies = [s.name for s in load_scenarios(model).values() if not s.variant]
    assert list(dict.fromkeys(experiments["policy"])) == strategies
    assert len(experiments) == N * len(strategies)
    assert outcomes[SERIES].shape == (len(experiments), 201)


def test_experiments_equal_single_runs_of_the_same_sets(result) -> None:
    model, em, experiments, outcomes = result
    rng = np.random.default_rng(15)
    rows = sorted(rng.choice(len(experiments), size=6, replace=False).tolist())
    _check_against_single_runs(model, em, experiments, outcomes, rows)


def test_experiment_equals_the_cli_run(result, tmp_path, capsys) -> None:
    model, em, experiments, outcomes = result
    row = 3 * N + 7  # a "simultaneous" experiment
    record = experiments.iloc[row]
    sets = [f"--set={u.name}={float(record[u.name])!r}" for u in em.uncertainties]
    target = tmp_path / "one.nc"
    argv = ["run", "dyad", "--scenario", record["policy"], *sets, "--outputs", SERIES]
    assert main([*argv, "--output", str(target)]) == 0
    capsys.readouterr()
    import xarray as xr

    with xr.open_dataset(target) as ran:
        np.testing.assert_allclose(outcomes[SERIES][row], ran[SERIES].values[0], rtol=1e-12)


def test_prim_and_feature_scoring_run(result) -> None:
    from ema_workbench.analysis import feature_scoring, prim

    _, _, experiments, outcomes = result
    x = experiments.drop(columns=["scenario", "policy", "model"])
    y = outcomes["security_trust"] > np.median(outcomes["security_trust"])
    box = prim.Prim(x, y, threshold=0.6).find_box()
    assert len(box.peeling_trajectory) > 1
    assert box.peeling_trajectory["coverage"].iloc[0] == pytest.approx(1.0)
    chosen = ("security_trust", "arms_burden", "exchange")  # finite in every run
    scalars = {k: outcomes[k] for k in chosen}
    scores = feature_scoring.get_feature_scores_all(x, scalars)
    assert set(scores.columns) == set(scalars) and len(scores) == x.shape[1]


@pytest.mark.slow
def test_thousand_scenarios_times_strategies_equal_single_runs() -> None:
    model, em, experiments, outcomes = _experiments(1000)
    assert len(experiments) == 5000
    rng = np.random.default_rng(1000)
    rows = sorted(rng.choice(len(experiments), size=10, replace=False).tolist())
    _check_against_single_runs(model, em, experiments, outcomes, rows)
