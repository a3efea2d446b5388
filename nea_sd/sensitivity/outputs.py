"""Output metrics: what a sweep reads from each run, as one number or one trajectory per run.

Each *kind* is a frozen dataclass with ``from_table`` (build and check it from a spec table)
and ``evaluate`` (numpy values per run from a batch result). :data:`OUTPUT_KINDS` is the
registry the spec's ``kind = ...`` looks up; other analyses add kinds by passing
``kinds={**OUTPUT_KINDS, "mine": Mine}`` to ``build_problem`` — nothing global is modified.
A kind with ``needs_loops = True`` (:class:`LoopDominance`) reads Loops-That-Matter scores,
which the evaluator computes beside the run (``loop_named``, ``loop_shares``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

import numpy as np
import xarray as xr

from nea_sd.errors import InvalidValueError, NeaSdError, unknown_name
from nea_sd.outcomes import ACTIVE, Vocabulary
from nea_sd.sensitivity.spec import unknown_in
from nea_sd.sketch.parse import canonical

#: headline outcome -> attribute of :class:`~nea_sd.outcomes.Vocabulary`
ALIASES = {
    "security_trust": "security_trust",
    "societal_trust": "societal_trust",
    "min_security_trust": "min_security_trust",
    "arms_burden": "arms_burden",
    "functional_regime": "functional",
    "exchange": "exchange",
    "backfire": "backfire",
}


@dataclass(frozen=True)
class Context:
    """What building a metric needs to know about the model (names, time, vocabulary)."""

    variables: tuple[str, ...]
    initial: float
    final: float
    saveper: float
    year: float
    vocabulary: Vocabulary | None = None
    loop_names: tuple[str, ...] = ()  # the model's named loops (models/loops.toml)

    def variable(self, name: str) -> str:
        """Model spelling of ``name``, or of the variable behind a headline outcome alias."""
        if name in ALIASES:
            if self.vocabulary is None:
                raise NeaSdError(
                    f"output variable {name!r} is a headline outcome of the sequencing models; "
                    "this model has none: name a model variable instead"
                )
            return str(getattr(self.vocabulary, ALIASES[name]))
        by_key = {canonical(v): v for v in self.variables}
        if canonical(name) not in by_key:
            raise unknown_name("output variable", name, list(self.variables) + list(ALIASES))
        return by_key[canonical(name)]

    def check_time(self, label: str, value: Any) -> float:
        number = _number(label, value)
        if not self.initial - 1e-9 <= number <= self.final + 1e-9:
            raise InvalidValueError(
                f"{label} = {number:g} is outside the simulated period "
                f"{self.initial:g}-{self.final:g}"
            )
        return number


class OutputKind(Protocol):
    """The interface of an output kind (a frozen dataclass class)."""

    time_resolved: ClassVar[bool]
    name: str

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], context: Context) -> OutputKind: ...

    @property
    def variables(self) -> tuple[str, ...]: ...

    def times(self) -> np.ndarray | None: ...

    def evaluate(self, result: xr.Dataset) -> np.ndarray: ...


def _number(label: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"{label} must be a number, got {value!r}")
    return float(value)


def _check_keys(name: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in ("kind", *allowed):
            raise unknown_in(f"output {name!r}", "setting", key, ("kind", *allowed))


def _series(result: xr.Dataset, variable: str, element: tuple[str, ...] | None) -> np.ndarray:
    """(run, time) values: one element, or the total over the variable's subscripts."""
    data = result[variable]
    extra = [d for d in data.dims if d not in ("run", "time")]
    if element is not None:
        data = data.sel(dict(zip(extra, element, strict=True)))
    elif extra:
        data = data.sum(extra)
    return np.asarray(data.transpose("run", "time").values, dtype=float)


