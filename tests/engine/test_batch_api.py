"""The batch engine's API: parameter forms, outputs, chunks, non-finite policies, refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from batch_reference import max_relative_difference, pysd_runs
from synthetic_models import CONSTRUCTS, EXPLODING, REFUSED, UNSUPPORTED, write

from nea_sd import __version__
from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.errors import (
    InvalidValueError,
    NeaSdError,
    SimulationError,
    UnknownNameError,
    UnsupportedModelError,
)
from nea_sd.model import file_sha256, load_model


def test_every_construct_matches_pysd(constructs: Path) -> None:
    model = load_model(constructs)
    batch = compile_model(constructs)
    assert batch.unsupported() == []
    sets = sample_within_ranges(model.parameters, 6, seed=3)
    names = batch.variable_names
    ours = batch.simulate(sets, names)
    for run, ref in enumerate(pysd_runs(model, sets, list(range(6)), names)):
        for name in names:
            diff = max_relative_difference(ours[name].isel(run=run), ref[name])
            assert diff <= 1e-12, f"{name!r} run {run}: {diff:.3g}"


def test_dataset_layout_and_provenance(constructs: Path) -> None:
    batch = compile_model(constructs)
    ds = batch.simulate({"Gain": [0.1, 0.2], "Base": np.ones((2, 3))}, ["Level", "Sym", "Biggest"])
    assert ds["Level"].dims == ("run", "time", "Actor")
    assert ds["Sym"].dims == ("run", "time", "Actor", "Partner")
    assert ds["Biggest"].dims == ("run", "time")
    assert list(ds["Level"]["Actor"].values) == ["A1", "A2", "A3"]
    assert ds.sizes["time"] == 41
    np.testing.assert_array_equal(ds["Gain"].values, [0.1, 0.2])  # sampled values as coords
    assert ds["Base"].dims == ("run", "Actor")
    assert ds.attrs["engine"] == "batch"
    assert ds.attrs["model_sha256"] == file_sha256(constructs)
    assert ds.attrs["nea_sd_version"] == __version__


def test_parameter_forms_agree(constructs: Path) -> None:
    batch = compile_model(constructs)
    gains = np.array([0.05, 0.1, 0.3])
    from_dict = batch.simulate({"gain": gains, "OUTFLOW RATE": 0.1}, ["Level"])
    frame = pd.DataFrame({"Gain": gains, "Outflow rate": [0.1] * 3})
    from_frame = batch.simulate(frame, ["Level"])
    dataset = xr.Dataset({"Gain": ("run", gains), "Outflow rate": ("run", [0.1] * 3)})
    from_dataset = batch.simulate(dataset, ["Level"])
    for other in (from_frame, from_dataset):
        np.testing.assert_array_equal(from_dict["Level"].values, other["Level"].values)


def test_subscripted_parameter_shapes(constructs: Path) -> None:
    batch = compile_model(constructs)
    per_run = batch.simulate({"Base": np.array([[1.0, 2, 3], [2, 2, 2]])}, ["Level"])
    broadcast = batch.simulate({"Base": np.array([1.0, 2.0])}, ["Level"])  # (N,): all elements
    fixed = batch.simulate({"Base": np.array([2.0, 2, 2]), "Gain": [0.1, 0.1]}, ["Level"])
    np.testing.assert_array_equal(per_run["Level"].values[1], broadcast["Level"].values[1])
    np.testing.assert_array_equal(fixed["Level"].values[0], broadcast["Level"].values[1])
    with pytest.raises(InvalidValueError, match="shape"):
        batch.simulate({"Base": np.ones((2, 4))})


def test_unknown_names_are_user_errors(constructs: Path) -> None:
    batch = compile_model(constructs)
    with pytest.raises(UnknownNameError, match="did you mean 'Gain'"):
        batch.simulate({"Gainn": [1.0]})
    with pytest.raises(UnknownNameError, match="variable"):
        batch.simulate({}, ["Levl"])
    with pytest.raises(UnknownNameError):
        batch.simulate({"Level": [1.0]})  # a stock is not a parameter
    with pytest.raises(InvalidValueError, match="number of runs"):
        batch.simulate({"Gain": [0.1, 0.2], "Outflow rate": [0.1, 0.1, 0.1]})


def test_chunks_do_not_change_results(constructs: Path) -> None:
    batch = compile_model(constructs)
    sets = {"Gain": np.linspace(0, 0.5, 7)}
    whole = batch.simulate(sets, ["Level", "Scaled"])
    chunked = batch.simulate(sets, ["Level", "Scaled"], chunk_size=3)
    xr.testing.assert_identical(whole, chunked)


def test_time_overrides(constructs: Path) -> None:
    batch = compile_model(constructs)
    ds = batch.simulate({}, ["Level"], final_time=5, time_step=0.5)
    np.testing.assert_allclose(ds["time"].values, np.arange(0, 5.01, 0.5))  # SAVEPER = TIME STEP
    ds = batch.simulate({}, ["Level"], saveper=2)
    np.testing.assert_allclose(ds["time"].values, [0, 2, 4, 6, 8, 10])
    with pytest.raises(InvalidValueError):
        batch.simulate({}, time_step=0)


def test_nonfinite_raise_names_run_variable_and_time(exploding: Path) -> None:
    batch = compile_model(exploding)
    with pytest.raises(SimulationError, match=r"run 1 went non-finite: '(Stock|Twice)' at time"):
        batch.simulate({"Growth": [0.01, 1e5]})


def test_nonfinite_nan_and_drop(exploding: Path) -> None:
    batch = compile_model(exploding)
    marked = batch.simulate({"Growth": [0.01, 1e5, 0.02]}, nonfinite="nan")
    assert marked["diverged"].values.tolist() == [False, True, False]
    assert np.isnan(marked["Stock"].values[1]).all()
    assert np.isfinite(marked["Stock"].values[[0, 2]]).all()
    dropped = batch.simulate({"Growth": [0.01, 1e5, 0.02]}, nonfinite="drop")
    assert dropped["run"].values.tolist() == [0, 2]
    np.testing.assert_array_equal(dropped["Stock"].values, marked["Stock"].values[[0, 2]])
    with pytest.raises(InvalidValueError, match="'raise'"):
        batch.simulate({}, nonfinite="ignore")


def test_refused_model_lists_constructs(folder: Path) -> None:
    batch = compile_model(write(folder, "refused", REFUSED))
    findings = batch.unsupported()
    assert [(f.construct, f.variable) for f in findings] == [("DELAY FIXED", "Delayed")]
    with pytest.raises(UnsupportedModelError) as info:
        batch.simulate()
    assert isinstance(info.value, NeaSdError)
    assert "DELAY FIXED in 'Delayed'" in str(info.value)
    assert "--engine pysd" in str(info.value)


def test_compile_cache_is_per_content(folder: Path, constructs: Path) -> None:
    copy = write(folder, "copy", CONSTRUCTS)
    assert compile_model(constructs) is compile_model(copy)
    assert compile_model(constructs) is not compile_model(write(folder, "other", EXPLODING))


def test_missing_file_is_a_user_error(folder: Path) -> None:
    with pytest.raises(NeaSdError, match="does not exist"):
        compile_model(folder / "absent.mdl")


def test_preflight_lists_every_unsupported_construct(folder: Path) -> None:
    batch = compile_model(write(folder, "unsupported", UNSUPPORTED))
    found = {(f.construct, f.variable) for f in batch.unsupported()}
    assert found == {
        ("macro", "double"),
        ("function RANDOM UNIFORM", "Noise"),
        ("SAMPLE IF TRUE", "Held"),
        ("GET XLS/DIRECT CONSTANTS", "External"),
        ("DELAY FIXED", "Fixed"),
        ("function DOUBLE", "Doubled"),
    }
