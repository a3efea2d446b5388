"""The joint fit against sector (partial-model) fits: inside/outside each sector interval."""

from __future__ import annotations

import pytest

from nea_sd.calibrate._toml import dumps
from nea_sd.calibrate.partial import held_values, sector_check, sector_note
from nea_sd.calibrate.results import read_result
from nea_sd.cli import main
from nea_sd.errors import DataError

JOINT = {
    "calibration": {"spec": "spec.toml", "log_likelihood": -10.0},
    "estimates": {"a": 1.0, "b": 5.0, "c": 0.3},
}
SECTOR = {
    "calibration": {"spec": "arms.toml", "partial_model": {"inputs": ["x"]}},
    "parameters": {
        "a": {
            "kind": "model",
            "estimate": 0.9,
            "bounds": [0.0, 2.0],
            "profile_lower": 0.5,
            "profile_upper": 1.5,
            "identifiability": "identified",
        },
        "b": {
            "kind": "model",
            "estimate": 1.0,
            "bounds": [0.0, 10.0],
            "profile_lower": 0.2,
            "profile_upper": 2.0,
            "identifiability": "identified",
        },
        "c": {
            "kind": "model",
            "estimate": 0.1,
            "bounds": [0.0, 1.0],
            "profile_lower": 0.0,
            "identifiability": "weakly identified (one-sided: no upper limit)",
        },
        "poll.alpha": {"kind": "link", "estimate": 0.0, "bounds": [-4.0, 4.0]},
    },
}


def test_rows_flag_joint_values_outside_the_sector_interval():
    rows = {r.parameter: r for r in sector_check(JOINT, {"arms": SECTOR})}
    assert set(rows) == {"a", "b", "c"}  # link constants are no shared model parameters
    assert rows["a"].inside and (rows["a"].lower, rows["a"].upper) == (0.5, 1.5)
    assert not rows["b"].inside and rows["b"].joint == 5.0
    # no upper crossing: the interval runs to the bound (a flat side constrains nothing)
    assert rows["c"].inside and rows["c"].upper == 1.0


def _table(**values: float):
    import math

    from nea_sd.model.params import Parameter, ParameterTable

    nan = math.nan
    return ParameterTable(
        [Parameter(k, k, v, (), (), "", nan, nan, "", "") for k, v in values.items()]
    )


def test_values_the_joint_fit_held_fixed_are_checked_too():
    """A sector parameter the joint fit did not estimate is checked at the value the joint
    ran with: its [constants] first, else the model's own value; a shared estimate
    (``e`` fitted for every element) is the joint value of each element (``e[US]``)."""
    sector = {
        **SECTOR,
        "parameters": {
            **SECTOR["parameters"],
            "d": {"kind": "model", "estimate": 0.01, "bounds": [0.0, 1.0], "profile_upper": 0.2},
            "f": {"kind": "model", "estimate": 0.5, "bounds": [0.0, 1.0], "profile_upper": 0.9},
            "e[US]": {"kind": "model", "estimate": 0.05, "bounds": [0.0, 1.0]},
        },
    }
    joint = {**JOINT, "estimates": {**JOINT["estimates"], "e": 0.4}, "constants": {"f": 0.95}}
    table = _table(d=0.3, f=0.1, e=0.1)
    held = held_values(joint, {"arms": sector}, table)
    assert held == {"d": 0.3, "f": 0.95}
    rows = {r.parameter: r for r in sector_check(joint, {"arms": sector}, held)}
    assert not rows["d"].fitted and not rows["d"].inside and rows["d"].joint == 0.3
    assert not rows["f"].fitted and not rows["f"].inside  # the constant, not the model's 0.1
    assert rows["e[US]"].fitted and rows["e[US]"].joint == 0.4 and rows["e[US]"].inside
    assert {r.parameter for r in sector_check(joint, {"arms": sector})} == {"a", "b", "c", "e[US]"}
    # a whole subscripted parameter a sector fits as one value: held when the model holds it at
    # one value; no row when the joint fits its elements or the model's values differ
    import numpy as np

    from nea_sd.model.params import Parameter, ParameterTable

    def array(name, values):
        return Parameter(
            name, name, np.array(values), ("Actor",), (("US", "CN"),), "", *[0.0] * 2, "", ""
        )

    whole = {**SECTOR, "parameters": {n: sector["parameters"]["d"] for n in ("g", "h", "k")}}
    joint2 = {**JOINT, "estimates": {**JOINT["estimates"], "k[US]": 0.1}}
    table2 = ParameterTable(
        [array("g", [0.1, 0.1]), array("h", [0.1, 0.2]), array("k", [0.1, 0.2])]
    )
    assert held_values(joint2, {"arms": whole}, table2) == {"g": 0.1}


