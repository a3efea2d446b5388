"""Values read by hand from the CSV files, and the documented peculiarities of each file."""

import numpy as np
import pytest

from nea_sd.data import available_series, jnto_monthly, load_series
from nea_sd.errors import DataError, UnknownNameError


def test_sipri_constant_dollars_hand_values(data_dir):
    us = load_series("sipri:milex_constant_2022_usd:US", data_dir)
    # sipri_milex_northeast_asia.csv lines 290 and 323
    assert us.on_years([1990, 2023]).tolist() == [728240.45, 880070.56]
    assert us.units == "US$ million, constant 2022 prices and exchange rates"
    assert us.span == (1949, 2023)
    assert not us.flag("sipri_estimate").any()
    assert len(us.sha256) == 64 and us.source == "sipri_milex_northeast_asia.csv"


def test_sipri_estimate_flags_carried(data_dir):
    kr = load_series("sipri:milex_constant_2022_usd:KR", data_dir)
    i = int(np.flatnonzero(kr.years == 2000)[0])
    assert kr.values[i] == 20617.25 and kr.flag("sipri_estimate")[i]  # line 156, blue
    cn = load_series("sipri:milex_constant_2022_usd:CN", data_dir)
    assert cn.flag("sipri_estimate").all() and len(cn) == 35  # all of China: SIPRI estimates
    share = load_series("sipri:milex_share_of_gdp:US", data_dir)
    assert share.on_years([2023])[0] == 3.3618 and share.units == "percent of GDP"


def test_dprk_local_currency_break_gaps_and_flags(data_dir):
    kp = load_series("sipri:milex_local_currency:KP", data_dir)
    assert kp.breaks == (2003,)
    assert kp.missing_years() == (1995, 1997)
    assert kp.flag("sipri_highly_uncertain").all()
    assert kp.on_years([2002, 2003]).tolist() == [3.297e9, 5.0781e10]
    assert np.isnan(kp.on_years([1995])[0])  # a gap stays a gap
    before, after = kp.segments()
    assert before.span == (1986, 2002) and after.span == (2003, 2018)
    assert "split at level break 2003" in after.notes
    assert any("level break at 2003" in n for n in kp.notes)


def test_cow_north_korea_estimate_gaps(data_dir):
    kp = load_series("cow:milex:KP", data_dir)
    assert kp.units == "thousands of current US dollars"
    assert kp.on_years([1960, 2001]).tolist() == [200000.0, 2049000.0]
    assert kp.missing_years() == tuple(range(1949, 1958)) + (1959,)
    assert kp.span == (1948, 2001)  # blank 2002-2022
    assert any("value <= 0 in 1948" in n for n in kp.notes)  # COW gives 0 for 1948
    assert any("suspect jump" in n and "1960" in n for n in kp.notes)  # 1958: 2,210,054


def test_prewwi_pounds_and_the_1914_unit_change(data_dir):
    frn = load_series("cow_prewwi:milex:FRN", data_dir)
    assert frn.span == (1900, 1913) and frn.units == "thousands of current British pounds sterling"
    assert frn.on_years([1913])[0] == 66706
    assert any("1914 excluded" in n for n in frn.notes)
    with pytest.raises(DataError, match="gives 1914 in 'thousands of current US dollars'"):
        load_series("cow_prewwi:milex:FRN", data_dir, span=(1909, 1914))


def test_genron_gaps_are_visible(data_dir):
    cn = load_series("genron:pct_unfavorable:CN->JP", data_dir)
    assert cn.on_years([2013, 2016]).tolist() == [92.8, 76.7]
    assert cn.missing_years() == (2008, 2011)
    jp = load_series("genron:pct_unfavorable:JP->CN", data_dir)
    assert jp.missing_years() == (2008, 2009)
    kr = load_series("genron:pct_unfavorable:KR->JP", data_dir)
    assert kr.missing_years() == (2017, 2018) and len(kr) == 9
    assert any(n.startswith("2016: ") for n in cn.notes)  # the source disagreement is kept


def test_trade_units_per_reporter(data_dir):
    jp = load_series("trade:exports_of_reporter:JP-CN", data_dir)
    assert jp.units == "thousand JPY (nominal)"
    assert jp.on_years([2001, 2010]).tolist() == [3763723102.0, 13085564799.0]
    us = load_series("trade:imports_of_reporter:US-CN", data_dir)
    assert us.units == "million USD (nominal)" and us.on_years([2001])[0] == 102278.4
    kr = load_series("trade:total_trade:KR-CN", data_dir)
    assert kr.units == "thousand USD (nominal)" and kr.span == (2001, 2019)


