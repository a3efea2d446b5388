"""The batch engine against PySD (the reference runtime) on every project model.

Random parameter sets within the declared ranges: ten in the default test, which compares
every Euler step over a horizon sized to keep PySD's share under ~20 s per model (the full
horizon is covered by test_full_horizon.py); fifty in the slow test, over the full horizon
(for the regional model that is PySD's ~45 s per run, x50).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from batch_reference import max_relative_difference, pysd_runs

from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.model import load_model

MODELS = sorted((Path(__file__).parents[2] / "models").glob("*.mdl"))
N_SETS = 50
N_SETS_DEFAULT = 10  # PySD's per-run overhead (reload, set-up) is outside the step budget
RTOL = 1e-9
PYSD_BUDGET_S = 20.0


def _compare(
    path: Path, final_time: float | None, saveper: float | None, n_sets: int = N_SETS
) -> None:
    model = load_model(path)
    batch = compile_model(path)
    sets = sample_within_ranges(model.parameters, n_sets, seed=7)
    names = batch.variable_names
    kwargs = {}
    if final_time is not None:
        kwargs["final_time"] = final_time
    if saveper is not None:
        kwargs["saveper"] = saveper
    ours = batch.simulate(sets, names, nonfinite="nan", **kwargs)
    reference = pysd_runs(model, sets, list(range(n_sets)), names, **kwargs)
    worst = (0.0, "", -1)
    for run, ref in enumerate(reference):
        for name in names:
            diff = max_relative_difference(ours[name].isel(run=run), ref[name])
            if diff > worst[0]:
                worst = (diff, name, run)
    assert worst[0] <= RTOL, (
        f"{path.name}: {worst[1]!r} differs by {worst[0]:.3g} in run {worst[2]}"
    )


def _short_horizon(path: Path) -> tuple[float, float]:
    """Final time covering as many steps as PySD can run 50 times within the budget."""
    model = load_model(path)
    t0, dt, final = model.time["initial"], model.time["step"], model.time["final"]
    pysd_model = model.pysd_model()
    start = time.perf_counter()
    pysd_model.run(final_time=t0 + 2 * dt)
    per_step = (time.perf_counter() - start) / 2
    steps = int(PYSD_BUDGET_S / (N_SETS_DEFAULT * max(per_step, 1e-6)))
    steps = max(2, min(steps, int(round((final - t0) / dt))))
    return t0 + steps * dt, dt


@pytest.mark.skipif(not MODELS, reason="no project models in models/")
@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_matches_pysd_every_step(path: Path) -> None:
    final_time, step = _short_horizon(path)
    _compare(path, final_time, saveper=step, n_sets=N_SETS_DEFAULT)


@pytest.mark.slow
@pytest.mark.skipif(not MODELS, reason="no project models in models/")
@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_matches_pysd_full_horizon(path: Path) -> None:
    _compare(path, None, None)


def test_sampling_respects_ranges() -> None:
    if not MODELS:
        pytest.skip("no project models")
    model = load_model(MODELS[0])
    sets = sample_within_ranges(model.parameters, 20, seed=1)
    for name, values in sets.items():
        param = model.parameters[name]
        assert np.all(values >= param.low) and np.all(values <= param.high)
