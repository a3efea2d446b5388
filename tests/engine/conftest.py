"""Shared fixtures of the batch-engine tests: where the reference models live."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
TEST_MODELS = REPO.parent / "shared" / "test-models"
PROJECT_MODELS = REPO / "models"

sys.path.insert(0, str(Path(__file__).parent))  # batch_reference helper


@pytest.fixture(scope="session")
def test_models() -> Path:
    from tests.support import require_shared

    return require_shared(TEST_MODELS, "Vensim test models")
