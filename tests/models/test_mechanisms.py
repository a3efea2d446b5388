"""nea-sd mechanisms: knock-out contributions, dormant flags, and the CLI's error line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nea_sd.cli import main
from nea_sd.mechanisms import contributions
from nea_sd.scenarios import load_scenarios
from tests.support import bundled


@pytest.mark.slow
def test_status_quo_has_no_programme_mechanisms_and_a_live_intent_spiral() -> None:
    model = bundled("nea")
    status_quo = load_scenarios(model)["status-quo"]
    result = contributions(model, [status_quo], "Regional security trust", [2026, 2040, 2050])
    dormant = dict(zip(result["mechanism"].values, result["dormant"].values[0], strict=True))
    # no effort budget: no CBMs, no arms control, no backfire, no activism (independent of data)
    for name in ("CBM evidence", "arms-control evidence", "backfire", "small-state activism"):
        assert dormant[name], name
    assert not dormant["intent spiral (R4)"]
    spiral = result["contribution"].sel(mechanism="intent spiral (R4)").values
    assert (spiral < 0).all()  # arming above the norm only ever costs trust
    share = result["share"].values
    assert np.allclose(np.abs(share).sum(axis=1), 1)


def test_bad_years_is_one_error_line(capsys, tmp_path: Path) -> None:
    code = main(["mechanisms", "--years", "2040,2030"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: --years needs at least two increasing years")
    assert len(err.strip().splitlines()) == 1


def test_output_dir_writes_the_csv_netcdf_and_figure(capsys, tmp_path: Path) -> None:
    """--output-dir writes the three files (the CSV through the atomic writer: it once named a
    helper that no longer existed and ended in a traceback after the table was printed)."""
    code = main(["mechanisms", "--scenario", "functional-first", "--output-dir", str(tmp_path)])
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["mechanisms_nea.csv", "mechanisms_nea.nc", "mechanisms_nea.png"]
    table = pd.read_csv(tmp_path / "mechanisms_nea.csv")
    stored = xr.open_dataset(tmp_path / "mechanisms_nea.nc")
    written = np.sort(stored["contribution"].values.ravel())
    assert np.allclose(np.sort(table["contribution"]), written)
