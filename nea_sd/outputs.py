"""Writing results: checked output paths, netCDF/CSV of Datasets, nothing half-written.

Paths are checked before a long job starts, and files are written to a temporary name and
renamed, so an error or an interrupt never leaves a truncated file behind.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.errors import OutputPathError

SUFFIXES = (".nc", ".csv", ".tab")


def check_output_file(path: str | os.PathLike[str], suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """Validate a file path we are about to write (suffix, folder writable)."""
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise OutputPathError(
            f"output file {str(path)!r} has an unknown type; use one of: {', '.join(suffixes)}"
        )
    if target.is_dir():
        raise OutputPathError(f"output path {str(path)!r} is a directory; give a file name")
    check_output_dir(target.parent if str(target.parent) else Path("."))
    return target


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the folder if needed and prove it is writable."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".nea_sd_probe_"):
            pass
    except OSError as exc:
        raise OutputPathError(
            f"cannot write to {str(path)!r}: {exc.strerror or exc}; choose another location"
        ) from None
    return folder


def _atomic(target: Path, write) -> None:  # type: ignore[no-untyped-def]
    temp = target.with_name(f".{target.name}.partial")
    try:
        write(temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_dataset(dataset: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``dataset`` as netCDF (``.nc``), a long CSV table (``.csv``) or a Vensim ``.tab``."""
    target = check_output_file(path)
    if target.suffix.lower() == ".nc":
        _atomic(target, lambda tmp: dataset.to_netcdf(tmp, engine="netcdf4"))
    elif target.suffix.lower() == ".tab":  # Vensim dataset layout (#15)
        from nea_sd.data.vensim import write_tab

        write_tab(dataset, target)
    else:
        frame = wide_frame(dataset)
        _atomic(target, lambda tmp: frame.to_csv(tmp, index=False))
    return target


def wide_frame(dataset: xr.Dataset) -> pd.DataFrame:
    """One row per (run, time), one column per variable element, named as Vensim does
    (``Security trust[US,CN]``)."""
    index_dims = [d for d in ("run", "time") if d in dataset.dims]
    columns: dict[str, np.ndarray] = {}
    for name, variable in dataset.data_vars.items():
        extra = [d for d in variable.dims if d not in index_dims]
        ordered = variable.transpose(*[d for d in index_dims if d in variable.dims], *extra)
        if not extra:
            columns[str(name)] = ordered.values.reshape(-1)
            continue
        for combo in itertools.product(*(ordered[d].values for d in extra)):
            label = f"{name}[{','.join(str(c) for c in combo)}]"
            columns[label] = ordered.sel(dict(zip(extra, combo, strict=True))).values.reshape(-1)
    index = pd.MultiIndex.from_product([dataset[d].values for d in index_dims], names=index_dims)
    return pd.DataFrame(columns, index=index).reset_index()
