"""Calibration spec: a TOML file naming free parameters, observations and periods.

Example::

    model = "../models/richardson.mdl"          # relative to this file

    [periods]
    fit = [1990, 2015]
    holdout = [2016, 2023]                       # optional, disjoint from fit

    [parameters."Reaction coefficient"]          # bounds default to the model's range
    bounds = [0.0, 0.5]
    prior = { dist = "normal", mean = 0.1, sd = 0.05 }

    [[observations]]
    name = "milex CN"                            # optional; default: the variable
    series = "sipri:milex_constant_2022_usd:CN"
    variable = "Military expenditure[CN]"
    link = "identity"                            # or { type = "scale", factor = { bounds = [..] } }
                                                 # counts: { type = "loglinear", intercept = ..,
                                                 # slope = .. }: rate = exp(intercept + slope·x)
    error = { type = "lognormal", sigma = 0.05, sigma_estimate = 0.15 }
    weight = 1.0
    average = true                               # compare with the model's yearly mean
    fit = [2019, 2023]                           # optional: this series' own periods
    holdout = [2024, 2025]

Everything is checked when the spec is read — unknown names (with suggestions), bounds,
priors, periods against the data — so a typo fails in a second, not after a long batch.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nea_sd.calibrate.inputs import Input, parse_inputs
from nea_sd.calibrate.observation import (
    Binomial,
    Identity,
    Index,
    Logistic,
    LogitNormal,
    LogLinear,
    LogNormal,
    Normal,
    Observation,
    Poisson,
    Scale,
)
from nea_sd.calibrate.priors import Prior
from nea_sd.data import data_dir as find_data_dir
from nea_sd.data import load_series
from nea_sd.errors import (
    DataError,
    InvalidValueError,
    OutOfRangeError,
    unknown_name,
)
from nea_sd.model.params import ParameterTable
from nea_sd.sketch.parse import canonical

TOP_KEYS = ("model", "periods", "parameters", "observations", "inputs", "base", "constants")
PARAM_KEYS = ("bounds", "prior")
OBS_KEYS = ("name", "series", "variable", "link", "error", "weight", "average", "fit", "holdout")
LINK_CONSTANTS = {
    "identity": (),
    "scale": ("factor",),
    "logistic": ("alpha", "beta"),
    "loglinear": ("intercept", "slope"),
}
LINKS = ("identity", "scale", "logistic", "loglinear", "index")
ERRORS = {
    "lognormal": ("sigma", "sigma_estimate", "sigma_highly_uncertain"),
    "normal": ("sigma",),
    "logitnormal": ("sigma", "scale"),
    "binomial": ("n", "scale"),
    "poisson": (),
}
REQUIRED_ERROR_ARGS = {"lognormal": ("sigma",), "normal": ("sigma",), "logitnormal": ("sigma",)}
REQUIRED_ERROR_ARGS["binomial"] = ("n",)
_VARIABLE = re.compile(r"^\s*([^\[\]]+?)\s*(?:\[\s*([^\[\]]*?)\s*\])?\s*$")

Ranges = ParameterTable | Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class FreeParameter:
    """A parameter the calibration varies.

    Fields:
        name: model parameter (as spelled in the model), or ``"<observation>.<constant>"``
            for a fitted link constant (scale factor, poll α/β).
        low, high: bounds of the search (inside the model's declared range).
        prior: the prior, truncated to the bounds (uniform when the spec gives none).
    """

    name: str
    low: float
    high: float
    prior: Prior


@dataclass(frozen=True, eq=False)
class CalibrationSpec:
    """A checked calibration spec.

    Fields:
        path: the spec file; ``model``: the model file it names (resolved, not loaded).
        parameters: free model parameters; ``link_parameters``: fitted link constants.
        observations: data-model comparisons (each holds its loaded series).
        fit_period, holdout_period: inclusive year spans (holdout may be None).
        data_dir: the data directory the series were read from.
        inputs: model variables read from data in a partial model (``[inputs]``).
        base: whether the fit is the model's parameter base for ``compare`` and ``report``
            (``base = false``: an application of the model to one case, such as the dyad
            fitted to China and Japan, which must not silently replace its defaults).
        constants: model constants set for the whole fit (``[constants]``, ``"Name"`` or
            ``"Name[el]"`` → value): a structural test that switches a mechanism off or pins
            it at a sector's verdict, without editing the model.
    """

    path: Path
    model: Path
    parameters: tuple[FreeParameter, ...]
    link_parameters: tuple[FreeParameter, ...]
    observations: tuple[Observation, ...]
    fit_period: tuple[int, int]
    holdout_period: tuple[int, int] | None
    data_dir: Path
    inputs: tuple[Input, ...] = ()
    base: bool = True
    constants: Mapping[str, float] = field(default_factory=dict)

    @property
    def free(self) -> tuple[FreeParameter, ...]:
        """Model parameters then link constants: the columns of a parameter matrix."""
        return self.parameters + self.link_parameters

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.free)

    @property
    def bounds(self) -> np.ndarray:
        """(k, 2) array of [low, high] in the order of :attr:`names`."""
        return np.array([[p.low, p.high] for p in self.free], dtype=float)

    def prior_ppf(self, u: np.ndarray) -> np.ndarray:
        """Map unit-cube samples (runs, k) to parameter values through each prior."""
        u = np.asarray(u, dtype=float)
        if u.ndim != 2 or u.shape[1] != len(self.free):
            raise InvalidValueError(f"u must be (runs, {len(self.free)}), got {u.shape}")
        return np.column_stack([p.prior.ppf(u[:, i]) for i, p in enumerate(self.free)])

    def log_prior(self, values: np.ndarray) -> np.ndarray:
        """Sum of log prior densities per run for values (runs, k)."""
        values = np.atleast_2d(np.asarray(values, dtype=float))
        return sum(p.prior.logpdf(values[:, i]) for i, p in enumerate(self.free))

    def log_likelihood(
        self,
        outputs: Mapping[str, np.ndarray],
        model_years: Iterable[float],
        link_values: Mapping[str, np.ndarray] | None = None,
        *,
        holdout: bool = False,
    ) -> np.ndarray:
        """Total weighted log-likelihood per run.

        ``outputs`` maps each observation's variable (as written in the spec) to model output
        (runs, times); ``link_values`` maps fitted link constants (``"<obs>.alpha"``) to
        arrays (runs,). ``holdout=True`` scores the held-out period instead of the fit period.
        """
        if (
            holdout
            and self.holdout_period is None
            and not any(o.holdout_period for o in self.observations)
        ):
            raise InvalidValueError("the spec has no [periods] holdout")
        link_values = link_values or {}
        years = np.asarray(list(model_years), dtype=float)
        total: np.ndarray | float = 0.0
        for obs in self.observations:
            if obs.variable not in outputs:
                raise unknown_name("model output", obs.variable, outputs)
            period = self.period_of(obs, holdout)
            if period is None:
                continue
            if not np.isin(obs.series.years, np.arange(period[0], period[1] + 1)).any():
                continue  # e.g. a poll without held-out years
            params = {
                key: link_values[obs.link_name(key)]
                for key in obs.link.free
                if obs.link_name(key) in link_values
            }
            total = total + obs.log_likelihood(outputs[obs.variable], years, params, period)
        return np.asarray(total)

    def period_of(self, obs: Observation, holdout: bool = False) -> tuple[int, int] | None:
        """The observation's own fit/holdout period, else the spec's."""
        if holdout:
            return obs.holdout_period or (None if obs.fit_period else self.holdout_period)
        return obs.fit_period or self.fit_period

    def __str__(self) -> str:
        lines = [f"calibration spec {self.path.name}: model {self.model.name}"]
        lines.append(
            f"  fit {self.fit_period[0]}-{self.fit_period[1]}"
            + (
                f", held out {self.holdout_period[0]}-{self.holdout_period[1]}"
                if self.holdout_period
                else ""
            )
        )
        lines += [f"  {p.name}: [{p.low:g}, {p.high:g}] {p.prior}" for p in self.free]
        lines += [f"  input: {i.describe()}" for i in self.inputs]
        lines += [f"  constant: {k} = {v:g}" for k, v in self.constants.items()]
        lines += [
            f"  {o.name}: {o.series.name} ~ {o.variable} ({type(o.link).__name__}, "
            f"{type(o.error).__name__}, weight {o.weight:g})"
            for o in self.observations
        ]
        return "\n".join(lines)


# -- reading ----------------------------------------------------------------------------------


def load_spec(
    path: str | os.PathLike[str],
    parameters: Ranges,
    *,
    variables: Iterable[str] | None = None,
    subscripts: Mapping[str, Iterable[str]] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> CalibrationSpec:
    """Read and check a TOML calibration spec.

    ``parameters`` gives the model's declared ranges (a :class:`ParameterTable`, or a mapping
    name -> (low, high)); ``variables`` and ``subscripts`` (when given) check each
    observation's ``variable``; ``data_dir`` locates the data (else ``$NEA_SD_DATA``).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValueError(f"cannot read calibration spec {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValueError(f"calibration spec {path.name}: invalid TOML ({exc})") from None
    where = path.name
    _check_keys(raw, TOP_KEYS, where, required=("model", "periods", "observations"))
    if not isinstance(raw["model"], str) or not raw["model"].strip():
        raise InvalidValueError(f"{where}: model must be a path, got {raw['model']!r}")
    model = (path.parent / raw["model"]).resolve()
    base = raw.get("base", True)
    if not isinstance(base, bool):
        raise InvalidValueError(f"{where}: base must be true or false, got {base!r}")
    folder = find_data_dir(data_dir)
    fit, holdout = _periods(raw["periods"], where)
    free = tuple(
        _free_parameter(name, entry, parameters, where, subscripts)
        for name, entry in _table(raw.get("parameters", {}), "parameters", where).items()
    )
    _check_unique([p.name for p in free], "parameter", where)
    set_constants = _constants(raw.get("constants", {}), parameters, subscripts, free, where)
    entries = raw["observations"]
    if not isinstance(entries, list) or not entries:
        raise InvalidValueError(f"{where}: [[observations]] must list at least one observation")
    observations, link_params = [], []
    for i, entry in enumerate(entries):
        obs, constants = _observation(entry, i, where, folder, fit)
        _check_variable(obs.variable, variables, subscripts, f"{where} observation {obs.name!r}")
        observations.append(obs)
        link_params += constants
    _check_unique([o.name for o in observations], "observation name", where)
    link_params = _merge_shared(link_params, where)
    if holdout is not None and not any(
        np.any((o.series.years >= holdout[0]) & (o.series.years <= holdout[1]))
        for o in observations
        if o.fit_period is None
    ):
        raise DataError(
            f"{where}: no observation has data in the holdout period "
            f"{holdout[0]}-{holdout[1]}; spans: "
            + ", ".join(
                f"{o.series.name} {o.series.span[0]}-{o.series.span[1]}" for o in observations
            )
        )
    return CalibrationSpec(
        path=path.resolve(),
        model=model,
        parameters=free,
        link_parameters=tuple(link_params),
        observations=tuple(observations),
        fit_period=fit,
        holdout_period=holdout,
        data_dir=folder,
        inputs=parse_inputs(raw.get("inputs", {}), where, folder),
        base=base,
        constants=set_constants,
    )


