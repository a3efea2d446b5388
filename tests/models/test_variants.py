"""Structural variants of the regional model (``models/variants/``): each is ``nea.mdl`` plus
one documented term whose parameter at 0 gives back ``nea.mdl`` exactly, so a fit of the
variant is a nested structural test of the base (the combined variant: two such terms, each
giving back the other's variant at 0)."""

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


def test_budget_anchor_variant_at_zero_is_the_base_model_and_goal_seeking_above_it() -> None:
    """At rate 0 the variant runs ``nea.mdl`` bit for bit over the full horizon. Above it the
    anchor is ``rate x (normal burden x GDP - spending)``, entering the increase when positive
    and the decrease when negative (recomputed from the saved outputs), and at rate 0.5 the
    burdens end closer to their normal levels (summed over actors: the other drivers keep
    single actors off their norm, and at slow rates the arms race's coupling can outweigh it)."""
    variant = load_model(VARIANTS / "nea-budget-anchor.mdl")
    flows = ["Arms increase", "Arms decrease", "Threat response", "Grievance", "Fatigue"]
    watched = [*WATCHED, "Arms burden", "GDP", "Budget anchor", *flows]
    base = simulate(bundled("nea"), [{}], WATCHED, engine="batch").isel(run=0)
    rates = [0.0, 0.1, 0.5]
    out = simulate(variant, [{"Budget anchor rate": r} for r in rates], watched, engine="batch")
    for name in WATCHED:
        np.testing.assert_array_equal(out[name].isel(run=0).values, base[name].values, name)
    normal = np.asarray(variant.parameters["Normal burden"].value)
    run = out.isel(run=2)
    expected = 0.5 * (normal * run["GDP"] - run["Military expenditure"])
    np.testing.assert_allclose(run["Budget anchor"], expected, rtol=1e-12, atol=1e-9)
    up, down = np.maximum(expected, 0), np.maximum(-expected, 0)
    np.testing.assert_allclose(
        run["Arms increase"], run["Threat response"] + run["Grievance"] + up, rtol=1e-12
    )
    uncapped = run["Arms decrease"] < run["Military expenditure"] / 0.5 - 1e-9
    np.testing.assert_allclose(  # no restraint in the default run
        run["Arms decrease"].where(uncapped), (run["Fatigue"] + down).where(uncapped), rtol=1e-12
    )
    gap = np.abs(out["Arms burden"].isel(time=-1).values / normal - 1.0).sum(axis=1)
    assert gap[2] < 0.8 * gap[0]  # a wrong sign would push burdens away from their norms


def test_operations_variant_at_zero_is_the_base_model_and_adds_its_trapezoid() -> None:
    """At size 0 the variant runs ``nea.mdl`` bit for bit. Above it the operations' spending is
    the record's trapezoid (0 before October 2001, the plateau from 2008 to 2011, 0 from 2015),
    its change enters the increase when positive and the decrease when negative, and fatigue
    acts on the budget outside it: with no reactions and a burden-free fatigue (exponent 0) US
    spending is the size-0 run plus exactly the trapezoid, and with the defaults (fatigue
    rising with the total burden) the operations crowd the rest of the budget out."""
    variant = load_model(VARIANTS / "nea-operations.mdl")
    flows = ["Arms increase", "Arms decrease", "Threat response", "Grievance", "Fatigue"]
    watched = [*WATCHED, "Operations change", "Operations spending", *flows]
    base = simulate(bundled("nea"), [{}], WATCHED, engine="batch").isel(run=0)
    isolated = {"Fatigue exponent": 0.0, "Defence reaction": 0.0}
    wars = {"Operations size[US]": 200.0}
    runs = [{}, wars, isolated, {**isolated, **wars}]
    out = simulate(variant, runs, watched, engine="batch")
    for name in WATCHED:
        np.testing.assert_array_equal(out[name].isel(run=0).values, base[name].values, name)
    t = out["time"].values
    trapezoid = 200.0 * np.clip(np.minimum((t - 2001.75) / 6.25, (2015 - t) / 4), 0.0, 1.0)
    ops = out["Operations spending"].isel(run=1)
    np.testing.assert_allclose(ops.sel(Actor="US"), trapezoid, atol=1e-9)
    assert np.abs(ops.drop_sel(Actor="US").values).max() == 0  # fitted for the US only
    change = out["Operations change"].isel(run=1).sel(Actor="US").values
    slope = np.select([(t >= 2001.75) & (t < 2008), (t >= 2011) & (t < 2015)], [32.0, -50.0], 0)
    np.testing.assert_allclose(change, slope, atol=1e-12)
    run = out.isel(run=1).sel(Actor="US")
    up, down = np.maximum(change, 0), np.maximum(-change, 0)
    np.testing.assert_allclose(
        run["Arms increase"], run["Threat response"] + run["Grievance"] + up, rtol=1e-12
    )
    np.testing.assert_allclose(run["Arms decrease"], run["Fatigue"] + down, rtol=1e-12)
    us = out["Military expenditure"].sel(Actor="US")
    np.testing.assert_allclose(us.isel(run=3) - us.isel(run=2), trapezoid, rtol=1e-9, atol=1e-6)
    crowded = (us.isel(run=1) - us.isel(run=0)).sel(time=2011.0)
    assert 0 < float(crowded) < 200.0  # the total burden raises fatigue on the rest


