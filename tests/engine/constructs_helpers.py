"""Run a small model of our own in the batch engine and in PySD; list what differs."""

from __future__ import annotations

import warnings
from pathlib import Path

import xarray as xr
from batch_reference import max_relative_difference

from nea_sd.engine.batch import compile_model
from nea_sd.model import load_model
from nea_sd.model.load import frame_to_dataset

RTOL = 1e-9


def pysd_defaults(path: Path, names: list[str]) -> xr.Dataset:
    """PySD's trajectories of ``names`` at the model's defaults, full horizon."""
    pysd_model = load_model(path).pysd_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pysd_model.run(return_columns=names, flatten_output=False)
    return frame_to_dataset(frame, names)


def differences(path: Path, backend: str = "numpy") -> dict[str, float]:
    """Variable -> largest relative difference from PySD, for those above :data:`RTOL`."""
    batch = compile_model(path)
    assert not batch.unsupported(), batch.unsupported()
    names = batch.variable_names
    ours = batch.simulate({}, names, backend=backend)
    reference = pysd_defaults(path, names)
    found = {n: max_relative_difference(ours[n].isel(run=0), reference[n]) for n in names}
    return {n: d for n, d in found.items() if d > RTOL}