def _interp_columns(values: np.ndarray, times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Linear interpolation of every run's series (run, time) at the times ``at``."""
    right = np.clip(np.searchsorted(times, at, side="left"), 1, len(times) - 1)
    left = right - 1
    span = times[right] - times[left]
    weight = np.where(span > 0, (at - times[left]) / np.where(span > 0, span, 1.0), 0.0)
    return values[:, left] * (1 - weight) + values[:, right] * weight


def _element(name: str, table: Mapping[str, Any]) -> tuple[str, ...] | None:
    raw = table.get("element")
    if raw is None:
        return None
    if isinstance(raw, str):
        return tuple(e.strip() for e in raw.split(","))
    return tuple(str(e) for e in raw)


def _variable_table(name: str, table: Mapping[str, Any], context: Context) -> tuple[str, Any]:
    if "variable" not in table:
        raise InvalidValueError(
            f'output {name!r} needs a variable (e.g. variable = "security_trust")'
        )
    return context.variable(str(table["variable"])), _element(name, table)


@dataclass(frozen=True)
class Level:
    """The variable's value at ``year`` (interpolated between saved times)."""

    time_resolved: ClassVar[bool] = False
    name: str
    variable: str
    year: float
    element: tuple[str, ...] | None = None

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], context: Context) -> Level:
        _check_keys(name, table, ("variable", "element", "year"))
        variable, element = _variable_table(name, table, context)
        year = context.check_time(f"year of output {name!r}", table.get("year", context.year))
        return cls(name, variable, year, element)

    @property
    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    def times(self) -> np.ndarray | None:
        return None

    def evaluate(self, result: xr.Dataset) -> np.ndarray:
        values = _series(result, self.variable, self.element)
        return _interp_columns(values, result["time"].values, np.array([self.year]))[:, 0]


@dataclass(frozen=True)
class Integral:
    """The variable integrated over [start, end] (trapezoid over saved times): exposure."""

    time_resolved: ClassVar[bool] = False
    name: str
    variable: str
    start: float
    end: float
    element: tuple[str, ...] | None = None

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], context: Context) -> Integral:
        _check_keys(name, table, ("variable", "element", "start", "end"))
        variable, element = _variable_table(name, table, context)
        start = context.check_time(f"start of output {name!r}", table.get("start", context.initial))
        end = context.check_time(f"end of output {name!r}", table.get("end", context.final))
        if not end > start:
            raise InvalidValueError(f"output {name!r}: end {end:g} must be after start {start:g}")
        return cls(name, variable, start, end, element)

    @property
    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    def times(self) -> np.ndarray | None:
        return None

    def evaluate(self, result: xr.Dataset) -> np.ndarray:
        times = result["time"].values
        values = _series(result, self.variable, self.element)
        inside = (times > self.start) & (times < self.end)
        grid = np.concatenate([[self.start], times[inside], [self.end]])
        sampled = _interp_columns(values, times, grid)
        return np.trapezoid(sampled, grid, axis=1)


@dataclass(frozen=True)
class TimeToThreshold:
    """Years from ``start`` until the variable first reaches ``threshold`` (``above`` or
    ``below``). Runs that never reach it are censored at ``end - start``, so that every run has
    a finite value the estimators can use."""

    time_resolved: ClassVar[bool] = False
    name: str
    variable: str
    threshold: float
    start: float
    end: float
    direction: str = "above"
    element: tuple[str, ...] | None = None

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], context: Context) -> TimeToThreshold:
        _check_keys(name, table, ("variable", "element", "threshold", "start", "end", "direction"))
        variable, element = _variable_table(name, table, context)
        if "threshold" not in table:
            raise InvalidValueError(f"output {name!r} needs a threshold (e.g. threshold = 0.5)")
        threshold = _number(f"threshold of output {name!r}", table["threshold"])
        start = context.check_time(f"start of output {name!r}", table.get("start", context.initial))
        end = context.check_time(f"end of output {name!r}", table.get("end", context.final))
        direction = str(table.get("direction", "above"))
        if direction not in ("above", "below"):
            raise unknown_in(f"output {name!r}", "direction", direction, ("above", "below"))
        if not end > start:
            raise InvalidValueError(f"output {name!r}: end {end:g} must be after start {start:g}")
        return cls(name, variable, threshold, start, end, direction, element)

    @property
    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    def times(self) -> np.ndarray | None:
        return None

    def evaluate(self, result: xr.Dataset) -> np.ndarray:
        times = result["time"].values
        values = _series(result, self.variable, self.element)
        window = (times >= self.start - 1e-9) & (times <= self.end + 1e-9)
        reached = (
            values >= self.threshold if self.direction == "above" else values <= self.threshold
        )
        reached &= window
        first = np.where(reached.any(axis=1), times[np.argmax(reached, axis=1)], self.end)
        return first - self.start


