"""A result's acceptance criteria with their noise checks (`nea_sd.calibrate.criteria_check`,
`nea-sd calibrate --check-criteria`).

Independent truths: the criteria as `acceptance.criteria` reads them from the file; the noise
sections equal to the checks called on their own with the same seed; the bound check's truth
at the middle of each profile interval written in the result (closed form); the committed
check beside the base is the check of the committed base (its hash) and its predictive
numbers are recomputed here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from nea_sd.calibrate import criteria_check
from nea_sd.calibrate.acceptance import criteria
from nea_sd.calibrate.bootstrap import bound_check
from nea_sd.calibrate.ppc import refit_check, statistic_check
from nea_sd.calibrate.problem import prepare
from nea_sd.calibrate.results import read_result
from nea_sd.calibrate.review import with_error_model
from nea_sd.cli import main
from nea_sd.model import file_sha256

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "calibration" / "results" / "nea.toml"
COMMITTED = ROOT / "calibration" / "results" / "nea.criteria.toml"
POLLS = ["poll CN on JP", "poll JP on CN", "poll KR on JP", "poll JP on KR"]
HITS = ["Fatigue rate[US]", "Fatigue rate[CN]", "Loss to gain ratio"]  # the README's three


@pytest.fixture(scope="module")
def raw(data_dir):
    return prepare(ROOT / "calibration" / "nea.toml", data_dir)


def _rows_equal(section_rows, frame, tolerance: float = 1e-9):
    """``tolerance``: absolute, for a table made on another engine or machine (a replicate
    on a threshold can flip: a share moves by 1/replicates)."""
    assert [r["series"] for r in section_rows] == list(frame["series"])
    for row, (_, expected) in zip(section_rows, frame.iterrows(), strict=True):
        for key, value in expected.items():
            if isinstance(value, float):
                assert row[key] == pytest.approx(value, rel=1e-9, abs=tolerance, nan_ok=True), key
            else:
                assert row[key] == value


def test_the_base_against_its_criteria_with_the_poll_checks(raw, tmp_path):
    doc = read_result(BASE)
    settings = criteria_check.Settings(refit_replicates=0, bound_replicates=0, replicates=3000)
    seen = []
    checked = criteria_check.check(
        raw, BASE, settings, checkpoint=tmp_path, on_section=lambda s, r: seen.append((s, r))
    )
    assert list(checked.rows) == criteria("nea", doc)
    assert seen == [("polls, estimated error", False), ("polls, spec sigma", False)]
    x = np.array([doc["parameters"][n]["estimate"] for n in raw.spec.names])
    for label, setup in (("estimated error", with_error_model(raw, doc)), ("spec sigma", raw)):
        alone = statistic_check(setup, x, replicates=3000, seed=0, series=POLLS)
        section = checked.sections[f"polls, {label}"]
        _rows_equal(section["rows"], alone.table())
        assert section["summary"]["p_all_meet"] == pytest.approx(alone.joint())
        assert section["summary"]["met_on_record"] == 2
    polls, bounds = checked.verdicts()
    assert polls.startswith("polls: 2 of 4 meet;") and "p_r" in polls  # CN on JP under spec σ
    assert bounds.startswith("bounds: ") and "not put to the noise" in bounds
    assert all(h in bounds for h in HITS)
    # a rerun reads both sections from their checkpoints and says so
    again = criteria_check.check(raw, BASE, settings, checkpoint=tmp_path)
    assert again.reused == ("polls, estimated error", "polls, spec sigma")
    assert again.document() == checked.document()
    assert "<table" in checked._repr_html_() and "NOT met" in str(checked)


def test_the_bound_checks_truth_is_the_middle_of_each_profile_interval(raw):
    doc = read_result(BASE)
    x = criteria_check.estimates(raw, doc, "nea.toml")
    inside = criteria_check.inside_point(raw, doc, x, HITS)
    names = list(raw.spec.names)
    for name in HITS:
        entry = doc["parameters"][name]
        middle = 0.5 * (entry["profile_lower"] + entry["profile_upper"])
        assert inside[names.index(name)] == pytest.approx(middle)
    others = [i for i, n in enumerate(names) if n not in HITS]
    np.testing.assert_array_equal(inside[others], x[others])


def test_the_committed_check_is_of_the_committed_base(raw):
    """The file the README quotes: made from this very base, its predictive numbers
    recomputed (same seed and replicates), the refitted and bound sections as run."""
    check = read_result(COMMITTED)
    assert check["check"]["result_sha256"] == file_sha256(BASE)
    doc = read_result(BASE)
    names = [c.criterion for c in criteria("nea", doc)]
    assert [c["criterion"] for c in check["criteria"]] == names
    x = np.array([doc["parameters"][n]["estimate"] for n in raw.spec.names])
    settings = check["check"]["settings"]
    fresh = statistic_check(
        with_error_model(raw, doc),
        x,
        replicates=settings["replicates"],
        seed=settings["seed"],
        series=POLLS,
    )
    committed = check["checks"]["polls, estimated error"]
    _rows_equal(committed["rows"], fresh.table(), tolerance=1e-3)  # made with numba
    refitted = check["checks"]["polls, refitted"]["summary"]
    assert refitted["replicates"] >= 195 and refitted["refit_steps"] > 0
    for label in ("from the point inside", "from the fit"):
        summary = check["checks"][f"bounds, {label}"]["summary"]
        assert sorted(summary["record_sides"]) == sorted(HITS)
        assert sum(summary["share_with_k"]) == pytest.approx(1.0)
    assert len(check["verdicts"]) == 2


@pytest.mark.slow
def test_the_refit_and_bound_sections_are_the_checks_themselves(data_dir, tmp_path):
    raw = prepare(ROOT / "calibration" / "nea.toml", data_dir, backend="numba")
    doc = read_result(BASE)
    settings = criteria_check.Settings(refit_replicates=3, bound_replicates=3, replicates=100)
    checked = criteria_check.check(raw, BASE, settings)
    estimated = with_error_model(raw, doc)
    x = criteria_check.estimates(raw, doc, "nea.toml")
    refitted = refit_check(estimated, x, replicates=3, seed=0, series=POLLS)
    _rows_equal(checked.sections["polls, refitted"]["rows"], refitted.table())
    truth = criteria_check.inside_point(raw, doc, x, HITS)
    for label, start in (("from the point inside", None), ("from the fit", x)):
        alone = bound_check(estimated, truth, HITS, start=start, replicates=3, seed=0)
        summary = checked.sections[f"bounds, {label}"]["summary"]
        assert summary["share_with_k"] == pytest.approx(list(alone.counts()))
        combination = np.all(alone.sides == np.array([-1, -1, 1]), axis=1).mean()
        assert summary["record_combination"] == pytest.approx(combination)


def _copy_base(tmp_path: Path, sha256: str | None = None) -> Path:
    """The base's spec and result in a folder of their own (models linked): a CLI run there
    writes nothing into the checkout."""
    (tmp_path / "calibration" / "results").mkdir(parents=True)
    (tmp_path / "models").symlink_to(ROOT / "models")
    spec = tmp_path / "calibration" / "nea.toml"
    shutil.copy(ROOT / "calibration" / "nea.toml", spec)
    text = BASE.read_text(encoding="utf-8")
    if sha256 is not None:
        text = text.replace(read_result(BASE)["calibration"]["model_sha256"], sha256)
    (tmp_path / "calibration" / "results" / "nea.toml").write_text(text, encoding="utf-8")
    return spec


def test_cli_writes_the_check_and_never_overwrites(tmp_path, capsys, data_dir):
    spec = _copy_base(tmp_path)
    args = ["calibrate", str(spec), "--check-criteria", "--refit-replicates", "0"]
    args += ["--bound-replicates", "0", "--data-dir", str(data_dir)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "verdict: polls: 2 of 4 meet" in out
    written = read_result(tmp_path / "calibration" / "results" / "nea.criteria.toml")
    assert written["check"]["result_sha256"] == file_sha256(BASE)
    assert "--check-criteria" in written["check"]["command"]
    assert main(args) == 0
    assert (tmp_path / "calibration" / "results" / "nea.criteria-2.toml").is_file()
    assert "read from its checkpoint" in capsys.readouterr().err
    result = tmp_path / "calibration" / "results" / "nea.toml"
    assert criteria_check.committed_verdicts(result) == written["verdicts"]
    result.write_text(result.read_text() + "\n# edited\n")
    assert "out of date" in criteria_check.committed_verdicts(result)[0]
    (result.with_name("nea.criteria.toml")).write_text("garbage [[[")
    assert criteria_check.committed_verdicts(result)[0].startswith("criteria check unreadable (")
    result.with_name("nea.criteria.toml").unlink()
    result.with_name("nea.criteria-2.toml").unlink()
    assert criteria_check.committed_verdicts(result) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--refit-replicates", "5"], "--refit-replicates sets a criteria check"),
        (["--check-criteria", "--bound-replicates", "-1"], "--bound-replicates must be 0 or more"),
        (["--check-criteria", "--check-sectors", "x.toml"], "two checks; run one"),
    ],
)
def test_cli_bad_criteria_flags_are_one_line(tmp_path, capsys, extra, message):
    code = main(["calibrate", str(tmp_path / "spec.toml"), *extra])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_cli_criteria_of_a_missing_or_stale_result_are_one_line(tmp_path, capsys, data_dir):
    code = main(["calibrate", str(tmp_path / "spec.toml"), "--check-criteria"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found; run nea-sd calibrate" in err[0]
    spec = _copy_base(tmp_path / "stale", sha256="0" * 64)
    code = main(["calibrate", str(spec), "--check-criteria", "--data-dir", str(data_dir)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fitted to another version of its model" in err[0]
    assert not list((tmp_path / "stale" / "calibration" / "results").glob("*.criteria*"))


def _criterion(name: str, met: bool) -> criteria_check.Criterion:
    return criteria_check.Criterion("r", name, "v", "t", met)


@pytest.mark.parametrize("rare", [True, False])
def test_verdicts_read_the_checks_both_ways(rare):
    """A miss within the fit's own noise is said to be; one beyond it is said to be too."""
    p_fewer = 0.01 if rare else 0.4
    combination = 0.0 if rare else 0.2
    polls = {
        "summary": {"p_all_meet": 0.05, "expected_met": 2.0, "p_met_or_fewer": p_fewer},
        "rows": [{"series": "poll A", "p_r": 0.5, "p_us": 0.001 if rare else 0.5}],
    }
    bounds = {
        "summary": {
            "truth": {"a": 1.0},
            "record_sides": {"a": "upper"},
            "replicates": 100,
            "at_least_one": combination,
            "all": combination,
            "record_combination": combination,
            "share_with_k": [1.0 - combination, combination],
        },
        "rows": [],
    }
    rows = (
        _criterion("poll A: fit r, U^S", False),
        _criterion("poll B: fit r, U^S", True),
        _criterion("model parameters at a bound that is not physical", False),
    )
    sections = {"polls, estimated error": polls, "bounds, from the fit": bounds}
    poll_line, bound_line = criteria_check.CriteriaCheck(
        "r.toml", rows, sections, criteria_check.Settings()
    ).verdicts()
    assert poll_line.startswith("polls: 1 of 2 meet;")
    assert ("fewer met than the fit's own noise explains" in poll_line) == rare
    assert ("poll A p_us 0.001" in poll_line) == rare
    assert ("the data push there" in bound_line) == rare
    assert ("no evidence against the structure" in bound_line) == (not rare)
    assert ("1 or more 0 of 100, the record's combination 0 of 100" in bound_line) == rare
    met = criteria_check.CriteriaCheck("r.toml", rows[1:2], {}, criteria_check.Settings())
    assert met.verdicts() == []  # every criterion met: nothing to read


def test_the_check_is_reached_from_the_stage_package():
    """As the README's Python section writes it: ``nsd.calibrate.criteria_check.check``."""
    import nea_sd as nsd

    assert nsd.calibrate.criteria_check.check is criteria_check.check
    assert "criteria_check" in nsd.calibrate.__all__