def _constants(
    raw: Any,
    parameters: Ranges,
    subscripts: Mapping[str, Iterable[str]] | None,
    free: tuple[FreeParameter, ...],
    where: str,
) -> dict[str, float]:
    """``[constants]``: numbers inside the model's declared ranges, for constants not fitted.

    An element may be set while other elements of the same parameter are fitted (Japan's
    defence reaction held at its sector estimate beside China's fitted); the same element, or
    the whole parameter beside any fitted element, is a conflict."""
    fitted = {parse_variable(p.name) for p in free}
    fitted_bases = {base for base, _ in fitted}
    out: dict[str, float] = {}
    for name, value in _table(raw, "constants", where).items():
        what = f"{where} constant {name!r}"
        real, low, high = _declared_range(name, parameters, where)
        _check_parameter_elements(name, parameters, subscripts, what)
        base, elements = parse_variable(real)
        if (
            (base, elements) in fitted
            or (base, ()) in fitted
            or (not elements and base in fitted_bases)
        ):
            raise InvalidValueError(
                f"{what} is also a fitted parameter; list it under [parameters] or "
                "[constants], not both"
            )
        number = _number(value, what)
        if (not math.isnan(low) and number < low) or (not math.isnan(high) and number > high):
            raise OutOfRangeError(
                f"{what} = {number:g} is outside the model's declared range "
                f"[{low:g}, {high:g}]; choose a value inside it or widen the model's range"
            )
        out[real] = number
    return out


