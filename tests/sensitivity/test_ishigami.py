"""The Ishigami function as a Vensim model through the whole pipeline: model -> batch engine ->
SALib, compared with its analytic Sobol' indices."""

from __future__ import annotations

import numpy as np
import pytest
from sensitivity_helpers import S1_EXACT, ST_EXACT

from nea_sd.sensitivity import build_problem, run_sweep, spec_from_dict


@pytest.fixture(scope="module")
def sobol(ishigami_problem):
    return run_sweep(ishigami_problem, "sobol", 4096, seed=20261127)


@pytest.mark.parametrize("index, exact", [("S1", S1_EXACT), ("ST", ST_EXACT)])
def test_sobol_indices_cover_the_analytic_values(sobol, index, exact):
    ds = sobol.dataset
    for name, value in exact.items():
        estimate = float(ds["indices"].sel(output="Y", parameter=name, index=index))
        half_width = float(ds["conf"].sel(output="Y", parameter=name, index=index))
        assert abs(estimate - value) <= half_width, (name, index, estimate, half_width)
        assert half_width < 0.06


def test_sobol_second_order_and_provenance(sobol):
    ds = sobol.dataset
    s2 = ds["S2"].sel(output="Y")
    # the only interaction of the Ishigami function is x1-x3 (S13 = ST1 - S1 ~ 0.24)
    assert float(s2.sel(parameter="x1", parameter_b="x3")) == pytest.approx(0.2437, abs=0.08)
    assert abs(float(s2.sel(parameter="x1", parameter_b="x2"))) < 0.08
    assert ds.sizes["run"] == 4096 * 8
    assert ds.attrs["seed"] == "20261127" and ds.attrs["method"] == "sobol"
    assert ds.attrs["samples"] == 4096 and len(ds.attrs["spec_sha256"]) == 64
    assert ds.attrs["model_sha256"] and "SALib" in ds.attrs["package_versions"]


def test_same_seed_same_indices_and_seed_zero_is_a_seed(ishigami_problem):
    a = run_sweep(ishigami_problem, "sobol", 256, seed=0).dataset
    b = run_sweep(ishigami_problem, "sobol", 256, seed=0).dataset
    c = run_sweep(ishigami_problem, "sobol", 256, seed=1).dataset
    assert np.array_equal(a["indices"].values, b["indices"].values)
    assert np.array_equal(a["conf"].values, b["conf"].values, equal_nan=True)
    assert a.attrs["seed"] == "0"
    assert not np.array_equal(a["X"].values, c["X"].values)
    assert not np.allclose(a["indices"].values, c["indices"].values)


def test_other_methods_rank_the_inputs(ishigami_problem):
    fast = run_sweep(ishigami_problem, "fast", 1024, seed=3).dataset["indices"].sel(output="Y")
    assert float(fast.sel(parameter="x1", index="S1")) == pytest.approx(0.3139, abs=0.05)
    assert float(fast.sel(parameter="x3", index="ST")) == pytest.approx(0.2437, abs=0.05)
    rbd = run_sweep(ishigami_problem, "rbd-fast", 2048, seed=3).dataset["indices"].sel(output="Y")
    assert float(rbd.sel(parameter="x2", index="S1")) == pytest.approx(0.4424, abs=0.05)
    morris = run_sweep(ishigami_problem, "morris", 200, seed=3).dataset
    mu_star = morris["indices"].sel(output="Y", index="mu_star")
    assert morris.sizes["run"] == 200 * 4
    assert float(mu_star.sel(parameter="x3")) < float(mu_star.sel(parameter="x2"))
    assert not np.isnan(morris["conf"].sel(output="Y", index="mu_star")).any()
    for method in ("lhs", "mc"):
        ds = run_sweep(ishigami_problem, method, 1000, seed=3).dataset
        s1 = ds["indices"].sel(output="Y", index="S1")
        assert float(s1.sel(parameter="x2")) == pytest.approx(0.4424, abs=0.1), method
        assert ds.sizes["run"] == 1000


def test_time_resolved_indices_and_groups(ishigami):
    spec = spec_from_dict(
        {
            "sweep": {"calc_second_order": False},
            "parameters": {"x1": {"group": "x1 and x3"}, "x2": {}, "x3": {"group": "x1 and x3"}},
            "outputs": {
                "area": {"kind": "trajectory", "variable": "Accumulated Y", "every": 0.25},
                "Y": {"variable": "Y", "year": 1},
            },
        }
    )
    problem = build_problem(ishigami, spec)
    assert problem.groups == ["x1 and x3", "x2"]
    ds = run_sweep(problem, "sobol", 1024, seed=5).dataset
    assert list(ds["parameter"].values) == ["x1 and x3", "x2"]
    st = ds["indices_t"].sel(trajectory="area", index="ST")
    assert list(ds["time"].values) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.isnan(st.sel(time=0.0)).all()  # the stock starts at 0 in every run: no variance
    # Accumulated Y = t * Y: its indices are those of Y at every later time
    y_st = ds["indices"].sel(output="Y", index="ST")
    np.testing.assert_allclose(st.sel(time=1.0), y_st, atol=1e-9)
    assert float(y_st.sel(parameter="x1 and x3")) == pytest.approx(1 - 0.4424, abs=0.06)


def test_numba_backend_agrees_with_numpy(ishigami):
    pytest.importorskip("numba")
    spec = spec_from_dict(
        {"parameters": {"x1": {}, "x2": {}, "x3": {}}, "outputs": {"Y": {"variable": "Y"}}}
    )
    numpy_run = run_sweep(build_problem(ishigami, spec), "sobol", 256, seed=9).dataset
    numba_run = run_sweep(build_problem(ishigami, spec, backend="numba"), "sobol", 256, seed=9)
    np.testing.assert_allclose(numba_run.dataset["Y"], numpy_run["Y"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        numba_run.dataset["indices"], numpy_run["indices"], rtol=1e-9, atol=1e-9
    )


def test_time_resolved_sobol_with_second_order_matches_the_scalar_indices(ishigami):
    spec = spec_from_dict(
        {
            "parameters": {"x1": {}, "x2": {}, "x3": {}},
            "outputs": {
                "area": {"kind": "trajectory", "variable": "Accumulated Y", "every": 0.5},
                "Y": {"variable": "Y", "year": 1},
            },
        }
    )
    ds = run_sweep(build_problem(ishigami, spec), "sobol", 512, seed=0).dataset
    assert "S2" in ds and "S2" not in ds["index"].values
    over_time = ds["indices_t"].sel(trajectory="area", time=1.0)
    # the stock at t=1 is Y summed over 128 Euler steps: equal to Y up to rounding
    np.testing.assert_allclose(over_time, ds["indices"].sel(output="Y"), atol=1e-5)
