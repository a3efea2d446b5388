"""The block kernel (separately compiled blocks, the compiled backend's default) computes
exactly what the single-function kernel computes, loads from numba's cache in a new process,
and falls back to the single kernel when the generated code does not split."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_forms import assert_identical, every_variable, with_kernels
from synthetic_models import CONSTRUCTS, write

from nea_sd.engine.batch import blocks, compile_model
from nea_sd.engine.batch.kernel import SPLIT_LOOPS, build, build_blocks, build_single, loop_count
from nea_sd.errors import InvalidValueError

pytest.importorskip("numba")

MODELS = Path(__file__).parents[2] / "models"


def _both(path: Path, n: int, seed: int) -> list[object]:
    """Every variable of ``n`` within-range runs, from the single kernel and from the blocks."""
    single, split = with_kernels(path, build_single, build_blocks)
    assert split._kernel.positions is not None, "the model did not split into blocks"
    return every_variable([single, split], path, n, seed)


@pytest.mark.parametrize("stem", ["dyad", "richardson"])
def test_blocks_equal_the_single_kernel_bit_for_bit(stem: str) -> None:
    assert_identical(*_both(MODELS / f"{stem}.mdl", 40, seed=3))


def test_blocks_equal_the_single_kernel_on_every_construct(folder: Path) -> None:
    """Delays (with the order check), lookups, subscripts, reductions, INITIAL, SMOOTH..."""
    assert_identical(*_both(write(folder, "constructs", CONSTRUCTS), 12, seed=5))


@pytest.mark.slow
def test_blocks_equal_the_single_kernel_on_the_regional_model() -> None:
    assert_identical(*_both(MODELS / "nea.mdl", 200, seed=1))


def test_the_regional_model_splits_into_several_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the block form: no block holds the whole model (chosen by default)."""
    monkeypatch.delenv("NEA_SD_KERNEL", raising=False)
    batch = compile_model(MODELS / "nea.mdl")
    compiled = batch._numba_model()
    kernel = build(compiled)
    assert kernel.positions is not None
    assert kernel.source.count("@cfunc(") >= 5


def test_a_small_kernel_is_one_function_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dyad has no loops over cells: one function compiles in seconds and runs faster."""
    monkeypatch.delenv("NEA_SD_KERNEL", raising=False)
    compiled = compile_model(MODELS / "dyad.mdl")._numba_model()
    assert loop_count(compiled) <= SPLIT_LOOPS
    kernel = build(compiled)
    assert kernel.positions is None and "for r in range(N)" in kernel.source
    monkeypatch.setenv("NEA_SD_KERNEL", "blocks")
    assert build(compiled).positions is not None


def test_a_model_that_does_not_split_uses_the_single_kernel(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEA_SD_KERNEL", "blocks")
    path = write(folder, "constructs", CONSTRUCTS)
    reference = compile_model(path).simulate({"Gain": [0.1, 0.3]}, backend="numba")

    def refuse(*args: object, **kwargs: object) -> None:
        raise blocks.Unsplittable("for the test")

    monkeypatch.setattr(blocks, "generate", refuse)
    batch = copy.copy(compile_model(path))  # not the shared object: leave its kernel alone
    batch._kernel, batch._kernel_ready = None, False
    assert_identical(reference, batch.simulate({"Gain": [0.1, 0.3]}, backend="numba"))
    assert batch._kernel.positions is None


def test_unknown_kernel_form_is_named_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEA_SD_KERNEL", "fastest")
    compiled = compile_model(MODELS / "dyad.mdl")._numba_model()
    with pytest.raises(InvalidValueError, match=r"NEA_SD_KERNEL='fastest'.*blocks, single"):
        build(compiled)


def test_a_new_process_loads_the_compiled_blocks_from_the_cache(tmp_path: Path) -> None:
    """numba keys cached code by module: a block module must be importable by name while it
    compiles, or the second process fails to load what the first one cached."""
    script = (
        "from nea_sd.engine.batch import compile_model\n"
        f"b = compile_model({str(MODELS / 'dyad.mdl')!r})\n"
        "r = b.simulate({}, backend='numba')\n"
        "import sys\n"
        "from numba.core.ccallback import CFunc\n"
        "mods = [m for n, m in sys.modules.items() if n.startswith('nea_sd_batch_blocks_')]\n"
        "fs = [f for m in mods for f in vars(m).values() if isinstance(f, CFunc)]\n"
        "print(len(fs), sum(f.cache_hits for f in fs))\n"
    )
    env = dict(os.environ, NEA_SD_KERNELS=str(tmp_path / "k"), NUMBA_CACHE_DIR=str(tmp_path / "n"))
    env["NEA_SD_KERNEL"] = "blocks"  # the dyad is one function by default
    counts = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        counts.append([int(x) for x in done.stdout.split()[-2:]])
    (blocks_first, hits_first), (blocks_second, hits_second) = counts
    assert blocks_first == blocks_second >= 3
    assert hits_first == 0 and hits_second == blocks_second, counts
