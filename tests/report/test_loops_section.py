"""The feedback-loop section: its numbers agree with the loop analysis run directly on the same
draws, and its verdict follows from the numbers (pinned on hand-made result sets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.loops import analyze
from nea_sd.loops.dominance import fixed_loopset
from nea_sd.model import load_model
from nea_sd.report.core import Context
from nea_sd.report.loops import (
    FIRST,
    MATERIAL,
    SCORED_EVERY,
    SECOND,
    START,
    loops_section,
    verdict_from,
)
from nea_sd.report.sectionkit import compose, diverged_note, draws, resolved_sets
from nea_sd.scenarios import load_scenarios

MODELS = Path(__file__).resolve().parents[2] / "models"
GAINS = {"Spillover": (0.0, 0.6), "Backfire strength": (0.0, 2.0)}


@pytest.fixture(scope="module")
def dyad_ctx():
    model = load_model(MODELS / "dyad.mdl")
    return Context(model, {}, "model defaults", GAINS, samples=4, seed=3)


@pytest.fixture(scope="module")
def section(dyad_ctx):
    return loops_section(dyad_ctx)


def test_shares_agree_with_the_loop_analysis_on_the_same_draws(dyad_ctx, section):
    scenarios = load_scenarios(dyad_ctx.model)
    # the loop set is the one `nea-sd loops` finds for the base under functional-first
    pilot = dyad_ctx.model.parameters.resolve(dict(scenarios[FIRST].overrides))
    loopset = fixed_loopset(dyad_ctx.model.path, pilot)  # (cached: found once per session)
    sets = [compose(dyad_ctx, s, scenarios[SECOND].overrides) for s in draws(dyad_ctx)]
    params = resolved_sets(dyad_ctx, sets)
    direct = analyze(
        dyad_ctx.model, params, len(sets), loopset=loopset, workers=1, saveper=SCORED_EVERY
    )
    named = abs(direct.data["named"]).sel(time=slice(START, None)).mean("time")
    for loop in ("R3", "R1[A]", "B1[B]"):
        got = section.numbers["loop_share"].sel(strategy=SECOND, loop_name=loop, stat="mean")
        assert float(got) == pytest.approx(float(named.sel(name=loop).mean()), rel=1e-9)


def test_differences_are_paired_and_every_number_is_labelled(section):
    n = section.numbers
    share = n["loop_share"].sel(stat="mean")
    diff = n["share_difference"].sel(versus=SECOND, stat="mean")
    np.testing.assert_allclose(diff, share.sel(strategy=FIRST) - share.sel(strategy=SECOND))
    low, mean, high = (n["trust_share_difference"].sel(versus=SECOND, stat=s) for s in STATS)
    assert low <= mean <= high
    assert set(n["strategy"].values) == {FIRST, SECOND, "simultaneous", "trust-gated"}
    assert {"p_trust_overtakes", "dominant_fraction"} <= set(n.data_vars)
    assert "sobol_index" not in n and "Sobol indices of FF − MF not computed" in section.text
    assert section.verdict == verdict_from(n)
    assert f"{float(low):.3f}" in section.verdict.reason
    assert set(section.figures) == {"loops_trust_vs_spirals", "loops_difference_ff_mf"}
    assert "Diverged runs" in section.text


STATS = ("low", "mean", "high")


def _numbers(low: float, high: float) -> xr.Dataset:
    return xr.Dataset(
        {
            "trust_share_difference": (("versus", "stat"), [[(low + high) / 2, low, high]]),
            "sobol_index": (
                ("sobol_output", "sobol_parameter", "sobol_kind"),
                [[[0.1, 0.05], [0.7, 0.5], [0.3, 0.2]]],
            ),
        },
        coords={
            "versus": [SECOND],
            "stat": ["mean", "low", "high"],
            "sobol_output": ["trust_share"],
            "sobol_parameter": ["Spillover", "Backfire strength", "Memory time"],
            "sobol_kind": ["ST", "S1"],
        },
    )


@pytest.mark.parametrize(
    ("low", "high", "label"),
    [
        (MATERIAL + 0.01, MATERIAL + 0.05, "supported"),
        (-0.02, MATERIAL / 2, "rejected"),  # a change, but smaller than material
        (-0.01, MATERIAL * 3, "depends"),
    ],
)
def test_verdict_pinned(low, high, label):
    verdict = verdict_from(_numbers(low, high))
    assert verdict.label == label
    if label == "depends":
        assert verdict.depends_on == ("Backfire strength", "Memory time", "Spillover")


def test_diverged_runs_are_named_per_variant():
    flags = xr.DataArray(
        [[False, True, False], [False, False, False]],
        dims=("variant", "draw"),
        coords={"variant": ["functional-first", "military-first"]},
    )
    assert diverged_note(flags) == "functional-first: draws 1"


@pytest.mark.slow
def test_sobol_of_the_difference_on_the_report_base(dyad_ctx, tmp_path):
    from dataclasses import replace

    from nea_sd.report.loops import SOBOL_FROM, _sobol, _strategies

    ctx = replace(dyad_ctx, samples=SOBOL_FROM)
    indices = _sobol(ctx, _strategies(ctx))
    assert set(indices["sobol_parameter"].values) == set(GAINS)
    assert set(indices["sobol_output"].values) == {"trust_share", "overtake_year"}
    assert np.isfinite(indices["sobol_index"].sel(sobol_output="trust_share")).all()
    indices.to_netcdf(tmp_path / "sobol.nc")  # the report writes every number


def test_ensemble_indices_name_the_frontier_first():
    from nea_sd.report.loops import ensemble_indices

    rng = np.random.default_rng(0)
    gains = rng.uniform(size=(256, 2)) * [0.6, 2.0]
    ctx = Context(None, {}, "", GAINS, samples=256, seed=0)  # type: ignore[arg-type]
    y = xr.DataArray(3 * gains[:, 1] + 0.1 * gains[:, 0] ** 2, dims="run")  # backfire decides
    s1 = ensemble_indices(gains, ctx, y)["ensemble_s1"].sel(ensemble_kind="S1")
    assert float(s1.sel(ensemble_parameter="Backfire strength")) > 0.9
    numbers = _numbers(-0.01, MATERIAL * 3).merge(ensemble_indices(gains, ctx, y))
    assert verdict_from(numbers).depends_on[0] == "Backfire strength"


def test_numbers_write_to_netcdf(section, tmp_path):
    section.numbers.to_netcdf(tmp_path / "loops.nc")


def test_sobol_sentence_says_when_no_index_is_resolved():
    from nea_sd.report.loops import sobol_sentence

    def numbers(conf: list[float]) -> xr.Dataset:
        ds = _numbers(0.0, 0.0)
        ds["sobol_conf"] = ds["sobol_index"].copy(
            data=np.array([[[c, c] for c in conf]], dtype=float)
        )
        return ds

    noisy = sobol_sentence(numbers([0.2, 0.9, 0.4]))  # every ST (0.1, 0.7, 0.3) <= its half-width
    assert "none resolved at this N" in noisy and "Backfire strength 0.70 ± 0.90" in noisy
    sharp = sobol_sentence(numbers([0.2, 0.1, 0.4]))
    assert sharp.endswith("; resolved (interval above 0) for Backfire strength.")
