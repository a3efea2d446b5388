# ruff: noqa: E501  (pinned messages are kept whole so that they read as the user sees them)
"""The linter on a clean two-stock, two-view fixture and on one broken variant per rule.

Each variant is made by text edits of the fixture, so that the expected findings (line and
message) document what the linter says about that mistake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nea_sd.cli import main
from nea_sd.sketch.lint import Finding, lint_model

FIXTURE = Path(__file__).parent / "fixtures" / "trust_exchange.mdl"
TEXT = FIXTURE.read_text(encoding="utf-8")
VALVE_OF_BUILDING = "11,5,48,295,200,6,8,34,3,0,0,1,0,0,0\n10,6,trust"
# fmt: off
CASES = [
    pytest.param(
        [('10,1,Trust,400,200,40,20,3,3,', '10,1,Trust,400,200,40,20,3,2,')],
        [
            (2, 'error', "variable 'Trust' has only ghost objects (in views 'Exchange', 'Trust'); make one of them primary (bits & 1)"),
        ],
        id='ghost_only',
    ),
    pytest.param(
        [('10,13,erosion rate,600,300,40,12,8,3,0,0,0,0,0,0\n', '')],
        [
            (28, 'error', "variable 'erosion rate' is not in the sketch; add it to a view"),
            (126, 'error', "arrow 19 in view 'Trust' starts at id 13, which is not in the view"),
        ],
        id='not_drawn',
    ),
    pytest.param(
        [('10,15,Exchange,330,320,40,12,8,2,', '10,15,Exchange,330,320,40,12,8,3,')],
        [
            (123, 'warning', "stock 'Exchange' is drawn with shape 8; draw stocks as boxes (shape 3)"),
            (134, 'error', "second primary object of 'Exchange' in view 'Exchange' (the first is at line 123 in view 'Trust'); make this one a ghost (bits 2)"),
        ],
        id='two_primaries',
    ),
    pytest.param(
        [('10,12,building rate,', '10,12,Building_Rate,')],
        [
            (120, 'error', "object 'Building_Rate' in view 'Trust' is spelled differently from its equation 'building rate' (line 22); use the same spelling"),
        ],
        id='spelling',
    ),
    pytest.param(
        [('10,14,initial trust,', '10,14,initial trusts,')],
        [
            (34, 'error', "variable 'initial trust' is not in the sketch; add it to a view"),
            (122, 'error', "object 'initial trusts' in view 'Trust' names no variable of the equations; did you mean 'initial trust', 'INITIAL TIME', 'initial exchange'?"),
        ],
        id='unknown',
    ),
    pytest.param(
        [('10,13,erosion rate,', '10,12,erosion rate,')],
        [
            (16, 'warning', "'trust erosion' uses 'erosion rate', but no arrow runs from 'erosion rate' to 'trust erosion' in any view"),
            (121, 'error', "id 12 is used twice in view 'Trust' (first at line 120); ids must be unique within a view"),
            (127, 'error', "arrow 19 in view 'Trust' starts at id 13, which is not in the view"),
        ],
        id='dup_id',
    ),
    pytest.param(
        [('1,16,12,5,', '1,16,99,5,')],
        [
            (10, 'warning', "'trust building' uses 'building rate', but no arrow runs from 'building rate' to 'trust building' in any view"),
            (124, 'error', "arrow 16 in view 'Trust' starts at id 99, which is not in the view"),
        ],
        id='missing_end',
    ),
    pytest.param(
        [('10,11,trust erosion,505,222,40,12,40,', '10,11,trust erosion,505,222,40,12,8,')],
        [
            (2, 'error', "the INTEG of stock 'Trust' subtracts flow 'trust erosion', but no pipe joins the valve of 'trust erosion' to 'Trust'"),
            (16, 'warning', "'trust erosion' uses 'Trust', but no arrow runs from 'Trust' to 'trust erosion' in any view"),
            (16, 'warning', "'trust erosion' uses 'erosion rate', but no arrow runs from 'erosion rate' to 'trust erosion' in any view"),
            (118, 'error', "valve 10 in view 'Trust' is followed by variable 'trust erosion'; a valve must be directly followed by its flow's name (type 10, shape 40)"),
        ],
        id='valve_no_name',
    ),
    pytest.param(
        [('1,8,10,7,4,0,0,22', '1,8,13,7,4,0,0,22')],
        [
            (116, 'error', "pipe 8 in view 'Trust' starts at variable 'erosion rate'; a pipe must run from a valve"),
            (118, 'error', "valve of 'trust erosion' in view 'Trust' has pipes with arrowhead codes [100]; a valve needs exactly one pipe to its upstream stock or cloud (shape 100) and one to its downstream one (shape 4)"),
        ],
        id='pipe_from_var',
    ),
    pytest.param(
        [('1,8,10,7,4,0,0,22', '1,8,10,13,4,0,0,22')],
        [
            (116, 'error', "pipe 8 in view 'Trust' ends at variable 'erosion rate'; a pipe must end at a stock (type 10, shape 3) or a cloud (type 12, field 48)"),
        ],
        id='pipe_to_aux',
    ),
    pytest.param(
        [('1,4,5,2,100,0,0,22,0,0,0,-1--1--1,,1|(252,200)|\n' + VALVE_OF_BUILDING, '1,4,5,2,0,0,0,22,0,0,0,-1--1--1,,1|(252,200)|\n' + VALVE_OF_BUILDING)],
        [
            (112, 'error', "pipe 4 in view 'Trust' has arrowhead code 0; use 4 (downstream end) or 100 (upstream end)"),
            (113, 'error', "valve of 'trust building' in view 'Trust' has pipes with arrowhead codes [4]; a valve needs exactly one pipe to its upstream stock or cloud (shape 100) and one to its downstream one (shape 4)"),
        ],
        id='pipe_head',
    ),
    pytest.param(
        [('1,8,10,7,4,', '1,8,10,7,100,'), ('1,9,10,1,100,', '1,9,10,1,4,')],
        [
            (117, 'error', "flow 'trust erosion' is drawn as an inflow of 'Trust' (pipe shape 4), but the INTEG of 'Trust' subtracts it; draw the stock upstream (shape 100)"),
        ],
        id='pipe_reversed',
    ),
    pytest.param(
        [('trust building-trust erosion', 'trust building+trust erosion')],
        [
            (117, 'error', "flow 'trust erosion' is drawn as an outflow of 'Trust' (pipe shape 100), but the INTEG of 'Trust' adds it; draw the stock downstream (shape 4)"),
        ],
        id='integ_sign',
    ),
    pytest.param(
        [('trust building-trust erosion', 'trust building')],
        [
            (117, 'error', "a pipe joins flow 'trust erosion' to stock 'Trust', but the INTEG of 'Trust' does not use 'trust erosion'"),
        ],
        id='integ_missing_flow',
    ),
    pytest.param(
        [('\texchange change,', '\texchange change-trust erosion,')],
        [
            (40, 'error', "the INTEG of stock 'Exchange' subtracts flow 'trust erosion', but no pipe joins the valve of 'trust erosion' to 'Exchange'"),
        ],
        id='integ_extra_flow',
    ),
    pytest.param(
        [('\texchange change,', '\texchange change-0.1*Exchange,')],
        [
            (40, 'warning', "stock 'Exchange' has the rate term '0.1*Exchange', which is not a flow variable; no pipe can show it, so give it a flow of its own"),
        ],
        id='integ_term',
    ),
    pytest.param(
        [('10,1,Exchange,400,200,40,20,3,3,', '10,1,Exchange,400,200,40,20,8,3,')],
        [
            (40, 'error', "the INTEG of stock 'Exchange' adds flow 'exchange change', but no pipe joins the valve of 'exchange change' to 'Exchange'"),
            (134, 'warning', "stock 'Exchange' is drawn with shape 8; draw stocks as boxes (shape 3)"),
            (136, 'error', "pipe 3 in view 'Exchange' ends at variable 'Exchange'; a pipe must end at a stock (type 10, shape 3) or a cloud (type 12, field 48)"),
        ],
        id='stock_shape',
    ),
    pytest.param(
        [('baseline exchange*Trust', 'baseline exchange*0.5')],
        [
            (149, 'error', "arrow from 'Trust' to 'target exchange' in view 'Exchange' matches no dependency: the equation of 'target exchange' does not use 'Trust'; delete the arrow or fix the equation"),
        ],
        id='arrow_no_dep',
    ),
    pytest.param(
        [('1,15,9,7,0,0,43,0,0,64,0,-1--1--1,,1|(0,0)|\n', '')],
        [
            (54, 'warning', "'target exchange' uses 'baseline exchange', but no arrow runs from 'baseline exchange' to 'target exchange' in any view"),
        ],
        id='missing_arrow',
    ),
    pytest.param(
        [('10,13,erosion rate,600,300', '10,13,erosion rate,210,305')],
        [
            (121, 'warning', "variable 'erosion rate' overlaps variable 'building rate' (line 120) in view 'Trust'; move one of them"),
        ],
        id='overlap',
    ),
    pytest.param(
        [('*Exchange\n', '*Trust\n')],
        [
            (132, 'error', "view name 'Trust' is used twice (first at line 107); give each view its own name"),
        ],
        id='view_name_twice',
    ),
    pytest.param(
        [('*Exchange\n', '*Exchange, people-to-people and trade\n')],
        [
            (132, 'warning', "view name 'Exchange, people-to-people and trade' has 36 characters; Vensim allows 30"),
        ],
        id='view_name_long',
    ),
    pytest.param(
        [('1,12,7,5,', '1,12,7,6,')],
        [
        ],
        id='arrow_to_flow_name',
    ),
    pytest.param(
        [('\t~\tVisits/Year\n', '\t~\t\n')],
        [
            (48, 'error', "variable 'exchange change' has no units; write them after the first '~' (Dmnl when dimensionless)"),
        ],
        id='no_units',
    ),
    pytest.param(
        [('\t~\tFraction of trust lost per year.\n', '\t~\t\n')],
        [
            (28, 'error', "variable 'erosion rate' has no documentation; write it after the second '~'"),
        ],
        id='no_doc',
    ),
    pytest.param(
        [('1/Year [0, 0.5]', '1/Year')],
        [
            (28, 'error', "constant 'erosion rate' has no range; add '[min, max]' after its units, e.g. '~ 1/Year [0, 1]'"),
        ],
        id='no_range',
    ),
    pytest.param(
        [('1/Year [0, 0.5]', '1/Year [0, ?]')],
        [
            (28, 'warning', "constant 'erosion rate' has the open range '[0, ?]'; give both bounds so that sweeps and calibrations can use it"),
        ],
        id='open_range',
    ),
    pytest.param(
        [('Year [0.5, 10]', 'Year [5, 10]')],
        [
            (66, 'error', "constant 'adjustment time' = 3 lies outside its range '[5, 10]'"),
        ],
        id='outside_range',
    ),]
# fmt: on


def variant(tmp_path: Path, edits: list[tuple[str, str]]) -> Path:
    text = TEXT
    for old, new in edits:
        assert text.count(old) == 1, f"edit target {old!r} is not unique in the fixture"
        text = text.replace(old, new)
    path = tmp_path / "variant.mdl"
    path.write_text(text, encoding="utf-8")
    return path


def test_fixture_is_clean() -> None:
    assert lint_model(FIXTURE) == []


@pytest.mark.parametrize(("edits", "expected"), CASES)
def test_variant(tmp_path: Path, edits: list[tuple[str, str]], expected: list) -> None:
    assert lint_model(variant(tmp_path, edits)) == [Finding(*e) for e in expected]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.mdl"
    path.write_bytes(TEXT.replace("\n", "\r\n").encode("utf-8"))
    assert lint_model(path) == []


def test_model_without_sketch(tmp_path: Path) -> None:
    cut = TEXT.index("\\\\\\---///")
    path = tmp_path / "nosketch.mdl"
    path.write_text(TEXT[:cut], encoding="utf-8")
    assert lint_model(path) == [
        Finding(1, "error", "the model has no sketch; draw its variables in at least one view")
    ]


def test_cli_clean_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(FIXTURE)]) == 0
    assert capsys.readouterr().out == ""


def test_cli_errors_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = variant(tmp_path, [("1/Year [0, 0.5]", "1/Year")])
    assert main(["lint", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"{path}:28: error: constant 'erosion rate' has no range; add '[min, max]' after its "
        "units, e.g. '~ 1/Year [0, 1]'\n"
    )


def test_cli_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = variant(tmp_path, [("1/Year [0, 0.5]", "1/Year [0, ?]")])
    assert main(["lint", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}:28: warning: constant 'erosion rate'")


@pytest.mark.parametrize("name", ["missing.mdl", "model.txt"])
def test_cli_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("x = 1 ~ ~ |", encoding="utf-8")
    assert main(["lint", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: model file {str(path)!r}")
