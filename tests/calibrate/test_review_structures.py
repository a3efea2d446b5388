"""The structural-variant table: AIC from −log L and k by hand, bias from the held-out means."""

import math

import pytest

from nea_sd.calibrate.review import structure_table
from nea_sd.errors import InvalidValueError


def _doc(nll: float, k_model: int, k_link: int, sim: float, ar1: float) -> dict:
    return {
        "calibration": {"log_likelihood": -nll},
        "estimates": {f"p{i}": 0.1 for i in range(k_model)},
        "link_estimates": {f"l{i}": 1.0 for i in range(k_link)},
        "error_model": {"milex JP": {"ar1": ar1}, "milex CN": {"ar1": 0.2}},
        "series": {
            "milex JP": {"holdout": {"mean_sim": sim, "mean_act": 40.0}},
            "milex CN": {"holdout": {"mean_sim": 100.0, "mean_act": 100.0}},
        },
    }


def test_structure_table_by_hand():
    table = structure_table(
        {"shared": _doc(960.0, 4, 0, 70.0, 0.95), "norms-reactions": _doc(890.0, 10, 1, 37.0, 0.7)}
    )
    assert table["variant"].tolist() == ["norms-reactions", "shared"]  # best AIC first
    assert table["AIC"].tolist() == [2 * 11 + 2 * 890.0, 2 * 4 + 2 * 960.0]
    assert table["ΔAIC"].tolist() == [0.0, 1928.0 - 1802.0]
    assert table["milex JP held-out bias %"].tolist() == pytest.approx([-7.5, 75.0])
    assert table["AR(1) max"].tolist() == [0.7, 0.95]
    assert math.isclose(table.loc[0, "milex CN held-out bias %"], 0.0)


def test_a_series_without_held_out_data_gets_no_column():
    docs = {"a": _doc(960.0, 4, 0, 70.0, 0.95), "b": _doc(890.0, 10, 1, 37.0, 0.7)}
    for doc in docs.values():
        doc["series"]["MIDs US-CN"] = {"fit": {"r": 0.1}}  # fitted 2000-2010, nothing held out
    table = structure_table(docs)
    assert "MIDs US-CN held-out bias %" not in table.columns
    assert table["milex JP held-out bias %"].notna().all()


def test_structure_table_refuses_different_data():
    other = _doc(900.0, 5, 0, 40.0, 0.5)
    del other["series"]["milex CN"]
    with pytest.raises(InvalidValueError, match="compare structures on the same observations"):
        structure_table({"a": _doc(960.0, 4, 0, 70.0, 0.95), "b": other})
