"""Vensim datasets: ``run --output FILE.tab`` in Vensim's layout, ``.tab``/``.csv`` read back.

The layout is checked against files Vensim itself wrote: the ``output.tab`` of the reference
test models in ``../shared/test-models`` (CR line endings, ``Name[A,B]`` headers).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.cli import main
from nea_sd.data import load_series
from nea_sd.data.vensim import read_dataset, write_tab
from nea_sd.engine import simulate
from nea_sd.errors import DataError, OutputPathError
from nea_sd.model import load_model
from tests.support import MODELS, REPO, bundled

CLOCK = {"TIME", "FINAL TIME", "INITIAL TIME", "SAVEPER", "TIME STEP"}


@pytest.fixture(scope="module")
def test_models() -> Path:
    folder = REPO.parent / "shared" / "test-models"
    if not folder.is_dir():
        message = f"Vensim reference models not found at {folder} (../shared/test-models)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return folder


def test_tab_round_trip_is_exact(tmp_path: Path) -> None:
    model = bundled("richardson")
    names = [n for n in model.variable_names() if n.upper() not in CLOCK]
    result = simulate(model, [{"Defence coefficient X": 0.37}], names)
    target = write_tab(result, tmp_path / "r.tab")
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[0] == "Time"
    assert len(lines) == 1 + result.sizes["time"]
    back = read_dataset(target)
    np.testing.assert_array_equal(back.times, result["time"].values)
    for name in result.data_vars:
        np.testing.assert_array_equal(back.columns[name], result[name].isel(run=0).values)


def test_subscripted_columns_are_named_like_vensim(tmp_path: Path) -> None:
    values = np.arange(12.0).reshape(3, 2, 2) / 7
    data = xr.Dataset(
        {"Security trust": (("time", "Actor", "Partner"), values)},
        coords={"time": [2000.0, 2000.5, 2001.0], "Actor": ["US", "CN"], "Partner": ["US", "CN"]},
    )
    back = read_dataset(write_tab(data, tmp_path / "s.tab"))
    assert back.names() == [
        "Security trust[US,US]",
        "Security trust[US,CN]",
        "Security trust[CN,US]",
        "Security trust[CN,CN]",
    ]
    np.testing.assert_array_equal(back.columns["Security trust[US,CN]"], values[:, 0, 1])


def test_several_runs_do_not_fit_one_tab(tmp_path: Path) -> None:
    model = bundled("richardson")
    runs = [{"Defence coefficient X": 0.1}, {"Defence coefficient X": 0.2}]
    result = simulate(model, runs, ["Arms X"])
    with pytest.raises(OutputPathError, match="holds one run"):
        write_tab(result, tmp_path / "two.tab")
    assert not (tmp_path / "two.tab").exists()


@pytest.mark.parametrize("case", ["subscripted_flows", "subscript_2d_arrays", "delays"])
def test_layout_matches_vensims_own_output(case: str, test_models: Path, tmp_path: Path) -> None:
    folder = test_models / case
    vensim = read_dataset(folder / "output.tab")
    assert b"\r" in (folder / "output.tab").read_bytes()  # Vensim's CR endings are read
    model = load_model(next(folder.glob("*.mdl")))
    names = [n for n in model.variable_names() if n.upper() not in CLOCK]
    ours = simulate(model, [{}], names, engine="pysd")
    written = read_dataset(write_tab(ours, tmp_path / "ours.tab"))
    shared = [n for n in written.names() if n in vensim.columns]
    assert len(shared) >= 0.8 * len(written.names())  # same spelling of (subscripted) names
    assert any("[" in n for n in shared) or case == "delays"
    np.testing.assert_allclose(written.times, vensim.times)
    for name in shared:
        np.testing.assert_allclose(written.columns[name], vensim.columns[name], rtol=1e-5)


def test_time_across_csv_with_missing_cells_reads_as_annual_series(tmp_path: Path) -> None:
    source = tmp_path / "obs.csv"
    source.write_text(
        'Time,2000,2000.5,2001,2002,2003\r\n"Trade[JP,CN]",1.5,9,2.5,,:NA:\r\nGDP,3,3,4,5,6\r\n',
        encoding="utf-8",
    )
    data = read_dataset(source)
    np.testing.assert_array_equal(data.times, [2000, 2000.5, 2001, 2002, 2003])
    series = load_series(f"vensim:{source}:trade[jp,cn]")
    assert series.name == "vensim:obs.csv:Trade[JP,CN]"
    assert series.years.tolist() == [2000, 2001] and series.values.tolist() == [1.5, 2.5]
    gdp = load_series(f"vensim:{source}:GDP", span=(2001, 2003))
    assert gdp.years.tolist() == [2001, 2002, 2003] and gdp.values.tolist() == [4, 5, 6]


def test_bad_cell_names_file_variable_and_fix(tmp_path: Path) -> None:
    source = tmp_path / "bad.tab"
    source.write_text("Time\tX\n0\t1\n1\tabc\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tab.*'abc' of 'X'.*leave the cell blank"):
        read_dataset(source)


def test_cli_run_writes_tab_that_reads_back(capsys, tmp_path: Path) -> None:
    target = tmp_path / "run.tab"
    assert main(["run", str(MODELS / "richardson.mdl"), "--output", str(target)]) == 0
    capsys.readouterr()
    back = read_dataset(target)
    model = bundled("richardson")
    assert set(model.stocks) <= set(back.names())
    assert back.times[0] == model.time["initial"] and back.times[-1] == model.time["final"]
