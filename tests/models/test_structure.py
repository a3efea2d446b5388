"""Every bundled model is complete Vensim: units, documentation, ranges, a place on a view.

Checked from the equations as PySD reads them and from the sketch as we parse it, independent
of the linter (which has its own tests).
"""

from __future__ import annotations

import math

import pytest

from nea_sd.sketch.parse import canonical, read_sketch
from tests.support import MODELS, bundled

NAMES = ["richardson", "dyad", "nea"]
CONTROL = {"initial time", "final time", "time step", "saveper"}
VIEWS = {
    "richardson": ["Arms race"],
    "dyad": ["Arms", "Trust", "Exchange", "Cooperation programmes", "Sequencing policy"],
    "nea": ["Arms", "Trust", "Exchange", "Cooperation programmes", "Sequencing policy"],
}


def variables(name: str):
    doc = bundled(name).variables
    return doc[doc["Real Name"] != "Time"]


@pytest.mark.parametrize("name", NAMES)
def test_every_variable_has_units_and_documentation(name: str) -> None:
    doc = variables(name)
    missing_units = [
        r for r, u in zip(doc["Real Name"], doc["Units"], strict=False) if not isinstance(u, str)
    ]
    missing_doc = [
        r
        for r, c in zip(doc["Real Name"], doc["Comment"], strict=False)
        if not isinstance(c, str) or not c
    ]
    assert missing_units == []
    assert missing_doc == []


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_a_range(name: str) -> None:
    params = bundled(name).parameters
    unranged = [
        p.name
        for p in params.values()
        if canonical(p.name) not in CONTROL and (math.isnan(p.low) or math.isnan(p.high))
    ]
    assert unranged == []
    assert all(p.low <= p.high for p in params.values() if p.has_range)
    assert all(p.check_range(p.value) is None for p in params.values())  # defaults in range


@pytest.mark.parametrize("name", NAMES)
def test_every_variable_is_placed_once_on_a_view(name: str) -> None:
    sketch = read_sketch(MODELS / f"{name}.mdl")
    assert [v.name for v in sketch.views] == VIEWS[name]
    primaries: dict[str, int] = {}
    for view in sketch.views:
        for obj in view.variables():
            if obj.is_primary:
                primaries[canonical(obj.name)] = primaries.get(canonical(obj.name), 0) + 1
    expected = {canonical(n) for n in variables(name)["Real Name"]}
    assert {n for n, c in primaries.items() if c > 1} == set()
    assert expected - set(primaries) == set()
    assert set(primaries) - expected == set()


@pytest.mark.parametrize("name", NAMES)
def test_stocks_are_boxes_and_flows_have_valves(name: str) -> None:
    sketch = read_sketch(MODELS / f"{name}.mdl")
    stocks = {canonical(s) for s in bundled(name).stocks}
    boxes = {
        canonical(o.name)
        for v in sketch.views
        for o in v.variables()
        if o.is_primary and o.shape == 3
    }
    assert boxes == stocks
    for view in sketch.views:
        objects = view.objects
        for i, obj in enumerate(objects):
            if obj.kind == 11:  # a valve is followed by its flow's name
                assert objects[i + 1].kind == 10 and objects[i + 1].shape == 40


def test_model_sizes_match_the_design() -> None:
    sizes = {n: (len(variables(n)), len(bundled(n).stocks)) for n in NAMES}
    assert sizes["richardson"][1] == 2
    assert 15 <= sizes["dyad"][1] <= 25
    assert 10 <= sizes["nea"][1] <= 15
