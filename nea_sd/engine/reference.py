"""The reference engine: PySD's own runtime, one parameter set at a time.

Slow for subscripted models (xarray at every step) but it *is* PySD; the batch engine is
tested against it. Every run starts from a reloaded model, so overrides never leak.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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


def reference_run(
    model: Model,
    overrides: Mapping[str, Any] | None = None,
    outputs: Sequence[str] | None = None,
) -> xr.Dataset:
    """PySD's trajectories for one parameter set (dims time, subscripts...), stored once.

    Kept in the cache's ``references`` area under the model's content hash, keyed by the
    resolved parameters, the outputs and PySD's version, so a model edit or a PySD upgrade
    never reuses an old reference.  Used by self-verification and by the tests.
    """
    from importlib.metadata import version

    from nea_sd.model.cache import entry_path, write_entry
    from nea_sd.provenance import provenance_attrs, to_json

    resolved = model.parameters.resolve(dict(overrides or {}), allow_out_of_range=True)
    names = sorted(outputs if outputs is not None else model.output_names(), key=str.lower)
    identity = to_json(
        {"model": model.sha256, "pysd": version("pysd"), "params": resolved, "outputs": names}
    )
    relative = f"{model.sha256[:24]}/{hashlib.sha256(identity.encode()).hexdigest()[:32]}.nc"
    stored = entry_path(relative, area="references")
    if stored is not None:
        with xr.open_dataset(stored) as cached:
            return cached.load()
    result = run_pysd(model, [resolved], names).isel(run=0, drop=True)
    result.attrs = provenance_attrs(
        model_path=model.path.name, model_sha256=model.sha256, engine="pysd", overrides=resolved
    )
    write_entry(relative, bytes(result.to_netcdf()), area="references")
    return result
