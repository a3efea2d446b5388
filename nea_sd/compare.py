"""The main job: every sequencing strategy on one model, side by side, at equal effort."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from nea_sd.engine import simulate
from nea_sd.errors import InvalidValueError, SimulationError, UnknownNameError
from nea_sd.model import Model
from nea_sd.outcomes import Vocabulary, headline_outcomes, vocabulary_for
from nea_sd.provenance import to_json
from nea_sd.scenarios import Scenario

COLUMNS = {
    "security_trust": "sec. trust",
    "societal_trust": "soc. trust",
    "min_security_trust": "min salient",
    "arms_burden": "arms burden %",
    "functional_regime": "functional",
    "exchange": "exchange M/yr",
    "security_trust_final": "sec. trust end",
    "stage_reached": "stage",
    "stage_date": "since",
    "backfire_episodes": "backfires",
}


@dataclass(frozen=True)
class Comparison:
    """Strategies compared on one model.

    ``trajectories`` has dims (run, time, ...) with one run per scenario; ``outcomes`` has one
    value per run and outcome; ``year`` is the year the levels are read at.
    """

    model: Model
    scenarios: tuple[Scenario, ...]
    vocabulary: Vocabulary
    trajectories: xr.Dataset
    outcomes: xr.Dataset
    year: float
    base: dict[str, float] = field(default_factory=dict)
    base_source: str = "model defaults"
    diverged: dict[str, str] = field(default_factory=dict)  # scenario -> where it went non-finite

    def table(self, *, years: bool = False) -> pd.DataFrame:
        """Outcomes as a table, one row per scenario, readable column names (with ``years``,
        each name says the year or span it is read at: levels at ``year``, the rest at the end).
        A diverged scenario's row is all NaN (see :attr:`diverged`)."""
        frame = self.outcomes.to_dataframe()[list(COLUMNS)]
        frame["arms_burden"] = frame["arms_burden"] * 100
        frame = frame.rename(columns=self.column_labels() if years else COLUMNS)
        frame.index.name = "scenario"
        return frame

    def column_labels(self) -> dict[str, str]:
        """Column names that say their year: ``sec. trust 2040``, ``stage 2050``, ... (``since``
        is itself a year)."""
        times = self.trajectories["time"].values
        start, end = f"{float(times[0]):g}", f"{float(times[-1]):g}"
        year = f"{self.year:g}"
        at = {
            "security_trust_final": end,
            "stage_reached": end,
            "backfire_episodes": f"{start}-{end}",
        }
        labels = {}
        for key, label in COLUMNS.items():
            if key == "security_trust_final":
                label = "sec. trust"
            labels[key] = label if key == "stage_date" else f"{label} {at.get(key, year)}"
        return labels

    def report(self) -> str:
        header = (
            f"Sequencing strategies on {self.model.name} (levels in {self.year:g}; "
            f"equal total effort; engine {self.trajectories.attrs.get('engine', '?')}; "
            f"parameters: {self.base_source})"
        )
        table = self.table(years=True)
        table.index = [f"{s} [diverged]" if s in self.diverged else s for s in table.index]
        body = table.to_string(float_format=lambda x: f"{x:.3f}", na_rep="-")
        return f"{header}\n{body}" + "".join(f"\n{line}" for line in self.divergence_notes())

    def divergence_notes(self) -> list[str]:
        """One line per diverged scenario, naming it and where it went non-finite."""
        return [
            f"warning: scenario {name!r} diverged ({where}); its outcomes are left blank"
            for name, where in self.diverged.items()
        ]

    def _repr_html_(self) -> str:
        notes = "".join(f"<p><b>{line}</b></p>" for line in self.divergence_notes())
        return (
            f"<p>{self.report().splitlines()[0]}</p>"
            + self.table(years=True).to_html(float_format=lambda x: f"{x:.3f}", na_rep="-")
            + notes
        )


BASES = ("calibrated", "defaults")


