"""The reference engine: PySD's own runtime, one parameter set at a time.

Slow for subscripted models (xarray at every step) but it *is* PySD; the batch engine is
tested against it. Every run starts from a reloaded model, so overrides never leak.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from nea_sd.model import Model
from nea_sd.model.load import frame_to_dataset


def _pysd_value(model: Model, name: str, value: float | np.ndarray) -> object:
    param = model.parameters[name]
    if not param.dims:
        return float(value)
    coords = {dim: list(c) for dim, c in zip(param.dims, param.coords, strict=True)}
    return xr.DataArray(np.asarray(value, dtype=float), dims=param.dims, coords=coords)


def run_pysd(
    model: Model,
    runs: Sequence[Mapping[str, float | np.ndarray]],
    outputs: Sequence[str],
    *,
    on_run_done: Callable[[], None] | None = None,
) -> xr.Dataset:
    """Simulate each resolved parameter set with PySD; dims (run, time, subscripts...)."""
    results = []
    for values in runs:
        pysd_model = model.pysd_model()
        params = {model.parameters[n].py_name: _pysd_value(model, n, v) for n, v in values.items()}
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            frame = pysd_model.run(
                params=params, return_columns=list(outputs), flatten_output=False
            )
        results.append(frame_to_dataset(frame, list(outputs)))
        if on_run_done is not None:
            on_run_done()
    return xr.concat(results, dim="run", data_vars="all", coords="minimal", join="exact")