def test_the_combined_variant_is_each_variant_when_the_other_term_is_zero() -> None:
    """``nea-flare-damage-operations.mdl`` carries both terms: with the operations at 0 it runs
    the flare-damage variant bit for bit, with the damage at 0 the operations variant."""
    both = load_model(VARIANTS / "nea-flare-damage-operations.mdl")
    damage = {**CRISIS_2012, "Flare up damage": 0.5}
    operations = {**CRISIS_2012, "Operations size[US]": 200.0}
    for one, params in (("nea-flare-damage", damage), ("nea-operations", operations)):
        alone = simulate(load_model(VARIANTS / f"{one}.mdl"), [params], WATCHED, engine="batch")
        out = simulate(both, [params], WATCHED, engine="batch")
        for name in WATCHED:
            np.testing.assert_array_equal(out[name].values, alone[name].values, f"{one}: {name}")


def test_trust_layers_variant_at_speed_one_is_the_base_model_and_speeds_the_polls_layer() -> None:
    """``nea-trust-layers.mdl``: ``Societal trust speed`` multiplies the societal layer's
    building and erosion rates. At 1 it runs ``nea.mdl`` bit for bit (the 2012 crisis on, so
    both societal flows work); at 3 the crisis's fall in China's societal trust in Japan is
    deeper and its recovery faster, and the security layer moves only through its coupling."""
    variant = load_model(VARIANTS / "nea-trust-layers.mdl")
    base = simulate(bundled("nea"), [CRISIS_2012], WATCHED, engine="batch").isel(run=0)
    speed = "Societal trust speed"
    out = simulate(variant, [{**CRISIS_2012, speed: 1.0}, {**CRISIS_2012, speed: 3.0}], WATCHED)
    for name in WATCHED:
        np.testing.assert_array_equal(out[name].isel(run=0).values, base[name].values, name)
    t = out["time"].values
    soc = out["Societal trust"].sel(Actor="CN", Partner="JP")
    crisis = (t >= 2012.7) & (t <= 2013.5)
    drop = [
        float(soc.isel(run=r).values[t <= 2012.7][-1] - soc.isel(run=r).values[crisis].min())
        for r in (0, 1)
    ]
    assert drop[1] > drop[0] > 0.05  # faster erosion: a deeper fall (capped by the MIN)
    at = int(np.searchsorted(t, 2015.0))  # two years on: a larger share of the fall regained
    regained = [
        float(soc.isel(run=r).values[at] - soc.isel(run=r).values[crisis].min()) / drop[r]
        for r in (0, 1)
    ]
    assert regained[1] > 1.5 * regained[0] > 0
    sec = out["Security trust"].sel(Actor="CN", Partner="JP")
    soc_moved = float(np.abs(soc.isel(run=1) - soc.isel(run=0)).max())
    sec_moved = float(np.abs(sec.isel(run=1) - sec.isel(run=0)).max())
    assert soc_moved > 0.05 and sec_moved < soc_moved  # the polls' layer moves first


