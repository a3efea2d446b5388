"""Per-observation periods and yearly means: spec keys, their errors, and the arithmetic."""

from pathlib import Path

import numpy as np
import pytest

from nea_sd.calibrate.observation import annual_mean
from nea_sd.calibrate.problem import prepare
from nea_sd.errors import InvalidValueError

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"


def spec(tmp_path, old, new):
    text = TINY.read_text()
    assert old in text
    path = tmp_path / "spec.toml"
    text = text.replace('model = "tiny.mdl"', f'model = "{TINY.parent / "tiny.mdl"}"')
    path.write_text(text.replace(old, new))
    return path


def test_annual_mean_of_a_linear_stock():
    times = np.arange(2000, 2003.01, 0.25)
    model = np.vstack([times - 2000, 2 * (times - 2000)])
    out = annual_mean(model, times, np.array([2000, 2001]))
    np.testing.assert_allclose(out, [[0.375, 1.375], [0.75, 2.75]])  # mean of y, y+.25, .5, .75
    with pytest.raises(InvalidValueError, match="needs saved times through 2004"):
        annual_mean(model, times, np.array([2003]))


def test_observation_periods_and_average(tmp_path, data_dir):
    path = spec(
        tmp_path,
        'link = "identity"',
        'link = "identity"\naverage = true\nfit = [2005, 2010]\nholdout = [2011, 2012]',
    )
    s = prepare(path, data_dir)
    obs = s.spec.observations[0]
    assert obs.average and obs.fit_period == (2005, 2010) and obs.holdout_period == (2011, 2012)
    assert s.problem.n_points == 6
    assert s.simulator.final == 2013.0 and s.simulator.saveper == 0.25  # a yearly mean of 2012
    X = np.array([[1.0, 1.0, 10.0]])
    out = s.simulator.run(X)
    years, pred, _, _ = s.problem.predictions(out, X)["level"]
    assert years.tolist() == list(range(2005, 2011))
    np.testing.assert_allclose(pred[0], 10 + (years - 2000) + 0.375)  # mean over the year
    years, _, _, _ = s.problem.predictions(out, X, holdout=True)["level"]
    assert years.tolist() == [2011, 2012]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ('link = "identity"\naverage = "yes"', "average must be true or false"),
        ('link = "identity"\nholdout = [2011, 2012]', r"holdout needs fit = \[first, last\]"),
        ('link = "identity"\nfit = [2005, 2010]\nholdout = [2010, 2012]', "overlaps fit"),
        ('link = "identity"\nfit = [2030, 2031]', "does not overlap series"),
    ],
)
def test_observation_period_errors(tmp_path, data_dir, new, message):
    from nea_sd.errors import NeaSdError

    with pytest.raises(NeaSdError, match=message):
        prepare(spec(tmp_path, 'link = "identity"', new), data_dir)
