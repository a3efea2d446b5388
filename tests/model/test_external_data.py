"""Models that read external data (GET XLS/DIRECT ...) find it beside the .mdl, as PySD alone does.

The translation lives in the cache; the data stay where the model is. Each value is checked
against the file's numbers, worked out by hand, and against PySD run beside its data.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from nea_sd.engine.batch import compile_model
from nea_sd.model import load_model

MODEL = r"""{UTF-8}
Rate=
	GET DIRECT CONSTANTS('data.csv', ',', 'B2')
	~	1/Year
	~		|

Input=
	GET DIRECT DATA('series.csv', ',', 'A', 'B2')
	~	Dmnl
	~		|

Effect=
	GET DIRECT LOOKUPS('curve.csv', ',', '1', 'A2')
	~	Dmnl
	~		|

Scale=
	GET XLS CONSTANTS('book.xlsx', 'Sheet1', 'B1')
	~	Dmnl
	~		|

Stock= INTEG (
	Rate * Input * Effect(Time) * Scale,
		0)
	~	Dmnl
	~		|

INITIAL TIME  = 0
	~	Year
	~		|

FINAL TIME  = 10
	~	Year
	~		|

TIME STEP  = 0.5
	~	Year [0,?]
	~		|

SAVEPER  = TIME STEP
	~	Year [0,?]
	~		|
"""


def _write(folder: Path) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.csv").write_text("name,value\nrate,3.5\n")
    (folder / "series.csv").write_text("time,input\n0,1\n5,2\n10,4\n")
    (folder / "curve.csv").write_text("0,10\n1,3\n")
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active["A1"], book.active["B1"] = "scale", 2.0
    book.save(folder / "book.xlsx")
    path = folder / "ext.mdl"
    path.write_text(MODEL, encoding="utf-8")
    return path


def _pysd_beside_data(path: Path):
    """PySD alone: translate and run in the model's own folder (a copy, so nothing stays)."""
    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysd.read_vensim(str(path)).run(return_columns=["Rate", "Input", "Stock"])


def test_external_data_resolved_beside_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEA_SD_CACHE", str(tmp_path / "cache"))
    path = _write(tmp_path / "model")
    model = load_model(path)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "book.xlsx",
        "curve.csv",
        "data.csv",
        "ext.mdl",
        "series.csv",
    ]  # the translation went to the cache
    ours = model.pysd_model().run(return_columns=["Rate", "Input", "Stock"])
    assert ours["Rate"].iloc[0] == 3.5
    assert ours["Input"].loc[2.5] == pytest.approx(1.5)  # linear between (0, 1) and (5, 2)
    # Stock' = 3.5 * Input * Effect(t) * 2, Effect = 3 from t = 1: the first step is 3.5*1*2
    assert ours["Stock"].loc[0.5] == pytest.approx(0.5 * 3.5 * 1 * 2)
    alone = _pysd_beside_data(Path(shutil.copytree(path.parent, tmp_path / "alone")) / "ext.mdl")
    np.testing.assert_allclose(ours.to_numpy(), alone.to_numpy(), rtol=1e-12)


def test_same_model_in_two_folders_reads_each_folders_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEA_SD_CACHE", str(tmp_path / "cache"))
    first = _write(tmp_path / "a")
    second = _write(tmp_path / "b")
    (second.parent / "data.csv").write_text("name,value\nrate,7\n")
    assert load_model(first).pysd_model().run()["Rate"].iloc[0] == 3.5
    assert load_model(second).pysd_model().run()["Rate"].iloc[0] == 7.0


def test_batch_engine_refuses_external_data_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEA_SD_CACHE", str(tmp_path / "cache"))
    found = {str(f) for f in compile_model(_write(tmp_path / "model")).unsupported()}
    assert "GET XLS/DIRECT CONSTANTS in 'Rate'" in found
    assert "GET XLS/DIRECT DATA in 'Input'" in found


def test_missing_data_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nea_sd.errors import ModelFileError

    monkeypatch.setenv("NEA_SD_CACHE", str(tmp_path / "cache"))
    path = _write(tmp_path / "model")
    (path.parent / "data.csv").unlink()
    with pytest.raises(ModelFileError, match=r"external data .*data\.csv.* not found; data paths"):
        load_model(path)
