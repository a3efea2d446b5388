"""The small public API: load a model once, then run it, compare strategies, sweep, calibrate
and score its loops — every stage on the same loaded object.

    import nea_sd as nsd

    m = nsd.load("nea")                          # a bundled name or a path to a .mdl
    ds = m.run(scenario="functional-first")      # xarray Dataset (run, time, subscripts...)
    table = nsd.compare(m).table()               # every strategy, calibrated base
    sobol = nsd.sensitivity(m, "sobol", 256, paired=["functional-first", "military-first"])
    fit = nsd.calibrate("calibration/richardson_prewwi.toml")
    scores = nsd.loops(m, scenario="functional-first")

The model object records its content hash; every stage checks it before use, so an edited
file is an error (load it again), never a mix of old and new equations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import xarray as xr

from nea_sd.errors import NeaSdError
from nea_sd.model import Model as _LoadedModel
from nea_sd.model import load_model

BUNDLED = ("richardson", "dyad", "nea")
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


class Model(_LoadedModel):
    """A loaded Vensim model (:class:`nea_sd.model.Model`) with the stages as methods."""

    def run(
        self,
        overrides: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        outputs: Sequence[str] | str | None = None,
        *,
        scenario: str | None = None,
        parameters: str = "calibrated",
        engine: str = "batch",
        allow_out_of_range: bool = False,
    ) -> xr.Dataset:
        """Simulate once per override mapping (one mapping, a list of them, or none).

        ``scenario`` (a name of ``models/scenarios.toml``) applies under the overrides;
        ``parameters`` chooses the base as ``nea-sd run`` does (:func:`nea_sd.compare.
        base_parameters`); ``outputs``: names, ``"all"``, or by default the stocks and
        outcomes (every variable for a model with neither).
        """
        from nea_sd.compare import base_parameters
        from nea_sd.engine import simulate
        from nea_sd.provenance import to_json
        from nea_sd.scenarios import load_scenarios, select

        sets = (
            [overrides or {}] if overrides is None or isinstance(overrides, Mapping) else overrides
        )
        base, source = base_parameters(self, parameters)
        common: dict[str, Any] = dict(base)
        label = "default"
        if scenario:
            (chosen,) = select(load_scenarios(self), [scenario])
            common.update(chosen.overrides)
            label = chosen.name
        labels = [label] if len(sets) == 1 else [f"{label}/{i}" for i in range(len(sets))]
        result = simulate(
            self,
            [{**common, **dict(s)} for s in sets],
            default_outputs(self, outputs),
            labels=labels,
            engine=engine,
            allow_out_of_range=allow_out_of_range,
        )
        result.attrs["base_parameters"] = to_json(base)
        result.attrs["base_parameters_source"] = source
        return result

    def compare(self, scenarios: Sequence[str] | None = None, **options: Any) -> Any:
        """Every strategy (or the named ``scenarios``) side by side: see :func:`compare`."""
        return compare(self, scenarios, **options)

    def unsupported(self) -> list[Any]:
        """Constructs the batch engine refuses (the pre-flight), empty when it runs the model."""
        from nea_sd.engine.batch import batch_model

        return batch_model(self).unsupported()


def load(model: str | os.PathLike[str] = "nea") -> Model:
    """Load a bundled model by name (``nea``, ``dyad``, ``richardson``) or a ``.mdl`` path."""
    text = os.fspath(model)
    path = MODELS_DIR / f"{text}.mdl" if text in BUNDLED else Path(text)
    loaded = load_model(path)
    return Model(**{f.name: getattr(loaded, f.name) for f in fields(loaded)})


def _model(model: Model | _LoadedModel | str | os.PathLike[str]) -> _LoadedModel:
    return model if isinstance(model, _LoadedModel) else load(model)


def default_outputs(model: _LoadedModel, outputs: Sequence[str] | str | None = None) -> list[str]:
    """The variables a run keeps: as named, ``"all"``, else stocks and outcomes, else all."""
    from nea_sd.outcomes import vocabulary_for

    if isinstance(outputs, str):
        outputs = [n.strip() for n in outputs.split(",") if n.strip()]
    if outputs:
        return model.output_names() if [n.lower() for n in outputs] == ["all"] else list(outputs)
    try:
        vocabulary = vocabulary_for(model).outputs()
    except NeaSdError:
        vocabulary = []
    return list(dict.fromkeys([*model.stocks, *vocabulary])) or model.output_names()


def compare(
    model: Model | _LoadedModel | str | os.PathLike[str] = "nea",
    scenarios: Sequence[str] | None = None,
    *,
    year: float = 2040,
    parameters: str = "calibrated",
    engine: str = "batch",
) -> Any:
    """The main job: every sequencing strategy at equal effort on one parameter base.

    The same policy as ``nea-sd compare`` (:func:`nea_sd.compare.base_parameters`); returns
    a :class:`nea_sd.compare.Comparison` (``.table()``, ``.trajectories``, ``.outcomes``).
    """
    from nea_sd.compare import compare_strategies
    from nea_sd.scenarios import load_scenarios, select

    loaded = _model(model)
    chosen = select(load_scenarios(loaded), list(scenarios) if scenarios else None)
    return compare_strategies(loaded, chosen, year=year, engine=engine, parameters=parameters)


def sensitivity(
    model: Model | _LoadedModel | str | os.PathLike[str] = "nea",
    method: str = "sobol",
    samples: int = 256,
    *,
    spec: str | os.PathLike[str] | None = None,
    scenario: str | None = None,
    paired: Sequence[str] | None = None,
    seed: int | None = None,
    output: str | os.PathLike[str] | None = None,
    workers: int = 1,
) -> Any:
    """A SALib sweep on the batch engine (as ``nea-sd sensitivity``); a ``SensitivityResult``."""
    from nea_sd.sensitivity import build_problem, load_spec, make_evaluator, run_sweep
    from nea_sd.sensitivity.spec import SweepSpec

    loaded = _model(model)
    problem = build_problem(
        loaded,
        load_spec(spec) if spec else SweepSpec(),
        scenario=scenario,
        paired=list(paired) if paired else None,
    )
    evaluator = make_evaluator(problem, workers=workers)
    return run_sweep(problem, method, samples, seed=seed, evaluator=evaluator, output=output)


@dataclass(frozen=True)
class Calibration:
    """A maximum-likelihood fit and, when asked for, its profile-likelihood intervals."""

    setup: Any
    fit: Any
    profiles: Any = None

    def __repr__(self) -> str:
        text = self.fit.report()
        return text if self.profiles is None else f"{text}\n{self.profiles}"


def calibrate(
    spec: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    starts: int = 20,
    seed: int | None = 0,
    profile: bool = False,
) -> Calibration:
    """Fit a calibration spec (TOML naming the model, data and free parameters) to the data."""
    from nea_sd.calibrate import fit, prepare
    from nea_sd.calibrate import profile as profile_fit

    setup = prepare(spec, data_dir)
    result = fit(setup, starts=starts, seed=seed)
    return Calibration(setup, result, profile_fit(setup, result) if profile else None)


def loops(
    model: Model | _LoadedModel | str | os.PathLike[str] = "nea",
    scenario: str | None = None,
    runs: int = 1,
    *,
    seed: int | None = None,
    saveper: float | None = None,
) -> Any:
    """Loops That Matter scores of ``model`` under ``scenario`` (common draws with ``seed``)."""
    from nea_sd.loops import analyze, strategy_parameters

    loaded = _model(model)
    params = strategy_parameters(loaded, [scenario], runs, seed)[scenario or "model"]
    return analyze(loaded, params, runs, scenario=scenario or "", saveper=saveper)


def report(model: Model | _LoadedModel | str | os.PathLike[str] = "nea", **options: Any) -> Any:
    """The hypotheses over the uncertainty (:func:`nea_sd.report.build.build`): ``samples``,
    ``seed``, ``base``, ``workers``/``scheduler``; ``.write(folder)`` writes the report files."""
    from nea_sd.report.build import build

    return build(_model(model), **options)
