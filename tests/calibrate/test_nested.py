"""Nested sampling (UltraNest on the batch engine) against independent truths.

The log evidence of a linear-Gaussian model with a uniform prior has a closed form; the
posterior of synthetic Richardson data must cover the parameters that generated it; the
evidence table must prefer the structure that generated the data; and simulation-based
calibration (slow) must give uniform ranks and 95% intervals that cover the truth 90-98% of the
time, and fail both for an overconfident likelihood.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nea_sd.calibrate import structures
from nea_sd.calibrate.nested import nested_sample
from nea_sd.calibrate.observation import LogNormal, Scale
from nea_sd.calibrate.priors import Prior
from nea_sd.calibrate.problem import prepare
from nea_sd.calibrate.spec import FreeParameter
from nea_sd.calibrate.structures import (
    Variant,
    evidence_table,
    load_checkpoint,
    load_variants,
    variant_key,
    variant_setup,
)
from nea_sd.calibrate.synthetic import synthetic_spec, with_spec
from nea_sd.errors import DataError, InvalidValueError, MissingDependencyError

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "richardson_small.toml"
TRUTH = np.array([0.3, 10.0])


@pytest.fixture(scope="module")
def small(data_dir):
    spec = dataclasses.replace(prepare(SMALL, data_dir).spec, holdout_period=None)
    return prepare(SMALL, data_dir, spec=spec, time_step=0.25)


def test_log_evidence_matches_the_closed_form(data_dir):
    # tiny.mdl: Level = L + (t - 2000), L ~ U(5, 15), data ~ N(level, 0.5²): Z is an integral
    # of a Gaussian in L over the prior's range
    tiny = prepare(FIXTURES / "tiny.toml", data_dir)
    spec = dataclasses.replace(tiny.spec, parameters=tiny.spec.parameters[2:])
    one = prepare(None, data_dir, spec=spec)
    rep = with_spec(one, synthetic_spec(one, np.array([10.0]), np.random.default_rng(0)))
    (obs,) = rep.spec.observations
    years = obs.points(rep.spec.fit_period)
    y = obs.series.on_years(years) - (years - 2000.0)
    n, sigma, m = len(y), 0.5, y.mean()
    s = np.sum((y - m) ** 2)
    mass = stats.norm.cdf((15 - m) * np.sqrt(n) / sigma) - stats.norm.cdf(
        (5 - m) * np.sqrt(n) / sigma
    )
    log_z = (
        -n / 2 * np.log(2 * np.pi * sigma**2)
        - s / (2 * sigma**2)
        + 0.5 * np.log(2 * np.pi * sigma**2 / n)
        + np.log(mass)
        - np.log(10.0)
    )
    result = nested_sample(rep, runs=2, live_points=100, seed=0)
    assert result.log_z == pytest.approx(log_z, abs=max(4 * result.log_z_err, 0.05))
    assert result.log_z_err > 0
    lo, hi = result.interval("Initial level")
    assert lo < 10.0 < hi
    a = nested_sample(rep, runs=2, live_points=50, min_ess=50, seed=3)
    b = nested_sample(rep, runs=2, live_points=50, min_ess=50, seed=3)
    np.testing.assert_array_equal(a.chains, b.chains)  # the seed is honoured


# measured: nautilus -13.151 ± 0.025, smc -13.188 ± 0.022 (its own moves; SMCPy's -13.197 ±
# 0.055) against the closed form's -13.172
@pytest.mark.parametrize(
    "sampler, options",
    [("nautilus", {"runs": 2, "live_points": 200}), ("smc", {"runs": 4, "live_points": 400})],
)
def test_evidence_matches_the_closed_form_in_two_dimensions(data_dir, sampler, options):
    # tiny.mdl with Rate a and Initial level free (Rate b = 1): Level = L + a (t - 2000), a
    # linear-Gaussian model whose evidence over a box prior holding the whole posterior is
    # L_max 2 pi sigma^2 / sqrt(det X'X) / area (nautilus needs at least two parameters)
    tiny = prepare(FIXTURES / "tiny.toml", data_dir)
    first, _, level = tiny.spec.parameters
    two = prepare(None, data_dir, spec=dataclasses.replace(tiny.spec, parameters=(first, level)))
    rep = with_spec(two, synthetic_spec(two, np.array([1.0, 10.0]), np.random.default_rng(0)))
    (obs,) = rep.spec.observations
    years = obs.points(rep.spec.fit_period)
    y = obs.series.on_years(years)
    X = np.column_stack([np.ones_like(years), years - 2000.0])
    n, sigma = len(y), 0.5
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    ss = float(np.sum((y - X @ beta) ** 2))
    area = float(np.prod(np.diff(rep.spec.bounds, axis=1)))
    log_z = (
        -n / 2 * np.log(2 * np.pi * sigma**2)
        - ss / (2 * sigma**2)
        + np.log(2 * np.pi * sigma**2)
        - 0.5 * np.log(np.linalg.det(X.T @ X))
        - np.log(area)
    )
    result = nested_sample(rep, sampler=sampler, seed=0, **options)
    print(result)
    assert result.sampler == sampler and result.converged and result.capped_runs == 0
    assert result.log_z == pytest.approx(log_z, abs=max(4 * result.log_z_err, 0.05))
    assert result.log_z_err > 0 and all(e > 0 for e in result.run_log_z_err)
    lo, hi = result.interval("Rate a")
    assert lo < beta[1] < hi and hi - lo < 0.3
    again = nested_sample(rep, sampler=sampler, seed=0, **options)
    np.testing.assert_array_equal(result.chains, again.chains)  # the seed is honoured


@pytest.mark.slow  # ~25 s
def test_posterior_recovers_known_parameters_and_reports_diagnostics(small):
    rep = with_spec(small, synthetic_spec(small, TRUTH, np.random.default_rng(0)))
    result = nested_sample(rep, runs=2, live_points=100, seed=1)
    assert result.chains.shape[0] == 2 and result.chains.shape[2] == 2
    for j, name in enumerate(rep.spec.names):
        lo, hi = result.interval(name)
        assert lo < TRUTH[j] < hi
    assert all(r < 1.01 for r in result.rhat) and all(e >= 400 for e in result.ess_bulk)
    assert result.converged
    assert 0 < result.overhead < 1 and result.simulation_seconds > 0
    assert result.ncall >= result.batches > 0
    assert "log Z" in str(result) and "<table>" in result._repr_html_()
    with pytest.raises(InvalidValueError, match="at least 2 runs"):
        nested_sample(rep, runs=1)


def test_evidence_table_prefers_the_structure_that_made_the_data(small):
    rep = with_spec(small, synthetic_spec(small, TRUTH, np.random.default_rng(2)))
    variants = [Variant("full"), Variant("no fatigue in X", {"Fatigue coefficient X": 0.0})]
    table = evidence_table(
        rep, variants, runs=2, live_points=50, min_ess=50, max_improvement_loops=0, seed=0
    )
    print(table)  # measured: full -199.97 ± 0.25, no fatigue in X -211.25 ± 0.54
    assert table.best == 0
    d, e = table.delta(1)
    assert d < -5 and 0 < e < 2
    assert table.rows()[1][5] == "very strong evidence against"
    doc = table.as_dict()
    assert doc["no fatigue in X"]["constants"] == {"Fatigue coefficient X": 0.0}
    row = doc["full"]
    assert row["rhat_max"] >= 1.0 and row["ess_bulk_min"] > 0
    assert row["elapsed_seconds"] > 0 and 0 <= row["overhead_fraction"] < 1
    assert "[[Evidence]]" in str(table) and "<table>" in table._repr_html_()


def test_variants_file_and_errors(small, tmp_path):
    path = tmp_path / "structures.toml"
    path.write_text(
        '[[variant]]\nname = "base"\n\n[[variant]]\nname = "calm"\n'
        'constants = { "Grievance Y" = 0.0 }\ndescription = "no grievance in Y"\n'
    )
    base, calm = load_variants(path)
    assert base.constants == {} and calm.constants == {"Grievance Y": 0.0}
    sim = variant_setup(small, calm).simulator
    sets = sim.parameter_sets(np.array([TRUTH, TRUTH]))
    assert np.all(sets["Grievance Y"] == 0.0) and np.all(sets["Grievance X"] == 10.0)
    assert "Grievance Y" not in small.simulator.parameter_sets(TRUTH[None])  # original intact
    with pytest.raises(InvalidValueError, match="step_sampler must be"):
        nested_sample(small, step_sampler="walk")
    with pytest.raises(InvalidValueError, match="one of 'ultranest', 'nautilus', 'smc'"):
        nested_sample(small, sampler="emcee")
    for sampler in ("nautilus", "smc"):
        with pytest.raises(InvalidValueError, match=f"'slice' is UltraNest's; {sampler} draws"):
            nested_sample(small, sampler=sampler, step_sampler="slice")
    with pytest.raises(InvalidValueError, match="drop --max-ncalls"):
        nested_sample(small, sampler="smc", max_ncalls=1000)
    with pytest.raises(InvalidValueError, match="is a free parameter"):
        variant_setup(small, Variant("bad", {"Grievance X": 1.0}))
    path.write_text('[[variant]]\nname = "a"\n[[variant]]\nname = "a"\n')
    with pytest.raises(DataError, match="unique"):
        load_variants(path)
    path.write_text("x = 1\n")
    with pytest.raises(DataError, match="no \\[\\[variant\\]\\]"):
        load_variants(path)


CHEAP = {"runs": 2, "live_points": 50, "min_ess": 50, "max_improvement_loops": 0, "seed": 0}
PAIR = [Variant("full"), Variant("no fatigue in X", {"Fatigue coefficient X": 0.0})]


class _Stop(Exception):
    pass


def _counting(monkeypatch) -> list[str]:
    """Record the variants nested_sample is really called for (the real sampler still runs)."""
    calls: list[str] = []
    real = structures.nested_sample

    def counted(setup, **kwargs):
        calls.append(kwargs["label"])
        return real(setup, **kwargs)

    monkeypatch.setattr(structures, "nested_sample", counted)
    return calls


def test_evidence_table_resumes_after_an_interruption(small, tmp_path, monkeypatch):
    rep = with_spec(small, synthetic_spec(small, TRUTH, np.random.default_rng(2)))
    calls = _counting(monkeypatch)
    full = evidence_table(rep, PAIR, **CHEAP)  # no checkpoint: the reference numbers
    assert calls == ["full", "no fatigue in X"] and full.reused == (False, False)

    def stop_after_first(variant, result, reused):
        raise _Stop  # the run dies once the first variant is done

    calls.clear()
    with pytest.raises(_Stop):
        evidence_table(rep, PAIR, checkpoint=tmp_path, on_variant=stop_after_first, **CHEAP)
    assert calls == ["full"] and len(list(tmp_path.glob("*.npz"))) == 1
    calls.clear()
    seen = []
    again = evidence_table(
        rep, PAIR, checkpoint=tmp_path, on_variant=lambda v, r, u: seen.append(u), **CHEAP
    )
    assert calls == ["no fatigue in X"] and seen == [True, False]  # only the missing one ran
    assert again.reused == (True, False)
    for a, b in zip(full.results, again.results, strict=True):
        assert a.log_z == b.log_z and a.log_z_err == b.log_z_err
        assert a.run_log_z == b.run_log_z and a.rhat == b.rhat and a.ncall == b.ncall
        np.testing.assert_array_equal(a.chains, b.chains)
    assert again.as_dict()["full"]["from_checkpoint"] is True
    assert again.as_dict()["no fatigue in X"]["from_checkpoint"] is False
    assert [r[:5] for r in again.rows()] == [r[:5] for r in full.rows()]
    calls.clear()
    third = evidence_table(rep, PAIR, checkpoint=tmp_path, **CHEAP)
    assert calls == [] and third.reused == (True, True)


def test_evidence_checkpoint_is_not_reused_when_its_inputs_change(small, tmp_path, monkeypatch):
    rep = with_spec(small, synthetic_spec(small, TRUTH, np.random.default_rng(2)))
    other = with_spec(small, synthetic_spec(small, TRUTH, np.random.default_rng(3)))
    base = Variant("full")
    key = variant_key(rep, base, CHEAP)
    assert key == variant_key(rep, base, dict(CHEAP))  # deterministic
    changed = {
        "data": variant_key(other, base, CHEAP),
        "constants": variant_key(rep, Variant("full", {"Fatigue coefficient X": 0.0}), CHEAP),
        "live points": variant_key(rep, base, CHEAP | {"live_points": 60}),
        "seed": variant_key(rep, base, CHEAP | {"seed": 1}),
        "default option": variant_key(rep, base, CHEAP | {"frac_remain": 0.02}),
    }
    assert key not in changed.values() and len(set(changed.values())) == len(changed)
    # the same option given explicitly at its default is the same result
    assert variant_key(rep, base, CHEAP | {"frac_remain": 0.01}) == key
    calls = _counting(monkeypatch)
    first = evidence_table(rep, [base], checkpoint=tmp_path, **CHEAP)
    stale = evidence_table(other, [base], checkpoint=tmp_path, **CHEAP)
    assert calls == ["full", "full"] and stale.reused == (False,)
    assert stale.results[0].log_z != first.results[0].log_z  # other data, other evidence
    assert len(list(tmp_path.glob("*.npz"))) == 2
    # a damaged or foreign file under the right name is sampled again, not trusted
    path = structures.checkpoint_path(tmp_path, rep, base, key)
    assert load_checkpoint(path, key) is not None and load_checkpoint(path, "0" * 64) is None
    path.write_bytes(path.read_bytes()[:100])
    calls.clear()
    redo = evidence_table(rep, [base], checkpoint=tmp_path, **CHEAP)
    assert calls == ["full"] and redo.results[0].log_z == first.results[0].log_z


# -- simulation-based calibration of the nested sampler (Talts et al. 2018) -----------------

DRAWS = 99  # posterior draws per replicate: ranks 0..99


def _sbc_ranks(
    small, replicates: int, seed: int, sigma_fit: float | None = None, **sampler
) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each true θ among DRAWS posterior draws, and whether the 95% central posterior
    interval (all draws) holds it; both (replicates, k). ``sampler``: nested_sample's options
    (UltraNest with 100 live points unless given)."""
    options = {"runs": 2, "live_points": 100, "min_ess": 100} | sampler
    rng = np.random.default_rng(seed)
    k = len(small.spec.names)
    truths = small.spec.prior_ppf(rng.random((replicates, k)))
    ranks, covered = [], []
    for r in range(replicates):
        spec = synthetic_spec(small, truths[r], rng)
        if sigma_fit is not None:  # fit with a narrower error than generated the data
            spec = dataclasses.replace(
                spec,
                observations=tuple(
                    dataclasses.replace(o, error=LogNormal(sigma_fit)) for o in spec.observations
                ),
            )
        post = nested_sample(with_spec(small, spec), seed=seed + r, **options)
        draws = post.samples[rng.choice(len(post.samples), DRAWS, replace=False)]
        ranks.append((draws < truths[r]).sum(axis=0))
        lo, hi = np.quantile(post.samples, [0.025, 0.975], axis=0)
        covered.append((lo <= truths[r]) & (truths[r] <= hi))
    return np.array(ranks), np.array(covered)


