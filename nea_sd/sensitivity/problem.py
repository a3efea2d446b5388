"""The sensitivity *Problem*: factors with their distributions, outputs and scenarios, read from a
model and a sweep spec, checked once, then shipped (pickled) to every worker.

Factors are of three sorts (the ``mode`` of a :class:`Factor`):

``value``    a scalar parameter (``"Spillover"``); its range defaults to the model's units field.
``element``  one element of a subscripted parameter (``"Base rival weight[US,CN]"``); range
             from the model as well.
``scale``    a whole subscripted parameter (``"Alliance strength"``) multiplied by one factor,
             so that its structure (who is allied with whom) is kept; the factor's range is
             ``scale = [a, b]`` (default [0.5, 1.5]) and scaled values are clipped to the
             parameter's declared range so that every run stays valid.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nea_sd.errors import (
    InvalidValueError,
    ModelFileError,
    NeaSdError,
    OutOfRangeError,
    unknown_name,
)
from nea_sd.model import Model
from nea_sd.model.params import split_element_key
from nea_sd.sensitivity.outputs import OUTPUT_KINDS, Context, build_metric, default_outputs
from nea_sd.sensitivity.spec import FactorSpec, SweepSpec, unknown_in
from nea_sd.sketch.parse import canonical

DISTS = ("unif", "logunif", "triang", "norm", "truncnorm", "lognorm")
DEFAULT_SCALE = (0.5, 1.5)
DEFAULT_YEAR = 2040.0
DEFAULTS = {
    "calc_second_order": True,
    "chunk_size": 512,
    "conf_level": 0.95,
    "num_resamples": 100,
    "num_levels": 4,
    "M": 4,
    "backend": "numpy",
    "loop_saveper": None,  # None: the model's SAVEPER
}
BACKENDS = ("numpy", "numba")


@dataclass(frozen=True)
class Factor:
    """One input of the analysis.

    ``label`` names it in results; ``parameter`` is the model parameter it sets; ``mode`` is
    ``value``, ``element`` or ``scale`` (see the module doc); ``index`` locates the element;
    ``dist`` and ``bounds`` are SALib's ``dists`` entry and ``bounds`` row; ``clip`` is the
    parameter's declared range (used by ``scale``); ``group`` is the SALib group.
    """

    label: str
    parameter: str
    mode: str
    dist: str
    bounds: tuple[float, ...]
    group: str
    index: tuple[int, ...] = ()
    clip: tuple[float, float] = (-math.inf, math.inf)


@dataclass(frozen=True)
class Problem:
    """A checked sensitivity problem, independent of method and sample size.

    ``factors`` and ``metrics`` (output kinds) in spec order; ``scenarios`` names the scenario
    of each evaluated column ("" = model defaults); ``paired`` analyses the difference
    ``scenarios[0] - scenarios[1]`` computed on the same samples; ``bases`` holds each
    scenario's resolved overrides; ``defaults`` the default value of every swept parameter;
    ``settings`` the [sweep] settings with defaults filled in; ``spec_sha256`` the spec's hash;
    ``model_text`` the model file's bytes, so workers run the model as it was when the problem
    was built even where the file is absent or has been edited since.
    """

    model_name: str
    model_path: str
    model_sha256: str
    factors: tuple[Factor, ...]
    metrics: tuple[Any, ...]
    scenarios: tuple[str, ...]
    paired: bool
    spec_sha256: str
    settings: tuple[tuple[str, Any], ...]
    bases: tuple[dict[str, Any], ...] = field(compare=False, repr=False)
    defaults: dict[str, Any] = field(compare=False, repr=False)
    model_text: bytes = field(default=b"", compare=False, repr=False)

    # -- descriptions ------------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.factors]

    @property
    def grouped(self) -> bool:
        return any(f.group != f.label for f in self.factors)

    @property
    def groups(self) -> list[str]:
        """Names the indices are reported under: groups in first-seen order, or the labels."""
        return list(dict.fromkeys(f.group for f in self.factors))

    def setting(self, name: str) -> Any:
        return dict(self.settings)[name]

    @property
    def variables(self) -> tuple[str, ...]:
        """Model variables the metrics read (the engine's outputs)."""
        return tuple(dict.fromkeys(v for m in self.metrics for v in m.variables))

    @property
    def needs_loops(self) -> bool:
        """Whether a metric reads loop-dominance scores (computed beside each run)."""
        return any(getattr(m, "needs_loops", False) for m in self.metrics)

    @property
    def widths(self) -> list[int]:
        """Columns per metric: 1 for a scalar output, the number of times for a trajectory."""
        return [1 if m.times() is None else len(m.times()) for m in self.metrics]

    def salib_problem(self) -> dict[str, Any]:
        """SALib's problem dict (a new one each call)."""
        problem: dict[str, Any] = {
            "num_vars": len(self.factors),
            "names": self.labels,
            "bounds": [list(f.bounds) for f in self.factors],
            "dists": [f.dist for f in self.factors],
        }
        if self.grouped:
            problem["groups"] = [f.group for f in self.factors]
        return problem

    # -- evaluation --------------------------------------------------------------------------
    def parameter_sets(self, X: np.ndarray, scenario: int) -> dict[str, Any]:
        """The batch engine's parameter sets for sample rows ``X`` under scenario ``scenario``."""
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        sets: dict[str, Any] = dict(self.bases[scenario])
        per_run: set[str] = set()
        for column, factor in zip(X.T, self.factors, strict=True):
            name = factor.parameter
            if factor.mode == "value":
                sets[name] = column.copy()
                continue
            current = np.asarray(sets.get(name, self.defaults[name]), dtype=float)
            if name in per_run:
                array = current
            else:
                array = np.array(np.broadcast_to(current, (n, *current.shape)))
                per_run.add(name)
            if factor.mode == "element":
                array[(slice(None), *factor.index)] = column
            else:
                shaped = column.reshape((n,) + (1,) * (array.ndim - 1))
                array = np.clip(array * shaped, *factor.clip)
            sets[name] = array
        return sets

    # -- display -----------------------------------------------------------------------------
    def describe(self) -> str:
        lines = [
            f"{self.model_name}: {len(self.factors)} factors, {len(self.metrics)} outputs"
            + (f", paired {self.scenarios[0]} - {self.scenarios[1]}" if self.paired else "")
        ]
        for f in self.factors:
            group = f" (group {f.group})" if f.group != f.label else ""
            lines.append(f"  {f.label}: {f.dist} {list(f.bounds)} [{f.mode}]{group}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(c))}</td>"
                for c in (f.label, f.mode, f.dist, list(f.bounds), f.group)
            )
            + "</tr>"
            for f in self.factors
        )
        outputs = ", ".join(html.escape(m.name) for m in self.metrics)
        head = "".join(f"<th>{h}</th>" for h in ("factor", "mode", "dist", "bounds", "group"))
        return (
            f"<p><b>{html.escape(self.model_name)}</b> sensitivity problem; outputs: {outputs}</p>"
            f"<table><tr>{head}</tr>{rows}</table>"
        )


