"""Bad data files: an empty CSV is one clean error; a missing year inside a period is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from nea_sd.data import load_series
from nea_sd.data import sources as src
from nea_sd.errors import DataError
from tests.faults.conftest import assert_clean_error, call
from tests.support import REPO

TINY = REPO / "tests" / "calibrate" / "fixtures"


@pytest.mark.parametrize(("header", "says"), [(False, "is empty"), (True, "no rows")])
def test_empty_csv_is_a_data_error_naming_the_file(
    data_dir: Path, tmp_path: Path, header: bool, says: str
) -> None:
    first = (data_dir / src.SIPRI_FILE).read_text().splitlines(keepends=True)[0]
    (tmp_path / src.SIPRI_FILE).write_text(first if header else "")
    with pytest.raises(DataError, match=src.SIPRI_FILE.replace(".", r"\.") + ".*" + says):
        load_series("sipri:milex_constant_2022_usd:CN", tmp_path)


def test_calibrate_with_an_empty_csv_fails_cleanly(capsys, data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / src.SIPRI_FILE).write_text("")
    spec = tmp_path / "spec.toml"
    spec.write_text(
        (TINY / "tiny.toml").read_text().replace('"tiny.mdl"', f'"{TINY / "tiny.mdl"}"')
    )
    code, _, err = call(
        capsys, "calibrate", spec, "--data-dir", tmp_path, "--output", tmp_path / "r.toml"
    )
    assert_clean_error(code, err, src.SIPRI_FILE, "empty")
    assert not (tmp_path / "r.toml").exists()


def test_missing_year_in_the_fit_period_is_reported(capsys, copy_of, tmp_path: Path) -> None:
    folder = copy_of(
        src.SIPRI_FILE,
        lambda t: "".join(
            line for line in t.splitlines(keepends=True) if not line.startswith("Japan,JPN,2005,")
        ),
    )
    spec = folder / "spec.toml"
    spec.write_text(
        (TINY / "tiny.toml").read_text().replace('"tiny.mdl"', f'"{TINY / "tiny.mdl"}"')
    )
    code, _, err = call(
        capsys, "calibrate", spec, "--data-dir", folder, "--starts", "2", "--no-profile",
        "--output", tmp_path / "out" / "r.toml",
    )  # fmt: skip
    assert code == 0, err
    assert "has no value for 2005 in the fit period 2001-2013" in err
