"""Shared fixtures of the sensitivity tests: the Ishigami model and its spec."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # sensitivity_helpers

from sensitivity_helpers import ISHIGAMI, ISHIGAMI_SPEC, REPO  # noqa: E402

from nea_sd.model import load_model  # noqa: E402
from nea_sd.sensitivity import build_problem, load_spec  # noqa: E402


@pytest.fixture(scope="session")
def ishigami():
    return load_model(ISHIGAMI)


@pytest.fixture(scope="session")
def ishigami_problem(ishigami):
    return build_problem(ishigami, load_spec(ISHIGAMI_SPEC))


@pytest.fixture(scope="session")
def dyad():
    return load_model(REPO / "models" / "dyad.mdl")
