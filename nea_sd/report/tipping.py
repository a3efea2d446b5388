"""H3: is there a trust tipping point — two basins of attraction, with hysteresis?

Basins: every dyad's initial security trust set to each value of a grid, on the first
:data:`BASIN_DRAWS` common draws; each run is continued from its own end state (security and
societal trust, military expenditure) for :data:`PASSES` passes of the model's horizon
("running long": the horizon is fixed by the model), and the end regional security trust is
where the system settles. A draw has two basins when the map initial → end trust jumps: one
grid step carries at least :data:`JUMP` of trust and at least half of the map's whole spread
(a smooth slope spreads its change over many steps). Hysteresis: at the base, a parameter is
swept up then down, each run starting from the previous run's end state; the widest gap
between the two branches is the hysteresis width. Where no draw jumps, the system has a single
attractor and the section says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from nea_sd.engine import simulate
from nea_sd.outcomes import vocabulary_for
from nea_sd.report.core import Context, Section, Verdict, decide
from nea_sd.report.sectionkit import STAT, compose, draws, figure, interval_array

GRID = tuple(float(v) for v in np.linspace(0.05, 0.95, 7))
PASSES = 2
BASIN_DRAWS = 100  # basins on the first draws of the common ensemble (grid x passes per draw)
JUMP = 0.1  # trust units: a jump of the end state this large between neighbouring starts
STRATEGIES = ("status-quo", "functional-first")
VERDICT_STRATEGY = "functional-first"  # H3: the spiral eroding functional cooperation
STEPS = 9
STATE = {  # stock -> the constant that sets its initial value
    "Security trust": "Initial security trust",
    "Societal trust": "Initial societal trust",
    "Military expenditure": "Initial military expenditure",
}
SWEEPS = {  # continuation parameter -> (low, high); "scale" multiplies the base array
    "Backfire strength": (0.0, 2.0),
    "Spillover": (0.0, 0.6),
    "Defence reaction": (0.25, 2.0),
}


def _settle(
    ctx: Context, sets: Sequence[Mapping[str, Any]], passes: int = PASSES
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """End regional security trust after ``passes`` chained passes, diverged flags, end states."""
    trust = vocabulary_for(ctx.model).security_trust
    current = [dict(s) for s in sets]
    diverged = np.zeros(len(current), dtype=bool)
    end = np.full(len(current), np.nan)
    for _ in range(passes):
        result = simulate(
            ctx.model,
            current,
            [trust, *STATE],
            nonfinite="nan",
            allow_out_of_range=True,  # end states (e.g. 2050 spending) may leave 2000's ranges
        )
        diverged |= result["diverged"].values
        last = result.isel(time=-1)
        end = last[trust].values
        for stock, constant in STATE.items():
            values = np.asarray(last[stock].transpose("run", ...).values, dtype=float)
            for run, value in zip(current, values, strict=True):
                if np.isfinite(value).all():
                    run[constant] = value
    return np.where(diverged, np.nan, end), diverged, current


def bistable(end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of end states over the grid: two basins (a concentrated jump) and where the
    jump lies (the midpoint of the grid interval, NaN without one)."""
    end = np.atleast_2d(end)
    steps = np.abs(np.diff(end, axis=1))
    spread = np.nanmax(end, axis=1) - np.nanmin(end, axis=1)
    jump = np.nanmax(steps, axis=1)
    found = (jump >= JUMP) & (jump >= 0.5 * spread) & np.isfinite(jump)
    grid = np.asarray(GRID)
    at = np.nanargmax(np.nan_to_num(steps, nan=-1), axis=1)
    where = np.where(found, (grid[at] + grid[at + 1]) / 2, np.nan)
    return found, where


def _basins(ctx: Context, strategies: dict[str, dict[str, Any]]) -> xr.Dataset:
    sets = draws(ctx)[:BASIN_DRAWS]
    ends, flags = [], []
    for done, overrides in enumerate(strategies.values()):
        ctx.progress("H3: basins", done, len(strategies))
        runs = [
            compose(ctx, s, overrides, {"Initial security trust": t0}) for s in sets for t0 in GRID
        ]
        end, diverged, _ = _settle(ctx, runs)
        ends.append(end.reshape(len(sets), len(GRID)))
        flags.append(diverged.reshape(len(sets), len(GRID)))
    ctx.progress("H3: basins", len(strategies), len(strategies))
    return xr.Dataset(
        {
            "basin_end": (("strategy", "draw", "initial_trust"), np.array(ends)),
            "diverged": (("strategy", "draw", "initial_trust"), np.array(flags)),
        },
        coords={"strategy": list(strategies), "initial_trust": list(GRID)},
    )


