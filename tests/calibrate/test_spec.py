"""Calibration specs: a valid fixture, and each kind of mistake with its pinned message."""

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nea_sd.calibrate import Index, Logistic, LogNormal, Poisson, Scale
from nea_sd.calibrate.priors import Prior
from nea_sd.calibrate.spec import load_spec, parse_variable
from nea_sd.errors import DataError, InvalidValueError, OutOfRangeError, UnknownNameError
from nea_sd.model import Parameter, ParameterTable

FIXTURE = Path(__file__).parent / "fixtures" / "valid.toml"
VARIABLES = ["Military expenditure", "Societal trust", "Trade", "Incidents"]
SUBSCRIPTS = {"Actor": ["US", "CN", "RU", "JP", "KR", "KP", "MN"]}


def _param(name, low, high, dims=(), value=0.1):
    """A Parameter built by keyword, tolerant of fields added to it later (e.g. coords)."""
    kwargs = {
        "name": name,
        "py_name": name.lower().replace(" ", "_"),
        "value": value,
        "dims": dims,
        "units": "1/Year",
        "low": low,
        "high": high,
        "doc": "",
        "view": "",
    }
    if "coords" in {f.name for f in fields(Parameter)}:
        kwargs["coords"] = tuple(tuple(SUBSCRIPTS[d]) for d in dims)
    return Parameter(**kwargs)


TABLE = ParameterTable(
    [
        _param("Reaction coefficient", 0.0, 0.9),
        _param("Fatigue rate", 0.01, 0.5),
        _param("Perception delay", 0.25, 4.0),
        _param("Spillover", 0.0, 0.6),
        _param("Open ended", float("nan"), float("nan")),
    ]
)


def load(path, parameters=TABLE, data_dir=None, **kw):
    return load_spec(
        path, parameters, variables=VARIABLES, subscripts=SUBSCRIPTS, data_dir=data_dir, **kw
    )


def edited(tmp_path, old, new, count=1):
    text = FIXTURE.read_text()
    assert old in text, old
    path = tmp_path / "spec.toml"
    path.write_text(text.replace(old, new, count))
    return path


def test_valid_fixture(data_dir):
    spec = load(FIXTURE, data_dir=data_dir)
    assert spec.fit_period == (1990, 2015) and spec.holdout_period == (2016, 2023)
    assert spec.model.name == "nea.mdl"
    assert spec.names == (
        "Reaction coefficient",
        "Fatigue rate",
        "Perception delay",
        "Spillover",
        "poll CN on JP.alpha",
        "trade JP.factor",
    )
    assert spec.bounds.tolist() == [
        [0.0, 0.5],
        [0.01, 0.5],
        [0.25, 4.0],
        [0.0, 0.6],
        [-3.0, 3.0],
        [1e6, 1e9],
    ]
    kinds = [(type(o.link), type(o.error)) for o in spec.observations]
    assert kinds[1] == (Index, LogNormal) and kinds[2][0] is Logistic
    assert kinds[3][0] is Scale and kinds[4][1] is Poisson
    assert spec.observations[1].weight == 0.5
    assert spec.observations[1].link.base_years == (1990, 2010)
    assert "fit 1990-2015, held out 2016-2023" in str(spec)


def test_priors_truncated_to_bounds(data_dir):
    spec = load(FIXTURE, data_dir=data_dir)
    reaction = spec.parameters[0].prior
    mass = stats.norm(0.1, 0.05).cdf(0.5) - stats.norm(0.1, 0.05).cdf(0.0)
    assert reaction.logpdf(0.2) == pytest.approx(stats.norm(0.1, 0.05).logpdf(0.2) - np.log(mass))
    assert reaction.logpdf(0.6) == -np.inf
    spill = spec.parameters[3].prior  # beta(2, 5) on [0, 0.6]
    assert spill.logpdf(0.3) == pytest.approx(stats.beta(2, 5, scale=0.6).logpdf(0.3))
    assert spec.parameters[1].prior.dist == "uniform"
    u = np.linspace(0, 1, 11)[:, None].repeat(len(spec.free), axis=1)
    x = spec.prior_ppf(u)
    assert (x >= spec.bounds[:, 0]).all() and (x <= spec.bounds[:, 1]).all()
    assert np.isfinite(spec.log_prior(x[1:-1])).all()


