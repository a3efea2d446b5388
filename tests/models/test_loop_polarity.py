"""Every named loop of models/loops.toml has, wherever it is active, the runtime polarity (the
sign of its loop score) the table declares, in both models."""

from __future__ import annotations

import pytest

from nea_sd.loops.analysis import analyze
from nea_sd.loops.strategies import strategy_parameters
from tests.support import MODELS, bundled


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dyad", "nea"])
@pytest.mark.parametrize("strategy", ["functional-first", "military-first"])
def test_named_loops_run_with_their_declared_polarity(name: str, strategy: str) -> None:
    model = bundled(name)
    params = strategy_parameters(model, [strategy], 1, None)[strategy]
    result = analyze(MODELS / f"{name}.mdl", params, 1, scenario=strategy)
    declared = {n.name: n.design_polarity for n in result.loopset.named}
    wrong = {}
    for loop, polarity in declared.items():
        runtime = result.runtime_polarity(loop)
        if runtime not in (polarity, "0"):  # "0": dormant, reported with its reason
            wrong[loop] = (polarity, runtime)
    assert not wrong, wrong
