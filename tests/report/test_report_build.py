"""A small report built end to end through the command line: every section of the registry
present (computed, or listed as not computed), every verdict backed by numbers in report.nc,
provenance at its root, a self-contained HTML page; bad input is one error line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nea_sd.cli import main
from nea_sd.report.build import REGISTRY, resolve
from nea_sd.report.core import decide
from tests.background import build_report
from tests.support import MODELS, result_of_another_version

SAMPLES = "8"
REPORT = (build_report, str(MODELS / "nea.mdl"), SAMPLES, "3")
# the build (about a minute) starts in the background worker when the suite is collected
pytestmark = pytest.mark.background(*REPORT)


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = int(stop.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def built():
    from tests import background

    folder, code = background.result(*REPORT)
    yield Path(folder), code, ""
    shutil.rmtree(folder, ignore_errors=True)


def computed_keys() -> list[str]:
    return [key for key, target in REGISTRY if resolve(target) is not None]


def test_every_section_is_present_or_listed_as_not_computed(built) -> None:
    folder, code, _ = built
    assert code == 0
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    for key, target in REGISTRY:
        if resolve(target) is None:
            assert re.search(rf"\| {key} \| not computed \|", markdown)
        else:
            assert f"## {key}: " in markdown
    for key in ("H1", "H2", "H7"):
        assert key in computed_keys()


def test_every_verdict_is_backed_by_numbers_in_report_nc(built) -> None:
    folder, _, _ = built
    root = xr.open_dataset(folder / "report.nc")
    assert sorted(root["section"].values.tolist()) == sorted(computed_keys())
    assert root.attrs["seed"] == "3" and root.attrs["samples"] == SAMPLES
    assert len(root.attrs["model_sha256"]) == 64 and "package_versions" in root.attrs
    for key in root["section"].values:
        group = xr.open_dataset(folder / "report.nc", group=str(key))
        reason = str(root["verdict_reason"].sel(section=key).item())
        label = str(root["verdict"].sel(section=key).item())
        numbers = [float(x) for x in re.findall(r"\[(-?[\d.]+), (-?[\d.]+)\]", reason)[0]]
        stored = np.concatenate(
            [np.ravel(v.values) for v in group.data_vars.values() if v.dtype.kind == "f"]
        )
        if reason.startswith("-["):  # a verdict on a negated statistic quotes −(stored)
            stored = -stored
        for number in numbers:  # the interval the verdict quotes is a stored number
            assert np.any(np.isclose(np.round(stored, 3), number, atol=1e-9)), (key, number)
        if "verdict_low" in group:
            low, high = float(group["verdict_low"]), float(group["verdict_high"])
            assert decide(low, high).label == label or label == "depends"


def test_report_nc_holds_the_paired_draws_and_diverged_flags(built) -> None:
    folder, _, _ = built
    ensemble = xr.open_dataset(folder / "report.nc", group="ensemble")
    assert ensemble.sizes["draw"] == int(SAMPLES)
    assert set(ensemble["diverged"].dims) == {"draw", "strategy", "structure"}
    assert "Spillover" in ensemble["gain"].values.tolist()
    assert {"outcome", "when", "draw", "strategy", "structure"} == set(ensemble["outcomes"].dims)
    # every stored draw lies in its gain's declared range
    draws, lows, highs = ensemble["X"], ensemble["gain_low"], ensemble["gain_high"]
    assert bool(((draws - lows >= 0) & (highs - draws >= 0)).all())
    without = xr.open_dataset(folder / "report.nc", group="no_detente")
    assert float(without["X"].sel(gain="Detente intensity").max()) == 0.0


def test_html_is_self_contained_with_embedded_figures(built) -> None:
    folder, _, _ = built
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 3
    assert not re.search(r'src="(http|/|\.)', page)


def test_an_existing_report_is_not_overwritten(built, capsys) -> None:
    folder, _, _ = built
    before = (folder / "report.md").read_bytes()
    code, _, err = call(capsys, "report", "nea", "--samples", SAMPLES, "--output-dir", str(folder))
    assert code == 2
    assert err.startswith("error: ") and "--overwrite" in err and len(err.splitlines()) == 1
    assert (folder / "report.md").read_bytes() == before


RESULTS = Path(__file__).resolve().parents[2] / "calibration" / "results"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--base", "posterior"], "--base posterior"),
        (["--samples", "3"], "--samples"),
        (["--seed", "-1"], "--seed"),
        (["--workers", "2", "--scheduler", "tcp://x:1"], "not allowed with"),
        (["--base", "best"], "invalid choice"),
        (["--workers", "0"], "--workers"),
        (["--calibration", str(RESULTS / "trust.toml")], "sector fit"),
        (["--calibration", str(RESULTS / "dyad_cnjp.toml")], "another model than nea.mdl"),
        (["--calibration", str(RESULTS / "nea.toml"), "--base", "defaults"], "both choose"),
    ],
)
def test_bad_input_is_one_error_line(capsys, tmp_path: Path, argv, message) -> None:
    code, _, err = call(capsys, "report", "nea", *argv, "--output-dir", str(tmp_path / "r"))
    assert code == 2
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "r" / "report.nc").exists()


def test_a_result_of_another_version_of_the_model_is_one_error_line(capsys, tmp_path) -> None:
    """A joint result whose recorded model hash is not today's ``nea.mdl`` (made here, so the
    test does not depend on which committed results happen to be out of date)."""
    stale = result_of_another_version(tmp_path)
    argv = ["--calibration", str(stale), "--output-dir", str(tmp_path / "r")]
    code, _, err = call(capsys, "report", "nea", *argv)
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith("error: old.toml was fitted to 'nea.mdl' in another version")
    assert not (tmp_path / "r").exists()


def test_an_unwritable_output_dir_is_refused_before_the_runs(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = call(capsys, "report", "nea", "--samples", "8", "--output-dir", str(blocker))
    assert code == 2
    assert err.startswith("error: ") and "is a file" in err and len(err.splitlines()) == 1
    assert blocker.read_text() == "x"


def test_registry_resolution_missing_module_is_none_broken_module_raises(tmp_path, monkeypatch):
    assert resolve("nea_sd.report.no_such_section:section") is None
    assert resolve("nea_sd.report.h1:no_such_function") is None
    assert resolve("nea_sd.report.h1:h1_section") is not None
    (tmp_path / "broken_section_module.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError):  # a section that fails to import is not "absent"
        resolve("broken_section_module:section")


def test_a_model_without_sequencing_outcomes_is_one_error_line(capsys, tmp_path: Path) -> None:
    code, _, err = call(capsys, "report", "richardson", "--samples", "8",
                        "--output-dir", str(tmp_path / "r"))  # fmt: skip
    assert code == 2
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "richardson" in err


def test_a_model_without_the_named_loops_is_refused_before_any_section_runs(capsys, tmp_path):
    import shutil

    for name in ("nea.mdl", "scenarios.toml", "structures.toml"):  # but no loops.toml
        shutil.copy(MODELS / name, tmp_path / name)
    out_dir = tmp_path / "r"
    code, out, err = call(
        capsys, "report", str(tmp_path / "nea.mdl"), "--samples", "8", "--output-dir", str(out_dir)
    )
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "names no loops in loops.toml" in lines[0], err
    assert not out and not (out_dir / "report.md").exists()
