"""``nea-sd check`` and ``nea-sd bench``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from synthetic_models import CONSTRUCTS, EXPLODING, REFUSED, STATELESS, write

from nea_sd.cli import main


def test_check_supported_model_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(write(tmp_path, "ok", CONSTRUCTS))]) == 0
    assert "supported by the batch engine" in capsys.readouterr().out


def test_check_unsupported_model_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(write(tmp_path, "refused", REFUSED))]) == 1
    out = capsys.readouterr().out
    assert "DELAY FIXED in 'Delayed'" in out
    assert "--engine pysd" in out


def test_check_missing_file_is_a_user_error(tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "absent.mdl")]) == 2


def test_bench_reports_every_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "exploding", EXPLODING)
    assert main(["bench", str(path), "--runs", "40", "--pysd-runs", "2", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    for word in ("batch/numpy", "pysd", "ms/run", "max RSS"):
        assert word in out
    with pytest.raises(SystemExit):
        main(["bench", str(path), "--runs", "many"])
    assert main(["bench", str(path), "--runs", "0"]) == 2


@pytest.mark.parametrize("engine", ["batch", "pysd"])
def test_run_model_without_stocks_prints_final_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    path = write(tmp_path, "stateless", STATELESS)
    assert main(["run", str(path), "--engine", engine]) == 0
    out = capsys.readouterr().out
    # at time 4: Signal = 2 * 4, Shaped = Curve(8) = 4 (the table's slope is 1/2)
    assert "stateless (default) at 4:" in out
    assert "Signal = 8" in out and "Shaped = 4" in out and "Gain = 2" in out


def test_run_outputs_all_keeps_every_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "constructs", CONSTRUCTS)
    target = tmp_path / "all.nc"
    assert main(["run", str(path), "--outputs", "all", "--output", str(target)]) == 0
    from nea_sd.engine.batch import compile_model

    with xr.open_dataset(target) as ds:
        assert sorted(ds.data_vars) == sorted(compile_model(path).variable_names)


def test_bench_streams_runs_to_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nea_sd.engine.batch.stream import open_lazily

    path = write(tmp_path, "exploding", EXPLODING)
    store = tmp_path / "bench.zarr"
    args = ["bench", str(path), "--runs", "50", "--pysd-runs", "0", "--backend", "numpy"]
    assert main([*args, "--stream", str(store), "--block-runs", "16"]) == 0
    assert "streamed to" in capsys.readouterr().out
    streamed = open_lazily(store)
    assert streamed.sizes["run"] == 50 and streamed["run"].values.tolist() == list(range(50))
    assert streamed["Stock"].chunks[0] == (16, 16, 16, 2)
    assert main([*args, "--stream", str(tmp_path / "bench.nc")]) == 2
    half = tmp_path / "half.zarr"
    assert main([*args, "--stream", str(half), "--stream-dtype", "float32"]) == 0
    assert open_lazily(half)["Stock"].dtype == np.float32
    np.testing.assert_array_equal(
        open_lazily(half)["Stock"].values, streamed["Stock"].values.astype(np.float32)
    )
