"""The compiled (numba) backend gives PySD's results too, and the same API behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from batch_reference import compare, max_relative_difference, pysd_runs, read_output
from synthetic_models import CONSTRUCTS, EXPLODING, write
from test_batch_vensim import TOLERANCES

from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.errors import SimulationError
from nea_sd.model import load_model

pytest.importorskip("numba")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("numba_models")


def test_every_construct_matches_pysd_and_numpy(folder: Path) -> None:
    path = write(folder, "constructs", CONSTRUCTS)
    model = load_model(path)
    batch = compile_model(path)
    sets = sample_within_ranges(model.parameters, 5, seed=11)
    names = batch.variable_names
    compiled = batch.simulate(sets, names, backend="numba")
    vectorized = batch.simulate(sets, names, backend="numpy")
    assert compiled.attrs["backend"] == "numba"
    for run, ref in enumerate(pysd_runs(model, sets, list(range(5)), names)):
        for name in names:
            ours = compiled[name].isel(run=run)
            assert max_relative_difference(ours, ref[name]) <= 1e-9, (name, run)
            other = vectorized[name].isel(run=run)
            assert max_relative_difference(ours, other) <= 1e-12, (name, run)


def test_output_selection_and_chunks_share_one_kernel(folder: Path) -> None:
    batch = compile_model(write(folder, "constructs", CONSTRUCTS))
    sets = {"Gain": np.linspace(0, 0.5, 9)}
    everything = batch.simulate(sets, ["Level", "Sym", "Biggest"], backend="numba")
    few = batch.simulate(sets, ["Biggest"], backend="numba", chunk_size=2)
    np.testing.assert_array_equal(everything["Biggest"].values, few["Biggest"].values)


def test_nonfinite_policies(folder: Path) -> None:
    batch = compile_model(write(folder, "exploding", EXPLODING))
    with pytest.raises(SimulationError, match=r"run 1 went non-finite: '(Stock|Twice)' at time"):
        batch.simulate({"Growth": [0.01, 1e5]}, backend="numba")
    marked = batch.simulate({"Growth": [0.01, 1e5, 0.02]}, backend="numba", nonfinite="nan")
    assert marked["diverged"].values.tolist() == [False, True, False]
    dropped = batch.simulate({"Growth": [0.01, 1e5, 0.02]}, backend="numba", nonfinite="drop")
    assert dropped["run"].values.tolist() == [0, 2]


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(TOLERANCES))
def test_matches_vensim(test_models: Path, case: str) -> None:
    rtol, atol = TOLERANCES[case]
    for path in sorted((test_models / case).glob("*.mdl")):
        result = compile_model(path).simulate(backend="numba")
        problems = compare(result, read_output(path.parent), rtol, atol)
        assert not problems, f"{path.name}: " + "; ".join(problems[:5])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_delay_too_short_for_its_order_is_refused(folder: Path, backend: str) -> None:
    batch = compile_model(write(folder, "constructs", CONSTRUCTS))  # DELAY3(Biggest, 2)
    with pytest.raises(SimulationError, match="delay in 'Scaled'"):
        batch.simulate({}, ["Level"], time_step=1.0, backend=backend)
