"""Checkpointed sweeps: an interrupted sweep resumes, recomputes no finished chunk and ends with
the same result as an uninterrupted one — in-process, and on a real Dask cluster whose client
process is killed with SIGKILL mid-sweep."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from sensitivity_helpers import ISHIGAMI_SPEC, slow_ishigami

from nea_sd.errors import CheckpointError
from nea_sd.model import load_model
from nea_sd.sensitivity import (
    DaskEvaluator,
    InProcessEvaluator,
    build_problem,
    load_spec,
    run_sweep,
)
from nea_sd.sensitivity.checkpoint import checkpoint_dir

CHUNKED_SPEC = ISHIGAMI_SPEC.read_text().replace("chunk_size = 4096", "chunk_size = 128")


class Interrupting(InProcessEvaluator):
    """Stops (as Ctrl-C would) after ``limit`` chunks."""

    def __init__(self, problem, limit):
        super().__init__(problem)
        self.limit = limit

    def imap(self, chunks):
        for done, item in enumerate(super().imap(chunks)):
            if done == self.limit:
                raise KeyboardInterrupt
            yield item


class Recording(InProcessEvaluator):
    """Remembers which chunks it was asked to compute."""

    def __init__(self, problem):
        super().__init__(problem)
        self.asked: list[int] = []

    def imap(self, chunks):
        chunks = list(chunks)
        self.asked += [i for i, _ in chunks]
        return super().imap(chunks)


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in ("indices", "conf", "S2", "S2_conf", "X", "Y"):
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


@pytest.fixture()
def chunked(tmp_path, ishigami):
    spec = tmp_path / "spec.toml"
    spec.write_text(CHUNKED_SPEC)
    return build_problem(ishigami, load_spec(spec))


def test_interrupted_sweep_resumes_without_recomputing(chunked, tmp_path):
    out = tmp_path / "sweep.nc"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(chunked, "sobol", 128, seed=0, output=out, evaluator=Interrupting(chunked, 3))
    folder = checkpoint_dir(out)
    assert sorted(p.name for p in folder.glob("chunk_*.npz")) == [
        "chunk_00000.npz",
        "chunk_00001.npz",
        "chunk_00002.npz",
    ]
    assert not out.exists()
    with pytest.raises(CheckpointError, match="pass --resume to continue it"):
        run_sweep(chunked, "sobol", 128, seed=0, output=out)
    with pytest.raises(CheckpointError, match=r"belongs to another sweep \(sample_hash differs"):
        run_sweep(chunked, "sobol", 128, seed=1, output=out, resume=True)

    recording = Recording(chunked)
    resumed = run_sweep(chunked, "sobol", 128, output=out, resume=True, evaluator=recording)
    assert recording.asked == list(range(3, 8))  # 128 * 8 rows in chunks of 128
    assert (resumed.reused, resumed.computed) == (3, 5)
    assert resumed.dataset.attrs["seed"] == "0"  # taken from the checkpoint
    assert not folder.exists() and out.exists()
    _same(resumed.dataset, run_sweep(chunked, "sobol", 128, seed=0).dataset)
    with xr.open_dataset(out) as saved:
        _same(saved.load(), resumed.dataset)


def test_resume_needs_a_checkpoint(chunked, tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume: no checkpoint in"):
        run_sweep(chunked, "sobol", 16, output=tmp_path / "x.nc", resume=True)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


class RecordingDask(DaskEvaluator):
    def __init__(self, problem, client):
        super().__init__(problem, client)
        self.asked: list[int] = []

    def imap(self, chunks):
        chunks = list(chunks)
        self.asked += [i for i, _ in chunks]
        return super().imap(chunks)


def test_sigkill_mid_sweep_on_dask_then_resume(cluster, tmp_path):
    local, client = cluster
    model_file = slow_ishigami(tmp_path)  # ~0.3 s per chunk of 128 runs
    spec = tmp_path / "spec.toml"
    spec.write_text(CHUNKED_SPEC)
    out = tmp_path / "sweep.nc"
    folder = checkpoint_dir(out)
    total = 256 * 8 // 128
    command = [sys.executable, "-m", "nea_sd", "sensitivity", str(model_file)]
    command += ["--method", "sobol", "-N", "256", "--spec", str(spec), "--seed", "7"]
    command += ["--scheduler", local.scheduler_address, "--output", str(out)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while len(list(folder.glob("chunk_*.npz"))) < 3:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no chunk finished in time"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    finished = {p.name: np.load(p)["values"] for p in folder.glob("chunk_*.npz")}
    assert 3 <= len(finished) < total and not out.exists()

    problem = build_problem(load_model(model_file), load_spec(spec))
    evaluator = RecordingDask(problem, client)
    resumed = run_sweep(problem, "sobol", 256, output=out, resume=True, evaluator=evaluator)
    done_before = {int(name[6:11]) for name in finished}
    assert set(evaluator.asked).isdisjoint(done_before)
    assert sorted(set(evaluator.asked) | done_before) == list(range(total))
    assert (resumed.reused, resumed.computed) == (len(finished), total - len(finished))
    for name, values in finished.items():  # the saved chunks are the result's rows
        start = int(name[6:11]) * 128
        kept = resumed.dataset["Y"].values[start : start + 128, 0]
        np.testing.assert_array_equal(kept, values[:, 0, 0])

    uninterrupted = run_sweep(
        problem, "sobol", 256, seed=7, evaluator=DaskEvaluator(problem, client)
    )
    _same(resumed.dataset, uninterrupted.dataset)
    assert resumed.dataset.attrs["seed"] == "7"


def test_workers_run_the_model_as_it_was_when_the_problem_was_built(tmp_path, ishigami):
    from nea_sd.sensitivity import evaluate_chunk
    from nea_sd.sensitivity.evaluators import model_file

    copy = tmp_path / "ishigami.mdl"
    copy.write_bytes(ishigami.path.read_bytes())
    problem = build_problem(load_model(copy), load_spec(ISHIGAMI_SPEC))
    X = np.array([[0.5, 1.0, -2.0], [1.5, -1.0, 2.5]])
    before = evaluate_chunk(problem, X)
    copy.write_text(copy.read_text().replace("SIN(x1) + a", "COS(x1) + a"))  # edited meanwhile
    copy.rename(tmp_path / "moved.mdl")  # ... or absent, as on another machine
    assert model_file(problem) != copy and model_file(problem).name == "ishigami.mdl"
    np.testing.assert_array_equal(evaluate_chunk(problem, X), before)
