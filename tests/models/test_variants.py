"""Structural variants of the regional model (``models/variants/``): each is ``nea.mdl`` plus
one documented term whose parameter at 0 gives back ``nea.mdl`` exactly, so a fit of the
variant is a nested structural test of the base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nea_sd.engine import simulate
from nea_sd.errors import NeaSdError
from nea_sd.loops.dominance import loop_names
from nea_sd.model import load_model
from nea_sd.scenarios import load_scenarios
from nea_sd.structures import load_structures
from tests.support import bundled

VARIANTS = Path(__file__).resolve().parents[2] / "models" / "variants"
CRISIS_2012 = {
    "Flare up pattern[CN,JP]": 1.0,
    "Flare up pattern[JP,CN]": 1.0,
    "Flare up time": 2012.7,
    "Flare up size": 3.0,
    "Flare up duration": 0.5,
}
WATCHED = ["Societal trust", "Security trust", "Reputational damage", "Military expenditure"]


def test_flare_damage_variant_at_zero_is_the_base_model_and_live_above_it() -> None:
    variant = load_model(VARIANTS / "nea-flare-damage.mdl")
    base = simulate(bundled("nea"), [CRISIS_2012], WATCHED, engine="batch").isel(run=0)
    runs = [{**CRISIS_2012, "Flare up damage": 0.0}, {**CRISIS_2012, "Flare up damage": 0.5}]
    out = simulate(variant, runs, WATCHED, engine="batch")
    for name in WATCHED:  # the added term is exactly zero: bit for bit the base model
        np.testing.assert_array_equal(out[name].isel(run=0).values, base[name].values, name)
    t = out["time"].values
    after = t >= 2013.5  # the pulse is over: only the lasting damage remains
    damage = out["Reputational damage"].isel(run=1) - out["Reputational damage"].isel(run=0)
    societal = out["Societal trust"].isel(run=0) - out["Societal trust"].isel(run=1)
    flaring = damage.sel(Actor="CN", Partner="JP").values[after]
    assert flaring.max() > 0.01  # the crisis left damage where the base model left none
    assert flaring[-1] < flaring.max()  # and it fades (memory), no source after the pulse
    assert societal.sel(Actor="CN", Partner="JP").values[after].max() > 0.005  # lower ceiling
    quiet = damage.sel(Actor="KR", Partner="KP").values  # not on the flare-up's pattern
    assert np.abs(quiet).max() < 0.1 * flaring.max()


def test_a_variant_runs_its_base_models_strategies_and_switches(tmp_path) -> None:
    variant = load_model(VARIANTS / "nea-flare-damage.mdl")
    theirs, ours = load_scenarios(bundled("nea")), load_scenarios(variant)
    assert list(ours) == list(theirs)
    assert all(ours[name].overrides == theirs[name].overrides for name in ours)
    assert list(load_structures(variant)) == list(load_structures(bundled("nea")))  # switches
    nea = bundled("nea")
    assert loop_names(variant.path, "nea-flare-damage") == loop_names(nea.path, "nea")  # loops
    bad = tmp_path / "scenarios.toml"
    bad.write_text('[nea-flare-damage]\nlike = "nea"\n')
    with pytest.raises(NeaSdError, match=r"like = .nea. names no model table; choose one of"):
        load_scenarios(variant, bad)
