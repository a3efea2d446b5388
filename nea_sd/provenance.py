"""Provenance: what produced a result (model hash, parameters, seed, package versions).

Every Dataset and file nea_sd writes carries these attributes so that a figure or table can be
traced back and reproduced. Values are strings (JSON where structured) so netCDF keeps them.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from typing import Any

import numpy as np

PACKAGES = ("nea-sd", "pysd", "numpy", "scipy", "xarray", "pandas", "SALib", "netCDF4")
PACKAGES += ("ultranest", "nautilus-sampler", "smcpy", "emcee")  # the posteriors' samplers


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide our numbers."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Stable JSON text of nested parameters (arrays become lists, keys sorted)."""
    return json.dumps(_jsonable(value), sort_keys=True)


def provenance_attrs(
    *,
    model_path: str,
    model_sha256: str,
    engine: str,
    overrides: Any = None,
    scenarios: list[str] | None = None,
    seed: int | None = None,
) -> dict[str, str]:
    """Attributes for a result Dataset; ``seed`` is recorded even when it is 0."""
    attrs = {
        "model_file": model_path,
        "model_sha256": model_sha256,
        "engine": engine,
        "parameter_overrides": to_json(overrides if overrides is not None else {}),
        "package_versions": to_json(package_versions()),
    }
    if scenarios is not None:
        attrs["scenarios"] = to_json(scenarios)
    if seed is not None:
        attrs["seed"] = str(int(seed))
    return attrs
