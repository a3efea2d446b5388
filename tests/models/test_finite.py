"""Every project model stays finite over its full horizon at any within-range parameter draw."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nea_sd.engine import simulate
from tests.support import MODELS, bundled

PROJECT_MODELS = sorted(p.stem for p in MODELS.glob("*.mdl"))
RUNS_PER_EXAMPLE = 8  # the batch engine runs a draw set as one vectorised batch


def is_selector(param) -> bool:
    """A subscripted 0/1 table (dyad mask, salient dyads, summit pairs) picks model structure;
    a fraction of it is no model, so the draws keep it."""
    values = np.asarray(param.value, dtype=float)
    return values.ndim > 0 and bool(np.isin(values, (0.0, 1.0)).all())


def draw(model, data) -> list[dict]:
    """Within-range draws: per parameter its low end, its high end, or uniform per element."""
    ranged = [p for p in model.parameters.values() if p.has_range and not is_selector(p)]
    modes = data.draw(st.lists(st.sampled_from("lhu"), min_size=len(ranged), max_size=len(ranged)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    runs = []
    for _ in range(RUNS_PER_EXAMPLE):
        run = {}
        for param, mode in zip(ranged, modes, strict=True):
            shape = np.shape(param.value)
            u = {"l": np.zeros(shape), "h": np.ones(shape)}.get(mode, rng.random(shape))
            value = np.clip(param.low + u * (param.high - param.low), param.low, param.high)
            run[param.name] = value if shape else float(value)
        runs.append(run)
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", PROJECT_MODELS)
def test_within_range_draws_never_go_non_finite(name: str) -> None:
    model = bundled(name)
    control = {"final time", "initial time", "time step", "saveper", "time"}
    outputs = [v for v in model.variable_names() if v.lower() not in control]

    @settings(
        max_examples=6,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # shrinking a batch of 8 runs takes minutes
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data) -> None:
        runs = draw(model, data)
        # the batch engine raises SimulationError naming the first non-finite variable
        result = simulate(model, runs, outputs, engine="batch")
        for var in result.data_vars:
            assert np.isfinite(result[var].values).all(), var

    check()