@dataclass(frozen=True)
class StageReached:
    """Highest cooperation stage running at ``year`` (0 none .. 4 institutions)."""

    time_resolved: ClassVar[bool] = False
    name: str
    year: float
    stages: tuple[tuple[str, str | None], ...]

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], context: Context) -> StageReached:
        _check_keys(name, table, ("year",))
        if context.vocabulary is None:
            raise NeaSdError(
                f"output {name!r} (stage_reached) needs a sequencing model (dyad or nea)"
            )
        year = context.check_time(f"year of output {name!r}", table.get("year", context.final))
        stages = tuple((s.variable, s.element) for s in context.vocabulary.stages)
        return cls(name, year, stages)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for v, _ in self.stages))

    def times(self) -> np.ndarray | None:
        return None

    def evaluate(self, result: xr.Dataset) -> np.ndarray:
        times = result["time"].values
        reached = np.zeros(result.sizes["run"])
        for order, (variable, element) in enumerate(self.stages, start=1):
            values = _series(result, variable, None if element is None else (element,))
            at = _interp_columns(values, times, np.array([self.year]))[:, 0]
            reached = np.where(at > ACTIVE, order, reached)
        return reached


@dataclass(frozen=True)
class Trajectory:
    """The variable at a grid of times: indices become time-resolved (index over time)."""

    time_resolved: ClassVar[bool] = True
    name: str
    variable: str
    grid: tuple[float, ...]
    element: tuple[str, ...] | None = None

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], context: Context) -> Trajectory:
        _check_keys(name, table, ("variable", "element", "start", "end", "every"))
        variable, element = _variable_table(name, table, context)
        start = context.check_time(f"start of output {name!r}", table.get("start", context.initial))
        end = context.check_time(f"end of output {name!r}", table.get("end", context.final))
        default_every = max(context.saveper, (context.final - context.initial) / 50)
        every = _number(f"every of output {name!r}", table.get("every", default_every))
        if not every > 0 or not end > start:
            raise InvalidValueError(
                f"output {name!r}: needs end > start and every > 0 (got {start:g}..{end:g} "
                f"every {every:g})"
            )
        grid = np.arange(start, end + every * 1e-6, every)
        return cls(name, variable, tuple(float(t) for t in grid), element)

    @property
    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    def times(self) -> np.ndarray | None:
        return np.array(self.grid)

    def evaluate(self, result: xr.Dataset) -> np.ndarray:
        values = _series(result, self.variable, self.element)
        return _interp_columns(values, result["time"].values, np.array(self.grid))


STATISTICS = ("share", "first_dominance", "overtake")


def _names(name: str, table: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple:
    raw = table.get(key, default)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(r, str) for r in raw):
        raise InvalidValueError(f'output {name!r}: {key} takes loop names, e.g. ["R1", "R2"]')
    return tuple(raw)


