"""Suite-wide set-up: an isolated translation cache (PySD reference runs kept across runs),
and the shared data beside the checkout."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    sys.dont_write_bytecode = True  # no __pycache__ in the checkout (CI sets it before start)
    from nea_sd.model.cache import configured_cache_dir

    scratch = Path(tempfile.mkdtemp(prefix="nea_sd_test_scratch_"))
    # numba caches compiled code beside its source unless told otherwise (kept across runs:
    # the regional model's kernel takes minutes to compile)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(configured_cache_dir() / "numba"))
    try:  # hypothesis keeps no example database or constants cache in the checkout
        from hypothesis import settings
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(scratch / "hypothesis")
        settings.register_profile("nea_sd", database=None)
        settings.load_profile("nea_sd")
    except ImportError:
        pass
    # batch runs are not checked against PySD here except by the dedicated tests
    # (tests/engine/test_verify.py): the suite compares the engines itself
    os.environ.setdefault("NEA_SD_VERIFY", "off")
    from nea_sd.model.cache import AREAS

    for area, variable in AREAS.items():
        # PySD's reference runs and numba's kernels (keyed by content) outlive the isolated
        # cache of one run: they cost minutes for the regional model
        os.environ.setdefault(variable, str(configured_cache_dir() / area))
    if "NEA_SD_CACHE" not in os.environ:
        os.environ["NEA_SD_CACHE"] = tempfile.mkdtemp(prefix="nea_sd_test_cache_")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the background jobs of the selected tests (tests/background.py), in order."""
    from tests import background

    jobs = []
    for item in session.items:
        marker = item.get_closest_marker("background")
        if marker is not None:
            job, *args = marker.args
            jobs.append((job, tuple(args)))
    background.start(jobs)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import background

    background.stop()


@pytest.fixture
def in_background(request: pytest.FixtureRequest):
    """The return value of this test's background job (its ``background`` marker; None for a
    test without one)."""
    from tests import background

    marker = request.node.get_closest_marker("background")
    if marker is None:
        return None
    job, *args = marker.args
    return background.result(job, *args)


def shared_data_dir() -> Path | None:
    env = os.environ.get("NEA_SD_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return path.resolve() if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None:
        from tests.support import SHARED, require_shared

        require_shared(SHARED / "data", "shared data (or set NEA_SD_DATA)")
    assert path is not None
    return path


@pytest.fixture
def copy_of(data_dir: Path, tmp_path: Path):
    """Write a copy of one data file into tmp_path, edited by ``edit(text) -> text``."""

    def make(name: str, edit) -> Path:
        text = (data_dir / name).read_text(encoding="utf-8")
        new = edit(text)
        assert new != text, "the edit changed nothing"
        (tmp_path / name).write_text(new, encoding="utf-8")
        return tmp_path

    return make
