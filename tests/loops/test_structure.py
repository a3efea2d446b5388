"""Structure: flows vs information links, element-level links, named-loop validation."""

from __future__ import annotations

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
    for model, expected in (("richardson", 3), ("dyad", 15), ("nea", 10)):
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
