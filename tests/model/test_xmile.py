"""XMILE: each model exported from its .mdl runs identically from XMILE; bad XMILE is refused.

The exports are regenerated from the current ``.mdl`` in every test, so a change of a model
is checked without pinned numbers; the bundled ``models/xmile/`` must equal a fresh export.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nea_sd.cli import main
from nea_sd.engine import simulate
from nea_sd.model import load_model
from nea_sd.sketch.parse import canonical
from nea_sd.sketch.xmile import mdl_to_xmile, write_xmile
from tests.support import MODELS, bundled

pytest.importorskip("simlin")

REGENERATE = "nea-sd export richardson dyad nea --to xmile --output-dir models/xmile"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("xmile")
    return {
        name: write_xmile(MODELS / f"{name}.mdl", folder / f"{name}.xmile")
        for name in ("richardson", "dyad", "nea")
    }


def _random_sets(model, count: int, seed: int) -> list[dict[str, float]]:
    """Scalar parameters drawn uniformly within their declared ranges."""
    rng = np.random.default_rng(seed)
    ranged = [
        p
        for p in model.parameters.values()
        if p.has_range and not p.dims and p.high > p.low and math.isfinite(p.high - p.low)
    ]
    return [{p.name: float(rng.uniform(p.low, p.high)) for p in ranged} for _ in range(count)]


def _assert_same_runs(mdl, xmile, runs, engine: str) -> None:
    outputs = mdl.variable_names()
    by_key = {canonical(n): n for n in xmile.variable_names()}
    assert set(by_key) == {canonical(n) for n in outputs}
    clock = {"time", "final time", "initial time", "saveper", "time step"}
    names = [n for n in outputs if canonical(n) not in clock]
    expected = simulate(mdl, runs, names, engine=engine)
    got = simulate(xmile, runs, [by_key[canonical(n)] for n in names], engine=engine)
    assert got.sizes["time"] == expected.sizes["time"]
    np.testing.assert_array_equal(got["time"].values, expected["time"].values)
    for name in names:
        np.testing.assert_allclose(
            got[by_key[canonical(name)]].values,
            expected[name].values,
            rtol=1e-9,
            atol=0,
            err_msg=f"{name} differs between the .mdl and its XMILE export",
        )


@pytest.mark.parametrize("name", ["richardson", "dyad"])
def test_xmile_run_equals_mdl_run_on_pysd(name: str, exported) -> None:
    mdl, xmile = bundled(name), load_model(exported[name])
    _assert_same_runs(mdl, xmile, [{}], engine="pysd")


@pytest.mark.parametrize(
    "name", ["richardson", "dyad", pytest.param("nea", marks=pytest.mark.slow)]
)
def test_xmile_batch_equals_mdl_batch_defaults_and_random_sets(name: str, exported) -> None:
    mdl, xmile = bundled(name), load_model(exported[name])
    runs = [{}, *_random_sets(mdl, 4, seed=15)]
    assert len(runs[1]) >= 5
    _assert_same_runs(mdl, xmile, runs, engine="batch")


@pytest.mark.parametrize("name", ["richardson", "dyad", "nea"])
def test_round_trip_keeps_parameters_ranges_views_and_clock(name: str, exported) -> None:
    mdl, xmile = bundled(name), load_model(exported[name])
    assert mdl.time == xmile.time
    assert list(xmile.parameters) == list(mdl.parameters)
    for key, param in mdl.parameters.items():
        back = xmile.parameters[key]
        np.testing.assert_array_equal(np.asarray(back.value), np.asarray(param.value))
        assert back.range_text == param.range_text, key
        assert back.view == param.view, key
        assert back.units == param.units, key
        # PySD cuts a .mdl comment at a '~' inside it; the XMILE <doc> keeps the whole text
        assert back.doc.startswith(param.doc), key
    assert {k: v for k, v in xmile.subscripts.items()} == mdl.subscripts
    assert sorted(xmile.stocks) == sorted(mdl.stocks)


@pytest.mark.parametrize("name", ["richardson", "dyad", "nea"])
def test_bundled_xmile_is_a_fresh_export(name: str) -> None:
    shipped = MODELS / "xmile" / f"{name}.xmile"
    assert shipped.read_bytes() == mdl_to_xmile(MODELS / f"{name}.mdl"), (
        f"models/xmile/{name}.xmile is stale; regenerate with: {REGENERATE}"
    )


def test_export_keeps_the_diagram(exported) -> None:
    text = exported["dyad"].read_text(encoding="utf-8")
    assert "<views>" in text and "<connector" in text
    for view in ("Arms", "Trust", "Exchange", "Cooperation programmes", "Sequencing policy"):
        assert f'<group name="{view}"' in text


def _call(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = int(stop.code)
    _, err = capsys.readouterr()
    return code, err


def test_export_cli_writes_file(capsys, tmp_path: Path) -> None:
    target = tmp_path / "r.stmx"
    code, _ = _call(
        capsys, "export", str(MODELS / "richardson.mdl"), "--to", "xmile", "-o", str(target)
    )
    assert code == 0 and target.read_bytes() == mdl_to_xmile(MODELS / "richardson.mdl")


def test_malformed_xmile_is_one_line_exit_2(capsys, tmp_path: Path, exported) -> None:
    text = exported["richardson"].read_text(encoding="utf-8")
    bad = tmp_path / "broken.xmile"
    bad.write_text(text.replace("</variables>", "</variable>", 1), encoding="utf-8")
    code, err = _call(capsys, "run", str(bad))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "broken.xmile" in err and "not well-formed XML at line" in err


def test_unknown_builtin_names_function_and_variable(capsys, tmp_path: Path, exported) -> None:
    text = exported["richardson"].read_text(encoding="utf-8")
    bad = tmp_path / "unknown.xmile"
    start = text.index("<eqn>", text.index('name="Arms_increase_X"'))
    bad.write_text(text[:start] + "<eqn>FROBNICATE(1) + " + text[start + 5 :], encoding="utf-8")
    code, err = _call(capsys, "run", str(bad))
    assert code == 2 and err.count("\n") == 1
    assert "unknown.xmile" in err and "FROBNICATE()" in err and "Arms_increase_X" in err


def test_not_xmile_root_is_refused(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "other.xml"
    bad.write_text("<?xml version='1.0'?><svg/>", encoding="utf-8")
    code, err = _call(capsys, "params", str(bad))
    assert code == 2 and "is not an XMILE file" in err and "other.xml" in err


def test_compare_on_bundled_xmile_equals_compare_on_mdl(capsys, tmp_path: Path) -> None:
    import xarray as xr

    xmile = MODELS / "xmile" / "dyad.xmile"  # finds models/scenarios.toml one folder up
    for name, model in (("x", str(xmile)), ("m", str(MODELS / "dyad.mdl"))):
        code, err = _call(capsys, "compare", model, "--output-dir", str(tmp_path / name))
        assert code == 0, err
    with (
        xr.open_dataset(tmp_path / "x" / "compare_dyad_outcomes.nc") as got,
        xr.open_dataset(tmp_path / "m" / "compare_dyad_outcomes.nc") as expected,
    ):
        assert list(got["run"].values) == list(expected["run"].values)
        for name in expected.data_vars:
            np.testing.assert_allclose(got[name].values, expected[name].values, rtol=1e-9)


def test_calibrate_on_xmile_equals_calibrate_on_mdl(capsys, tmp_path: Path, data_dir) -> None:
    import tomllib

    spec = (MODELS.parent / "calibration" / "richardson_prewwi.toml").read_text(encoding="utf-8")
    assert 'model = "../models/richardson.mdl"' in spec
    fitted = {}
    for name, model in (
        ("x", MODELS / "xmile" / "richardson.xmile"),
        ("m", MODELS / "richardson.mdl"),
    ):
        path = tmp_path / f"{name}.toml"
        path.write_text(spec.replace("../models/richardson.mdl", model.as_posix()), "utf-8")
        out = tmp_path / f"{name}.out.toml"
        argv = ["calibrate", str(path), "--starts", "2", "--seed", "0", "--no-profile"]
        code, err = _call(capsys, *argv, "--data-dir", str(data_dir), "--output", str(out))
        assert code == 0, err
        fitted[name] = tomllib.loads(out.read_text(encoding="utf-8"))
    assert fitted["x"]["estimates"] == fitted["m"]["estimates"]