def test_the_committed_base_holds_nothing_the_sectors_reject_and_the_elastic_fit_does_not():
    """The committed base (``nea.toml``, the record's structure) holds no value its sector fits
    reject (the trade elasticity it sets to 0 lies inside the exchange sector's interval, the
    contact effect it leaves at the model's 0.3 inside the trust sector's), and the values it
    fits outside a sector's interval are the ones the sector note names; the previous base
    (``nea_elastic.toml``) fits a trade elasticity the exchange sector rejects. Read from the
    committed results, not restated here."""
    from pathlib import Path

    from nea_sd.model import load_model

    root = Path(__file__).resolve().parents[2]
    results = root / "calibration" / "results"
    sectors = {s: read_result(results / f"{s}.toml") for s in ("arms", "trust", "exchange")}
    table = load_model(root / "models" / "nea.mdl").parameters
    rows = {}
    for name in ("nea", "nea_elastic"):
        joint = read_result(results / f"{name}.toml")
        held = held_values(joint, sectors, table)
        rows[name] = {(r.parameter, r.sector): r for r in sector_check(joint, sectors, held)}
    elastic = rows["nea_elastic"]["Trust elasticity of trade", "exchange"]
    assert elastic.fitted and not elastic.inside and elastic.joint > elastic.upper
    base = read_result(results / "nea.toml")
    held_elasticity = rows["nea"]["Trust elasticity of trade", "exchange"]
    assert not held_elasticity.fitted and held_elasticity.inside
    assert held_elasticity.joint == base["constants"]["Trust elasticity of trade"] == 0.0
    contact = rows["nea"]["Contact effect", "trust"]
    assert not contact.fitted and contact.inside and contact.joint == 0.3
    assert not any(not r.fitted and not r.inside for r in rows["nea"].values())
    note = sector_note(results / "nea.toml")  # compare's header: the committed check, current
    assert "held" not in note and "out of date" not in note
    outside = sorted(p for (p, _), r in rows["nea"].items() if not r.inside)
    assert f"{len(outside)} of {len(rows['nea'])} values outside" in note
    assert all(p in note for p in outside)


def test_a_full_model_result_is_no_sector():
    full = {**SECTOR, "calibration": {"spec": "nea.toml"}}
    with pytest.raises(DataError, match="not a sector"):
        sector_check(JOINT, {"nea": full})


