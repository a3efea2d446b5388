"""Headline outcomes of a run (design section 7), computed from a result Dataset.

The regional and the dyad model speak the same vocabulary under different variable names;
a :class:`Vocabulary` maps the outcome to the model's variables so that reports and sweeps
need not know which model produced the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from nea_sd.errors import InvalidValueError, NeaSdError
from nea_sd.model import Model
from nea_sd.sketch.parse import canonical

ACTIVE = 1e-9  # a flag or backfire above this counts as on


@dataclass(frozen=True)
class Stage:
    """A cooperation stage, running while its programme effort is positive."""

    label: str
    variable: str
    element: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    """Names of the model variables behind each headline outcome."""

    security_trust: str
    societal_trust: str
    min_security_trust: str
    arms_burden: str
    functional: str
    exchange: str
    backfire: str
    stages: tuple[Stage, ...]

    def outputs(self) -> list[str]:
        names = [
            self.security_trust,
            self.societal_trust,
            self.min_security_trust,
            self.arms_burden,
            self.functional,
            self.exchange,
            self.backfire,
        ]
        names += [s.variable for s in self.stages if s.variable not in names]
        return names


REGIONAL = Vocabulary(
    security_trust="Regional security trust",
    societal_trust="Regional societal trust",
    min_security_trust="Minimum salient security trust",
    arms_burden="Regional arms burden",
    functional="Functional regime total",
    exchange="People exchange",
    backfire="Backfire",
    stages=(
        Stage("functional", "Programme effort", "FUN"),
        Stage("CBMs", "Programme effort", "CBM"),
        Stage("arms control", "Programme effort", "ARC"),
        Stage("institutions", "Programme effort", "INS"),
    ),
)

DYAD = Vocabulary(
    security_trust="Mean security trust",
    societal_trust="Mean societal trust",
    min_security_trust="Minimum security trust",
    arms_burden="Mean arms burden",
    functional="Functional regime",
    exchange="Exchange volume",
    backfire="Backfire",
    stages=(
        Stage("functional", "Functional effort"),
        Stage("CBMs", "CBM effort"),
        Stage("arms control", "Arms control effort"),
        Stage("institutions", "Institution effort"),
    ),
)

OUTCOME_DOCS = {
    "security_trust": "security trust (rivalry-weighted mean for the region, mean for a dyad)",
    "societal_trust": "societal trust (same weighting)",
    "min_security_trust": "lowest security trust among the salient dyads",
    "arms_burden": "military spending / GDP",
    "functional_regime": "functional regime maturity (sum over domains in the region)",
    "exchange": "people-to-people exchange, total (million visits per year)",
    "security_trust_final": "security trust at the final time",
    "stage_reached": "highest stage with effort at the final time (0 none .. 4 institutions)",
    "stage_date": "year the highest stage reached started (NaN if none)",
    "backfire_episodes": "number of separate periods with premature-stage backfire",
    "backfire_integral": "backfire summed over time (negative evidence x years)",
}


def vocabulary_for(model: Model) -> Vocabulary:
    """The vocabulary whose variables all exist in ``model``."""
    present = {canonical(n) for n in model.variable_names()}
    for vocabulary in (REGIONAL, DYAD):
        if all(canonical(n) in present for n in vocabulary.outputs()):
            return vocabulary
    raise NeaSdError(
        f"model {model.name!r} has no sequencing outcomes (it lacks e.g. "
        f"{REGIONAL.security_trust!r} or {DYAD.security_trust!r}); "
        "compare and outcomes work on the dyad and regional models"
    )


def _at(series: xr.DataArray, year: float) -> xr.DataArray:
    times = series["time"].values
    if not times[0] - 1e-9 <= year <= times[-1] + 1e-9:
        raise InvalidValueError(
            f"outcome year {year!r} is outside the simulated period {times[0]:g}-{times[-1]:g}"
        )
    return series.interp(time=year)


def total_over_subscripts(variable: xr.DataArray) -> xr.DataArray:
    extra = [d for d in variable.dims if d not in ("run", "time")]
    return variable.sum(extra) if extra else variable


def _stage_flags(result: xr.Dataset, vocabulary: Vocabulary) -> xr.DataArray:
    flags = []
    for stage in vocabulary.stages:
        flag = result[stage.variable]
        if stage.element is not None:
            (dim,) = [d for d in flag.dims if d not in ("run", "time")]
            flag = flag.sel({dim: stage.element})
            flag = flag.drop_vars(dim)
        flags.append(flag > ACTIVE)
    return xr.concat(flags, dim="stage").assign_coords(stage=[s.label for s in vocabulary.stages])


def _first_time(mask: xr.DataArray) -> xr.DataArray:
    """First time at which ``mask`` holds, NaN where it never does."""
    time = mask["time"]
    return time.where(mask).min("time")


def headline_outcomes(result: xr.Dataset, vocabulary: Vocabulary, year: float) -> xr.Dataset:
    """One value per run for every headline outcome (levels at ``year`` and run summaries)."""
    v = vocabulary
    levels = {
        "security_trust": result[v.security_trust],
        "societal_trust": result[v.societal_trust],
        "min_security_trust": result[v.min_security_trust],
        "arms_burden": result[v.arms_burden],
        "functional_regime": total_over_subscripts(result[v.functional]),
        "exchange": total_over_subscripts(result[v.exchange]),
    }
    out = {name: _at(series, year) for name, series in levels.items()}
    out["security_trust_final"] = result[v.security_trust].isel(time=-1)
    flags = _stage_flags(result, v)
    final = flags.isel(time=-1)
    order = xr.DataArray(np.arange(1, len(v.stages) + 1), dims="stage")
    reached = (final * order).max("stage")
    out["stage_reached"] = reached.astype(float)
    starts = _first_time(flags)
    highest = (reached - 1).clip(min=0).astype(int)
    out["stage_date"] = starts.isel(stage=highest).where(reached > 0).drop_vars("stage")
    backfire = result[v.backfire] > ACTIVE
    onsets = (backfire.astype(int).diff("time") == 1).sum("time") + backfire.isel(time=0)
    out["backfire_episodes"] = onsets.astype(float)
    out["backfire_integral"] = result[v.backfire].integrate("time")
    dataset = xr.Dataset({k: val.drop_vars("time", errors="ignore") for k, val in out.items()})
    for name, doc in OUTCOME_DOCS.items():
        dataset[name].attrs["description"] = doc
    dataset.attrs["outcome_year"] = float(year)
    return dataset
