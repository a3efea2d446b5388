"""Shared tools of the loops, H3, H4, H5, H6 and H8 sections: common draws, paired runs,
bootstrap intervals and the diverged-run bookkeeping.

Every section draws its ensemble from ``ctx`` alone: ``ctx.samples`` Latin-hypercube draws of
``ctx.gains`` seeded by ``ctx.seed`` (the same draws for every strategy and section: common
random numbers) on top of ``ctx.base`` (see :func:`compose` for the order). Diverged runs are
listed per run and variant and left out of every statistic, never folded in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import qmc

from nea_sd.engine import simulate
from nea_sd.report.core import Context
from nea_sd.report.ensemble import backend_for

LEVEL = 0.95
RESAMPLES = 2000


def draws(ctx: Context) -> list[dict[str, Any]]:
    """``ctx.samples`` drawn parameter sets: the gains over their ranges (Latin hypercube seeded
    by ``ctx.seed``) and, where the base is a posterior, each draw's own values (``per_draw``)."""
    names = list(ctx.gains)
    per_draw = dict(getattr(ctx, "per_draw", {}) or {})
    out: list[dict[str, Any]] = [
        {k: float(np.asarray(v)[i]) for k, v in per_draw.items()} for i in range(ctx.samples)
    ]
    if names:
        unit = qmc.LatinHypercube(d=len(names), seed=np.random.default_rng(ctx.seed))
        low = np.array([ctx.gains[n][0] for n in names])
        high = np.array([ctx.gains[n][1] for n in names])
        values = qmc.scale(unit.random(ctx.samples), low, high)
        for row, drawn in zip(values, out, strict=True):
            drawn.update(zip(names, map(float, row), strict=True))
    return out


def compose(
    ctx: Context,
    drawn: Mapping[str, Any],
    strategy: Mapping[str, Any],
    experiment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One run's overrides: the base, then the strategy, then the drawn values (a drawn
    scenario axis such as the détente intensity replaces the scenario file's common value),
    then the experiment's own settings (a switch an experiment turns off stays off)."""
    return {**ctx.base, **strategy, **drawn, **(experiment or {})}


Variants = Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]]


def run_variants(
    ctx: Context,
    variants: Variants,
    outputs: Sequence[str],
    stage: str,
    sets: Sequence[Mapping[str, Any]] | None = None,
) -> xr.Dataset:
    """Each variant (strategy overrides, experiment overrides) on every draw (or on ``sets``);
    dims (variant, draw, time, ...). A diverged run is NaN in every output and ``True`` in
    ``diverged`` (variant, draw)."""
    sets = list(sets) if sets is not None else draws(ctx)
    runs = [
        compose(ctx, s, strategy, experiment)
        for strategy, experiment in variants.values()
        for s in sets
    ]
    ctx.progress(stage, 0, len(variants))
    # one call for every variant: the compiled backend pays off from a few thousand runs
    result = simulate(
        ctx.model, runs, list(outputs), nonfinite="nan", backend=backend_for(len(runs))
    )
    ctx.progress(stage, len(variants), len(variants))
    result = result.drop_vars([c for c in result.coords if c not in ("time",)])[
        [*outputs, "diverged"]
    ]
    shape = {"variant": list(variants), "draw": np.arange(len(sets))}
    index = xr.Coordinates.from_pandas_multiindex(
        pd.MultiIndex.from_product(shape.values(), names=list(shape)), "run"
    )
    unstacked = result.assign_coords(index).unstack("run")  # (unstack sorts the labels)
    return unstacked.sel(variant=list(variants)).transpose("variant", "draw", ...)


def diverged_note(diverged: xr.DataArray) -> str:
    """'none', or the diverged runs per variant ("military-first: draws 3, 17")."""
    rows = []
    for variant in diverged["variant"].values:
        bad = np.flatnonzero(diverged.sel(variant=variant).values)
        if len(bad):
            rows.append(f"{variant}: draws {', '.join(str(int(b)) for b in bad)}")
    return "; ".join(rows) if rows else "none"


def diverged_json(diverged: xr.DataArray) -> str:
    """The diverged runs as JSON (variant -> draw numbers), for the numbers' attributes."""
    return json.dumps(
        {
            str(v): [int(b) for b in np.flatnonzero(diverged.sel(variant=v).values)]
            for v in diverged["variant"].values
        }
    )


def mean_interval(values: np.ndarray, seed: int) -> tuple[float, float, float]:
    """Mean of the finite values and its percentile-bootstrap 95% interval."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (np.nan, np.nan, np.nan)
    if len(x) == 1:
        return (float(x[0]),) * 3
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(RESAMPLES, len(x)))].mean(axis=1)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(x.mean()), float(low), float(high)


def share_interval(flags: np.ndarray, seed: int) -> tuple[float, float, float]:
    """Share of true flags (NaN entries left out) with its bootstrap 95% interval."""
    return mean_interval(np.asarray(flags, dtype=float), seed)


def interval_array(values: np.ndarray, seed: int) -> np.ndarray:
    """[mean, low, high] (see :func:`mean_interval`) as an array, for a ``stat`` dimension."""
    return np.array(mean_interval(values, seed))


STAT = ("mean", "low", "high")


def resolved_sets(ctx: Context, sets: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Batch-engine parameter arrays (run, ...) of override sets (all with the same keys)."""
    resolved = [ctx.model.parameters.resolve(dict(s)) for s in sets]
    keys = list(resolved[0])
    return {k: np.stack([np.asarray(r[k], dtype=float) for r in resolved]) for k in keys}


def figure(width: float = 6.0, height: float = 3.6) -> Any:
    """A matplotlib Figure (no pyplot global state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")
