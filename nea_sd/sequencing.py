"""Functional-first minus military-first over a (spillover, backfire) grid, per structure.

For the shipped structure, each structural switch flipped (``models/structures.toml``) and all
flipped together, the difference FF - MF in regional security trust and in the lowest salient
dyad's trust at given years and as the mean over a period: the table the README reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from nea_sd.engine import simulate
from nea_sd.model import Model
from nea_sd.provenance import provenance_attrs
from nea_sd.scenarios import load_scenarios
from nea_sd.structures import load_structures, variants

OUTCOMES = ("Regional security trust", "Minimum salient security trust")
SIGMAS = (0.0, 0.1, 0.2, 0.4, 0.6)
BETAS = (0.0, 0.5, 1.0, 1.5, 2.0)


def switch_grid(
    model: Model,
    sigmas: Sequence[float] = SIGMAS,
    betas: Sequence[float] = BETAS,
    years: Sequence[float] = (2030, 2040, 2050),
    period: tuple[float, float] = (2026, 2050),
    *,
    base: Mapping[str, float] | None = None,
) -> xr.Dataset:
    """FF - MF per outcome with dims (structure, sigma, beta, when); ``when`` holds the years
    and ``"mean"`` for the period mean. ``base``: parameter values under every run (e.g. the
    calibrated base of :func:`nea_sd.compare.base_parameters`); the model defaults if None."""
    scenarios = load_scenarios(model)
    ff, mf = scenarios["functional-first"].overrides, scenarios["military-first"].overrides
    labels, runs = [], []
    for label, overrides in variants(load_structures(model)):
        labels.append(label)
        for sigma in sigmas:
            for beta in betas:
                cell = {**overrides, "Spillover": sigma, "Backfire strength": beta}
                runs += [{**(base or {}), **ff, **cell}, {**(base or {}), **mf, **cell}]
    result = simulate(model, runs, list(OUTCOMES))
    shape = (len(labels), len(sigmas), len(betas), 2)
    out = {}
    for name in OUTCOMES:
        series = result[name]
        points = [series.sel(time=y).values for y in years]
        mean = series.sel(time=slice(*period)).mean("time").values
        values = np.stack([*points, mean], axis=-1).reshape(*shape, len(years) + 1)
        out[name] = (("structure", "sigma", "beta", "when"), values[..., 0, :] - values[..., 1, :])
    when = [str(int(y)) for y in years] + [f"mean {int(period[0])}-{int(period[1])}"]
    ds = xr.Dataset(
        out, coords={"structure": labels, "sigma": list(sigmas), "beta": list(betas), "when": when}
    )
    ds.attrs = provenance_attrs(
        model_path=model.path.name, model_sha256=model.sha256, engine="batch"
    )
    return ds


def markdown(ds: xr.Dataset, outcome: str = OUTCOMES[0]) -> str:
    """One row per structure and time: the sign pattern over the grid (cells where FF leads)
    with the smallest and largest difference."""
    lines = [
        "| structure | when | FF ahead in | min FF − MF | max FF − MF |",
        "|---|---|---|---|---|",
    ]
    n = ds.sizes["sigma"] * ds.sizes["beta"]
    for label in ds["structure"].values:
        for when in ds["when"].values:
            cell = ds[outcome].sel(structure=label, when=when).values
            ahead = int((cell > 0).sum())
            lines.append(
                f"| {label} | {when} | {ahead}/{n} | {cell.min():+.3f} | {cell.max():+.3f} |"
            )
    return "\n".join(lines)