def test_spec_log_likelihood_sums_observations(data_dir):
    spec = load(FIXTURE, data_dir=data_dir)
    years = np.arange(1980.0, 2031.0)
    runs = 3
    outputs = {
        "Military expenditure[CN]": np.full((runs, years.size), 1e5),
        "Military expenditure[KP]": np.exp(0.02 * (years - 1980))[None].repeat(runs, 0),
        "Societal trust[CN, JP]": np.full((runs, years.size), 0.4),
        "Trade[JP, CN]": np.full((runs, years.size), 100.0),
        "Incidents[US, KP]": np.full((runs, years.size), 0.3),
    }
    links = {"poll CN on JP.alpha": np.array([-1.0, 0.0, 1.0]), "trade JP.factor": 1e8}
    total = spec.log_likelihood(outputs, years, links)
    parts = sum(
        o.log_likelihood(
            outputs[o.variable],
            years,
            {k.split(".")[-1]: v for k, v in links.items() if k.startswith(o.name + ".")},
            (1990, 2015),
        )
        for o in spec.observations
    )
    assert total.shape == (3,) and total == pytest.approx(parts)
    held = spec.log_likelihood(outputs, years, links, holdout=True)
    assert held.shape == (3,) and np.isfinite(held).all()  # MIDs end 2010: skipped there


@pytest.mark.parametrize(
    ("old", "new", "error", "message"),
    [
        (
            '[parameters."Reaction coefficient"]',
            '[parameters."Reaction coeficient"]',
            UnknownNameError,
            "unknown parameter 'Reaction coeficient'; did you mean 'Reaction coefficient'?",
        ),
        (
            "sipri:milex_constant_2022_usd:CN",
            "sipri:milex_constant_2022_usd:CNN",
            UnknownNameError,
            "unknown series 'sipri:milex_constant_2022_usd:CNN'; did you mean "
            "'sipri:milex_constant_2022_usd:CN'",
        ),
        (
            "bounds = [0.0, 0.5]",
            "bounds = [0.5, 0.0]",
            InvalidValueError,
            "spec.toml parameter 'Reaction coefficient' bounds [0.5, 0.0] are inverted; "
            "need low < high",
        ),
        (
            "bounds = [0.0, 0.5]",
            "bounds = [0.3, 0.3]",
            InvalidValueError,
            "spec.toml parameter 'Reaction coefficient' bounds [0.3, 0.3] are empty; "
            "need low < high",
        ),
        (
            "bounds = [0.0, 0.5]",
            "bounds = [0.0, 1.5]",
            OutOfRangeError,
            "spec.toml parameter 'Reaction coefficient' bounds [0, 1.5] go outside the model's "
            "declared range [0, 0.9]; narrow the bounds or widen the model's range",
        ),
        (
            '[parameters."Spillover"]',
            '[parameters."Open ended"]',
            InvalidValueError,
            "spec.toml parameter 'Open ended' has no declared range in the model (nan, nan); "
            "give bounds = [low, high]",
        ),
        (
            "fit = [1990, 2015]",
            "fit = [1950, 1960]",
            DataError,
            "spec.toml observation 'milex CN': fit period 1950-1960 does not overlap series "
            "'sipri:milex_constant_2022_usd:CN', which covers 1989-2023",
        ),
        (
            "holdout = [2016, 2023]",
            "holdout = [2030, 2040]",
            DataError,
            "spec.toml: no observation has data in the holdout period 2030-2040",
        ),
        (
            "holdout = [2016, 2023]",
            "holdout = [2010, 2023]",
            InvalidValueError,
            "spec.toml: holdout [2010, 2023] overlaps fit [1990, 2015]; held-out years must "
            "not be fitted",
        ),
        (
            "fit = [1990, 2015]",
            "fit = [2015, 1990]",
            InvalidValueError,
            "spec.toml [periods] fit [2015, 1990] is inverted (first year after last)",
        ),
        (
            "base_year = [1990, 2010]",
            "base_year = 1990",
            DataError,
            "spec.toml observation 'milex KP', fit period 1990-2015: index link for "
            "'sipri:milex_local_currency:KP': no base year in segment 2003-2015",
        ),
        (
            'dist = "normal", mean = 0.1, sd = 0.05',
            'dist = "gamma", k = 2.0',
            InvalidValueError,
            "unknown prior distribution 'gamma'; valid: 'uniform', 'normal', 'lognormal', 'beta'",
        ),
        (
            "sd = 0.05",
            "sd = -1.0",
            InvalidValueError,
            "normal prior sd must be > 0, got -1.0",
        ),
        (
            '"Societal trust[CN, JP]"',
            '"Societal trust[CN, JA]"',
            UnknownNameError,
            "unknown subscript element 'JA'",
        ),
        (
            '"Trade[JP, CN]"',
            '"Trde[JP, CN]"',
            UnknownNameError,
            "unknown variable 'Trde'; did you mean 'Trade'?",
        ),
        (
            'error = "poisson"',
            'error = "gaussian"',
            InvalidValueError,
            "unknown error model 'gaussian'; valid: 'lognormal', 'normal', 'logitnormal', "
            "'binomial', 'poisson'",
        ),
        (
            'link = "identity"',
            'link = "linear"',
            InvalidValueError,
            "unknown link type 'linear'; valid: 'identity', 'scale', 'logistic', 'loglinear', "
            "'index'",
        ),
        (
            'model = "../../../models/nea.mdl"',
            'model = "../../../models/nea.mdl"\nbase = "no"',
            InvalidValueError,
            "spec.toml: base must be true or false, got 'no'",
        ),
        (
            "weight = 0.5",
            "wieght = 0.5",
            InvalidValueError,
            "unknown key 'wieght'; valid keys: 'name', 'series', 'variable', 'link', 'error', "
            "'weight'",
        ),
        (
            'name = "trade JP"',
            'name = "milex CN"',
            InvalidValueError,
            "spec.toml: observation name 'milex CN' is given twice",
        ),
        (
            ", beta = 1.0 }",
            " }",
            InvalidValueError,
            "spec.toml observation 'poll CN on JP' link: missing required key 'beta'",
        ),
        (
            '"logitnormal", sigma = 0.3 }',
            '"logitnormal" }',
            InvalidValueError,
            "spec.toml observation 'poll CN on JP' error: missing required key 'sigma'",
        ),
    ],
)
def test_spec_errors_pinned(tmp_path, data_dir, old, new, error, message):
    path = edited(tmp_path, old, new)
    (tmp_path / "data").symlink_to(data_dir)
    with pytest.raises(error) as info:
        load(path, data_dir=tmp_path / "data")
    assert message in str(info.value)


