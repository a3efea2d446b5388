"""Vensim built-ins as numpy functions, in the namespace of the generated simulator.

Each one reproduces PySD's definition (``pysd.py_backend.functions``) elementwise, so that
IF-style branches become ``np.where`` over all runs at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nea_sd.errors import SimulationError

SMALL_VENSIM = 1e-6


def fit(value: Any, lead: int, shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast ``value`` to ``(lead or its own run count, *shape)`` (a read-only view)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == len(shape) + 1:
        return np.broadcast_to(arr, (arr.shape[0], *shape))
    return np.broadcast_to(arr, (lead, *shape))


def state(value: Any, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """A writable, full ``(n, *shape)`` copy of an initial value."""
    return np.array(np.broadcast_to(np.asarray(value, dtype=float), (n, *shape)))


def full_tail(value: Any, rank: int, sizes: tuple[int, ...]) -> np.ndarray:
    """Broadcast the trailing aggregation axes of ``value`` to their full sizes."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim < rank + 1:
        arr = arr.reshape((1,) * (rank + 1 - arr.ndim) + arr.shape)
    head = arr.shape[: arr.ndim - len(sizes)]
    return np.broadcast_to(arr, (*head, *sizes))


def quantum(a: Any, b: Any) -> Any:
    return np.where(b < SMALL_VENSIM, a, b * np.trunc(a / b))


def modulo(x: Any, m: Any) -> Any:
    return x - quantum(x, m)


def xidz(a: Any, b: Any, x: Any) -> Any:
    return np.where(np.abs(b) < SMALL_VENSIM, x, np.divide(a, b))


def zidz(a: Any, b: Any) -> Any:
    return np.where(np.abs(b) < SMALL_VENSIM, 0.0, np.divide(a, b))


def pulse(t: float, start: Any, width: Any) -> Any:
    return ((start - SMALL_VENSIM <= t) & (t < start + width)) * 1.0


def pulse_train(t: float, start: Any, repeat: Any, width: Any, end: Any) -> Any:
    single = pulse(t, start, width)
    with np.errstate(divide="ignore", invalid="ignore"):
        phase = np.mod(t - start + SMALL_VENSIM, repeat)
    train = ((start <= t) & (t < end) & (phase < width)) * 1.0
    return np.where(repeat == 0, single, train)


def interp_cells(x: Any, cell: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Linear interpolation where each array cell has its own table (clamped at the ends)."""
    x = np.asarray(x, dtype=float)
    shape = np.broadcast_shapes(x.shape, cell.shape)
    x, cell = np.broadcast_to(x, shape), np.broadcast_to(cell, shape)
    tx, ty = xs[cell], ys[cell]  # (..., width)
    width = xs.shape[1]
    lo = np.clip(np.sum(tx <= x[..., None], axis=-1) - 1, 0, width - 2)
    x0 = np.take_along_axis(tx, lo[..., None], -1)[..., 0]
    x1 = np.take_along_axis(tx, lo[..., None] + 1, -1)[..., 0]
    y0 = np.take_along_axis(ty, lo[..., None], -1)[..., 0]
    y1 = np.take_along_axis(ty, lo[..., None] + 1, -1)[..., 0]
    span = x1 - x0
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = y0 + (x - x0) * (y1 - y0) / span
    out = np.where(span > 0, inner, y0)
    out = np.where(x <= tx[..., 0], ty[..., 0], out)
    return np.where(x >= tx[..., -1], ty[..., -1], out)


def check_delay_order(order: int, dt: float, delay_time: Any, variable: str) -> None:
    """PySD lowers a delay's order when order * TIME STEP exceeds the delay time; we refuse."""
    shortest = float(np.min(delay_time))
    if order * dt > shortest:
        raise SimulationError(
            f"delay in {variable!r} has delay time {shortest!r} shorter than order {order} x "
            f"TIME STEP {dt!r}; PySD would silently lower its order, the batch engine refuses: "
            "use a smaller TIME STEP or '--engine pysd'"
        )


NAMESPACE = {
    "np": np,
    "_fit": fit,
    "_state": state,
    "_full_tail": full_tail,
    "_quantum": quantum,
    "_modulo": modulo,
    "_xidz": xidz,
    "_zidz": zidz,
    "_pulse": pulse,
    "_pulse_train": pulse_train,
    "_interp_cells": interp_cells,
    "_check_delay_order": check_delay_order,
}