def _sweep_value(ctx: Context, name: str, value: float) -> Any:
    """The setting of ``name`` at sweep value ``value`` (a factor on the base array for the
    subscripted defence reaction, clipped to its declared [0, 2])."""
    if name != "Defence reaction":
        return value
    resolved = ctx.model.parameters.resolve(dict(ctx.base))
    base_array = np.asarray(resolved.get(name, ctx.model.parameters[name].value), dtype=float)
    return np.clip(value * base_array, 0, 2)


def _continuations(
    ctx: Context, strategies: Mapping[str, Mapping[str, Any]], sweeps: Sequence[str], steps: int
) -> np.ndarray:
    """End trust (parameter, strategy, direction up/down, step): each chain sweeps its
    parameter up then down, every run starting from the chain's previous end state. The chains
    are independent, so each step runs all of them in one batch."""
    chains = [(name, strategy) for name in sweeps for strategy in strategies]
    runs: list[dict[str, Any]] = [{**ctx.base, **strategies[s]} for _, s in chains]
    out = np.full((len(sweeps), len(strategies), 2, steps), np.nan)
    for direction, order in enumerate((range(steps), range(steps - 1, -1, -1))):
        for done, k in enumerate(order):
            ctx.progress("H3: continuation", direction * steps + done, 2 * steps)
            batch = [
                {**run, name: _sweep_value(ctx, name, np.linspace(*SWEEPS[name], steps)[k])}
                for run, (name, _) in zip(runs, chains, strict=True)
            ]
            end, _, states = _settle(ctx, batch, passes=1)
            out[:, :, direction, k] = end.reshape(len(sweeps), len(strategies))
            runs = [
                {key: v for key, v in state.items() if key != name}
                for state, (name, _) in zip(states, chains, strict=True)
            ]
    ctx.progress("H3: continuation", 2 * steps, 2 * steps)
    return out


