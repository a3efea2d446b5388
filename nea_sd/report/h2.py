"""H2 (MODEL.md §7): no sequencing works without US–China détente (the Four-Party-Talks claim)
— and how much this depends on θ_GP (the great-power gate strength).

The main ensemble (détente intensity drawn over its declared range) is paired with the same
draws at détente intensity 0. A strategy "works" in a draw when it ends above the status quo
of that draw on regional security trust in 2040. Per strategy: P(works) without and with
détente, the détente effect (with − without) and how it varies over θ_GP × détente intensity.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from nea_sd.report.core import Context, Section, decide
from nea_sd.report.shared import (
    DETENTE,
    at_when,
    frontier,
    gains_frame,
    main_ensemble,
    no_detente_ensemble,
    restricted,
)
from nea_sd.report.stats import mean_difference, p_greater

GATE = "Great power gate strength"
BASELINE = "status-quo"
CLAIM = (
    "No sequencing strategy works without US–China détente (MODEL.md §7 H2): without détente, "
    "no strategy ends above the status quo on regional security trust in 2040."
)
BINS = 3


def _bins(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Equal thirds of a gain's declared range: 0, 1, 2."""
    return np.clip(((values - low) / (high - low) * BINS).astype(int), 0, BINS - 1)


def h2_section(ctx: Context) -> Section:
    with_ = at_when(main_ensemble(ctx)["security_trust"].sel(structure="shipped"), "2040")
    ens0 = no_detente_ensemble(ctx)
    without = at_when(ens0["security_trust"].sel(structure="shipped"), "2040")
    strategies = [str(s) for s in with_["strategy"].values if s != BASELINE]
    stats: dict[str, list[float]] = {
        k: []
        for k in (
            "p_works_without",
            "p_works_without_low",
            "p_works_without_high",
            "p_works_with",
            "p_works_with_low",
            "p_works_with_high",
            "detente_effect",
            "detente_effect_low",
            "detente_effect_high",
            "gain_without",
            "gain_with",
        )
    }
    for s in strategies:
        a0, b0 = without.sel(strategy=s).values, without.sel(strategy=BASELINE).values
        a1, b1 = with_.sel(strategy=s).values, with_.sel(strategy=BASELINE).values
        w0, w1 = p_greater(a0, b0, seed=ctx.seed), p_greater(a1, b1, seed=ctx.seed)
        effect = mean_difference(a1, a0, seed=ctx.seed)
        values = (
            w0.value,
            w0.low,
            w0.high,
            w1.value,
            w1.low,
            w1.high,
            effect.value,
            effect.low,
            effect.high,
            float(np.nanmean(a0 - b0)),
            float(np.nanmean(a1 - b1)),
        )
        for key, value in zip(stats, values, strict=True):
            stats[key].append(value)
    numbers = xr.Dataset(
        {k: ("strategy", v) for k, v in stats.items()}, coords={"strategy": strategies}
    )
    # θ_GP × détente intensity: the mean détente effect per third of each range
    X = main_ensemble(ctx)["X"]
    gate = X.sel(gain=GATE).values
    intensity = X.sel(gain=DETENTE).values
    lo_g, hi_g = ctx.gains[GATE]
    lo_d, hi_d = ctx.gains[DETENTE]
    gb, db = _bins(gate, lo_g, hi_g), _bins(intensity, lo_d, hi_d)
    grid = np.full((len(strategies), BINS, BINS), np.nan)
    for i, s in enumerate(strategies):
        effect = with_.sel(strategy=s).values - without.sel(strategy=s).values
        for g in range(BINS):
            for d in range(BINS):
                cell = effect[(gb == g) & (db == d)]
                cell = cell[np.isfinite(cell)]
                if len(cell):
                    grid[i, g, d] = cell.mean()
    numbers["detente_effect_by_gate_intensity"] = (
        ("strategy", "gate_third", "intensity_third"),
        grid,
    )
    numbers = numbers.assign_coords(
        gate_third=[f"{lo_g + k * (hi_g - lo_g) / BINS:.3g}-" for k in range(BINS)],
        intensity_third=[f"{lo_d + k * (hi_d - lo_d) / BINS:.3g}-" for k in range(BINS)],
    )
    least = strategies[int(np.nanargmin(np.abs(numbers["detente_effect"].values)))]
    best = strategies[int(np.nanargmax(numbers["p_works_without"].values))]
    numbers["least_detente_dependent"] = ((), least)
    numbers["best_without_detente"] = ((), best)
    # the verdict: H2 holds where even the best strategy fails without détente, i.e. where
    # P(best strategy fails without détente) = 1 − P(works) lies above one half
    works = numbers.sel(strategy=best)
    fail_low, fail_high = (
        1 - float(works["p_works_without_high"]),
        1 - float(works["p_works_without_low"]),
    )
    a0, b0 = without.sel(strategy=best).values, without.sel(strategy=BASELINE).values
    keep = np.isfinite(a0) & np.isfinite(b0)
    edge = frontier(gains_frame(ens0, drop=(DETENTE,)).loc[keep], (a0 > b0)[keep])
    for name, value in edge.data_vars.items():
        numbers[name] = value
    numbers.attrs.update(edge.attrs)
    numbers["verdict_low"] = ((), fail_low)
    numbers["verdict_high"] = ((), fail_high)
    numbers.attrs["verdict_statistic"] = (
        f"1 - p_works_without[{best}] (the best strategy fails without détente)"
    )
    verdict = decide(
        fail_low,
        fail_high,
        frontier=restricted(edge),
        what=f"P({best}, the best strategy, fails without détente)",
    )
    return Section(
        "H2",
        "Détente: does any sequencing work without US–China détente?",
        CLAIM,
        verdict,
        numbers,
        _text(numbers, least, best),
        {"detente_effect": _figure(numbers)},
    )


