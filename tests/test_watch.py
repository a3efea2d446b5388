"""``nea-sd watch`` as a modeler uses it: a real headless Chromium on the page, saves of a copy.

Needs selenium and Debian's chromium + chromium-driver (``.ci/run`` installs them); under CI a
missing browser is a failure, elsewhere a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import MODELS, REPO

pytestmark = pytest.mark.slow


def _require(condition: bool, message: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _require(False, "selenium is not installed (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    _require(
        bool(chromium and driver),
        "chromium and chromedriver are missing: apt-get install -y chromium chromium-driver",
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


def _wait(predicate, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the page is reloading under us
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _text(browser, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.ID, element_id)
    return found[0].text if found else ""


def test_page_follows_saves_and_keeps_last_good_table(browser, tmp_path: Path) -> None:
    model = tmp_path / "dyad.mdl"
    shutil.copy(MODELS / "dyad.mdl", model)
    shutil.copy(MODELS / "scenarios.toml", tmp_path / "scenarios.toml")
    shutil.copy(MODELS / "loops.toml", tmp_path / "loops.toml")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEA_SD_CACHE": str(tmp_path / "cache")}
    argv = [sys.executable, "-m", "nea_sd", "watch", str(model), "--port", "0"]
    argv += ["--scenarios", "status-quo,functional-first", "--interval", "0.2"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = process.stdout.readline()
        assert "open http://127.0.0.1:" in line, line
        url = line.split("open ")[1].strip()
        browser.get(url)
        _wait(lambda: "functional-first" in _text(browser, "outcomes"), what="first table")
        first = _text(browser, "outcomes")
        assert "ok" in _text(browser, "status")
        _wait(lambda: "loops dominate" in _text(browser, "loops"), 240, "loop dominance")
        assert "R1" in _text(browser, "loops")  # the named loops of models/loops.toml

        text = model.read_text(encoding="utf-8")
        assert "Spillover=\n\t0.25\n" in text
        model.write_text(text.replace("Spillover=\n\t0.25\n", "Spillover=\n\t0.55\n"), "utf-8")
        _wait(lambda: "Spillover: 0.25 → 0.55" in _text(browser, "changes"), what="the edit")
        second = _text(browser, "outcomes")
        assert second != first  # the outcome table changed with the constant

        broken = text.replace("Spillover=\n\t0.25\n", "Spillover=\n\t0.55 +* (\n")
        model.write_text(broken, encoding="utf-8")
        line_no = text[: text.index("Spillover=\n")].count("\n") + 2  # the value's line
        _wait(lambda: f"line {line_no}" in _text(browser, "errors"), what="the error")
        assert "Spillover" in _text(browser, "errors") and "broken" in _text(browser, "status")
        assert _text(browser, "outcomes") == second  # the last good table stays
    finally:
        process.terminate()
        process.wait(timeout=30)
