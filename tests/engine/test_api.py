"""The public API: one loaded model object through every stage, the same base as the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nea_sd as nsd
from nea_sd.cli import main
from nea_sd.engine import simulate

FIXTURES = Path(__file__).parents[1]


def test_load_run_and_provenance() -> None:
    m = nsd.load("richardson")
    assert isinstance(m, nsd.Model) and m.name == "richardson"
    base, source = nsd.base_parameters(m, "calibrated")
    assert base and source.startswith("calibrated, ")
    ds = m.run({"Grievance X": 5})
    assert ds.attrs["model_sha256"] == m.sha256
    assert ds.attrs["base_parameters_source"] == source
    same = simulate(m, [{**base, "Grievance X": 5}], list(ds.data_vars))
    for name in ds.data_vars:
        np.testing.assert_array_equal(ds[name].values, same[name].values)
    plain = m.run({"Grievance X": 5}, outputs="all", parameters="defaults")
    assert sorted(plain.data_vars) == sorted(m.output_names())
    assert plain.attrs["base_parameters_source"] == "model defaults"
    several = m.run([{}, {"Grievance X": 0}], ["Arms X"], parameters="defaults")
    assert several.sizes["run"] == 2


def test_compare_in_python_and_on_the_command_line_use_one_base(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = nsd.load("nea")
    _, source = nsd.base_parameters(m)
    comparison = nsd.compare(m, ["status-quo"])
    assert comparison.base_source == source
    # the calibrated base, or (for a calibration of an older model version) named defaults
    assert source.startswith(("calibrated, ", "model defaults (results/nea.toml was fitted"))
    assert main(["compare", "--scenarios", "status-quo", "--output-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert f"parameters: {source})" in printed
    python = comparison.report().splitlines()[-1]
    assert python in printed.splitlines()  # the same numbers


def test_stage_packages_are_callable_and_keep_their_contents() -> None:
    for stage in ("compare", "sensitivity", "calibrate", "loops"):
        assert callable(getattr(nsd, stage))
    assert callable(nsd.loops.analyze) and callable(nsd.compare.compare_strategies)
    import nea_sd.sensitivity as sensitivity

    assert sensitivity.run_sweep is nsd.sensitivity.run_sweep


def test_loops_and_sensitivity_take_the_model_object() -> None:
    m = nsd.load("richardson")
    scores = nsd.loops(m)
    assert scores is not None
    ishigami = nsd.load(FIXTURES / "sensitivity" / "fixtures" / "ishigami.mdl")
    result = nsd.sensitivity(
        ishigami,
        "sobol",
        64,
        spec=FIXTURES / "sensitivity" / "fixtures" / "ishigami.toml",
        seed=1,
    )
    table = result.table("Y")
    assert set(table.index) >= {"x1", "x2", "x3"}


def test_calibrate_fits_a_spec(tmp_path: Path, data_dir: Path) -> None:
    fixtures = FIXTURES / "calibrate" / "fixtures"
    text = (fixtures / "tiny.toml").read_text()
    spec = tmp_path / "tiny.toml"
    spec.write_text(text.replace('model = "tiny.mdl"', f'model = "{fixtures / "tiny.mdl"}"'))
    calibration = nsd.calibrate(spec, data_dir, starts=2, seed=0)
    assert "Initial level" in calibration.fit.report()


def test_edited_file_is_refused_by_every_stage(tmp_path: Path) -> None:
    import shutil

    path = Path(shutil.copy(FIXTURES.parent / "models" / "richardson.mdl", tmp_path / "r.mdl"))
    m = nsd.load(path)
    path.write_text(path.read_text().replace("Grievance X=\n\t10", "Grievance X=\n\t11"))
    for call in (m.run, lambda: nsd.loops(m), lambda: m.unsupported()):
        with pytest.raises(nsd.NeaSdError, match="changed since it was loaded"):
            call()


def test_several_runs_without_overrides_are_several_default_runs() -> None:
    m = nsd.load("richardson")
    ds = simulate(m, [{}, {}, {}], ["Arms X"], engine="batch")
    assert ds.sizes["run"] == 3
    one = simulate(m, [{}], ["Arms X"], engine="batch")
    for i in range(3):
        np.testing.assert_array_equal(ds["Arms X"].values[i], one["Arms X"].values[0])