def test_cli_writes_the_check_and_never_overwrites(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    (results / "spec.toml").write_text(dumps(JOINT, "joint"))
    (results / "arms.toml").write_text(dumps(SECTOR, "sector"))
    spec = tmp_path / "spec.toml"
    args = ["calibrate", str(spec), "--check-sectors", str(results / "arms.toml")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "OUTSIDE" in out and "1 of 3 shared parameters outside" in out
    assert "held fixed not checked: spec" in out  # no spec, no model: said, not skipped silently
    doc = read_result(results / "spec.sectors.toml")
    assert doc["check"]["outside"] == 1 and len(doc["check"]["result_sha256"]) == 2
    assert main(args) == 0
    assert (results / "spec.sectors-2.toml").is_file()
    # what compare's header says of the base: the check beside it, while it is current
    assert sector_note(results / "spec.toml") == (
        "1 of 3 values outside the sector fits' intervals (b)"
    )
    (results / "spec.toml").write_text(dumps({**JOINT, "estimates": {"a": 1.1}}, "joint"))
    assert "out of date" in sector_note(results / "spec.toml")
    assert sector_note(results / "arms.toml") == ""  # no check beside it
    (results / "spec.sectors.toml").write_text("garbage [[[")
    assert sector_note(results / "spec.toml").startswith("sector check unreadable (")


def test_cli_missing_result_is_one_line_error(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    code = main(["calibrate", str(spec), "--check-sectors", str(tmp_path / "arms.toml")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: calibration result")


def test_an_application_fit_is_never_the_models_base(tmp_path):
    """A fit with ``base = false`` (the dyad fitted to China and Japan) is skipped when
    compare and report look for the model's calibrated base; the model's own result is not."""
    import pytest

    from nea_sd.calibrate._toml import dumps
    from nea_sd.calibrate.results import find_result
    from nea_sd.errors import UnknownNameError

    def write(name: str, **calibration: object) -> None:
        doc = {"calibration": {"spec": name, "model": "dyad.mdl", **calibration}}
        (tmp_path / name).write_text(dumps(doc), encoding="utf-8")

    write("dyad_cnjp.toml", model_base=False)
    with pytest.raises(UnknownNameError, match="no calibration results for model 'dyad'"):
        find_result("dyad", results_dir=tmp_path)
    write("dyad_other.toml")
    assert find_result("dyad", results_dir=tmp_path)[0].name == "dyad_other.toml"


def test_the_committed_dyad_application_is_not_the_dyads_base():
    """compare and report on the generic dyad keep its defaults: the China-Japan fit is an
    application (its spec says base = false, its result records it); nea keeps its base."""
    import tomllib
    from pathlib import Path

    import pytest

    from nea_sd.calibrate.results import find_result
    from nea_sd.errors import UnknownNameError

    root = Path(__file__).resolve().parents[2]
    spec = tomllib.loads((root / "calibration" / "dyad_cnjp.toml").read_text(encoding="utf-8"))
    assert spec["base"] is False
    results = root / "calibration" / "results"
    with pytest.raises(UnknownNameError):
        find_result("dyad", results_dir=results)
    assert find_result("nea", results_dir=results)[0].name == "nea.toml"


def test_the_sector_held_test_holds_the_sector_fits_own_estimates():
    """``calibration/nea_sector_held.toml`` is the base it tested (until 7 December, now
    ``nea_flare_evidence.toml``: the switch it lacks is that model's default 0) with the value
    the sectors rejected held at the trust sector's estimate of then (recorded in its result),
    never a base; the trust sector refitted on the new base's structure moved that estimate by
    under 2%, and the new base holds no value the sectors reject (its committed check)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    results = root / "calibration" / "results"
    spec = tomllib.loads((root / "calibration" / "nea_sector_held.toml").read_text("utf-8"))
    joint = tomllib.loads((root / "calibration" / "nea_flare_evidence.toml").read_text("utf-8"))
    source = {"Trust building rate": "trust"}
    assert spec.pop("base") is False and joint.pop("base") is False
    constants = spec.pop("constants")
    assert joint["constants"].pop("Flare up own rate") == 0  # nea.mdl's default
    for name, value in joint.pop("constants").items():
        assert constants.pop(name) == value  # the base's own constants, unchanged
    assert set(constants) == set(source)
    held = read_result(results / "nea_sector_held.toml")["constants"]
    for name, value in constants.items():
        assert value == held[name]  # the value its committed result was fitted with
        now = read_result(results / f"{source[name]}.toml")["estimates"][name]
        assert abs(value - now) < 0.02 * now
        joint["parameters"].pop(name)  # fitted in the base, held here
    assert set(source) <= set(read_result(results / "nea.toml")["estimates"])  # fitted there
    assert spec == joint  # everything else as in the base's spec
    check = tomllib.loads((results / "nea.sectors.toml").read_text("utf-8"))
    assert not [r for r in check["rows"] if not r["inside"]]  # nothing to hold now
