"""``series_pull``: which series pull a fitted parameter, checked against the likelihood."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nea_sd.calibrate.problem import prepare
from nea_sd.calibrate.results import read_result
from nea_sd.calibrate.review import series_pull, with_error_model
from nea_sd.errors import InvalidValueError

ROOT = Path(__file__).resolve().parents[2]


def test_the_elastic_fits_contact_effect_pull_matches_its_likelihood(data_dir):
    """On the previous base's structure (trade with a trust elasticity): the total whitened SS
    changes by twice the change in −log L (computed by the likelihood, another code path), and
    the README's reading holds — moved from its limit 1 to 0.3, trade with China is what gets
    worse most."""
    doc = read_result(ROOT / "calibration" / "results" / "nea_elastic.toml")
    setup = prepare(ROOT / "calibration" / "nea_elastic.toml", data_dir)
    frame = series_pull(setup, doc, "Contact effect", [0.3])
    moved = frame["Contact effect = 0.3"] - frame["estimate"]
    scored = with_error_model(setup, doc)
    names = list(scored.spec.names)
    estimates = {**doc["estimates"], **doc["link_estimates"]}
    X = np.array([[estimates[n] for n in names]] * 2)
    X[1, names.index("Contact effect")] = 0.3
    loglik = scored.problem.log_likelihood(scored.simulator.run(X), X)
    assert moved["total"] == pytest.approx(2 * (loglik[0] - loglik[1]), rel=1e-6)
    assert loglik[0] == pytest.approx(doc["calibration"]["log_likelihood"], abs=1e-6)
    worst = moved.drop("total").sort_values(ascending=False)
    assert list(worst.index[:2]) == ["trade US-CN", "trade JP-CN"]


def test_an_unfitted_parameter_is_named(data_dir):
    doc = read_result(ROOT / "calibration" / "results" / "nea_elastic.toml")
    setup = prepare(ROOT / "calibration" / "nea_elastic.toml", data_dir)
    with pytest.raises(InvalidValueError, match="'Spillover' is not fitted by nea_elastic.toml"):
        series_pull(setup, doc, "Spillover", [0.1])
