"""Output kinds on a hand-made result: levels, integrals, threshold times, stages, trajectories."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nea_sd.outcomes import DYAD
from nea_sd.sensitivity.outputs import OUTPUT_KINDS, Context, build_metric

TIME = np.arange(0.0, 10.5, 0.5)


@pytest.fixture()
def result():
    ramp = np.stack([TIME / 10, TIME / 20, np.full_like(TIME, 0.2)])  # three runs
    stages = np.zeros((3, len(TIME)))
    stages[0, TIME >= 4] = 1.0
    return xr.Dataset(
        {
            "Trust": (("run", "time"), ramp),
            "Pair": (("run", "time", "Actor"), np.stack([ramp, 2 * ramp], axis=-1)),
            "Functional effort": (("run", "time"), stages),
            "CBM effort": (("run", "time"), stages * (TIME >= 6)),
            "Arms control effort": (("run", "time"), np.zeros((3, len(TIME)))),
            "Institution effort": (("run", "time"), np.zeros((3, len(TIME)))),
        },
        coords={"time": TIME, "Actor": ["US", "CN"]},
    )


@pytest.fixture()
def context():
    names = ("Trust", "Pair", "Functional effort", "CBM effort")
    names += ("Arms control effort", "Institution effort")
    return Context(names, 0.0, 10.0, 0.5, 5.0, vocabulary=DYAD)


def metric(context, **table):
    return build_metric("m", table, context)


def test_level_and_elements(result, context):
    assert metric(context, variable="trust").evaluate(result).tolist() == [0.5, 0.25, 0.2]
    at = metric(context, variable="Trust", year=2.25).evaluate(result)
    np.testing.assert_allclose(at, [0.225, 0.1125, 0.2])
    total = metric(context, variable="Pair", year=10).evaluate(result)
    np.testing.assert_allclose(total, [3.0, 1.5, 0.6])  # sum over subscripts
    one = metric(context, variable="Pair", element="CN", year=10).evaluate(result)
    np.testing.assert_allclose(one, [2.0, 1.0, 0.4])


def test_integral_and_threshold(result, context):
    area = metric(context, kind="integral", variable="Trust", start=0, end=10).evaluate(result)
    np.testing.assert_allclose(area, [5.0, 2.5, 2.0])
    part = metric(context, kind="integral", variable="Trust", start=1.25, end=2).evaluate(result)
    np.testing.assert_allclose(part, [(0.2**2 - 0.125**2) * 5, (0.2**2 - 0.125**2) * 2.5, 0.15])
    years = metric(context, kind="time_to_threshold", variable="Trust", threshold=0.3, start=1)
    # run 0 reaches 0.3 at t=3, run 1 at t=6, run 2 never: censored at end - start = 9
    assert years.evaluate(result).tolist() == [2.0, 5.0, 9.0]
    down = metric(
        context, kind="time_to_threshold", variable="Trust", threshold=0.25, direction="below"
    )
    assert down.evaluate(result).tolist() == [0.0, 0.0, 0.0]


def test_stage_reached_and_trajectory(result, context):
    stage = metric(context, kind="stage_reached", year=5)
    assert stage.variables == (
        "Functional effort",
        "CBM effort",
        "Arms control effort",
        "Institution effort",
    )
    assert stage.evaluate(result).tolist() == [1.0, 0.0, 0.0]
    assert metric(context, kind="stage_reached").evaluate(result).tolist() == [2.0, 0.0, 0.0]
    path = metric(context, kind="trajectory", variable="Trust", start=2, end=4, every=1)
    assert path.time_resolved and path.times().tolist() == [2.0, 3.0, 4.0]
    np.testing.assert_allclose(path.evaluate(result)[0], [0.2, 0.3, 0.4])


def test_registry_is_read_only_and_extensible(context):
    with pytest.raises(TypeError):
        OUTPUT_KINDS["loop_dominance"] = object  # type: ignore[index]

    class Constant:
        time_resolved = False

        def __init__(self, name):
            self.name, self.variables = name, ()

        @classmethod
        def from_table(cls, name, table, context):
            return cls(name)

    kinds = {**OUTPUT_KINDS, "constant": Constant}
    assert isinstance(build_metric("c", {"kind": "constant"}, context, kinds), Constant)
    assert "constant" not in OUTPUT_KINDS
