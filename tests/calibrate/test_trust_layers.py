"""The trust-layers structural test: ``models/variants/nea-trust-layers.mdl`` lets societal
trust move at its own speed, and ``calibration/nea_trust_layers.toml`` fits that speed on top of
the base's spec. The test is only a test of the structure if it is nested in the base: the same
spec plus one parameter, and the same model where that parameter is 1."""

from __future__ import annotations

import tomllib

import pytest

from nea_sd.calibrate.results import read_result
from nea_sd.model.cache import file_sha256
from tests.support import MODELS, REPO

SPEC = REPO / "calibration" / "nea_trust_layers.toml"
VARIANT = MODELS / "variants" / "nea-trust-layers.mdl"
SPEED = "Societal trust speed"


def test_the_spec_is_the_base_spec_plus_the_societal_speed():
    spec = tomllib.loads(SPEC.read_text("utf-8"))
    base = tomllib.loads((REPO / "calibration" / "nea.toml").read_text("utf-8"))
    assert spec.pop("base") is False  # a structural test never becomes the compare base
    assert spec.pop("model") == "../models/variants/nea-trust-layers.mdl"
    base.pop("model")
    # made on the base before its 2012 crises eroded trust at their own rate (7 December):
    # the variant file has no such switch, the rest is the base spec
    assert base["constants"].pop("Flare up own rate") == 1
    assert spec["parameters"].pop(SPEED) == {}  # the model's own range, nothing chosen here
    assert spec == base


def test_the_committed_result_is_of_this_variant_and_spec():
    path = REPO / "calibration" / "results" / "nea_trust_layers.toml"
    if not path.is_file():
        pytest.skip("no committed result for the trust-layers test")
    doc = read_result(path)
    assert doc["calibration"]["model_sha256"] == file_sha256(VARIANT)
    assert doc["calibration"].get("model_base") is False
    assert SPEED in doc["estimates"]
