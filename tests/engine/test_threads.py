"""``NEA_SD_THREADS`` caps the engine's chunk threads without changing any number."""

from __future__ import annotations

import numpy as np
import pytest

from nea_sd.engine.batch import compile_model
from nea_sd.errors import InvalidValueError
from tests.support import MODELS


def test_single_thread_gives_identical_results(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = compile_model(MODELS / "dyad.mdl")
    sets = {"Spillover": np.linspace(0, 0.6, 40)}
    threaded = batch.simulate(sets, outputs=["Mean security trust"], chunk_size=8)
    monkeypatch.setenv("NEA_SD_THREADS", "1")
    single = batch.simulate(sets, outputs=["Mean security trust"], chunk_size=8)
    np.testing.assert_array_equal(threaded["Mean security trust"], single["Mean security trust"])


def test_bad_thread_count_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEA_SD_THREADS", "two")
    batch = compile_model(MODELS / "dyad.mdl")
    with pytest.raises(InvalidValueError, match="NEA_SD_THREADS='two' is not a whole number"):
        batch.simulate({"Spillover": [0.1, 0.2]}, outputs=["Mean security trust"], chunk_size=1)
