"""The compiled (numba) backend gives PySD's results too, and the same API behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from batch_reference import compare, max_relative_difference, pysd_runs, read_output
from synthetic_models import CONSTRUCTS, EXPLODING, write
from test_batch_vensim import TOLERANCES

from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import run_slice, sample_within_ranges
from nea_sd.errors import SimulationError
from nea_sd.model import load_model

pytest.importorskip("numba")


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


PROJECT = sorted((Path(__file__).parents[2] / "models").glob("*.mdl"))


@pytest.mark.parametrize("path", PROJECT, ids=[p.stem for p in PROJECT])
def test_project_model_numba_equals_numpy(path: Path) -> None:
    """The backend of the README's benchmarks, on every project model, every variable.

    Random within-range sets, each under every strategy of the model's scenario file (so the
    programmes are active); the two backends may differ only in the last bits of exp/log/pow.
    The kernel is compiled once per model source (about 2 minutes for the regional model)
    and kept on disk.
    """
    from nea_sd.scenarios import default_scenario_file, load_scenarios

    model = load_model(path)
    batch = compile_model(path)
    sets = sample_within_ranges(model.parameters, 3, seed=3)
    runs = [run_slice(sets, i) for i in range(3)]
    has_table = default_scenario_file(model).exists() and f"[{path.stem}]" in (
        default_scenario_file(model).read_text(encoding="utf-8")
    )
    strategies = list(load_scenarios(model).values()) if has_table else []
    runs += [{**runs[i % 3], **s.overrides} for i, s in enumerate(strategies)]
    resolved = [model.parameters.resolve(r) for r in runs]
    table = {
        name: np.stack([np.asarray(r.get(name, model.parameters[name].value)) for r in resolved])
        for name in {n for r in resolved for n in r}
    }
    names = batch.variable_names
    compiled = batch.simulate(table, names, backend="numba", nonfinite="nan")
    vectorized = batch.simulate(table, names, backend="numpy", nonfinite="nan")
    assert compiled.sizes["time"] == vectorized.sizes["time"] > 1
    for name in names:
        diff = max_relative_difference(compiled[name], vectorized[name])
        assert diff <= 1e-9, (path.stem, name, diff)
