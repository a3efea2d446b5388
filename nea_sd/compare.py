"""The main job: every sequencing strategy on one model, side by side, at equal effort."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
import xarray as xr

from nea_sd.engine import simulate
from nea_sd.errors import InvalidValueError, UnknownNameError
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

    def table(self) -> pd.DataFrame:
        """Outcomes as a table, one row per scenario, readable column names."""
        frame = self.outcomes.to_dataframe()[list(COLUMNS)]
        frame["arms_burden"] = frame["arms_burden"] * 100
        frame = frame.rename(columns=COLUMNS)
        frame.index.name = "scenario"
        return frame

    def report(self) -> str:
        header = (
            f"Sequencing strategies on {self.model.name} (levels in {self.year:g}; "
            f"equal total effort; engine {self.trajectories.attrs.get('engine', '?')}; "
            f"parameters: {self.base_source})"
        )
        body = self.table().to_string(float_format=lambda x: f"{x:.3f}", na_rep="-")
        return f"{header}\n{body}"

    def _repr_html_(self) -> str:
        return f"<p>{self.report().splitlines()[0]}</p>" + self.table().to_html(
            float_format=lambda x: f"{x:.3f}", na_rep="-"
        )


BASES = ("calibrated", "defaults")


def base_parameters(model: Model, choice: str = "calibrated") -> tuple[dict[str, float], str]:
    """The parameter base every strategy runs on, and a sentence saying where it came from.

    ``calibrated`` (the default, for Python and the CLI alike): the values the calibration of
    ``model`` identified (``calibration/results``); a parameter pinned at a bound or with a
    flat profile keeps the model's value (design: weakly identified parameters are scenario
    axes); a model without calibration results runs on its defaults.  ``defaults``: the
    values written in the model.  Warnings about the results file pass through as warnings.
    """
    if choice not in BASES:
        raise InvalidValueError(
            f"parameter base {choice!r} is not one of " + ", ".join(repr(b) for b in BASES)
        )
    if choice == "defaults":
        return {}, "model defaults"
    from nea_sd.calibrate.results import identified_estimates

    try:
        values, skipped, file = identified_estimates(model.name, model_path=model.path)
    except UnknownNameError:
        return {}, "model defaults (no calibration results)"
    model.parameters.resolve(values)  # calibrated values must still fit the model's ranges
    source = f"calibrated, {len(values)} identified values from {file}"
    if skipped:
        source += "; model defaults for the unidentified " + ", ".join(skipped)
    return values, source


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
    )
    trajectories.attrs["scenarios"] = to_json({s.name: s.overrides for s in scenarios})
    trajectories.attrs["base_parameters"] = to_json(base)
    trajectories.attrs["base_parameters_source"] = base_source
    outcomes = headline_outcomes(trajectories, vocabulary, year)
    outcomes.attrs.update(trajectories.attrs)
    return Comparison(
        model, tuple(scenarios), vocabulary, trajectories, outcomes, year, base, base_source
    )
