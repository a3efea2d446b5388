"""Paths and known values shared by the sensitivity tests (imported by name: conftest puts
this folder on sys.path, as the engine tests do)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parents[2]
ISHIGAMI = FIXTURES / "ishigami.mdl"
ISHIGAMI_SPEC = FIXTURES / "ishigami.toml"

#: analytic indices of the Ishigami function with a = 7, b = 0.1 (Sobol' and Levitan 1999)
S1_EXACT = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST_EXACT = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def slow_ishigami(folder: Path) -> Path:
    """The Ishigami model with a tiny time step, so that a chunk takes a noticeable time."""
    text = ISHIGAMI.read_text().replace(
        "TIME STEP  = 0.0078125", "TIME STEP  = 0.00000762939453125"
    )
    assert "0.00000762939453125" in text
    target = folder / "ishigami_slow.mdl"
    target.write_text(text)
    return target
