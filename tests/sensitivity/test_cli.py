"""``nea-sd sensitivity``: a run end to end, and user errors as one line with exit code 2."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sensitivity_helpers import ISHIGAMI, ISHIGAMI_SPEC

from nea_sd.cli import main
from nea_sd.sensitivity import load_result


def test_cli_sweep_writes_result_and_figures(tmp_path, capsys):
    out = tmp_path / "ish.nc"
    args = [str(ISHIGAMI), "--method", "sobol", "-N", "256", "--spec", str(ISHIGAMI_SPEC)]
    code = main(["sensitivity", *args, "--seed", "0", "--output", str(out), "--plot"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "sobol on ishigami.mdl: 256 samples, 2048 runs, seed 0" in printed
    assert (tmp_path / "ish_Y.png").stat().st_size > 1000
    with xr.open_dataset(out) as ds:
        assert ds.attrs["seed"] == "0" and ds.attrs["method"] == "sobol"
        assert ds.attrs["samples"] == 256 and len(ds.attrs["sample_hash"]) == 64
        assert set(ds["index"].values) == {"S1", "ST"}
        assert np.isfinite(ds["indices"]).all()
    assert not (tmp_path / "ish.nc.chunks").exists()
    table = load_result(out).table("Y")
    assert list(table.index)[2] == "x3" and list(table.columns) == [
        "S1",
        "ST",
        "S1_conf",
        "ST_conf",
    ]


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--method", "fast", "-N", "10"],
            "error: FAST needs more than 4*M^2 = 64 samples, got 10",
        ),
        (["-N", "1"], "error: --samples must be an integer of at least 2, got 1"),
        (["-N", "8", "--paired", "a"], "error: --paired takes A,B (two scenarios), got 'a'"),
        (
            ["-N", "8", "--output", "x.csv"],
            "error: output file 'x.csv' has an unknown type; use one of: .nc",
        ),
        (
            ["-N", "8", "--resume", "--output", "{tmp}/none.nc"],
            "error: nothing to resume: no checkpoint in '{tmp}/none.nc.chunks'",
        ),
        (["-N", "8", "--scenario", "functional-first"], "error: scenario file"),
    ],
)
def test_cli_errors(tmp_path, capsys, extra, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    code = main(["sensitivity", str(ISHIGAMI), "--spec", str(ISHIGAMI_SPEC), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(message.replace("{tmp}", str(tmp_path))), err
