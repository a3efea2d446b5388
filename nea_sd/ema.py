"""EMA Workbench connector: our batch engine as an EMA model, experiments run in batches.

``pip install nea-sd[ema]``. :func:`ema_model` builds an EMA model of a loaded
:class:`~nea_sd.model.Model`: uncertainties are the scalar parameters with a declared range
(``[low, high]`` in the units field); levers are the parameters the strategies of
``models/scenarios.toml`` set, and :func:`strategy_policies` turns those strategies into EMA
policies; the scenario file's ``common`` values are constants of every experiment, as in
``nea-sd run --scenario``. Outcomes are the headline outcomes (scalars, at ``year``) and the
trajectories of chosen variables (time series).

EMA's own evaluators call the model's ``run_model`` once per experiment (correct, but
one engine call each); :class:`BatchEvaluator` instead hands ``chunk`` experiments at a time to
one vectorised batch-engine run, then reports each experiment to EMA's callback as usual::

    model = load_model("models/dyad.mdl")
    em = ema_model(model)
    with BatchEvaluator(em) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(1000, strategy_policies(model))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from nea_sd.errors import InvalidValueError, MissingDependencyError
from nea_sd.model import Model
from nea_sd.model.params import split_element_key
from nea_sd.sketch.parse import canonical

INSTALL_HINT = "install the extra: pip install 'nea-sd[ema]'"


def _ema() -> Any:
    try:
        import ema_workbench
    except ImportError:
        raise MissingDependencyError(
            f"the EMA connector needs ema_workbench, which is not installed; {INSTALL_HINT}"
        ) from None
    return ema_workbench


def _strategies(model: Model, scenarios_file: Any = None) -> tuple[dict[str, float], dict]:
    """``common`` values and strategy -> its own values (variants left out)."""
    from nea_sd.scenarios import load_scenarios

    scenarios = load_scenarios(model, scenarios_file)
    plain = {s.name: s.overrides for s in scenarios.values() if not s.variant}
    shared = set.intersection(*(set(v.items()) for v in plain.values())) if plain else set()
    common = dict(shared)
    return common, {
        name: {k: v for k, v in o.items() if k not in common} for name, o in plain.items()
    }


def _default(model: Model, key: str) -> float:
    name, elements = split_element_key(key)
    param = model.parameters[name]
    value = np.asarray(param.value, dtype=float)
    return float(value[param.index_of(elements)] if elements else value)


def lever_ranges(model: Model, scenarios_file: Any = None) -> dict[str, tuple[float, float]]:
    """Lever -> (low, high): its declared range, else the span of the strategies' values."""
    _, strategies = _strategies(model, scenarios_file)
    keys = list(dict.fromkeys(k for values in strategies.values() for k in values))
    ranges = {}
    for key in keys:
        param = model.parameters[split_element_key(key)[0]]
        if param.has_range:
            ranges[key] = (param.low, param.high)
        else:
            seen = [v.get(key, _default(model, key)) for v in strategies.values()]
            ranges[key] = (min(seen), max(seen))
    return ranges


def strategy_policies(model: Model, scenarios_file: Any = None) -> list[Any]:
    """The strategies of the scenario file as EMA policies (unset levers at model defaults)."""
    ema = _ema()
    _, strategies = _strategies(model, scenarios_file)
    levers = lever_ranges(model, scenarios_file)
    return [
        ema.Policy(name, **{k: float(values.get(k, _default(model, k))) for k in levers})
        for name, values in strategies.items()
    ]


