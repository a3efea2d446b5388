"""Where refits land when the truth is known (`nea_sd.calibrate.bootstrap`).

Independent truths: noiseless records are refitted to their truth exactly, so nothing ends
at a bound; with noise and the truth on a bound, an unbiased, roughly normal estimator ends
there about half the time (the other half it lies inside, past the bound's mirror image).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nea_sd.calibrate.bootstrap import bound_check
from nea_sd.calibrate.noise import SeriesNoise, with_noise
from nea_sd.calibrate.problem import prepare
from nea_sd.calibrate.synthetic import with_spec
from nea_sd.errors import InvalidValueError

SMALL = Path(__file__).parent / "fixtures" / "richardson_small.toml"
NAMES = ["Defence coefficient X", "Grievance X"]


@pytest.fixture(scope="module")
def small(data_dir):
    return prepare(SMALL, data_dir)


def test_noiseless_records_refit_to_an_inside_truth(small):
    quiet = [SeriesNoise(o.name, 11, 5.0, 1e-9, 0.0) for o in small.spec.observations]
    setup = with_spec(small, with_noise(small.spec, quiet))
    check = bound_check(setup, [0.3, 10.0], NAMES, start=[0.5, 0.0], replicates=4)
    np.testing.assert_allclose(check.estimates, [[0.3, 10.0]] * 4, rtol=1e-4)
    assert check.counts()[0] == 1.0 and "4 redrawn records" in str(check)


def test_a_truth_on_a_bound_is_hit_about_half_the_time(small):
    check = bound_check(small, [0.0, 10.0], NAMES, replicates=100, seed=3)
    table = check.table().set_index("parameter")
    assert 0.35 <= table.loc["Defence coefficient X", "at lower"] <= 0.65
    assert table.loc["Grievance X", "at lower"] == table.loc["Grievance X", "at upper"] == 0.0
    assert check.counts().sum() == pytest.approx(1.0)


def test_bad_arguments_name_the_thing(small):
    with pytest.raises(InvalidValueError, match="choose from"):
        bound_check(small, [0.3, 10.0], ["nosuch"])
    with pytest.raises(InvalidValueError, match="truth must be 2 finite values"):
        bound_check(small, [0.3], NAMES)
    with pytest.raises(InvalidValueError, match="start must be 2 finite values"):
        bound_check(small, [0.3, 10.0], NAMES, start=[0.3, np.nan])
    with pytest.raises(InvalidValueError, match="replicates and max_nfev"):
        bound_check(small, [0.3, 10.0], NAMES, replicates=0)
