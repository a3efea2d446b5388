"""Atomic, collision-free writes: full disk, long names, slashes in names, concurrent writers."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.errors import OutputPathError
from nea_sd.outputs import (
    atomic_write,
    atomic_write_text,
    check_output_dir,
    check_output_file,
    safe_name,
    write_dataset,
)
from tests.faults.conftest import assert_clean_error, call, leftovers, snapshot
from tests.support import REPO


def _dataset() -> xr.Dataset:
    return xr.Dataset({"x": ("time", np.arange(5.0))}, coords={"time": np.arange(5.0)})


def test_full_disk_during_a_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "result.nc"
    target.write_bytes(b"the committed result")

    def half_then_full(tmp: str) -> None:
        Path(tmp).write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputPathError, match="no space left on the device") as caught:
        atomic_write(target, half_then_full)
    assert "result.nc" in str(caught.value)
    assert target.read_bytes() == b"the committed result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.nc"]


def test_an_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    def interrupted(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "r.csv", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_written_file_has_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.toml", "x = 1\n")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_names_near_the_limit_fit_and_names_over_it_are_refused_before_work(
    tmp_path: Path,
) -> None:
    near = tmp_path / ("n" * 250 + ".nc")
    write_dataset(_dataset(), near)  # the temporary name must not push it over 255
    assert xr.open_dataset(near)["x"].values.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(OutputPathError, match="bytes long.*shorter name"):
        check_output_file(tmp_path / ("n" * 300 + ".nc"))


def test_slash_in_a_scenario_name_is_safe_in_a_file_name() -> None:
    assert safe_name("loops-nea-functional-first/no-detente") == (
        "loops-nea-functional-first--no-detente"
    )
    assert "/" not in safe_name("a/b\\c") and safe_name("..") == "_"


def test_full_disk_is_refused_before_the_work(tmp_path: Path, monkeypatch) -> None:
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr("nea_sd.outputs.shutil.disk_usage", lambda _p: usage._replace(free=1000))
    with pytest.raises(OutputPathError, match=r"only 1\.0 kB free .* need about 1\.0 MB"):
        check_output_dir(tmp_path)


def test_output_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_dir(tmp_path / "f")


def test_compare_on_a_full_disk_keeps_every_earlier_result(
    capsys, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "out"
    assert call(capsys, "compare", "dyad", "--scenarios", "status-quo", "--output-dir", out)[0] == 0
    before = snapshot(out)

    def partial_then_full(self, path, *args, **kwargs):  # noqa: ANN001, ANN202
        Path(path).write_bytes(b"CDF half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", partial_then_full)
    code, _, err = call(capsys, "compare", "dyad", "--scenarios", "status-quo", "--output-dir", out)
    assert_clean_error(code, err, "no space left", "compare_dyad_trajectories.nc")
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_a_failing_command_leaves_no_folder_it_created(capsys, tmp_path: Path) -> None:
    """The output path is checked (and its folders made) before the work; a command that then
    fails removes the folders it made, and never a folder that was there or holds a file."""
    made = tmp_path / "new" / "deeper"
    code, _, err = call(capsys, "run", "dyad", "--set", "Nope=1", "--output", made / "x.nc")
    assert_clean_error(code, err, "'Nope'")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    code, _, err = call(
        capsys, "compare", "dyad", "--scenarios", "nope", "--output-dir", tmp_path / "cmp"
    )
    assert_clean_error(code, err, "'nope'")
    assert not (tmp_path / "cmp").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    code, _, err = call(capsys, "run", "dyad", "--set", "Nope=1", "--output", kept / "x.nc")
    assert code == 2 and kept.is_dir()
    assert call(capsys, "run", "dyad", "--output", made / "x.nc")[0] == 0
    assert (made / "x.nc").is_file()  # a command that succeeds keeps what it made


def test_loops_checks_its_output_folder_before_the_work(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out, err = call(capsys, "loops", "dyad", "--output-dir", blocker / "sub")
    assert_clean_error(code, err, str(blocker / "sub"))
    assert out == ""  # refused before any loop was scored


def test_loops_writes_no_detente_variant_with_a_safe_file_name(capsys, tmp_path: Path) -> None:
    code, _, err = call(
        capsys,
        "loops",
        "dyad",
        "--scenario",
        "functional-first/no-detente",
        "--output-dir",
        tmp_path,
    )
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "loops-dyad-functional-first--no-detente.nc" in names
    assert leftovers(tmp_path) == []
    data = xr.open_dataset(tmp_path / "loops-dyad-functional-first--no-detente.nc")
    assert "functional-first/no-detente" in data.attrs["scenarios"]


def test_calibrate_checks_its_output_before_the_fit(capsys, tmp_path: Path) -> None:
    spec = REPO / "tests" / "calibrate" / "fixtures" / "tiny.toml"
    code, out, err = call(
        capsys, "calibrate", spec, "--output", tmp_path / "missing" / "x" / "r.txt"
    )
    assert_clean_error(code, err, "r.txt", ".toml")
    assert out == ""


def test_concurrent_writers_of_one_file_never_collide(tmp_path: Path) -> None:
    """Twenty threads write the same netCDF at once: every write succeeds, the file is whole."""
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "compare_dyad_trajectories.nc"
    datasets = [_dataset() * k for k in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda ds: write_dataset(ds, target), datasets))
    with xr.open_dataset(target) as written:
        k = written["x"].values[1]
        assert written["x"].values.tolist() == (np.arange(5.0) * k).tolist()
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_two_concurrent_compares_into_one_folder_both_succeed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "nea_sd", "compare", "dyad", "--scenarios",
               "status-quo,military-first", "--output-dir", str(tmp_path)]  # fmt: skip
    procs = [
        subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )  # fmt: skip
        for _ in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    assert leftovers(tmp_path) == []
    data = xr.open_dataset(tmp_path / "compare_dyad_trajectories.nc")
    assert list(data["run"].values) == ["status-quo", "military-first"]


def test_compare_year_outside_the_run_is_refused_before_running(capsys, tmp_path: Path) -> None:
    code, out, err = call(capsys, "compare", "dyad", "--year", "2100", "--output-dir", tmp_path)
    assert_clean_error(code, err, "--year 2100", "2000-2050")
    assert out == "" and list(tmp_path.iterdir()) == []


def test_diagram_on_a_full_disk_leaves_no_empty_svg(capsys, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("simlin")
    target = tmp_path / "dyad.svg"
    target.write_text("<svg>the earlier diagram</svg>")
    before = snapshot(tmp_path)

    def full(self, data):  # noqa: ANN001, ANN202
        with open(self, "wb") as stream:
            stream.write(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    code, _, err = call(capsys, "diagram", "dyad", "--view", "Trust", "--output", target)
    assert_clean_error(code, err, "no space left", "dyad.svg")
    assert snapshot(tmp_path) == before and leftovers(tmp_path) == []


def test_loops_on_a_full_disk_keeps_earlier_results(capsys, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "loops-dyad-status-quo.nc").write_bytes(b"an earlier result")
    before = snapshot(tmp_path)

    def partial_then_full(self, path, *args, **kwargs):  # noqa: ANN001, ANN202
        Path(path).write_bytes(b"CDF half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", partial_then_full)
    code, _, err = call(
        capsys, "loops", "dyad", "--scenario", "status-quo", "--output-dir", tmp_path
    )
    assert_clean_error(code, err, "no space left", "loops-dyad-status-quo.nc")
    after = snapshot(tmp_path)
    assert {k: after[k] for k in before} == before  # new complete CSVs may sit beside them
    assert (tmp_path / "loops-dyad-status-quo.nc").read_bytes() == b"an earlier result"
    assert leftovers(tmp_path) == []


def test_sigterm_during_a_stream_removes_its_temporary_store(tmp_path: Path) -> None:
    """A scheduler's or ``timeout``'s SIGTERM unwinds like Ctrl-C: exit 143, one line, and the
    half-written store (gigabytes at large N) is removed, not left as a hidden folder."""
    model = Path(__file__).parent / "fixtures" / "small.mdl"
    argv = [sys.executable, "-m", "nea_sd", "bench", str(model), "--runs", "2000000"]
    argv += ["--pysd-runs", "0", "--backend", "numpy", "--block-runs", "2000"]
    argv += ["--stream", "out.zarr"]
    child = subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob(".nea_sd-out.zarr.*/diverged")):  # a block is on disk
        assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    err = child.communicate(timeout=120)[1]
    assert child.returncode == 143, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "terminated"
    assert list(tmp_path.iterdir()) == []