def continuation_steps(samples: int) -> int:
    """Steps of each continuation sweep: :data:`STEPS`, fewer for a small (test) ensemble (the
    sweep runs one model run after another: it cannot be batched)."""
    return min(STEPS, max(3, samples // 10))


def compute(
    ctx: Context, sweeps: Sequence[str] = tuple(SWEEPS), steps: int | None = None
) -> xr.Dataset:
    """Every number of H3, labelled (see the module doc); ``sweeps`` and ``steps`` choose the
    continuation (default: every sweep, :func:`continuation_steps` of the ensemble size)."""
    steps = continuation_steps(ctx.samples) if steps is None else steps
    from nea_sd.scenarios import load_scenarios

    known = load_scenarios(ctx.model)
    strategies = {s: dict(known[s].overrides) for s in STRATEGIES if s in known}
    ds = _basins(ctx, strategies)
    found, where = [], []
    for s in strategies:
        f, w = bistable(ds["basin_end"].sel(strategy=s).values)
        f = np.where(np.isnan(ds["basin_end"].sel(strategy=s).values).any(axis=1), np.nan, f)
        found.append(f)
        where.append(w)
    ds["two_basins"] = (("strategy", "draw"), np.array(found))
    ds["tipping_point"] = (("strategy", "draw"), np.array(where))
    ds["p_two_basins"] = (
        ("strategy", "stat"),
        np.array([interval_array(f, ctx.seed) for f in found]),
    )
    ds["spread"] = ds["basin_end"].max("initial_trust") - ds["basin_end"].min("initial_trust")
    curves = _continuations(ctx, strategies, list(sweeps), steps)
    ds["continuation"] = (
        ("parameter", "strategy", "direction", "step"),
        curves,
    )
    ds = ds.assign_coords(direction=["up", "down"])
    ds["hysteresis_width"] = abs(
        ds["continuation"].sel(direction="up") - ds["continuation"].sel(direction="down")
    ).max("step")
    ds = ds.assign_coords(
        stat=list(STAT),
        parameter=list(sweeps),
        sweep_value=(("parameter", "step"), [np.linspace(*SWEEPS[p], steps) for p in sweeps]),
    )
    ds["gain_draw"] = (("draw", "gain"), _gain_matrix(ctx))
    ds = ds.assign_coords(gain=list(ctx.gains))
    ds.attrs.update(
        jump=JUMP,
        passes=PASSES,
        draws=min(ctx.samples, BASIN_DRAWS),
        seed=ctx.seed,
        verdict_strategy=VERDICT_STRATEGY,
        continuation_steps=steps,
        sweep_note="Defence reaction is swept as a factor on the base array (clipped to [0, 2])",
    )
    return ds


def _gain_matrix(ctx: Context) -> np.ndarray:
    sets = draws(ctx)[:BASIN_DRAWS]
    return np.array([[float(s[g]) for g in ctx.gains] for s in sets]).reshape(len(sets), -1)


def frontier(numbers: xr.Dataset, strategy: str) -> tuple[str, ...]:
    """Gains ranked by how strongly they separate two-basin from one-basin draws (|corr|)."""
    flags = numbers["two_basins"].sel(strategy=strategy).values
    ok = np.isfinite(flags)
    if numbers.sizes.get("gain", 0) == 0 or ok.sum() < 3 or np.nanstd(flags[ok]) == 0:
        return ()
    scores = []
    for g in numbers["gain"].values:
        x = numbers["gain_draw"].sel(gain=g).values[ok]
        scores.append(abs(np.corrcoef(x, flags[ok])[0, 1]) if np.std(x) > 0 else 0.0)
    order = np.argsort(scores)[::-1][:3]
    return tuple(str(numbers["gain"].values[i]) for i in order)


def verdict_from(numbers: xr.Dataset) -> Verdict:
    """From P(two basins) under :data:`VERDICT_STRATEGY`: supported when its interval lies above
    1/2, rejected below (then the prose says: a single attractor in most draws)."""
    s = numbers.attrs.get("verdict_strategy", VERDICT_STRATEGY)
    low, high = numbers["p_two_basins"].sel(strategy=s, stat=["low", "high"]).values
    return decide(
        float(low), float(high), frontier=frontier(numbers, s), what=f"P(two basins | {s})"
    )


def _text(numbers: xr.Dataset) -> str:
    lines = [
        f"Initial security trust on a grid {GRID[0]:g}..{GRID[-1]:g} ({len(GRID)} values), "
        f"{numbers.attrs['draws']} common draws, {PASSES} chained passes of the horizon; a jump "
        f"of at least {JUMP:g} in the end trust between neighbouring starts marks two basins."
    ]
    for s in numbers["strategy"].values:
        p = numbers["p_two_basins"].sel(strategy=s).values
        spread = float(numbers["spread"].sel(strategy=s).median())
        tip = numbers["tipping_point"].sel(strategy=s).values
        where = f"; median tipping point {np.nanmedian(tip):.2f}" if np.isfinite(tip).any() else ""
        single = " — a single attractor in every draw" if p[0] == 0 else ""
        lines.append(
            f"- {s}: two basins in {p[0]:.0%} of draws [{p[1]:.0%}, {p[2]:.0%}]{single}; "
            f"median spread of end trust over the grid {spread:.3f}{where}."
        )
    widths = numbers["hysteresis_width"]
    for s in numbers["strategy"].values:
        shown = ", ".join(
            f"{p} {float(widths.sel(parameter=p, strategy=s)):.3f}" for p in widths.parameter.values
        )
        lines.append(f"- hysteresis width at the base ({s}): {shown}.")
    bad = int(numbers["diverged"].sum())
    lines.append(f"Diverged runs (left out): {bad}.")
    return "\n".join(lines)


def _figures(numbers: xr.Dataset) -> dict[str, Any]:
    basin = figure(7, 3.4)
    axes = basin.subplots(1, numbers.sizes["strategy"], sharey=True, squeeze=False)[0]
    for ax, s in zip(axes, numbers["strategy"].values, strict=True):
        end = numbers["basin_end"].sel(strategy=s)
        ax.fill_between(
            end["initial_trust"], end.quantile(0.05, "draw"), end.quantile(0.95, "draw"), alpha=0.3
        )
        ax.plot(end["initial_trust"], end.median("draw"))
        ax.set_title(str(s), fontsize=9)
        ax.set_xlabel("initial security trust")
    axes[0].set_ylabel("settled regional security trust")
    bif = figure(8, 3.2)
    axes = bif.subplots(1, numbers.sizes["parameter"], sharey=True, squeeze=False)[0]
    for ax, p in zip(axes, numbers["parameter"].values, strict=True):
        x = numbers["sweep_value"].sel(parameter=p)
        for s in numbers["strategy"].values:
            c = numbers["continuation"].sel(parameter=p, strategy=s)
            line = ax.plot(x, c.sel(direction="up"), label=f"{s} up")[0]
            ax.plot(x, c.sel(direction="down"), "--", color=line.get_color(), label=f"{s} down")
        ax.set_xlabel(str(p) + (" (x base)" if p == "Defence reaction" else ""))
    axes[0].set_ylabel("end regional security trust")
    axes[0].legend(fontsize=6)
    return {"h3_basins": basin, "h3_bifurcation": bif}


def h3_section(ctx: Context) -> Section:
    """H3: basins of attraction over initial trust and hysteresis under continuation."""
    numbers = compute(ctx)
    return Section(
        key="H3",
        title="Tipping point: basins of attraction and hysteresis",
        claim=(
            "A trust tipping point exists: below it the arms spiral erodes functional "
            "cooperation (two basins of attraction, hysteresis)"
        ),
        verdict=verdict_from(numbers),
        numbers=numbers,
        text=_text(numbers),
        figures=_figures(numbers),
    )
