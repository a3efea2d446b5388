"""``nea-sd loops``: table, comparison, ensemble with an exact seed, outputs, user errors."""

from __future__ import annotations

import pytest
import xarray as xr

from nea_sd.cli import main


def test_loops_table_and_files(tmp_path, capsys):
    assert main(["loops", "richardson", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 loops scored (all loops (Johnson))" in out
    assert "R3" in out and "B1[X]" in out
    assert (tmp_path / "loops-richardson.png").stat().st_size > 1000
    data = xr.open_dataset(tmp_path / "loops-richardson-model.nc")
    assert set(data["relative"].dims) == {"run", "time", "loop"}
    assert len(data.attrs["model_sha256"]) == 64 and "seed" not in data.attrs


def test_seed_zero_is_honoured_and_reproducible(tmp_path, capsys):
    args = ["loops", "richardson", "--runs", "3", "--seed", "0", "--output-dir"]
    assert main(args + [str(tmp_path / "a")]) == 0
    assert main(args + [str(tmp_path / "b")]) == 0
    assert (
        main(
            [
                "loops",
                "richardson",
                "--runs",
                "3",
                "--seed",
                "1",
                "--output-dir",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    a, b, c = (xr.open_dataset(tmp_path / x / "loops-richardson-model.nc") for x in "abc")
    assert a.attrs["seed"] == 0
    xr.testing.assert_identical(a["relative"], b["relative"])
    assert not a["relative"].equals(c["relative"])
    assert "10%" in capsys.readouterr().out


def test_user_errors_are_one_line(capsys):
    assert main(["loops", "richardson", "--runs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --runs must be at least 1, got 0"
    assert main(["loops", "dyad", "--scenario", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown scenario 'nope'")


@pytest.mark.slow
def test_compare_strategies_on_common_draws(tmp_path, capsys):
    args = ["loops", "dyad", "--scenario", "functional-first", "--compare", "military-first"]
    assert main(args + ["--runs", "4", "--seed", "0", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "functional-first minus military-first" in out
    first = xr.open_dataset(tmp_path / "loops-dyad-functional-first.nc")
    second = xr.open_dataset(tmp_path / "loops-dyad-military-first.nc")
    assert list(first["loop"].values) == list(second["loop"].values)  # one loop set for both
    assert (tmp_path / "loops-dyad-comparison.csv").exists()


def test_strategies_share_draws_and_differ_only_in_levers():
    import numpy as np

    from nea_sd.loops.strategies import strategy_parameters
    from nea_sd.model import load_model

    sets = strategy_parameters(
        load_model("models/dyad.mdl"), ["functional-first", "military-first"], 5, seed=0
    )
    a, b = sets["functional-first"], sets["military-first"]
    differ = {k for k in a if not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))}
    assert differ == {"Functional start time", "CBM start time", "Arms control start time"}
    assert np.shape(a["Spillover"]) == (5,) and len(set(np.ravel(a["Spillover"]))) == 5
    assert a["Effort budget"] == 0.5  # a lever: the strategy's value, not a draw
