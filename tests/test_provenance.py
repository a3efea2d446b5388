"""The floating-point environment in provenance: what numpy and OpenBLAS report they use,
and a replay recipe that makes a fresh process compute that way (checked in a subprocess:
numpy and OpenBLAS pick their kernels when they load)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from nea_sd.provenance import numerics, package_versions, provenance_attrs, replay_env

CHILD = "import json; from nea_sd.provenance import numerics; print(json.dumps(numerics()))"


def child_numerics(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NPY_", "OPENBLAS_"))}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_record_names_numpys_simd_target_and_each_blas_kernel():
    record = numerics()
    assert record["numpy_simd"] not in ("", "unknown")
    assert record["blas"], "scipy and numpy load a BLAS; threadpoolctl must see it"
    for lib in record["blas"].values():
        assert lib["kernel"] and lib["threads"] >= 1 and lib["version"]
    assert json.loads(provenance_attrs(model_path="m", model_sha256="h", engine="e")["numerics"])
    assert {"numba", "llvmlite"} <= set(package_versions())


def test_replaying_a_lower_environment_makes_a_fresh_process_compute_that_way():
    """A record of a more modest machine (numpy one SIMD target down, OpenBLAS on the
    Haswell kernel with one thread) replayed here: the child reports exactly that."""
    here = numerics()
    from numpy._core._multiarray_umath import __cpu_features__

    from nea_sd.provenance import _numpy_targets

    targets = _numpy_targets()
    if here["numpy_simd"] not in targets:
        pytest.skip(f"numpy dispatches to no SIMD target here ({here['numpy_simd']!r})")
    if not any(lib["library"] == "openblas" for lib in here["blas"].values()):
        pytest.skip("no OpenBLAS here: its kernel cannot be chosen")
    if not __cpu_features__.get("AVX2"):
        pytest.skip("no AVX2 here: OpenBLAS cannot run its Haswell kernel")
    i = targets.index(here["numpy_simd"])
    lower = targets[i - 1] if i else "baseline"
    modest = {
        "numpy_simd": lower,
        "blas": {k: {**v, "kernel": "Haswell", "threads": 1} for k, v in here["blas"].items()},
    }
    env = replay_env(modest)
    assert set(env) == {"NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS"}
    child = child_numerics(env)
    assert child["numpy_simd"] == lower
    assert {b["kernel"] for b in child["blas"].values()} == {"Haswell"}
    assert {b["threads"] for b in child["blas"].values()} == {1}
    # and the child's own replay recipe says the same
    assert child["replay"] == " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())


def test_replaying_this_environment_changes_nothing():
    here = numerics()
    child = child_numerics(replay_env(here))
    assert child["numpy_simd"] == here["numpy_simd"]
    assert child["blas"] == here["blas"]
