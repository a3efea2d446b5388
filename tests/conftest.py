"""Suite-wide set-up: an isolated translation cache unless the user chose one."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if "NEA_SD_CACHE" not in os.environ:
        os.environ["NEA_SD_CACHE"] = tempfile.mkdtemp(prefix="nea_sd_test_cache_")
