"""What several report sections read: the paired ensembles (computed once per report and kept
in the context's cache), outcome values at the report's times, and the pairwise comparison
table every sequencing hypothesis uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.report.core import Context
from nea_sd.report.ensemble import (
    OUTCOMES,
    design,
    run_ensemble,
    strategies_of,
    structures_of,
)
from nea_sd.report.stats import p_greater, prim_box

YEARS = (2030.0, 2040.0, 2050.0)
PERIOD = (2026.0, 2050.0)
WHENS = ("2030", "2040", "2050", "mean 2026-2050")
HEADLINE = ("security_trust", "2040")  # MODEL.md §7 H1: regional security trust in 2040
DETENTE = "Detente intensity"


def _progress(ctx: Context, stage: str):  # type: ignore[no-untyped-def]
    return lambda done, total: ctx.progress(stage, done, total)


def main_ensemble(ctx: Context) -> xr.Dataset:
    """Every compared strategy × structure on the report's one design (cached)."""
    if "ensemble" not in ctx.cache:
        X = design(ctx.gains, ctx.samples, ctx.seed)
        ctx.cache["ensemble"] = run_ensemble(
            ctx.model,
            ctx.base,
            ctx.gains,
            X,
            strategies=strategies_of(ctx.model),
            structures=structures_of(ctx.model),
            per_draw=ctx.per_draw,
            workers=ctx.workers,
            scheduler=ctx.scheduler,
            progress=_progress(ctx, "ensemble"),
        )
    return ctx.cache["ensemble"]


def no_detente_ensemble(ctx: Context) -> xr.Dataset:
    """The same draws on the shipped structure with détente intensity 0 (cached)."""
    if "no_detente" not in ctx.cache:
        X = design(ctx.gains, ctx.samples, ctx.seed)
        ctx.cache["no_detente"] = run_ensemble(
            ctx.model,
            ctx.base,
            ctx.gains,
            X,
            strategies=strategies_of(ctx.model),
            structures={"shipped": {}},
            fixed={DETENTE: 0.0},
            per_draw=ctx.per_draw,
            workers=ctx.workers,
            scheduler=ctx.scheduler,
            progress=_progress(ctx, "no-detente ensemble"),
        )
    return ctx.cache["no_detente"]


def at_when(series: xr.DataArray, when: str) -> xr.DataArray:
    """The outcome at a year of :data:`WHENS`, or its mean over the period (trapezoid)."""
    if when.startswith("mean"):
        window = series.sel(time=slice(*PERIOD))
        span = PERIOD[1] - PERIOD[0]
        return window.integrate("time") / span
    return series.sel(time=float(when)).drop_vars("time")


def outcome_table(ds: xr.Dataset) -> xr.DataArray:
    """All outcomes at all report times: dims (outcome, when, draw, strategy, structure)."""
    per_outcome = [
        xr.concat([at_when(ds[o], w) for w in WHENS], dim="when").assign_coords(when=list(WHENS))
        for o in OUTCOMES
    ]
    return xr.concat(per_outcome, dim="outcome").assign_coords(outcome=list(OUTCOMES))


def better_sign(outcome: str) -> int:
    return OUTCOMES[outcome][1]


def pairwise(
    table: xr.DataArray, a: str, b: str, *, seed: int, structures: list[str] | None = None
) -> xr.Dataset:
    """P(a better than b) with bootstrap interval per (outcome, when, structure): ``p``,
    ``low``, ``high`` and ``n`` (pairs where neither run diverged). "Better" is higher trust
    and lower arms burden."""
    structures = structures or [str(s) for s in table["structure"].values]
    outcomes, whens = list(table["outcome"].values), list(table["when"].values)
    shape = (len(outcomes), len(whens), len(structures))
    out = {k: np.full(shape, np.nan) for k in ("p", "low", "high", "n")}
    for i, o in enumerate(outcomes):
        sign = better_sign(str(o))
        for j, w in enumerate(whens):
            for k, s in enumerate(structures):
                cell = table.sel(outcome=o, when=w, structure=s)
                va = cell.sel(strategy=a).values * sign
                vb = cell.sel(strategy=b).values * sign
                iv = p_greater(va, vb, seed=seed)
                for key, value in zip(out, (iv.value, iv.low, iv.high, iv.n), strict=True):
                    out[key][i, j, k] = value
    dims = ("outcome", "when", "structure")
    return xr.Dataset(
        {k: (dims, v) for k, v in out.items()},
        coords={"outcome": outcomes, "when": whens, "structure": structures},
    )


def gains_frame(ds: xr.Dataset, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """The drawn gains as a table (one row per draw), without ``drop``."""
    frame = ds["X"].to_pandas()
    frame.columns = [str(c) for c in frame.columns]
    return frame.drop(columns=[c for c in drop if c in frame.columns])


def frontier(frame: pd.DataFrame, wins: np.ndarray, *, threshold: float = 0.8) -> xr.Dataset:
    """The flip frontier: a PRIM box around the draws of the minority outcome (where ``wins``
    is mostly true, the region where it fails, and the other way round), as numbers: coverage,
    density, mass and the limits of each restricted gain (NaN where not restricted)."""
    wins = np.asarray(wins, dtype=bool)
    target = "losses" if wins.mean() > 0.5 else "wins"
    y = ~wins if target == "losses" else wins
    box = prim_box(frame, y, threshold=threshold)
    names = [str(c) for c in frame.columns]
    lower = np.full(len(names), np.nan)
    upper = np.full(len(names), np.nan)
    stats = dict.fromkeys(("coverage", "density", "mass"), np.nan)
    if box is not None:
        for name, (lo, hi) in box.limits.items():
            lower[names.index(name)], upper[names.index(name)] = lo, hi
        stats = {"coverage": box.coverage, "density": box.density, "mass": box.mass}
    ds = xr.Dataset(
        {
            "prim_lower": ("gain", lower),
            "prim_upper": ("gain", upper),
            **{f"prim_{k}": ((), v) for k, v in stats.items()},
            "prim_target_share": ((), float(y.mean())),
        },
        coords={"gain": names},
    )
    ds.attrs["prim_target"] = target
    ds.attrs["prim_box"] = box.describe() if box is not None else "no box reaches the density"
    ds.attrs["prim_restricted"] = ", ".join(box.restricted) if box is not None else ""
    return ds


def restricted(ds: xr.Dataset) -> tuple[str, ...]:
    """The gains a frontier dataset restricts."""
    text = str(ds.attrs.get("prim_restricted", ""))
    return tuple(t for t in text.split(", ") if t)


def figure_png(figure) -> bytes:  # type: ignore[no-untyped-def]
    """A matplotlib figure as PNG bytes."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()