def load_spec_for_model(
    path: str | os.PathLike[str], model: Any, *, data_dir: str | os.PathLike[str] | None = None
) -> CalibrationSpec:
    """:func:`load_spec` checked against a loaded :class:`nea_sd.model.Model`.

    Ranges come from ``model.parameters``, variable names from ``model.variable_names()``,
    subscript elements from ``model.subscripts``.
    """
    return load_spec(
        path,
        model.parameters,
        variables=model.variable_names(),
        subscripts=model.subscripts,
        data_dir=data_dir,
    )


def read_model_path(path: str | os.PathLike[str]) -> Path:
    """The model file a spec names (resolved against the spec's folder), before full checks."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValueError(f"cannot read calibration spec {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValueError(f"calibration spec {path.name}: invalid TOML ({exc})") from None
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidValueError(f"{path.name}: model must be a path to a .mdl file, got {model!r}")
    return (path.parent / model).resolve()


def parse_variable(text: str) -> tuple[str, tuple[str, ...]]:
    """``"Military expenditure[CN]"`` -> ``("Military expenditure", ("CN",))``."""
    match = _VARIABLE.match(text) if isinstance(text, str) else None
    if not match or not match.group(1).strip():
        raise InvalidValueError(f"variable {text!r} is not 'Name' or 'Name[element, ...]'")
    subs = match.group(2)
    elements = tuple(s.strip() for s in subs.split(",")) if subs else ()
    if subs is not None and not all(elements):
        raise InvalidValueError(f"variable {text!r} has an empty subscript")
    return match.group(1), elements


def _check_keys(table: Any, valid: Iterable[str], where: str, required: Iterable[str] = ()) -> None:
    if not isinstance(table, dict):
        raise InvalidValueError(f"{where} must be a table, got {table!r}")
    valid = tuple(valid)
    for key in table:
        if key not in valid:
            raise InvalidValueError(
                f"{where}: unknown key {key!r}; valid keys: " + ", ".join(repr(k) for k in valid)
            )
    for key in required:
        if key not in table:
            raise InvalidValueError(f"{where}: missing required key {key!r}")


def _table(value: Any, what: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidValueError(f"{where}: {what} must be a table, got {value!r}")
    return value


def _check_unique(names: list[str], what: str, where: str) -> None:
    seen: set[str] = set()
    for name in names:
        key = canonical(name)
        if key in seen:
            raise InvalidValueError(f"{where}: {what} {name!r} is given twice")
        seen.add(key)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _span(value: Any, what: str) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidValueError(f"{what} must be [first_year, last_year], got {value!r}")
    if value[0] > value[1]:
        raise InvalidValueError(f"{what} {value!r} is inverted (first year after last)")
    return int(value[0]), int(value[1])


def _periods(raw: Any, where: str) -> tuple[tuple[int, int], tuple[int, int] | None]:
    _check_keys(raw, ("fit", "holdout"), f"{where} [periods]", required=("fit",))
    fit = _span(raw["fit"], f"{where} [periods] fit")
    holdout = None
    if "holdout" in raw:
        holdout = _span(raw["holdout"], f"{where} [periods] holdout")
        if holdout[0] <= fit[1] and fit[0] <= holdout[1]:
            raise InvalidValueError(
                f"{where}: holdout {list(holdout)!r} overlaps fit {list(fit)!r}; "
                "held-out years must not be fitted"
            )
    return fit, holdout


def _declared_range(name: str, parameters: Ranges, where: str) -> tuple[str, float, float]:
    """The model's spelling of ``name`` and its declared (low, high); NaN where open."""
    base, _ = parse_variable(name)
    if isinstance(parameters, ParameterTable):
        if base not in parameters:
            raise unknown_name("parameter", base, list(parameters))
        p = parameters[base]
        return name.replace(base, p.name, 1), p.low, p.high
    by_key = {canonical(k): k for k in parameters}
    if canonical(base) not in by_key:
        raise unknown_name("parameter", base, list(parameters))
    real = by_key[canonical(base)]
    low, high = parameters[real]
    return name.replace(base, real, 1), float(low), float(high)


