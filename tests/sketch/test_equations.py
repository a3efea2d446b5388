"""The light equation reader: entries, lines, units and ranges, references, stock rate terms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nea_sd.sketch.equations import Equation, read_equations
from nea_sd.sketch.parse import canonical
from tests.support import TEST_MODELS as SHARED
from tests.support import require_shared, shared_params

FIXTURE = Path(__file__).parent / "fixtures" / "trust_exchange.mdl"

MIXED = """{UTF-8}
Actor: US, CN, JP
	~
	~		|

Partner <-> Actor ~~|

weight[Actor, Partner] =
	0.8, 0.3, 0.1; 0.3, 0.8, 0.6; 0.1, 0.6, 0.8 ~ Dmnl [0, 1] ~ Rival weights. |

"Level, total" = INTEG( inflow - -outflow - (a + b[US]) + c*-d, 10/4 )
	~	Widgets
	~	A quoted name with a comma. |

effect table(
	[(0,0)-(2,1)],(0,0),(1,0.5),(2,1))
	~	Dmnl
	~	Lookup. |

effect = effect table(a) * WITH LOOKUP(Time, ([(0,0)-(1,1)],(0,0),(1,1))) + 1e-05 ~ Dmnl ~ |
inflow = a { a comment naming b } ~ 1/Year ~ in |
outflow = SUM(b[Actor!]) ~ 1/Year ~ out |
a = 1 ~~|
b[US] = 1 ~~|
b[CN] = 2 ~~|
b[JP] = 3 ~ Dmnl [0, 2] ~ piecewise. |
c = 10/3 ~~|
d = -2^2 ~~|

:MACRO: MYMAC(x)
MYMAC = x ~ Dmnl ~ |
:END OF MACRO:

\\\\\\---/// Sketch information - do not modify anything except names
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("eq") / "mixed.mdl"
    path.write_text(MIXED, encoding="utf-8")
    return read_equations(path)


def test_names_kinds_and_lines(mixed) -> None:
    summary = [(e.name, e.kind, e.line) for e in mixed.variables.values()]
    assert summary == [
        ("weight", "normal", 8),
        ("Level, total", "normal", 11),
        ("effect table", "lookup", 15),
        ("effect", "normal", 20),
        ("inflow", "normal", 21),
        ("outflow", "normal", 22),
        ("a", "normal", 23),
        ("b", "normal", 24),
        ("c", "normal", 27),
        ("d", "normal", 28),
    ]


def test_units_ranges_and_documentation(mixed) -> None:
    weight, b = mixed.get("weight"), mixed.get("b")
    assert (weight.units, weight.low, weight.high, weight.doc) == ("Dmnl", 0, 1, "Rival weights.")
    assert weight.values() == [0.8, 0.3, 0.1, 0.3, 0.8, 0.6, 0.1, 0.6, 0.8]
    assert (b.units, b.range_text, b.doc, b.values()) == ("Dmnl", "[0, 2]", "piecewise.", [1, 2, 3])
    level = mixed.get("level, total")
    assert (level.units, level.has_range, math.isnan(level.low)) == ("Widgets", False, True)


def test_constants(mixed) -> None:
    constants = [e.name for e in mixed.variables.values() if e.is_constant]
    assert constants == ["weight", "a", "b", "c", "d"]
    assert mixed.get("c").values() == []  # arithmetic: a constant, but not range-checked


def test_references(mixed) -> None:
    assert mixed.references(mixed.get("effect")) == {"effect table", "a", "time"}
    assert mixed.references(mixed.get("inflow")) == {"a"}  # the {comment} is not a use
    assert mixed.references(mixed.get("outflow")) == {"b"}  # nor is the subscript Actor
    assert mixed.references(mixed.get("Level, total")) == {"inflow", "outflow", "a", "b", "c", "d"}


def test_flow_terms(mixed) -> None:
    assert mixed.flow_terms(mixed.get("Level, total")) == [
        (1, "inflow", "inflow"),
        (1, "outflow", "outflow"),
        (-1, "a", "a"),
        (-1, "b", "b[US]"),
        (1, "", "c*-d"),
    ]


def test_stock_detection(mixed) -> None:
    assert [e.name for e in mixed.variables.values() if e.is_stock] == ["Level, total"]


def test_fixture_stock_terms() -> None:
    eqs = read_equations(FIXTURE)
    assert eqs.flow_terms(eqs.get("Trust")) == [
        (1, "trust building", "trust building"),
        (-1, "trust erosion", "trust erosion"),
    ]


def test_equation_without_rhs_is_data() -> None:
    eq = Equation("x", 1, "data")
    assert not eq.is_constant and not eq.is_stock and eq.values() == []


# pysimlin's links leave out what pipes show (flows into stocks) and the control variables
CROSS_CHECK = [
    FIXTURE,
    *shared_params(
        [
            *sorted(SHARED.glob("lookups/*.mdl")),
            *sorted(SHARED.glob("subscripted_flows/*.mdl")),
            *sorted(SHARED.glob("time/*.mdl")),
            *sorted(SHARED.glob("chained_initialization/*.mdl")),
        ]
    ),
]


@pytest.mark.parametrize("path", CROSS_CHECK, ids=lambda p: p.name)
def test_references_agree_with_pysimlin_links(path: Path) -> None:
    require_shared(path)
    simlin = pytest.importorskip("simlin")
    eqs = read_equations(path)
    model = simlin.load(path)
    names = {canonical(n): n for n in model.get_var_names()}
    lookups = {e.key for e in eqs.variables.values() if e.kind == "lookup"}
    ignored = {"time", "initial time", "final time", "time step", "saveper"} | lookups
    for eq in eqs.variables.values():
        if eq.is_control or eq.kind == "lookup":
            continue
        mine = eqs.references(eq) - ignored
        if eq.is_stock:
            mine -= {flow for _, flow, _ in eqs.flow_terms(eq)}
        theirs = {canonical(n) for n in model.get_incoming_links(names[eq.key])} - ignored
        assert mine == theirs, eq.name
