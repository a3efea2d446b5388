"""Mutated project models: every command runs (equal to PySD) or fails with one clean line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.fuzz import fuzz
from tests.support import MODELS


def _check(report: dict) -> None:
    counts = report["counts"]
    assert counts["tracebacks"] == 0, report["problems"]
    assert counts["silent wrong"] == 0, report["problems"]
    assert counts["unclean errors"] == 0, report["problems"]
    assert counts["lint passed a model check refused"] == 0, report["problems"]
    assert counts.get("clean errors", 0) > 0  # the mutations did break something


def test_fuzz_richardson_small(tmp_path: Path) -> None:
    _check(fuzz([MODELS / "richardson.mdl"], 4, seed=1, folder=tmp_path))


@pytest.mark.slow
def test_fuzz_project_models(tmp_path: Path) -> None:
    models = [MODELS / f"{m}.mdl" for m in ("richardson", "dyad", "nea")]
    _check(fuzz(models, 15, seed=2, folder=tmp_path))