def _uniform_p(ranks: np.ndarray, bins: int = 10) -> float:
    """Bonferroni-combined chi-square p-value that ranks 0..DRAWS are uniform."""
    edges = np.linspace(0, DRAWS + 1, bins + 1)
    p = [stats.chisquare(np.histogram(ranks[:, j], edges)[0]).pvalue for j in range(ranks.shape[1])]
    return float(min(1.0, min(p) * len(p)))


NAUTILUS = {"sampler": "nautilus", "live_points": 200}
SMC = {"sampler": "smc", "live_points": 400}
# measured: UltraNest p = 0.405, coverage 0.935; nautilus p = 0.838, coverage 0.955 (~25 min);
# smc p = 0.912, coverage 0.930 (19 min with the overconfident case, beside the suite); since
# its pilot-and-refine runs in logit space (6 December): p = 0.499, coverage 0.935 (10 moves per
# refinement step), p = 0.344, coverage 0.955, overconfident 0.438 (20 moves; 15 min, both);
# with the two agreeing refinements pooled (6 December, later): p = 1.000, coverage 0.950,
# overconfident 0.438 (17 min, both); with its own Metropolis moves (independence proposals
# beside a tuned random walk, 6 December, later): p = 0.205, coverage 0.925, overconfident
# 0.438 (14 min, both);
# overconfident: coverage 0.46, 0.463 and 0.463; smc with finer tempering steps
# (tempering_ess 0.95, 7 December): p = 0.912, coverage 0.930, overconfident 0.438 (34 min,
# both)
SAMPLERS = [
    pytest.param({}, id="ultranest"),
    pytest.param(NAUTILUS, id="nautilus"),
    pytest.param(SMC, id="smc"),
    pytest.param({**SMC, "tempering_ess": 0.95}, id="smc-finer-steps"),
]


