"""Two copies of a compiled model, each with its own kernel form, run on the same sets: the
harness behind the bit-for-bit tests of the block and lane kernels against the single one."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.model import load_model


def with_kernels(path: Path, *builders: Callable[[Any], Any]) -> list[Any]:
    """One copy of the model's ``BatchModel`` per builder, its kernel built by that builder."""
    batch = compile_model(path)
    compiled = batch._numba_model()
    copies = []
    for make in builders:
        other = copy.copy(batch)  # not the shared object: leave its kernel alone
        other._kernel, other._kernel_ready = make(compiled), False
        copies.append(other)
    return copies


def every_variable(batches: list[Any], path: Path, n: int, seed: int) -> list[Any]:
    """Every variable of ``n`` within-range runs from each copy (non-finite runs kept)."""
    sets = sample_within_ranges(load_model(path).parameters, n, seed=seed)
    names = batches[0].variable_names
    return [b.simulate(sets, names, backend="numba", nonfinite="nan") for b in batches]


def assert_identical(a: Any, b: Any) -> None:
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