def ema_model(
    model: Model,
    *,
    uncertainties: Sequence[str] | None = None,
    series: Sequence[str] = (),
    year: float = 2040,
    scenarios_file: Any = None,
    name: str | None = None,
) -> Any:
    """An EMA ``Model`` of ``model`` whose runs go through the batch engine.

    ``uncertainties`` picks parameters (default: every scalar parameter with a declared range
    that is neither a lever nor fixed by the scenario file's ``common`` table); ``series`` names
    variables reported as time-series outcomes; scalar outcomes are the headline outcomes at
    ``year`` where the model has them.
    """
    ema = _ema()
    from nea_sd.engine import check_outputs
    from nea_sd.errors import NeaSdError
    from nea_sd.outcomes import OUTCOME_DOCS, vocabulary_for

    common, _ = _strategies(model, scenarios_file)
    levers = lever_ranges(model, scenarios_file)
    fixed = {canonical(split_element_key(k)[0]) for k in (*levers, *common)}
    if uncertainties is None:
        chosen = [
            p
            for p in model.parameters.values()
            if p.has_range and not p.dims and p.high > p.low and canonical(p.name) not in fixed
        ]
    else:
        chosen = [model.parameters[n] for n in uncertainties]
        for p in chosen:
            if p.dims or not p.has_range or not p.high > p.low:
                raise InvalidValueError(
                    f"uncertainty {p.name!r} needs a scalar parameter with a declared range "
                    f"[low, high] in the model; it has {p.range_text} over {p.dims or 'no'} "
                    "subscripts"
                )
    try:
        vocabulary = vocabulary_for(model)
    except NeaSdError:
        vocabulary = None
    series = check_outputs(model, series)
    runner = _Runner(model, common, vocabulary, list(series), year)
    em = ema.Model(name or "".join(c for c in model.name if c.isalnum()), function=runner.one)
    em.uncertainties = [ema.RealParameter(p.name, p.low, p.high) for p in chosen]
    em.levers = [ema.RealParameter(k, lo, hi) for k, (lo, hi) in levers.items() if hi > lo]
    em.constants = [ema.Constant(k, float(v)) for k, v in common.items()]
    outcomes = []
    if vocabulary is not None:
        outcomes += [ema.ScalarOutcome(k) for k in OUTCOME_DOCS]
    outcomes += [ema.TimeSeriesOutcome(s) for s in series]
    if not outcomes:
        raise InvalidValueError(
            f"model {model.name!r} has no headline outcomes; name variables in series=[...]"
        )
    em.outcomes = outcomes
    em.nea_sd_runner = runner
    return em


class _Runner:
    """Runs parameter sets through the batch engine and returns EMA outputs per run."""

    def __init__(self, model: Model, common: Mapping[str, float], vocabulary, series, year):
        self.model, self.common, self.vocabulary = model, dict(common), vocabulary
        self.series, self.year = series, year

    def outputs(self) -> list[str]:
        names = list(self.vocabulary.outputs()) if self.vocabulary is not None else []
        return list(dict.fromkeys(names + self.series))

    def many(self, runs: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
        from nea_sd.engine import simulate
        from nea_sd.outcomes import headline_outcomes

        full = [{**self.common, **run} for run in runs]
        result = simulate(self.model, full, self.outputs(), engine="batch")
        per_run: list[dict[str, Any]] = [{} for _ in full]
        if self.vocabulary is not None:
            table = headline_outcomes(result, self.vocabulary, self.year)
            for name in table.data_vars:
                for i, value in enumerate(table[name].values):
                    per_run[i][str(name)] = float(value)
        for name in self.series:
            values = result[name].values
            for i in range(len(full)):
                per_run[i][name] = values[i]
        return per_run

    def one(self, **values: float) -> dict[str, Any]:
        return self.many([values])[0]


def _overrides(experiment: Any, em: Any) -> dict[str, float]:
    run = {}
    for parameters, source in (
        (em.levers, experiment.policy),
        (em.uncertainties, experiment.scenario),
    ):
        for parameter in parameters:
            if parameter.name in source:
                run[parameter.name] = float(source[parameter.name])
    return run


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def batch_evaluator(models: Any, chunk: int = 1000) -> Any:  # noqa: C901
    """An EMA evaluator that runs ``chunk`` experiments per batch-engine call."""
    ema = _ema()
    from ema_workbench.em_framework.evaluators import BaseEvaluator
    from ema_workbench.em_framework.points import experiment_generator

    class BatchEvaluator(BaseEvaluator):
        def initialize(self) -> None:
            pass

        def finalize(self) -> None:
            pass

        def evaluate_experiments(self, scenarios, policies, callback, combine="factorial"):
            by_name = {m.name: m for m in self._msis}
            jobs = experiment_generator(scenarios, self._msis, policies, combine=combine)
            for part in _chunks(jobs, chunk):
                for model_name in dict.fromkeys(e.model_name for e in part):
                    em = by_name[model_name]
                    runner = getattr(em, "nea_sd_runner", None)
                    if runner is None:
                        raise InvalidValueError(
                            f"model {model_name!r} is not a nea_sd model; build it with ema_model"
                        )
                    mine = [e for e in part if e.model_name == model_name]
                    results = runner.many([_overrides(e, em) for e in mine])
                    for experiment, outputs in zip(mine, results, strict=True):
                        callback(experiment, _processed(em, outputs))

        def perform_experiments(self, scenarios=0, policies=0, **kwargs):
            return ema.perform_experiments(
                self._msis, scenarios, policies, evaluator=self, **kwargs
            )

    return BatchEvaluator(models)


BatchEvaluator = batch_evaluator


def _processed(em: Any, outputs: Mapping[str, Any]) -> dict[str, Any]:
    return {o.name: o.process([outputs[v] for v in o.variable_name]) for o in em.outcomes}
