"""Deliberately corrupted copies of the data files give pinned, actionable errors."""

import numpy as np
import pytest

from nea_sd.data import detect_jumps, load_series, split_at_break
from nea_sd.data import sources as src
from nea_sd.data.series import Series
from nea_sd.errors import DataError, InvalidValueError

SIPRI = src.SIPRI_FILE


def test_wrong_unit_names_file_line_and_unit(copy_of):
    folder = copy_of(
        SIPRI,
        lambda t: t.replace(
            "China,CHN,1991,milex_constant_2022_usd,24494.31,"
            '"US$ million, constant 2022 prices and exchange rates"',
            'China,CHN,1991,milex_constant_2022_usd,24494.31,"US$ billion, current prices"',
        ),
    )
    with pytest.raises(DataError) as info:
        load_series("sipri:milex_constant_2022_usd:CN", folder)
    assert str(info.value) == (
        "sipri_milex_northeast_asia.csv line 4: unit 'US$ billion, current prices' differs from "
        "the documented 'US$ million, constant 2022 prices and exchange rates' (see SOURCES.md); "
        "refusing to mix units"
    )


def test_missing_year_is_reported_and_refused_when_complete(copy_of):
    folder = copy_of(
        SIPRI,
        lambda t: "".join(
            line for line in t.splitlines(keepends=True) if not line.startswith("China,CHN,2000,")
        ),
    )
    cn = load_series("sipri:milex_constant_2022_usd:CN", folder)
    assert cn.missing_years() == (2000,)
    assert "missing (gaps, not filled): 2000" in str(cn)
    with pytest.raises(DataError, match=r"has no value for 2000 inside 1995-2005"):
        load_series("sipri:milex_constant_2022_usd:CN", folder, span=(1995, 2005), complete=True)


def test_duplicate_year(copy_of):
    row = "Mongolia,MNG,2000,"

    def dup(text):
        line = next(x for x in text.splitlines(keepends=True) if x.startswith(row))
        return text + line

    with pytest.raises(DataError, match=r"line 677: duplicate row for country='Mongolia'"):
        load_series("sipri:milex_constant_2022_usd:MN", copy_of(SIPRI, dup))


def test_non_numeric_value_and_bad_flag(copy_of):
    folder = copy_of(
        SIPRI,
        lambda t: t.replace(
            "China,CHN,1990,milex_constant_2022_usd,23044.61",
            "China,CHN,1990,milex_constant_2022_usd,xxx",
        ),
    )
    with pytest.raises(DataError, match=r"line 3: value is 'xxx', not a number"):
        src.read_sipri(folder)


def test_pounds_row_relabelled_in_dollars(copy_of):
    folder = copy_of(
        src.PREWWI_FILE,
        lambda t: t.replace(
            "France,FRN,220,1913,66706,thousands of current British pounds sterling",
            "France,FRN,220,1913,66706,thousands of current US dollars",
        ),
    )
    with pytest.raises(
        DataError,
        match=r"unit 'thousands of current US dollars' differs from "
        r"the documented 'thousands of current British pounds sterling'",
    ):
        load_series("cow_prewwi:milex:FRN", folder)


def test_trade_unit_checked_per_reporter(copy_of):
    folder = copy_of(
        src.TRADE_FILE,
        lambda t: t.replace(
            "United States,China,2005,exports_of_reporter,41192.1,million USD (nominal)",
            "United States,China,2005,exports_of_reporter,41192.1,thousand USD (nominal)",
            1,
        ),
    )
    with pytest.raises(
        DataError,
        match=r"unit 'thousand USD \(nominal\)' differs from the "
        r"documented 'million USD \(nominal\)'",
    ):
        src.read_trade(folder)


def test_jnto_annual_must_equal_monthly_sum(copy_of):
    folder = copy_of(
        src.JNTO_FILE,
        lambda t: t.replace(
            "South Korea,韓国,2019,annual (sum of 12 monthly values),5584597",
            "South Korea,韓国,2019,annual (sum of 12 monthly values),5584598",
        ),
    )
    with pytest.raises(
        DataError,
        match=r"annual 5584598 for South Korea 2019 differs from the "
        r"12-month sum 5584597",
    ):
        src.read_jnto(folder)


def test_renamed_column(copy_of):
    folder = copy_of(src.GENRON_FILE, lambda t: t.replace("pct_unfavorable", "pct_unfav", 1))
    with pytest.raises(DataError, match=r"missing column\(s\) 'pct_unfavorable'"):
        src.read_genron(folder)


def test_poll_percent_out_of_range(copy_of):
    folder = copy_of(src.GENRON_FILE, lambda t: t.replace(",2013,92.8,", ",2013,192.8,"))
    with pytest.raises(DataError, match=r"pct_unfavorable 192.8 outside \[0, 100\]"):
        src.read_genron(folder)


def test_2003_break_is_detected_by_screening(data_dir):
    kp = load_series("sipri:milex_local_currency:KP", data_dir)
    assert 2003 in detect_jumps(kp)
    # the documented break is not reported again as an unexplained jump
    assert not any("suspect jump" in n for n in kp.notes)


def test_split_at_break_and_invalid_year():
    s = Series("x", "KP", [2000, 2001, 2002, 2003], [1.0, 1.1, 15.0, 16.0], "won", "f", "0" * 64)
    before, after = split_at_break(s, 2002)
    assert before.years.tolist() == [2000, 2001] and after.years.tolist() == [2002, 2003]
    assert detect_jumps(s) == (2002,)
    with pytest.raises(InvalidValueError, match="break year 2000 is not inside series 'x'"):
        split_at_break(s, 2000)


def test_series_rejects_nan_and_unsorted_years():
    with pytest.raises(DataError, match=r"non-finite values in \[2001\]"):
        Series("x", "KP", [2000, 2001], [1.0, np.nan], "u", "f", "")
    with pytest.raises(DataError, match="not strictly increasing"):
        Series("x", "KP", [2001, 2000], [1.0, 2.0], "u", "f", "")
