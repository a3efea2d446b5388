"""Where the runs happen: one small interface, three places (this process, local processes, Dask).

An :class:`Evaluator` turns chunks of sample rows into output arrays. Every place runs the same
pure function, :func:`evaluate_chunk`, on a pickled :class:`Problem`; the batch engine keeps
one compiled model per process (its own cache), and each evaluator compiles it once per worker
before the first chunk arrives.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from nea_sd.errors import MissingDependencyError, NeaSdError
from nea_sd.sensitivity.problem import Problem

Chunk = tuple[int, np.ndarray]


def model_file(problem: Problem) -> Path:
    """The model as it was when the problem was built: its own path while the file there is
    unchanged, else a copy written from the text the problem carries (a worker on another
    machine, or a model edited during the sweep)."""
    from nea_sd.model import file_sha256

    path = Path(problem.model_path)
    with contextlib.suppress(OSError):
        if file_sha256(path) == problem.model_sha256:
            return path
    if not problem.model_text:
        raise NeaSdError(
            f"model {problem.model_path!r} changed since the sweep started; restart the sweep"
        )
    folder = Path(tempfile.gettempdir()) / "nea_sd_models" / problem.model_sha256[:24]
    target = folder / path.name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, suffix=".partial")
        with os.fdopen(handle, "wb") as stream:
            stream.write(problem.model_text)
        os.replace(temp, target)  # atomic: parallel workers never read half a file
    return target


def _compiled(problem: Problem) -> Any:
    from nea_sd.engine.batch import compile_model

    return compile_model(model_file(problem))


def warm_model(problem: Problem) -> bool:
    """Compile the model in this process (the batch engine caches it per content)."""
    _compiled(problem)
    return True


def evaluate_chunk(problem: Problem, X: np.ndarray) -> np.ndarray:
    """Outputs of sample rows ``X``: array (rows, scenarios, columns), NaN for diverged runs."""
    batch = _compiled(problem)
    X = np.asarray(X, dtype=float)
    backend = problem.setting("backend")
    out = np.empty((X.shape[0], len(problem.scenarios), sum(problem.widths)))
    for s in range(len(problem.scenarios)):
        params = problem.parameter_sets(X, s)
        result = batch.simulate(
            params,
            outputs=list(problem.variables),
            nonfinite="nan",
            chunk_size=None,  # the engine blocks runs itself (cache-sized, or per thread)
            backend=backend,
        )
        if problem.needs_loops:  # Loops That Matter scores, the loop set fixed by scenario 0
            from nea_sd.loops.dominance import dominance_data

            path = model_file(problem)
            scored = dominance_data(
                path,
                params,
                X.shape[0],
                problem.bases[0],
                saveper=problem.setting("loop_saveper"),
                score_from=min(
                    m.start for m in problem.metrics if getattr(m, "needs_loops", False)
                ),
            )
            result = result.merge(scored)
        columns = [np.asarray(m.evaluate(result), dtype=float) for m in problem.metrics]
        out[:, s, :] = np.column_stack([c.reshape(X.shape[0], -1) for c in columns])
        # a diverged run has no outcome: NaN in every column (never "stage 0", "never reached")
        out[np.asarray(result["diverged"].values, dtype=bool), s, :] = np.nan
    return out


class Evaluator:
    """Evaluates chunks of sample rows; a context manager that owns its workers.

    Subclasses override :meth:`imap` (to spread chunks) and :meth:`close`; the base class
    evaluates chunk after chunk in this process.
    """

    name: str = "evaluator"

    def __init__(self, problem: Problem):
        self.problem = problem

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Outputs of one chunk, computed here and now."""
        return evaluate_chunk(self.problem, X)

    def imap(self, chunks: Iterable[Chunk]) -> Iterator[tuple[int, np.ndarray]]:
        """(chunk index, outputs) as chunks finish, in any order."""
        for index, X in chunks:
            yield index, self.evaluate(X)

    @property
    def workers(self) -> int:
        return 1

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release workers (nothing to do in-process)."""


class InProcessEvaluator(Evaluator):
    """The batch engine in this process (the default: no start-up, no transfer)."""

    name = "in-process"

    def __enter__(self) -> InProcessEvaluator:
        warm_model(self.problem)
        return self


class ProcessEvaluator(Evaluator):
    """Local worker processes (``concurrent.futures``), the model compiled once per worker by
    the pool's initializer."""

    name = "processes"

    def __init__(self, problem: Problem, workers: int):
        super().__init__(problem)
        if workers < 1:
            raise NeaSdError(f"--workers must be at least 1, got {workers}")
        self._workers = int(workers)
        self._pool: cf.ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def __enter__(self) -> ProcessEvaluator:
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=warm_model,
            initargs=(self.problem,),
        )
        return self

    def imap(self, chunks: Iterable[Chunk]) -> Iterator[tuple[int, np.ndarray]]:
        if self._pool is None:
            raise RuntimeError("use the evaluator as a context manager")
        futures = {self._pool.submit(evaluate_chunk, self.problem, X): index for index, X in chunks}
        try:
            for future in cf.as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(
            "--scheduler needs Dask distributed; install it with "
            "pip install 'nea-sd[distributed]' (or pip install 'dask[distributed]')"
        ) from None
    return distributed


