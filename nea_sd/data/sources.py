"""Readers for the shared data files: one function per file, each checking it against SOURCES.md.

A reader returns a :class:`Table` — typed columns, the file name and its SHA-256 — after
checking columns, documented units, flags, duplicates and value ranges. Turning rows into
:class:`~nea_sd.data.series.Series` is :mod:`nea_sd.data.catalog`'s job.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from nea_sd.data import validate as v
from nea_sd.data.location import data_file
from nea_sd.errors import DataError

# Model actor codes (MODEL.md §5) and the names the files use for them.
ACTORS = {
    "US": "United States",
    "CN": "China",
    "RU": "Russia",
    "JP": "Japan",
    "KR": "South Korea",
    "KP": "North Korea",
    "MN": "Mongolia",
}
NAME_TO_CODE = {name: code for code, name in ACTORS.items()}
COW_CODES = {2: "US", 710: "CN", 365: "RU", 740: "JP", 732: "KR", 731: "KP", 712: "MN"}
PREWWI_STATES = {200: "UKG", 220: "FRN", 255: "GMY", 300: "AUH", 365: "RUS"}

SIPRI_FILE = "sipri_milex_northeast_asia.csv"
COW_FILE = "cow_nmc_northeast_asia_1946_2022.csv"
PREWWI_FILE = "cow_nmc_prewwi_europe_1900_1914.csv"
GENRON_FILE = "genron_npo_mutual_impression_polls.csv"
TRADE_FILE = "trade_with_china_2001_2019.csv"
JNTO_FILE = "jnto_visitor_arrivals_japan_2019_2025.csv"
MID_FILE = "gml_mid_dyad_years_northeast_asia.csv"

SIPRI_UNITS = {
    "milex_constant_2022_usd": "US$ million, constant 2022 prices and exchange rates",
    "milex_share_of_gdp": "percent of GDP",
    "milex_local_currency": (
        "North Korean won (KPW), current prices, as reported by DPRK authorities"
    ),
}
SIPRI_SHEETS = {
    "milex_constant_2022_usd": "Constant (2022) US$",
    "milex_share_of_gdp": "Share of GDP",
    "milex_local_currency": "Local currency calendar years",
}
SIPRI_COUNTRIES = {**NAME_TO_CODE, "USSR": "SU"}
SIPRI_ISO3 = {
    "United States": "USA",
    "China": "CHN",
    "Russia": "RUS",
    "USSR": "SUN",
    "Japan": "JPN",
    "South Korea": "KOR",
    "North Korea": "PRK",
    "Mongolia": "MNG",
}
COW_USD = "thousands of current US dollars"
COW_GBP = "thousands of current British pounds sterling"
COW_GBP_LAST_YEAR = 1913  # COW NMC: pounds 1816-1913, US dollars from 1914
GENRON_DEFINITION = (
    '% answering "unfavorable" or "relatively unfavorable" impression of the other country'
)
TRADE_UNITS = {
    "Japan": "thousand JPY (nominal)",
    "South Korea": "thousand USD (nominal)",
    "United States": "million USD (nominal)",
}
TRADE_FLOWS = ("exports_of_reporter", "imports_of_reporter", "total_trade")
JNTO_NATIONALITIES = {**NAME_TO_CODE, "All nationalities (total)": "ALL"}
JNTO_ANNUAL = "annual (sum of 12 monthly values)"
JNTO_MONTHLY = "monthly"
MID_LAST_YEAR = 2010


@dataclass(frozen=True, eq=False)
class Table:
    """A checked data file: ``frame`` (typed columns plus ``_line``), its name and hash."""

    file: str
    sha256: str
    frame: pd.DataFrame


def _cached(reader):
    """Read each file once per content version (path, size, mtime); hand out copies."""

    @lru_cache(maxsize=32)
    def by_stamp(path: str, size: int, mtime: int) -> Table:
        return reader(Path(path))

    def wrapper(directory: str | os.PathLike[str] | None = None) -> Table:
        path = data_file(reader.file_name, directory)
        stat = path.stat()
        table = by_stamp(str(path), stat.st_size, stat.st_mtime_ns)
        return Table(table.file, table.sha256, table.frame.copy())

    wrapper.__doc__ = reader.__doc__
    wrapper.__name__ = reader.__name__
    wrapper.file_name = reader.file_name  # type: ignore[attr-defined]
    return wrapper


def _file(name: str):
    def mark(reader):
        reader.file_name = name
        return _cached(reader)

    return mark


@_file(SIPRI_FILE)
def read_sipri(path: Path) -> Table:
    """SIPRI Milex 2024 release: constant 2022 US$ m, % of GDP, DPRK local currency."""
    cols = [
        "country",
        "iso3",
        "year",
        "measure",
        "value",
        "unit",
        "sipri_estimate",
        "sipri_highly_uncertain",
        "source_sheet",
    ]
    frame, sha = v.read_table(path, cols)
    name = path.name
    v.check_known(frame, "country", SIPRI_COUNTRIES, name)
    v.check_known(frame, "measure", SIPRI_UNITS, name)
    v.check_units(frame, "iso3", lambda r: SIPRI_ISO3[r["country"]], name)
    v.check_units(frame, "unit", lambda r: SIPRI_UNITS[r["measure"]], name)
    v.check_units(frame, "source_sheet", lambda r: SIPRI_SHEETS[r["measure"]], name)
    v.check_binary(frame, ["sipri_estimate", "sipri_highly_uncertain"], name)
    frame["year"] = v.to_years(frame, "year", name)
    frame["value"] = v.to_numbers(frame, "value", name, allow_blank=False)
    v.check_unique(frame, ["country", "measure", "year"], name)
    share = frame["measure"] == "milex_share_of_gdp"
    v.check_range(frame["value"].where(share), frame, 0, 100, "share of GDP", name)
    v.check_range(frame["value"].where(~share), frame, 0, np.inf, "expenditure", name)
    local = frame["measure"] == "milex_local_currency"
    wrong = local != (frame["country"] == "North Korea")
    if wrong.any():
        index = wrong[wrong].index[0]
        raise DataError(
            f"{name} line {v.line_of(frame, index)}: SIPRI gives North Korea only in local "
            f"currency and no other country in it; found {frame['country'][index]!r} "
            f"with {frame['measure'][index]!r}"
        )
    for flag in ("sipri_estimate", "sipri_highly_uncertain"):
        frame[flag] = frame[flag] == "1"
    frame["code"] = frame["country"].map(SIPRI_COUNTRIES)
    return Table(name, sha, frame)


def _read_cow(path: Path, states: dict[int, str], unit_of_year) -> Table:
    cols = [
        "state",
        "cow_stateabb",
        "cow_ccode",
        "year",
        "milex",
        "milex_unit",
        "milper_thousands",
        "cinc",
        "nmc_version",
    ]
    frame, sha = v.read_table(path, cols)
    name = path.name
    v.check_known(frame, "cow_ccode", [str(c) for c in states], name)
    v.check_known(frame, "nmc_version", ["7.0"], name)
    frame["year"] = v.to_years(frame, "year", name)
    v.check_units(frame, "milex_unit", lambda r: unit_of_year(r["year"]), name)
    frame["cow_ccode"] = frame["cow_ccode"].astype(int)
    frame["milex"] = v.to_numbers(frame, "milex", name, allow_blank=True)
    v.check_range(frame["milex"], frame, 0, np.inf, "milex", name)
    v.check_unique(frame, ["cow_ccode", "year"], name)
    frame["code"] = frame["cow_ccode"].map(states)
    return Table(name, sha, frame)


@_file(COW_FILE)
def read_cow(path: Path) -> Table:
    """COW NMC v7.0, seven actors 1946-2022; milex in thousands of current US$ (blank = missing)."""
    return _read_cow(path, COW_CODES, lambda year: COW_USD)


@_file(PREWWI_FILE)
def read_cow_prewwi(path: Path) -> Table:
    """COW NMC v7.0, five European powers 1900-1914; £ thousands to 1913, US$ thousands in 1914."""
    return _read_cow(
        path, PREWWI_STATES, lambda year: COW_GBP if year <= COW_GBP_LAST_YEAR else COW_USD
    )


@_file(GENRON_FILE)
def read_genron(path: Path) -> Table:
    """Genron NPO Japan-China and Japan-Korea polls: % unfavourable impression (gappy)."""
    cols = [
        "survey",
        "respondents",
        "about",
        "survey_year",
        "pct_unfavorable",
        "definition",
        "source_pages_read",
        "note",
    ]
    frame, sha = v.read_table(path, cols)
    name = path.name
    for col in ("respondents", "about"):
        v.check_known(frame, col, ["China", "Japan", "South Korea"], name)
    v.check_units(frame, "definition", lambda r: GENRON_DEFINITION, name)
    frame["survey_year"] = v.to_years(frame, "survey_year", name)
    frame["pct_unfavorable"] = v.to_numbers(frame, "pct_unfavorable", name, allow_blank=False)
    v.check_range(frame["pct_unfavorable"], frame, 0, 100, "pct_unfavorable", name)
    v.check_unique(frame, ["respondents", "about", "survey_year"], name)
    frame["code_respondents"] = frame["respondents"].map(NAME_TO_CODE)
    frame["code_about"] = frame["about"].map(NAME_TO_CODE)
    return Table(name, sha, frame)


@_file(TRADE_FILE)
def read_trade(path: Path) -> Table:
    """Trade with China 2001-2019, annual sums of 12 months; unit depends on the reporter."""
    cols = [
        "reporter",
        "partner",
        "year",
        "flow",
        "value",
        "unit",
        "months_summed",
        "publisher",
        "source_file",
    ]
    frame, sha = v.read_table(path, cols)
    name = path.name
    v.check_known(frame, "reporter", TRADE_UNITS, name)
    v.check_known(frame, "partner", ["China"], name)
    v.check_known(frame, "flow", TRADE_FLOWS, name)
    v.check_units(frame, "unit", lambda r: TRADE_UNITS[r["reporter"]], name)
    frame["year"] = v.to_years(frame, "year", name)
    frame["value"] = v.to_numbers(frame, "value", name, allow_blank=False)
    v.check_range(frame["value"], frame, 0, np.inf, "trade value", name)
    partial = frame["months_summed"] != "12"
    if partial.any():
        index = partial[partial].index[0]
        raise DataError(
            f"{name} line {v.line_of(frame, index)}: months_summed is "
            f"{frame['months_summed'][index]!r}; an annual total needs '12'"
        )
    v.check_unique(frame, ["reporter", "partner", "flow", "year"], name)
    wide = frame.pivot_table(index=["reporter", "year"], columns="flow", values="value")
    if set(TRADE_FLOWS) <= set(wide.columns):
        gap = wide["total_trade"] - wide["exports_of_reporter"] - wide["imports_of_reporter"]
        bad = gap.abs() > 1e-9 * wide["total_trade"].abs() + 1e-6
        if bad.any():
            reporter, year = bad[bad].index[0]
            raise DataError(
                f"{name}: {reporter} {year}: total_trade {wide['total_trade'][(reporter, year)]!r}"
                " is not exports_of_reporter + imports_of_reporter"
            )
    frame["code"] = frame["reporter"].map(NAME_TO_CODE)
    return Table(name, sha, frame)


@_file(JNTO_FILE)
def read_jnto(path: Path) -> Table:
    """JNTO visitor arrivals 2019-2025, monthly and annual; annual must equal the 12-month sum."""
    cols = ["nationality", "nationality_ja", "period", "frequency", "visitor_arrivals"]
    frame, sha = v.read_table(path, cols)
    name = path.name
    v.check_known(frame, "nationality", JNTO_NATIONALITIES, name)
    v.check_known(frame, "frequency", [JNTO_MONTHLY, JNTO_ANNUAL], name)
    frame["visitor_arrivals"] = v.to_numbers(frame, "visitor_arrivals", name, allow_blank=False)
    v.check_range(frame["visitor_arrivals"], frame, 0, np.inf, "visitor_arrivals", name)
    pattern = {JNTO_ANNUAL: r"\d{4}", JNTO_MONTHLY: r"\d{4}-(0[1-9]|1[0-2])"}
    for index, row in frame.iterrows():
        if not re.fullmatch(pattern[row["frequency"]], str(row["period"])):
            raise DataError(
                f"{name} line {v.line_of(frame, index)}: period {row['period']!r} does not fit "
                f"frequency {row['frequency']!r} (expected YYYY or YYYY-MM)"
            )
    v.check_unique(frame, ["nationality", "frequency", "period"], name)
    frame["year"] = frame["period"].str[:4].astype(int)
    frame["code"] = frame["nationality"].map(JNTO_NATIONALITIES)
    monthly = frame[frame["frequency"] == JNTO_MONTHLY]
    sums = monthly.groupby(["code", "year"])["visitor_arrivals"].agg(["sum", "size"])
    for index, row in frame[frame["frequency"] == JNTO_ANNUAL].iterrows():
        key = (row["code"], row["year"])
        if key not in sums.index or sums.loc[key, "size"] != 12:
            continue  # no complete year of months to compare with
        if sums.loc[key, "sum"] != row["visitor_arrivals"]:
            raise DataError(
                f"{name} line {v.line_of(frame, index)}: annual {row['visitor_arrivals']:.0f} "
                f"for {row['nationality']} {row['year']} differs from the 12-month sum "
                f"{sums.loc[key, 'sum']:.0f}"
            )
    return Table(name, sha, frame)


@_file(MID_FILE)
def read_mid(path: Path) -> Table:
    """GML MID v2.2.1 non-directed dyad-years with a dispute (absent dyad-year = no MID)."""
    cols = ["state1", "state2", "ccode1", "ccode2", "dispnum", "year", "gmlmidonset"]
    cols += ["gmlmidongoing", "hostlev", "fatality"]
    frame, sha = v.read_table(path, cols)
    name = path.name
    for col in ("ccode1", "ccode2"):
        v.check_known(frame, col, [str(c) for c in COW_CODES], name)
    v.check_binary(frame, ["gmlmidonset", "gmlmidongoing"], name)
    frame["year"] = v.to_years(frame, "year", name)
    v.check_range(frame["year"], frame, 1816, MID_LAST_YEAR, "year", name)
    for col in ("ccode1", "ccode2", "gmlmidonset", "gmlmidongoing"):
        frame[col] = frame[col].astype(int)
    unordered = frame["ccode1"] >= frame["ccode2"]
    if unordered.any():
        index = unordered[unordered].index[0]
        raise DataError(
            f"{name} line {v.line_of(frame, index)}: ccode1 must be below ccode2 "
            "(non-directed dyads are stored once)"
        )
    v.check_unique(frame, ["ccode1", "ccode2", "year"], name)
    frame["code1"] = frame["ccode1"].map(COW_CODES)
    frame["code2"] = frame["ccode2"].map(COW_CODES)
    return Table(name, sha, frame)
