"""The FF - MF switch grid equals the difference of the two strategies' own runs."""

from __future__ import annotations

import numpy as np

from nea_sd.engine import simulate
from nea_sd.scenarios import load_scenarios
from nea_sd.sequencing import markdown, switch_grid
from tests.support import bundled


def test_switch_grid_is_functional_first_minus_military_first() -> None:
    model = bundled("nea")
    grid = switch_grid(model, sigmas=(0.2,), betas=(1.0,), years=(2040,))
    assert grid.attrs["model_sha256"] == model.sha256
    scenarios = load_scenarios(model)
    flip = {"Credibility gating": 0.0, "Spillover": 0.2, "Backfire strength": 1.0}
    runs = [{**scenarios[s].overrides, **flip} for s in ("functional-first", "military-first")]
    direct = simulate(model, runs, ["Regional security trust"])["Regional security trust"]
    expected = float(direct.isel(run=0).sel(time=2040) - direct.isel(run=1).sel(time=2040))
    cell = grid["Regional security trust"].sel(structure="cbm-credibility=region-wide")
    assert float(cell.sel(when="2040").squeeze()) == np.float64(expected)
    assert "| shipped | 2040 |" in markdown(grid)