def test_flare_rate_switch_unties_the_crisis_from_learning_and_the_variant_is_the_base():
    """``Flare up own rate`` (in ``nea.mdl`` since the base adopted it; its test variant
    ``nea-flare-rate.mdl`` kept for the committed results made on it): at 1 the flare-up erodes
    societal trust at ``Flare up erosion rate`` × size, so the fall no longer depends on the
    trust building rate. Closed form: against the same run without the flare-up (other erosion
    is proportional to trust in both), trust ends the pulse lower by the factor
    (1 − rate · size · dt)^(duration / dt) (Euler's exp(−rate · size · duration)), a little less
    where building works against the fall. The variant runs ``nea.mdl`` bit for bit at 0 and 1."""
    nea = bundled("nea")
    variant = load_model(VARIANTS / "nea-flare-rate.mdl")
    own = {**CRISIS_2012, "Flare up own rate": 1.0}
    runs = [{**CRISIS_2012, "Flare up own rate": 0.0}]
    runs += [
        {**own, "Flare up size": size, "Trust building rate": rate}
        for rate in (0.1, 0.6)
        for size in (2.0, 0.0)
    ]
    out = simulate(nea, runs, WATCHED, engine="batch")
    theirs = simulate(variant, runs, WATCHED, engine="batch")
    at_default = simulate(nea, [CRISIS_2012], WATCHED, engine="batch").isel(run=0)
    for name in WATCHED:
        np.testing.assert_array_equal(out[name].values, theirs[name].values, name)
        np.testing.assert_array_equal(out[name].isel(run=0).values, at_default[name].values)
    t = out["time"].values
    after = int(np.searchsorted(t, 2012.7 + 0.5))  # the first save after the pulse
    soc = out["Societal trust"].sel(Actor="CN", Partner="JP").values[:, after]
    falls = [soc[1] / soc[2], soc[3] / soc[4]]  # with the flare-up / without, per rate
    dt = nea.time["step"]  # the model's TIME STEP (Euler)
    bound = (1.0 - 2.0 * dt) ** (0.5 / dt)  # exp(-1) in continuous time; Euler steps fall more
    for fall in falls:
        assert bound <= fall <= bound + 0.1
    assert abs(falls[0] - falls[1]) < 0.1  # a sixfold building rate barely changes the fall


def test_capacity_variant_at_zero_is_the_base_model_and_scales_the_drive_with_gdp() -> None:
    """At elasticity 0 the variant runs ``nea.mdl`` bit for bit over the full horizon. Above
    it the increase is ``(threat response + standing drivers) x (GDP / Initial GDP) ^
    elasticity`` plus the operations' buildup (recomputed from the saved outputs; the base has
    none), so at 1 a growing economy's drive grows with it and spending ends higher."""
    variant = load_model(VARIANTS / "nea-capacity.mdl")
    flows = ["Arms increase", "Threat response", "Grievance", "GDP"]
    base = simulate(bundled("nea"), [{}], WATCHED, engine="batch").isel(run=0)
    runs = [{}, {"Capacity elasticity": 1.0}, {"Capacity elasticity": 0.5}]
    out = simulate(variant, runs, [*WATCHED, *flows], engine="batch")
    for name in WATCHED:
        np.testing.assert_array_equal(out[name].isel(run=0).values, base[name].values, name)
    gdp0 = np.asarray(variant.parameters["Initial GDP"].value)
    for r, e in ((1, 1.0), (2, 0.5)):
        run = out.isel(run=r)
        drive = (run["Threat response"] + run["Grievance"]) * (run["GDP"] / gdp0) ** e
        np.testing.assert_allclose(run["Arms increase"], drive, rtol=1e-12)
    end = out["Military expenditure"].isel(time=-1)
    grew = (end.isel(run=1) > end.isel(run=2)) & (end.isel(run=2) > end.isel(run=0))
    assert bool(grew.sel(Actor=["US", "CN", "JP", "KR"]).all())  # growing economies spend more


NAMES = [
    "nea-flare-rate",
    "nea-flare-damage",
    "nea-budget-anchor",
    "nea-operations",
    "nea-flare-damage-operations",
    "nea-trust-layers",
    "nea-capacity",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_variant_runs_its_base_models_strategies_and_switches(tmp_path, name) -> None:
    variant = load_model(VARIANTS / f"{name}.mdl")
    theirs, ours = load_scenarios(bundled("nea")), load_scenarios(variant)
    assert list(ours) == list(theirs)
    assert all(ours[name].overrides == theirs[name].overrides for name in ours)
    assert list(load_structures(variant)) == list(load_structures(bundled("nea")))  # switches
    nea = bundled("nea")
    assert loop_names(variant.path, name) == loop_names(nea.path, "nea")  # loops
    bad = tmp_path / "scenarios.toml"
    bad.write_text(f'[{name}]\nlike = "nea"\n')
    with pytest.raises(NeaSdError, match=r"like = .nea. names no model table; choose one of"):
        load_scenarios(variant, bad)
