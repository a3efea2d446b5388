"""Richardson by hand: for x = y (symmetric start and coefficients) the link scores are constant.

net = k*y + g - a*x with dx = dy gives LS(increase->X) = k/|k - a|, LS(decrease->X) = -a/|k - a|
and LS(Arms->flows) = 1, so the mutual-reaction loop scores (k/|k-a|)^2 and each fatigue loop
-a/|k-a|; relative: k^2 / (k^2 + 2a|k-a|).  Stable when a > k: fatigue dominates.
"""

from __future__ import annotations

import numpy as np
import pytest

from nea_sd.loops.analysis import analyze

from .conftest import variant


def _rel(k: float, a: float) -> tuple[float, float]:
    total = k**2 + 2 * a * abs(k - a)
    return k**2 / total, -a * abs(k - a) / total


@pytest.mark.parametrize(("k", "a", "stable"), [(0.3, 0.5, True), (0.7, 0.5, False)])
def test_dominance_regimes(tmp_path, k, a, stable):
    values = {
        "Defence coefficient X": k,
        "Defence coefficient Y": k,
        "Fatigue coefficient X": a,
        "Fatigue coefficient Y": a,
    }
    result = analyze(variant(tmp_path, "richardson", **values))
    named = result.data["named"].isel(run=0).isel(time=slice(1, None))
    reaction, fatigue = _rel(k, a)
    np.testing.assert_allclose(named.sel(name="R3").values, reaction, atol=1e-9)
    np.testing.assert_allclose(named.sel(name="B1[X]").values, fatigue, atol=1e-9)
    balancing = -(named.sel(name="B1[X]") + named.sel(name="B1[Y]"))
    labels, pols = result.data["label"].values, result.data["runtime_polarity"].values
    runtime = dict(zip(labels, pols, strict=True))
    assert runtime == {"R3": "R", "B1[X]": "B", "B1[Y]": "B"}
    shares = result.polarity_shares().isel(run=0, time=slice(1, None))
    np.testing.assert_allclose(shares.sel(polarity="B"), balancing, atol=1e-12)
    if stable:
        assert (balancing >= 0.5).all() and not result.dominance().sel(name="R3")[0, 1:].any()
        assert result.polarity_periods()["B"] == "1901-1951" and not result.polarity_periods()["R"]
    else:
        assert result.dominance().sel(name="R3")[0, 1:].all() and (balancing < 0.5).all()
        assert (shares.sel(polarity="R") >= 0.5).all()
