"""An annual data series with its provenance, flags, gaps and level breaks kept visible.

Calibration compares model output with these; everything a fit must treat specially
(SIPRI estimates, missing years, a change of level such as DPRK's 2003 won figures) travels
with the numbers instead of being filled or smoothed away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import xarray as xr

from nea_sd.errors import DataError, InvalidValueError


def _frozen(values: Iterable, dtype: type) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Series:
    """One observed annual series.

    Fields:
        name: selector that loads it again, e.g. ``"sipri:milex_constant_2022_usd:CN"``.
        subject: actor code (``"CN"``) or dyad (``"JP->CN"`` respondents→about,
            ``"JP-CN"`` reporter-partner or a non-directed pair).
        years: observed years only, strictly increasing; a missing year is absent, not NaN.
        values: finite numbers, one per year, in ``units``.
        units: unit string exactly as documented in SOURCES.md.
        source: data file name; ``sha256`` its content hash at load time.
        flags: boolean arrays aligned with ``years`` (``sipri_estimate``,
            ``sipri_highly_uncertain``, ...).
        breaks: first years of a new level (documented breaks); values must not be compared
            across them — use :meth:`segments` or :func:`split_at_break`.
        notes: treatments applied and issues found on load (gaps, suspect jumps, ...).
    """

    name: str
    subject: str
    years: np.ndarray
    values: np.ndarray
    units: str
    source: str
    sha256: str
    flags: Mapping[str, np.ndarray] = field(default_factory=dict)
    breaks: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        years = _frozen(self.years, np.int64)
        values = _frozen(self.values, np.float64)
        if years.ndim != 1 or years.shape != values.shape:
            raise InvalidValueError(
                f"series {self.name!r}: years {years.shape} and values {values.shape} differ"
            )
        if np.any(np.diff(years) <= 0):
            raise DataError(f"series {self.name!r}: years are not strictly increasing")
        if not np.all(np.isfinite(values)):
            bad = years[~np.isfinite(values)].tolist()
            raise DataError(f"series {self.name!r}: non-finite values in {bad}; drop them")
        flags = {}
        for key, flag in self.flags.items():
            flag = _frozen(flag, bool)
            if flag.shape != years.shape:
                raise InvalidValueError(f"series {self.name!r}: flag {key!r} has wrong length")
            flags[key] = flag
        object.__setattr__(self, "years", years)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "flags", MappingProxyType(flags))
        object.__setattr__(self, "breaks", tuple(int(b) for b in self.breaks))
        object.__setattr__(self, "notes", tuple(self.notes))

    # -- shape --------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.years.size)

    @property
    def span(self) -> tuple[int, int]:
        """First and last observed year."""
        if not len(self):
            raise DataError(f"series {self.name!r} has no observations")
        return int(self.years[0]), int(self.years[-1])

    def missing_years(self, start: int | None = None, end: int | None = None) -> tuple[int, ...]:
        """Years in ``[start, end]`` (default: the series' own span) without an observation."""
        first, last = self.span
        lo = first if start is None else int(start)
        hi = last if end is None else int(end)
        wanted = np.arange(lo, hi + 1)
        return tuple(int(y) for y in wanted[~np.isin(wanted, self.years)])

    def require_complete(self, start: int, end: int) -> Series:
        """This series restricted to ``[start, end]``; a missing year there is a DataError."""
        missing = self.missing_years(start, end)
        if missing:
            raise DataError(
                f"series {self.name!r} ({self.source}) has no value for "
                f"{_year_list(missing)} inside {start}-{end}; "
                "fit on the observed years only (gaps are allowed by the error models) "
                "or choose another period"
            )
        return self.within(start, end)

    def within(self, start: int | None = None, end: int | None = None) -> Series:
        """A new series with the observations in ``[start, end]`` (gaps stay gaps)."""
        lo = -(10**9) if start is None else int(start)
        hi = 10**9 if end is None else int(end)
        keep = (self.years >= lo) & (self.years <= hi)
        return replace(
            self,
            years=self.years[keep],
            values=self.values[keep],
            flags={k: v[keep] for k, v in self.flags.items()},
            breaks=tuple(b for b in self.breaks if lo < b <= hi),
        )

    def on_years(self, years: Iterable[int]) -> np.ndarray:
        """Values on ``years`` with NaN where there is no observation (for aligning to a model)."""
        years = np.asarray(list(years), dtype=np.int64)
        out = np.full(years.shape, np.nan)
        where = np.searchsorted(self.years, years)
        where = np.clip(where, 0, max(len(self) - 1, 0))
        hit = (self.years[where] == years) if len(self) else np.zeros(years.shape, bool)
        out[hit] = self.values[where[hit]]
        return out

    def flag(self, name: str) -> np.ndarray:
        """Boolean flag array (all False when the source has no such flag)."""
        return self.flags.get(name, np.zeros(self.years.shape, bool))

    def segments(self) -> tuple[Series, ...]:
        """The series cut at each level break; each piece is comparable within itself."""
        pieces = [self]
        for year in self.breaks:
            before, after = split_at_break(pieces.pop(), year)
            pieces += [before, after]
        return tuple(pieces)

    # -- presentation -------------------------------------------------------------------
    def to_dataarray(self) -> xr.DataArray:
        """The series as a DataArray over ``year`` with flags as coordinates."""
        coords = {"year": self.years}
        coords.update({k: ("year", v) for k, v in self.flags.items()})
        return xr.DataArray(
            self.values,
            dims=("year",),
            coords=coords,
            name=self.name,
            attrs={
                "units": self.units,
                "subject": self.subject,
                "source": self.source,
                "sha256": self.sha256,
                "breaks": list(self.breaks),
                "missing_years": list(self.missing_years()) if len(self) else [],
                "notes": list(self.notes),
            },
        )

    def __repr__(self) -> str:
        span = "empty" if not len(self) else "{}-{}".format(*self.span)
        return f"<Series {self.name!r}: {len(self)} years {span}, {self.units}>"

    def __str__(self) -> str:
        lines = [repr(self)[1:-1], f"  source: {self.source} (sha256 {self.sha256[:12]}…)"]
        if len(self) and self.missing_years():
            lines.append(f"  missing (gaps, not filled): {_year_list(self.missing_years())}")
        for key, flag in self.flags.items():
            if flag.any():
                lines.append(f"  {key}: {int(flag.sum())} of {len(self)} years")
        if self.breaks:
            lines.append(f"  level breaks (new level starts): {list(self.breaks)}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def split_at_break(series: Series, year: int) -> tuple[Series, Series]:
    """Cut ``series`` into the years before ``year`` and from ``year`` on, noting the cut."""
    if not len(series) or not series.years[0] < year <= series.years[-1]:
        raise InvalidValueError(
            f"break year {year!r} is not inside series {series.name!r} "
            f"({'empty' if not len(series) else '{}-{}'.format(*series.span)})"
        )
    note = f"split at level break {year}"
    before = series.within(None, year - 1)
    after = series.within(year, None)
    return (
        replace(before, name=f"{series.name}<{year}", notes=before.notes + (note,)),
        replace(after, name=f"{series.name}>={year}", notes=after.notes + (note,)),
    )


def detect_jumps(series: Series, factor: float = 5.0) -> tuple[int, ...]:
    """Years whose value differs from the previous observation by more than ``factor`` times.

    A screening for level breaks and outliers, to be reported — not a proof of either;
    pairs with a non-positive value are skipped (report those with :func:`nonpositive_years`).
    """
    if factor <= 1:
        raise InvalidValueError(f"jump factor must exceed 1, got {factor!r}")
    v = series.values
    prev, curr = v[:-1], v[1:]
    ok = (prev > 0) & (curr > 0)
    ratio = np.ones_like(curr)
    ratio[ok] = curr[ok] / prev[ok]
    jump = ok & ((ratio > factor) | (ratio < 1 / factor))
    return tuple(int(y) for y in series.years[1:][jump])


def nonpositive_years(series: Series) -> tuple[int, ...]:
    """Years with a value ≤ 0 (impossible under a log-normal error model)."""
    return tuple(int(y) for y in series.years[series.values <= 0])


def _year_list(years: Iterable[int]) -> str:
    """Compact year list: 1949-1957, 1959, 2002-2022."""
    years = sorted(int(y) for y in years)
    runs: list[str] = []
    start = prev = None
    for y in years + [None]:
        if start is not None and y == prev + 1:
            prev = y
            continue
        if start is not None:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = y
    return ", ".join(runs)
