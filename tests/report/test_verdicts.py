"""Verdicts follow from the numbers: H1, H2 and H7 on hand-made paired result sets whose
answer is known (one strategy ahead in every draw, behind in every draw, or ahead exactly
where a named gain is high), and core.decide on its own."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nea_sd.report.core import Context, decide
from nea_sd.report.h1 import h1_section
from nea_sd.report.h2 import h2_section
from nea_sd.report.h7 import h7_section

STRATEGIES = ["status-quo", "functional-first", "military-first", "simultaneous", "trust-gated"]
GAINS = {
    "Spillover": (0.0, 0.6),
    "Backfire strength": (0.0, 2.0),
    "Great power gate strength": (0.0, 1.0),
    "Detente intensity": (0.0, 2.0),
}
N = 300


def _ensemble(levels: dict[str, np.ndarray], X: np.ndarray) -> xr.Dataset:
    """A result set: each strategy's level per draw, constant in time, same for every outcome
    (arms burden mirrored, so that "better" agrees)."""
    time = np.arange(2026.0, 2051.0)
    values = np.stack([levels[s] for s in STRATEGIES], axis=1)  # (draw, strategy)
    cube = np.repeat(values[:, :, None, None], 2, axis=2) * np.ones(len(time))
    dims = ("draw", "strategy", "structure", "time")
    return xr.Dataset(
        {
            "security_trust": (dims, cube),
            "min_security_trust": (dims, cube),
            "arms_burden": (dims, 1 - cube),
            "X": (("draw", "gain"), X),
        },
        coords={
            "draw": np.arange(N),
            "strategy": STRATEGIES,
            "structure": ["shipped", "other"],
            "time": time,
            "gain": list(GAINS),
        },
    )


def _sobol() -> xr.Dataset:
    values = np.zeros((1, len(GAINS), 2))
    coords = {"sobol_output": ["security_trust_2040"], "gain": list(GAINS), "index": ["S1", "ST"]}
    ds = xr.Dataset(
        {
            "sobol_index": (("sobol_output", "gain", "index"), values),
            "sobol_conf": (("sobol_output", "gain", "index"), values),
        },
        coords=coords,
    )
    ds.attrs["sobol_base_samples"] = 8
    return ds


def _context(main: xr.Dataset, no_detente: xr.Dataset | None = None) -> Context:
    ctx = Context(None, {}, "hand-made", GAINS, N, 0)  # type: ignore[arg-type]
    ctx.cache.update(ensemble=main, no_detente=no_detente or main, sobol_ff_mf=_sobol())
    return ctx


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    lows = np.array([lo for lo, _ in GAINS.values()])
    highs = np.array([hi for _, hi in GAINS.values()])
    return lows + rng.uniform(size=(N, len(GAINS))) * (highs - lows)


def _levels(X: np.ndarray, **shift: np.ndarray | float) -> dict[str, np.ndarray]:
    noise = np.random.default_rng(1).normal(0, 0.05, size=N)
    base = 0.5 + noise
    return {s: base + np.broadcast_to(shift.get(s.replace("-", "_"), 0.0), N) for s in STRATEGIES}


def test_h1_supported_when_functional_first_leads_in_every_draw(X) -> None:
    section = h1_section(_context(_ensemble(_levels(X, functional_first=0.1), X)))
    assert section.verdict.label == "supported"
    assert float(section.numbers["verdict_low"]) > 0.5


def test_h1_rejected_when_functional_first_trails_in_every_draw(X) -> None:
    section = h1_section(_context(_ensemble(_levels(X, functional_first=-0.1), X)))
    assert section.verdict.label == "rejected"
    assert float(section.numbers["verdict_high"]) < 0.5


def test_h1_depends_on_the_gain_that_splits_the_draws(X) -> None:
    # functional-first ahead exactly where spillover exceeds 0.3: half the draws
    split = np.where(X[:, 0] > 0.3, 0.1, -0.1)
    section = h1_section(_context(_ensemble(_levels(X, functional_first=split), X)))
    assert section.verdict.label == "depends"
    assert "Spillover" in section.verdict.depends_on
    low, high = (
        section.numbers["prim_lower"].sel(gain="Spillover"),
        section.numbers["prim_upper"].sel(gain="Spillover"),
    )
    assert abs(float(high if np.isfinite(high) else low) - 0.3) < 0.05


def test_h2_rejected_when_strategies_beat_the_status_quo_without_detente(X) -> None:
    levels = _levels(X, functional_first=0.1, military_first=0.1, trust_gated=0.1)
    main = _ensemble(levels, X)
    section = h2_section(_context(main, main))
    assert section.verdict.label == "rejected"  # they work without détente
    assert section.numbers["detente_effect"].sel(strategy="functional-first") == 0


def test_h2_supported_when_every_strategy_needs_detente(X) -> None:
    main = _ensemble(_levels(X, functional_first=0.1, military_first=0.1), X)
    without = _ensemble(
        _levels(X, functional_first=-0.1, military_first=-0.1, simultaneous=-0.1, trust_gated=-0.1),
        X,
    )
    section = h2_section(_context(main, without))
    assert section.verdict.label == "supported"
    effect = section.numbers["detente_effect"].sel(strategy="functional-first")
    assert float(effect) == pytest.approx(0.2)


def test_h7_rejected_when_one_calendar_beats_trust_gated(X) -> None:
    section = h7_section(_context(_ensemble(_levels(X, trust_gated=0.1, simultaneous=0.2), X)))
    assert section.verdict.label == "rejected"
    assert section.numbers["strongest_calendar"].item() == "simultaneous"


def test_h7_supported_when_trust_gated_beats_every_calendar(X) -> None:
    section = h7_section(_context(_ensemble(_levels(X, trust_gated=0.1), X)))
    assert section.verdict.label == "supported"


def test_decide_names_the_frontier_only_when_it_depends() -> None:
    assert decide(0.6, 0.9).label == "supported"
    assert decide(0.1, 0.4).label == "rejected"
    verdict = decide(0.4, 0.6, frontier=("Spillover",))
    assert verdict.label == "depends" and verdict.depends_on == ("Spillover",)


def test_h1_tells_where_in_sigma_and_beta_functional_first_leads(X) -> None:
    # ahead exactly where backfire is strong (β_bf > 4/3: the top third of its range)
    split = np.where(X[:, 1] > 4 / 3, 0.1, -0.1)
    section = h1_section(_context(_ensemble(_levels(X, functional_first=split), X)))
    share = section.numbers["share_ff_ahead_sigma_beta"]
    np.testing.assert_array_equal(share.isel(beta_third=2).values, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(share.isel(beta_third=[0, 1]).values, np.zeros((3, 2)))
    assert int(section.numbers["draws_sigma_beta"].sum()) == N
