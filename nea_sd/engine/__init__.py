"""Simulation engines: PySD (reference runtime) and the vectorized batch engine.

:func:`simulate` is the one entry point the analysis stages and the CLI use: it resolves and
range-checks the overrides of each run, runs them on the chosen engine and returns a labelled
Dataset with dims (run, time, subscripts...) and provenance in its attributes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from nea_sd.errors import InvalidValueError, SimulationError
from nea_sd.model import Model
from nea_sd.provenance import provenance_attrs

ENGINES = ("batch", "pysd")


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise InvalidValueError(
            f"unknown engine {engine!r}; valid choices: {', '.join(repr(e) for e in ENGINES)}"
        )


def check_outputs(model: Model, outputs: Sequence[str]) -> list[str]:
    """Model spellings of the requested output variables (unknown names are errors)."""
    from nea_sd.errors import unknown_name
    from nea_sd.sketch.parse import canonical

    names = {canonical(n): n for n in model.variable_names()}
    resolved = []
    for name in outputs:
        key = canonical(name)
        if key not in names:
            raise unknown_name("variable", name, model.variable_names())
        resolved.append(names[key])
    return resolved


def _stack_for_batch(model: Model, runs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Runs as the batch engine's table: parameter -> array with a leading run axis."""
    names = sorted({name for run in runs for name in run})
    if not names and len(runs) > 1:  # no overrides at all: one column states the run count
        names = [next(n for n in model.parameters if np.ndim(model.parameters[n].value) == 0)]
    return {
        name: np.stack(
            [np.asarray(run.get(name, model.parameters[name].value), dtype=float) for run in runs]
        )
        for name in names
    }


def simulate(
    model: Model,
    runs: Sequence[Mapping[str, Any]],
    outputs: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    engine: str = "batch",
    allow_out_of_range: bool = False,
    on_run_done: Callable[[], None] | None = None,
    nonfinite: str = "raise",
    stream_to: str | os.PathLike[str] | None = None,
    block_runs: int | None = None,
    backend: str = "numpy",
) -> xr.Dataset:
    """Simulate one run per override mapping; returns a Dataset with a labelled ``run`` dim.

    A run that goes non-finite (on either engine) raises a :class:`SimulationError` naming its
    label, the variable and the time (``nonfinite="raise"``), or (``"nan"``) is kept as NaN,
    flagged in the boolean ``diverged`` variable and described in ``attrs["diverged"]`` (JSON:
    label -> "variable at time").

    ``stream_to`` (a ``.zarr`` path): the runs go through in blocks of ``block_runs`` and are
    appended to that store, so that memory does not grow with the number of runs; the store
    appears complete or not at all and is returned opened lazily (Dask).

    ``backend``: the batch engine's ``"numpy"`` (no compilation: best for a few hundred runs)
    or ``"numba"`` (compiled once per model, then several times faster per run).
    """
    _check_engine(engine)
    model.ensure_current()
    if nonfinite not in ("raise", "nan"):
        raise InvalidValueError(f"nonfinite must be 'raise' or 'nan', got {nonfinite!r}")
    outputs = check_outputs(model, outputs)
    if stream_to is not None:
        from nea_sd.engine.batch.stream import check_target

        check_target(stream_to)  # before any run
    resolved = [
        model.parameters.resolve(run, allow_out_of_range=allow_out_of_range) for run in runs
    ]
    run_labels = list(labels) if labels is not None else [str(i) for i in range(len(runs))]
    finish = _Finish(model, runs, run_labels, outputs, engine, nonfinite, on_run_done)
    needed = 0  # bytes the stream will take (PySD's runs are already in memory)
    if engine == "pysd":
        from nea_sd.engine.reference import run_pysd

        result = run_pysd(model, resolved, outputs, on_run_done=on_run_done)
        blocks: Any = [finish(result, range(len(runs)), pysd=True)]
    else:
        from nea_sd.engine.batch import batch_model

        table = _stack_for_batch(model, resolved)
        batch = batch_model(model)
        if stream_to is None:
            whole = batch.simulate(table, outputs=outputs, nonfinite="nan", backend=backend)
            return finish(whole, range(len(runs)))
        found = batch.blocks(
            table, outputs, nonfinite="nan", block_runs=block_runs, backend=backend
        )
        blocks = _finished(found, finish)
        needed = len(runs) * batch.bytes_per_run(outputs)
    if stream_to is None:
        return blocks[0]
    from nea_sd.engine.batch.stream import write_blocks

    return write_blocks(stream_to, blocks, final_attrs=finish.all_runs, needed=needed)


