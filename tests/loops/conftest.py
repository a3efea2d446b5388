"""Model copies that save every time step, so pysimlin reports LTM scores at every Euler step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "models"


def variant(tmp: Path, model: str, **values: float | str) -> Path:
    """A copy of ``models/<model>.mdl`` with constants (and SAVEPER) replaced."""
    text = (MODELS / f"{model}.mdl").read_text()
    for name, value in values.items():
        pattern = re.compile(rf"(^{re.escape(name)}=\s*\n\t)([^\n]+)", re.MULTILINE)
        text, n = pattern.subn(lambda m, v=value: m.group(1) + str(v), text)
        assert n == 1, name
    target = tmp / f"{model}.mdl"
    (tmp / "loops.toml").write_text((MODELS / "loops.toml").read_text())
    target.write_text(text)
    return target


@pytest.fixture(scope="session")
def richardson_dt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return variant(tmp_path_factory.mktemp("rich"), "richardson", SAVEPER="TIME STEP")


@pytest.fixture(scope="session")
def dyad_dt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return variant(tmp_path_factory.mktemp("dyad"), "dyad", SAVEPER="TIME STEP")
