"""The capacity candidate (calibration/nea_capacity.toml): the base's problem on a variant of
nea.mdl whose extra term is 0 at the base, so its committed fit is a nested structural test and
can be held to what nesting implies."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "calibration"
ACTORS = ("US", "CN", "RU", "JP", "KR")


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_candidate_is_the_base_problem_with_one_elasticity_per_spending_series():
    candidate = _toml(CALIBRATION / "nea_capacity.toml")
    base = _toml(CALIBRATION / "nea.toml")
    assert candidate.pop("base") is False and "base" not in base
    assert candidate.pop("model") == "../models/variants/nea-capacity.mdl"
    base.pop("model")
    added = {f"Capacity elasticity[{a}]": {"bounds": [0.0, 2.0]} for a in ACTORS}
    assert {k: candidate["parameters"].pop(k) for k in added} == added
    assert candidate == base  # periods, constants, parameters, observations: all equal
    arms = _toml(CALIBRATION / "arms-variants" / "capacity.toml")
    assert {k: arms["parameters"][k] for k in added} == added  # the sector's test, the same


def test_the_committed_fits_are_of_the_variant_and_at_least_as_good_as_the_nested_base():
    """At elasticity 0 the variant is nea.mdl, so its optimum cannot be worse than the base's
    (an incomplete search could make it so); the arms sector likewise."""
    variant = ROOT / "models" / "variants" / "nea-capacity.mdl"
    sha = hashlib.sha256(variant.read_bytes()).hexdigest()
    pairs = [("nea_capacity.toml", "nea.toml"), ("arms-variants/capacity.toml", "arms.toml")]
    for candidate, base in pairs:
        ours = _toml(CALIBRATION / "results" / candidate)["calibration"]
        theirs = _toml(CALIBRATION / "results" / base)["calibration"]
        # a sector's model is the partial model cut from the variant: its base is the variant
        made_from = ours.get("partial_model", {}).get("base_model_sha256", ours["model_sha256"])
        assert made_from == sha, candidate
        assert ours["log_likelihood"] >= theirs["log_likelihood"] - 1e-6, candidate
    joint = _toml(CALIBRATION / "results" / "nea_capacity.toml")["calibration"]
    assert joint["model_base"] is False  # never compare's base