# -- building ----------------------------------------------------------------------------------
def _number(label: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"{label} must be a number, got {value!r}")
    return float(value)


def _pair(label: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise InvalidValueError(f"{label} must be [low, high], got {value!r}")
    low, high = (_number(label, v) for v in value)
    return low, high


def check_interval(label: str, low: float, high: float) -> None:
    """Empty and inverted ranges are errors (SALib would fail obscurely or sample nothing)."""
    if low == high:
        raise InvalidValueError(
            f"range of {label!r} is empty: [{low:g}, {high:g}]; give a low end below the high end"
        )
    if low > high:
        raise InvalidValueError(
            f"range of {label!r} is inverted: [{low:g}, {high:g}]; write it as [low, high]"
        )


def _factor(spec: FactorSpec, model: Model) -> Factor:
    name, elements = split_element_key(spec.key)
    param = model.parameters[name]
    settings = dict(spec.settings)
    group = settings.get("group")
    if "scale" in settings and elements is not None:
        raise InvalidValueError(
            f"{spec.key!r}: scale applies to a whole subscripted parameter; "
            f"use range for one element"
        )
    if not param.dims and elements is not None:
        raise InvalidValueError(
            f"parameter {param.name!r} has no subscripts; drop [{', '.join(elements)}]"
        )
    clip = (
        -math.inf if math.isnan(param.low) else param.low,
        math.inf if math.isnan(param.high) else param.high,
    )
    if param.dims and elements is None:
        if "range" in settings:
            raise InvalidValueError(
                f"parameter {param.name!r} is subscripted [{', '.join(param.dims)}]: sweep one "
                f"element ('{param.name}[...]') or scale the whole array (scale = [0.5, 1.5])"
            )
        mode, label, index = "scale", f"{param.name} (scale)", ()
        low, high = _pair(f"scale of {spec.key!r}", settings.get("scale", DEFAULT_SCALE))
        check_interval(label, low, high)
    else:
        if "scale" in settings:
            raise InvalidValueError(
                f"{spec.key!r}: scale applies to a whole subscripted parameter; use range"
            )
        index = param.index_of(elements) if elements is not None else ()
        if elements is not None:
            canon = [param.coords[d][i] for d, i in enumerate(index)]
            label, mode = f"{param.name}[{','.join(canon)}]", "element"
        else:
            label, mode = param.name, "value"
        if "range" in settings:
            low, high = _pair(f"range of {spec.key!r}", settings["range"])
            check_interval(label, low, high)
            if low < clip[0] or high > clip[1]:
                raise OutOfRangeError(
                    f"range [{low:g}, {high:g}] of {label!r} leaves the range "
                    f"{param.range_text} declared in the model"
                )
        elif param.has_range:
            low, high = param.low, param.high
            check_interval(label, low, high)
        else:
            low = high = math.nan
    dist = str(settings.get("dist", "unif"))
    if dist not in DISTS:
        raise unknown_in(repr(label), "distribution", dist, DISTS)
    bounds = _bounds(label, dist, low, high, settings)
    return Factor(
        label=label,
        parameter=param.name,
        mode=mode,
        dist=dist,
        bounds=bounds,
        group=str(group) if group is not None else label,
        index=tuple(int(i) for i in index),
        clip=clip,
    )


def _bounds(
    label: str, dist: str, low: float, high: float, settings: Mapping[str, Any]
) -> tuple[float, ...]:
    """SALib's bounds row for ``dist`` (see ``SALib.util._nonuniform_scale_samples``)."""
    if dist in ("norm", "lognorm"):
        for key in ("mean", "sd"):
            if key not in settings:
                raise InvalidValueError(f"{label!r}: dist = {dist!r} needs mean and sd")
        mean, sd = (
            _number(f"mean of {label!r}", settings["mean"]),
            _number(f"sd of {label!r}", settings["sd"]),
        )
        if not sd > 0:
            raise InvalidValueError(f"{label!r}: sd must be positive, got {sd:g}")
        return (mean, sd)
    if math.isnan(low):
        raise InvalidValueError(
            f"parameter {label!r} has no range in the model; give range = [low, high] in the spec"
        )
    if dist == "unif":
        return (low, high)
    if dist == "logunif":
        if not low > 0:
            raise InvalidValueError(
                f"{label!r}: logunif needs a positive range, got [{low:g}, {high:g}]"
            )
        return (low, high)
    if dist == "triang":
        peak = _number(f"peak of {label!r}", settings.get("peak", (low + high) / 2))
        if not low <= peak < high:
            raise InvalidValueError(
                f"{label!r}: peak {peak:g} must lie in [{low:g}, {high:g}) (SALib's triang)"
            )
        return (low, high, (peak - low) / (high - low))
    # truncnorm
    for key in ("mean", "sd"):
        if key not in settings:
            raise InvalidValueError(f"{label!r}: dist = 'truncnorm' needs mean and sd")
    sd = _number(f"sd of {label!r}", settings["sd"])
    if not sd > 0:
        raise InvalidValueError(f"{label!r}: sd must be positive, got {sd:g}")
    return (low, high, _number(f"mean of {label!r}", settings["mean"]), sd)


def _conflict(factor: Factor, key: str, model: Model) -> bool:
    name, elements = split_element_key(key)
    if canonical(name) != canonical(factor.parameter):
        return False
    if factor.mode != "element" or elements is None:
        return True
    return model.parameters[name].index_of(elements) == factor.index


def _default_factors(model: Model, scenario_keys: list[str]) -> list[FactorSpec]:
    fixed = {canonical(split_element_key(k)[0]) for k in scenario_keys}
    return [
        FactorSpec(p.name)
        for p in model.parameters.values()
        if not p.dims and p.has_range and p.low < p.high and canonical(p.name) not in fixed
    ]


def build_problem(
    model: Model,
    spec: SweepSpec,
    *,
    scenario: str | None = None,
    paired: Sequence[str] | None = None,
    kinds: Mapping[str, type] = OUTPUT_KINDS,
    backend: str | None = None,
) -> Problem:
    """Check ``spec`` against ``model`` and return the :class:`Problem`.

    ``scenario``/``paired`` (from the command line) replace the spec's choice of scenarios. Without
    ``[parameters]`` every scalar parameter with a declared range is swept, except those the
    chosen scenarios set. ``backend`` (command line) replaces the spec's batch-engine backend.
    """
    if scenario is None and paired is None:  # the command line's choice replaces the spec's
        scenario, paired = spec.setting("scenario"), spec.setting("paired")
    if scenario is not None and paired:
        raise InvalidValueError("choose either one scenario or a pair of scenarios, not both")
    names: list[str] = []
    if paired:
        names = [str(s).strip() for s in paired]
        if len(names) != 2 or names[0] == names[1]:
            raise InvalidValueError(
                f"paired takes two different scenarios (A,B: A minus B), got {','.join(names)!r}"
            )
    elif scenario is not None:
        names = [str(scenario)]
    scenario_overrides: list[dict[str, Any]] = [{}]
    if names:
        from nea_sd.scenarios import load_scenarios, select

        chosen = select(load_scenarios(model), names)
        scenario_overrides = [dict(s.overrides) for s in chosen]
    all_keys = [k for overrides in scenario_overrides for k in overrides]

    factor_specs = list(spec.factors) or _default_factors(model, all_keys)
    if not factor_specs:
        raise InvalidValueError("the sweep selects no parameters; list them under [parameters]")
    factors = [_factor(f, model) for f in factor_specs]
    seen: dict[str, Factor] = {}
    for factor in factors:
        key = canonical(factor.label)
        if key in seen:
            raise InvalidValueError(f"parameter {factor.label!r} is listed twice in the sweep")
        whole = canonical(factor.parameter)
        for other in seen.values():
            if canonical(other.parameter) == whole and "scale" in (factor.mode, other.mode):
                raise InvalidValueError(
                    f"{factor.parameter!r} is both scaled as a whole and swept by element; "
                    "choose one"
                )
        seen[key] = factor
    for name, overrides in zip(names, scenario_overrides, strict=False):
        for key in overrides:
            for factor in factors:
                if _conflict(factor, key, model):
                    raise InvalidValueError(
                        f"parameter {factor.label!r} is set by scenario {name!r} ({key}); "
                        "a sweep cannot vary what a compared scenario fixes"
                    )

    year = spec.setting("year")
    period = (model.time["initial"], model.time["final"])
    if year is None:
        year = DEFAULT_YEAR if period[0] <= DEFAULT_YEAR <= period[1] else period[1]
    context = _context(model, _number("year", year))
    tables = {e.name: e.as_dict() for e in spec.outputs} or default_outputs(context)
    metrics = tuple(build_metric(n, t, context, kinds) for n, t in tables.items())

    settings = dict(DEFAULTS)
    for key in DEFAULTS:
        value = spec.setting(key)
        if value is not None:
            settings[key] = value
    if int(settings["chunk_size"]) < 1:
        raise InvalidValueError(
            f"chunk_size must be a positive integer, got {settings['chunk_size']!r}"
        )
    if not 0 < float(settings["conf_level"]) < 1:
        raise InvalidValueError(f"conf_level must lie in (0, 1), got {settings['conf_level']!r}")
    if settings["loop_saveper"] is not None:
        settings["loop_saveper"] = _number("loop_saveper", settings["loop_saveper"])
        if settings["loop_saveper"] <= 0:
            raise InvalidValueError(
                f"loop_saveper must be a positive number of years, got {settings['loop_saveper']!r}"
            )
    settings["year"] = float(year)
    if backend is not None:
        settings["backend"] = backend
    if settings["backend"] not in BACKENDS:
        raise unknown_name("batch engine backend", str(settings["backend"]), BACKENDS)

    bases = tuple(model.parameters.resolve(o) for o in scenario_overrides)
    defaults = {f.parameter: model.parameters[f.parameter].value for f in factors}
    return Problem(
        model_name=model.name,
        model_path=str(model.path),
        model_sha256=model.sha256,
        factors=tuple(factors),
        metrics=metrics,
        scenarios=tuple(names) if names else ("",),
        paired=bool(paired),
        spec_sha256=spec.sha256,
        settings=tuple(sorted(settings.items())),
        bases=bases,
        defaults=defaults,
        model_text=_model_text(model),
    )


def _model_text(model: Model) -> bytes:
    text = model.path.read_bytes()
    if hashlib.sha256(text).hexdigest() != model.sha256:
        raise ModelFileError(
            f"model file {str(model.path)!r} changed after it was loaded; load it again"
        )
    return text


def _context(model: Model, year: float) -> Context:
    from nea_sd.outcomes import vocabulary_for

    try:
        vocabulary = vocabulary_for(model)
    except NeaSdError:
        vocabulary = None
    from nea_sd.loops.dominance import loop_names

    return Context(
        loop_names=loop_names(model.path, model.path.stem),
        variables=tuple(model.variable_names()),
        initial=model.time["initial"],
        final=model.time["final"],
        saveper=model.time["saveper"],
        year=year,
        vocabulary=vocabulary,
    )
