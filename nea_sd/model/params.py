"""Parameters as first-class objects: name, value, units, range, documentation, view."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nea_sd.errors import InvalidValueError, OutOfRangeError, unknown_name
from nea_sd.model.xmile import is_xmile, xmile_views
from nea_sd.sketch.parse import canonical, read_sketch

CONTROL = {"initial time", "final time", "time step", "saveper"}


@dataclass(frozen=True)
class Parameter:
    """A constant of the model that a scenario, sweep or calibration may change.

    ``value`` is a float, or a numpy array over ``dims`` for subscripted constants;
    ``low``/``high`` come from the range in the units field (``nan`` where not given).
    """

    name: str
    py_name: str
    value: float | np.ndarray
    dims: tuple[str, ...]
    coords: tuple[tuple[str, ...], ...]
    units: str
    low: float
    high: float
    doc: str
    view: str

    @property
    def has_range(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def contains(self, value: float) -> bool:
        """True when ``value`` lies in the declared range (an open end is unbounded)."""
        low_ok = math.isnan(self.low) or value >= self.low
        high_ok = math.isnan(self.high) or value <= self.high
        return low_ok and high_ok

    def index_of(self, elements: tuple[str, ...]) -> tuple[int, ...]:
        """Position of ``elements`` (one per dimension) in the value array."""
        if len(elements) != len(self.dims):
            raise InvalidValueError(
                f"parameter {self.name!r} has subscripts [{', '.join(self.dims)}]; "
                f"got {len(elements)} element(s) [{', '.join(elements)}]"
            )
        index = []
        for element, dim, valid in zip(elements, self.dims, self.coords, strict=True):
            lowered = [v.lower() for v in valid]
            if element.lower() not in lowered:
                raise unknown_name(f"element of {dim}", element, valid)
            index.append(lowered.index(element.lower()))
        return tuple(index)

    def check_range(self, value: float | np.ndarray, key: str | None = None) -> None:
        """Raise :class:`OutOfRangeError` if any element lies outside the declared range."""
        flat = np.asarray(value, dtype=float).ravel()
        bad = [v for v in flat if not self.contains(v)]
        if bad:
            raise OutOfRangeError(
                f"{key or self.name!r} = {bad[0]:g} is outside the range {self.range_text} "
                f"declared in the model; pass --allow-out-of-range to run it anyway"
            )

    @property
    def range_text(self) -> str:
        low = "-inf" if math.isnan(self.low) else f"{self.low:g}"
        high = "inf" if math.isnan(self.high) else f"{self.high:g}"
        return f"[{low}, {high}]"


class ParameterTable(Mapping[str, Parameter]):
    """Read-only mapping name -> :class:`Parameter`; names are matched case-insensitively."""

    def __init__(self, parameters: list[Parameter]):
        self._by_key = {canonical(p.name): p for p in parameters}
        self._order = [p.name for p in parameters]

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._by_key[canonical(name)]
        except KeyError:
            raise unknown_name("parameter", name, self._order) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical(name) in self._by_key

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def value_of(self, key: str) -> float:
        """The model's own value of ``key`` (``Name`` or ``Name[ELEMENT,...]``)."""
        name, elements = split_element_key(key)
        param = self[name]
        held = np.asarray(param.value)
        return float(held[param.index_of(elements)] if elements else held)

    def resolve(
        self, overrides: Mapping[str, Any], *, allow_out_of_range: bool = False
    ) -> dict[str, float | np.ndarray]:
        """Full values of the overridden parameters, keyed by their model names.

        Keys are parameter names, optionally with elements (``"Base rival weight[US,CN]"``);
        element overrides are merged into a copy of the default array. Every value is checked
        against the parameter's range unless ``allow_out_of_range``.
        """
        resolved: dict[str, float | np.ndarray] = {}
        for key, raw in overrides.items():
            name, elements = split_element_key(key)
            param = self[name]
            if elements is None:
                value = _as_float_array(raw, key, param)
                if param.dims and value.ndim == 0:
                    value = np.full(np.shape(param.value), float(value))
                elif value.shape != np.shape(param.value):
                    raise InvalidValueError(
                        f"parameter {param.name!r} takes shape {np.shape(param.value)}, "
                        f"got {value.shape}"
                    )
            else:
                base = resolved.get(param.name, param.value)
                value = np.array(base, dtype=float, copy=True)
                value[param.index_of(elements)] = float(_as_float_array(raw, key, param))
            resolved[param.name] = value if param.dims else float(value)
            if not allow_out_of_range:
                param.check_range(value, key)
        return resolved

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: value (scalar or 'array'), units, range, view, documentation."""
        rows = []
        for p in self._by_key.values():
            value = p.value
            shown = f"{value:g}" if np.ndim(value) == 0 else _array_summary(np.asarray(value))
            rows.append(
                {
                    "name": p.name,
                    "value": shown,
                    "units": p.units,
                    "range": p.range_text,
                    "subscripts": ",".join(p.dims),
                    "view": p.view,
                    "documentation": p.doc,
                }
            )
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        return f"<ParameterTable: {len(self)} parameters>"


def split_element_key(key: str) -> tuple[str, tuple[str, ...] | None]:
    """``"Name[US, CN]"`` -> ``("Name", ("US", "CN"))``; ``"Name"`` -> ``("Name", None)``."""
    text = key.strip()
    if not text.endswith("]") or "[" not in text:
        return text, None
    name, _, inner = text[:-1].partition("[")
    return name.strip(), tuple(e.strip() for e in inner.split(","))


def _as_float_array(raw: Any, key: str, param: Parameter) -> np.ndarray:
    try:
        value = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"value {raw!r} for {key!r} is not a number ({param.units or 'dimensionless'})"
        ) from None
    if not np.all(np.isfinite(value)):
        raise InvalidValueError(f"value {raw!r} for {key!r} is not a finite number")
    return value


def _array_summary(values: np.ndarray) -> str:
    return f"{values.min():g}..{values.max():g} ({values.size} el.)"


def _limit(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def build_parameter_table(model_path: Path, doc: pd.DataFrame, pysd_model: Any) -> ParameterTable:
    """Collect the constants of a loaded PySD model, with views from the sketch."""
    if is_xmile(model_path):  # XMILE (#15): views from its <view> elements
        views = xmile_views(model_path)
    else:
        views = read_sketch(model_path).primary_view()
    params = []
    for row in doc.to_dict("records"):
        real, py_name = row["Real Name"], row["Py Name"]
        if row["Type"] != "Constant" or row["Subtype"] != "Normal" or canonical(real) in CONTROL:
            continue
        raw = getattr(pysd_model.components, py_name)()
        dims = tuple(getattr(raw, "dims", ()))
        value = np.asarray(raw, dtype=float) if dims else float(raw)
        coords = tuple(tuple(str(c) for c in raw.coords[d].values) for d in dims)
        low, high = (_limit(v) for v in (tuple(row["Limits"]) + (None, None))[:2])
        units = row["Units"] if isinstance(row["Units"], str) else ""
        comment = row["Comment"] if isinstance(row["Comment"], str) else ""
        params.append(
            Parameter(
                name=real,
                py_name=py_name,
                value=value,
                dims=dims,
                coords=coords,
                units=units,
                low=low,
                high=high,
                doc=" ".join(comment.split()),
                view=views.get(canonical(real), ""),
            )
        )
    params.sort(key=lambda p: p.name.lower())
    return ParameterTable(params)
