"""Diverged runs are reported per run and per scenario, never folded into statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nea_sd.model import load_model
from nea_sd.sensitivity import build_problem, load_spec
from nea_sd.sensitivity.evaluators import evaluate_chunk
from nea_sd.sensitivity.spec import SweepSpec
from nea_sd.sensitivity.sweep import run_sweep
from tests.faults.conftest import assert_clean_error, call
from tests.support import MODELS, REPO

FIXTURES = REPO / "tests" / "sensitivity" / "fixtures"
CUT = -2.0  # LN(x1 + 2) is NaN below it: the runs with x1 < -2 diverge, and only those


@pytest.fixture(scope="module")
def diverging(tmp_path_factory) -> Path:
    """Ishigami with a term that is 0 where defined and NaN where x1 < -2."""
    text = (FIXTURES / "ishigami.mdl").read_text()
    old = "SIN(x1) + a * SIN(x2)^2 + b * x3^4 * SIN(x1)"
    assert old in text
    path = tmp_path_factory.mktemp("div") / "ishigami_div.mdl"
    path.write_text(text.replace(old, old + " + 0 * LN(x1 + 2)"))
    return path


@pytest.mark.parametrize(("method", "n", "block"), [("sobol", 64, 8), ("morris", 40, 4)])
def test_structured_designs_drop_the_blocks_of_diverged_runs(
    diverging: Path, method: str, n: int, block: int
) -> None:
    problem = build_problem(load_model(diverging), load_spec(FIXTURES / "ishigami.toml"))
    result = run_sweep(problem, method, n, seed=3)
    ds = result.dataset
    X = ds["X"].values
    truth = np.flatnonzero(X[:, 0] < CUT)  # independent of the engine: where LN is undefined
    assert 0 < len(truth) < len(X)
    assert result.diverged_runs == truth.tolist()
    assert ds.attrs["diverged_runs"] == len(truth)
    bad_blocks = {r // block for r in truth}
    assert ds.attrs["excluded_runs"] == len(bad_blocks) * block
    assert result.has_indices("Y")  # not "the same in every run"
    assert np.isfinite(result.table("Y").iloc[:, 0]).all()
    report = result.report()
    assert f"{len(truth)} of {len(X)} samples diverged" in report
    assert "no variance" not in report


def test_random_designs_lose_just_the_diverged_runs(diverging: Path) -> None:
    problem = build_problem(load_model(diverging), load_spec(FIXTURES / "ishigami.toml"))
    result = run_sweep(problem, "lhs", 300, seed=1)
    truth = np.flatnonzero(result.dataset["X"].values[:, 0] < CUT)
    assert result.dataset.attrs["excluded_runs"] == len(truth) > 0
    assert "excluded from the statistics" in result.report()


@pytest.fixture(scope="module")
def dyad_dividing(tmp_path_factory) -> Path:
    """The dyad with a term that is 0 where defined and divides by ``Initial societal trust A``
    (in range at 0): the shipped model no longer divides by it, so the fault is injected."""
    text = (MODELS / "dyad.mdl").read_text(encoding="utf-8")
    head = "Reference societal trust=\n\t"
    start = text.index(head) + len(head)
    end = text.index("\n", start)
    text = text[:end] + " + 0 * (1 / Initial societal trust A)" + text[end:]
    folder = tmp_path_factory.mktemp("dyad_div")
    path = folder / "dyad.mdl"
    path.write_text(text, encoding="utf-8")
    for beside in MODELS.glob("*.toml"):  # scenarios, named loops, structures, as shipped
        (folder / beside.name).write_bytes(beside.read_bytes())
    return path


def test_diverged_run_is_not_stage_zero(dyad_dividing: Path) -> None:
    dyad = load_model(dyad_dividing)
    problem = build_problem(dyad, SweepSpec())
    defaults = np.array([[dyad.parameters[label].value for label in problem.labels]] * 2)
    for name in ("Initial societal trust A", "Initial societal trust B"):
        defaults[1, problem.labels.index(name)] = 0.0  # in range; dyad.mdl divides by it
    values = evaluate_chunk(problem, defaults)
    assert np.isfinite(values[0]).all()
    assert np.isnan(values[1]).all()  # no stage 0, no "never reached", no level


def test_sensitivity_cli_states_the_divergence(capsys, diverging: Path, tmp_path: Path) -> None:
    code, out, err = call(
        capsys,
        "sensitivity",
        diverging,
        "--spec",
        FIXTURES / "ishigami.toml",
        "--method",
        "lhs",
        "--samples",
        "200",
        "--seed",
        "2",
        "--output",
        tmp_path / "s.nc",
    )
    assert code == 0, err
    assert "samples diverged (non-finite)" in out and "excluded" in out


def test_sensitivity_refuses_zero_workers(capsys, tmp_path: Path) -> None:
    code, _, err = call(
        capsys, "sensitivity", "dyad", "--samples", "4", "--workers", "0",
        "--output", tmp_path / "s.nc",
    )  # fmt: skip
    assert_clean_error(code, err, "--workers")


BROKEN_SCENARIOS = """
[dyad.strategies.status-quo]
description = "No cooperation programme."
"Effort budget" = 0

