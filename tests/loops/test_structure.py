"""Structure: flows vs information links, element-level links, named-loop validation."""

from __future__ import annotations

import numpy as np
import pytest

from nea_sd.errors import NamedLoopError
from nea_sd.loops.analysis import causal_graph
from nea_sd.loops.named import read_named_loops


def test_flow_and_information_links_and_polarity():
    g = causal_graph("models/richardson.mdl").variables
    assert g.edges["Arms increase X", "Arms X"] == {"kind": "flow", "polarity": "+"}
    assert g.edges["Arms decrease X", "Arms X"] == {"kind": "flow", "polarity": "-"}
    assert g.edges["Arms Y", "Arms increase X"] == {"kind": "info", "polarity": "+"}
    assert "Defence coefficient X" not in g  # constants carry no feedback


def test_regional_element_links_follow_subscripts():
    e = causal_graph("models/nea.mdl").elements
    # Great power trust = MIN(Security trust[US,CN], Security trust[CN,US])
    assert e.has_edge("Security trust[US,CN]", "Great power trust")
    assert e.has_edge("Security trust[CN,US]", "Great power trust")
    assert not e.has_edge("Security trust[US,JP]", "Great power trust")
    # Threat response[i] sums over partners j of Perceived military[i,j]
    assert e.has_edge("Perceived military[KR,KP]", "Threat response[KR]")
    assert not e.has_edge("Perceived military[KR,KP]", "Threat response[KP]")
    # flows of element stocks go element by element
    assert e.edges["Arms increase[CN]", "Military expenditure[CN]"]["kind"] == "flow"
    assert not e.has_edge("Arms increase[CN]", "Military expenditure[US]")


def test_named_loops_all_valid_in_every_model():
    for model, expected in (("richardson", 3), ("dyad", 16), ("nea", 11)):
        graph = causal_graph(f"models/{model}.mdl")
        assert len(read_named_loops("models/loops.toml", model, graph.variables)) == expected


def test_named_path_that_is_not_a_loop_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "loops.toml"
    bad.write_text('[richardson.R9]\npath = ["Arms X", "Arms increase X"]\n')
    graph = causal_graph("models/richardson.mdl")
    with pytest.raises(NamedLoopError) as info:
        read_named_loops(bad, "richardson", graph.variables)
    assert str(info.value) == (
        f"named loop 'R9' in {str(bad)!r} is not a loop: 'Arms increase X' does not depend "
        "on 'Arms X'"
    )
    bad.write_text('[richardson.R9]\npath = ["Arms X", "Arms incrase X"]\n')
    with pytest.raises(NamedLoopError, match="'Arms incrase X' is not a variable"):
        read_named_loops(bad, "richardson", graph.variables)


SMOOTHED = """{UTF-8}
Stock= INTEG(inflow - outflow, 10)
\t~\tunits
\t~\t|
inflow= SMOOTH(Stock * 0.1, 2)
\t~\tunits
\t~\t|
outflow= Stock / 5
\t~\tunits
\t~\t|
INITIAL TIME= 0
\t~\tYear
\t~\t|
FINAL TIME= 10
\t~\tYear
\t~\t|
TIME STEP= 0.25
\t~\tYear
\t~\t|
SAVEPER= TIME STEP
\t~\tYear
\t~\t|
"""


def test_smooth_internals_are_explicit_nodes(tmp_path):
    from nea_sd.loops.analysis import analyze
    from nea_sd.loops.enumerate import johnson

    path = tmp_path / "smoothed.mdl"
    path.write_text(SMOOTHED)
    graph = causal_graph(path)
    # the SMOOTH's input is a node of its own, its state is the variable "inflow" (a stock),
    # adjusting towards the input: its own first-order balancing loop is explicit
    hidden = [n for n in graph.variables if n.startswith("inflow (")]
    assert len(hidden) == 1
    assert graph.variables.nodes["inflow"]["stock"]
    assert graph.variables.edges["inflow", "inflow"]["polarity"] == "-"
    loops = {lp.nodes: lp.polarity for lp in johnson(graph.variables)}
    assert loops == {
        ("inflow",): "B",
        ("Stock", "outflow"): "B",
        ("Stock", hidden[0], "inflow"): "R",
    }
    result = analyze(path)
    assert result.loopset.exhaustive and len(result.loopset.loops) == 3
    rel = result.data["relative"].isel(run=0, time=slice(1, None))
    np.testing.assert_allclose(abs(rel).sum("loop"), 1.0)  # one partition: shares sum to 1
