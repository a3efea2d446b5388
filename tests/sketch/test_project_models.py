"""The project's own models keep a diagram that agrees with their equations (no lint errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nea_sd.sketch.lint import ERROR, lint_model

MODELS = sorted((Path(__file__).resolve().parents[2] / "models").glob("*.mdl"))


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_project_model_has_no_lint_errors(path: Path) -> None:
    errors = [f.format(path.name) for f in lint_model(path) if f.severity == ERROR]
    assert not errors, "\n".join(errors)
