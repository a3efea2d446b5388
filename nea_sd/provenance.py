"""Provenance: what produced a result (model hash, parameters, seed, package versions).

Every Dataset and file nea_sd writes carries these attributes so that a figure or table can be
traced back and reproduced. Values are strings (JSON where structured) so netCDF keeps them.
"""

from __future__ import annotations

import functools
import json
import platform
import shlex
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

PACKAGES = ("nea-sd", "pysd", "numpy", "scipy", "xarray", "pandas", "SALib", "netCDF4")
PACKAGES += ("ultranest", "nautilus-sampler", "smcpy", "emcee")  # the posteriors' samplers
PACKAGES += ("numba", "llvmlite")  # the batch engine's compiled backend


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide our numbers."""
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    """Read once per process: every batch-engine call stamps its Dataset, and reading 14
    packages' metadata costs about 6 ms, a few seconds over a fit's thousand engine calls."""
    versions = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)


def numerics() -> dict[str, Any]:
    """The floating-point environment that decides a result's last bits: numpy's SIMD kernels
    (exp, log, sums; chosen per CPU when numpy loads), each BLAS library's kernel and threads
    (the linear algebra inside scipy's least squares; chosen per CPU), and the platform (its C
    library's maths for the compiled engine); ``replay``: the environment variables that make
    another machine compute the same way (:func:`replay_env`).

    Why it is recorded: the same command, packages and data give the same numbers on one
    machine, but a multistart fit on a rugged likelihood amplifies last-bit differences into
    different optimiser paths, so on another CPU some starts end in other optima.
    """
    import scipy.linalg  # noqa: F401 - loads scipy's BLAS so threadpoolctl sees it
    from threadpoolctl import threadpool_info

    blas = {}
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        path = Path(str(lib.get("filepath", "unknown")))
        owner = path.parent.name  # wheels bundle their BLAS in <package>.libs
        blas[owner.removesuffix(".libs") if owner.endswith(".libs") else path.name] = {
            "library": str(lib.get("internal_api")),
            "version": str(lib.get("version")),
            "kernel": str(lib.get("architecture", "unknown")),
            "threads": int(lib.get("num_threads", 0)),
        }
    record: dict[str, Any] = {
        "platform": platform.platform(),
        "numpy_simd": _numpy_simd(),
        "blas": blas,
    }
    record["replay"] = " ".join(f"{k}={shlex.quote(v)}" for k, v in replay_env(record).items())
    return record


def replay_env(record: Mapping[str, Any]) -> dict[str, str]:
    """Environment variables under which this machine computes like the one a :func:`numerics`
    ``record`` describes: numpy's dispatch capped at the recorded SIMD target, OpenBLAS on the
    recorded kernel and thread count (when every OpenBLAS agrees). They can only take
    features away: a CPU without the recorded target cannot replay it."""
    env: dict[str, str] = {}
    level = str(record.get("numpy_simd", "unknown"))
    targets = _numpy_targets()
    if level in targets:
        above = targets[targets.index(level) + 1 :]
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(above)
    elif level == "baseline":
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(targets)
    libs = [b for b in dict(record.get("blas", {})).values() if b.get("library") == "openblas"]
    kernels = {str(b.get("kernel")) for b in libs}
    threads = {int(b.get("threads", 0)) for b in libs}
    if len(kernels) == 1 and "unknown" not in kernels:
        env["OPENBLAS_CORETYPE"] = kernels.pop()
    if len(threads) == 1 and 0 not in threads:
        env["OPENBLAS_NUM_THREADS"] = str(threads.pop())
    return {k: v for k, v in env.items() if v}


def _numpy_targets() -> list[str]:
    """numpy's dispatch targets in rising order (empty when numpy does not say)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:
        return []
    return list(__cpu_dispatch__)


def _numpy_simd() -> str:
    """The highest SIMD target numpy dispatches to here (``NPY_DISABLE_CPU_FEATURES`` lowers
    it); numpy has no public accessor, so read its module attributes and say so if absent."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2 or another layout
        return "unknown"
    active = [t for t in _numpy_targets() if __cpu_features__.get(t)]
    return active[-1] if active else "baseline"


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
        "numerics": to_json(numerics()),
    }
    if scenarios is not None:
        attrs["scenarios"] = to_json(scenarios)
    if seed is not None:
        attrs["seed"] = str(int(seed))
    return attrs
