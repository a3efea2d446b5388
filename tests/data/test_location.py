from pathlib import Path

import pytest

from nea_sd.data import data_dir, data_file
from nea_sd.errors import DataError, NeaSdError


def test_explicit_argument_wins_over_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NEA_SD_DATA", "/nonexistent/elsewhere")
    assert data_dir(tmp_path) == tmp_path.resolve()


def test_environment_used_when_no_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("NEA_SD_DATA", str(tmp_path))
    assert data_dir() == tmp_path.resolve()


def test_neither_gives_clear_error(monkeypatch):
    monkeypatch.delenv("NEA_SD_DATA", raising=False)
    with pytest.raises(NeaSdError) as info:
        data_dir()
    assert isinstance(info.value, DataError)
    assert str(info.value) == (
        "no data directory given; pass --data-dir DIR (data_dir=... in Python) or set the "
        "environment variable NEA_SD_DATA (e.g. NEA_SD_DATA=../shared/data)"
    )


def test_missing_directory_names_its_origin(monkeypatch):
    monkeypatch.setenv("NEA_SD_DATA", "/no/such/dir")
    with pytest.raises(DataError, match=r"'/no/such/dir' \(from NEA_SD_DATA\) does not exist"):
        data_dir()


def test_missing_file_lists_files_present(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    with pytest.raises(DataError, match=r"'b.csv' not found in .*; files there: 'a.csv'"):
        data_file("b.csv", tmp_path)


def test_data_is_not_inside_the_project():
    project = Path(__file__).resolve().parents[2]
    for folder in ("nea_sd/data", "nea_sd/calibrate", "tests/data", "tests/calibrate"):
        assert not list((project / folder).rglob("*.csv")), folder
