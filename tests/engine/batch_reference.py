"""Read Vensim's canonical output (``output.tab`` / ``output.csv``) and compare a Dataset to it."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr


def read_output(folder: Path) -> pd.DataFrame:
    """Vensim output as a frame indexed by time, one column per (subscripted) variable."""
    tab, csv = folder / "output.tab", folder / "output.csv"
    if tab.exists():
        frame = pd.read_csv(tab, sep="\t", index_col=0, encoding_errors="replace")
    else:
        frame = pd.read_csv(csv, index_col=0, encoding_errors="replace")
    frame.columns = [str(c).strip() for c in frame.columns]
    if str(frame.index.name).strip().lower() != "time":
        frame = frame.T  # some files are written one row per variable
    frame.index = frame.index.astype(float)
    return frame


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").replace('"', "").split()).lower()


def _split(column: str) -> tuple[str, list[str]]:
    match = re.fullmatch(r"(.*?)\[(.*)\]", column)
    if not match:
        return column, []
    return match.group(1), [s.strip() for s in match.group(2).split(",")]


def compare(ds: xr.Dataset, expected: pd.DataFrame, rtol: float, atol: float = 0.0) -> list[str]:
    """Mismatches between a single-run Dataset and Vensim's output (empty when they agree)."""
    by_key = {_key(str(name)): name for name in ds.data_vars}
    times = ds["time"].values
    problems: list[str] = []
    checked = 0
    for column in expected.columns:
        name, subs = _split(column)
        var = by_key.get(_key(name))
        if var is None:
            continue
        values = ds[var].isel(run=0)
        if subs:
            selection = {}
            for dim, sub in zip(values.dims[1:], subs, strict=False):
                labels = {_key(str(v)): v for v in values[dim].values}
                selection[dim] = labels[_key(sub)]
            values = values.sel(selection)
        want = expected[column].to_numpy(dtype=float)
        where = np.isin(np.round(expected.index.to_numpy(), 9), np.round(times, 9))
        got = values.sel(time=expected.index.to_numpy()[where], method="nearest").to_numpy()
        ok = np.isclose(got, want[where], rtol=rtol, atol=atol, equal_nan=True)
        checked += 1
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            problems.append(
                f"{column}: at time {expected.index[where][bad]} got {got[bad]!r}, "
                f"Vensim {want[where][bad]!r}"
            )
    if checked == 0:
        problems.append("no column of Vensim's output matched a variable")
    return problems


def pysd_runs(model, sets: dict, runs: list[int], names: list[str], **kwargs) -> list[xr.Dataset]:
    """Reference runs through PySD: one Dataset per run index of ``sets``."""
    from nea_sd.engine.batch.sampling import run_slice
    from nea_sd.model.load import frame_to_dataset

    pysd_model = model.pysd_model()  # reload once: the same names are overridden every run
    out = []
    for run in runs:
        params = {}
        for name, value in run_slice(sets, run).items():
            param = model.parameters[name]
            if param.dims:
                coords = {d: list(model.subscripts[d]) for d in param.dims}
                value = xr.DataArray(value, coords=coords, dims=param.dims)
            params[param.py_name] = value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PySD warns on every lookup extrapolation
            frame = pysd_model.run(
                params=params, return_columns=names, flatten_output=False, **kwargs
            )
        out.append(frame_to_dataset(frame, names))
    return out


def max_relative_difference(batch: xr.DataArray, reference: xr.DataArray) -> float:
    """Largest ``|a - b| / |b|`` with a floor of 1e-12 of the variable's scale near zero."""
    a = np.asarray(batch.transpose(*reference.dims).values, dtype=float)
    b = np.asarray(reference.values, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    both_nan = np.isnan(a) & np.isnan(b)
    scale = np.nanmax(np.abs(b)) if np.isfinite(b).any() else 1.0
    floor = 1e-12 * max(scale, 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(b), floor)
    rel = np.where(both_nan | (a == b), 0.0, rel)
    return float(np.nanmax(np.where(np.isnan(rel), np.inf, rel))) if rel.size else 0.0
