"""H3: the two-basin test on maps with a known answer, the verdict pinned on hand-made numbers,
and a small section on the regional model (every number labelled, the verdict from them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.model import load_model
from nea_sd.report.core import Context
from nea_sd.report.tipping import GRID, JUMP, _figures, _text, bistable, compute, verdict_from

MODELS = Path(__file__).resolve().parents[2] / "models"
X = np.asarray(GRID)


def test_a_jump_is_two_basins_and_a_slope_is_one():
    step = np.where(X < 0.42, 0.1, 0.8)  # a separatrix at 0.42: two attractors
    slope = 0.2 + 0.6 * X  # no attractor change: the end tracks the start smoothly
    flat = np.full_like(X, 0.69)  # a single attractor
    small = np.where(X < 0.42, 0.5, 0.5 + JUMP / 2)  # a jump too small to count
    found, where = bistable(np.stack([step, slope, flat, small]))
    assert found.tolist() == [True, False, False, False]
    assert where[0] == pytest.approx((X[X < 0.42][-1] + X[X > 0.42][0]) / 2)
    assert np.isnan(where[1:]).all()


def _numbers(flags: list[float]) -> xr.Dataset:
    from nea_sd.report.sectionkit import interval_array

    f = np.array(flags, dtype=float)
    gain = np.linspace(0, 1, len(f))
    return xr.Dataset(
        {
            "two_basins": (("strategy", "draw"), [f]),
            "p_two_basins": (("strategy", "stat"), [interval_array(f, 0)]),
            "gain_draw": (("draw", "gain"), np.column_stack([gain, np.cos(7 * gain)])),
        },
        coords={
            "strategy": ["functional-first"],
            "stat": ["mean", "low", "high"],
            "gain": ["Backfire strength", "Spillover"],
        },
    )


def test_verdict_pinned():
    assert verdict_from(_numbers([1.0] * 20)).label == "supported"
    assert verdict_from(_numbers([0.0] * 20)).label == "rejected"
    half = verdict_from(_numbers([0.0] * 10 + [1.0] * 10))  # bistable where the gain is high
    assert half.label == "depends"
    assert half.depends_on[0] == "Backfire strength"


def test_small_section_on_the_regional_model(tmp_path):
    model = load_model(MODELS / "nea.mdl")
    ctx = Context(model, {}, "model defaults", {"Spillover": (0.0, 0.6)}, samples=2, seed=0)
    numbers = compute(ctx, sweeps=("Spillover",))  # 3 steps for a small ensemble
    assert numbers["basin_end"].shape == (2, 2, len(GRID))
    assert np.isfinite(numbers["basin_end"]).all() and not numbers["diverged"].any()
    assert (numbers["basin_end"] >= 0).all() and (numbers["basin_end"] <= 1).all()
    widths = numbers["hysteresis_width"].sel(parameter="Spillover")
    assert widths.dims == ("strategy",) and np.isfinite(widths).all()
    values = numbers["sweep_value"].sel(parameter="Spillover").values
    assert values.tolist() == [0.0, 0.3, 0.6]
    verdict = verdict_from(numbers)
    p = numbers["p_two_basins"].sel(strategy="functional-first").values
    assert f"{p[1]:.3f}" in verdict.reason
    assert set(_figures(numbers)) == {"h3_basins", "h3_bifurcation"}
    numbers.to_netcdf(tmp_path / "h3.nc")
    assert "hysteresis width at the base (functional-first): Spillover" in _text(numbers)
