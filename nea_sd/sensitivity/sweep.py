"""A sweep end to end: sample (SALib), evaluate in checkpointed chunks, analyse, save.

The sample is a pure function of (problem, method, N, seed), so an interrupted sweep is resumed
by drawing it again, checking its hash against the checkpoint manifest and evaluating only the
chunks that are not on disk; the result is the same as that of an uninterrupted run.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nea_sd.errors import CheckpointError, InvalidValueError
from nea_sd.outputs import check_output_file, write_dataset
from nea_sd.sensitivity.analysis import SensitivityResult, analyze
from nea_sd.sensitivity.checkpoint import Checkpoint, checkpoint_dir, read_manifest, sample_hash
from nea_sd.sensitivity.evaluators import Evaluator, InProcessEvaluator
from nea_sd.sensitivity.methods import check_method, get_method
from nea_sd.sensitivity.problem import Problem


def draw_sample(problem: Problem, method: str, n: int, seed: int) -> np.ndarray:
    """The method's SALib sample of ``n`` base samples (rows: model runs per scenario)."""
    chosen = get_method(method)
    check_method(chosen, problem.grouped, n)
    options = dict(problem.settings)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return np.asarray(chosen.sample(problem.salib_problem(), int(n), seed, options), float)


def planned_runs(problem: Problem, method: str, n: int) -> int:
    """Model runs the sweep will make (all scenarios)."""
    chosen = get_method(method)
    return chosen.runs(int(n), len(problem.groups), dict(problem.settings)) * len(problem.scenarios)


def _check_seed(seed: int | None) -> None:
    if seed is not None and (isinstance(seed, bool) or int(seed) != seed or seed < 0):
        raise InvalidValueError(f"seed must be a non-negative integer, got {seed!r}")


def run_sweep(
    problem: Problem,
    method: str,
    n: int,
    *,
    seed: int | None = None,
    evaluator: Evaluator | None = None,
    output: str | os.PathLike[str] | None = None,
    resume: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> SensitivityResult:
    """Sample, evaluate and analyse; with ``output`` (``.nc``), checkpoint every chunk beside it,
    write the result there and remove the checkpoint.

    ``seed`` None draws a fresh one (recorded in the result), except when resuming, where the
    checkpoint's seed is used. ``on_progress`` receives the number of runs in each finished
    chunk (also for chunks reused from a checkpoint).
    """
    _check_seed(seed)
    target = check_output_file(output, (".nc",)) if output is not None else None
    folder = checkpoint_dir(target) if target is not None else None
    if resume and folder is None:
        raise CheckpointError("--resume needs --output: the checkpoint lives beside it")
    if seed is None and resume and folder is not None:
        previous = read_manifest(folder)
        if previous is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {str(folder)!r}")
        seed = int(previous["seed"])
    if seed is None:
        seed = secrets.randbits(31)
    X = draw_sample(problem, method, n, seed)
    chunk_size = int(problem.setting("chunk_size"))
    starts = list(range(0, len(X), chunk_size))
    n_scen = len(problem.scenarios)
    values = np.full((len(X), n_scen, sum(problem.widths)), np.nan)

    checkpoint = None
    done: set[int] = set()
    if folder is not None:
        manifest = {
            "sample_hash": sample_hash(X),
            "spec_sha256": problem.spec_sha256,
            "model_sha256": problem.model_sha256,
            "method": method,
            "samples": int(n),
            "seed": int(seed),
            "chunk_size": chunk_size,
            "rows": len(X),
            "scenarios": list(problem.scenarios),
            "columns": int(sum(problem.widths)),
            "backend": problem.setting("backend"),
        }
        checkpoint = Checkpoint.open(folder, manifest, resume=resume)
        done = checkpoint.done() & set(range(len(starts)))
        for index in sorted(done):
            start, stop = starts[index], min(len(X), starts[index] + chunk_size)
            values[start:stop] = checkpoint.load(index)
            if on_progress is not None:
                on_progress((stop - start) * n_scen)
    pending = [(i, X[s : s + chunk_size]) for i, s in enumerate(starts) if i not in done]

    computed = 0
    evaluator = evaluator if evaluator is not None else InProcessEvaluator(problem)
    if pending:
        with evaluator as running:
            for index, chunk_values in running.imap(pending):
                start = starts[index]
                values[start : start + len(chunk_values)] = chunk_values
                if checkpoint is not None:
                    checkpoint.save(index, chunk_values)
                computed += 1
                if on_progress is not None:
                    on_progress(len(chunk_values) * n_scen)
    dataset = analyze(
        problem,
        get_method(method),
        X,
        values,
        seed=int(seed),
        samples=int(n),
        extra_attrs={
            "sample_hash": sample_hash(X),
            "evaluator": evaluator.name,
            "chunk_size": chunk_size,
        },
    )
    result = SensitivityResult(dataset, computed=computed, reused=len(done))
    if target is not None:
        write_dataset(dataset, target)
        if checkpoint is not None:
            checkpoint.remove()
    return result


def load_result(path: str | os.PathLike[str]) -> SensitivityResult:
    """A saved sweep result (netCDF written by :func:`run_sweep`)."""
    import xarray as xr

    with xr.open_dataset(Path(path)) as dataset:
        return SensitivityResult(dataset.load())
