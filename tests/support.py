"""Helpers the tests import: the bundled models (loaded once per session), ``../shared``."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
SHARED = REPO.parent / "shared"
TEST_MODELS = SHARED / "test-models"


@cache
def bundled(name: str):  # -> nea_sd.model.Model
    from nea_sd.model import load_model

    return load_model(MODELS / f"{name}.mdl")


def require_shared(path: Path, what: str = "shared test material") -> Path:
    """``path`` if it exists; else skip the test, or fail it when ``CI`` is set.

    CI runs from a clean checkout with ``../shared`` beside it, so there a missing folder is a
    broken set-up, not a reason to pass quietly.
    """
    if path.exists():
        return path
    message = f"{what} not found at {path} (put ../shared beside the checkout)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI is set, so this fails instead of skipping", pytrace=False)
    pytest.skip(message)


def shared_params(paths: list[Path], folder: Path = TEST_MODELS) -> list:
    """Parameters of a test over files of ``../shared``; one that fails in CI when it is missing.

    Globbing a missing folder gives no parameters at all, which pytest reports as one skip that
    CI would not notice; the placeholder makes the test call :func:`require_shared` instead.
    """
    if folder.is_dir():
        return list(paths)
    return [pytest.param(folder, id="shared-missing")]


def result_of_another_version(folder: Path, name: str = "old.toml") -> Path:
    """A copy of a committed joint result whose recorded model hash is no longer ``nea.mdl``'s
    (so tests of that refusal do not depend on which committed results are out of date)."""
    text = (REPO / "calibration" / "results" / "nea_gravity.toml").read_text(encoding="utf-8")
    target = folder / name
    target.write_text(
        re.sub(r'model_sha256 = "[0-9a-f]{64}"', f'model_sha256 = "{"0" * 64}"', text),
        encoding="utf-8",
    )
    return target