def base_parameters(model: Model, choice: str = "calibrated") -> tuple[dict[str, float], str]:
    """The parameter base every strategy runs on, and a sentence saying where it came from.

    ``calibrated`` (the default, for Python and the CLI alike): the joint optimum of the
    calibration of ``model`` (``calibration/results``) — every fitted value, never identified
    values mixed with defaults the profiles reject — with its −log L and Δ(−2 log L) to the
    best fit; a calibration fitted to another version of the model (its hash differs) is never
    applied: model defaults, with a warning; a model without results runs on its defaults.
    ``defaults``: the values written in the model.
    """
    if choice not in BASES:
        raise InvalidValueError(
            f"parameter base {choice!r} is not one of " + ", ".join(repr(b) for b in BASES)
        )
    if choice == "defaults":
        return {}, "model defaults"
    from nea_sd.calibrate.results import compare_base, find_result

    try:
        file, document = find_result(model.name)
    except UnknownNameError:
        return {}, "model defaults (no calibration results)"
    shown = f"{file.parent.name}/{file.name}"
    fitted_to = document.get("calibration", {}).get("model_sha256")
    if fitted_to and fitted_to != model.sha256:
        warnings.warn(
            f"{shown} was fitted to another version of {model.path.name} (model hash differs); "
            "using model defaults: recalibrate to use fitted values",
            stacklevel=2,
        )
        return {}, f"model defaults ({shown} was fitted to another model version)"
    values, header = compare_base(document)
    model.parameters.resolve(values)  # calibrated values must still fit the model's ranges
    return values, _with_sector_note(header, file, shown)


def result_base(model: Model, path: str | os.PathLike[str]) -> tuple[dict[str, float], str]:
    """The joint optimum of one named calibration result as the parameter base: strategies
    compared under a candidate fit (``base = false``) or another structure's, to see whether the
    conclusions flip with it. Unlike :func:`base_parameters`, a result fitted to another model
    or version is an error, not a fallback: the user named it."""
    from nea_sd.calibrate.results import compare_base, read_result

    document = read_result(path)
    name = Path(path).name
    calibration = document.get("calibration", {})
    if "partial_model" in calibration:
        raise InvalidValueError(
            f"{name} is a sector fit with data inputs, not a parameter set for the whole model; "
            "name a joint fit's result"
        )
    if calibration.get("model_sha256") != model.sha256:
        fitted = str(calibration.get("model", "another model"))
        if Path(fitted).name != model.path.name:
            raise InvalidValueError(
                f"{name} was fitted to {fitted!r}, another model than {model.path.name}; name "
                f"a result of {model.path.name}, or give {fitted!r} as the model"
            )
        raise InvalidValueError(
            f"{name} was fitted to {fitted!r} in another version than this "
            f"{model.path.name} (SHA-256 differs); name a result of this model or recalibrate"
        )
    values, header = compare_base(document)
    model.parameters.resolve(values)  # calibrated values must still fit the model's ranges
    return values, _with_sector_note(header, Path(path), name)


def _with_sector_note(header: str, file: Path, shown: str) -> str:
    """The base's header with what its committed sector check says (a base holding a value
    a sector fit rejects says so where the strategies are read)."""
    from nea_sd.calibrate.partial import with_sector_note

    return f"calibrated, {with_sector_note(header.removeprefix('base: '), file)} [{shown}]"


def compare_strategies(
    model: Model,
    scenarios: list[Scenario],
    *,
    year: float = 2040,
    engine: str = "batch",
    parameters: str = "calibrated",
    base: Mapping[str, float] | None = None,
    base_source: str = "given",
    on_run_done: Callable[[], None] | None = None,
) -> Comparison:
    """Run each scenario once (same engine, same outputs) and compute the headline outcomes.

    The strategies share one parameter base under their own overrides: by default the one
    :func:`base_parameters` chooses for ``parameters`` (as ``nea-sd compare`` does); an
    explicit ``base`` replaces it, ``base_source`` saying where it came from, for the report.
    """
    vocabulary = vocabulary_for(model)
    if base is None:
        base, base_source = base_parameters(model, parameters)
    base = dict(base)
    trajectories = simulate(
        model,
        [{**base, **s.overrides} for s in scenarios],
        vocabulary.outputs(),
        labels=[s.name for s in scenarios],
        engine=engine,
        on_run_done=on_run_done,
        nonfinite="nan",
    )
    diverged = json.loads(trajectories.attrs.get("diverged", "{}"))
    if len(diverged) == len(scenarios):
        raise SimulationError(
            "every scenario diverged ("
            + "; ".join(f"{k}: {v}" for k, v in diverged.items())
            + "); the model is not defined at these parameter values"
        )
    trajectories.attrs["scenarios"] = to_json({s.name: s.overrides for s in scenarios})
    trajectories.attrs["base_parameters"] = to_json(base)
    trajectories.attrs["base_parameters_source"] = base_source
    outcomes = headline_outcomes(trajectories, vocabulary, year)
    # a diverged run has no outcome (its NaN flags would otherwise read as "stage 0")
    outcomes = outcomes.where(~trajectories["diverged"])
    outcomes.attrs.update(trajectories.attrs)
    outcomes.attrs["outcome_year"] = float(year)
    return Comparison(
        model,
        tuple(scenarios),
        vocabulary,
        trajectories,
        outcomes,
        year,
        base,
        base_source,
        diverged,
    )
