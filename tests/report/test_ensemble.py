"""The paired ensemble: the design is a pure function of the seed, within the declared ranges,
and every cell of the ensemble is the run the engine gives for its parameters alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.engine import simulate
from nea_sd.errors import InvalidValueError
from nea_sd.model import load_model
from nea_sd.report.ensemble import (
    design,
    run_ensemble,
    strategies_of,
    structures_of,
    uncertain_gains,
)

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def nea():
    return load_model(MODELS / "nea.mdl")


def test_gains_are_mechanism_gains_with_the_models_ranges(nea) -> None:
    gains = uncertain_gains(nea)
    for name in ("Spillover", "Backfire strength", "Great power gate strength"):
        assert name in gains
    assert "Detente intensity" in gains
    for name, (low, high) in gains.items():
        param = nea.parameters[name]
        assert (low, high) == (param.low, param.high)


def test_design_is_a_latin_hypercube_fixed_by_the_seed() -> None:
    gains = {"a": (0.0, 2.0), "b": (-1.0, 1.0)}
    X = design(gains, 50, seed=3)
    assert np.array_equal(X, design(gains, 50, seed=3))
    assert not np.array_equal(X, design(gains, 50, seed=4))
    assert X[:, 0].min() >= 0 and X[:, 0].max() <= 2
    # Latin hypercube: exactly one draw in each of the 50 equal strata of every gain
    strata = np.floor((X - [0.0, -1.0]) / [2.0, 2.0] * 50).astype(int)
    for column in strata.T:
        assert sorted(column) == list(range(50))


def test_every_cell_is_the_engines_run_for_its_parameters(nea) -> None:
    gains = {
        k: v for k, v in uncertain_gains(nea).items() if k in ("Spillover", "Detente intensity")
    }
    X = design(gains, 2, seed=1)
    strategies = {
        k: v for k, v in strategies_of(nea).items() if k in ("functional-first", "military-first")
    }
    structures = {k: v for k, v in list(structures_of(nea).items())[:2]}
    base = {"Contact effect": 0.4}
    ds = run_ensemble(
        nea,
        base,
        gains,
        X,
        strategies=strategies,
        structures=structures,
        fixed={"Detente intensity": 0.0},
    )
    assert ds["X"].sel(gain="Detente intensity").values.tolist() == [0.0, 0.0]
    runs, keys = [], []
    for i in range(2):
        for s, so in strategies.items():
            for t, to in structures.items():
                runs.append({**base, **so, **to, "Spillover": X[i, 0], "Detente intensity": 0.0})
                keys.append((i, s, t))
    truth = simulate(nea, runs, ["Regional security trust", "Regional arms burden"])
    for j, (i, s, t) in enumerate(keys):
        cell = ds.sel(draw=i, strategy=s, structure=t)
        expected = truth["Regional security trust"].isel(run=j).interp(time=cell["time"])
        np.testing.assert_allclose(cell["security_trust"].values, expected.values, rtol=1e-9)
        burden = truth["Regional arms burden"].isel(run=j).interp(time=cell["time"])
        np.testing.assert_allclose(cell["arms_burden"].values, burden.values, rtol=1e-9)
    assert not ds["diverged"].any()


def test_posterior_base_without_converged_draws_is_a_clear_error(nea) -> None:
    from nea_sd.errors import NeaSdError
    from nea_sd.report.ensemble import choose_base

    with pytest.raises(NeaSdError, match="--base posterior: .*use --base calibrated"):
        choose_base(nea, "posterior", 10, 0)
    with pytest.raises(NeaSdError, match="not one of"):
        choose_base(nea, "best", 10, 0)


def test_a_named_calibration_result_is_the_base_with_its_constants(nea) -> None:
    from nea_sd.calibrate.results import read_result
    from nea_sd.report.ensemble import choose_base

    path = Path(__file__).resolve().parents[2] / "calibration/results/nea.toml"
    doc = read_result(path)
    values, source, per_draw = choose_base(nea, "calibrated", 10, 0, str(path))
    assert values == {**doc["estimates"], **doc["constants"]} and not per_draw
    assert "nea.toml" in source and "-log L = 2528.10" in source  # the README's base


def test_a_named_result_with_a_converged_posterior_gives_its_draws(nea, tmp_path) -> None:
    """--base posterior --calibration RESULT: the named result's posterior draws of the model's
    values, one per ensemble draw; its optimum (with its constants) for the rest; an
    unconverged posterior is refused in one line."""
    from nea_sd.calibrate.results import read_result
    from nea_sd.errors import NeaSdError
    from nea_sd.report.ensemble import choose_base

    committed = Path(__file__).resolve().parents[2] / "calibration/results/nea.toml"
    doc = read_result(committed)
    text = committed.read_text(encoding="utf-8")
    path = tmp_path / "post.toml"
    nested = '\n[nested]\nconverged = {}\ndraws_file = "post.draws.csv"\n'
    path.write_text(text + nested.format("true"), encoding="utf-8")
    (tmp_path / "post.draws.csv").write_text(
        "Trust building rate,poll CN on JP.alpha,run\n0.2,-1.0,0\n0.4,-2.0,1\n", encoding="utf-8"
    )
    values, source, per_draw = choose_base(nea, "posterior", 50, 3, str(path))
    assert set(per_draw) == {"Trust building rate"}  # link constants are not model values
    drawn = per_draw["Trust building rate"]
    assert len(drawn) == 50 and set(drawn) == {0.2, 0.4}
    optimum = {**doc["estimates"], **doc["constants"]}
    assert values == {k: v for k, v in optimum.items() if k != "Trust building rate"}
    assert source == "posterior draws of post.toml (2 draws, converged)"
    path.write_text(text + nested.format("false"), encoding="utf-8")
    with pytest.raises(NeaSdError, match="--base posterior: post.toml has no converged"):
        choose_base(nea, "posterior", 50, 3, str(path))
    with pytest.raises(InvalidValueError, match="--base defaults both choose"):
        choose_base(nea, "defaults", 50, 3, str(path))


def test_per_draw_values_set_each_draws_runs(nea) -> None:
    gains = {"Spillover": uncertain_gains(nea)["Spillover"]}
    X = design(gains, 2, seed=0)
    strategies = {k: v for k, v in strategies_of(nea).items() if k == "functional-first"}
    per_draw = {"Contact effect": np.array([0.1, 0.9])}
    ds = run_ensemble(
        nea, {}, gains, X, strategies=strategies, structures={"shipped": {}}, per_draw=per_draw
    )
    runs = [
        {**strategies["functional-first"], "Spillover": X[i, 0], "Contact effect": c}
        for i, c in enumerate([0.1, 0.9])
    ]
    truth = simulate(nea, runs, ["Regional security trust"])["Regional security trust"]
    for i in range(2):
        cell = ds["security_trust"].sel(draw=i, strategy="functional-first", structure="shipped")
        expected = truth.isel(run=i).interp(time=cell["time"]).values
        np.testing.assert_allclose(cell.values, expected, rtol=1e-9)


@pytest.mark.slow
def test_the_ensemble_on_a_dask_cluster_equals_the_one_run_here(nea) -> None:
    distributed = pytest.importorskip("distributed")
    gains = {
        k: v for k, v in uncertain_gains(nea).items() if k in ("Spillover", "Backfire strength")
    }
    X = design(gains, 4, seed=2)
    kwargs = dict(strategies=strategies_of(nea), structures={"shipped": {}})
    here = run_ensemble(nea, {}, gains, X, **kwargs)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        there = run_ensemble(nea, {}, gains, X, scheduler=cluster.scheduler_address, **kwargs)
    xr.testing.assert_identical(here.drop_attrs(), there.drop_attrs())
