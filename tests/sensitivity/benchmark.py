"""Benchmark of sensitivity sweeps on the regional model (not collected by pytest).

    python tests/sensitivity/benchmark.py --samples 1024 --where inprocess
    python tests/sensitivity/benchmark.py --samples 128 --where dask:1 dask:2 --backend numpy

Runs Sobol (first and total order) over the 26 factors of ``fixtures/nea_sequencing.toml``
under the functional-first scenario, and prints wall time and runs per second for each place:
``inprocess``, ``processes:K`` (local worker processes) or ``dask:K`` (a LocalCluster with K
single-threaded worker processes, started before the clock).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from nea_sd.model import load_model
from nea_sd.sensitivity import (
    DaskEvaluator,
    InProcessEvaluator,
    ProcessEvaluator,
    build_problem,
    load_spec,
    planned_runs,
    run_sweep,
)

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def _worker_cpu(client: object) -> float:
    """CPU seconds used so far by the Dask workers (0 without a client)."""
    if client is None:
        return 0.0
    return float(sum(client.run(time.process_time).values()))  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--where", nargs="+", default=["inprocess"])
    parser.add_argument("--backend", default="numpy", choices=("numpy", "numba"))
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--scenario", default="functional-first")
    parser.add_argument("--model", default=str(REPO / "models" / "nea.mdl"))
    args = parser.parse_args()

    model = load_model(args.model)
    spec = load_spec(HERE / "fixtures" / "nea_sequencing.toml")
    problem = build_problem(model, spec, scenario=args.scenario, backend=args.backend)
    if args.chunk_size:
        settings = dict(problem.settings) | {"chunk_size": args.chunk_size}
        problem = dataclasses.replace(problem, settings=tuple(sorted(settings.items())))
    runs = planned_runs(problem, "sobol", args.samples)
    print(
        f"sobol N={args.samples}, {len(problem.factors)} factors, {runs} runs, "
        f"backend {args.backend}, chunk {problem.setting('chunk_size')}"
    )
    for where in args.where:
        kind, _, count = where.partition(":")
        workers = int(count or 1)
        cluster = client = None
        if kind == "dask":
            import distributed

            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
            evaluator = DaskEvaluator(problem, client)
        elif kind == "processes":
            evaluator = ProcessEvaluator(problem, workers)
        else:
            evaluator = InProcessEvaluator(problem)
        before = _worker_cpu(client)
        start, cpu = time.perf_counter(), time.process_time()
        result = run_sweep(problem, "sobol", args.samples, seed=1, evaluator=evaluator)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        cpu += _worker_cpu(client) - before
        # CPU time (all threads): what the sweep costs, whatever else the machine is doing
        print(
            f"{where:>12}: {elapsed:7.1f} s wall, {runs / elapsed:7.1f} runs/s, "
            f"{cpu:7.1f} s CPU (here + Dask workers) ({result.computed} chunks)",
            flush=True,
        )
        if client is not None:
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
