"""Benchmark: loop scores of the regional model for many parameter draws.

``python -m nea_sd.loops.bench [RUNS] [WORKERS]`` prints the time of the one-off loop
discovery (pilot run + strongest-path search) and of scoring every draw, wall and CPU (CPU
includes the forked workers), with the machine's load, since the machine is shared.
"""

from __future__ import annotations

import os
import resource
import sys
import time

from nea_sd.loops.analysis import analyze, causal_graph, find_loops, pilot_links
from nea_sd.loops.named import read_named_loops
from nea_sd.loops.strategies import strategy_parameters
from nea_sd.model import load_model

MODEL = "models/nea.mdl"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(runs: int = 1000, workers: int = 2, saveper: float = 1.0) -> dict[str, float]:
    graph = causal_graph(MODEL)
    model = load_model(MODEL)
    params = strategy_parameters(model, ["functional-first"], runs, 0)["functional-first"]
    t0, c0 = time.perf_counter(), _cpu()
    named = read_named_loops("models/loops.toml", "nea", graph.variables)
    base = graph.program.model.parameter_arrays(params)[0]
    loopset = find_loops(graph, named, pilot_links(graph, base, saveper))
    t1, c1 = time.perf_counter(), _cpu()
    result = analyze(MODEL, params, runs, loopset=loopset, saveper=saveper, workers=workers)
    t2, c2 = time.perf_counter(), _cpu()
    out = {
        "loops": len(loopset.loops),
        "discovery_wall": t1 - t0,
        "discovery_cpu": c1 - c0,
        "scoring_wall": t2 - t1,
        "scoring_cpu": c2 - c1,
        "load": os.getloadavg()[0],
        "times": result.data.sizes["time"],
    }
    print(
        f"{runs} draws of {MODEL}, {out['loops']} loops, {out['times']} scored times, "
        f"{workers} workers (load average {out['load']:.1f} on {os.cpu_count()} CPUs)\n"
        f"  discovery: {out['discovery_wall']:.1f} s wall, {out['discovery_cpu']:.1f} s CPU\n"
        f"  scoring:   {out['scoring_wall']:.1f} s wall, {out['scoring_cpu']:.1f} s CPU"
    )
    return out


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:]]
    main(int(args[0]) if args else 1000, int(args[1]) if len(args) > 1 else 2)
