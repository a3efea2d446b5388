"""``nea-sd compare --calibration RESULT.toml``: strategies under a named (candidate) fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from nea_sd.calibrate.results import read_result
from tests.cli.test_main_commands import call
from tests.support import MODELS, result_of_another_version

RESULTS = MODELS.parent / "calibration" / "results"


def test_compare_runs_on_the_named_results_joint_optimum(capsys, tmp_path: Path) -> None:
    candidate = RESULTS / "nea_flare_evidence.toml"  # a candidate fitted to this nea.mdl
    document = read_result(candidate)
    code, out, err = call(
        capsys, "compare", "--scenarios", "status-quo", "--output-dir", str(tmp_path),
        "--calibration", str(candidate),
    )  # fmt: skip
    assert code == 0, err
    assert "parameters: calibrated, joint optimum of nea_flare_evidence.toml" in out
    base = xr.open_dataset(tmp_path / "compare_nea_outcomes.nc").attrs["base_parameters"]
    import json

    applied = json.loads(base)
    fitted = {**document["estimates"], **document["constants"]}  # its constants are its point
    assert applied == {k: pytest.approx(v) for k, v in fitted.items()}
    assert applied["Flare up own rate"] == 0  # the previous reading, not the base's


@pytest.mark.parametrize(
    ("result", "extra", "message"),
    [
        ("arms.toml", [], "arms.toml is a sector fit with data inputs"),
        ("dyad_cnjp.toml", [], "fitted to 'dyad.mdl', another model than nea.mdl"),
        # a structural variant's fit is of another model, not another version of this one
        ("nea_trust_layers.toml", [], "to 'nea-trust-layers.mdl', another model than nea.mdl"),
        ("nea_elastic.toml", ["--parameters", "defaults"], "--calibration and --parameters"),
        ("missing.toml", [], "cannot read calibration results"),
    ],
)
def test_a_result_that_cannot_be_the_base_is_one_line(capsys, tmp_path, result, extra, message):
    code, _, err = call(
        capsys, "compare", "--output-dir", str(tmp_path), "--calibration", str(RESULTS / result),
        *extra,
    )  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ") and message in err


def test_a_result_of_another_version_of_the_model_is_one_line(capsys, tmp_path) -> None:
    """A result fitted to an earlier ``nea.mdl`` (its recorded hash differs; made here from a
    committed result, so the test does not depend on which committed files are out of date)."""
    stale = result_of_another_version(tmp_path)
    out = tmp_path / "out"
    code, _, err = call(capsys, "compare", "--output-dir", str(out), "--calibration", str(stale))
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (
        "error: old.toml was fitted to 'nea.mdl' in another version than this nea.mdl "
        "(SHA-256 differs); name a result of this model or recalibrate"
    )
    assert not out.exists()  # refused before the runs, and no folder left behind