@dataclass(frozen=True)
class LoopDominance:
    """Loop dominance (Loops That Matter) of a named loop set or a polarity set, per run.

    ``statistic``: ``share`` — the set's mean relative-score share over [start, end] (0..1);
    ``first_dominance`` — the first saved time in [start, end] at which the share reaches
    ``threshold`` (default 1/2: the set explains at least half), ``end`` if it never does;
    ``overtake`` — the saved time from which the trust loops' share (``loops``, default R1,
    R2) stays above the spirals' (``spirals``, default R3, R4, R6: MODEL.md §4) to ``end``,
    ``end`` if they are not ahead at the end. Censored years read ``end`` so that every run
    has a finite value for the estimators.
    """

    time_resolved: ClassVar[bool] = False
    needs_loops: ClassVar[bool] = True
    name: str
    statistic: str
    loops: tuple[str, ...]
    polarity: str | None
    spirals: tuple[str, ...]
    start: float
    end: float
    threshold: float = 0.5

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], context: Context) -> LoopDominance:
        from nea_sd.loops.dominance import SPIRALS, TRUST_LOOPS, expand, present

        keys = ("loops", "polarity", "statistic", "start", "end", "threshold", "spirals")
        _check_keys(name, table, keys)
        statistic = str(table.get("statistic", "share"))
        if statistic not in STATISTICS:
            raise unknown_in(f"output {name!r}", "statistic", statistic, STATISTICS)
        where = f"output {name!r}"
        polarity = table.get("polarity")
        if polarity is not None:
            if polarity not in ("R", "B"):
                raise InvalidValueError(f'{where}: polarity must be "R" or "B", got {polarity!r}')
            if "loops" in table or statistic == "overtake":
                raise InvalidValueError(
                    f"{where}: give either loops or polarity (overtake compares loop sets)"
                )
        available = context.loop_names
        loops: tuple[str, ...] = ()
        spirals: tuple[str, ...] = ()
        if polarity is None:
            if "loops" in table:
                loops = expand(_names(name, table, "loops", ()), available, where)
            elif statistic == "overtake":
                loops = present(TRUST_LOOPS, available)
            else:
                raise InvalidValueError(
                    f'{where} needs loops (e.g. loops = ["R1", "R2"]) or polarity = "R"'
                )
            if statistic == "overtake":
                spirals = (
                    expand(_names(name, table, "spirals", ()), available, where)
                    if "spirals" in table
                    else present(SPIRALS, available)
                )
                if not loops or not spirals:
                    raise InvalidValueError(
                        f"{where}: this model lacks the trust loops or the spirals of "
                        "MODEL.md §4; name them with loops = [...] and spirals = [...]"
                    )
        elif "spirals" in table:
            raise InvalidValueError(f'{where}: spirals applies to statistic = "overtake" only')
        start = context.check_time(f"start of {where}", table.get("start", context.initial))
        end = context.check_time(f"end of {where}", table.get("end", context.final))
        if not end > start:
            raise InvalidValueError(f"{where}: end {end:g} must be after start {start:g}")
        threshold = _number(f"threshold of {where}", table.get("threshold", 0.5))
        if not 0 < threshold <= 1:
            raise InvalidValueError(f"{where}: threshold must lie in (0, 1], got {threshold:g}")
        return cls(name, statistic, loops, polarity, spirals, start, end, threshold)

    @property
    def variables(self) -> tuple[str, ...]:
        return ()

    def times(self) -> np.ndarray | None:
        return None

    def evaluate(self, result: xr.Dataset) -> np.ndarray:
        from nea_sd.loops.dominance import first_reach, mean_share, overtake, set_share

        if "loop_named" not in result:
            raise NeaSdError(f"output {self.name!r} needs loop scores; run it through a sweep")
        times = result["loop_time"].values
        if self.statistic == "overtake":
            return overtake(result, self.loops, self.spirals, self.start, self.end)
        share = set_share(result, self.loops, self.polarity).transpose("run", "loop_time").values
        if self.statistic == "share":
            return mean_share(share, times, self.start, self.end)
        return first_reach(share >= self.threshold, times, self.start, self.end)


OUTPUT_KINDS: Mapping[str, type] = MappingProxyType(
    {
        "level": Level,
        "integral": Integral,
        "time_to_threshold": TimeToThreshold,
        "stage_reached": StageReached,
        "trajectory": Trajectory,
        "loop_dominance": LoopDominance,
    }
)


def build_metric(
    name: str, table: Mapping[str, Any], context: Context, kinds: Mapping[str, type] = OUTPUT_KINDS
) -> Any:
    """The metric of kind ``table['kind']`` (default ``level``), checked against the model."""
    kind = str(table.get("kind", "level"))
    if kind not in kinds:
        raise unknown_in(f"output {name!r}", "kind", kind, kinds)
    return kinds[kind].from_table(name, table, context)


def default_outputs(context: Context) -> dict[str, dict[str, Any]]:
    """Outputs of a sweep whose spec names none: the sequencing headlines."""
    if context.vocabulary is None:
        raise NeaSdError(
            "this model has no headline outcomes; name the outputs in a spec "
            "([outputs.NAME] with kind and variable) and pass it with --spec"
        )
    year = context.year
    return {
        f"security_trust_{year:g}": {"kind": "level", "variable": "security_trust", "year": year},
        f"societal_trust_{year:g}": {"kind": "level", "variable": "societal_trust", "year": year},
        "security_trust_integral": {"kind": "integral", "variable": "security_trust"},
        "stage_reached": {"kind": "stage_reached"},
        "security_trust_over_time": {"kind": "trajectory", "variable": "security_trust"},
    }
