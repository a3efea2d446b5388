"""The committed arms sector spec and its structural variants load against the regional model,
share their data, and their committed results were made from them (not from an older spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nea_sd.calibrate import load_spec_for_model, read_result
from nea_sd.model import load_model

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "calibration"
VARIANTS = sorted((CALIBRATION / "arms-variants").glob("*.toml"))


@pytest.fixture(scope="module")
def nea():
    return load_model(ROOT / "models" / "nea.mdl")


def _check(spec_path: Path, result_path: Path, nea, data_dir: Path):
    spec = load_spec_for_model(spec_path, nea, data_dir=data_dir)
    doc = read_result(result_path)
    assert doc["calibration"]["spec"] == spec_path.name
    assert sorted(doc["estimates"]) == sorted(p.name for p in spec.parameters)
    assert sorted(doc["link_estimates"]) == sorted(p.name for p in spec.link_parameters)
    assert sorted(doc["series"]) == sorted(o.name for o in spec.observations)
    return spec


def test_arms_spec_matches_its_result(nea, data_dir):
    spec = _check(CALIBRATION / "arms.toml", CALIBRATION / "results" / "arms.toml", nea, data_dir)
    mids = [o for o in spec.observations if o.name.startswith("MIDs")]
    assert len(mids) == 11 and {o.link_name("slope") for o in mids} == {"MID slope"}
    kp = next(o for o in spec.observations if o.name == "milex KP")
    assert kp.fit_period == (2003, 2018) and kp.series.breaks == (2003,)


def test_variants_share_data_and_match_their_results(nea, data_dir):
    """Each against its own model: a variant spec may name a structural variant of nea.mdl."""
    from nea_sd.calibrate.spec import read_model_path

    def key(spec):
        return tuple((o.name, o.series.name, o.variable) for o in spec.observations)

    assert len(VARIANTS) >= 4
    adopted = key(load_spec_for_model(CALIBRATION / "arms.toml", nea, data_dir=data_dir))
    observed = set()
    for path in VARIANTS:
        own = read_model_path(path)
        model = nea if own == nea.path else load_model(own)
        spec = _check(path, CALIBRATION / "results" / "arms-variants" / path.name, model, data_dir)
        observed.add(key(spec))
    # every structure fitted to the same five SIPRI series, or to the adopted spec's (with the
    # DPRK and the MIDs): compared with one another, or with arms.toml, on the same data
    assert len(observed - {adopted}) == 1
