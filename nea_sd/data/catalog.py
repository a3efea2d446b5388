"""Series selectors: ``"source:measure:subject"`` names every series the data files provide.

Examples: ``sipri:milex_constant_2022_usd:CN``, ``sipri:milex_local_currency:KP``,
``cow:milex:KP``, ``cow_prewwi:milex:FRN``, ``genron:pct_unfavorable:CN->JP`` (respondents →
about), ``trade:total_trade:JP-CN`` (reporter-partner), ``jnto:arrivals:KR->JP``,
``mid:onset:US-KP`` (non-directed). Money and count series may be summed over subjects of
one source: ``cow_prewwi:milex:FRN+RUS`` (Richardson's alliance blocs). A selector is what a
calibration spec writes, so it is also what error messages and provenance quote.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.data import sources as src
from nea_sd.data.location import data_dir as find_data_dir
from nea_sd.data.series import Series, _year_list, detect_jumps, nonpositive_years
from nea_sd.errors import DataError, unknown_name

Dir = str | os.PathLike[str] | None

JUMP_FACTOR = 5.0
# Documented level breaks: (source, measure, subject) -> {first year of new level: reason}.
KNOWN_BREAKS: dict[tuple[str, str, str], dict[int, str]] = {
    ("sipri", "milex_local_currency", "KP"): {
        2003: "DPRK-reported won figures jump 2002->2003 (3,297 -> 50,781 million won; "
        "SOURCES.md): do not compare values across it",
    },
}
ACTOR_ORDER = list(src.ACTORS)


def _dyad_key(subject: str, sep: str) -> tuple[str, str] | None:
    parts = subject.split(sep)
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _sipri(measure: str, subject: str, d: Dir) -> Series:
    table = src.read_sipri(d)
    f = table.frame
    rows = f[(f["measure"] == measure) & (f["code"] == subject)].sort_values("year")
    return Series(
        name="",
        subject=subject,
        years=rows["year"].to_numpy(),
        values=rows["value"].to_numpy(),
        units=src.SIPRI_UNITS[measure],
        source=table.file,
        sha256=table.sha256,
        flags={
            "sipri_estimate": rows["sipri_estimate"].to_numpy(),
            "sipri_highly_uncertain": rows["sipri_highly_uncertain"].to_numpy(),
        },
    )


def _cow(reader: Callable[[Dir], src.Table], unit: str, note: str):
    def build(measure: str, subject: str, d: Dir) -> Series:
        table = reader(d)
        f = table.frame
        rows = f[f["code"] == subject]
        if reader is src.read_cow_prewwi:
            rows = rows[rows["year"] <= src.COW_GBP_LAST_YEAR]
        blank = rows.loc[rows["milex"].isna(), "year"]
        notes = (
            (note,) if blank.empty else (note, f"milex blank in the file for {_year_list(blank)}")
        )
        rows = rows[rows["milex"].notna()].sort_values("year")
        return Series(
            name="",
            subject=subject,
            years=rows["year"].to_numpy(),
            values=rows["milex"].to_numpy(),
            units=unit,
            source=table.file,
            sha256=table.sha256,
            notes=notes,
        )

    return build


def _genron(measure: str, subject: str, d: Dir) -> Series:
    table = src.read_genron(d)
    f = table.frame
    who, about = _dyad_key(subject, "->") or ("", "")
    rows = f[(f["code_respondents"] == who) & (f["code_about"] == about)]
    rows = rows.sort_values("survey_year")
    notes = [f"survey: {rows['survey'].iloc[0]}"] if len(rows) else []
    pairs = zip(rows["survey_year"], rows["note"], strict=True)
    notes += [f"{y}: {n}" for y, n in pairs if isinstance(n, str)]
    return Series(
        name="",
        subject=subject,
        years=rows["survey_year"].to_numpy(),
        values=rows["pct_unfavorable"].to_numpy(),
        units="% unfavourable (unfavorable or relatively unfavorable impression)",
        source=table.file,
        sha256=table.sha256,
        notes=tuple(notes),
    )


def _trade(measure: str, subject: str, d: Dir) -> Series:
    table = src.read_trade(d)
    f = table.frame
    reporter, _ = _dyad_key(subject, "-") or ("", "")
    rows = f[(f["flow"] == measure) & (f["code"] == reporter)].sort_values("year")
    return Series(
        name="",
        subject=subject,
        years=rows["year"].to_numpy(),
        values=rows["value"].to_numpy(),
        units=src.TRADE_UNITS[src.ACTORS[reporter]],
        source=table.file,
        sha256=table.sha256,
        notes=(f"publisher: {rows['publisher'].iloc[0]}; sums of 12 monthly values",),
    )


def _jnto(measure: str, subject: str, d: Dir) -> Series:
    table = src.read_jnto(d)
    f = table.frame
    origin, _ = _dyad_key(subject, "->") or ("", "")
    rows = f[(f["frequency"] == src.JNTO_ANNUAL) & (f["code"] == origin)].sort_values("year")
    return Series(
        name="",
        subject=subject,
        years=rows["year"].to_numpy(),
        values=rows["visitor_arrivals"].to_numpy(),
        units="visitor arrivals per year (persons)",
        source=table.file,
        sha256=table.sha256,
        notes=("JNTO: latest months may be revised (estimate -> provisional -> final)",),
    )


def mid_default_span(subject: str, directory: Dir = None) -> tuple[int, int]:
    """Years both states are in the COW NMC file (system members), 1946 to the MID end 2010."""
    cow = src.read_cow(directory).frame
    a, b = _dyad_key(subject, "-") or ("", "")
    first = max(int(cow.loc[cow["code"] == c, "year"].min()) for c in (a, b))
    return first, src.MID_LAST_YEAR


def _mid(measure: str, subject: str, d: Dir, span: tuple[int, int] | None = None) -> Series:
    table = src.read_mid(d)
    f = table.frame
    a, b = _dyad_key(subject, "-") or ("", "")
    lo, hi = span or mid_default_span(subject, d)
    if lo < 1816 or hi > src.MID_LAST_YEAR:
        raise DataError(
            f"MID data cover 1816-{src.MID_LAST_YEAR}; span {lo}-{hi} for {subject!r} "
            "goes beyond them"
        )
    pair = ((f["code1"] == a) & (f["code2"] == b)) | ((f["code1"] == b) & (f["code2"] == a))
    column = {"onset": "gmlmidonset", "ongoing": "gmlmidongoing"}[measure]
    years = np.arange(lo, hi + 1)
    counts = pd.Series(0.0, index=years)
    rows = f[pair & f["year"].between(lo, hi)]
    counts.loc[rows["year"].to_numpy()] = rows[column].to_numpy(dtype=float)
    return Series(
        name="",
        subject=subject,
        years=years,
        values=counts.to_numpy(),
        units=f"MID {measure} per year (count)",
        source=table.file,
        sha256=table.sha256,
        notes=(
            "dyad-years absent from the file counted as 0 (GML lists only dyad-years with a "
            "dispute); at most one dispute per dyad-year is kept, so counts are 0 or 1",
        ),
    )


def _mid_dyads() -> list[str]:
    pairs = []
    for i, a in enumerate(ACTOR_ORDER):
        pairs += [f"{a}-{b}" for b in ACTOR_ORDER[i + 1 :]]
    return pairs


def _subjects(source: str, d: Dir) -> dict[str, list[str]]:
    """measure -> subjects of one source, read from its file."""
    if source == "sipri":
        f = src.read_sipri(d).frame
        return {m: sorted(f.loc[f["measure"] == m, "code"].unique()) for m in src.SIPRI_UNITS}
    if source == "cow":
        return {"milex": sorted(src.read_cow(d).frame["code"].unique())}
    if source == "cow_prewwi":
        return {"milex": sorted(src.read_cow_prewwi(d).frame["code"].unique())}
    if source == "genron":
        f = src.read_genron(d).frame
        return {"pct_unfavorable": sorted(set(f["code_respondents"] + "->" + f["code_about"]))}
    if source == "trade":
        f = src.read_trade(d).frame
        return {m: sorted(set(f["code"] + "-CN")) for m in src.TRADE_FLOWS}
    if source == "jnto":
        return {"arrivals": sorted(set(src.read_jnto(d).frame["code"] + "->JP"))}
    src.read_mid(d)  # check the file even though the dyads are fixed
    return {"onset": _mid_dyads(), "ongoing": _mid_dyads()}


SOURCE_FILES = {
    "sipri": src.SIPRI_FILE,
    "cow": src.COW_FILE,
    "cow_prewwi": src.PREWWI_FILE,
    "genron": src.GENRON_FILE,
    "trade": src.TRADE_FILE,
    "jnto": src.JNTO_FILE,
    "mid": src.MID_FILE,
}


BUILDERS = {
    "sipri": _sipri,
    "cow": _cow(src.read_cow, src.COW_USD, "COW NMC estimate; methods differ from SIPRI"),
    "cow_prewwi": _cow(
        src.read_cow_prewwi,
        src.COW_GBP,
        "1914 excluded: COW gives it in thousands of current US dollars, not pounds",
    ),
    "genron": _genron,
    "trade": _trade,
    "jnto": _jnto,
    "mid": _mid,
}


def available_series(data_dir: Dir = None) -> tuple[str, ...]:
    """Every selector the data files provide (sources whose file is absent are left out)."""
    folder = find_data_dir(data_dir)
    return tuple(
        f"{source}:{measure}:{subject}"
        for source, name in SOURCE_FILES.items()
        if (folder / name).is_file()
        for measure, subjects in _subjects(source, folder).items()
        for subject in subjects
    )


def _canonical_selector(selector: str) -> str:
    """Accept either order for a non-directed MID dyad."""
    parts = selector.split(":")
    if len(parts) == 3 and parts[0] == "mid":
        pair = _dyad_key(parts[2], "-")
        if pair and all(p in ACTOR_ORDER for p in pair):
            a, b = sorted(pair, key=ACTOR_ORDER.index)
            return f"mid:{parts[1]}:{a}-{b}"
    return selector


def load_series(
    selector: str,
    data_dir: Dir = None,
    *,
    span: tuple[int, int] | None = None,
    complete: bool = False,
) -> Series:
    """Load one series, checked, with gaps, flags, breaks and suspect jumps reported.

    ``span`` restricts to ``[start, end]`` and lists the years missing inside it in the notes;
    ``complete=True`` makes any missing year there a :class:`DataError` instead.
    """
    if selector.strip().startswith("vensim:"):  # a Vensim .tab/.csv dataset (#15)
        return _vensim(selector.strip(), data_dir, span, complete)
    selector = _canonical_selector(selector.strip())
    parts = selector.split(":")
    source = parts[0]
    if len(parts) == 3 and "+" in parts[2]:
        return _summed(selector, data_dir, span, complete)
    if len(parts) != 3 or source not in SOURCE_FILES:
        raise unknown_name("series", selector, available_series(data_dir))
    measure, subject = parts[1:]
    if subject not in _subjects(source, data_dir).get(measure, ()):
        raise unknown_name("series", selector, available_series(data_dir))
    if span is not None:
        span = (int(span[0]), int(span[1]))
        if span[0] > span[1]:
            raise DataError(f"span {span!r} for {selector!r} is inverted (start after end)")
    if source == "mid":
        series = _mid(measure, subject, data_dir, span)
    else:
        series = BUILDERS[source](measure, subject, data_dir)
        if source == "cow_prewwi" and span is not None and span[1] > src.COW_GBP_LAST_YEAR:
            raise DataError(
                f"{selector}: {src.PREWWI_FILE} gives 1914 in {src.COW_USD!r} and "
                f"1900-{src.COW_GBP_LAST_YEAR} in {src.COW_GBP!r}; "
                f"a series has one unit — request a span ending by {src.COW_GBP_LAST_YEAR}"
            )
    return _finish(series, selector, span, complete)


def _vensim(selector: str, data_dir: Dir, span: tuple[int, int] | None, complete: bool) -> Series:
    """``vensim:FILE:NAME``: a column of a Vensim dataset (FILE as given, else in data_dir)."""
    from pathlib import Path

    from nea_sd.data.vensim import dataset_series

    parts = selector.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise DataError(
            f"series {selector!r}: write a Vensim dataset column as vensim:FILE.tab:Variable"
        )
    path = Path(parts[1])
    if not path.is_absolute() and not path.exists():
        path = find_data_dir(data_dir) / path
    series = dataset_series(path, parts[2])
    if span is not None:
        span = (int(span[0]), int(span[1]))
    return _finish(series, series.name, span, complete)


SUMMABLE = ("sipri", "cow", "cow_prewwi", "trade", "jnto")


def _summed(selector: str, data_dir: Dir, span: tuple[int, int] | None, complete: bool) -> Series:
    """Sum of one measure over several subjects, on the years all of them observe.

    A year missing from any part is missing from the sum (never filled); a SIPRI flag on any
    part flags the sum, since the total is then as uncertain as its weakest part.
    """
    source, measure, subjects = selector.split(":")
    parts = [p.strip() for p in subjects.split("+")]
    if source not in SUMMABLE or len(parts) < 2 or not all(parts) or len(set(parts)) < len(parts):
        raise DataError(
            f"series {selector!r}: a sum needs two or more distinct subjects of one source "
            f"({', '.join(SUMMABLE)}), e.g. 'cow_prewwi:milex:FRN+RUS'"
        )
    pieces = [
        load_series(f"{source}:{measure}:{p}", data_dir, span=span, complete=complete)
        for p in parts
    ]
    units = {p.units for p in pieces}
    if len(units) > 1:
        raise DataError(f"series {selector!r}: parts have different units {sorted(units)}")
    years = pieces[0].years
    for piece in pieces[1:]:
        years = np.intersect1d(years, piece.years)
    if not years.size:
        raise DataError(f"series {selector!r}: its parts share no observed year")
    values = sum(p.on_years(years) for p in pieces)
    flags = {}
    for key in sorted({k for p in pieces for k in p.flags}):
        flags[key] = np.any([np.isin(years, p.years[p.flag(key)]) for p in pieces], axis=0)
    dropped = sorted(set().union(*(set(p.years.tolist()) for p in pieces)) - set(years.tolist()))
    notes = [f"sum of {', '.join(parts)}"]
    if dropped:
        notes.append(f"years not observed for every part (left out): {_year_list(dropped)}")
    notes += [f"{p.subject}: {n}" for p in pieces for n in p.notes]
    return Series(
        name=selector,
        subject="+".join(parts),
        years=years,
        values=values,
        units=pieces[0].units,
        source=pieces[0].source,
        sha256=pieces[0].sha256,
        flags=flags,
        notes=tuple(notes),
    )


def _finish(series: Series, selector: str, span: tuple[int, int] | None, complete: bool) -> Series:
    """Name the series, attach documented breaks, restrict to ``span``, then screen what is left."""
    if not len(series):
        raise DataError(f"series {selector!r} has no observations in {series.source}")
    source, measure, subject = selector.split(":")
    known = KNOWN_BREAKS.get((source, measure, subject), {})
    series = replace(series, name=selector, breaks=tuple(sorted(known)))
    if span is not None:
        lo, hi = span
        first, last = series.span
        if hi < first or lo > last:
            raise DataError(
                f"series {selector!r} covers {first}-{last}; requested span {lo}-{hi} "
                "does not overlap it"
            )
        if complete:
            series = series.require_complete(lo, hi)
        else:
            gap = series.missing_years(lo, hi)
            series = series.within(lo, hi)
            if gap:
                note = f"missing inside requested {lo}-{hi}: {_year_list(gap)} (gaps, not filled)"
                series = replace(series, notes=series.notes + (note,))
    notes = list(series.notes)
    notes += [f"level break at {y}: {known[y]}" for y in series.breaks]
    jumps = [y for y in detect_jumps(series, JUMP_FACTOR) if y not in known]
    if jumps:
        notes.append(
            f"suspect jump(s) (more than {JUMP_FACTOR:g}x the previous observation) at "
            f"{_year_list(jumps)}: check before fitting; not treated"
        )
    zeros = nonpositive_years(series) if source != "mid" else ()
    if zeros:
        notes.append(f"value <= 0 in {_year_list(zeros)}: impossible under a log-scale error")
    return replace(series, notes=tuple(notes))


def jnto_monthly(data_dir: Dir = None) -> xr.DataArray:
    """Monthly JNTO arrivals as a DataArray (``origin``, ``month``), coordinate ``time`` in years.

    ``time`` is the middle of the month in decimal years (2019-01 -> 2019.0417), so that
    a monthly count times 12 can be compared with a model flow in persons/year at that time.
    """
    table = src.read_jnto(data_dir)
    f = table.frame
    f = f[f["frequency"] == src.JNTO_MONTHLY]
    wide = f.pivot(index="code", columns="period", values="visitor_arrivals").sort_index(axis=1)
    months = pd.PeriodIndex(wide.columns, freq="M")
    time = months.year + (months.month - 0.5) / 12
    return xr.DataArray(
        wide.to_numpy(dtype=float),
        dims=("origin", "month"),
        coords={
            "origin": wide.index.to_numpy(),
            "month": months.to_timestamp().to_numpy(),
            "time": ("month", np.asarray(time, dtype=float)),
        },
        name="visitor_arrivals",
        attrs={
            "units": "visitor arrivals per month (persons)",
            "destination": "JP",
            "source": table.file,
            "sha256": table.sha256,
        },
    )
