# ruff: noqa: E501  (pinned messages are kept whole so that they read as the user sees them)
"""Unit checks through pysimlin, reported with the line of the variable concerned."""

from __future__ import annotations

from pathlib import Path

import pytest

from nea_sd.cli import main
from nea_sd.sketch.lint import Finding
from nea_sd.sketch.units import check_units

pytest.importorskip("simlin")

FIXTURE = Path(__file__).parent / "fixtures" / "trust_exchange.mdl"
TEXT = FIXTURE.read_text(encoding="utf-8")


def variant(tmp_path: Path, old: str, new: str) -> Path:
    assert TEXT.count(old) == 1
    path = tmp_path / "variant.mdl"
    path.write_text(TEXT.replace(old, new), encoding="utf-8")
    return path


def test_fixture_units_are_consistent() -> None:
    assert check_units(FIXTURE) == []


def test_wrong_declared_units(tmp_path: Path) -> None:
    path = variant(tmp_path, "\t~\tVisits/Year\n", "\t~\tVisits\n")
    assert check_units(path) == [
        Finding(
            40,
            "warning",
            "units inferred for 'exchange change', 'Exchange', 'target exchange': the units of 'exchange_change', 'exchange', and 'target_exchange' are inconsistent with each other; check the equations and declared units of these variables (2 unit problems found in total)",
        ),
        Finding(
            48,
            "error",
            "units of 'exchange change': expected units 'visits' to match the units expected by the attached stock exchange (visits/year)",
        ),
        Finding(
            48,
            "error",
            "units of 'exchange change': the equation computes to units 'visits/year', but the variable's specified units are 'visits'",
        ),
    ]


def test_unreadable_units_point_at_their_line(tmp_path: Path) -> None:
    path = variant(tmp_path, "1/(Visits*Year) [0, 0.1]", "1/(Visits**Year) [0, 0.1]")
    assert check_units(path) == [
        Finding(
            24,
            "error",
            "pysimlin cannot read the model (units included): expected unit name, found *",
        )
    ]


def test_cli_units_and_lint_units(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["units", str(FIXTURE)]) == 0
    path = variant(tmp_path, "\t~\tVisits/Year\n", "\t~\tVisits\n")
    assert main(["units", str(path)]) == 1
    units_out = capsys.readouterr().out
    assert units_out.splitlines()[1].startswith(f"{path}:48: error: units of 'exchange change'")
    assert main(["lint", "--units", str(path)]) == 1
    assert capsys.readouterr().out == units_out  # the sketch itself is clean
