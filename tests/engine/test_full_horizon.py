"""The batch engine against PySD on the project's models over the FULL horizon, every variable.

Two parameter sets per model, each with a cooperation strategy that becomes active inside the
horizon: the defaults under one strategy, and a random within-range draw under another.
PySD's trajectories come from :func:`nea_sd.engine.reference.reference_run`, computed once per
model hash (about 45 s per run of the regional model) and kept in the references cache; the
regional model's runs start in the background worker when the suite is collected
(tests/background.py), beside the rest of the suite.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from batch_reference import max_relative_difference

from nea_sd.engine.batch import compile_model
from nea_sd.engine.reference import reference_run
from tests.background import full_horizon_overrides, pysd_reference
from tests.support import bundled

RTOL = 1e-9
# (model, strategy at the defaults, strategy over a random within-range draw); every bundled
# model is here: models/verified.toml lists the contents these tests verify
CASES = [
    ("nea", "functional-first", "trust-gated"),
    ("dyad", "functional-first", "military-first"),
    ("richardson", None, None),  # no strategies: the defaults and a random draw
]
SLOW_IN_PYSD = {"nea"}  # its PySD runs go to the background worker
PARAMS = [
    pytest.param(
        model,
        strategy,
        random,
        id=f"{model}-{strategy or 'model'}-{where}",
        marks=[pytest.mark.background(pysd_reference, model, strategy, random)]
        if model in SLOW_IN_PYSD
        else [],
    )
    for model, at_defaults, over_random in CASES
    for strategy, random, where in ((at_defaults, False, "defaults"), (over_random, True, "random"))
]


@pytest.mark.parametrize(("name", "strategy", "random"), PARAMS)
def test_batch_equals_pysd_full_horizon(
    name: str, strategy: str | None, random: bool, in_background: Any
) -> None:
    model = bundled(name)
    batch = compile_model(model.path)
    overrides = full_horizon_overrides(model, strategy, random)
    names = batch.variable_names
    ours = batch.simulate(model.parameters.resolve(overrides), names)
    reference = reference_run(model, overrides, names)
    assert float(ours["time"][-1]) == model.time["final"] == float(reference["time"][-1])
    worst = {n: max_relative_difference(ours[n].isel(run=0), reference[n]) for n in names}
    bad = {n: d for n, d in worst.items() if d > RTOL}
    assert not bad, f"{name} under {strategy}: differs from PySD: {bad}"
    if strategy is None:
        return
    # the strategy acts within the horizon: without its effort the run ends elsewhere
    idle = batch.simulate(model.parameters.resolve({**overrides, "Effort budget": 0}), names)
    moved = [
        n
        for n in names
        if not np.allclose(idle[n].isel(time=-1).values, ours[n].isel(time=-1).values)
    ]
    assert len(moved) > 10, f"{strategy} changed nothing in {name}"
