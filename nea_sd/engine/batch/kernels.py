"""Scalar Vensim built-ins for the compiled backend (numba), same arithmetic as ``functions``.

Imported only when numba is installed; generated kernels import these by name.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SMALL_VENSIM = 1e-6
JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


@njit(**JIT)
def _quantum(a: float, b: float) -> float:
    return a if b < SMALL_VENSIM else b * np.trunc(a / b)


@njit(**JIT)
def _modulo(x: float, m: float) -> float:
    return x - _quantum(x, m)


@njit(**JIT)
def _xidz(a: float, b: float, x: float) -> float:
    return x if abs(b) < SMALL_VENSIM else a / b


@njit(**JIT)
def _zidz(a: float, b: float) -> float:
    return 0.0 if abs(b) < SMALL_VENSIM else a / b


@njit(**JIT)
def _pulse(t: float, start: float, width: float) -> float:
    return 1.0 if (start - SMALL_VENSIM <= t and t < start + width) else 0.0


@njit(**JIT)
def _pulse_train(t: float, start: float, repeat: float, width: float, end: float) -> float:
    if repeat == 0:
        return _pulse(t, start, width)
    if start <= t and t < end:
        return 1.0 if (t - start + SMALL_VENSIM) % repeat < width else 0.0
    return 0.0


@njit(**JIT)
def _interp_row(x: float, xs: np.ndarray, ys: np.ndarray) -> float:
    """As ``functions.interp_cells`` for one cell: clamped linear interpolation."""
    width = xs.shape[0]
    if x <= xs[0]:
        return ys[0]
    if x >= xs[width - 1]:
        return ys[width - 1]
    lo = 0
    for i in range(width):
        if xs[i] <= x:
            lo = i
    lo = min(lo, width - 2)
    span = xs[lo + 1] - xs[lo]
    if span > 0:
        return ys[lo] + (x - xs[lo]) * (ys[lo + 1] - ys[lo]) / span
    return ys[lo]


@njit(**JIT)
def _finite(values: np.ndarray) -> bool:
    for v in values.ravel():  # noqa: SIM110 - a plain loop is what numba compiles well
        if not np.isfinite(v):
            return False
    return True


@njit(**JIT)
def _finite1(value: float) -> bool:
    return np.isfinite(value)
