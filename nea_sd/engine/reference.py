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


def _failing_variable(model: Model, exc: BaseException) -> str:
    """The model variable whose equation raised ``exc`` (innermost frame of the translation)."""
    names = dict(zip(model.variables["Py Name"], model.variables["Real Name"], strict=False))
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_name
        if name in names:
            found = names[name]
        tb = tb.tb_next
    return found


def _first_nonfinite(data: xr.Dataset) -> tuple[str, float] | None:
    """(variable, time) of the earliest non-finite value in ``data``, or None."""
    first: tuple[str, float] | None = None
    for name, variable in data.data_vars.items():
        bad = ~np.isfinite(variable)
        extra = [d for d in variable.dims if d != "time"]
        if extra:
            bad = bad.any(extra)
        if bool(bad.any()):
            when = float(data["time"].values[int(np.argmax(bad.values))])
            if first is None or when < first[1]:
                first = (str(name), when)
    return first


def run_pysd(
    model: Model,
    runs: Sequence[Mapping[str, float | np.ndarray]],
    outputs: Sequence[str],
    *,
    on_run_done: Callable[[], None] | None = None,
) -> xr.Dataset:
    """Simulate each resolved parameter set with PySD; dims (run, time, subscripts...).

    A run that goes non-finite, or whose equations raise an arithmetic error (PySD divides
    plain floats, so a division by zero raises), is kept as NaN and flagged in the boolean
    ``diverged`` variable, with where it happened in the ``diverged_at`` attribute (JSON:
    run index -> [variable, time or null]), as the batch engine does with ``nonfinite="nan"``.
    """
    import json

    watched = list(dict.fromkeys([*outputs, *model.stocks]))
    results: list[xr.Dataset | None] = []
    where: dict[str, list] = {}
    for index, values in enumerate(runs):
        pysd_model = model.pysd_model()
        params = {model.parameters[n].py_name: _pysd_value(model, n, v) for n, v in values.items()}
        try:
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(io.StringIO()),
                np.errstate(all="ignore"),
            ):
                warnings.simplefilter("ignore")
                frame = pysd_model.run(params=params, return_columns=watched, flatten_output=False)
            data = frame_to_dataset(frame, watched)
            bad = _first_nonfinite(data)
            if bad is not None:
                where[str(index)] = [bad[0], bad[1]]
            results.append(data[list(outputs)])
        except (ZeroDivisionError, OverflowError, FloatingPointError) as exc:
            where[str(index)] = [_failing_variable(model, exc), None]
            results.append(None)
        except (NameError, KeyError, RecursionError, TypeError, ValueError, AttributeError) as exc:
            from nea_sd.errors import SimulationError

            variable = _failing_variable(model, exc)
            at = f" in the equation of {variable!r}" if variable else ""
            detail = (str(exc).splitlines() or [""])[0][:120]
            raise SimulationError(
                f"PySD cannot run {model.path.name}{at} ({type(exc).__name__}: {detail}); "
                "check the model with 'nea-sd lint'"
            ) from None
        if on_run_done is not None:
            on_run_done()
    template = next((r for r in results if r is not None), None)
    if template is None:
        from nea_sd.errors import SimulationError

        variable, _ = where["0"]
        at = f" in the equation of {variable!r}" if variable else ""
        raise SimulationError(
            f"{'the run' if len(runs) == 1 else 'every run'} failed in PySD with an arithmetic "
            f"error{at} (a division by zero?); "
            "the model is not defined at these parameter values: change them or the equation"
        )
    filled = [r if r is not None else xr.full_like(template, np.nan) for r in results]
    result = xr.concat(filled, dim="run", data_vars="all", coords="minimal", join="exact")
    diverged = np.array([str(i) in where for i in range(len(runs))])
    for i in np.flatnonzero(diverged):
        for name in result.data_vars:
            result[name][{"run": int(i)}] = np.nan
    result["diverged"] = xr.DataArray(diverged, dims=("run",))
    if where:
        result.attrs["diverged_at"] = json.dumps(where)
    return result


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
    result = run_pysd(model, [resolved], names).isel(run=0, drop=True).drop_vars("diverged")
    result.attrs = provenance_attrs(
        model_path=model.path.name, model_sha256=model.sha256, engine="pysd", overrides=resolved
    )
    write_entry(relative, bytes(result.to_netcdf()), area="references")
    return result
