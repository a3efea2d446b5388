"""Contribution of each switchable mechanism, per strategy and period (``nea-sd mechanisms``).

A mechanism is a gain the design lets one set to 0 (MODEL.md 1). Its contribution to an outcome
is the outcome with the mechanism on minus the same run with its gain at 0 (a knock-out on the
same parameters); its share is that difference over the sum of the absolute differences of all
mechanisms in the period. A mechanism whose knock-out changes nothing at any time of the window
is dormant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from nea_sd.engine import simulate
from nea_sd.model import Model
from nea_sd.provenance import provenance_attrs
from nea_sd.scenarios import Scenario


@dataclass(frozen=True)
class Mechanism:
    name: str
    gains: tuple[str, ...]  # parameters set to 0 to switch it off
    what: str


MECHANISMS = (
    Mechanism("functional spillover (R2)", ("Spillover",), "sigma on the programme's evidence"),
    Mechanism("contact spillover", ("Baseline contact spillover",), "baseline contact/trade"),
    Mechanism("contact (R1)", ("Contact effect",), "people-to-people contact evidence"),
    Mechanism("CBM evidence", ("CBM trust effect",), "confidence-building measures"),
    Mechanism("arms-control evidence", ("Arms control trust effect",), "arms control in force"),
    Mechanism("restraint / GRIT (B2)", ("Restraint trust effect",), "observed restraint"),
    Mechanism("summits (B3, R7)", ("Summit trust effect", "Disappointment sensitivity"), ""),
    Mechanism("detente spill-over", ("Detente spillover",), "US-China detente elsewhere"),
    Mechanism("intent spiral (R4)", ("Arming threat sensitivity",), "arming above the norm"),
    Mechanism("alliance threat (R5)", ("Alliance threat sensitivity",), "alliance moves"),
    Mechanism("bloc polarisation", ("Bloc polarisation",), "omega: guilt by association"),
    Mechanism("boycotts (R6)", ("Boycott depth", "Trade boycott depth"), "events via distrust"),
    Mechanism("backfire", ("Backfire strength",), "premature stages"),
    Mechanism("great-power gate", ("Great power gate strength",), "Four-Party-Talks claim"),
    Mechanism("small-state activism", ("Activism effect",), "per unit of activism effort"),
)


def available(model: Model) -> list[Mechanism]:
    """The mechanisms whose gains the model has."""
    return [m for m in MECHANISMS if all(g in model.parameters for g in m.gains)]


def contributions(
    model: Model,
    scenarios: Sequence[Scenario],
    outcome: str,
    years: Sequence[float],
) -> xr.Dataset:
    """Per (scenario, mechanism, period): mean contribution, share, and the dormant flag."""
    mechanisms = available(model)
    runs, labels = [], []
    for scenario in scenarios:
        runs.append(dict(scenario.overrides))
        labels.append(f"{scenario.name}|on")
        for mech in mechanisms:
            runs.append({**scenario.overrides, **dict.fromkeys(mech.gains, 0.0)})
            labels.append(f"{scenario.name}|{mech.name}")
    series = simulate(model, runs, [outcome], labels=labels)[outcome]
    periods = [f"{a:g}-{b:g}" for a, b in zip(years[:-1], years[1:], strict=True)]
    shape = (len(scenarios), len(mechanisms), len(periods))
    mean, dormant = np.zeros(shape), np.zeros(shape[:2], dtype=bool)
    for i, scenario in enumerate(scenarios):
        on = series.sel(run=f"{scenario.name}|on")
        window = slice(years[0], years[-1])
        for j, mech in enumerate(mechanisms):
            diff = on - series.sel(run=f"{scenario.name}|{mech.name}")
            dormant[i, j] = bool(np.all(diff.sel(time=window).values == 0))
            for k, (a, b) in enumerate(zip(years[:-1], years[1:], strict=True)):
                mean[i, j, k] = float(diff.sel(time=slice(a, b)).mean())
    total = np.abs(mean).sum(axis=1, keepdims=True)
    share = np.divide(mean, total, out=np.zeros_like(mean), where=total > 0)
    coords = {
        "scenario": [s.name for s in scenarios],
        "mechanism": [m.name for m in mechanisms],
        "period": periods,
    }
    ds = xr.Dataset(
        {
            "contribution": (("scenario", "mechanism", "period"), mean),
            "share": (("scenario", "mechanism", "period"), share),
            "dormant": (("scenario", "mechanism"), dormant),
        },
        coords=coords,
    )
    ds.attrs = provenance_attrs(
        model_path=model.path.name,
        model_sha256=model.sha256,
        engine="batch",
        scenarios=[s.name for s in scenarios],
    )
    ds.attrs["outcome"] = outcome
    return ds
