"""Data-driven inputs (``[inputs]``): a partial model whose equations read observed series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nea_sd.calibrate.problem import prepare
from nea_sd.data import load_series
from nea_sd.errors import InvalidValueError, UnknownNameError

FIXTURES = Path(__file__).parent / "fixtures"
TINY = (FIXTURES / "tiny.toml").read_text()
INPUT = """
[inputs."Rate a"]
in = ["Growth"]
factor = 1e-5
series = "sipri:milex_constant_2022_usd:JP"
"""


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text.replace('model = "tiny.mdl"', f'model = "{FIXTURES / "tiny.mdl"}"'))
    return path


HELD_OUT = TINY.replace("fit = [2001, 2013]", "fit = [2001, 2013]\nholdout = [2014, 2020]")


def test_input_replaces_references_with_interpolated_data(tmp_path, data_dir):
    setup = prepare(spec_file(tmp_path, HELD_OUT + INPUT), data_dir)
    assert setup.model.path != (FIXTURES / "tiny.mdl").resolve()  # derived, in the cache
    assert not list(FIXTURES.glob("*partial*"))  # nothing written beside the original
    series = load_series("sipri:milex_constant_2022_usd:JP", data_dir)
    t = np.arange(2000.0, 2021.0)
    # independent truth: linear interpolation of the mid-year points, held flat at the ends
    expected = np.interp(t, series.years + 0.5, series.values * 1e-5) * 1.0  # Rate b = 1
    batch = setup.simulator.batch.simulate({}, outputs=["Growth", "Level"], saveper=1.0)
    growth = batch["Growth"].values[0]
    np.testing.assert_allclose(growth, expected, rtol=1e-9)
    frame = setup.model.pysd_model().run(return_columns=["Growth"])  # PySD agrees
    np.testing.assert_allclose(frame["Growth"].to_numpy(), expected, rtol=1e-9)
    # Level still integrates Growth: Euler sum of the input (TIME STEP 0.25)
    fine = np.arange(2000.0, 2020.0, 0.25)
    level = 10 + np.concatenate(
        [[0], np.cumsum(np.interp(fine, series.years + 0.5, series.values * 1e-5) * 0.25)]
    )
    np.testing.assert_allclose(batch["Level"].values[0], level[::4], rtol=1e-9)


def test_partial_model_ends_where_its_calibration_does(tmp_path, data_dir):
    """Fitted 2001-2013 without a holdout, the partial model ends in 2013 (the original in
    2020); up to there it runs exactly as the partial model that ends in 2020, in PySD too."""
    short = prepare(spec_file(tmp_path, TINY + INPUT), data_dir)
    (tmp_path / "long").mkdir()
    long = prepare(spec_file(tmp_path / "long", HELD_OUT + INPUT), data_dir)
    assert short.model.path != long.model.path
    assert (short.model.time["final"], long.model.time["final"]) == (2013, 2020)
    assert short.simulator.final == 2013  # what its fit simulates
    outputs = ["Growth", "Level"]
    a = short.simulator.batch.simulate({}, outputs=outputs, saveper=1.0)
    b = long.simulator.batch.simulate({}, outputs=outputs, saveper=1.0)
    assert a.sizes["time"] == 14
    for name in outputs:
        np.testing.assert_array_equal(a[name].values, b[name].values[:, :14])
    frame = short.model.pysd_model().run(return_columns=outputs)
    np.testing.assert_allclose(frame["Level"].to_numpy(), a["Level"].values[0], rtol=1e-9)


def test_spec_without_inputs_runs_the_model_itself(tmp_path, data_dir):
    setup = prepare(spec_file(tmp_path, TINY), data_dir)
    assert setup.model.path == (FIXTURES / "tiny.mdl").resolve()
    assert setup.spec.inputs == ()


@pytest.mark.parametrize(
    "old, new, error, message",
    [
        (
            'in = ["Growth"]',
            'in = ["Level"]',
            InvalidValueError,
            "input 'Rate a': equation 'Level' does not reference it",
        ),
        ('in = ["Growth"]', 'in = ["Growht"]', UnknownNameError, "Growht"),
        ('in = ["Growth"]', "in = []", InvalidValueError, "in must list the equations"),
        ("factor = 1e-5", "factor = -1", InvalidValueError, "must be a positive number"),
        ("factor = 1e-5", "units = 1", InvalidValueError, "unknown key 'units'"),
        ('[inputs."Rate a"]', '[inputs."Rate c"]', UnknownNameError, "Rate c"),
        (
            'series = "sipri:milex_constant_2022_usd:JP"',
            'series = { JP = "sipri:milex_constant_2022_usd:JP" }',
            UnknownNameError,
            "JP",
        ),
    ],
)
def test_input_errors_name_the_thing(tmp_path, data_dir, old, new, error, message):
    text = TINY + INPUT.replace(old, new)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare(spec_file(tmp_path, text), data_dir)


def test_logistic_input_inverts_the_poll_link(tmp_path, data_dir):
    """A poll read as trust, seen again through the polls' observation link, is the poll."""
    from nea_sd.calibrate.observation import Logistic

    text = HELD_OUT + (
        '\n[inputs."Rate a"]\nin = ["Growth"]\nlink = "logistic"\nalpha = -1.5\n'
        'series = "genron:pct_unfavorable:JP->CN"\n'
    )
    setup = prepare(spec_file(tmp_path, text), data_dir)
    poll = load_series("genron:pct_unfavorable:JP->CN", data_dir)
    (item,) = setup.spec.inputs
    years, trust = item.values("")
    np.testing.assert_array_equal(years, poll.years[np.isfinite(poll.values)])
    assert np.all((trust > 0) & (trust < 1))
    seen = Logistic(alpha=-1.5, beta=1.0).transform(trust)
    np.testing.assert_allclose(seen, poll.values[np.isfinite(poll.values)], rtol=1e-9)
    batch = setup.simulator.batch.simulate({}, outputs=["Growth"], saveper=1.0)
    t = np.arange(2000.0, 2021.0)
    np.testing.assert_allclose(batch["Growth"].values[0], np.interp(t, years + 0.5, trust))