def _finished(blocks: Iterator[xr.Dataset], finish: _Finish) -> Iterator[xr.Dataset]:
    """The engine's blocks finished, none kept alive while the next one is computed."""
    for block in blocks:
        done = finish(block, block["run"].values)  # the batch run index: positions
        del block
        yield done
        del done


class _Finish:
    """Labels, checks and provenance for the engine's results, a block of runs at a time."""

    def __init__(
        self,
        model: Model,
        runs: Sequence[Mapping[str, Any]],
        labels: list[str],
        outputs: list[str],
        engine: str,
        nonfinite: str,
        on_run_done: Callable[[], None] | None,
    ):
        self.model, self.runs, self.labels, self.outputs = model, runs, labels, outputs
        self.engine, self.nonfinite, self.on_run_done = engine, nonfinite, on_run_done

    def __call__(self, result: xr.Dataset, at: Sequence[int], pysd: bool = False) -> xr.Dataset:
        """``result`` (the runs at positions ``at``) as :func:`simulate` returns it."""
        labels = [self.labels[int(i)] for i in at]
        if not pysd:
            result = result[[*self.outputs, "diverged"]]
            if self.on_run_done is not None:
                for _ in labels:
                    self.on_run_done()
        engine_attrs = dict(result.attrs)  # the batch engine's time grid, backend, verification
        where = json.loads(result.attrs.get("diverged_at", "{}"))
        described = {
            self.labels[int(i)]: _describe(v, t)
            for i, (v, t) in sorted(where.items(), key=lambda kv: int(kv[0]))
        }
        if described and self.nonfinite == "raise":
            label, what = next(iter(described.items()))
            others = len(described) - 1
            raise SimulationError(
                f"run {label!r} went non-finite ({what})"
                + (f", and {others} more of {len(self.runs)}" if others else "")
                + "; the model is not defined at these parameter values (a division by zero or "
                "a logarithm of a non-positive number?): change the values or fix the equation"
            )
        result = result.drop_vars(
            [c for c in result.coords if c not in result.dims and c != "time"]
        )
        result = result.assign_coords(run=labels)
        if self.nonfinite == "raise":
            result = result.drop_vars("diverged")
        attrs = self._provenance(at)
        if self.nonfinite == "nan":
            attrs["diverged"] = json.dumps(described)
        for name, value in engine_attrs.items():  # one schema: provenance_attrs, then the rest
            attrs.setdefault(name, value)
        attrs.setdefault("verification", "PySD is the reference engine")
        result.attrs = attrs
        return result

    def _provenance(self, at: Sequence[int]) -> dict[str, Any]:
        overrides = {self.labels[int(i)]: dict(self.runs[int(i)]) for i in at}
        return provenance_attrs(
            model_path=self.model.path.name,
            model_sha256=self.model.sha256,
            engine=self.engine,
            overrides=overrides,
        )

    def all_runs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Merged attributes of a stream, with the overrides of every run."""
        attrs = dict(attrs)
        everything = self._provenance(range(len(self.runs)))
        attrs["parameter_overrides"] = everything["parameter_overrides"]
        return attrs


def _describe(variable: str, time: float | None) -> str:
    """``'Arms control' at 2000.25``, or the equation that raised in PySD."""
    if time is None:
        return (
            f"arithmetic error in the equation of {variable!r}" if variable else "arithmetic error"
        )
    return f"{variable!r} at {time:g}"
