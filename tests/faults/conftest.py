"""Helpers of the fault-injection suite: call the CLI, assert a clean error, snapshot files."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from nea_sd.cli import main


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in this process; any exception other than SystemExit fails the test."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's usage errors
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2, one ``error: ...`` line naming the fragments, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) >= 1 and lines[-1].startswith("error: "), err
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, err
    for fragment in fragments:
        assert fragment.lower() in errors[0].lower(), errors[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files a write left behind."""
    return [
        p.name
        for p in folder.rglob("*")
        if p.name.startswith(".nea_sd-") or p.name.endswith((".partial", ".tmp"))
    ]


def full_disk(*_args, **_kwargs):  # noqa: ANN202 - a side effect for monkeypatch
    raise OSError(errno.ENOSPC, "No space left on device")
