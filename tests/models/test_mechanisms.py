"""nea-sd mechanisms: knock-out contributions, dormant flags, and the CLI's error line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