@pytest.mark.slow
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sbc_ranks_of_the_nested_sampler_are_uniform(small, sampler):
    """Uniform ranks, and synthetic coverage of the 95% posterior intervals within the issue's
    90-98% (pooled over both parameters: 200 intervals, binomial sd 1.5 points at 95%)."""
    ranks, covered = _sbc_ranks(small, replicates=100, seed=0, **sampler)
    p = _uniform_p(ranks)
    coverage = float(covered.mean())
    print(
        f"{sampler.get('sampler', 'ultranest')} SBC chi-square p-value (100 replicates): "
        f"{p:.3f}; coverage of the 95% intervals {coverage:.3f} (per parameter "
        f"{np.round(covered.mean(axis=0), 3)})"
    )
    assert p > 0.01
    assert 0.90 <= coverage <= 0.98


# measured (6 December): p = 1.000, coverage 0.910 (per parameter 0.89, 0.91, 0.93), 7 min;
# the same replicates with the factor sampled (links="free", a scratch run): p = 1.000,
# coverage 0.910, the same per parameter — the integration changes neither
@pytest.mark.slow  # 100 UltraNest posteriors in 3 dimensions
def test_sbc_with_a_link_constant_integrated_out_of_the_likelihood(small):
    """The samplers' default path on a spec with a free scale factor: the factor integrated
    out in closed form, its draws from the exact conditional. Ranks of all three parameters
    (the factor's included) uniform, 95% intervals covering 90-98% (300 intervals)."""
    x, y = small.spec.observations
    factor = FreeParameter("X.factor", 500.0, 2000.0, Prior("uniform", {}, 500.0, 2000.0))
    spec = dataclasses.replace(
        small.spec,
        observations=(dataclasses.replace(x, link=Scale(None)), y),
        link_parameters=(factor,),
    )
    ranks, covered = _sbc_ranks(with_spec(small, spec), replicates=100, seed=2)
    p = _uniform_p(ranks)
    print(
        f"integrated factor: SBC p = {p:.3f}, coverage {covered.mean():.3f} "
        f"(per parameter {np.round(covered.mean(axis=0), 3)})"
    )
    assert p > 0.01
    assert 0.90 <= covered.mean() <= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sbc_of_the_nested_sampler_detects_an_overconfident_likelihood(small, sampler):
    # fitted with sigma 0.01 where the data were made with 0.05
    ranks, covered = _sbc_ranks(small, replicates=40, seed=1, sigma_fit=0.01, **sampler)
    print(f"overconfident likelihood: coverage of the 95% intervals {covered.mean():.3f}")
    assert _uniform_p(ranks) < 0.01
    assert covered.mean() < 0.90  # the coverage check fails too


