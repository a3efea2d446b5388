"""``BatchModel``: N parameter sets through one compiled model, in chunks, into a Dataset."""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.engine.batch.codegen import build
from nea_sd.engine.batch.compiler import CompiledModel, VariableInfo, compile_abstract
from nea_sd.engine.batch.kernel import numba_available
from nea_sd.engine.batch.subscripts import key
from nea_sd.engine.batch.unsupported import Finding, refuse
from nea_sd.errors import InvalidValueError, MissingDependencyError, SimulationError, unknown_name

if TYPE_CHECKING:
    from nea_sd.model import Model

NONFINITE = ("raise", "nan", "drop")
BACKENDS = ("numpy", "numba")
CHUNK_CELLS = 32_768  # numpy backend: target size of the widest array of a chunk
MIN_CHUNK, MAX_CHUNK = 256, 16_384
NUMBA_CHUNK = 4096  # compiled backend: runs per thread task
RPREC = 1e-5  # PySD's relative precision for final and saving times

ParameterSets = Mapping[str, Any] | pd.DataFrame | xr.Dataset | None


@dataclass(frozen=True)
class TimeGrid:
    """The Euler times (accumulated exactly as PySD does) and which of them are saved."""

    initial: float
    final: float
    step: float
    saveper: float
    times: np.ndarray
    save: np.ndarray  # bool per time

    @classmethod
    def build(cls, initial: float, final: float, step: float, saveper: float) -> TimeGrid:
        for label, value in (("time_step", step), ("saveper", saveper)):
            if not (value > 0 and math.isfinite(value)):
                raise InvalidValueError(f"{label} must be a positive number, got {value!r}")
        if not final >= initial:
            raise InvalidValueError(f"final_time {final!r} is before the initial time {initial!r}")
        times = [initial]
        t = initial
        while t + step * RPREC < final:
            t = t + step
            times.append(t)
        arr = np.array(times)
        prec = step * RPREC
        delay = arr - initial
        save = (np.mod(delay, saveper) < prec) | (np.mod(-delay, saveper) < prec)
        return cls(initial, final, step, saveper, arr, save)

    @property
    def saved_times(self) -> np.ndarray:
        decimals = -int(np.log10(self.step * RPREC))
        return np.round(self.times[self.save], decimals)


@dataclass(frozen=True)
class _Plan:
    """Checked options and parameter sets of one :meth:`BatchModel.simulate` call."""

    sets: ParameterSets  # as given (a Dataset is read block by block)
    params: dict[str, np.ndarray] | None  # validated arrays, or None for a Dataset
    n_runs: int
    run_index: np.ndarray
    infos: list[VariableInfo]
    grid: TimeGrid
    backend: str
    chunk_size: int | None
    nonfinite: str


