"""Benchmark: one EMA experiment set through our batch evaluator and EMA's PySD connector.

``python -m nea_sd.ema_bench [MODEL] [--scenarios N] [--pysd-experiments K]``: N LHS scenarios
x the strategies of ``scenarios.toml`` go through :class:`nea_sd.ema.BatchEvaluator`; the
first K experiments of the same set go through EMA's ``PysdModel`` (one PySD run each, after
one warm-up run that pays the translation). Both report seconds per experiment; the time
series of the first K experiments are compared so the two routes are known to agree.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nea_sd.ema_bench")
    parser.add_argument("model", nargs="?", default="dyad")
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--pysd-experiments", type=int, default=10)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import ema_workbench as ema
    from ema_workbench.connectors.pysd_connector import PysdModel

    from nea_sd.cli._common import model_path
    from nea_sd.ema import BatchEvaluator, ema_model, strategy_policies
    from nea_sd.model import load_model

    path = model_path(args.model)
    model = load_model(path)
    policies = strategy_policies(model)
    em = ema_model(model, series=list(model.stocks))
    from ema_workbench.em_framework.samplers import sample_uncertainties

    scenarios = sample_uncertainties(em, args.scenarios)
    with BatchEvaluator(em) as evaluator:
        evaluator.perform_experiments(1, policies[:1])  # compile once, as a session would
        start = time.perf_counter()
        experiments, outcomes = evaluator.perform_experiments(scenarios, policies)
        batch_s = time.perf_counter() - start
    n = len(experiments)
    k = min(args.pysd_experiments, n)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(shutil.copy(path, Path(folder) / path.name))
        pm = PysdModel("pysd" + "".join(c for c in model.name if c.isalnum()), mdl_file=str(copy))
        pm.uncertainties = list(em.uncertainties)
        pm.levers = list(em.levers)
        pm.constants = list(em.constants)
        pm.outcomes = [ema.TimeSeriesOutcome(s) for s in model.stocks]
        rows = experiments.iloc[:k]
        chosen = [
            ema.Scenario(**{u.name: rows.iloc[i][u.name] for u in em.uncertainties})
            for i in range(k)
        ]
        policy = [p for p in policies if p.name == rows.iloc[0]["policy"]]
        ema.perform_experiments(pm, chosen[:1], policy)  # translation
        start = time.perf_counter()
        _, pysd_out = ema.perform_experiments(pm, chosen, policy)
        pysd_s = time.perf_counter() - start
    worst = max(
        float(
            np.max(
                np.abs(pysd_out[s] - outcomes[s][:k]) / np.maximum(np.abs(outcomes[s][:k]), 1e-12)
            )
        )
        for s in model.stocks
    )
    per_batch, per_pysd = batch_s / n, pysd_s / k
    print(f"model {path.name}: {args.scenarios} scenarios x {len(policies)} strategies = {n}")
    print(
        f"batch evaluator   : {batch_s:8.2f} s for {n} experiments, {per_batch * 1e3:8.2f} ms each"
    )
    print(f"EMA PysdModel     : {pysd_s:8.2f} s for {k} experiments, {per_pysd * 1e3:8.2f} ms each")
    print(f"estimated PysdModel time for all {n}: {per_pysd * n:.0f} s")
    print(f"ratio (PySD connector / batch evaluator, per experiment): {per_pysd / per_batch:.0f}x")
    print(f"largest relative difference of the stocks over the {k} shared experiments: {worst:.2e}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
