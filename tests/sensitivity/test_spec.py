"""Sweep specs checked against a model: each mistake fails at once with its pinned message."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sensitivity_helpers import REPO

from nea_sd.errors import (
    InvalidValueError,
    ModelFileError,
    NeaSdError,
    OutOfRangeError,
    UnknownNameError,
)
from nea_sd.model import load_model
from nea_sd.sensitivity import build_problem, draw_sample, load_spec, spec_from_dict


@pytest.fixture(scope="module")
def nea():
    return load_model(REPO / "models" / "nea.mdl")


def problem(model, parameters=None, outputs=None, **sweep):
    document = {"sweep": sweep, "parameters": parameters or {"x1": {}}}
    document["outputs"] = outputs if outputs is not None else {"Y": {"variable": "Y"}}
    return build_problem(model, spec_from_dict(document))


def error(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def test_ranges_come_from_the_model(ishigami):
    p = problem(ishigami, {"x1": {}, "x2": {"range": [0, 1]}, "b": {"dist": "triang", "peak": 0.2}})
    assert p.salib_problem() == {
        "num_vars": 3,
        "names": ["x1", "x2", "b"],
        "bounds": [[-3.14159, 3.14159], [0.0, 1.0], [0.0, 1.0, 0.2]],
        "dists": ["unif", "unif", "triang"],
    }
    normal = problem(ishigami, {"a": {"dist": "norm", "mean": 7, "sd": 0.5}})
    assert normal.factors[0].bounds == (7.0, 0.5)


@pytest.mark.parametrize(
    "parameters, exc, message",
    [
        ({"x4": {}}, UnknownNameError, "unknown parameter 'x4'; did you mean 'x3', 'x2', 'x1'?"),
        (
            {"x1": {"range": [1, 1]}},
            InvalidValueError,
            "range of 'x1' is empty: [1, 1]; give a low end below the high end",
        ),
        (
            {"x1": {"range": [2, -2]}},
            InvalidValueError,
            "range of 'x1' is inverted: [2, -2]; write it as [low, high]",
        ),
        (
            {"x1": {"range": [0, 4]}},
            OutOfRangeError,
            "range [0, 4] of 'x1' leaves the range [-3.14159, 3.14159] declared in the model",
        ),
        ({"x1": {"range": [0]}}, InvalidValueError, "range of 'x1' must be [low, high], got (0,)"),
        (
            {"x1": {"dist": "gamma"}},
            UnknownNameError,
            "'x1': unknown distribution 'gamma'; valid choices: 'lognorm', 'logunif', 'norm', "
            "'triang', 'truncnorm', 'unif'",
        ),
        (
            {"x1": {"dist": "norm", "mean": 0}},
            InvalidValueError,
            "'x1': dist = 'norm' needs mean and sd",
        ),
        (
            {"x1": {"dist": "triang", "peak": 4}},
            InvalidValueError,
            "'x1': peak 4 must lie in [-3.14159, 3.14159) (SALib's triang)",
        ),
        (
            {"x1": {"ranges": [0, 1]}},
            UnknownNameError,
            "<dict> parameter 'x1': unknown setting 'ranges'; did you mean 'range'?",
        ),
        ({"x1": {}, "X1": {}}, InvalidValueError, "parameter 'x1' is listed twice in the sweep"),
        ({"x1[US]": {}}, InvalidValueError, "parameter 'x1' has no subscripts; drop [US]"),
        (
            {"x1": 0.5},
            InvalidValueError,
            "<dict>: parameter 'x1' takes a table of settings (e.g. { range = [0, 1] }), got 0.5",
        ),
    ],
)
def test_parameter_errors(ishigami, parameters, exc, message):
    with error(exc, message):
        problem(ishigami, parameters)


@pytest.mark.parametrize(
    "outputs, exc, message",
    [
        (
            {"y": {"variable": "accumulated"}},
            UnknownNameError,
            "unknown output variable 'accumulated'; did you mean 'Accumulated Y'?",
        ),
        (
            {"y": {"kind": "levels", "variable": "Y"}},
            UnknownNameError,
            "output 'y': unknown kind 'levels'; did you mean 'level'?",
        ),
        (
            {"y": {"kind": "level"}},
            InvalidValueError,
            "output 'y' needs a variable (e.g. variable = \"security_trust\")",
        ),
        (
            {"y": {"variable": "Y", "year": 3}},
            InvalidValueError,
            "year of output 'y' = 3 is outside the simulated period 0-1",
        ),
        (
            {"y": {"kind": "time_to_threshold", "variable": "Y"}},
            InvalidValueError,
            "output 'y' needs a threshold (e.g. threshold = 0.5)",
        ),
        (
            {"y": {"kind": "stage_reached"}},
            NeaSdError,
            "output 'y' (stage_reached) needs a sequencing model (dyad or nea)",
        ),
        (
            {"y": {"variable": "security_trust"}},
            NeaSdError,
            "output variable 'security_trust' is a headline outcome of the sequencing models; "
            "this model has none: name a model variable instead",
        ),
        (
            {},
            NeaSdError,
            "this model has no headline outcomes; name the outputs in a spec ([outputs.NAME] with "
            "kind and variable) and pass it with --spec",
        ),
    ],
)
def test_output_errors(ishigami, outputs, exc, message):
    with error(exc, message):
        problem(ishigami, outputs=outputs)


def test_sweep_errors(ishigami, tmp_path):
    with error(
        UnknownNameError,
        "<dict> [sweep]: unknown setting 'seeds'; valid choices: "
        "'M', 'backend', 'calc_second_order', 'chunk_size', 'conf_level', "
        "'loop_saveper', 'num_levels', 'num_resamples', 'paired', 'scenario', 'year'",
    ):
        problem(ishigami, seeds=3)
    with error(InvalidValueError, "loop_saveper must be a positive number of years, got -1.0"):
        problem(ishigami, loop_saveper=-1)
    with error(
        UnknownNameError, "unknown batch engine backend 'jax'; valid choices: 'numba', 'numpy'"
    ):
        problem(ishigami, backend="jax")
    with error(InvalidValueError, "chunk_size must be a positive integer, got 0"):
        problem(ishigami, chunk_size=0)
    grouped = problem(ishigami, {"x1": {"group": "g"}, "x2": {"group": "g"}, "x3": {}})
    with error(
        InvalidValueError,
        "method 'fast' cannot group parameters; remove 'group' from "
        "the spec or use sobol or morris",
    ):
        draw_sample(grouped, "fast", 100, 0)
    with error(UnknownNameError, "unknown method 'sobel'; did you mean 'sobol'?"):
        draw_sample(grouped, "sobel", 100, 0)
    bad = tmp_path / "bad.toml"
    bad.write_text("[parameters\n")
    with pytest.raises(ModelFileError, match="^sweep spec '.*bad.toml' is not valid TOML"):
        load_spec(bad)
    with error(ModelFileError, "sweep spec 'missing.toml' does not exist"):
        load_spec("missing.toml")


def test_spec_hash_ignores_layout(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("[parameters]\nx1 = {}\nx2 = { range = [0, 1] }\n")
    b.write_text("# comment\n[parameters]\nx2 = {range=[0,1]}\n\nx1 = {}\n")
    assert load_spec(a).sha256 == load_spec(b).sha256
    b.write_text("[parameters]\nx2 = {range=[0,0.5]}\nx1 = {}\n")
    assert load_spec(a).sha256 != load_spec(b).sha256


def test_subscripted_parameters(nea):
    spec = spec_from_dict(
        {
            "parameters": {
                "base rival weight[us, cn]": {"range": [0.5, 1.0]},
                "Defence reaction": {"scale": [0.5, 1.5]},
                "Spillover": {},
            },
            "outputs": {"trust": {"variable": "security_trust"}},
        }
    )
    p = build_problem(nea, spec)
    assert p.labels == ["Base rival weight[US,CN]", "Defence reaction (scale)", "Spillover"]
    X = np.array([[0.6, 2.0, 0.1], [0.9, 0.5, 0.2]])
    sets = p.parameter_sets(X, 0)
    weights = nea.parameters["Base rival weight"].value
    reaction = nea.parameters["Defence reaction"]
    assert sets["Base rival weight"].shape == (2, 7, 7)
    assert sets["Base rival weight"][:, 0, 1].tolist() == [0.6, 0.9]
    assert np.array_equal(sets["Base rival weight"][0, 1:], weights[1:])  # the rest untouched
    np.testing.assert_allclose(sets["Defence reaction"][1], reaction.value * 0.5)
    assert sets["Defence reaction"][0].max() <= reaction.high  # scaled, then clipped to range
    assert sets["Spillover"].tolist() == [0.1, 0.2]
    assert nea.parameters["Base rival weight"].value is weights  # inputs never mutated


@pytest.mark.parametrize(
    "parameters, message",
    [
        (
            {"Defence reaction": {"range": [0, 1]}},
            "parameter 'Defence reaction' is subscripted [Actor]: sweep one element "
            "('Defence reaction[...]') or scale the whole array (scale = [0.5, 1.5])",
        ),
        (
            {"Defence reaction[US]": {"scale": [0, 1]}},
            "'Defence reaction[US]': scale applies to a whole subscripted parameter; "
            "use range for one element",
        ),
        (
            {"Defence reaction": {}, "Defence reaction[US]": {}},
            "'Defence reaction' is both scaled as a whole and swept by element; choose one",
        ),
        (
            {"Stage start time[FUN]": {}},
            "parameter 'Stage start time[FUN]' is set by scenario 'functional-first' "
            "(Stage start time[FUN]); a sweep cannot vary what a compared scenario fixes",
        ),
        (
            {"Detente intensity": {}},
            "parameter 'Detente intensity' is set by scenario 'functional-first' "
            "(Detente intensity); a sweep cannot vary what a compared scenario fixes",
        ),
    ],
)
def test_subscript_and_scenario_errors(nea, parameters, message):
    spec = spec_from_dict(
        {"parameters": parameters, "sweep": {"paired": ["functional-first", "military-first"]}}
    )
    with error(InvalidValueError, message):
        build_problem(nea, spec)


def test_unknown_element_and_scenario(nea):
    with error(
        UnknownNameError,
        "unknown element of Actor 'XX'; valid choices: 'CN', 'JP', 'KP', 'KR', 'MN', 'RU', 'US'",
    ):
        build_problem(nea, spec_from_dict({"parameters": {"Defence reaction[XX]": {}}}))
    with pytest.raises(
        UnknownNameError, match="^unknown scenario 'functional first'; did you mean"
    ):
        build_problem(nea, spec_from_dict({}), paired=["functional first", "military-first"])
    with error(
        InvalidValueError,
        "paired takes two different scenarios (A,B: A minus B), got "
        "'military-first,military-first'",
    ):
        build_problem(nea, spec_from_dict({}), paired=["military-first", "military-first"])


def test_default_sweep_skips_what_scenarios_fix(nea):
    p = build_problem(nea, spec_from_dict({}), paired=["functional-first", "military-first"])
    labels = set(p.labels)
    assert "Spillover" in labels and "Effort budget" not in labels
    assert "Detente intensity" not in labels and all(f.mode == "value" for f in p.factors)
    assert [m.name for m in p.metrics][:2] == ["security_trust_2040", "societal_trust_2040"]


def test_distributions_reach_salib(ishigami):
    p = problem(
        ishigami,
        {
            "a": {"dist": "norm", "mean": 7, "sd": 0.5},
            "b": {"dist": "triang", "range": [0, 0.5], "peak": 0.1},
            "x1": {"dist": "truncnorm", "mean": 0, "sd": 1},
        },
    )
    X = draw_sample(p, "lhs", 4000, 0)
    assert abs(X[:, 0].mean() - 7) < 0.02 and abs(X[:, 0].std() - 0.5) < 0.02
    assert X[:, 1].min() >= 0 and X[:, 1].max() <= 0.5
    assert abs(np.median(X[:, 1]) - 0.5 * (1 - np.sqrt(0.8 / 2))) < 0.01  # triangular median
    assert X[:, 2].min() >= -3.14159 and X[:, 2].max() <= 3.14159
