"""Slow, self-contained test work started as soon as the suite is collected, in one separate
process, so that it runs on the second core beside the rest of the suite: PySD's full-horizon
runs of the regional model (about 45 s each), the notebooks' kernels and the report build.

A test marked ``@pytest.mark.background(job, *args)`` gets its job's return value from the
``in_background`` fixture (tests/conftest.py starts the jobs of the selected tests, in their
order, when collection finishes; tests marked with the same job and arguments share one run).
Without the pool — a test run on its own in a debugger — the job runs in the test. Jobs are
module-level functions here: the worker is spawned, not forked (numba's and BLAS's threads
do not survive a fork), and imports them by name.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

_pool: ProcessPoolExecutor | None = None
_futures: dict[str, Future] = {}
_done: dict[str, Any] = {}


def _key(job: Callable[..., Any], args: tuple[Any, ...]) -> str:
    return f"{job.__module__}.{job.__qualname__}{args!r}"


def start(jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
    """Submit each distinct ``(job, args)`` to one spawned worker, in order."""
    global _pool
    if not jobs or _pool is not None:
        return
    _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    for job, args in jobs:
        key = _key(job, args)
        if key not in _futures:
            _futures[key] = _pool.submit(job, *args)


def result(job: Callable[..., Any], *args: Any) -> Any:
    """The job's return value: from the worker if it was started there, else run here (once
    per session either way)."""
    key = _key(job, args)
    if key not in _done:
        future = _futures.pop(key, None)
        _done[key] = future.result() if future is not None else job(*args)
    return _done[key]


def stop() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None
    _futures.clear()
    _done.clear()


# -- the jobs -----------------------------------------------------------------------------


def full_horizon_overrides(model: Any, strategy: str | None, random: bool) -> dict[str, Any]:
    """The parameter set of a full-horizon case: a strategy's overrides over the defaults or
    over a within-range draw (seed 2026)."""
    from nea_sd.engine.batch.sampling import run_slice, sample_within_ranges
    from nea_sd.scenarios import load_scenarios

    scenario = load_scenarios(model)[strategy].overrides if strategy else {}
    base = run_slice(sample_within_ranges(model.parameters, 1, seed=2026), 0) if random else {}
    return {**base, **scenario}


def pysd_reference(name: str, strategy: str | None, random: bool) -> None:
    """PySD's full-horizon run of a case, left in the references cache (keyed by content)."""
    from nea_sd.engine.batch import compile_model
    from nea_sd.engine.reference import reference_run
    from tests.support import bundled

    model = bundled(name)
    names = compile_model(model.path).variable_names
    reference_run(model, full_horizon_overrides(model, strategy, random), names)


def execute_notebook(path: str) -> Any:
    """The notebook at ``path`` executed in a real Jupyter kernel started in a temporary
    folder (its outputs go there, never into the checkout); returns the executed notebook."""
    import jupytext
    import nbclient

    root = str(Path(__file__).resolve().parents[1])
    notebook = jupytext.read(path)
    folder = tempfile.mkdtemp(prefix="nea_sd_notebook_")
    saved = dict(os.environ)
    try:
        os.environ["NEA_SD_OUTPUT"] = str(Path(folder) / "output")
        # a kernel shows figures inline as a user's would: no backend inherited (CI sets Agg)
        os.environ.pop("MPLBACKEND", None)
        os.environ["PYTHONPATH"] = os.pathsep.join([root, saved.get("PYTHONPATH", "")])
        client = nbclient.NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(folder, ignore_errors=True)
    return notebook


def build_report(model: str, samples: str, seed: str) -> tuple[str, int]:
    """``nea-sd report`` on a model into a new temporary folder: (folder, exit code). The
    caller removes the folder."""
    from nea_sd.cli import main

    folder = tempfile.mkdtemp(prefix="nea_sd_report_")
    argv = ["report", model, "--samples", samples, "--seed", seed, "--output-dir", folder]
    try:
        code = main(argv)
    except SystemExit as stop:
        code = int(stop.code or 0)
    return folder, int(code)
