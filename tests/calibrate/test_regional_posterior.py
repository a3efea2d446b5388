"""The regional posterior (calibration/nea_posterior.toml): the same fit problem as the model's
base, never taken as that base, and a committed result whose diagnostics the draws reproduce."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nea_sd.calibrate.nested import diagnostics
from nea_sd.calibrate.results import find_result

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "calibration"
RESULT = CALIBRATION / "results" / "nea_posterior.toml"


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_posterior_spec_is_the_joint_spec_and_not_a_base():
    posterior, joint = _toml(CALIBRATION / "nea_posterior.toml"), _toml(CALIBRATION / "nea.toml")
    assert posterior.pop("base") is False and "base" not in joint
    assert posterior == joint  # model, periods, parameters, observations: all equal


def test_the_committed_posterior_is_not_the_models_base():
    if not RESULT.is_file():
        pytest.skip("no regional posterior committed yet")
    assert _toml(RESULT)["calibration"]["model_base"] is False
    assert find_result("nea", results_dir=RESULT.parent)[0].name == "nea.toml"


def test_the_committed_diagnostics_follow_from_its_draws():
    """R-hat and bulk ESS recomputed from the draws file (runs as chains) equal the recorded
    ones, and 'converged' is what the criteria and the run cap say."""
    if not RESULT.is_file():
        pytest.skip("no regional posterior committed yet")
    doc = _toml(RESULT)
    nested = doc["nested"]
    frame = pd.read_csv(RESULT.parent / nested["draws_file"])
    names = list(doc["parameters"])
    runs = nested["runs"]
    assert len(frame) == nested["draws"] and sorted(frame["run"].unique()) == list(range(runs))
    chains = np.stack([frame.loc[frame["run"] == r, names].to_numpy() for r in range(runs)])
    rhat, bulk, _ = diagnostics(chains)
    recorded_rhat = [doc["parameters"][n]["rhat"] for n in names]
    recorded_bulk = [doc["parameters"][n]["ess_bulk"] for n in names]
    # the CSV keeps 8 significant digits: diagnostics agree to well below their own noise
    np.testing.assert_allclose(rhat, recorded_rhat, rtol=1e-3)
    np.testing.assert_allclose(bulk, recorded_bulk, rtol=1e-2)
    met = max(rhat) < 1.01 and min(bulk) >= 400 and nested.get("capped_runs", 0) == 0
    assert nested["converged"] is bool(met)
