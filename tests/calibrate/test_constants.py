"""``[constants]`` in a calibration spec: model constants set for the whole fit (a structural
test without editing the model), checked against closed forms and carried into the base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nea_sd.calibrate.problem import prepare
from nea_sd.calibrate.results import compare_base, load_calibrated
from nea_sd.errors import InvalidValueError, OutOfRangeError, UnknownNameError
from tests.calibrate.test_cli_calibrate import TINY, spec_file


def without_rate_b(constants: str) -> str:
    return TINY.replace('[parameters."Rate b"]\n', "") + f"\n[constants]\n{constants}\n"


def test_constants_set_the_model_in_every_run_of_the_fit(tmp_path, data_dir):
    setup = prepare(spec_file(tmp_path, without_rate_b('"Rate b" = 1.6')), data_dir)
    assert setup.spec.names == ("Rate a", "Initial level")
    assert dict(setup.spec.constants) == {"Rate b": 1.6}
    out = setup.simulator.run(np.array([[1.25, 10.0], [0.5, 5.0]]))
    years = np.asarray(out.years, dtype=float)
    level = out.values["Level"]
    # closed form: Level(t) = Initial level + Rate a * Rate b * (t - 2000), exact under Euler
    expected = np.array([10 + 1.25 * 1.6 * (years - 2000), 5 + 0.5 * 1.6 * (years - 2000)])
    np.testing.assert_allclose(level.reshape(expected.shape), expected, rtol=1e-12)
    assert "constant: Rate b = 1.6" in str(setup.spec)


def test_the_base_of_a_result_applies_its_constants(tmp_path):
    doc = {
        "calibration": {"spec": "spec.toml", "model": "tiny.mdl", "log_likelihood": -3.0},
        "estimates": {"Rate a": 1.25, "Initial level": 10.0},
        "constants": {"Rate b": 1.6},
        "starts": [{"neg_log_likelihood": 3.0}],
    }
    params, header = compare_base(doc)
    assert params == {"Rate a": 1.25, "Initial level": 10.0, "Rate b": 1.6}
    assert "2 fitted values and 1 constants it set" in header
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "tiny.toml").write_text(
        '[calibration]\nspec = "spec.toml"\nmodel = "tiny.mdl"\nlog_likelihood = -3.0\n'
        '[estimates]\n"Rate a" = 1.25\n[constants]\n"Rate b" = 1.6\n'
    )
    assert load_calibrated("tiny", results_dir=folder) == {"Rate a": 1.25, "Rate b": 1.6}


@pytest.mark.parametrize(
    ("constants", "error", "message"),
    [
        ('"Rate c" = 1.0', UnknownNameError, "Rate c"),
        ('"Rate b" = 3.0', OutOfRangeError, "outside the model's declared range [0.5, 2]"),
        ('"Rate b" = "one"', InvalidValueError, "must be a finite number, got 'one'"),
        ('"Rate a" = 1.0', InvalidValueError, "also a fitted parameter"),
    ],
)
def test_bad_constants_are_named(tmp_path, data_dir, constants, error, message):
    with pytest.raises(error, match=None) as info:
        prepare(spec_file(tmp_path, without_rate_b(constants)), data_dir)
    assert message in str(info.value)


NEA = Path(__file__).resolve().parents[2] / "models" / "nea.mdl"


def _nea_spec(tmp_path, constants: str) -> Path:
    text = f"""model = {NEA.as_posix()!r}
[periods]
fit = [2000, 2018]
[parameters."Defence reaction[CN]"]
bounds = [0.0, 0.5]
[constants]
{constants}
[[observations]]
name = "milex CN"
series = "sipri:milex_constant_2022_usd:CN"
variable = "Military expenditure[CN]"
link = {{ type = "scale", factor = 1000.0 }}
error = {{ type = "lognormal", sigma = 0.08 }}
"""
    path = tmp_path / "nea_spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_element_is_held_beside_a_fitted_element_of_the_same_parameter(tmp_path, data_dir):
    """Japan's defence reaction set, China's fitted: every run carries both, the other
    elements keep the model's values (read from the .mdl's own parameter table)."""
    setup = prepare(_nea_spec(tmp_path, '"Defence reaction[JP]" = 0.0023'), data_dir)
    assert setup.spec.names == ("Defence reaction[CN]",)
    sets = setup.simulator.parameter_sets(np.array([[0.2], [0.4]]))
    actors = ["US", "CN", "RU", "JP", "KR", "KP", "MN"]
    reaction = sets["Defence reaction"]
    assert reaction.shape == (2, 7)
    np.testing.assert_array_equal(reaction[:, actors.index("CN")], [0.2, 0.4])
    np.testing.assert_array_equal(reaction[:, actors.index("JP")], [0.0023, 0.0023])
    model_value = setup.model.parameters.value_of("Defence reaction[KR]")
    np.testing.assert_array_equal(reaction[:, actors.index("KR")], [model_value] * 2)


@pytest.mark.parametrize("constant", ['"Defence reaction[CN]" = 0.1', '"Defence reaction" = 0.1'])
def test_the_fitted_element_or_its_whole_parameter_cannot_be_held(tmp_path, data_dir, constant):
    with pytest.raises(InvalidValueError, match="also a fitted parameter"):
        prepare(_nea_spec(tmp_path, constant), data_dir)