def test_polls_read_as_trust_are_the_same_numbers_in_both_engines(tmp_path, data_dir):
    """PySD rounds lookup values to numpy's print precision (8 digits after the point); the
    derived tables are written at those values, so the batch engine runs exactly what PySD
    runs (written at 12 digits they differed by ~1e-9 and the self-verification refused the
    exchange sector's partial model)."""
    text = TINY + (
        '\n[inputs."Rate a"]\nin = ["Growth"]\nlink = "logistic"\nalpha = -1.0914731452877522\n'
        'series = "genron:pct_unfavorable:CN->JP"\n'
    )
    setup = prepare(spec_file(tmp_path, text), data_dir)
    batch = setup.simulator.batch.simulate({}, outputs=["Growth"], saveper=0.25)
    frame = setup.model.pysd_model().run(return_columns=["Growth"], saveper=0.25)
    np.testing.assert_allclose(batch["Growth"].values[0], frame["Growth"].to_numpy(), rtol=1e-15)
    (item,) = setup.spec.inputs
    _, trust = item.values("")
    assert np.max(np.abs(trust - np.round(trust, 8))) > 1e-10  # the data do need rounding


@pytest.mark.parametrize(
    "extra, message",
    [
        ('link = "logistic"\n', "needs alpha"),
        ('link = "probit"\n', "unknown link 'probit'"),
        ("alpha = 1.0\n", "alpha and beta need link = 'logistic'"),
        ('link = "logistic"\nalpha = 1.0\nfactor = 2.0\n', "takes alpha"),
    ],
)
def test_logistic_input_errors(tmp_path, data_dir, extra, message):
    text = TINY + (
        '\n[inputs."Rate a"]\nin = ["Growth"]\n'
        + extra
        + 'series = "genron:pct_unfavorable:JP->CN"\n'
    )
    with pytest.raises(InvalidValueError, match=message):
        prepare(spec_file(tmp_path, text), data_dir)


def test_partial_result_records_its_inputs_and_is_no_base(tmp_path, data_dir):
    from nea_sd.calibrate.results import load_calibrated, read_result
    from nea_sd.cli import main
    from nea_sd.model import file_sha256

    out = tmp_path / "out" / "tiny.toml"
    spec = spec_file(tmp_path, TINY + INPUT)
    args = ["calibrate", str(spec), "--data-dir", str(data_dir), "--output", str(out)]
    assert main([*args, "--starts", "2", "--no-profile"]) == 0
    partial = read_result(out)["calibration"]["partial_model"]
    assert partial["base_model_sha256"] == file_sha256(FIXTURES / "tiny.mdl")
    assert partial["input_series"] == ["sipri:milex_constant_2022_usd:JP"]
    assert read_result(out)["calibration"]["model_sha256"] != partial["base_model_sha256"]
    with pytest.raises(UnknownNameError, match="no calibration results"):
        load_calibrated("tiny", results_dir=out.parent)  # a sector is not the model's base
