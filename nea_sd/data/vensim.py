"""Vensim datasets: write a run as a tab-separated ``.tab``, read ``.tab``/``.csv`` as series.

The layout is the one Vensim writes and imports (``design/VENSIM.md``; the ``output.tab``
files of the reference test models): a header row ``Time`` followed by variable names, with
subscripted elements spelled ``Name[A,B]``, then one row per saved time ("time running
down"). Vensim also writes and imports the transpose ("time running across": the first
column holds ``Time`` and the names, the first row the times); the reader accepts both, any
line ending (Vensim for macOS writes CR), and blank or ``:NA:`` cells as missing values.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from nea_sd.errors import DataError, OutputPathError, unknown_name
from nea_sd.sketch.parse import canonical

MISSING = {"", ":na:", "na", "nan"}


def write_tab(dataset: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write one run of ``dataset`` as a Vensim tab-separated dataset (time running down).

    Numbers are written with ``repr`` so that reading the file back gives the same floats.
    """
    from nea_sd.outputs import atomic_write_text, wide_frame

    target = Path(path)
    if "run" in dataset.dims:
        if dataset.sizes["run"] != 1:
            raise OutputPathError(
                f"output file {str(path)!r}: a Vensim .tab dataset holds one run, this result "
                f"has {dataset.sizes['run']}; write .nc or .csv, or one run per .tab file"
            )
        dataset = dataset.isel(run=0, drop=True)
    frame = wide_frame(dataset)
    names = ["Time", *[c for c in frame.columns if c != "time"]]
    columns = [frame["time"].to_numpy(float)] + [frame[c].to_numpy(float) for c in names[1:]]
    lines = ["\t".join(names)]
    for row in zip(*columns, strict=True):
        lines.append("\t".join(_number(v) for v in row))
    text = "\n".join(lines) + "\n"
    atomic_write_text(target, text, what="Vensim dataset")
    return target


def _number(value: float) -> str:
    if not math.isfinite(value):
        return ":NA:"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(float(value))


@dataclass(frozen=True)
class VensimDataset:
    """Columns of a Vensim dataset: ``times`` and, per variable name, values (NaN = missing)."""

    path: Path
    times: np.ndarray
    columns: dict[str, np.ndarray]
    sha256: str

    def names(self) -> list[str]:
        return list(self.columns)

    def get(self, name: str) -> tuple[str, np.ndarray]:
        """The file's spelling of ``name`` (matched as Vensim does) and its values."""
        keys = {canonical(n): n for n in self.columns}
        spelled = keys.get(canonical(name))
        if spelled is None:
            raise unknown_name(f"variable of {self.path.name}", name, self.columns)
        return spelled, self.columns[spelled]


def read_dataset(path: str | os.PathLike[str]) -> VensimDataset:
    """Read a Vensim ``.tab`` (tab-separated) or ``.csv`` dataset in either orientation."""
    from nea_sd.model import file_sha256

    source = Path(path)
    if source.suffix.lower() not in (".tab", ".csv"):
        raise DataError(f"dataset {str(path)!r} is not a Vensim .tab or .csv file")
    try:
        raw = source.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise DataError(f"dataset {str(path)!r} cannot be read: {exc.strerror}") from None
    delimiter = "\t" if source.suffix.lower() == ".tab" else ","
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    rows = [
        r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)
    ]
    if len(rows) < 2 or not rows[0] or rows[0][0].strip().lower() != "time":
        raise DataError(
            f"dataset {str(path)!r} does not start with a 'Time' cell; a Vensim dataset has "
            f"'Time' first, then variable names across (or down) and one time per row (column)"
        )
    across = _is_number(rows[0][1]) if len(rows[0]) > 1 else False
    table = [list(col) for col in zip(*_padded(rows), strict=True)] if across else _padded(rows)
    header = [h.strip() for h in table[0]]
    body = table[1:]
    times = np.array([_cell(r[0], source, "Time", i + 2) for i, r in enumerate(body)], dtype=float)
    if np.isnan(times).any() or np.any(np.diff(times) <= 0):
        raise DataError(
            f"dataset {str(path)!r}: the Time values are missing or not increasing; "
            f"write one strictly increasing time per row"
        )
    columns = {}
    for j, name in enumerate(header[1:], start=1):
        if not name:
            raise DataError(f"dataset {str(path)!r}: column {j + 1} has no variable name")
        columns[name] = np.array(
            [_cell(r[j], source, name, i + 2) for i, r in enumerate(body)], dtype=float
        )
    return VensimDataset(source, times, columns, file_sha256(source))


def _padded(rows: list[list[str]]) -> list[list[str]]:
    width = max(len(r) for r in rows)
    return [r + [""] * (width - len(r)) for r in rows]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(text: str, path: Path, name: str, line: int) -> float:
    stripped = text.strip()
    if stripped.lower() in MISSING:
        return math.nan
    try:
        return float(stripped)
    except ValueError:
        raise DataError(
            f"dataset {str(path)!r}: value {stripped!r} of {name!r} (entry {line}) is not a "
            f"number; write a number, or leave the cell blank for a missing value"
        ) from None


def dataset_series(path: str | os.PathLike[str], name: str):  # -> nea_sd.data.Series
    """One column of a Vensim dataset as an annual :class:`Series` (``vensim:FILE:NAME``).

    A series is annual: the values at whole-year times are kept, missing cells dropped.
    """
    from nea_sd.data.series import Series

    data = read_dataset(path)
    spelled, values = data.get(name)
    whole = np.isclose(data.times, np.round(data.times)) & np.isfinite(values)
    if not whole.any():
        raise DataError(
            f"dataset {str(path)!r}: {spelled!r} has no value at a whole year; a calibration "
            f"series is annual"
        )
    years = np.round(data.times[whole]).astype(np.int64)
    dropped = int((~whole).sum())
    notes = (f"{dropped} value(s) off whole years or missing dropped",) if dropped else ()
    return Series(
        name=f"vensim:{data.path.name}:{spelled}",
        subject=spelled,
        years=years,
        values=values[whole],
        units="",
        source=data.path.name,
        sha256=data.sha256,
        notes=notes,
    )
