"""params / run / compare in-process, including every bad-input case with its message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import xarray as xr

from nea_sd.cli import main
from tests.support import MODELS


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as stop:  # argparse's own usage errors
        code = int(stop.code)
    out, err = capsys.readouterr()
    return code, out, err


def test_params_lists_ranges_and_views(capsys) -> None:
    code, out, _ = call(capsys, "params", str(MODELS / "richardson.mdl"))
    assert code == 0
    assert "Defence coefficient X" in out and "[0, 2]" in out and "Arms race" in out
    assert "8 parameters in richardson.mdl" in out


def test_params_accepts_bundled_name_and_view_filter(capsys) -> None:
    code, out, _ = call(capsys, "params", "dyad", "--view", "Exchange", "--csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("name,value,units,range")
    assert all(",Exchange," in line for line in lines[1:])


def test_run_prints_final_values_and_writes_netcdf(capsys, tmp_path: Path) -> None:
    target = tmp_path / "out" / "r.nc"
    code, out, _ = call(
        capsys,
        "run",
        str(MODELS / "richardson.mdl"),
        "--set",
        "Grievance X=5",
        "--engine",
        "pysd",
        "--output",
        str(target),
    )
    assert code == 0
    assert "Arms X =" in out and f"wrote {target}" in out
    assert "parameters: calibrated, " in out  # the same base as nea-sd compare
    data = xr.open_dataset(target)
    overrides = json.loads(data.attrs["parameter_overrides"])["default"]
    assert overrides["Grievance X"] == 5.0
    base = json.loads(data.attrs["base_parameters"])
    assert base and all(overrides[k] == v for k, v in base.items() if k != "Grievance X")
    assert data.attrs["base_parameters_source"].startswith("calibrated, ")
    assert len(data.attrs["model_sha256"]) == 64
    assert "pysd" in data.attrs["package_versions"]


def test_run_scenario_prints_outcomes_and_writes_csv(capsys, tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    code, out, _ = call(
        capsys,
        "run",
        "dyad",
        "--scenario",
        "functional-first",
        "--engine",
        "pysd",
        "--output",
        str(target),
    )
    assert code == 0
    assert "dyad (functional-first), outcomes in 2040:" in out
    header = target.read_text().splitlines()[0].split(",")
    assert header[:2] == ["run", "time"] and "Mean security trust" in header


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.mdl"], "error: model file 'missing.mdl' does not exist"),
        (
            ["run", "richardson", "--set", "Grievanc X=5"],
            "error: unknown parameter 'Grievanc X'; did you mean 'Grievance X', 'Grievance Y'?",
        ),
        (
            ["run", "richardson", "--set", "Grievance X=500"],
            "error: 'Grievance X' = 500 is outside the range [-100, 100] declared in the model;"
            " pass --allow-out-of-range to run it anyway",
        ),
        (
            ["run", "richardson", "--set", "Grievance X=lots"],
            "error: --set 'Grievance X': value 'lots' is not a number",
        ),
        (
            ["run", "richardson", "--set", "Grievance X"],
            "error: --set expects NAME=VALUE, got 'Grievance X'",
        ),
        (
            ["run", "dyad", "--scenario", "functionalfirst"],
            "error: unknown scenario 'functionalfirst'; did you mean 'functional-first'",
        ),
        (
            ["run", "richardson", "--output", "/proc/nope/out.nc"],
            "error: cannot write to '/proc/nope'",
        ),
        (
            ["run", "richardson", "--output", "out.xlsx"],
            "error: output file 'out.xlsx' has an unknown type; use one of: .nc, .csv",
        ),
        (["compare", "richardson"], "error: model 'richardson' has no sequencing outcomes"),
        (
            ["compare", "dyad", "--scenarios", "nope"],
            "error: unknown scenario 'nope'",
        ),
        (["run", "richardson", "--engine", "fast"], "error: argument --engine: invalid choice"),
        (["params", "dyad", "--view", "Arm"], "error: unknown view 'Arm'; did you mean 'Arms'?"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # compare creates its default output folder in the cwd
    code, out, err = call(capsys, *argv)
    assert code == 2
    assert err.startswith(message), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unparsable_model_is_reported(capsys, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mdl"
    text = (MODELS / "richardson.mdl").read_text()
    broken.write_text(
        text.replace("Fatigue coefficient X * Arms X", "Fatigue coefficient X * (Arms X")
    )
    code, _, err = call(capsys, "run", str(broken))
    assert code == 2
    assert err.startswith(f"error: model file '{broken}' cannot be parsed")


def test_compare_writes_table_trajectories_and_figure(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "cmp"
    code, out, _ = call(
        capsys,
        "compare",
        "dyad",
        "--scenarios",
        "functional-first,military-first,functional-first/no-detente",
        "--engine",
        "pysd",
        "--output-dir",
        str(folder),
    )
    assert code == 0
    assert out.startswith("Sequencing strategies on dyad (levels in 2040; equal total effort")
    for row in ("functional-first ", "military-first ", "functional-first/no-detente "):
        assert row in out
    trajectories = xr.open_dataset(folder / "compare_dyad_trajectories.nc")
    assert list(trajectories["run"].values) == [
        "functional-first",
        "military-first",
        "functional-first/no-detente",
    ]
    assert (folder / "compare_dyad.png").stat().st_size > 10_000
    outcomes = xr.open_dataset(folder / "compare_dyad_outcomes.nc")
    assert set(outcomes["stage_reached"].values) == {4.0}


def test_scenario_file_with_unknown_parameter_is_rejected(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MODELS / "dyad.mdl", folder)
    (folder / "scenarios.toml").write_text(
        '[dyad.strategies.bold]\ndescription = "x"\n"Efort budget" = 1\n'
    )
    code, _, err = call(capsys, "run", str(folder / "dyad.mdl"), "--scenario", "bold")
    assert code == 2
    assert err.startswith(
        "error: scenario 'bold' in scenarios.toml: unknown parameter 'Efort budget'; "
        "did you mean 'Effort budget'"
    )


def test_compare_base_parameters_apply_under_every_scenario() -> None:
    from nea_sd.compare import compare_strategies
    from nea_sd.scenarios import load_scenarios
    from tests.support import bundled

    model = bundled("dyad")
    chosen = [load_scenarios(model)["functional-first"]]
    plain = compare_strategies(model, chosen, engine="batch")
    based = compare_strategies(
        model, chosen, engine="batch", base={"Spillover": 0.0}, base_source="test"
    )
    assert "parameters: test" in based.report().splitlines()[0]
    assert based.trajectories.attrs["base_parameters"] == '{"Spillover": 0.0}'
    assert float(based.outcomes["security_trust"][0]) < float(plain.outcomes["security_trust"][0])


def test_compare_base_is_a_current_calibrations_joint_optimum_never_a_stale_one(
    capsys, tmp_path: Path
) -> None:
    from nea_sd.calibrate.results import identified_estimates, read_result

    values, skipped, _ = identified_estimates("nea")
    document = read_result(MODELS.parent / "calibration" / "results" / "nea.toml")
    flags = {k: v["identifiability"] for k, v in document["parameters"].items()}
    assert set(values) == {k for k in document["estimates"] if flags[k] == "identified"}
    assert set(skipped) == {k for k in document["estimates"] if flags[k] != "identified"}
    code, out, err = call(
        capsys, "compare", "--scenarios", "status-quo", "--output-dir", str(tmp_path)
    )
    assert code == 0
    from tests.support import bundled

    if document["calibration"]["model_sha256"] == bundled("nea").sha256:
        assert "parameters: calibrated, joint optimum of" in out
    else:  # fitted to an older model: never applied silently
        assert "parameters: model defaults (results/nea.toml was fitted to another" in out
        assert err.count("warning:") == 1 and "model hash differs" in err


def test_run_on_model_defaults_overrides_only_what_is_set(capsys, tmp_path: Path) -> None:
    target = tmp_path / "r.nc"
    code, out, _ = call(
        capsys,
        "run",
        str(MODELS / "richardson.mdl"),
        "--parameters",
        "defaults",
        "--set",
        "Grievance X=5",
        "--output",
        str(target),
    )
    assert code == 0 and "parameters: model defaults" in out
    data = xr.open_dataset(target)
    assert data.attrs["parameter_overrides"] == '{"default": {"Grievance X": 5.0}}'
