"""The suite's own rules: no silent skips in CI, no pytest cache, lint before tests."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.support import REPO, require_shared, shared_params


def test_missing_shared_fails_in_ci_and_skips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "shared" / "test-models"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set, so this fails"):
        require_shared(absent)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_shared(absent)
    assert require_shared(tmp_path) == tmp_path
    (placeholder,) = shared_params([], absent)  # a glob of a missing folder is not "no tests"
    assert placeholder.values == (absent,)


def test_pytest_runs_without_its_cache_plugin() -> None:
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "-p no:cacheprovider" in options["ini_options"]["addopts"]
    users = [
        p.relative_to(REPO)
        for p in (REPO / "tests").rglob("*.py")
        if re.search(r"\b(pytestconfig|config)\.cache\b", p.read_text(encoding="utf-8"))
    ]
    assert users == []


def test_ci_lints_before_testing() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert script.index("ruff check") < script.index("ruff format") < script.index("\npytest")
