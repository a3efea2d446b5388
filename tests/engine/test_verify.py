"""Self-verification: a model's first batch run is checked against PySD, the verdict cached.

A silent wrong result is made impossible by comparing with PySD itself; to show that the check
bites, the batch engine is given a stand-in compiler fault (one element shifted from t = 2.5)
and must be refused with that variable, element and time.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xarray as xr
from synthetic_models import write
from test_constructs import AGEING

from nea_sd.cli import main
from nea_sd.engine import simulate, verify
from nea_sd.engine.batch.runtime import BatchModel
from nea_sd.errors import InvalidValueError
from nea_sd.model import file_sha256, load_model
from tests.support import MODELS


@pytest.fixture(autouse=True)
def verifying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEA_SD_VERIFY", "auto")
    monkeypatch.setenv("NEA_SD_CACHE", str(tmp_path / "cache"))  # verdicts start empty
    monkeypatch.setattr(verify, "_SETTLED", {})
    monkeypatch.setitem(verify._ALLOW, "unverified", False)


@pytest.fixture()
def faulty(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in compiler fault: Population[Oldest] one too high from t = 2.5 on."""
    monkeypatch.setattr(BatchModel, "simulate", _shifted(BatchModel.simulate))


def _shifted(real: Callable[..., xr.Dataset]) -> Callable[..., xr.Dataset]:
    def shifted(self: BatchModel, *args: Any, **kwargs: Any) -> xr.Dataset:
        result = real(self, *args, **kwargs)
        if "Population" in result:
            late = result["time"] >= 2.5
            result["Population"].loc[{"Cohort": "Oldest", "time": late}] += 1.0
        return result

    return shifted


def test_first_run_is_verified_then_the_verdict_is_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model(write(tmp_path, "ageing", AGEING))
    result = simulate(model, [{}], ["Population"])
    assert "first batch run of ageing.mdl" in capsys.readouterr().err
    assert result.attrs["verification"].startswith("verified against PySD (3 parameter sets")
    # a new process: the verdict comes from the cache, PySD is not run again
    monkeypatch.setattr(verify, "_SETTLED", {})
    monkeypatch.setattr(verify, "verify", lambda *a, **k: pytest.fail("verified twice"))
    again = simulate(model, [{"births": 200}], ["Population"])
    assert again.attrs["verification"] == result.attrs["verification"]
    assert capsys.readouterr().err == ""


def test_a_wrong_result_is_refused_with_variable_element_and_time(
    tmp_path: Path, faulty: None
) -> None:
    model = load_model(write(tmp_path, "ageing", AGEING))
    with pytest.raises(verify.VerificationError) as caught:
        simulate(model, [{}], ["Population"])
    message = str(caught.value)
    assert "differs from PySD: Population[Oldest] from t=2.5 (batch " in message
    assert (
        "(defaults)" in message and "--allow-unverified" in message and "--engine pysd" in message
    )
    assert "\n" not in message
    with pytest.raises(verify.VerificationError):  # the cached verdict refuses at once
        simulate(model, [{}], ["Population"])


def test_allow_unverified_runs_it_marked_in_the_provenance(
    tmp_path: Path, faulty: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "ageing", AGEING)
    target = tmp_path / "out.nc"
    assert main(["run", str(path), "--output", str(target)]) == 2
    assert "error: the batch engine differs from PySD" in capsys.readouterr().err
    assert main(["run", str(path), "--allow-unverified", "--output", str(target)]) == 0
    with xr.open_dataset(target) as saved:
        assert saved.attrs["verification"].startswith("UNVERIFIED (--allow-unverified)")


def test_check_verify_reports_the_verdict_and_its_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "ageing", AGEING)
    assert main(["check", str(path), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "ageing.mdl: verified against PySD (3 parameter sets, full horizon" in out
    assert out.rstrip().endswith(" s")


def test_bundled_models_are_verified_by_the_suite_but_an_edit_is_not(tmp_path: Path) -> None:
    for path in sorted(MODELS.glob("*.mdl")):
        assert verify.suite_verified(file_sha256(path)) == path.stem, (
            f"models/verified.toml does not list the current {path.name} "
            f"(sha256 {file_sha256(path)}): run tests/engine/test_full_horizon.py and update it"
        )
    copy = Path(shutil.copy(MODELS / "richardson.mdl", tmp_path / "richardson.mdl"))
    copy.write_text(copy.read_text().replace("Grievance X=\n\t10", "Grievance X=\n\t11"))
    assert verify.suite_verified(file_sha256(copy)) is None
    result = simulate(load_model(copy), [{}], ["Arms X"])
    assert result.attrs["verification"].startswith("verified against PySD")


def test_verification_off_and_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_model(MODELS / "richardson.mdl")
    monkeypatch.setenv("NEA_SD_VERIFY", "off")
    assert simulate(model, [{}], ["Arms X"]).attrs["verification"].startswith("not verified")
    monkeypatch.setenv("NEA_SD_VERIFY", "sometimes")
    with pytest.raises(InvalidValueError, match="NEA_SD_VERIFY='sometimes' is not one of"):
        simulate(model, [{}], ["Arms X"])


def test_slow_pysd_runs_the_other_sets_in_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When PySD's run at the defaults is slow (the regional models: tens of seconds), the
    random sets' PySD runs go to worker processes; their trajectories are compared as before:
    a clean model verifies on all three sets with one PySD run in this process, and a fault
    shows in every set's comparison, the workers' included."""
    import nea_sd.engine.reference as reference

    monkeypatch.delenv("NEA_SD_REFERENCES", raising=False)
    model = load_model(write(tmp_path, "ageing", AGEING))
    monkeypatch.setattr(verify, "PARALLEL_AFTER_S", 0.0)
    monkeypatch.setattr(verify.os, "cpu_count", lambda: 2)
    here: list[dict] = []
    real = reference.reference_run
    monkeypatch.setattr(reference, "reference_run", lambda m, o, n: here.append(o) or real(m, o, n))
    verdict = verify.verify(model, store=False)
    assert verdict.verified and verdict.sets == 3, verdict.summary()
    assert here == [{}]  # the defaults here; the two random sets in the workers
    stored = list((tmp_path / "cache" / "references").rglob("*.nc"))
    assert len(stored) == 3  # the workers' references are kept in the cache too

    # a worker that fails (here: no interpreter) costs time, not the verdict
    interpreter = verify.sys.executable
    monkeypatch.setattr(verify.sys, "executable", "/nonexistent/python")
    here.clear()
    assert verify.verify(model, store=False).verified
    assert len(here) == 3  # every set run here
    monkeypatch.setattr(verify.sys, "executable", interpreter)

    monkeypatch.setattr(BatchModel, "simulate", _shifted(BatchModel.simulate))
    faulty = verify.verify(model, store=False)
    assert not faulty.verified
    assert [d.rsplit("(", 1)[1] for d in faulty.differences] == [
        "defaults)",
        "random set 1)",
        "random set 2)",
    ]
