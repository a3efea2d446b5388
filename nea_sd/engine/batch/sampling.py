"""Random parameter sets within the declared ranges (for benchmarks and equivalence tests)."""

from __future__ import annotations

from typing import Any

import numpy as np


def sample_within_ranges(parameters: Any, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` uniform draws of every parameter that declares a finite ``[low, high]`` range.

    ``parameters`` is a :class:`nea_sd.model.ParameterTable`; subscripted parameters get an
    independent draw per element, shaped ``(n, *dims)``.  Unranged parameters keep their value.
    """
    rng = np.random.default_rng(seed)
    sets: dict[str, np.ndarray] = {}
    for name in parameters:
        param = parameters[name]
        if not param.has_range or not param.high >= param.low:
            continue
        shape = (n, *np.shape(param.value))
        sets[param.name] = rng.uniform(param.low, param.high, size=shape)
    return sets


def run_slice(sets: dict[str, np.ndarray], run: int) -> dict[str, Any]:
    """The parameter values of one run (floats, or arrays for subscripted parameters)."""
    return {k: (float(v[run]) if v.ndim == 1 else np.asarray(v[run])) for k, v in sets.items()}
