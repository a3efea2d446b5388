"""Random parameter sets within the declared ranges (for benchmarks and equivalence tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def sample_within_ranges(
    parameters: Any, n: int, seed: int | list[int] = 0
) -> dict[str, np.ndarray]:
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


def sample_blocks(
    parameters: Any, n: int, block: int, seed: int = 0
) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """``(start, stop, sets)`` for ``n`` draws made ``block`` runs at a time, so that the draws
    of a huge ensemble never sit in memory at once.  The first block is what
    :func:`sample_within_ranges` draws with ``seed``; block ``k > 0`` uses the seed ``[seed, k]``.
    """
    for index, start in enumerate(range(0, n, block)):
        stop = min(n, start + block)
        key: Any = seed if index == 0 else [seed, index]
        yield start, stop, sample_within_ranges(parameters, stop - start, seed=key)
