"""Streaming results to a zarr store: the same numbers as in memory, memory bounded in N."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.engine.batch.stream import open_lazily
from nea_sd.errors import OutputPathError, SimulationError
from nea_sd.model import load_model

pytest.importorskip("zarr")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".nea_sd-"))


def test_streamed_store_equals_the_in_memory_result(constructs: Path, tmp_path: Path) -> None:
    batch = compile_model(constructs)
    sets = sample_within_ranges(load_model(constructs).parameters, 11, seed=5)
    names = batch.variable_names
    whole = batch.simulate(sets, names)
    streamed = batch.simulate(sets, names, stream_to=tmp_path / "runs.zarr", block_runs=4)
    assert streamed["Level"].chunks is not None  # lazy: Dask chunks, one per block
    assert streamed["Level"].chunks[0] == (4, 4, 3)
    xr.testing.assert_identical(streamed.load(), whole)  # every value bit for bit, and attrs
    assert _leftovers(tmp_path) == []


def test_diverged_and_dropped_runs_are_merged_over_blocks(exploding: Path, tmp_path: Path) -> None:
    batch = compile_model(exploding)
    growth = {"Growth": [0.01, 1e5, 0.02, 0.03, 1e5]}
    for policy in ("nan", "drop"):
        whole = batch.simulate(growth, nonfinite=policy)
        streamed = batch.simulate(
            growth, nonfinite=policy, stream_to=tmp_path / f"{policy}.zarr", block_runs=2
        )
        xr.testing.assert_identical(streamed.load(), whole)
    marked = open_lazily(tmp_path / "nan.zarr")
    assert sorted(json.loads(marked.attrs["diverged_at"])) == ["1", "4"]
    dropped = open_lazily(tmp_path / "drop.zarr")
    assert dropped.attrs["dropped_runs"].tolist() == [1, 4]
    assert dropped["run"].values.tolist() == [0, 2, 3]


def test_lazy_parameter_dataset_is_read_block_by_block(constructs: Path, tmp_path: Path) -> None:
    batch = compile_model(constructs)
    sets = sample_within_ranges(load_model(constructs).parameters, 9, seed=2)
    table = xr.Dataset(
        {k: (("run", *[f"d{k}{i}" for i in range(v.ndim - 1)]), v) for k, v in sets.items()}
    )
    lazy = table.chunk({"run": 2})  # Dask arrays: nothing is computed until a block needs it
    streamed = batch.simulate(lazy, ["Level"], stream_to=tmp_path / "lazy.zarr", block_runs=3)
    whole = batch.simulate(sets, ["Level"])
    np.testing.assert_array_equal(streamed["Level"].values, whole["Level"].values)


def test_a_failed_stream_leaves_nothing_and_keeps_the_old_store(
    exploding: Path, tmp_path: Path
) -> None:
    batch = compile_model(exploding)
    target = tmp_path / "runs.zarr"
    batch.simulate({"Growth": [0.01, 0.02]}, stream_to=target)
    before = open_lazily(target)["Stock"].values
    with pytest.raises(SimulationError, match="run 3 went non-finite"):
        batch.simulate({"Growth": [0.03, 0.04, 0.05, 1e5]}, stream_to=target, block_runs=2)
    np.testing.assert_array_equal(open_lazily(target)["Stock"].values, before)
    assert _leftovers(tmp_path) == []
    batch.simulate({"Growth": [0.03, 0.04, 0.05]}, stream_to=target, block_runs=2)
    assert open_lazily(target).sizes["run"] == 3  # a complete new store replaces the old one
    assert _leftovers(tmp_path) == []


def test_stream_target_must_be_a_zarr_store(exploding: Path, tmp_path: Path) -> None:
    batch = compile_model(exploding)
    with pytest.raises(OutputPathError, match=r"\.zarr"):
        batch.simulate({"Growth": [0.01]}, stream_to=tmp_path / "runs.nc")
    (tmp_path / "file.zarr").write_text("not a store")
    with pytest.raises(OutputPathError, match="not a zarr store"):
        batch.simulate({"Growth": [0.01]}, stream_to=tmp_path / "file.zarr")


PEAK = r"""
import sys
import numpy as np
from nea_sd.engine.batch import compile_model
batch = compile_model(sys.argv[1])
n, target = int(sys.argv[2]), sys.argv[3]
growth = {"Growth": np.linspace(0.0, 0.002, n)}  # none diverges before 200
options = {"final_time": 200, "time_step": 0.125, "saveper": 0.125, "nonfinite": "nan"}
if target == "-":
    batch.simulate(growth, **options)
else:
    batch.simulate(growth, stream_to=target, block_runs=1_000, **options)
# VmHWM: this process image's own peak; ru_maxrss would carry over the parent's peak from the
# fork (a pytest process grown to 1 GB by earlier tests reads 1 GB in every child)
with open("/proc/self/status") as status:
    hwm = next(line for line in status if line.startswith("VmHWM:"))
