"""Properties of batching: runs do not interact, whatever their number or order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.model import load_model

MODELS = Path(__file__).parents[2] / "models"
PREFERRED = ("nea.mdl", "dyad.mdl", "richardson.mdl")  # subscripted first
CHOSEN = next((MODELS / n for n in PREFERRED if (MODELS / n).exists()), None)

pytestmark = pytest.mark.skipif(CHOSEN is None, reason="no project model to test with")

SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def subject() -> tuple[object, object, dict[str, float]]:
    assert CHOSEN is not None
    model = load_model(CHOSEN)
    kwargs = {"final_time": model.time["initial"] + 2.0}  # two years keep the suite quick
    return model, compile_model(CHOSEN), kwargs


def _equal(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@SETTINGS
@given(n=st.integers(1, 6), seed=st.integers(0, 2**16), pick=st.integers(0, 5))
def test_batch_of_one_equals_single_run(subject, n: int, seed: int, pick: int) -> None:
    model, batch, kwargs = subject
    sets = sample_within_ranges(model.parameters, n, seed)
    pick %= n
    together = batch.simulate(sets, **kwargs)
    alone = batch.simulate({k: v[pick : pick + 1] for k, v in sets.items()}, **kwargs)
    _equal(together.isel(run=[pick]).drop_vars("run"), alone.drop_vars("run"))


@SETTINGS
@given(n=st.integers(2, 6), seed=st.integers(0, 2**16), data=st.data())
def test_permuting_sets_permutes_outputs(subject, n: int, seed: int, data) -> None:
    model, batch, kwargs = subject
    sets = sample_within_ranges(model.parameters, n, seed)
    order = np.array(data.draw(st.permutations(range(n))))
    straight = batch.simulate(sets, **kwargs)
    permuted = batch.simulate({k: v[order] for k, v in sets.items()}, **kwargs)
    _equal(straight.isel(run=order).drop_vars("run"), permuted.drop_vars("run"))


@SETTINGS
@given(n=st.integers(1, 5), seed=st.integers(0, 2**16), chunk=st.integers(1, 4))
def test_identical_sets_give_identical_rows(subject, n: int, seed: int, chunk: int) -> None:
    model, batch, kwargs = subject
    one = sample_within_ranges(model.parameters, 1, seed)
    sets = {k: np.repeat(v, n, axis=0) for k, v in one.items()}
    result = batch.simulate(sets, chunk_size=chunk, **kwargs)
    for name in result.data_vars:
        values = result[name].values
        np.testing.assert_array_equal(values, np.broadcast_to(values[:1], values.shape), name)
