"""The model validator shared by lint, check and run: each rule on a broken copy of a small
model, with its file line; lint exits 1, check and run exit 2 with one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from nea_sd.model.validate import validate_model
from tests.faults.conftest import assert_clean_error, call
from tests.support import MODELS

SMALL = Path(__file__).parent / "fixtures" / "small.mdl"

# (rule, old text, new text, fragment of the message, the variable whose line is reported)
BREAKS = [
    ("syntax", "0.1\n", "0.1 *\n", "syntax error in the equation of 'Rate'", "Rate"),
    ("undefined", "Rate * Level", "Rat * Level", "undefined name 'Rat'", "Inflow"),
    ("circular", "Level[A] + Level[B]", "Level[A] + Rate * Total", "circular definition", "Total"),
    ("element", "Level[A] + Level[B]", "Level[A] + Level[C]", "unknown subscript 'C'", "Total"),
    ("count", "Level[A] + Level[B]", "Level[A] + Level[A,B]", "has 1 subscript(s)", "Total"),
    ("bare", "Rate * Level[Region]", "Rate * Level", "used without its subscripts", "Inflow"),
    ("lookup", "(5,1.5),(10,2)", "(5,1.5),(4,2)", "x values must increase", "Effect"),
    (
        "control",
        "FINAL TIME  = 10",
        "FINAL SPAN  = 10",
        "missing control variable 'FINAL TIME'",
        None,
    ),
]


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = SMALL.read_text()
    assert old in text
    path = tmp_path / "broken.mdl"
    path.write_text(text.replace(old, new, 1))
    return path


def _line(path: Path, variable: str | None) -> int:
    if variable is None:
        return 1
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(variable))


def test_the_small_model_and_the_project_models_pass() -> None:
    assert [f for f in validate_model(SMALL) if f.severity == "error"] == []
    for name in ("dyad", "richardson"):
        assert [f for f in validate_model(MODELS / f"{name}.mdl") if f.severity == "error"] == []


def test_nea_bare_subscript_is_found_unless_fixed() -> None:
    """#10 fixes models/nea.mdl; until then the validator must name its one bare subscript."""
    errors = [f for f in validate_model(MODELS / "nea.mdl") if f.severity == "error"]
    text = (MODELS / "nea.mdl").read_text()
    if "/ Security regime lifetime," in text:
        assert len(errors) == 1 and "'Security regime lifetime'" in errors[0].message
    else:
        assert errors == []


@pytest.mark.parametrize(
    ("rule", "old", "new", "fragment", "variable"), BREAKS, ids=[b[0] for b in BREAKS]
)
def test_each_rule_names_the_line_and_every_command_fails_cleanly(
    capsys, tmp_path: Path, rule: str, old: str, new: str, fragment: str, variable: str | None
) -> None:
    path = _broken(tmp_path, old, new)
    errors = [f for f in validate_model(path) if f.severity == "error"]
    assert any(fragment in f.message for f in errors), errors
    hit = next(f for f in errors if fragment in f.message)
    assert hit.line == _line(path, variable) + (rule == "syntax")  # the line of the bad text
    code, out, err = call(capsys, "lint", path)
    assert code == 1 and f"{path}:{hit.line}: error:" in out and "Traceback" not in err
    if rule == "bare":  # a portability error: lint's, while PySD and the batch engine run it
        assert call(capsys, "check", path)[0] == 0
        return
    for argv in (["check", path], ["run", path], ["run", path, "--engine", "pysd"]):
        code, _, err = call(capsys, *argv)
        if rule == "syntax":
            assert_clean_error(code, err, f"cannot be parsed at line {hit.line} in the equation")
        else:
            assert_clean_error(code, err, f"{path}:{hit.line}", fragment)


@pytest.mark.parametrize("command", ["lint", "units"])
def test_lint_and_units_take_bundled_names(capsys, command: str) -> None:
    if command == "units":
        pytest.importorskip("simlin")
    code, out, err = call(capsys, command, "dyad")
    assert code == 0, out + err  # dyad.mdl is clean
    assert "error" not in err


@pytest.mark.parametrize("command", ["loops", "sensitivity", "params", "compare"])
def test_other_commands_refuse_a_broken_model_with_its_line(
    capsys, tmp_path: Path, command: str
) -> None:
    path = _broken(tmp_path, "Rate * Level", "Rat * Level")
    extra = {"sensitivity": ["--samples", "4", "--output", tmp_path / "s.nc"]}.get(command, [])
    extra += ["--output-dir", tmp_path / "o"] if command == "compare" else []
    code, _, err = call(capsys, command, path, *extra)
    assert_clean_error(code, err, f"{path}:{_line(path, 'Inflow')}", "undefined name 'Rat'")


@pytest.mark.parametrize("content", [b"", bytes(range(256)) * 4], ids=["empty", "binary"])
@pytest.mark.parametrize("command", ["run", "check", "params", "units", "diagram", "lint"])
def test_empty_or_binary_model_file(capsys, tmp_path: Path, content: bytes, command: str) -> None:
    if command in ("units", "diagram"):
        pytest.importorskip("simlin")
    path = tmp_path / "m.mdl"
    path.write_bytes(content)
    extra = ["--output", tmp_path / "d.svg"] if command == "diagram" else []
    code, out, err = call(capsys, command, path, *extra)
    if command == "lint":
        assert code == 1 and "error:" in out and "Traceback" not in err
    else:
        assert_clean_error(code, err, str(path))
    assert not (tmp_path / "d.svg").exists()


def test_lookup_digits_pysd_drops_are_named_and_do_split_the_engines(tmp_path: Path) -> None:
    """PySD keeps 8 digits after the point of a lookup value; the warning says so, and the
    batch engine's self-verification against PySD does find the difference it predicts."""
    from nea_sd.engine.verify import verify
    from nea_sd.model import load_model

    for clean in (SMALL, *(MODELS / f"{n}.mdl" for n in ("dyad", "richardson", "nea"))):
        assert not [f for f in validate_model(clean) if "PySD runs" in f.message], clean
    path = _broken(tmp_path, "(5,1.5),(10,2)", "(5,1.5000000012),(10,2)")
    (finding,) = [f for f in validate_model(path) if "PySD runs" in f.message]
    assert finding.severity == "warning" and "'Effect'" in finding.message
    assert "1.5000000012 as 1.5" in finding.message and finding.line == _line(path, "Effect")
    assert not verify(load_model(path), store=False).verified
    rounded = _broken(tmp_path, "(5,1.5),(10,2)", "(5,1.50000001),(10,2)")
    assert not [f for f in validate_model(rounded) if "PySD runs" in f.message]
    assert verify(load_model(rounded), store=False).verified
