"""Structural switches (models/structures.toml) and properties of the repaired regional model
over random within-range draws: omega only raises distrust, backfire never helps the premature
strategy, every switch setting keeps trust in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nea_sd.engine import simulate
from nea_sd.errors import InvalidValueError
from nea_sd.scenarios import load_scenarios
from nea_sd.structures import load_structures, variants
from tests.support import MODELS, bundled

# uncertain parameters the properties range over (each within its declared range)
UNCERTAIN = [
    "Spillover",
    "Backfire strength",
    "Bloc polarisation",
    "Arming threat sensitivity",
    "Trust building rate",
    "Loss to gain ratio",
    "Great power gate strength",
    "Boycott depth",
    "Restraint trust effect",
    "CBM trust effect",
]
QUICK = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def draws(data, count: int = 4) -> list[dict[str, float]]:
    model = bundled("nea")
    runs = []
    for _ in range(count):
        run = {}
        for name in UNCERTAIN:
            p = model.parameters[name]
            run[name] = data.draw(st.floats(p.low, p.high, allow_nan=False))
        runs.append(run)
    return runs


def scenario(name: str) -> dict[str, float]:
    return load_scenarios(bundled("nea"))[name].overrides


def test_every_default_is_the_shipped_model_and_every_setting_is_valid() -> None:
    structures = load_structures(bundled("nea"))
    assert [s.switch for s in structures.values()] == list("abcdef")
    for structure in structures.values():
        assert structure.argument and len(structure.settings) >= 2
    labels = [label for label, _ in variants(structures)]
    assert labels[0] == "shipped" and labels[-1] == "all-switched"


def test_a_default_the_model_does_not_hold_is_an_error(tmp_path: Path) -> None:
    text = (MODELS / "structures.toml").read_text(encoding="utf-8")
    edited = text.replace('default = "gated"', 'default = "region-wide"', 1)
    assert edited != text
    (tmp_path / "structures.toml").write_text(edited, encoding="utf-8")
    with pytest.raises(InvalidValueError, match="make the default the model's setting"):
        load_structures(bundled("nea"), tmp_path / "structures.toml")


@given(st.data())
@QUICK
def test_raising_bloc_polarisation_never_raises_regional_security_trust(data) -> None:
    model = bundled("nea")
    runs = []
    for run in draws(data):
        base = {**scenario("status-quo"), **run}
        low = data.draw(st.floats(0, 1))
        high = data.draw(st.floats(low, 1))
        runs += [{**base, "Bloc polarisation": low}, {**base, "Bloc polarisation": high}]
    trust = simulate(model, runs, ["Regional security trust"])["Regional security trust"]
    for i in range(0, len(runs), 2):
        assert (trust.isel(run=i + 1) <= trust.isel(run=i) + 1e-9).all()


@given(st.data())
@QUICK
def test_raising_backfire_never_helps_military_first(data) -> None:
    model = bundled("nea")
    runs = []
    for run in draws(data):
        base = {**scenario("military-first"), **run}
        low = data.draw(st.floats(0, 2))
        high = data.draw(st.floats(low, 2))
        runs += [{**base, "Backfire strength": low}, {**base, "Backfire strength": high}]
    trust = simulate(model, runs, ["Regional security trust"])["Regional security trust"]
    for i in range(0, len(runs), 2):
        assert (trust.isel(run=i + 1) <= trust.isel(run=i) + 1e-9).all()


@given(st.data())
@QUICK
def test_every_switch_setting_keeps_trust_in_the_unit_interval(data) -> None:
    model = bundled("nea")
    structures = load_structures(model)
    run = draws(data, 1)[0]
    runs = [
        {**scenario(strategy), **run, **overrides}
        for _, overrides in variants(structures)
        for strategy in ("functional-first", "military-first")
    ]
    result = simulate(model, runs, ["Security trust", "Societal trust"])
    for var in result.data_vars:
        values = result[var].values
        assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1 + 1e-9