def _text(numbers: xr.Dataset, least: str, best: str) -> str:
    lines = [
        "Per strategy (shipped structure, security trust 2040): P(above status quo) without "
        "détente / with détente drawn, and the détente effect (with − without), 95% intervals:"
    ]
    for s in numbers["strategy"].values:
        c = numbers.sel(strategy=s)
        lines.append(
            f"- {s}: {float(c['p_works_without']):.2f} "
            f"[{float(c['p_works_without_low']):.2f}, {float(c['p_works_without_high']):.2f}]"
            f" / {float(c['p_works_with']):.2f} "
            f"[{float(c['p_works_with_low']):.2f}, {float(c['p_works_with_high']):.2f}]; "
            f"détente effect {float(c['detente_effect']):+.3f} "
            f"[{float(c['detente_effect_low']):+.3f}, {float(c['detente_effect_high']):+.3f}]"
        )
    share = float(numbers["prim_target_share"])
    target = "fails" if numbers.attrs["prim_target"] == "losses" else "works"
    where = (
        f"{best} {target} without détente in {share:.0%} of draws; PRIM box around them: "
        f"{numbers.attrs['prim_box']}"
        if share > 0
        else f"{best} beats the status quo without détente in every draw (no frontier)"
    )
    lines.append(
        f"Least détente-dependent strategy: {least}; best without détente: {best}. {where}."
    )
    grid = numbers["detente_effect_by_gate_intensity"]
    lines.append(
        "Détente effect by θ_GP third (rows) × détente-intensity third (columns), "
        f"for {best}: "
        + "; ".join(
            "[" + ", ".join(f"{v:+.3f}" for v in row) + "]"
            for row in grid.sel(strategy=best).values
        )
    )
    return "\n".join(lines)


def _figure(numbers: xr.Dataset):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3))
    ax = figure.subplots()
    names = [str(s) for s in numbers["strategy"].values]
    effect = numbers["detente_effect"].values
    err = np.vstack(
        [effect - numbers["detente_effect_low"].values, numbers["detente_effect_high"] - effect]
    )
    ax.bar(names, effect, yerr=err, color="tab:blue")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("security trust 2040: with − without détente")
    ax.tick_params(axis="x", labelsize=7)
    figure.tight_layout()
    return figure