def _positive(label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidValueError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


class BatchModel:
    """A Vensim model compiled for vectorized runs over many parameter sets."""

    def __init__(self, path: Path, sha256: str, compiled: CompiledModel, abstract: Any = None):
        self.path = path
        self.sha256 = sha256
        self._compiled = compiled
        self._abstract = abstract
        self._numba: CompiledModel | None = None
        self._kernel: Any = None  # the compiled backend's kernel, built on first use
        self._kernel_ready = False  # compiled or loaded by numba
        self._functions: dict[tuple[str, ...], Callable[..., Any]] = {}
        self._sources: dict[tuple[str, ...], str] = {}
        self._by_key = {key(name): info for name, info in compiled.variables.items()}
        self.source_model: Model | None = None  # the loaded model it was compiled from
        self.verification = ""  # provenance: how its results were checked against PySD

    def __repr__(self) -> str:
        status = "supported" if not self._compiled.findings else "unsupported"
        return f"<BatchModel {self.path.name!r} ({status}), sha256={self.sha256[:12]}>"

    # -- introspection -----------------------------------------------------------------------
    def unsupported(self) -> list[Finding]:
        """Constructs the batch engine cannot compile, with the variable using each."""
        return list(self._compiled.findings)

    @property
    def fixed_parameters(self) -> list[str]:
        """Constants fixing a SMOOTH N/DELAY N order: compiled in, they cannot vary by run."""
        return sorted(self._compiled.order_params)

    @property
    def parameter_names(self) -> list[str]:
        return sorted(
            (n for n, v in self._compiled.variables.items() if v.parameter), key=str.lower
        )

    @property
    def variable_names(self) -> list[str]:
        return sorted(self._compiled.variables, key=str.lower)

    @property
    def state_count(self) -> int:
        """Number of integrated state arrays (stocks plus the stages of SMOOTH/DELAY/TREND)."""
        return len(self._compiled.graph.states)

    @property
    def control(self) -> dict[str, float]:
        return dict(self._compiled.control)

    def source(self, outputs: Sequence[str] | None = None) -> str:
        """The generated simulator for ``outputs`` (for inspection and debugging)."""
        self._check_supported()
        infos = self._outputs(outputs)
        self._function(tuple(i.ident for i in infos))
        return self._sources[tuple(i.ident for i in infos)]

    # -- running -----------------------------------------------------------------------------
    def simulate(
        self,
        parameter_sets: ParameterSets = None,
        outputs: Sequence[str] | None = None,
        *,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        chunk_size: int | None = None,
        nonfinite: str = "raise",
        backend: str = "numpy",
        stream_to: str | os.PathLike[str] | None = None,
        block_runs: int | None = None,
    ) -> xr.Dataset:
        """Run every parameter set; return outputs over ``(run, time, *subscripts)``.

        ``parameter_sets``: dict name -> scalar, ``(N,)`` or ``(N, *dims)`` values, a
        DataFrame (one column per parameter), or a Dataset with a ``run`` dimension (read one
        block of runs at a time, so a lazy Dataset -- Dask, or opened from disk -- is never
        loaded whole).
        ``backend``: ``"numpy"`` (vectorized over runs; the default) or ``"numba"`` (a
        compiled kernel, runs spread over threads: faster, but compiling a large model takes
        minutes the first time; the kernel is then cached on disk).  Both agree with PySD to
        1e-9; they differ from each other in the last bits of exp/log/power.
        ``stream_to``: a ``.zarr`` path; the runs go through in blocks of ``block_runs`` (by
        default about :data:`~nea_sd.engine.batch.stream.BLOCK_BYTES` of output each), each
        block is appended to the store along ``run`` and freed, so that memory does not grow
        with N; the store appears complete or not at all, and is returned opened lazily.
        """
        plan = self._plan(
            parameter_sets, outputs, final_time, time_step, saveper, chunk_size, nonfinite, backend
        )
        if stream_to is None:
            return self._block(plan, 0, plan.n_runs)
        from nea_sd.engine.batch.stream import write_blocks

        needed = plan.n_runs * self._plan_bytes(plan)
        return write_blocks(stream_to, self._blocks(plan, block_runs), needed=needed)

    def blocks(
        self,
        parameter_sets: ParameterSets = None,
        outputs: Sequence[str] | None = None,
        *,
        block_runs: int | None = None,
        **options: Any,
    ) -> Iterator[xr.Dataset]:
        """The results of :meth:`simulate` (same keyword ``options``), one Dataset per block of
        ``block_runs`` consecutive runs; the inputs are checked before the first block runs."""
        plan = self._plan(
            parameter_sets,
            outputs,
            options.pop("final_time", None),
            options.pop("time_step", None),
            options.pop("saveper", None),
            options.pop("chunk_size", None),
            options.pop("nonfinite", "raise"),
            options.pop("backend", "numpy"),
        )
        if options:
            raise InvalidValueError(f"unknown simulate options: {', '.join(sorted(options))}")
        return self._blocks(plan, block_runs)

    def _plan(
        self,
        parameter_sets: ParameterSets,
        outputs: Sequence[str] | None,
        final_time: float | None,
        time_step: float | None,
        saveper: float | None,
        chunk_size: int | None,
        nonfinite: str,
        backend: str,
    ) -> _Plan:
        """Check every option and the parameter sets once, before any run."""
        self._check_supported()
        if nonfinite not in NONFINITE:
            raise InvalidValueError(
                f"nonfinite policy {nonfinite!r} is not one of "
                + ", ".join(repr(p) for p in NONFINITE)
            )
        if backend not in BACKENDS:
            raise InvalidValueError(
                f"backend {backend!r} is not one of " + ", ".join(repr(b) for b in BACKENDS)
            )
        if chunk_size is not None:
            chunk_size = _positive("chunk_size", chunk_size)
        control = self._compiled.control
        step = float(time_step) if time_step is not None else control["time_step"]
        grid = TimeGrid.build(
            control["initial_time"],
            float(final_time) if final_time is not None else control["final_time"],
            step,
            float(saveper) if saveper is not None else self._default_saveper(step),
        )
        if isinstance(parameter_sets, xr.Dataset) and "run" in parameter_sets.dims:
            n_runs = int(parameter_sets.sizes["run"])
            self._parameters(parameter_sets.isel(run=slice(0, 1)))  # names, shapes, values
            coords = parameter_sets.coords
            run_index = np.asarray(coords["run"].values) if "run" in coords else np.arange(n_runs)
            params = None  # read block by block
        else:
            params, n_runs, run_index = self._parameters(parameter_sets)
        infos = self._outputs(outputs)
        chosen = self._backend(backend)
        return _Plan(
            parameter_sets, params, n_runs, run_index, infos, grid, chosen, chunk_size, nonfinite
        )

    def _blocks(self, plan: _Plan, block_runs: int | None) -> Iterator[xr.Dataset]:
        if block_runs is not None:
            size = _positive("block_runs", block_runs)
        else:
            from nea_sd.engine.batch.stream import default_block_runs

            size = default_block_runs(self._plan_bytes(plan) + 1, plan.n_runs, _workers())
        for start in range(0, plan.n_runs, size):
            yield self._block(plan, start, min(plan.n_runs, start + size))

    def _plan_bytes(self, plan: _Plan) -> int:
        """Bytes of output one run of the plan saves (float64)."""
        cells = sum(max(1, int(np.prod(self._shape(i)))) for i in plan.infos)
        return cells * int(plan.grid.save.sum()) * 8

    def bytes_per_run(
        self, outputs: Sequence[str] | None = None, *, saveper: float | None = None
    ) -> int:
        """Bytes of output one run saves (float64): what a stream needs on disk per run, known
        before any run, so that a stream too large for its disk is refused up front."""
        plan = self._plan(None, outputs, None, None, saveper, None, "nan", "numpy")
        return self._plan_bytes(plan)

    def _block(self, plan: _Plan, start: int, stop: int) -> xr.Dataset:
        """Runs ``start:stop`` of the plan as a Dataset (run coordinate: their labels)."""
        if plan.params is None:
            block = plan.sets.isel(run=slice(start, stop)).load()  # type: ignore[union-attr]
            params = self._parameters(block)[0]
        else:
            params = {k: v if v.shape[0] == 1 else v[start:stop] for k, v in plan.params.items()}
        run_index = plan.run_index[start:stop]
        n_runs, infos, grid = stop - start, plan.infos, plan.grid
        run = self._run_numba if plan.backend == "numba" else self._run_numpy
        buffers, bad_time, bad_var = run(infos, grid, params, n_runs, plan.chunk_size)
        diverged = ~np.isnan(bad_time)
        if plan.nonfinite == "raise" and diverged.any():
            first = int(np.flatnonzero(diverged)[0])
            raise SimulationError(
                f"run {int(run_index[first])} went non-finite: {bad_var[first]!r} at time "
                f"{bad_time[first]:g}{self._describe_run(params, first)}; pass "
                "nonfinite='nan' or 'drop' to keep the other runs"
            )
        ds = self._dataset(infos, buffers, grid, params, run_index, diverged, plan.nonfinite)
        ds.attrs["backend"] = plan.backend
        if plan.nonfinite == "nan" and diverged.any():  # where each diverged run went non-finite
            ds.attrs["diverged_at"] = json.dumps(
                {
                    str(int(run_index[i])): [str(bad_var[i]), float(bad_time[i])]
                    for i in np.flatnonzero(diverged)
                }
            )
        return ds

    def _backend(self, requested: str) -> str:
        if requested == "numba":
            if not numba_available():
                raise MissingDependencyError(
                    "the numba backend needs numba: pip install numba (or use backend='numpy')"
                )
            compiled = self._numba_model()
            if compiled.findings:
                raise refuse(self.path.name, compiled.findings)
        return requested

    def _numba_model(self) -> CompiledModel:
        if self._numba is None:
            self._numba = compile_abstract(self._abstract, "numba")
        return self._numba

    def _run_numpy(
        self,
        infos: list[VariableInfo],
        grid: TimeGrid,
        params: dict[str, np.ndarray],
        n_runs: int,
        chunk_size: int | None,
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        func = self._function(tuple(i.ident for i in infos))
        spans = balanced_chunks(n_runs, chunk_size or self._default_chunk(), _workers())
        n_save = int(grid.save.sum())
        buffers = [np.empty((n_runs, n_save, *self._shape(i)), dtype=float) for i in infos]
        bad_time = np.full(n_runs, np.nan)
        bad_var = np.full(n_runs, "", dtype=object)
        state_names = [s.variable for s in self._compiled.graph.states.values()]
        save_slot = np.cumsum(grid.save) - 1

        def work(span: tuple[int, int]) -> None:
            start, stop = span
            consts = self._chunk_constants(self._compiled, params, start, stop)
            sink = _Sink(
                [b[start:stop] for b in buffers],
                save_slot,
                [i.name for i in infos],
                state_names,
                bad_time[start:stop],
                bad_var[start:stop],
            )
            with np.errstate(all="ignore"):
                func(
                    consts,
                    stop - start,
                    grid.initial,
                    grid.step,
                    grid.final,
                    grid.saveper,
                    len(grid.times),
                    grid.save,
                    sink,
                )

        _spread(work, spans)
        return buffers, bad_time, bad_var

    def _default_chunk(self) -> int:
        """Runs per numpy chunk: the widest array of a chunk stays near ``CHUNK_CELLS`` cells,
        so that small models amortise Python's per-operation cost over many runs and large ones
        keep their arrays in cache (:func:`balanced_chunks` gives every thread a share)."""
        graph = self._compiled.graph
        shapes = [n.shape for n in graph.nodes.values()] + [s.shape for s in graph.states.values()]
        widest = max((int(np.prod(s)) for s in shapes if s), default=1)
        return min(MAX_CHUNK, max(MIN_CHUNK, CHUNK_CELLS // widest))

    def _run_numba(
        self,
        infos: list[VariableInfo],
        grid: TimeGrid,
        params: dict[str, np.ndarray],
        n_runs: int,
        chunk_size: int | None,
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        from nea_sd.engine.batch.kernel import build, compile_progress

        compiled = self._numba_model()
        if self._kernel is None:  # the blocks compile (or load) on import: under the bar
            with compile_progress(f"{self.path.name} (numba)"):
                self._kernel = build(compiled)
        lay, sel, selvar = self._kernel.layout(compiled, infos)
        kernel = self._kernel.function
        n_save = int(grid.save.sum())
        out = np.empty((n_runs, n_save, lay.output_cells))
        slot = np.where(grid.save, np.cumsum(grid.save) - 1, -1).astype(np.int64)
        bad = np.full(n_runs, -1, dtype=np.int64)
        what = np.zeros(n_runs, dtype=np.int64)
        err = np.zeros(n_runs, dtype=np.int64)
        spans = balanced_chunks(n_runs, chunk_size or NUMBA_CHUNK, _workers())

        def call(start: int, stop: int, consts: np.ndarray) -> None:
            kernel(
                stop - start,
                grid.initial,
                grid.step,
                grid.final,
                grid.saveper,
                len(grid.times),
                slot,
                sel,
                selvar,
                consts,
                out[start:stop],
                bad[start:stop],
                what[start:stop],
                err[start:stop],
            )

        if not self._kernel_ready:  # compile (or load) once, before the threads, with a bar
            with compile_progress(f"{self.path.name} (numba)"):
                call(0, 0, np.empty((0, max(lay.const_cells, 1))))
            self._kernel_ready = True

        def work(span: tuple[int, int]) -> None:
            start, stop = span
            call(start, stop, self._const_matrix(compiled, lay, params, start, stop))

        _spread(work, spans)
        if err.any():
            code = int(err[np.flatnonzero(err)[0]])
            raise SimulationError(
                f"delay in {compiled.checks[code - 1]!r} has a delay time shorter than its "
                "order x TIME STEP; PySD would silently lower its order, the batch engine "
                "refuses: use a smaller TIME STEP or '--engine pysd'"
            )
        buffers = [
            out[:, :, at : at + n].reshape((n_runs, n_save, *self._shape(info)))
            for info, (_, at, n) in zip(infos, lay.outputs, strict=True)
        ]
        names = [v.name for v in self._kernel.candidates]
        names += [s.variable for s in compiled.graph.states.values()]
        bad_time = np.where(bad >= 0, grid.times[np.maximum(bad, 0)], np.nan)
        bad_var = np.array([names[w] if b >= 0 else "" for b, w in zip(bad, what, strict=True)])
        return buffers, bad_time, bad_var.astype(object)

    def _const_matrix(
        self,
        compiled: CompiledModel,
        lay: Any,
        params: dict[str, np.ndarray],
        start: int,
        stop: int,
    ) -> np.ndarray:
        matrix = np.empty((stop - start, max(lay.const_cells, 1)))
        values = self._chunk_constants(compiled, params, start, stop)
        for ident, (at, n) in lay.consts.items():
            value = values[ident]
            matrix[:, at : at + n] = value.reshape((value.shape[0], n))
        return matrix

    # -- helpers -----------------------------------------------------------------------------
    def _default_saveper(self, step: float) -> float:
        control = self._compiled.control
        # a SAVEPER written as TIME STEP follows an overridden time step, as in PySD
        return step if control.get("saveper_follows_step") else control["saveper"]

    def _check_supported(self) -> None:
        """Refuse unsupported constructs; verify this content against PySD on first use."""
        from nea_sd.engine.verify import ensure_verified

        if self._compiled.findings:
            raise refuse(self.path.name, self._compiled.findings)
        self.verification = ensure_verified(self, self.source_model)

    def _shape(self, info: VariableInfo) -> tuple[int, ...]:
        return tuple(len(info.coords[d]) for d in info.dims)

    def _function(self, idents: tuple[str, ...]) -> Callable[..., Any]:
        if idents not in self._functions:
            func, source = build(self._compiled, idents)
            self._functions[idents], self._sources[idents] = func, source
        return self._functions[idents]

    def _outputs(self, outputs: Sequence[str] | None) -> list[VariableInfo]:
        variables = self._compiled.variables
        if outputs is None:
            return [v for v in variables.values() if v.kind != "constant"]
        if isinstance(outputs, str):
            outputs = [outputs]
        chosen = []
        for name in outputs:
            info = self._by_key.get(key(name))
            if info is None:
                raise unknown_name("variable", name, variables)
            if info not in chosen:
                chosen.append(info)
        return chosen

    def parameter_arrays(
        self, sets: ParameterSets
    ) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
        """Validated parameter sets: (name -> ``(N or 1, *dims)`` array, N, run labels)."""
        return self._parameters(sets)

    def default_saveper(self, step: float) -> float:
        """The saving interval used when none is given, for a run with time step ``step``."""
        return self._default_saveper(step)

    def variable(self, name: str) -> VariableInfo | None:
        """The compiled variable called ``name`` (case and blanks ignored), or ``None``."""
        return self._by_key.get(key(name))

    def _parameters(self, sets: ParameterSets) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
        """Validate parameter sets into name -> ``(N or 1, *dims)`` arrays."""
        raw: dict[str, Any] = {}
        run_index: np.ndarray | None = None
        if sets is None:
            pass
        elif isinstance(sets, pd.DataFrame):
            raw = {str(c): sets[c].to_numpy(dtype=float) for c in sets.columns}
            if len(sets) == 0:
                raise InvalidValueError("parameter_sets is an empty DataFrame")
        elif isinstance(sets, xr.Dataset):
            if "run" not in sets.dims:
                raise InvalidValueError(
                    "a parameter Dataset needs a 'run' dimension; it has "
                    + ", ".join(repr(str(d)) for d in sets.dims)
                )
            raw = {str(n): sets[n] for n in sets.data_vars}
            if "run" in sets.coords:
                run_index = np.asarray(sets["run"].values)
        elif isinstance(sets, Mapping):
            raw = dict(sets)
        else:
            raise InvalidValueError(
                "parameter_sets must be a dict, a DataFrame or a Dataset, "
                f"not {type(sets).__name__}"
            )
        arrays: dict[str, np.ndarray] = {}
        sizes: dict[str, int] = {}
        for name, value in raw.items():
            info = self._by_key.get(key(name))
            if info is None or not info.parameter:
                raise unknown_name("parameter", name, self.parameter_names)
            arr, per_run = self._as_array(info, value)
            arrays[info.name] = arr
            if per_run:
                sizes[info.name] = arr.shape[0]
        if len(set(sizes.values())) > 1:
            raise InvalidValueError(
                "parameter sets disagree on the number of runs: "
                + ", ".join(f"{k!r} has {v}" for k, v in sizes.items())
            )
        sizes_set = set(sizes.values())
        n_runs = sizes_set.pop() if sizes_set else (len(run_index) if run_index is not None else 1)
        for name in self._compiled.order_params:
            if name in arrays:
                default = self._compiled.variables[name].default
                if not np.all(arrays[name] == default):
                    raise InvalidValueError(
                        f"parameter {name!r} sets the order of a SMOOTH N/DELAY N, which is fixed "
                        f"at compile time ({float(np.ravel(default)[0])!r}); it cannot vary"
                    )
        if run_index is None or len(run_index) != n_runs:
            run_index = np.arange(n_runs)
        return arrays, n_runs, run_index

    def _as_array(self, info: VariableInfo, value: Any) -> tuple[np.ndarray, bool]:
        """``(N or 1, *dims)`` values and whether they vary by run."""
        shape = self._shape(info)
        if isinstance(value, xr.DataArray):
            dims = [d for d in value.dims if d != "run"]
            if set(dims) == set(info.dims):
                value = value.transpose(*(["run"] if "run" in value.dims else []), *info.dims)
            value = value.values
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise InvalidValueError(
                f"parameter {info.name!r} has non-numeric values {value!r}"
            ) from None
        if arr.ndim == 0:
            return np.full((1, *shape), float(arr)), False
        if arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
            return arr.copy(), True
        if shape and arr.ndim == 1 and arr.shape != shape:
            return np.array(
                np.broadcast_to(arr.reshape((-1,) + (1,) * len(shape)), (len(arr), *shape))
            ), True
        if shape and arr.shape == shape:
            return arr.reshape((1, *shape)).copy(), False
        expected = f"(N,) or (N, {', '.join(map(str, shape))})" if shape else "(N,)"
        where = f" over {', '.join(info.dims)}" if shape else ""
        raise InvalidValueError(
            f"parameter {info.name!r} has values of shape {arr.shape!r}; "
            f"expected a scalar or {expected}{where}"
        )

    def _chunk_constants(
        self, compiled: CompiledModel, params: dict[str, np.ndarray], start: int, stop: int
    ) -> dict[str, np.ndarray]:
        consts: dict[str, np.ndarray] = {}
        for name, info in compiled.variables.items():
            if info.kind != "constant":
                continue
            value = params.get(name)
            if value is None:
                consts[info.ident] = info.default  # type: ignore[assignment]
            else:
                consts[info.ident] = value if value.shape[0] == 1 else value[start:stop]
        return consts

    def _describe_run(self, params: dict[str, np.ndarray], run: int) -> str:
        scalars = [
            f"{name}={float(v[run if v.shape[0] > 1 else 0]):g}"
            for name, v in params.items()
            if v[0].size == 1
        ][:8]
        return f" (parameters {', '.join(scalars)})" if scalars else ""

    def _dataset(
        self,
        infos: list[VariableInfo],
        buffers: list[np.ndarray],
        grid: TimeGrid,
        params: dict[str, np.ndarray],
        run_index: np.ndarray,
        diverged: np.ndarray,
        nonfinite: str,
    ) -> xr.Dataset:
        from nea_sd import __version__

        keep = np.ones(len(run_index), dtype=bool)
        if nonfinite == "nan":
            for buf in buffers:
                buf[diverged] = np.nan
        elif nonfinite == "drop":
            keep = ~diverged
        data_vars: dict[str, Any] = {}
        for info, buf in zip(infos, buffers, strict=True):
            data = buf[keep] if not keep.all() else buf
            coords = {d: info.coords[d] for d in info.dims}
            data_vars[info.name] = xr.DataArray(
                data, dims=("run", "time", *info.dims), coords=coords
            )
        if nonfinite == "nan":
            data_vars["diverged"] = xr.DataArray(diverged, dims=("run",))
        coords: dict[str, Any] = {"run": run_index[keep], "time": grid.saved_times}
        for name, value in params.items():
            if name in data_vars:
                continue
            info = self._compiled.variables[name]
            full = np.broadcast_to(value, (len(run_index), *value.shape[1:]))[keep]
            coords[name] = (("run", *info.dims), full) if info.dims else ("run", full)
        from nea_sd.provenance import provenance_attrs

        attrs: dict[str, Any] = provenance_attrs(
            model_path=self.path.name, model_sha256=self.sha256, engine="batch"
        )
        del attrs["parameter_overrides"]  # here the parameter values are run coordinates
        attrs |= {
            "verification": self.verification,
            "nea_sd_version": __version__,
            "initial_time": grid.initial,
            "final_time": grid.final,
            "time_step": grid.step,
            "saveper": grid.saveper,
            "nonfinite": nonfinite,
        }
        if nonfinite == "drop":
            attrs["dropped_runs"] = np.asarray(run_index[~keep], dtype=np.int64)
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)


class _Sink:
    """Receives saved values from the generated loop: copies them, watches for non-finite."""

    def __init__(
        self,
        buffers: list[np.ndarray],
        slot: np.ndarray,
        names: list[str],
        state_names: list[str],
        bad_time: np.ndarray,
        bad_var: np.ndarray,
    ):
        self.buffers, self.slot, self.names, self.state_names = buffers, slot, names, state_names
        self.bad_time, self.bad_var = bad_time, bad_var
        self.any_bad = False

    def __call__(
        self, step: int, time: float, values: tuple[Any, ...], states: tuple[Any, ...]
    ) -> None:
        j = self.slot[step]
        n = len(self.bad_time)
        for buf, value in zip(self.buffers, values, strict=True):
            buf[:, j] = value
        for label, arr in zip(
            self.names + self.state_names,
            [b[:, j] for b in self.buffers] + list(states),
            strict=True,
        ):
            flat = np.broadcast_to(np.asarray(arr), (n, *np.shape(arr)[1:])).reshape(n, -1)
            bad = ~np.isfinite(flat).all(axis=1)
            if bad.any():
                new = bad & np.isnan(self.bad_time)
                if new.any():
                    self.bad_time[new] = time
                    self.bad_var[new] = label
                    self.any_bad = True


def _workers() -> int:
    """Threads for the chunks: ``$NEA_SD_THREADS`` if set (e.g. 1 per Dask worker process,
    so that workers do not compete for cores), else the machine's cores up to 8."""
    explicit = os.environ.get("NEA_SD_THREADS", "").strip()
    if explicit:
        try:
            return max(1, int(explicit))
        except ValueError:
            raise InvalidValueError(
                f"NEA_SD_THREADS={explicit!r} is not a whole number of threads"
            ) from None
    return max(1, min(os.cpu_count() or 1, 8))


def balanced_chunks(n_runs: int, most: int, workers: int) -> list[tuple[int, int]]:
    """``(start, stop)`` spans covering ``n_runs`` runs: at most ``most`` runs each, sizes
    differing by at most one, and (when there are enough runs) a multiple of ``workers``
    spans, so that no thread idles while another finishes a long remainder."""
    if n_runs < 1:
        return []
    count = -(-n_runs // max(1, most))
    workers = max(1, workers)
    count = min(n_runs, -(-count // workers) * workers)
    base, extra = divmod(n_runs, count)
    spans, start = [], 0
    for index in range(count):
        stop = start + base + (1 if index < extra else 0)
        spans.append((start, stop))
        start = stop
    return spans


def _spread(work: Callable[[tuple[int, int]], None], spans: list[tuple[int, int]]) -> None:
    """Run the chunks on threads: numpy and the numba kernel release the GIL while computing."""
    if _workers() > 1 and len(spans) > 1:
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            list(pool.map(work, spans))
    else:
        for span in spans:
            work(span)


_CACHE: dict[str, BatchModel] = {}


def compile_model(path: str | os.PathLike[str]) -> BatchModel:
    """Compile ``path`` for the batch engine (cached per file content in this process).

    Unsupported constructs do not raise here: they are listed by :meth:`BatchModel.unsupported`
    and make :meth:`BatchModel.simulate` refuse the model.
    """
    from nea_sd.model import file_sha256, parse_abstract_model

    model_path = Path(path)
    try:
        sha256 = file_sha256(model_path)
    except OSError:
        parse_abstract_model(model_path)  # raises the user-facing ModelFileError
        raise
    cached = _CACHE.get(sha256)
    if cached is not None:
        return cached
    return _compiled(model_path.resolve(), sha256, parse_abstract_model(model_path))


def _compiled(path: Path, sha256: str, abstract: Any) -> BatchModel:
    cached = _CACHE.get(sha256)
    if cached is None:
        cached = _CACHE[sha256] = BatchModel(path, sha256, compile_abstract(abstract), abstract)
    return cached


def batch_model(model: Model) -> BatchModel:
    """The batch compilation of a loaded :class:`~nea_sd.model.Model`, kept with it.

    Compiled from the model's own abstract model (the content it was loaded with), so its
    results carry the model's hash; a file edited since loading is an error, never mixed in.
    """
    model.ensure_current()
    batch = model.owned("batch", lambda: _compiled(model.path, model.sha256, model.abstract))
    if batch.source_model is None:
        batch.source_model = model
    return batch
