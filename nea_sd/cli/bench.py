"""``nea-sd bench [MODEL]``: cost per run of the batch engine against PySD (and pysimlin).

The same parameter sets, drawn uniformly within the declared ranges, go through PySD's run
loop (a few runs: it is slow), the batch engine (all N in one process, numpy backend and,
when numba is installed, the compiled backend) and pysimlin when installed (a compiled
single-run engine, as a reference point).  The batch runs save the stocks once per time unit.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nea_sd.cli._common import add_model_argument, model_path

DRAW_BLOCK = 16_384  # --stream: parameter draws made this many runs at a time


@dataclass
class Timing:
    engine: str
    runs: int
    per_run_ms: float  # median of single runs, or total / N for the batch engine
    note: str = ""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="time the batch engine against PySD (and pysimlin) on the same runs"
    )
    add_model_argument(parser, optional=True)
    parser.add_argument("--runs", type=int, default=10_000, help="batch runs (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the parameter draws")
    parser.add_argument(
        "--pysd-runs", type=int, default=3, help="runs through PySD's loop (default 3)"
    )
    parser.add_argument(
        "--backend",
        choices=("numpy", "numba", "both"),
        default="both",
        help="batch backend(s) to time (default both; numba only when installed)",
    )
    parser.add_argument("--chunk-size", type=int, default=None, help="batch chunk size")
    parser.add_argument(
        "--stream",
        metavar="PATH.zarr",
        default=None,
        help="stream the batch runs' outputs to this zarr store block by block (drawing the "
        "parameters block by block too), so that memory does not grow with --runs",
    )
    parser.add_argument(
        "--stream-dtype",
        choices=("float64", "float32"),
        default="float64",
        help="how --stream stores the results (float32 halves the store, ~7 significant "
        "digits; the runs themselves stay float64)",
    )
    parser.add_argument(
        "--block-runs", type=int, default=None, help="runs per streamed block (default: ~256 MiB)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.engine.batch import compile_model
    from nea_sd.engine.batch.sampling import sample_within_ranges
    from nea_sd.errors import InvalidValueError
    from nea_sd.model import load_model

    if args.runs < 1 or args.pysd_runs < 0:
        raise InvalidValueError(
            f"--runs must be >= 1 and --pysd-runs >= 0, got {args.runs!r} and {args.pysd_runs!r}"
        )
    if args.block_runs is not None and args.block_runs < 1:
        raise InvalidValueError(f"--block-runs must be >= 1, got {args.block_runs!r}")
    if args.stream is not None:
        from nea_sd.engine.batch.stream import check_target

        check_target(args.stream)  # before the model is loaded; the space once it is
    path = model_path(args.model)
    model = load_model(path)
    drawn = args.runs if args.stream is None else min(args.runs, DRAW_BLOCK)
    sets = sample_within_ranges(model.parameters, drawn, seed=args.seed)
    print(
        f"{path.name}: {len(sets)} of {len(model.parameters)} parameters drawn within their "
        f"ranges (seed {args.seed}); time {model.time['initial']:g}..{model.time['final']:g} "
        f"step {model.time['step']:g}"
    )
    start = time.perf_counter()
    batch = compile_model(path)
    print(f"batch compile (once per model file): {(time.perf_counter() - start) * 1e3:.0f} ms")
    outputs = model.stocks or None
    if args.stream is not None:
        check_target(args.stream, needed=_stream_bytes(batch, outputs, args))
    backends = ["numpy", "numba"] if args.backend == "both" else [args.backend]
    if "numba" in backends and importlib.util.find_spec("numba") is None:
        backends.remove("numba")
        print("numba is not installed: the compiled backend is skipped")
    timings: list[Timing] = []
    memory: list[str] = []
    for backend in backends:
        before = _max_rss_mib()
        if args.stream is None:
            timings.append(_time_batch(batch, sets, outputs, backend, args.chunk_size))
        else:
            timings.append(_time_stream(batch, model, args, outputs, backend))
        memory.append(f"{backend} +{_max_rss_mib() - before:.0f} MiB")
    if args.pysd_runs:
        timings.append(_time_pysd(model, sets, min(args.pysd_runs, args.runs)))
    simlin = _time_simlin(path, sets, min(max(args.pysd_runs, 3), args.runs))
    if simlin is not None:
        timings.append(simlin)
    best = min(t.per_run_ms for t in timings if t.engine.startswith("batch"))
    print(f"{'engine':<14} {'runs':>7} {'ms/run':>12} {'x best batch':>13}  note")
    for t in timings:
        ratio = t.per_run_ms / best
        print(f"{t.engine:<14} {t.runs:>7} {t.per_run_ms:>12.4f} {ratio:>13.1f}  {t.note}")
    fastest = min((t for t in timings if t.engine.startswith("batch")), key=lambda t: t.per_run_ms)
    for other in timings:
        if not other.engine.startswith("batch") and other.runs:
            ratio = other.per_run_ms / fastest.per_run_ms
            verdict = f"{ratio:,.1f}x cheaper" if ratio >= 1 else f"{1 / ratio:,.1f}x dearer"
            print(f"{fastest.engine} is {verdict} per run than {other.engine}")
    print(
        f"peak memory (max RSS): {_max_rss_mib():.0f} MiB; growth during batch runs: "
        + ", ".join(memory)
    )
    return 0


def _time_batch(
    batch: Any,
    sets: dict[str, np.ndarray],
    outputs: list[str] | None,
    backend: str,
    chunk: int | None,
) -> Timing:
    n = len(next(iter(sets.values()))) if sets else 1
    note = _warm(batch, sets, outputs, backend)
    print(f"batch/{backend}: {n} runs ...", flush=True)
    start = time.perf_counter()
    kwargs = {"saveper": 1.0, "chunk_size": chunk, "nonfinite": "nan", "backend": backend}
    result = batch.simulate(sets, outputs, **kwargs)
    elapsed = time.perf_counter() - start
    diverged = int(result["diverged"].sum())
    note += f"all {n} in one process" + (f", {diverged} diverged" if diverged else "")
    return Timing(f"batch/{backend}", n, elapsed / n * 1e3, note)


def _time_stream(
    batch: Any, model: Any, args: argparse.Namespace, outputs: list[str] | None, backend: str
) -> Timing:
    """All ``--runs`` runs streamed to ``--stream``: drawn, simulated and written in blocks."""
    import xarray as xr

    from nea_sd.cli._common import progress
    from nea_sd.engine.batch.sampling import sample_blocks
    from nea_sd.engine.batch.stream import write_blocks

    note = _warm(batch, sets_of_one(model), outputs, backend)
    kwargs = {"saveper": 1.0, "chunk_size": args.chunk_size, "nonfinite": "nan"}

    def blocks(bar: Any) -> Any:
        for start, stop, drawn in sample_blocks(model.parameters, args.runs, DRAW_BLOCK, args.seed):
            table = xr.Dataset(
                {
                    k: (("run", *[f"_{k}{i}" for i in range(v.ndim - 1)]), v)
                    for k, v in drawn.items()
                },
                coords={"run": np.arange(start, stop)},
            )
            for block in batch.blocks(
                table, outputs, block_runs=args.block_runs, backend=backend, **kwargs
            ):
                runs = block.sizes["run"]
                yield block
                del block  # one block in memory at a time
                bar.update(runs)
            del drawn, table  # free the draws before the next ones are made

    start = time.perf_counter()
    with progress(args.runs, f"batch/{backend} (streamed)") as bar:
        needed = _stream_bytes(batch, outputs, args)
        result = write_blocks(args.stream, blocks(bar), needed=needed, dtype=args.stream_dtype)
    elapsed = time.perf_counter() - start
    diverged = int(result["diverged"].sum())
    note += f"all {args.runs} streamed to {args.stream} in blocks" + (
        f", {diverged} diverged" if diverged else ""
    )
    return Timing(f"batch/{backend}", args.runs, elapsed / args.runs * 1e3, note)


def _stream_bytes(batch: Any, outputs: list[str] | None, args: argparse.Namespace) -> int:
    """The store ``--stream`` will write: runs x yearly outputs x the stored item size."""
    per_run = batch.bytes_per_run(outputs, saveper=1.0)
    return args.runs * per_run * np.dtype(args.stream_dtype).itemsize // 8


def sets_of_one(model: Any) -> dict[str, np.ndarray]:
    from nea_sd.engine.batch.sampling import sample_within_ranges

    return sample_within_ranges(model.parameters, 1, seed=0)


def _warm(batch: Any, sets: dict[str, np.ndarray], outputs: list[str] | None, backend: str) -> str:
    """Compile (or load from the disk cache) the numba kernel outside the timing."""
    if backend == "numpy":
        return ""
    print(f"batch/{backend}: compiling or loading the kernel ...", flush=True)
    start = time.perf_counter()
    batch.simulate({k: v[:1] for k, v in sets.items()}, outputs, backend=backend)
    elapsed = time.perf_counter() - start
    print(f"batch/{backend}: kernel ready in {elapsed:.1f} s", flush=True)
    return f"kernel compile/load {elapsed:.1f} s (not timed); "


def _time_pysd(model: Any, sets: dict[str, np.ndarray], runs: int) -> Timing:
    import xarray as xr

    from nea_sd.engine.batch.sampling import run_slice

    pysd_model = model.pysd_model()
    elapsed = []
    for run in range(runs):
        params = {}
        for name, value in run_slice(sets, run).items():
            param = model.parameters[name]
            if param.dims:
                coords = {d: list(model.subscripts[d]) for d in param.dims}
                value = xr.DataArray(value, coords=coords, dims=param.dims)
            params[param.py_name] = value
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pysd_model.run(params=params, return_columns=model.stocks or None)
        elapsed.append(time.perf_counter() - start)
    return Timing("pysd", runs, statistics.median(elapsed) * 1e3, "median of single runs")


def _time_simlin(path: Path, sets: dict[str, np.ndarray], runs: int) -> Timing | None:
    try:
        import simlin
    except ImportError:
        return None
    from nea_sd.engine.batch.sampling import run_slice

    try:
        project = simlin.Project.open(str(path))
        sim = project.main_model.simulate(enable_ltm=False)
        known = set(sim.get_var_names())
    except Exception as exc:  # pysimlin raises its own errors for models it cannot take
        return Timing("pysimlin", 0, float("nan"), f"could not load: {exc}")
    elapsed = []
    skipped = 0
    for run in range(runs):
        sim.reset()
        for name, value in run_slice(sets, run).items():
            ident = "_".join(name.lower().split())
            if np.ndim(value) == 0 and ident in known:
                sim.set_value(ident, float(value))
            else:
                skipped += 1
        start = time.perf_counter()
        sim.run_to_end()
        elapsed.append(time.perf_counter() - start)
    note = "median of single runs" + (
        f" ({skipped // runs} subscripted parameters left at defaults)" if skipped else ""
    )
    return Timing("pysimlin", runs, statistics.median(elapsed) * 1e3, note)


def _max_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
