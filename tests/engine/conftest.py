"""Shared fixtures of the batch-engine tests: where the reference models live, and small
synthetic models written once per test module."""

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


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test module's own (models, stores) outside the checkout."""
    return tmp_path_factory.mktemp("engine_models")


@pytest.fixture(scope="module")
def constructs(folder: Path) -> Path:
    from synthetic_models import CONSTRUCTS, write

    return write(folder, "constructs", CONSTRUCTS)


@pytest.fixture(scope="module")
def exploding(folder: Path) -> Path:
    from synthetic_models import EXPLODING, write

    return write(folder, "exploding", EXPLODING)