def test_mapping_of_ranges_accepted(data_dir):
    ranges = {
        "reaction coefficient": (0.0, 0.9),
        "Fatigue Rate": (0.01, 0.5),
        "Perception delay": (0.25, 4.0),
        "Spillover": (0, 0.6),
    }
    spec = load(FIXTURE, parameters=ranges, data_dir=data_dir)
    assert spec.names[:2] == ("reaction coefficient", "Fatigue Rate")


def test_fit_period_crossing_a_zero_under_lognormal(tmp_path, data_dir):
    path = edited(tmp_path, "sipri:milex_constant_2022_usd:CN", "cow:milex:KP")
    path.write_text(path.read_text().replace("fit = [1990, 2015]", "fit = [1940, 2015]"))
    with pytest.raises(DataError, match="log-normal error needs positive data; got \\[0.0\\]"):
        load(path, data_dir=data_dir)


def test_invalid_toml_and_missing_sections(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("model = \n")
    with pytest.raises(InvalidValueError, match="bad.toml: invalid TOML"):
        load(bad)
    bad.write_text('model = "m.mdl"\n')
    with pytest.raises(InvalidValueError, match="bad.toml: missing required key 'periods'"):
        load(bad)


def test_parse_variable():
    assert parse_variable("Military expenditure[CN]") == ("Military expenditure", ("CN",))
    assert parse_variable(" Societal trust [ CN , JP ] ") == ("Societal trust", ("CN", "JP"))
    assert parse_variable("Arms control") == ("Arms control", ())
    with pytest.raises(InvalidValueError, match="has an empty subscript"):
        parse_variable("Trade[JP,]")


def test_prior_without_mass_in_bounds():
    with pytest.raises(InvalidValueError, match="has no mass inside the bounds"):
        Prior("normal", {"mean": 100.0, "sd": 0.1}, 0.0, 1.0)


def test_load_spec_for_model_uses_its_tables(data_dir):
    class FakeModel:  # the attributes a nea_sd.model.Model provides
        parameters = TABLE
        subscripts = SUBSCRIPTS

        @staticmethod
        def variable_names():
            return VARIABLES

    from nea_sd.calibrate import load_spec_for_model

    spec = load_spec_for_model(FIXTURE, FakeModel(), data_dir=data_dir)
    assert len(spec.free) == 6


def test_subscripted_parameter_elements(tmp_path, data_dir):
    table = ParameterTable(
        [
            _param("Fatigue rate", 0.01, 1.0, ("Actor",), np.full(7, 0.1)),
            _param("Reaction coefficient", 0.0, 0.9),
            _param("Perception delay", 0.25, 4.0),
            _param("Spillover", 0.0, 0.6),
        ]
    )
    ok = edited(tmp_path, '[parameters."fatigue rate"]', '[parameters."Fatigue rate[CN]"]')
    assert load(ok, parameters=table, data_dir=data_dir).names[1] == "Fatigue rate[CN]"
    bad = edited(tmp_path, '[parameters."fatigue rate"]', '[parameters."Fatigue rate[XX]"]')
    with pytest.raises(UnknownNameError, match="unknown element of Actor 'XX'; valid choices"):
        load(bad, parameters=table, data_dir=data_dir)
    two = edited(tmp_path, '[parameters."fatigue rate"]', '[parameters."Fatigue rate[CN, JP]"]')
    with pytest.raises(
        InvalidValueError, match="2 subscript\\(s\\) given, but 'Fatigue rate' has 1"
    ):
        load(two, parameters=table, data_dir=data_dir)


def test_loglinear_link_for_mid_counts(tmp_path, data_dir):
    # MIDs as a Poisson rate exp(a + b · x): one constant fitted, one fixed
    mid = edited(
        tmp_path,
        'variable = "Incidents[US, KP]"\nlink = "identity"',
        'variable = "Incidents[US, KP]"\n'
        'link = { type = "loglinear", intercept = { bounds = [-8, 2] }, slope = -1.5 }',
    )
    spec = load(mid, data_dir=data_dir)
    obs = next(o for o in spec.observations if o.name == "MIDs US-KP")
    assert type(obs.link).__name__ == "LogLinear" and obs.link.slope == -1.5
    assert obs.link.free == ("intercept",) and "MIDs US-KP.intercept" in spec.names


def test_shared_link_constant_is_one_parameter_for_several_observations(tmp_path, data_dir):
    # two MID dyads with their own intercepts and one slope fitted jointly
    text = FIXTURE.read_text()
    old = 'variable = "Incidents[US, KP]"\nlink = "identity"'
    assert old in text
    link = (
        'link = { type = "loglinear", intercept = { bounds = [-8, 2] }, '
        'slope = { bounds = [-10, 10], shared = "MID slope" } }'
    )
    text = text.replace(old, f'variable = "Incidents[US, KP]"\n{link}')
    text += (
        '\n[[observations]]\nname = "MIDs CN-JP"\nseries = "mid:onset:CN-JP"\n'
        f'variable = "Incidents[US, KP]"\n{link}\nerror = "poisson"\n'
    )
    path = tmp_path / "spec.toml"
    path.write_text(text)
    spec = load(path, data_dir=data_dir)
    links = [p.name for p in spec.link_parameters]
    assert links.count("MID slope") == 1
    assert {"MIDs US-KP.intercept", "MIDs CN-JP.intercept"} <= set(links)
    # the shared slope moves both dyads' rates: exp(a + b·x) at x = 0.5
    years = np.arange(1980.0, 2031.0)
    obs = [o for o in spec.observations if o.name.startswith("MIDs")]
    out = np.full((2, years.size), 0.5)
    for o, a in zip(obs, (-1.0, -2.0), strict=True):
        slope = np.array([0.0, 2.0])
        params = {k: {"intercept": a, "slope": slope}[k] for k in o.link.free}
        assert o.link_name("slope") == "MID slope"
        pred, data, _ = o.predict(out, years, o.points((2000, 2010)), params)
        assert pred[:, 0] == pytest.approx(np.exp(a + slope * 0.5))
    bad = path.read_text().replace("[-10, 10], shared", "[-9, 10], shared", 1)
    path.write_text(bad)
    with pytest.raises(InvalidValueError, match="shared link constant 'MID slope' is given"):
        load(path, data_dir=data_dir)
