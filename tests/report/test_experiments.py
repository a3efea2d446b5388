"""H4, H5, H6, H8: verdicts pinned on hand-made numbers, and a small H6 on the regional model
whose contrasts agree with runs made directly and with the model's switches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.engine import simulate
from nea_sd.model import load_model
from nea_sd.report import experiments as ex
from nea_sd.report.core import Context, Verdict
from nea_sd.report.sectionkit import compose, draws, interval_array

MODELS = Path(__file__).resolve().parents[2] / "models"


def _numbers(outcome: str, effects: dict[str, list[float]], **extra) -> xr.Dataset:
    """Per-draw contrasts at 2030 and 2040 (the same values both years), with their stats."""
    names = list(effects)
    per_draw = np.array([[values, values] for values in effects.values()], dtype=float)
    gain = np.linspace(0, 1, per_draw.shape[-1])
    ds = xr.Dataset(
        {
            f"draw_effect_{outcome}": (("contrast", "year", "draw"), per_draw),
            f"effect_{outcome}": (
                ("contrast", "year", "stat"),
                [[interval_array(v, 0) for v in row] for row in per_draw],
            ),
            "gain_draw": (("draw", "gain"), np.column_stack([gain, np.sin(9 * gain)])),
        },
        coords={
            "contrast": names,
            "year": [2030.0, 2040.0],
            "stat": ["mean", "low", "high"],
            "gain": ["Spillover", "Memory time"],
        },
    )
    for key, value in extra.items():
        ds[key] = value
    return ds


UP, DOWN = [0.1, 0.2, 0.15, 0.12] * 5, [-0.1, -0.2, -0.15, -0.12] * 5
MIXED = list(np.linspace(-1, 1, 20))  # rises with the first gain: it names the frontier


def test_two_part_claims():
    yes, no = Verdict("supported", "a"), Verdict("rejected", "b")
    maybe = Verdict("depends", "c", ("Spillover",))
    assert ex.both(yes, yes).label == "supported"
    assert ex.both(yes, no).label == "rejected" and ex.both(maybe, no).label == "rejected"
    assert ex.both(yes, maybe) == Verdict("depends", "a; c", ("Spillover",))


@pytest.mark.parametrize(
    ("with_ft", "interaction", "label"),
    [(UP, UP, "supported"), (UP, DOWN, "rejected"), (MIXED, UP, "depends")],
)
def test_h4_verdict_pinned(with_ft, interaction, label):
    numbers = _numbers(
        "summit_dyads_trust",
        {"summit with follow-through": with_ft, "follow-through needed (interaction)": interaction},
    )
    verdict = ex.h4_verdict(numbers)
    assert verdict.label == label
    if label == "depends":
        assert verdict.depends_on[0] == "Spillover"


@pytest.mark.parametrize(("effect", "label"), [(UP, "supported"), (DOWN, "rejected")])
def test_h5_verdict_pinned(effect, label):
    assert ex.h5_verdict(
        _numbers("security_trust", {"activism at equal effort": effect})
    ).label == (label)


@pytest.mark.parametrize(
    ("shock", "spread", "label"), [(DOWN, DOWN, "supported"), (DOWN, UP, "rejected")]
)
def test_h6_verdict_pinned(shock, spread, label):
    numbers = _numbers(
        "third_party_trust",
        {
            "shock (omega and alliance threat on)": shock,
            "spread by omega and alliance threat": spread,
        },
    )
    assert ex.h6_verdict(numbers).label == label  # the claim is a fall of trust


def test_h8_dormant_restraint_is_rejected_whatever_the_trust():
    observed = xr.DataArray(
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        dims=("variant_grit", "stat"),
        coords={"stat": ["mean", "low", "high"]},
    )
    numbers = _numbers(
        "security_trust", {"GRIT by US": UP, "GRIT by CN": UP}, p_restraint_observed=observed
    )
    verdict = ex.h8_verdict(numbers)
    assert verdict.label == "rejected" and "dormant" in verdict.reason
    live = _numbers(
        "security_trust", {"GRIT by US": UP, "GRIT by CN": UP}, p_restraint_observed=observed + 1
    )
    assert ex.h8_verdict(live).label == "supported"


def test_h6_on_the_regional_model_agrees_with_direct_runs(tmp_path):
    model = load_model(MODELS / "nea.mdl")
    ctx = Context(model, {}, "model defaults", {"Spillover": (0.0, 0.6)}, samples=3, seed=2)
    section = ex.h6_section(ctx)
    n = section.numbers
    # with omega and the alliance-threat sensitivity at 0 the shock has no channel to others
    off = n["draw_effect_third_party_trust"].sel(contrast="shock (both off)")
    np.testing.assert_allclose(off, 0.0, atol=1e-12)
    # the contrast of draw 1 is the difference of two runs made here on the same draw
    ff = ex._strategy(ctx, "functional-first")
    shock = {"Alliance shock size": ex.SHOCK_SIZE, "Alliance shock time": ex.SHOCK_TIME}
    one = draws(ctx)[1]
    runs = simulate(
        model, [compose(ctx, one, ff, shock), compose(ctx, one, ff)], ["Regional security trust"]
    )
    at = runs["Regional security trust"].interp(time=2035.0).values
    got = n["draw_effect_security_trust"].sel(
        contrast="shock (omega and alliance threat on)", year=2035.0
    )
    assert float(got.isel(draw=1)) == pytest.approx(at[0] - at[1], abs=1e-12)
    assert section.verdict == ex.h6_verdict(n)
    assert "Diverged runs" in section.text and set(section.figures) == {"h6_effects"}
    n.to_netcdf(tmp_path / "h6.nc")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["h4_section", "h5_section", "h8_section"])
def test_sections_on_the_regional_model(name, tmp_path):
    model = load_model(MODELS / "nea.mdl")
    ctx = Context(model, {}, "model defaults", {"Spillover": (0.0, 0.6)}, samples=3, seed=2)
    section = getattr(ex, name)(ctx)
    assert section.key == name[:2].upper()
    assert section.verdict.label in ("supported", "rejected", "depends")
    assert section.figures and "common draws" in section.text
    assert not section.numbers["diverged"].any()
    section.numbers.to_netcdf(tmp_path / "numbers.nc")
