"""The lane kernel (runs in SIMD lanes, ``NEA_SD_KERNEL=lanes``) computes exactly what the
single-function kernel computes, for run counts that do not fill the last group of lanes, with
diverging runs flagged per run, and really is vectorised."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from batch_reference import compare, read_output
from kernel_forms import assert_identical, every_variable, with_kernels
from synthetic_models import CONSTRUCTS, EXPLODING, write
from test_batch_vensim import TOLERANCES

from nea_sd.engine.batch import compile_model, lanes
from nea_sd.engine.batch.kernel import _slp_vectorizer, build_lanes, build_single

pytest.importorskip("numba")

MODELS = Path(__file__).parents[2] / "models"


def _pair(path: Path) -> list[object]:
    single, lane = with_kernels(path, build_single, build_lanes)
    assert "_W[" in lane._kernel.source, "the lane rewrite did not apply"
    return [single, lane]


def _both(path: Path, n: int, seed: int) -> list[object]:
    return every_variable(_pair(path), path, n, seed)


@pytest.mark.parametrize(
    "stem", [pytest.param("dyad", marks=pytest.mark.slow), "richardson"]
)  # the dyad's lane kernel takes about a minute to compile on a fresh cache
def test_lanes_equal_the_single_kernel_bit_for_bit(stem: str) -> None:
    """37 runs: four full groups of eight and a last group of five padded lanes."""
    assert 37 % lanes.LANES
    assert_identical(*_both(MODELS / f"{stem}.mdl", 37, seed=3))


def test_lanes_equal_the_single_kernel_on_every_construct(folder: Path) -> None:
    """Delays (with the order check), lookups, subscripts, reductions, INITIAL, SMOOTH..."""
    assert_identical(*_both(write(folder, "constructs", CONSTRUCTS), 12, seed=5))


@pytest.mark.slow
def test_lanes_equal_the_single_kernel_on_the_regional_model() -> None:
    assert_identical(*_both(MODELS / "nea.mdl", 100, seed=1))


def test_a_diverging_run_is_flagged_in_its_own_lane(folder: Path) -> None:
    """Run 1 of a group explodes; its neighbours in the same group stay finite and unflagged."""
    single, lane = _pair(write(folder, "exploding", EXPLODING))
    growth = {"Growth": [0.01, 1e5, 0.02, 0.03, 1e5, 0.01, 0.02, 0.03, 0.04]}
    kw = {"backend": "numba", "nonfinite": "nan"}
    a, b = single.simulate(growth, **kw), lane.simulate(growth, **kw)  # type: ignore[attr-defined]
    assert b["diverged"].values.tolist() == [g > 1 for g in growth["Growth"]]
    assert a.attrs["diverged_at"] == b.attrs["diverged_at"]
    assert_identical(a, b)


def test_the_slp_vectorizer_packs_lanes_for_one_compile_only() -> None:
    """Without it the unrolled lane loops stay scalar (numba's default); the setting is
    restored afterwards, so nothing else in the process is compiled differently."""
    from numba import njit
    from numba.core import config

    def lane_loop(w: np.ndarray, n: int) -> None:
        for _ in range(n):
            for lane in range(8):
                w[16 + lane] = w[lane] * w[8 + lane] + w[16 + lane]

    before = config.SLP_VECTORIZE
    packed = []
    for scoped in (False, True):
        jitted = njit(error_model="numpy")(lane_loop)
        if scoped:
            with _slp_vectorizer():
                jitted(np.ones(24), 1)
        else:
            jitted(np.ones(24), 1)
        asm = jitted.inspect_asm(jitted.signatures[0])
        # packed double maths at any width: SSE (xmm), AVX2 (ymm), AVX-512 (zmm) machines
        packed.append(len(re.findall(r"v?(mul|add|fmadd\w*)pd\s+%[xyz]mm", asm)))
    restored = config.SLP_VECTORIZE
    assert restored == before
    assert packed[0] == 0 and packed[1] > 0, packed


def test_a_kernel_the_rewrite_does_not_know_falls_back_to_the_single_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> str:
        raise lanes.NotLaneable("for the test")

    monkeypatch.setattr(lanes, "generate", refuse)
    compiled = compile_model(MODELS / "dyad.mdl")._numba_model()
    kernel = build_lanes(compiled)
    assert "_W[" not in kernel.source and "for r in range(N)" in kernel.source


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(TOLERANCES))
def test_lanes_match_vensim_and_the_single_kernel_on_the_reference_models(
    test_models: Path, case: str
) -> None:
    """One run per model: a group of eight lanes with seven padded ones."""
    rtol, atol = TOLERANCES[case]
    for path in sorted((test_models / case).glob("*.mdl")):
        single, lane = _pair(path)
        ours = lane.simulate(backend="numba")  # type: ignore[attr-defined]
        problems = compare(ours, read_output(path.parent), rtol, atol)
        assert not problems, f"{path.name}: " + "; ".join(problems[:5])
        assert_identical(single.simulate(backend="numba"), ours)  # type: ignore[attr-defined]