def test_a_missing_sampler_package_is_one_line_naming_what_to_install(small, monkeypatch):
    monkeypatch.setitem(sys.modules, "smcpy", None)  # the import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"^the smc sampler needs smcpy: pip install"):
        nested_sample(small, sampler="smc", runs=2, live_points=20)


def test_a_run_stopped_at_the_model_run_cap_is_not_converged(data_dir):
    """--max-ncalls: the runs stop early, say so, and the result is never 'converged', even
    where its R-hat and ESS would pass."""
    tiny = prepare(FIXTURES / "tiny.toml", data_dir)
    spec = dataclasses.replace(tiny.spec, parameters=tiny.spec.parameters[2:])
    one = prepare(None, data_dir, spec=spec)
    rep = with_spec(one, synthetic_spec(one, np.array([10.0]), np.random.default_rng(0)))
    free = nested_sample(rep, runs=2, live_points=50, min_ess=50, seed=3)
    assert free.capped_runs == 0 and free.converged and free.max_ncalls is None
    assert all(v <= 0 or np.isfinite(v) for v in free.run_max_log_l)
    capped = nested_sample(rep, runs=2, live_points=50, min_ess=50, seed=3, max_ncalls=300)
    assert capped.capped_runs == 2 and capped.max_ncalls == 300 and not capped.converged
    assert capped.ncall < free.ncall
    assert "stopped at the cap of 300 model runs" in str(capped)
    assert max(capped.run_max_log_l) <= max(free.run_max_log_l) + 1.0
