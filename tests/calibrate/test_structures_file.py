"""The calibration's structural variants are settings of models/structures.toml, not copies
that drift from it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from nea_sd.calibrate.structures import load_variants

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "model, file", [("nea", "structures-arms.toml"), ("dyad", "structures-dyad.toml")]
)
def test_variants_are_settings_of_the_models_switches(model, file):
    switches = tomllib.loads((ROOT / "models" / "structures.toml").read_text())[model]
    settings = [
        {k: v for k, v in setting.items() if k != "meaning"}
        for switch in switches.values()
        for setting in switch["settings"].values()
    ]
    variants = load_variants(ROOT / "calibration" / file)
    assert len(variants) >= 4 and variants[0].constants == {}
    for variant in variants[1:]:
        assert dict(variant.constants) in settings, variant.name