MAX_RESUBMITS = 3


class DaskEvaluator(Evaluator):
    """Dask distributed: a scheduler address or an existing ``Client``.

    The problem is scattered once (broadcast); each worker compiles the model when the sweep
    starts (``Client.run``) or, for workers that join later, on its first chunk. Workers that do
    not see the model file (another machine) write it from the text the problem carries. A
    client made here is closed on exit; a client passed in is left open.
    """

    name = "dask"

    def __init__(self, problem: Problem, scheduler: Any):
        super().__init__(problem)
        self._scheduler = scheduler
        self._client: Any = None
        self._own = False

    @property
    def workers(self) -> int:
        if self._client is None:
            return 0
        return len(self._client.scheduler_info().get("workers", {}))

    def __enter__(self) -> DaskEvaluator:
        distributed = _import_distributed()
        if isinstance(self._scheduler, str):
            try:
                self._client = distributed.Client(self._scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise NeaSdError(
                    f"cannot reach the Dask scheduler at {self._scheduler!r}: {exc}"
                ) from None
            self._own = True
        else:
            self._client = self._scheduler
        self._client.run(warm_model, self.problem)
        return self

    def imap(self, chunks: Iterable[Chunk]) -> Iterator[tuple[int, np.ndarray]]:
        distributed = _import_distributed()
        client = self._client
        shared = client.scatter(self.problem, broadcast=True)
        rows = dict(chunks)
        futures = {client.submit(evaluate_chunk, shared, X, pure=False): i for i, X in rows.items()}
        tries: dict[int, int] = {}
        try:
            running = distributed.as_completed(list(futures))
            for future in running:
                index = futures[future]
                if future.cancelled():  # a lost worker or data: not a result, run it again
                    tries[index] = tries.get(index, 0) + 1
                    if tries[index] > MAX_RESUBMITS:
                        raise NeaSdError(
                            f"the Dask cluster cancelled chunk {index} {tries[index]} times; "
                            "check the workers, then continue with --resume"
                        )
                    shared = client.scatter(self.problem, broadcast=True)
                    again = client.submit(evaluate_chunk, shared, rows[index], pure=False)
                    futures[again] = index
                    running.add(again)
                    continue
                yield index, future.result()  # the task's own error is raised, not yielded
        finally:
            client.cancel(list(futures))

    def close(self) -> None:
        if self._client is not None and self._own:
            self._client.close()
        self._client = None


def make_evaluator(
    problem: Problem, *, workers: int | None = None, scheduler: Any = None
) -> Evaluator:
    """The evaluator for the command line's ``--workers``/``--scheduler`` choice."""
    if scheduler is not None and workers is not None:
        raise NeaSdError("choose --workers or --scheduler, not both")
    if scheduler is not None:
        return DaskEvaluator(problem, scheduler)
    if workers is not None and workers > 1:
        return ProcessEvaluator(problem, workers)
    return InProcessEvaluator(problem)
