"""Helpers the tests import: the bundled models, loaded once per session."""

from __future__ import annotations

from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"


@cache
def bundled(name: str):  # -> nea_sd.model.Model
    from nea_sd.model import load_model

    return load_model(MODELS / f"{name}.mdl")
