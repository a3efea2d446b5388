"""The cache repairs itself: damaged entries are rebuilt, an unwritable folder is replaced."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from nea_sd.model import load_model
from nea_sd.model.cache import cache_dir, read_entry, translation_dir, write_entry
from tests.support import MODELS


@pytest.fixture()
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("NEA_SD_CACHE", str(root))
    return root


def test_entry_round_trip_and_damage_is_noticed(
    private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_entry("things/a.bin", b"twelve bytes")
    assert path == private_cache / "things" / "a.bin"
    assert read_entry("things/a.bin") == b"twelve bytes"
    path.write_bytes(b"twelve bytez")  # a flipped byte
    assert read_entry("things/a.bin") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was damaged or incomplete; rebuilding it" in err
    assert not path.exists()  # removed, so the caller rebuilds it


def test_damaged_translation_is_rebuilt(
    private_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = Path(shutil.copy(MODELS / "richardson.mdl", tmp_path / "richardson.mdl"))
    first = load_model(model_path)
    translated = translation_dir(first.sha256) / "richardson.py"
    good = translated.read_text()
    translated.write_text(good[: len(good) // 2])  # a half-written file
    capsys.readouterr()
    second = load_model(model_path)
    assert "damaged or incomplete" in capsys.readouterr().err
    assert translated.read_text() == good
    assert second.parameters["Grievance X"].value == first.parameters["Grievance X"].value


def test_unwritable_cache_falls_back_to_a_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NEA_SD_CACHE", str(blocker / "cache"))  # cannot be created
    model = load_model(MODELS / "richardson.mdl")
    err = capsys.readouterr().err
    assert err.count("cannot be written") == 1 and "temporary" in err
    assert not str(cache_dir()).startswith(str(blocker))
    assert model.parameters["Grievance X"].value == 10


def test_full_disk_during_a_write_falls_back(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache_dir()  # the folder itself is writable ...
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if str(self).startswith(str(private_cache)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)  # ... but the disk is full
    path = write_entry("x/y.bin", b"data")
    assert not str(path).startswith(str(private_cache))
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.setattr(Path, "write_bytes", real)
    assert read_entry("x/y.bin") == b"data"
