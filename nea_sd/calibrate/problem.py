"""A calibration problem: a spec bound to a compiled model, scored over batches of parameter sets.

:class:`Simulator` turns a parameter matrix ``X`` (runs, k) in the spec's column order into the
batch engine's parameter sets and returns the observed variables as (runs, times) arrays;
:class:`Problem` scores those outputs against the data (log-likelihood, whitened residuals,
predictions on the data scale). They are separate so that many data sets (synthetic coverage
studies, simulation-based calibration) can share one simulation batch.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nea_sd.calibrate.observation import LogitNormal, LogNormal, Normal, Observation, Poisson
from nea_sd.calibrate.spec import CalibrationSpec, parse_variable
from nea_sd.errors import DataError, InvalidValueError, unknown_name
from nea_sd.model.params import ParameterTable, split_element_key

PENALTY = 1e3  # whitened residual given to a point a run cannot predict (diverged, <= 0)


@dataclass(frozen=True)
class Outputs:
    """Observed model variables for a batch: ``values[variable]`` is (runs, times)."""

    values: Mapping[str, np.ndarray]
    years: np.ndarray

    @property
    def runs(self) -> int:
        return next(iter(self.values.values())).shape[0]

    def take(self, rows: slice | np.ndarray) -> Outputs:
        return Outputs({k: v[rows] for k, v in self.values.items()}, self.years)

    @staticmethod
    def concat(parts: list[Outputs]) -> Outputs:
        keys = parts[0].values
        return Outputs(
            {k: np.concatenate([p.values[k] for p in parts]) for k in keys}, parts[0].years
        )


class Simulator:
    """The spec's free model parameters mapped onto a :class:`~nea_sd.engine.batch.BatchModel`.

    Link constants (``"<obs>.alpha"``) are columns of ``X`` too but do not reach the model.
    """

    def __init__(
        self,
        spec: CalibrationSpec,
        batch: Any,
        parameters: ParameterTable,
        time_step: float | None = None,
        backend: str = "numpy",
    ):
        self.spec = spec
        self.time_step = time_step  # None: the model's TIME STEP
        self.backend = backend  # the batch engine's: "numpy" or "numba" (compiled)
        self.batch = batch
        self._targets: list[tuple[str, tuple[int, ...] | None, np.ndarray]] = []
        for p in spec.parameters:
            name, elements = split_element_key(p.name)
            param = parameters[name]
            index = param.index_of(elements) if elements is not None else None
            self._targets.append((param.name, index, np.asarray(param.value, dtype=float)))
        control = batch.control
        self.initial = float(control["initial_time"])
        self.model_final = float(control["final_time"])
        self.outputs = sorted({parse_variable(o.variable)[0] for o in spec.observations})
        _check_periods(spec, self.initial, self.model_final)
        self.final = min(self.model_final, last_needed(spec))
        step = float(time_step or control["time_step"])
        saveper = float(control["saveper"])
        averaged = any(o.average for o in spec.observations)
        if averaged and saveper >= 1:
            saveper = 0.25 if step <= 0.25 else step
        self.saveper = saveper
        self.calls = 0
        self.runs = 0
        self.fixed: dict[str, np.ndarray] = {}  # constants set by a structural variant

    def with_constants(
        self, overrides: Mapping[str, float], parameters: ParameterTable
    ) -> Simulator:
        """A copy that runs with ``overrides`` (``"Name"`` or ``"Name[el]"`` → value) in place
        of the model's constants: a structural variant switched by constants. A constant the
        spec fits cannot be fixed here (drop it from the spec's parameters instead)."""
        free = {p.name for p in self.spec.parameters}
        fixed = {k: v.copy() for k, v in self.fixed.items()}
        for key, value in overrides.items():
            name, elements = split_element_key(key)
            param = parameters[name]
            if key in free or param.name in free:
                raise InvalidValueError(
                    f"{key!r} is a free parameter of {self.spec.path.name}; a variant can only "
                    "set constants the spec does not fit"
                )
            array = np.array(fixed.get(param.name, param.value), dtype=float)
            if elements is None:
                array[...] = float(value)
            else:
                array[param.index_of(elements)] = float(value)
            fixed[param.name] = array
        new = copy.copy(self)
        new.fixed = fixed
        new._targets = [(n, i, fixed.get(n, d)) for n, i, d in self._targets]
        new.calls = new.runs = 0
        return new

    def parameter_sets(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Columns of ``X`` (runs, k) as the batch engine's name -> (runs, *dims) arrays."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        n = X.shape[0]
        sets: dict[str, np.ndarray] = {}
        for j, (name, index, default) in enumerate(self._targets):
            if name not in sets:
                sets[name] = np.array(np.broadcast_to(default, (n, *default.shape)))
            if index is None:
                sets[name][...] = X[:, j].reshape((n,) + (1,) * default.ndim)
            else:
                sets[name][(slice(None), *index)] = X[:, j]
        for name, value in self.fixed.items():
            if name not in sets:
                sets[name] = np.array(np.broadcast_to(value, (n, *value.shape)))
        return sets

    def run(self, X: np.ndarray) -> Outputs:
        """Simulate every row of ``X``; diverged runs come back as NaN (scored impossible).

        Rows that differ only in link constants (finite differences of a scale factor) share
        one simulation.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        model_cols = X[:, : len(self._targets)]
        unique, inverse = np.unique(model_cols, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        if len(unique) < len(X):
            out = self._run(unique)
            self.runs += len(X) - len(unique)  # counted as requested
            return Outputs({k: v[inverse] for k, v in out.values.items()}, out.years)
        return self._run(X)

    def _run(self, X: np.ndarray) -> Outputs:
        ds = self.batch.simulate(
            self.parameter_sets(X),
            outputs=self.outputs,
            final_time=self.final,
            time_step=self.time_step,
            saveper=self.saveper,
            nonfinite="nan",
            backend=self.backend,
        )
        self.calls += 1
        self.runs += X.shape[0]
        values = {}
        for obs in self.spec.observations:
            if obs.variable in values:
                continue
            base, elements = parse_variable(obs.variable)
            da = ds[_match(base, ds.data_vars)]
            extra = [d for d in da.dims if d not in ("run", "time")]
            if len(elements) != len(extra):
                raise InvalidValueError(
                    f"observation {obs.name!r}: {obs.variable!r} names {len(elements)} "
                    f"subscript(s) but the model variable has {len(extra)} ({', '.join(extra)})"
                )
            for dim, element in zip(extra, elements, strict=True):
                valid = [str(v) for v in da[dim].values]
                if element not in valid:
                    raise unknown_name(f"element of {dim}", element, valid)
                da = da.isel({dim: valid.index(element)})
            values[obs.variable] = np.asarray(da.transpose("run", "time").values, dtype=float)
        return Outputs(values, np.asarray(ds["time"].values, dtype=float))


def _match(base: str, names: Any) -> str:
    from nea_sd.sketch.parse import canonical

    by_key = {canonical(str(n)): str(n) for n in names}
    if canonical(base) not in by_key:
        raise unknown_name("variable", base, [str(n) for n in names])
    return by_key[canonical(base)]


def last_needed(spec: CalibrationSpec) -> float:
    """The last time a fit of ``spec`` simulates: its last observation inside a fit or holdout
    period (a year later for yearly means)."""
    return float(
        max(
            _last_needed(o, [p for p in (spec.period_of(o), spec.period_of(o, True)) if p])
            for o in spec.observations
        )
    )


def horizon(spec: CalibrationSpec) -> float:
    """Where a partial model of ``spec`` may end: :func:`last_needed`, and never before the
    end of a period the spec declares (periods must lie inside the model)."""
    ends = [p[1] for p in (spec.fit_period, spec.holdout_period) if p]
    for obs in spec.observations:
        ends += [p[1] for p in (obs.fit_period, obs.holdout_period) if p]
    return max(last_needed(spec), *map(float, ends))


def _last_needed(obs: Observation, periods: list[tuple[int, int]]) -> float:
    years = obs.series.years
    inside = np.zeros(years.shape, bool)
    for lo, hi in periods:
        inside |= (years >= lo) & (years <= hi)
    if not inside.any():
        return -np.inf
    return float(years[inside].max()) + (1.0 if obs.average else 0.0)


def _check_periods(spec: CalibrationSpec, initial: float, final: float) -> None:
    """Data periods must lie inside the model's time span, with data in the fit period."""
    name = spec.model.name
    for label, period in (("fit", spec.fit_period), ("holdout", spec.holdout_period)):
        if period is None:
            continue
        lo, hi = period
        if hi < initial or lo > final:
            raise DataError(
                f"{spec.path.name}: {label} period {lo}-{hi} does not overlap the model "
                f"{name} ({initial:g}-{final:g}); change [periods] {label}"
            )
        if lo < initial or hi > final:
            raise DataError(
                f"{spec.path.name}: {label} period {lo}-{hi} goes outside the model {name} "
                f"({initial:g}-{final:g}); keep [periods] {label} within INITIAL/FINAL TIME"
            )
    for obs in spec.observations:
        years = obs.series.years
        for label, period in (("fit", obs.fit_period), ("holdout", obs.holdout_period)):
            if period is not None and (period[0] < initial or period[1] > final):
                raise DataError(
                    f"{spec.path.name}: observation {obs.name!r} {label} period "
                    f"{period[0]}-{period[1]} goes outside the model {name} "
                    f"({initial:g}-{final:g})"
                )
        lo, hi = spec.period_of(obs)
        if not np.any((years >= lo) & (years <= hi)):
            raise DataError(
                f"{spec.path.name}: observation {obs.name!r} has no data in the fit period "
                f"{lo}-{hi} (series {obs.series.name!r} covers "
                f"{obs.series.span[0]}-{obs.series.span[1]})"
            )


# -- scoring ----------------------------------------------------------------------------------


def _link_params(obs: Observation, names: tuple[str, ...], X: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for key in obs.link.free:
        col = names.index(obs.link_name(key))
        out[key] = X[:, col]
    return out


def whitenable(obs: Observation) -> bool:
    """True when −log L is ½ Σ r² + const for residuals r that do not depend on σ-parameters
    (Gaussian errors on some scale; Poisson counts through their deviance residuals)."""
    return isinstance(obs.error, Normal | LogNormal | LogitNormal | Poisson)


def whitened(
    obs: Observation,
    pred: np.ndarray,
    data: np.ndarray,
    flags: Mapping,
    years: np.ndarray | None = None,
) -> np.ndarray:
    """Residuals r with −log L = ½ Σ r² + const (weights, scale and AR(1) folded in);
    PENALTY where impossible. ``years`` place the AR(1) lags (default: consecutive)."""
    if not whitenable(obs):
        raise InvalidValueError(f"{type(obs.error).__name__} error has no whitened residuals")
    if years is None:
        years = np.arange(np.asarray(data).shape[-1], dtype=float)
    r, _ = obs.innovations(pred, data, flags, years)
    return np.where(np.isfinite(r), np.sqrt(obs.weight) * r, PENALTY)


class Problem:
    """A spec's likelihood over simulated outputs (one data set; many can share a simulator)."""

    def __init__(self, spec: CalibrationSpec):
        self.spec = spec
        self.names = spec.names
        self.whitenable = all(whitenable(o) for o in spec.observations)
        self.n_points = sum(len(o.points(spec.period_of(o))) for o in spec.observations)

    def predictions(
        self, outputs: Outputs, X: np.ndarray, *, holdout: bool = False
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, dict]]:
        """obs name -> (years, prediction (runs, points), data, flags) for the period."""
        out = {}
        X = np.atleast_2d(X)
        for obs in self.spec.observations:
            period = self.spec.period_of(obs, holdout)
            if period is None:
                continue
            years = obs.series.years
            years = years[(years >= period[0]) & (years <= period[1])]
            if not years.size:
                continue
            params = _link_params(obs, self.names, X)
            pred, data, flags = obs.predict(
                outputs.values[obs.variable], outputs.years, years, params
            )
            out[obs.name] = (years, np.atleast_2d(pred), data, flags)
        return out

    def residuals(self, outputs: Outputs, X: np.ndarray, *, counts: bool = True) -> np.ndarray:
        """Whitened residuals (runs, n_points) on the fit period (``counts=False``: only the
        Gaussian observations', without the Poisson deviance residuals)."""
        parts = [
            whitened(self._obs(name), pred, data, flags, years)
            for name, (years, pred, data, flags) in self.predictions(outputs, X).items()
            if counts or not isinstance(self._obs(name).error, Poisson)
        ]
        return np.concatenate(parts, axis=1) if parts else np.zeros((np.atleast_2d(X).shape[0], 0))

    def log_likelihood(self, outputs: Outputs, X: np.ndarray, *, holdout: bool = False):
        """Total weighted log-likelihood per run (−inf where a run cannot explain the data)."""
        X = np.atleast_2d(X)
        links = {n: X[:, i] for i, n in enumerate(self.names) if n in self._link_names}
        ll = self.spec.log_likelihood(outputs.values, outputs.years, links, holdout=holdout)
        ll = np.broadcast_to(np.asarray(ll, dtype=float), (X.shape[0],))
        return np.where(np.isnan(ll), -np.inf, ll)

    def log_posterior(self, outputs: Outputs, X: np.ndarray) -> np.ndarray:
        lp = self.spec.log_prior(X)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(lp), lp + self.log_likelihood(outputs, X), -np.inf)

    @property
    def _link_names(self) -> set[str]:
        return {p.name for p in self.spec.link_parameters}

    def _obs(self, name: str) -> Observation:
        return next(o for o in self.spec.observations if o.name == name)


def check_names(spec: CalibrationSpec, model: Any) -> None:
    """Every spec variable and parameter exists in ``model`` (a loaded :class:`Model`)."""
    from nea_sd.sketch.parse import canonical

    known = {canonical(v) for v in model.variable_names()}
    for obs in spec.observations:
        base, _ = parse_variable(obs.variable)
        if canonical(base) not in known:
            raise unknown_name("variable", base, model.variable_names())
    for p in spec.parameters:
        name, _ = split_element_key(p.name)
        model.parameters[name]  # noqa: B018 - raises UnknownNameError with suggestions


@dataclass(frozen=True, eq=False)
class Setup:
    """A spec with its loaded model, batch simulator and likelihood: what every fit needs."""

    spec: CalibrationSpec
    model: Any
    simulator: Simulator
    problem: Problem

    @property
    def bounds(self) -> np.ndarray:
        return self.spec.bounds


def prepare(
    spec_path: str | Any,
    data_dir: str | Any = None,
    spec: CalibrationSpec | None = None,
    *,
    time_step: float | None = None,
    backend: str = "numpy",
) -> Setup:
    """Load the spec's model (PySD, cached), check the spec against it, compile the batch engine.

    ``spec`` skips reading ``spec_path`` (synthetic data sets built in code); ``time_step``
    overrides the model's (coarser steps make synthetic-data studies cheaper); ``backend``: the
    batch engine's, ``"numpy"`` or ``"numba"`` (compiled once per model; much faster for small
    models whose many time steps dominate, e.g. nested sampling of the dyad).
    """
    from nea_sd.calibrate.spec import load_spec_for_model, read_model_path
    from nea_sd.engine.batch import compile_model
    from nea_sd.model import load_model

    model_path = spec.model if spec is not None else read_model_path(spec_path)
    model = load_model(model_path)
    if spec is None:
        spec = load_spec_for_model(spec_path, model, data_dir=data_dir)
    if spec.inputs:  # a partial model: other sectors' variables read from data
        from nea_sd.calibrate.inputs import derived_model

        model = load_model(derived_model(model, spec.inputs, horizon(spec)))
    check_names(spec, model)
    batch = compile_model(model.path)
    if backend not in ("numpy", "numba"):
        raise InvalidValueError(f"backend must be 'numpy' or 'numba', got {backend!r}")
    simulator = Simulator(spec, batch, model.parameters, time_step, backend)
    if spec.constants:  # a structural test: constants set for the whole fit
        simulator = simulator.with_constants(spec.constants, model.parameters)
    return Setup(spec, model, simulator, Problem(spec))
