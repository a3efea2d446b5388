"""Run many sequential optimisers or samplers against one batch simulator.

Each task (one optimiser start, one profile point, one SBC replicate) is ordinary sequential
code — scipy's ``least_squares``, emcee — that asks for model outputs at some parameter rows.
The tasks run in threads; every request waits until all live tasks have asked, and then all
requests are simulated together in **one** batch-engine call. So 20 starts cost about as much
per iteration as one, and results do not depend on how requests were grouped (runs are
independent in the batch engine).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from nea_sd.calibrate.problem import Outputs

T = TypeVar("T")
Evaluate = Callable[[np.ndarray], Outputs]


class _Barrier:
    def __init__(self, simulate: Callable[[np.ndarray], Outputs], workers: int):
        self.simulate = simulate
        self.cond = threading.Condition()
        self.pending: dict[int, np.ndarray] = {}
        self.results: dict[int, Outputs | BaseException] = {}
        self.active = workers
        self.batches = 0

    def request(self, worker: int, X: np.ndarray) -> Outputs:
        with self.cond:
            self.pending[worker] = np.atleast_2d(np.asarray(X, dtype=float))
            self.cond.notify_all()
            while worker not in self.results:
                self.cond.wait()
            result = self.results.pop(worker)
        if isinstance(result, BaseException):
            raise result
        return result

    def finished(self) -> None:
        with self.cond:
            self.active -= 1
            self.cond.notify_all()

    def serve(self, on_batch: Callable[[int], None] | None) -> None:
        while True:
            with self.cond:
                while self.active and len(self.pending) < self.active:
                    self.cond.wait()
                if not self.active:
                    return
                batch, self.pending = self.pending, {}
            order = sorted(batch)
            sizes = [batch[w].shape[0] for w in order]
            try:
                outputs = self.simulate(np.concatenate([batch[w] for w in order]))
                edges = np.cumsum([0, *sizes])
                answer: dict[int, Any] = {
                    w: outputs.take(slice(edges[i], edges[i + 1])) for i, w in enumerate(order)
                }
            except BaseException as exc:  # noqa: BLE001 - handed to the tasks, re-raised there
                answer = dict.fromkeys(order, exc)
            self.batches += 1
            if on_batch is not None:
                on_batch(int(sum(sizes)))
            with self.cond:
                self.results.update(answer)
                self.cond.notify_all()


def run_tasks(
    simulate: Callable[[np.ndarray], Outputs],
    tasks: Sequence[Callable[[Evaluate], T]],
    *,
    on_batch: Callable[[int], None] | None = None,
) -> list[T]:
    """Run ``task(evaluate)`` for every task, pooling their ``evaluate(X)`` calls into batches.

    The first exception raised by a task is re-raised here after all tasks have stopped.
    """
    if len(tasks) == 1:

        def direct(X: np.ndarray) -> Outputs:
            out = simulate(np.atleast_2d(X))
            if on_batch is not None:
                on_batch(int(np.atleast_2d(X).shape[0]))
            return out

        return [tasks[0](direct)]
    barrier = _Barrier(simulate, len(tasks))
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)

    def work(i: int) -> None:
        try:
            results[i] = tasks[i](lambda X: barrier.request(i, X))
        except BaseException as exc:  # noqa: BLE001
            errors[i] = exc
        finally:
            barrier.finished()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(tasks))]
    for t in threads:
        t.start()
    barrier.serve(on_batch)
    for t in threads:
        t.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results
