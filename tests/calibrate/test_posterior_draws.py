"""posterior_draws: a compare ensemble base from a converged posterior, refused otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nea_sd.calibrate._toml import dumps
from nea_sd.calibrate.results import posterior_draws
from nea_sd.errors import DataError, InvalidValueError


def _result(tmp_path, converged=True, sampler="nested", rows=50):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "Rate a": rng.normal(1.0, 0.1, rows),
            "Rate b": rng.normal(2.0, 0.2, rows),
            "poll.alpha": rng.normal(0, 1, rows),
            "run": np.repeat([0, 1], rows // 2),
        }
    )
    frame.to_csv(tmp_path / "tiny.draws.csv", index=False)
    doc = {
        "calibration": {"spec": "tiny.toml", "log_likelihood": -1.0},
        "estimates": {"Rate a": 1.0, "Rate b": 2.0},
        "link_estimates": {"poll.alpha": 0.0},
        sampler: {"converged": converged, "draws_file": "tiny.draws.csv"},
    }
    path = tmp_path / "tiny.toml"
    path.write_text(dumps(doc, "test"))
    return path, frame


@pytest.mark.parametrize("sampler", ["nested", "posterior"])
def test_draws_are_rows_of_the_draws_file(tmp_path, sampler):
    path, frame = _result(tmp_path, sampler=sampler)
    draws = posterior_draws(path, 20, seed=3)
    assert len(draws) == 20 and all(set(d) == {"Rate a", "Rate b"} for d in draws)
    rows = {tuple(r) for r in frame[["Rate a", "Rate b"]].to_numpy()}
    assert all((d["Rate a"], d["Rate b"]) in rows for d in draws)
    assert len({(d["Rate a"], d["Rate b"]) for d in draws}) == 20  # without replacement
    assert posterior_draws(path, 20, seed=3) == draws  # seeded
    assert posterior_draws(path, 20, seed=4) != draws


def test_mapping_document_reads_draws_from_results_dir(tmp_path):
    path, _ = _result(tmp_path)
    from nea_sd.calibrate.results import read_result

    draws = posterior_draws(read_result(path), 5, 0, results_dir=tmp_path)
    assert draws == posterior_draws(path, 5, 0)


@pytest.mark.parametrize("sampler", ["nested", "posterior"])
def test_unconverged_posterior_refused(tmp_path, sampler):
    path, _ = _result(tmp_path, converged=False, sampler=sampler)
    with pytest.raises(DataError, match="did not converge"):
        posterior_draws(path, 5, 0)


def test_no_posterior_and_bad_n(tmp_path):
    path, _ = _result(tmp_path)
    with pytest.raises(InvalidValueError, match="at most 50"):
        posterior_draws(path, 51, 0)
    with pytest.raises(InvalidValueError, match="positive number"):
        posterior_draws(path, 0, 0)
    text = path.read_text().replace("[nested]", "[other]")
    path.write_text(text)
    with pytest.raises(DataError, match="no posterior"):
        posterior_draws(path, 5, 0)