[dyad.strategies.broken]
description = "In range, but this copy of dyad.mdl divides by the initial societal trust."
"Effort budget" = 0
"Initial societal trust A" = 0
"""


@pytest.mark.parametrize("engine", ["batch", "pysd"])
def test_compare_marks_the_diverging_scenario_and_prints_the_rest(
    capsys, tmp_path: Path, engine: str, dyad_dividing: Path
) -> None:
    scenarios = tmp_path / "scenarios.toml"
    scenarios.write_text(BROKEN_SCENARIOS)
    code, out, err = call(
        capsys, "compare", dyad_dividing, "--scenarios-file", scenarios, "--engine", engine,
        "--parameters", "defaults", "--output-dir", tmp_path / "out",
    )  # fmt: skip
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "[diverged]" in rows["broken"] and "[diverged]" not in rows["status-quo"]
    assert rows["broken"].split()[2:] == ["-"] * 10  # no number, in particular no "stage 0"
    assert "scenario 'broken' diverged" in out
    import xarray as xr

    outcomes = xr.open_dataset(tmp_path / "out" / "compare_dyad_outcomes.nc")
    assert np.isnan(outcomes["stage_reached"].sel(run="broken"))
    assert outcomes["stage_reached"].sel(run="status-quo") == 0


@pytest.mark.parametrize("engine", ["batch", "pysd"])
def test_run_detects_a_non_finite_result_on_either_engine(
    capsys, engine: str, dyad_dividing: Path
) -> None:
    code, _, err = call(
        capsys, "run", dyad_dividing, "--set", "Initial societal trust A=0", "--engine", engine,
    )  # fmt: skip
    assert_clean_error(code, err, "non-finite" if engine == "batch" else "arithmetic error")
    assert "nonfinite=" not in err  # no Python-only advice on the command line


def test_loops_ensemble_leaves_diverged_draws_out(dyad_dividing: Path) -> None:
    from nea_sd.loops.analysis import analyze, diverged_runs, exclude_runs
    from nea_sd.loops.strategies import strategy_parameters

    dyad = load_model(dyad_dividing)
    params = dict(strategy_parameters(dyad, ["status-quo"], 3, 0)["status-quo"])
    for name in ("Initial societal trust A", "Initial societal trust B"):
        params[name] = np.array([0.5, 0.0, 0.6])  # draw 1 divides by zero in this copy
    bad = diverged_runs(dyad.path, params)
    assert list(bad) == [1]
    result = exclude_runs(analyze(dyad.path, params, 3, scenario="status-quo"), bad)
    named = result.data["named"]
    assert named.sel(run=1).isnull().all() and named.sel(run=[0, 2]).notnull().any()
    assert "1" in result.data.attrs["diverged_runs"]
