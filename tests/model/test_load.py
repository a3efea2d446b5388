"""Loading stage: the translation cache, the parameter table, stateless runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from nea_sd.errors import (
    InvalidValueError,
    ModelFileError,
    OutOfRangeError,
    UnknownNameError,
)
from nea_sd.model import load_model
from nea_sd.model.cache import translation_dir
from tests.support import MODELS, bundled


@pytest.fixture()
def private_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEA_SD_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "models"
    folder.mkdir()
    return Path(shutil.copy(MODELS / "richardson.mdl", folder / "richardson.mdl"))


def test_translation_goes_to_cache_not_beside_model(private_model: Path) -> None:
    model = load_model(private_model)
    assert sorted(p.name for p in private_model.parent.iterdir()) == ["richardson.mdl"]
    translated = translation_dir(model.sha256) / "richardson.py"
    assert translated.exists()


def test_unchanged_file_is_translated_once(private_model: Path) -> None:
    first = load_model(private_model)
    translated = translation_dir(first.sha256) / "richardson.py"
    stamp = translated.stat().st_mtime_ns
    os.utime(translated, ns=(stamp - 10**9, stamp - 10**9))
    load_model(private_model)
    assert translated.stat().st_mtime_ns == stamp - 10**9  # not rewritten


def test_changed_file_gets_a_new_translation(private_model: Path) -> None:
    first = load_model(private_model)
    text = private_model.read_text().replace("Grievance X=\n\t10", "Grievance X=\n\t12")
    private_model.write_text(text)
    second = load_model(private_model)
    assert second.sha256 != first.sha256
    assert second.parameters["Grievance X"].value == 12


def test_parameter_table_fields() -> None:
    table = bundled("richardson").parameters
    k = table["defence coefficient x"]  # case-insensitive
    assert k.name == "Defence coefficient X"
    assert (k.value, k.units, k.low, k.high, k.view) == (0.3, "1/Year", 0.0, 2.0, "Arms race")
    assert "mutual-reaction loop" in k.doc
    frame = table.to_frame()
    assert list(frame.columns) == [
        "name",
        "value",
        "units",
        "range",
        "subscripts",
        "view",
        "documentation",
    ]
    assert len(frame) == 8


def test_subscripted_parameter_has_dims_and_coords() -> None:
    weight = bundled("nea").parameters["Base rival weight"]
    assert weight.dims == ("Actor", "Partner")
    assert weight.coords[0] == ("US", "CN", "RU", "JP", "KR", "KP", "MN")
    assert weight.value[0, 1] == pytest.approx(0.8)  # design anchor US-CN
    assert weight.value[4, 5] == pytest.approx(0.9)  # KR-KP


def test_resolve_merges_element_overrides_into_a_copy() -> None:
    table = bundled("nea").parameters
    before = table["Base rival weight"].value.copy()
    resolved = table.resolve({"Base rival weight[US,CN]": 0.5, "Spillover": 0.1})
    assert resolved["Spillover"] == 0.1
    assert resolved["Base rival weight"][0, 1] == 0.5
    assert np.array_equal(table["Base rival weight"].value, before)  # input not mutated


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (
            {"Spilover": 0.1},
            UnknownNameError,
            "unknown parameter 'Spilover'; did you mean 'Spillover'",
        ),
        (
            {"Spillover": 0.9},
            OutOfRangeError,
            "'Spillover' = 0.9 is outside the range [0, 0.6] declared in the model; "
            "pass --allow-out-of-range to run it anyway",
        ),
        (
            {"Base rival weight[US,XX]": 0.1},
            UnknownNameError,
            "unknown element of Partner 'XX'",
        ),
        (
            {"Base rival weight[US]": 0.1},
            InvalidValueError,
            "parameter 'Base rival weight' has subscripts [Actor, Partner]; got 1 element(s) [US]",
        ),
        ({"Spillover": "x"}, InvalidValueError, "value 'x' for 'Spillover' is not a number"),
    ],
)
def test_resolve_errors(overrides: dict, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        bundled("nea").parameters.resolve(overrides)
    assert message in str(info.value)


def test_out_of_range_allowed_on_request() -> None:
    resolved = bundled("nea").parameters.resolve({"Spillover": 0.9}, allow_out_of_range=True)
    assert resolved["Spillover"] == 0.9


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing.mdl", "does not exist"),
        ("models", "is a directory"),
        ("pyproject.toml", "is not a Vensim .mdl file"),
    ],
)
def test_bad_model_paths(path: str, message: str) -> None:
    root = Path(__file__).resolve().parents[2]
    with pytest.raises(ModelFileError, match=message):
        load_model(root / path)


def test_unparsable_model_names_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mdl"
    text = (MODELS / "richardson.mdl").read_text()
    broken.write_text(
        text.replace("Fatigue coefficient X * Arms X", "Fatigue coefficient X * (Arms X")
    )
    expected_line = broken.read_text().splitlines().index("\tFatigue coefficient X * (Arms X") + 1
    with pytest.raises(ModelFileError) as info:
        load_model(broken)
    assert str(info.value) == (
        f"model file '{broken}' cannot be parsed at line {expected_line} in the equation of "
        "'Arms decrease X': unexpected text '* (Arms X'; check brackets and operators there"
    )


def test_reloading_a_model_that_reads_a_lookup_before_its_range_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """PySD warns raw (file, line, source) when a lookup is read outside its x range, which a
    partial model's data tables do at the initial time; the loading stage keeps that quiet."""
    import warnings

    monkeypatch.setenv("NEA_SD_CACHE", str(tmp_path / "cache"))
    mdl = tmp_path / "early.mdl"
    mdl.write_text(
        "{UTF-8}\nTable(\n\t(2005,1),(2010,2))\n\t~\t1\n\t~\t|\n\n"
        "Level= INTEG(Table(Time), Table(Time))\n\t~\t1\n\t~\t|\n\n"
        "INITIAL TIME = 2000\n\t~\tYear\n\t~\t|\n\nFINAL TIME = 2002\n\t~\tYear\n\t~\t|\n\n"
        "TIME STEP = 1\n\t~\tYear\n\t~\t|\n\nSAVEPER = TIME STEP\n\t~\tYear\n\t~\t|\n",
        encoding="utf-8",
    )
    model = load_model(mdl)
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as a fresh interpreter would show them
        model.pysd_model()
    assert capfd.readouterr().err == ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.pysd_model()
    assert not caught
