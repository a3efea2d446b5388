"""Where the runs happen: one small interface, three places (this process, local processes, Dask).

An :class:`Evaluator` turns chunks of sample rows into output arrays. Every place runs the same
pure function, :func:`evaluate_chunk`, on a pickled :class:`Problem`; the batch engine keeps
one compiled model per process (its own cache), and each evaluator compiles it once per worker
before the first chunk arrives.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

import numpy as np

from nea_sd.errors import MissingDependencyError, NeaSdError
from nea_sd.sensitivity.problem import Problem

Chunk = tuple[int, np.ndarray]


def _compiled(model_path: str, sha256: str) -> Any:
    from nea_sd.engine.batch import compile_model

    batch = compile_model(model_path)
    if batch.sha256 != sha256:
        raise NeaSdError(
            f"model {model_path!r} changed since the sweep started (sha256 {batch.sha256[:12]} "
            f"!= {sha256[:12]}); restart the sweep"
        )
    return batch


def warm_model(model_path: str, sha256: str) -> bool:
    """Compile the model in this process (the batch engine caches it) and check its identity."""
    _compiled(model_path, sha256)
    return True


def evaluate_chunk(problem: Problem, X: np.ndarray) -> np.ndarray:
    """Outputs of sample rows ``X``: array (rows, scenarios, columns), NaN for diverged runs."""
    batch = _compiled(problem.model_path, problem.model_sha256)
    X = np.asarray(X, dtype=float)
    backend = problem.setting("backend")
    out = np.empty((X.shape[0], len(problem.scenarios), sum(problem.widths)))
    for s in range(len(problem.scenarios)):
        result = batch.simulate(
            problem.parameter_sets(X, s),
            outputs=list(problem.variables),
            nonfinite="nan",
            chunk_size=None,  # the engine blocks runs itself (cache-sized, or per thread)
            backend=backend,
        )
        columns = [np.asarray(m.evaluate(result), dtype=float) for m in problem.metrics]
        out[:, s, :] = np.column_stack([c.reshape(X.shape[0], -1) for c in columns])
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
        warm_model(self.problem.model_path, self.problem.model_sha256)
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
            initargs=(self.problem.model_path, self.problem.model_sha256),
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


class DaskEvaluator(Evaluator):
    """Dask distributed: a scheduler address or an existing ``Client``.

    The problem is scattered once (broadcast); each worker compiles the model when the sweep
    starts (``Client.run``) or, for workers that join later, on its first chunk. Workers must
    see the model file at the same path. A client made here is closed on exit; a client passed
    in is left open.
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
        self._client.run(warm_model, self.problem.model_path, self.problem.model_sha256)
        return self

    def imap(self, chunks: Iterable[Chunk]) -> Iterator[tuple[int, np.ndarray]]:
        distributed = _import_distributed()
        client = self._client
        shared = client.scatter(self.problem, broadcast=True)
        futures = {}
        for index, X in chunks:
            future = client.submit(evaluate_chunk, shared, X, pure=False)
            futures[future] = index
        try:
            for future, value in distributed.as_completed(futures, with_results=True):
                yield futures[future], value
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
