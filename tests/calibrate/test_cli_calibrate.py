"""``nea-sd calibrate``: the results file, load_calibrated, and each user error pinned."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from nea_sd.calibrate._toml import dumps
from nea_sd.calibrate.results import load_calibrated, read_result
from nea_sd.cli import main
from nea_sd.errors import InvalidValueError, UnknownNameError
from nea_sd.provenance import numerics

FIXTURES = Path(__file__).parent / "fixtures"
TINY = (FIXTURES / "tiny.toml").read_text()


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text.replace('model = "tiny.mdl"', f'model = "{FIXTURES / "tiny.mdl"}"'))
    return path


def calibrate(tmp_path, text, *extra, data_dir=None):
    args = [
        "calibrate",
        str(spec_file(tmp_path, text)),
        "--data-dir",
        str(data_dir),
        "--output",
        str(tmp_path / "out" / "tiny.toml"),
        *extra,
    ]
    return main(args)


def test_calibrate_writes_results_and_load_calibrated_reads_them(tmp_path, data_dir, capsys):
    assert calibrate(tmp_path, TINY, "--starts", "3", "--seed", "0", data_dir=data_dir) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "[[Parameters]]" in out and "[[Profile likelihood]]" in out and "results written" in out
    doc = read_result(tmp_path / "out" / "tiny.toml")
    cal = doc["calibration"]
    assert cal["model"] == "tiny.mdl" and cal["seed"] == 0
    assert cal["starts"] >= 3  # one more if a profile point beat the fit (refine)
    assert len(cal["model_sha256"]) == 64
    prov = doc["provenance"]
    assert prov["data_files"]["sipri_milex_northeast_asia.csv"]
    assert "numpy" in prov["packages"] and prov["command"].startswith("nea-sd calibrate")
    assert prov["numerics"] == numerics()  # the floating-point environment, and its replay
    assert f"replays this fit with: {prov['numerics']['replay']}" in captured.err
    # real JP spending in place of a level: a poor model, but the file must say so
    assert doc["parameters"]["Rate a"]["identifiability"] != "identified"
    assert set(doc["series"]["level"]["fit"]) >= {"rmse", "mape", "r2", "um", "us", "uc"}
    # the error model was estimated (default): its scale and AR(1) are in the file
    assert doc["calibration"]["error_model"].startswith("estimated")
    noise = doc["error_model"]["level"]
    assert noise["n"] == 13 and noise["scale"] > 0 and -1 < noise["ar1"] < 1
    assert doc["calibration"]["profile_threshold"] > 3.84  # F(1, nu), not chi2_1
    assert isinstance(doc["calibration"]["profile_beat_optimum"], bool)
    assert 1 <= doc["calibration"]["distinct_optima_within_threshold"] <= cal["distinct_optima"]
    # basins join optima on one ridge, never split one: at most as many as the optima counted
    assert 1 <= cal["basins_within_threshold"] <= cal["distinct_optima_within_threshold"]
    assert len(doc["basins"]["neg_log_likelihood"]) == cal["distinct_optima_within_threshold"]
    assert cal["unconverged_starts"] >= 0 and "[[Basins]]" in out
    values = load_calibrated("tiny", results_dir=tmp_path / "out")
    assert set(values) == {"Rate a", "Rate b", "Initial level"}
    assert values["Initial level"] == pytest.approx(doc["estimates"]["Initial level"])
    with pytest.warns(UserWarning, match="different version"):
        load_calibrated(
            "tiny.mdl", results_dir=tmp_path / "out", model_path=FIXTURES / "richardson_small.toml"
        )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'variable = "Level"',
            'variable = "Levl"',
            "error: unknown variable 'Levl'; did you mean 'Level'",
        ),
        (
            'series = "sipri:milex_constant_2022_usd:JP"',
            'series = "sipri:milex:JP"',
            "error: unknown series 'sipri:milex:JP'",
        ),
        (
            '[parameters."Rate a"]',
            '[parameters."Rate c"]',
            "error: unknown parameter 'Rate c'; did you mean 'Rate b', 'Rate a'?",
        ),
        (
            "fit = [2001, 2013]",
            "fit = [2021, 2023]",
            "error: spec.toml: fit period 2021-2023 does not overlap the model tiny.mdl "
            "(2000-2020)",
        ),
        (
            "fit = [2001, 2013]",
            "fit = [1995, 2013]",
            "error: spec.toml: fit period 1995-2013 goes outside the model tiny.mdl (2000-2020)",
        ),
        (
            'link = "identity"',
            'link = { type = "scale", factor = -1.0 }\nerror_ = 1',
            "error: spec.toml observation #1: unknown key 'error_'",
        ),
        (
            'link = "identity"\nerror = { type = "normal", sigma = 0.5 }',
            'link = { type = "scale", factor = -1.0 }\nerror = { type = "lognormal", sigma = 0.1 }',
            "error: spec.toml: no start found parameters that can explain the data",
        ),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(tmp_path, data_dir, capsys, old, new, message):
    assert old in TINY
    code = calibrate(
        tmp_path, TINY.replace(old, new), "--starts", "2", "--no-profile", data_dir=data_dir
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert err.startswith(message), err
    if "no start found" not in message:  # a spec refused before the fit leaves no folder behind
        assert not (tmp_path / "out").exists()


def test_bad_options(tmp_path, data_dir, capsys):
    assert calibrate(tmp_path, TINY, "--starts", "0", data_dir=data_dir) == 2
    assert "--starts must be at least 1" in capsys.readouterr().err


def test_load_calibrated_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="no calibration results for model 'dyad'"):
        load_calibrated("dyad", results_dir=tmp_path)
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(
            dumps({"calibration": {"model": "x.mdl"}, "estimates": {"k": 1.0}})
        )
    with pytest.raises(InvalidValueError, match="several calibration results for model 'x'"):
        load_calibrated("x", results_dir=tmp_path)
    (tmp_path / "x.toml").write_text(
        dumps({"calibration": {"model": "x.mdl"}, "estimates": {"k[US]": 2.0}})
    )
    assert load_calibrated("x", results_dir=tmp_path) == {"k[US]": 2.0}


def test_toml_writer_round_trips():
    doc = {
        "a": {
            "x": 1.5,
            "n": 3,
            "flag": True,
            "name": 'say "hi"',
            "v": [1.0, float("nan")],
            "skip": None,
            "inf": float("inf"),
        },
        "b": {"Defence reaction[CN]": {"estimate": 0.1, "bounds": [0.0, 0.5]}},
        "rows": [{"k": 1}, {"k": 2}],
    }
    back = tomllib.loads(dumps(doc, "header\nline two"))
    assert back["a"]["x"] == 1.5 and back["a"]["name"] == 'say "hi"' and "skip" not in back["a"]
    assert math.isnan(back["a"]["v"][1]) and back["a"]["inf"] == math.inf
    assert back["b"]["Defence reaction[CN]"]["bounds"] == [0.0, 0.5]
    assert [r["k"] for r in back["rows"]] == [1, 2]


def test_review_verdicts():
    from nea_sd.calibrate.review import verdict

    def st(mape, um, us, uc):
        return {"mape": mape, "um": um, "us": us, "uc": uc}

    assert verdict({"fit": st(5, 0.1, 0.1, 0.8)}).startswith("Fit: close (MAPE 5 %), mostly unsys")
    assert "level bias (U^M)" in verdict({"fit": st(30, 0.7, 0.2, 0.1)})
    assert "timing of the swings" in verdict({"fit": st(300, 0.1, 0.1, 0.8)})
    text = verdict({"fit": st(5, 0.1, 0.1, 0.8), "holdout": st(20, 0.1, 0.8, 0.1)})
    assert "misses the trend" in text and "does not carry forward" in text


def test_results_are_never_overwritten_and_replace_keeps_a_backup(tmp_path, data_dir, capsys):
    spec = spec_file(tmp_path, TINY)
    base = ["calibrate", str(spec), "--data-dir", str(data_dir), "--starts", "2", "--no-profile"]
    first = tmp_path / "results" / "spec.toml"
    assert main(base) == 0 and first.exists()
    original = first.read_bytes()
    assert main([*base, "--seed", "1"]) == 0  # default output taken: a new numbered file
    second = tmp_path / "results" / "spec-2.toml"
    assert second.exists() and first.read_bytes() == original
    assert read_result(second)["calibration"]["seed"] == 1
    capsys.readouterr()
    # an explicit --output that exists is refused before anything runs
    assert main([*base, "--output", str(first)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: results file") and "--replace" in err
    assert first.read_bytes() == original
    # --replace overwrites and keeps the old file as .bak
    assert main([*base, "--output", str(first), "--replace", "--seed", "2"]) == 0
    assert (tmp_path / "results" / "spec.toml.bak").read_bytes() == original
    assert read_result(first)["calibration"]["seed"] == 2
    assert not list((tmp_path / "results").glob(".*partial"))  # nothing half-written left


def test_no_profile_marks_nothing_identified(tmp_path, data_dir):
    from nea_sd.calibrate.results import identified_estimates

    assert calibrate(tmp_path, TINY, "--starts", "2", "--no-profile", data_dir=data_dir) == 0
    doc = read_result(tmp_path / "out" / "tiny.toml")
    labels = {k: v["identifiability"] for k, v in doc["parameters"].items()}
    assert labels == dict.fromkeys(["Rate a", "Rate b", "Initial level"], "not assessed")
    kept, skipped, _ = identified_estimates("tiny", results_dir=tmp_path / "out")
    assert kept == {} and sorted(skipped) == ["Initial level", "Rate a", "Rate b"]


def test_replacing_a_bayesian_result_removes_its_stale_draws(tmp_path, data_dir):
    out = tmp_path / "out"
    bayes = ("--starts", "2", "--no-profile", "--bayes", "--walkers", "8", "--steps", "40")
    assert calibrate(tmp_path, TINY, *bayes, data_dir=data_dir) == 0
    draws = out / "tiny.draws.csv"
    assert read_result(out / "tiny.toml")["posterior"]["draws_file"] == draws.name
    assert draws.exists()
    old_draws = draws.read_bytes()
    args = ("--starts", "2", "--no-profile", "--replace")
    assert calibrate(tmp_path, TINY, *args, data_dir=data_dir) == 0
    assert "posterior" not in read_result(out / "tiny.toml")
    assert not draws.exists()  # would otherwise pass for the new result's draws
    assert (out / "tiny.draws.csv.bak").read_bytes() == old_draws


def test_compare_base_is_the_joint_optimum_with_its_likelihood(tmp_path, data_dir):
    from nea_sd.calibrate.results import calibrated_base, compare_base

    assert calibrate(tmp_path, TINY, "--starts", "3", "--seed", "0", data_dir=data_dir) == 0
    path = tmp_path / "out" / "tiny.toml"
    doc = read_result(path)
    params, header = compare_base(path)
    # all fitted values, flat (not identified) ones included: a point the data were fitted at
    assert params == doc["estimates"] and set(params) == {"Rate a", "Rate b", "Initial level"}
    nll = -doc["calibration"]["log_likelihood"]
    assert f"-log L = {nll:.2f}" in header and "delta(-2 log L) to the best fit = 0.00" in header
    # a start better than the reported optimum shows as a positive delta
    doc["starts"][0]["neg_log_likelihood"] = nll - 2.5
    _, worse = compare_base(doc)
    assert "delta(-2 log L) to the best fit = 5.00" in worse and "recalibrate" in worse
    # one the search cannot tell from the optimum (a tenth of its tolerance) is not flagged
    from nea_sd.calibrate.fit import FTOL

    doc["starts"][0]["neg_log_likelihood"] = nll - 0.1 * FTOL * max(1.0, abs(nll))
    assert "recalibrate" not in compare_base(doc)[1]
    again, named = calibrated_base("tiny", results_dir=tmp_path / "out")
    assert again == params and named.endswith("[out/tiny.toml]")
    with pytest.raises(Exception, match="not a calibration result"):
        compare_base({"estimates": {}})


def test_nested_sampling_and_evidence_from_the_command_line(tmp_path, data_dir, capsys):
    variants = tmp_path / "variants.toml"
    variants.write_text(
        '[[variant]]\nname = "as built"\n\n[[variant]]\nname = "faster"\n'
        'constants = { "Rate b" = 1.5 }\n'
    )
    one = TINY.replace('[parameters."Rate a"]\n\n[parameters."Rate b"]\n\n', "")
    args = ["--starts", "2", "--no-profile", "--nested", "--live-points", "30"]
    args += ["--nested-runs", "2", "--variants", str(variants)]
    assert calibrate(tmp_path, one, *args, data_dir=data_dir) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "[[Nested sampling, ultranest]]" in out and "[[Evidence]]" in out
    assert "tempered SMC" not in captured.err
    doc = read_result(tmp_path / "out" / "tiny.toml")
    nested = doc["nested"]
    assert nested["runs"] == 2 and nested["live_points"] == 30 and nested["log_z_err"] > 0
    assert 0 <= nested["overhead_fraction"] < 1
    assert doc["parameters"]["Initial level"]["rhat"] > 0
    assert set(doc["evidence"]) == {"as built", "faster"}
    assert doc["evidence"]["faster"]["constants"] == {"Rate b": 1.5}
    assert (tmp_path / "out" / nested["draws_file"]).exists()
    assert "--variants" in doc["provenance"]["command"]
    assert calibrate(tmp_path, one, "--nested-runs", "1", "--replace", data_dir=data_dir) == 2
    # a part of the table: only the named variants, and the command that made it says so
    part = ["--starts", "2", "--no-profile", "--live-points", "30", "--nested-runs", "2"]
    part += ["--variants", str(variants), "--output", str(tmp_path / "part.toml")]
    assert calibrate(tmp_path, one, *part, "--only", "faster", data_dir=data_dir) == 0
    doc = read_result(tmp_path / "part.toml")
    assert set(doc["evidence"]) == {"faster"}
    assert "--only faster" in doc["provenance"]["command"]
    # evidence by tempered SMC comes with the note that its log Z is biased (README)
    capsys.readouterr()
    smc = ["--starts", "2", "--no-profile", "--live-points", "30", "--nested-runs", "2"]
    smc += ["--variants", str(variants), "--only", "faster", "--sampler", "smc"]
    assert (
        calibrate(tmp_path, one, *smc, "--output", str(tmp_path / "smc.toml"), data_dir=data_dir)
        == 0
    )
    assert "tempered SMC's log Z is biased" in capsys.readouterr().err
    capsys.readouterr()
    assert calibrate(tmp_path, one, *part, "--only", "fastest", data_dir=data_dir) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --only: no variant 'fastest'") and err.count("\n") == 1
    assert calibrate(tmp_path, one, "--only", "faster", data_dir=data_dir) == 2
    # a model-run budget (below the 64 runs each run needs here): the runs stop there, the
    # result says so and is not converged
    capped = ["--starts", "2", "--no-profile", "--nested", "--live-points", "30"]
    capped += ["--nested-runs", "2", "--max-ncalls", "40", "--output", str(tmp_path / "c.toml")]
    assert calibrate(tmp_path, one, *capped, data_dir=data_dir) == 0
    nested = read_result(tmp_path / "c.toml")["nested"]
    assert nested["max_ncalls"] == 40 and nested["capped_runs"] == 2
    assert nested["converged"] is False and len(nested["run_max_log_likelihood"]) == 2
    assert "--max-ncalls 40" in read_result(tmp_path / "c.toml")["provenance"]["command"]
    # the step sampler is chosen on the command line and recorded with the result
    sliced = [*capped[:-2], "--step-sampler", "slice", "--output", str(tmp_path / "s.toml")]
    assert calibrate(tmp_path, one, *sliced, data_dir=data_dir) == 0
    assert "--step-sampler slice" in read_result(tmp_path / "s.toml")["provenance"]["command"]
    # nautilus is chosen the same way (capped here to keep the test short) and recorded
    two = TINY.replace('[parameters."Rate b"]\n\n', "")
    naut = ["--starts", "2", "--no-profile", "--nested", "--sampler", "nautilus"]
    naut += ["--live-points", "100", "--nested-runs", "2", "--max-ncalls", "1024"]
    out_n = ["--output", str(tmp_path / "n.toml")]
    assert calibrate(tmp_path, two, *naut, *out_n, data_dir=data_dir) == 0
    doc = read_result(tmp_path / "n.toml")
    assert doc["nested"]["sampler"] == "nautilus" and doc["nested"]["capped_runs"] == 2
    assert "--sampler nautilus" in doc["provenance"]["command"]
    capsys.readouterr()
    out_m = ["--output", str(tmp_path / "m.toml")]
    assert calibrate(tmp_path, one, *naut, *out_m, data_dir=data_dir) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the nautilus sampler needs at least 2 free parameters")
    assert err.count("\n") == 1 and not (tmp_path / "m.toml").exists()
    # tempered SMC: recorded the same way; a model-run budget is refused before the fit
    smc = ["--starts", "2", "--no-profile", "--nested", "--sampler", "smc"]
    smc += ["--live-points", "50", "--nested-runs", "2", "--output", str(tmp_path / "p.toml")]
    assert calibrate(tmp_path, two, *smc, data_dir=data_dir) == 0
    doc = read_result(tmp_path / "p.toml")
    assert doc["nested"]["sampler"] == "smc" and doc["nested"]["log_z_err"] > 0
    assert "--sampler smc" in doc["provenance"]["command"]
    capsys.readouterr()
    assert (
        calibrate(
            tmp_path,
            two,
            *smc[:-1],
            str(tmp_path / "q.toml"),
            "--max-ncalls",
            "99",
            data_dir=data_dir,
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: max_ncalls is a nested sampler's budget")
    assert err.count("\n") == 1 and not (tmp_path / "q.toml").exists()
    assert calibrate(tmp_path, one, "--max-ncalls", "0", "--replace", data_dir=data_dir) == 2
    assert capsys.readouterr().err.startswith("error: --max-ncalls must be a positive number")


def test_nautilus_networks_reach_the_sampler_and_the_record(
    tmp_path, data_dir, capsys, monkeypatch
):
    """``--networks N`` and ``--network-layers A,B`` are handed to nautilus (a spy on its
    constructor) and recorded in the command; given to another sampler, or with no posterior,
    or below 1, they are refused in one line before the fit, and no results file is written."""
    import nautilus

    seen: list[int] = []
    shapes: list[dict] = []
    original = nautilus.Sampler.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("n_networks"))
        shapes.append(kwargs.get("neural_network_kwargs"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(nautilus.Sampler, "__init__", spy)
    two = TINY.replace('[parameters."Rate b"]\n\n', "")
    naut = ["--starts", "2", "--no-profile", "--nested", "--sampler", "nautilus"]
    naut += ["--live-points", "100", "--nested-runs", "2", "--max-ncalls", "1024"]
    out = ["--output", str(tmp_path / "n.toml")]
    assert calibrate(tmp_path, two, *naut, "--networks", "1", *out, data_dir=data_dir) == 0
    assert seen == [1, 1]  # one Sampler per run
    assert "--networks 1" in read_result(tmp_path / "n.toml")["provenance"]["command"]
    seen.clear()
    assert (
        calibrate(tmp_path, two, *naut, "--output", str(tmp_path / "d.toml"), data_dir=data_dir)
        == 0
    )
    assert seen == [4, 4]  # nautilus's own default when not given
    assert shapes[-2:] == [{}, {}]  # its own layers too
    assert "--networks" not in read_result(tmp_path / "d.toml")["provenance"]["command"]
    shapes.clear()
    out = ["--output", str(tmp_path / "l.toml")]
    assert calibrate(tmp_path, two, *naut, "--network-layers", "8,4", *out, data_dir=data_dir) == 0
    assert shapes == [{"hidden_layer_sizes": (8, 4)}] * 2
    assert "--network-layers 8,4" in read_result(tmp_path / "l.toml")["provenance"]["command"]
    capsys.readouterr()
    smc = [*naut[:4], "--sampler", "smc", "--live-points", "50", "--nested-runs", "2"]
    bad = [
        ([*smc, "--networks", "2"], "error: networks is nautilus's"),
        ([*naut, "--networks", "0"], "error: --networks must be at least 1"),
        ([*naut[:3], "--networks", "2"], "error: --networks sets the nautilus posterior's"),
        ([*smc, "--network-layers", "8"], "error: network layers are nautilus's"),
        ([*naut[:3], "--network-layers", "8"], "error: --network-layers sets the nautilus"),
    ]
    for args, message in bad:
        out_x = ["--output", str(tmp_path / "x" / "x.toml")]
        assert calibrate(tmp_path, two, *args, *out_x, data_dir=data_dir) == 2, args
        err = capsys.readouterr().err
        assert err.startswith(message), err
        assert err.count("\n") == 1 and not (tmp_path / "x").exists()


def test_tempering_ess_reaches_smc_and_the_record(tmp_path, data_dir, capsys, monkeypatch):
    """``--tempering-ess S`` is handed to SMCPy's adaptive sampler for every stage (a spy on
    its ``sample``) and recorded in the command and the nested section; SMC's own 0.8
    when not given. Given to another sampler, with no
    posterior, or outside (0, 1), it is refused in one line before the fit."""
    import smcpy

    seen: list[float] = []
    original = smcpy.AdaptiveSampler.sample

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("target_ess"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(smcpy.AdaptiveSampler, "sample", spy)
    two = TINY.replace('[parameters."Rate b"]\n\n', "")
    smc = ["--starts", "2", "--no-profile", "--nested", "--sampler", "smc"]
    smc += ["--live-points", "50", "--nested-runs", "2"]
    out = ["--output", str(tmp_path / "e.toml")]
    assert calibrate(tmp_path, two, *smc, "--tempering-ess", "0.95", *out, data_dir=data_dir) == 0
    assert seen and set(seen) == {0.95}
    doc = read_result(tmp_path / "e.toml")
    assert "--tempering-ess 0.95" in doc["provenance"]["command"]
    assert doc["nested"]["tempering_ess"] == 0.95
    seen.clear()
    out = ["--output", str(tmp_path / "d.toml")]
    assert calibrate(tmp_path, two, *smc, *out, data_dir=data_dir) == 0
    assert set(seen) == {0.8}
    doc = read_result(tmp_path / "d.toml")
    assert (
        "tempering_ess" not in doc["nested"] and "--tempering" not in doc["provenance"]["command"]
    )
    capsys.readouterr()
    naut = [*smc[:4], "--sampler", "nautilus", "--live-points", "100", "--max-ncalls", "1024"]
    bad = [
        ([*naut, "--tempering-ess", "0.9"], "error: the tempering ESS is tempered SMC's"),
        ([*smc, "--tempering-ess", "1.5"], "error: tempering ESS must be a share strictly"),
        ([*smc, "--tempering-ess", "0"], "error: tempering ESS must be a share strictly"),
        ([*smc[:3], "--tempering-ess", "0.9"], "error: --tempering-ess sets tempered SMC's"),
    ]
    for args, message in bad:
        out_x = ["--output", str(tmp_path / "x" / "x.toml")]
        assert calibrate(tmp_path, two, *args, *out_x, data_dir=data_dir) == 2, args
        err = capsys.readouterr().err
        assert err.startswith(message), err
        assert err.count("\n") == 1 and not (tmp_path / "x").exists()


def test_numba_backend_gives_the_numpy_fit(tmp_path, data_dir):
    pytest.importorskip("numba")
    args = ["--starts", "2", "--no-profile", "--seed", "0"]
    assert calibrate(tmp_path, TINY, *args, data_dir=data_dir) == 0
    numpy_doc = read_result(tmp_path / "out" / "tiny.toml")
    assert (
        calibrate(tmp_path, TINY, *args, "--backend", "numba", "--replace", data_dir=data_dir) == 0
    )
    numba_doc = read_result(tmp_path / "out" / "tiny.toml")
    assert "--backend numba" in numba_doc["provenance"]["command"]
    assert "--backend" not in numpy_doc["provenance"]["command"]
    a, b = numpy_doc["calibration"], numba_doc["calibration"]
    assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=1e-9, abs=1e-9)
    for name, entry in numpy_doc["parameters"].items():
        assert numba_doc["parameters"][name]["estimate"] == pytest.approx(
            entry["estimate"], rel=1e-6, abs=1e-9
        )


def test_a_nested_variant_starts_from_its_base_optimum_and_can_only_match_or_beat_it(
    tmp_path, data_dir, capsys
):
    from nea_sd.calibrate.problem import prepare
    from nea_sd.calibrate.results import start_point

    base_text = TINY.replace('[parameters."Rate b"]\n', "")  # Rate b held at its value 1
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    extra = ("--starts", "2", "--seed", "5", "--no-profile", "--error-model", "spec")
    assert calibrate(base_dir, base_text, *extra, data_dir=data_dir) == 0
    base = read_result(base_dir / "out" / "tiny.toml")
    setup = prepare(spec_file(tmp_path, TINY), data_dir)
    x = dict(zip(setup.spec.names, start_point(setup, base_dir / "out" / "tiny.toml"), strict=True))
    assert x["Rate b"] == 1.0  # not fitted by the base: the model's value
    assert x["Rate a"] == pytest.approx(base["estimates"]["Rate a"])
    assert x["Initial level"] == pytest.approx(base["estimates"]["Initial level"])
    start = ("--start-from", str(base_dir / "out" / "tiny.toml"))
    assert calibrate(tmp_path, TINY, *extra, *start, data_dir=data_dir) == 0
    nested = read_result(tmp_path / "out" / "tiny.toml")
    base_nll = -base["calibration"]["log_likelihood"]
    assert -nested["calibration"]["log_likelihood"] <= base_nll + 1e-6
    assert "--start-from" in nested["provenance"]["command"]
    capsys.readouterr()
    other = tmp_path / "other.toml"
    other.write_text(dumps({"calibration": {"log_likelihood": 0.0}, "estimates": {"Zeta": 1.0}}))
    bad = tmp_path / "bad"
    bad.mkdir()
    assert calibrate(bad, TINY, *extra, "--start-from", str(other), data_dir=data_dir) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fitted none of the spec's parameters" in err[0]


def test_profile_model_leaves_the_link_constants_unassessed(tmp_path, data_dir, capsys):
    """``--profile model``: every model value profiled exactly as by default, each link
    constant without an interval or a label (never "identified" for want of a profile)."""
    text = TINY.replace(
        'link = "identity"', 'link = { type = "scale", factor = { bounds = [0.5, 2.0] } }'
    )
    (tmp_path / "all").mkdir()
    assert calibrate(tmp_path / "all", text, "--starts", "2", "--seed", "0", data_dir=data_dir) == 0
    full = read_result(tmp_path / "all" / "out" / "tiny.toml")
    assert (
        calibrate(
            tmp_path, text, "--starts", "2", "--seed", "0", "--profile", "model", data_dir=data_dir
        )
        == 0
    )
    part = read_result(tmp_path / "out" / "tiny.toml")
    links = [k for k, v in part["parameters"].items() if v["kind"] == "link"]
    assert links, "the spec must fit a link constant"
    for name, entry in part["parameters"].items():
        if entry["kind"] == "link":
            assert entry["identifiability"] == "not assessed" and "profile_lower" not in entry
            assert name not in part["profiles"]
        else:
            same = full["parameters"][name]
            assert (entry["profile_lower"], entry["profile_upper"], entry["identifiability"]) == (
                same["profile_lower"],
                same["profile_upper"],
                same["identifiability"],
            )
    assert "--profile model" in part["provenance"]["command"]
    capsys.readouterr()
    code = calibrate(tmp_path, text, "--no-profile", "--profile", "model", data_dir=data_dir)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --profile model chooses what to profile"), err
    links_only = (
        text.split("[parameters.")[0] + "[[observations]]" + text.split("[[observations]]")[1]
    )
    (tmp_path / "links").mkdir()
    code = calibrate(tmp_path / "links", links_only, "--profile", "model", data_dir=data_dir)
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        code == 2 and err[-1].startswith("error: --profile model: ") and "fits no model" in err[-1]
    )
