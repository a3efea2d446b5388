"""Checks run on every data file as it is read: each failure names the file and line.

Lines are counted as in an editor (the header is line 1), so a message can be acted on
by opening the CSV. Nothing here repairs data; it either passes or raises DataError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from nea_sd.errors import DataError
from nea_sd.model.cache import file_sha256


def line_of(frame: pd.DataFrame, index: object) -> int:
    """Editor line number of a row read by :func:`read_table` (header is line 1)."""
    return int(frame.loc[index, "_line"])


def read_table(path: Path, columns: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """Read a CSV as text, check its header and return it with its SHA-256.

    Every cell stays a string (empty cells become NaN) so that conversions can name the
    bad cell; the ``_line`` column holds each row's line number.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path.name}: the file is empty (no header, no rows); restore it from the data "
            "release (see SOURCES.md)"
        ) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: cannot be read as CSV ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path.name}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"header has {list(frame.columns)!r}"
        )
    if frame.empty:
        raise DataError(
            f"{path.name}: has a header but no rows; restore it from the data release "
            "(see SOURCES.md)"
        )
    frame = frame[list(columns)].copy()
    frame["_line"] = np.arange(2, len(frame) + 2)
    return frame, file_sha256(path)


def to_numbers(frame: pd.DataFrame, column: str, file: str, *, allow_blank: bool) -> pd.Series:
    """The column as floats; a non-numeric cell (or a blank where none is allowed) is an error."""
    text = frame[column]
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() & text.notna()
    if not allow_blank:
        bad |= text.isna()
    if bad.any():
        index = bad[bad].index[0]
        raise DataError(
            f"{file} line {line_of(frame, index)}: {column} is {text[index]!r}, not a number"
            + ("" if allow_blank else " (blank cells are not allowed here)")
        )
    return numbers.astype(float)


def to_years(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    """Integer years; a fractional or non-numeric year is an error."""
    numbers = to_numbers(frame, column, file, allow_blank=False)
    bad = numbers != np.round(numbers)
    if bad.any():
        index = bad[bad].index[0]
        raise DataError(f"{file} line {line_of(frame, index)}: {column} {frame[column][index]!r}")
    return numbers.astype(np.int64)


def check_known(frame: pd.DataFrame, column: str, allowed: Iterable[str], file: str) -> None:
    """Every value of ``column`` is one of ``allowed`` (catches renamed measures/countries)."""
    allowed = list(allowed)
    bad = ~frame[column].isin(allowed)
    if bad.any():
        index = bad[bad].index[0]
        raise DataError(
            f"{file} line {line_of(frame, index)}: {column} {frame[column][index]!r} is not "
            f"documented; expected one of {', '.join(repr(a) for a in allowed)}"
        )


def check_units(
    frame: pd.DataFrame,
    column: str,
    expected: Callable[[pd.Series], str],
    file: str,
) -> None:
    """Each row's unit equals the documented unit for that row (see SOURCES.md)."""
    for index, row in frame.iterrows():
        want = expected(row)
        if row[column] != want:
            raise DataError(
                f"{file} line {line_of(frame, index)}: unit {row[column]!r} differs from the "
                f"documented {want!r} (see SOURCES.md); refusing to mix units"
            )


def check_binary(frame: pd.DataFrame, columns: Sequence[str], file: str) -> None:
    """Flag columns hold only 0 or 1."""
    for column in columns:
        bad = ~frame[column].isin(["0", "1"])
        if bad.any():
            index = bad[bad].index[0]
            raise DataError(
                f"{file} line {line_of(frame, index)}: flag {column} is "
                f"{frame[column][index]!r}; expected '0' or '1'"
            )


def check_unique(frame: pd.DataFrame, keys: Sequence[str], file: str) -> None:
    """No two rows share ``keys`` (a duplicated year would silently double-count)."""
    dup = frame.duplicated(list(keys), keep="first")
    if dup.any():
        index = dup[dup].index[0]
        what = ", ".join(f"{k}={frame[k][index]!r}" for k in keys)
        raise DataError(f"{file} line {line_of(frame, index)}: duplicate row for {what}")


def check_range(
    values: pd.Series, frame: pd.DataFrame, low: float, high: float, what: str, file: str
) -> None:
    """Values lie in ``[low, high]`` (blank cells are ignored)."""
    bad = values.notna() & ((values < low) | (values > high))
    if bad.any():
        index = bad[bad].index[0]
        raise DataError(
            f"{file} line {line_of(frame, index)}: {what} {float(values[index])!r} outside "
            f"[{low:g}, {high:g}]"
        )