def test_jnto_annual_and_monthly(data_dir):
    kr = load_series("jnto:arrivals:KR->JP", data_dir)
    assert kr.on_years([2019, 2021]).tolist() == [5584597, 18947]
    monthly = jnto_monthly(data_dir)
    aug = monthly.sel(origin="KR", month="2019-08-01")
    assert float(aug) == 308730 and float(aug["time"]) == pytest.approx(2019 + 7.5 / 12)
    assert monthly.sizes == {"origin": 6, "month": 84}
    assert float(monthly.sel(origin="KR").sel(month=slice("2019", "2019")).sum()) == 5584597


def test_mid_counts_zero_where_absent(data_dir):
    onset = load_series("mid:onset:KP-US", data_dir)  # either order
    assert onset.name == "mid:onset:US-KP" and onset.span == (1948, 2010)
    assert onset.on_years([1950, 1951, 1954]).tolist() == [1, 0, 1]  # lines 78, 79, 82
    ongoing = load_series("mid:ongoing:US-KP", data_dir)
    assert ongoing.on_years([1951])[0] == 1
    with pytest.raises(DataError, match="MID data cover 1816-2010"):
        load_series("mid:onset:US-KP", data_dir, span=(2000, 2015))


def test_span_reports_missing_years_or_refuses(data_dir):
    kp = load_series("sipri:milex_local_currency:KP", data_dir, span=(1990, 2000))
    assert kp.span == (1990, 2000)
    assert "missing inside requested 1990-2000: 1995, 1997 (gaps, not filled)" in kp.notes
    with pytest.raises(DataError) as info:
        load_series("sipri:milex_local_currency:KP", data_dir, span=(1990, 2000), complete=True)
    assert str(info.value) == (
        "series 'sipri:milex_local_currency:KP' (sipri_milex_northeast_asia.csv) has no value "
        "for 1995, 1997 inside 1990-2000; fit on the observed years only (gaps are allowed by "
        "the error models) or choose another period"
    )
    with pytest.raises(DataError, match="covers 1989-2023; requested span 1950-1960 does not"):
        load_series("sipri:milex_constant_2022_usd:CN", data_dir, span=(1950, 1960))


def test_unknown_selector_suggests(data_dir):
    with pytest.raises(UnknownNameError, match="did you mean 'sipri:milex_constant_2022_usd:CN'"):
        load_series("sipri:milex_constant_2022_usd:CHN", data_dir)
    assert "genron:pct_unfavorable:JP->KR" in available_series(data_dir)


def test_series_is_immutable_and_exports_dataarray(data_dir):
    cn = load_series("sipri:milex_constant_2022_usd:CN", data_dir)
    with pytest.raises(ValueError):
        cn.values[0] = 0
    with pytest.raises(ValueError):
        cn.flag("sipri_estimate")[0] = False
    da = cn.to_dataarray()
    assert da.dims == ("year",) and da.attrs["units"] == cn.units
    assert bool(da["sipri_estimate"].all()) and da.attrs["sha256"] == cn.sha256
    assert "sipri_estimate: 35 of 35 years" in str(cn)


def test_summed_selector_for_richardson_blocs(data_dir):
    x = load_series("cow_prewwi:milex:FRN+RUS", data_dir)
    # cow_nmc_prewwi_europe_1900_1914.csv: France 1900 40569 + Russia 1900 43104; 1913 66706+85391
    assert x.on_years([1900, 1913]).tolist() == [83673.0, 152097.0]
    assert x.span == (1900, 1913) and x.units == "thousands of current British pounds sterling"
    assert "sum of FRN, RUS" in x.notes
    kr_jp = load_series("sipri:milex_constant_2022_usd:KR+JP", data_dir)
    kr = load_series("sipri:milex_constant_2022_usd:KR", data_dir)
    assert kr_jp.span[0] == 1953  # years both observe
    assert kr_jp.flag("sipri_estimate")[kr_jp.years == 2000].item()  # KR 2000 is an estimate
    assert kr_jp.on_years([2000]) > kr.on_years([2000])
    with pytest.raises(DataError, match="two or more distinct subjects"):
        load_series("cow_prewwi:milex:FRN+FRN", data_dir)
    with pytest.raises(DataError, match="a sum needs"):
        load_series("genron:pct_unfavorable:CN->JP+JP->CN", data_dir)
    with pytest.raises(UnknownNameError):
        load_series("cow_prewwi:milex:FRN+XXX", data_dir)