def _check_parameter_elements(
    name: str,
    parameters: Ranges,
    subscripts: Mapping[str, Iterable[str]] | None,
    what: str,
) -> None:
    base, elements = parse_variable(name)
    if not elements or not isinstance(parameters, ParameterTable):
        return
    dims = parameters[base].dims
    if len(elements) != len(dims):
        raise InvalidValueError(
            f"{what}: {len(elements)} subscript(s) given, but {parameters[base].name!r} has "
            f"{len(dims)} ({', '.join(dims) or 'none'})"
        )
    for dim, element in zip(dims, elements, strict=True):
        valid = [str(e) for e in (subscripts or {}).get(dim, ())]
        if valid and element not in valid:
            raise unknown_name(f"element of {dim}", element, valid)


def _bounds(value: Any, what: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidValueError(f"{what} bounds must be [low, high], got {value!r}")
    low, high = (_number(v, f"{what} bounds") for v in value)
    if low >= high:
        raise InvalidValueError(
            f"{what} bounds {value!r} are {'empty' if low == high else 'inverted'}; need low < high"
        )
    return low, high


def _prior(value: Any, low: float, high: float, what: str) -> Prior:
    if value is None:
        return Prior("uniform", {}, low, high)
    if isinstance(value, str):
        value = {"dist": value}
    table = _table(value, f"{what} prior", what)
    if "dist" not in table:
        raise InvalidValueError(f"{what} prior needs dist = 'uniform' | 'normal' | ...")
    args = {k: v for k, v in table.items() if k != "dist"}
    try:
        return Prior(table["dist"], args, low, high)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{what}: {exc}") from None


def _free_parameter(
    name: str,
    entry: Any,
    parameters: Ranges,
    where: str,
    subscripts: Mapping[str, Iterable[str]] | None = None,
) -> FreeParameter:
    """One ``[parameters."Name"]`` entry; ``"Name[CN]"`` frees one element of an array.

    A subscripted parameter named without ``[...]`` is varied as one value for all elements.
    """
    what = f"{where} parameter {name!r}"
    entry = entry if entry is not None else {}
    _check_keys(entry, PARAM_KEYS, what)
    real, model_low, model_high = _declared_range(name, parameters, where)
    _check_parameter_elements(name, parameters, subscripts, what)
    if "bounds" in entry:
        low, high = _bounds(entry["bounds"], what)
        outside = (not math.isnan(model_low) and low < model_low) or (
            not math.isnan(model_high) and high > model_high
        )
        if outside:
            raise OutOfRangeError(
                f"{what} bounds [{low:g}, {high:g}] go outside the model's declared range "
                f"[{model_low:g}, {model_high:g}]; narrow the bounds or widen the model's range"
            )
    elif math.isnan(model_low) or math.isnan(model_high):
        raise InvalidValueError(
            f"{what} has no declared range in the model ({model_low:g}, {model_high:g}); "
            "give bounds = [low, high]"
        )
    else:
        low, high = _bounds([model_low, model_high], f"{what} (model range)")
    return FreeParameter(real, low, high, _prior(entry.get("prior"), low, high, what))


def _link(
    raw: Any, name: str, what: str
) -> tuple[Any, list[FreeParameter], tuple[tuple[str, str], ...]]:
    if isinstance(raw, str):
        raw = {"type": raw}
    table = _table(raw, "link", what)
    kind = table.get("type")
    if kind not in LINKS:
        raise InvalidValueError(
            f"{what}: unknown link type {kind!r}; valid: " + ", ".join(repr(k) for k in LINKS)
        )
    if kind == "index":
        _check_keys(table, ("type", "base_year"), f"{what} link", required=("base_year",))
        base = table["base_year"]
        years = base if isinstance(base, list) else [base]
        if not years or not all(isinstance(y, int) and not isinstance(y, bool) for y in years):
            raise InvalidValueError(f"{what}: index base_year must be a year or list, got {base!r}")
        return Index(tuple(years) if isinstance(base, list) else base), [], ()
    constants = LINK_CONSTANTS[kind]
    _check_keys(table, ("type", *constants), f"{what} link", required=constants)
    fixed: dict[str, float | None] = {}
    free = []
    shared = []
    for key in constants:
        value = table[key]  # a number (fixed) or {bounds = [..], prior = .., shared = ".."}
        if isinstance(value, dict):
            sub = f"{what} link {key}"
            _check_keys(value, (*PARAM_KEYS, "shared"), sub, required=("bounds",))
            low, high = _bounds(value["bounds"], sub)
            label = value.get("shared", f"{name}.{key}")
            if not isinstance(label, str) or not label.strip():
                raise InvalidValueError(f"{sub}: shared must be a name, got {label!r}")
            if "shared" in value:
                shared.append((key, label))
            free.append(FreeParameter(label, low, high, _prior(value.get("prior"), low, high, sub)))
            fixed[key] = None
        else:
            fixed[key] = _number(value, f"{what} link {key}")
    kinds = {"identity": Identity, "scale": Scale, "logistic": Logistic, "loglinear": LogLinear}
    link = kinds[kind](**fixed)
    return link, free, tuple(shared)


def _merge_shared(params: list[FreeParameter], where: str) -> list[FreeParameter]:
    """One free parameter per shared link constant; its observations must agree on bounds
    and prior."""
    out: dict[str, FreeParameter] = {}
    for p in params:
        first = out.setdefault(p.name, p)
        if (first.low, first.high, repr(first.prior)) != (p.low, p.high, repr(p.prior)):
            raise InvalidValueError(
                f"{where}: shared link constant {p.name!r} is given different bounds or priors "
                f"([{first.low:g}, {first.high:g}] and [{p.low:g}, {p.high:g}]); give the same"
            )
    return list(out.values())


def _error(raw: Any, what: str) -> Any:
    if isinstance(raw, str):
        raw = {"type": raw}
    table = _table(raw, "error", what)
    kind = table.get("type")
    if kind not in ERRORS:
        raise InvalidValueError(
            f"{what}: unknown error model {kind!r}; valid: " + ", ".join(repr(k) for k in ERRORS)
        )
    _check_keys(
        table, ("type", *ERRORS[kind]), f"{what} error", required=REQUIRED_ERROR_ARGS.get(kind, ())
    )
    args = {k: _number(v, f"{what} error {k}") for k, v in table.items() if k != "type"}
    for key, value in args.items():
        if value <= 0:
            raise InvalidValueError(f"{what} error {key} must be > 0, got {value!r}")
    cls = {"lognormal": LogNormal, "normal": Normal, "logitnormal": LogitNormal}
    cls |= {"binomial": Binomial, "poisson": Poisson}
    return cls[kind](**args)


def _observation(
    entry: Any,
    i: int,
    where: str,
    folder: Path,
    fit: tuple[int, int],
) -> tuple[Observation, list[FreeParameter]]:
    what = f"{where} observation #{i + 1}"
    _check_keys(entry, OBS_KEYS, what, required=("series", "variable", "link", "error"))
    variable = entry["variable"]
    parse_variable(variable)
    name = entry.get("name", variable)
    if not isinstance(name, str) or not name.strip():
        raise InvalidValueError(f"{what}: name must be text, got {name!r}")
    what = f"{where} observation {name!r}"
    selector = entry["series"]
    if not isinstance(selector, str):
        raise InvalidValueError(f"{what}: series must be a selector string, got {selector!r}")
    series = load_series(selector, folder)  # an unknown selector raises, with suggestions
    first, last = series.span
    own_fit = _span(entry["fit"], f"{what} fit") if "fit" in entry else None
    own_hold = _span(entry["holdout"], f"{what} holdout") if "holdout" in entry else None
    if own_hold is not None and own_fit is None:
        raise InvalidValueError(f"{what}: holdout needs fit = [first, last] for it as well")
    if own_fit and own_hold and own_hold[0] <= own_fit[1] and own_fit[0] <= own_hold[1]:
        raise InvalidValueError(
            f"{what}: holdout {list(own_hold)!r} overlaps fit {list(own_fit)!r}; "
            "held-out years must not be fitted"
        )
    fit = own_fit or fit
    if fit[1] < first or fit[0] > last:
        raise DataError(
            f"{what}: fit period {fit[0]}-{fit[1]} does not overlap series {series.name!r}, "
            f"which covers {first}-{last}"
        )
    link, free, shared = _link(entry["link"], name, what)
    error = _error(entry["error"], what)
    weight = _number(entry.get("weight", 1.0), f"{what} weight")
    if weight <= 0:
        raise InvalidValueError(f"{what}: weight must be > 0, got {weight!r}")
    average = entry.get("average", False)
    if not isinstance(average, bool):
        raise InvalidValueError(f"{what}: average must be true or false, got {average!r}")
    obs = Observation(
        name, series, variable, link, error, weight, average, own_fit, own_hold, shared=shared
    )
    # check the data against the link and error model now (positivity, base years, breaks)
    try:
        data = link.observe(series, obs.points(fit))
        error.log_likelihood(np.clip(data, 1e-9, None), data, None)
    except DataError as exc:
        raise DataError(f"{what}, fit period {fit[0]}-{fit[1]}: {exc}") from None
    return obs, free


def _check_variable(
    variable: str,
    variables: Iterable[str] | None,
    subscripts: Mapping[str, Iterable[str]] | None,
    what: str,
) -> None:
    name, elements = parse_variable(variable)
    if variables is not None:
        names = list(variables)
        if canonical(name) not in {canonical(v) for v in names}:
            raise unknown_name("variable", name, names)
    if subscripts is not None and elements:
        known = sorted({str(e) for values in subscripts.values() for e in values})
        for element in elements:
            if element not in known:
                raise unknown_name("subscript element", element, known)