print(hwm.split()[1], file=sys.stderr)
"""


def _peak_kib(model: Path, n: int, target: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "NEA_SD_THREADS": "1"}
    env["NEA_SD_VERIFY"] = "off"  # the engine's memory alone, not PySD's (verified elsewhere)
    # a fixed mmap threshold: glibc otherwise raises it after the first freed block, so later
    # blocks may come from the heap and a freed one stay in the peak (seen once in CI: +26 MB)
    env["MALLOC_MMAP_THRESHOLD_"] = str(1 << 20)
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(model), str(n), target],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return int(done.stderr.split()[-1])


def test_peak_memory_of_a_stream_does_not_grow_with_n(exploding: Path, tmp_path: Path) -> None:
    # 1,601 saved times x 2 variables: 26 kB per run; 12,000 runs are 307 MB in memory
    small = _peak_kib(exploding, 1_000, str(tmp_path / "small.zarr"))
    large = _peak_kib(exploding, 12_000, str(tmp_path / "large.zarr"))
    assert open_lazily(tmp_path / "large.zarr").sizes["run"] == 12_000
    in_memory = _peak_kib(exploding, 12_000, "-")
    # less than one block (26 MB): a single block is alive at any time
    assert large - small < 20 * 1024, f"peak grew {small} -> {large} KiB"
    assert in_memory - large > 200 * 1024, f"in memory {in_memory} KiB, streamed {large} KiB"


def test_simulate_streams_labelled_runs_with_their_provenance(tmp_path: Path) -> None:
    import nea_sd as nsd
    from nea_sd.engine import simulate

    model = nsd.load("richardson")
    runs = [{"Grievance X": g} for g in (0.0, 1.0, 2.0, 3.0, 4.0)]
    labels = [f"g{i}" for i in range(5)]
    names = ["Arms X", "Arms Y"]
    whole = simulate(model, runs, names, labels=labels, nonfinite="nan")
    done: list[int] = []
    streamed = simulate(
        model,
        runs,
        names,
        labels=labels,
        nonfinite="nan",
        stream_to=tmp_path / "runs.zarr",
        block_runs=2,
        on_run_done=lambda: done.append(1),
    )
    assert len(done) == 5
    xr.testing.assert_identical(streamed.load(), whole)
    assert json.loads(streamed.attrs["parameter_overrides"])["g4"] == {"Grievance X": 4.0}


def test_bytes_per_run_is_cells_times_saved_times(exploding: Path) -> None:
    batch = compile_model(exploding)
    result = batch.simulate({"Growth": [0.01]}, saveper=0.5)
    floats = [v for v in result.data_vars if result[v].dtype.kind == "f"]  # not 'diverged'
    cells = sum(int(np.prod(result[v].shape[2:])) for v in floats)
    saved = result.sizes["time"]
    assert batch.bytes_per_run(saveper=0.5) == cells * saved * 8
    assert batch.bytes_per_run(["Stock"], saveper=0.5) == saved * 8


def test_a_stream_larger_than_the_free_space_is_refused_before_any_run(
    exploding: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from nea_sd.engine.batch import runtime
    from nea_sd.outputs import MIN_FREE_BYTES

    batch = compile_model(exploding)
    free = MIN_FREE_BYTES + 10 * batch.bytes_per_run()  # room for a few runs, not for `big`
    big = free // batch.bytes_per_run() + 1
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=free))
    ran: list[int] = []
    block = runtime.BatchModel._block
    monkeypatch.setattr(
        runtime.BatchModel, "_block", lambda self, *a: ran.append(1) or block(self, *a)
    )
    with pytest.raises(OutputPathError, match=r"free .*need"):
        batch.simulate({"Growth": np.full(big, 0.01)}, stream_to=tmp_path / "big.zarr")
    assert ran == [] and not (tmp_path / "big.zarr").exists() and _leftovers(tmp_path) == []
    batch.simulate({"Growth": np.full(5, 0.01)}, stream_to=tmp_path / "small.zarr")
    assert ran and open_lazily(tmp_path / "small.zarr").sizes["run"] == 5


def test_float32_store_keeps_seven_digits_and_exact_coordinates(
    constructs: Path, tmp_path: Path
) -> None:
    from nea_sd.engine.batch.stream import write_blocks
    from nea_sd.errors import InvalidValueError

    batch = compile_model(constructs)
    sets = sample_within_ranges(load_model(constructs).parameters, 7, seed=3)
    whole = batch.simulate(sets, ["Level"])
    blocks = batch.blocks(sets, ["Level"], block_runs=3)
    small = write_blocks(tmp_path / "f32.zarr", blocks, dtype="float32")
    assert small["Level"].dtype == np.float32
    np.testing.assert_array_equal(small["time"].values, whole["time"].values)
    expected = whole["Level"].values.astype(np.float32)  # the nearest float32, bit for bit
    np.testing.assert_array_equal(small["Level"].values, expected)
    np.testing.assert_allclose(small["Level"].values, whole["Level"].values, rtol=6e-8)
    with pytest.raises(InvalidValueError, match="'float16' is not one of"):
        write_blocks(tmp_path / "f16.zarr", iter([]), dtype="float16")


def test_an_interrupt_during_a_block_write_lands_after_it(tmp_path: Path, monkeypatch) -> None:
    """SIGTERM (or Ctrl-C) arriving while zarr writes a block acts only once the write is
    done: the interrupt propagates, the temporary store is removed, and no write is left
    running on zarr's thread (it used to print "coroutine ... was never awaited")."""
    import signal

    from nea_sd.engine.batch import stream

    class Stop(BaseException):
        pass

    def stop(signum, frame):
        raise Stop

    finished: list[bool] = []
    original = xr.Dataset.to_zarr

    def write_then_note(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives now, in the middle of the write
        result = original(self, *args, **kwargs)
        finished.append(True)  # reached only if the signal waited for the write
        return result

    blocks = [xr.Dataset({"x": ("run", np.arange(3.0) + k)}) for k in range(2)]
    previous = signal.signal(signal.SIGTERM, stop)
    monkeypatch.setattr(xr.Dataset, "to_zarr", write_then_note)
    try:
        with pytest.raises(Stop):
            stream.write_blocks(tmp_path / "runs.zarr", iter(blocks))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert finished == [True]  # the first block's write completed, then the interrupt
    assert signal.getsignal(signal.SIGTERM) is previous
    assert list(tmp_path.iterdir()) == []
