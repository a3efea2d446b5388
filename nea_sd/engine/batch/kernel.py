"""The compiled backend: the whole simulation of one run as a numba kernel.

The kernel loops over the runs it is given; each run keeps its values in small flat arrays
(or floats) that are reused every step, so there is no allocation in the time loop.  Runs are
independent, so chunks of runs go to threads (the kernel releases the GIL).  The source is
written to the cache directory so that numba's on-disk cache spares later processes the
compilation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from nea_sd.engine.batch.compiler import CompiledModel, VariableInfo

HELPERS = (
    "_quantum",
    "_modulo",
    "_xidz",
    "_zidz",
    "_pulse",
    "_pulse_train",
    "_interp_row",
    "_finite",
    "_finite1",
)


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


@dataclass(frozen=True)
class Layout:
    """Where each constant / output lives in the kernel's flat matrices."""

    consts: dict[str, tuple[int, int]]  # ident -> (offset, cells)
    outputs: list[tuple[str, int, int]]  # (ident, offset, cells)
    const_cells: int
    output_cells: int


def _cells(shape: Sequence[int]) -> int:
    return int(np.prod(shape)) if len(shape) else 1


def layout(model: CompiledModel, consts: list[str], outputs: Sequence[VariableInfo]) -> Layout:
    by_ident = {v.ident: v for v in model.variables.values()}
    offsets: dict[str, tuple[int, int]] = {}
    at = 0
    for ident in consts:
        info = by_ident[ident]
        n = _cells([len(info.coords[d]) for d in info.dims])
        offsets[ident] = (at, n)
        at += n
    outs = []
    pos = 0
    for info in outputs:
        n = _cells([len(info.coords[d]) for d in info.dims])
        outs.append((info.ident, pos, n))
        pos += n
    return Layout(offsets, outs, at, pos)


def saveable(model: CompiledModel) -> list[VariableInfo]:
    """Every variable the kernel can save: one kernel per model serves any output selection."""
    return [v for v in model.variables.values()]


def generate(model: CompiledModel) -> tuple[str, list[str], list[VariableInfo]]:
    """Kernel source, the constants it reads (in ``C`` order) and the variables it can save.

    Every saveable value lives in (or is copied at save time into) one flat frame ``_F`` per
    run; which cells are saved is the argument ``_sel`` (frame positions, with ``_selvar``
    naming their variable), so that a new selection needs no new compilation.
    """
    graph = model.graph
    candidates = saveable(model)
    consts, init_order, run_order = graph.schedule(v.ident for v in candidates)
    shapes = {v.ident: [len(v.coords[d]) for d in v.dims] for v in model.variables.values()}
    frame: dict[str, tuple[int, int]] = {}
    for info in candidates:
        frame[info.ident] = (sum(n for _, n in frame.values()), _cells(shapes[info.ident]))
    total = sum(n for _, n in frame.values())
    code = [line for n in graph.nodes.values() for line in n.init_code + (n.run_code or [])]
    body: list[str] = ["time = _t0", f"_F = np.empty({max(total, 1)})"]
    at = 0
    for ident in consts:
        n = _cells(shapes[ident])
        body.append(f"{ident} = C[r, {at}:{at + n}]" if shapes[ident] else f"{ident} = C[r, {at}]")
        at += n
    in_frame: set[str] = set()
    for line in model.allocs:
        ident = line.split(" = ", 1)[0]
        rebound = any(c.strip().startswith(f"{ident} = ") for c in code)
        if ident in frame and not rebound:
            a, n = frame[ident]
            body.append(f"{ident} = _F[{a}:{a + n}]")
            if "np.nan" in line:
                body.append(f"{ident}[:] = np.nan")
            in_frame.add(ident)
        else:
            body.append(line)
    for ident in init_order:
        obj = graph.nodes.get(ident) or graph.states[ident]
        body += obj.init_code
    for state in graph.states.values():
        body += state.check_code
    loop: list[str] = []
    for ident in run_order:
        loop += graph.nodes[ident].run_code or []
    loop += ["_j = _slot[_k]", "if _j >= 0:"]
    for info in candidates:  # values not already in the frame are copied into it
        a, n = frame[info.ident]
        if info.ident in in_frame:
            continue
        target = f"_F[{a}:{a + n}]" if shapes[info.ident] else f"_F[{a}]"
        loop.append(f"    {target} = {info.ident}")
    loop += [
        "    for _q in range(_sel.shape[0]):",
        "        _x = _F[_sel[_q]]",
        "        O[r, _j, _q] = _x",
        "        if _bad[r] < 0 and not np.isfinite(_x):",
        "            _bad[r] = _k",
        "            _what[r] = _selvar[_q]",
    ]
    for index, state in enumerate(graph.states.values(), start=len(candidates)):
        check = f"_finite({state.ident})" if state.shape else f"_finite1({state.ident})"
        loop += [f"    if _bad[r] < 0 and not {check}:", "        _bad[r] = _k"]
        loop += [f"        _what[r] = {index}"]
    loop += ["if _k == _nsteps - 1:", "    break"]
    for state in graph.states.values():
        loop += state.ddt_code
    for state in graph.states.values():
        loop += state.update_code
    loop += ["time = time + _dt"]
    lines = [
        "@njit(nogil=True, cache=True, error_model='numpy')",
        "def _kernel(N, _t0, _dt, _tf, _saveper, _nsteps, _slot, _sel, _selvar, C, O,"
        " _bad, _what, _err):",
        "    for r in range(N):",
    ]
    lines += ["        " + line for line in body]
    lines += ["        for _k in range(_nsteps):"]
    lines += ["            " + line for line in loop]
    header = [
        '"""Generated by nea_sd.engine.batch.kernel; do not edit."""',
        "import numpy as np",
        "from numba import njit",
        "from nea_sd.engine.batch.kernels import " + ", ".join(HELPERS),
        "",
    ]
    for name, value in model.consts.values.items():
        arr = np.ascontiguousarray(value)
        header.append(
            f"{name} = np.frombuffer(bytes.fromhex({arr.tobytes().hex()!r}), "
            f"dtype={arr.dtype.str!r}).reshape({arr.shape!r})"
        )
    return "\n".join(header + ["", ""] + lines) + "\n", consts, candidates


@dataclass
class Kernel:
    """A compiled kernel with what it reads and can save.

    ``positions`` (block kernels) gives each saveable value's first cell in the run's work
    vector; without it the values sit in the frame one after another, in candidate order.
    """

    function: Callable[..., Any]
    consts: list[str]
    candidates: list[VariableInfo]
    source: str
    positions: dict[str, int] | None = None

    def layout(
        self, model: CompiledModel, outputs: Sequence[VariableInfo]
    ) -> tuple[Layout, np.ndarray, np.ndarray]:
        """Offsets of constants and of the outputs, and the ``_sel``/``_selvar`` arguments."""
        lay = layout(model, self.consts, outputs)
        start, index = {}, {}
        at = 0
        for k, info in enumerate(self.candidates):
            start[info.ident], index[info.ident] = at, k
            at += _cells([len(info.coords[d]) for d in info.dims])
        if self.positions is not None:
            start = dict(self.positions)
        sel = [np.arange(start[i], start[i] + n) for i, _, n in lay.outputs]
        var = [np.full(n, index[i]) for i, _, n in lay.outputs]
        empty = np.zeros(0, dtype=np.int64)
        cells = np.concatenate(sel).astype(np.int64) if sel else empty
        names = np.concatenate(var).astype(np.int64) if var else empty
        return lay, cells, names


FORMS = ("auto", "blocks", "single", "lanes")
# auto: blocks above this many loops in the kernel.  LLVM's compile time grows with loops (basic
# blocks) times stack slots: the regional model (215 loops over cells) compiles in 33 s as one
# function and 14 s in blocks; the dyad (none, 600 lines) in 6 s as one function, 5 s in
# blocks, and the one function's runs cost 29% less.
SPLIT_LOOPS = 32


def kernel_form() -> str:
    """``$NEA_SD_KERNEL``: ``auto`` (default: ``blocks`` for a kernel with many loops, else
    ``single``), ``blocks`` (a first compile of the regional model in about 12 s instead of
    30 s), ``single`` (one function: less time per run, 2-8% on the regional model, 29% on the
    dyad) or ``lanes`` (runs in SIMD lanes: faster per run on models with little arithmetic
    over cells, such as the dyad; a long first compile)."""
    import os

    chosen = os.environ.get("NEA_SD_KERNEL", "").strip().lower() or "auto"
    if chosen not in FORMS:
        from nea_sd.errors import InvalidValueError

        raise InvalidValueError(
            f"NEA_SD_KERNEL={chosen!r} is not a kernel form; choose one of {', '.join(FORMS)}"
        )
    return chosen


def loop_count(model: CompiledModel) -> int:
    """Loops in the generated kernel: what makes one big function slow to compile."""
    graph = model.graph
    code = [line for n in graph.nodes.values() for line in n.init_code + (n.run_code or [])]
    code += [line for st in graph.states.values() for line in st.ddt_code + st.update_code]
    return sum(1 for line in code if line.lstrip().startswith("for "))


def build(model: CompiledModel) -> Kernel:
    """The kernel of ``model`` in the form ``$NEA_SD_KERNEL`` asks for."""
    form = kernel_form()
    if form == "auto":
        form = "blocks" if loop_count(model) > SPLIT_LOOPS else "single"
    return {"blocks": build_blocks, "single": build_single, "lanes": build_lanes}[form](model)


def build_blocks(model: CompiledModel) -> Kernel:
    """Separately compiled blocks (a first compile several times faster for a large model), or
    the single function when the generated code does not split."""
    from nea_sd.engine.batch import blocks

    candidates = saveable(model)
    consts, _, _ = model.graph.schedule(v.ident for v in candidates)
    const_layout = layout(model, consts, []).consts
    try:
        split = blocks.generate(model, candidates, const_layout, HELPERS)
    except blocks.Unsplittable:
        return build_single(model)
    module = _import(split.source, "blocks")
    phases = tuple(tuple(getattr(module, n) for n in split.phases[p]) for p in blocks.PHASES)
    driver = module._driver
    from numba.core.errors import NumbaExperimentalFeatureWarning

    def function(*args: Any) -> None:
        with warnings.catch_warnings():  # numba calls first-class functions "experimental"
            warnings.simplefilter("ignore", category=NumbaExperimentalFeatureWarning)
            driver(*args, *phases)

    return Kernel(function, consts, list(candidates), split.source, split.positions)


def _import(source: str, kind: str) -> Any:
    """Write ``source`` to the cache (once per content) and import it as a module."""
    from nea_sd.model.cache import intact, kernels_dir, write_entry

    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    relative = f"{kind}_{digest}.py"
    path = kernels_dir() / relative
    if not intact(path):  # absent, or damaged (then rebuilt with a note)
        path = write_entry(relative, source.encode("utf-8"), area="batch")
    name = f"nea_sd_batch_{kind}_{digest}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: numba's cache keys compiled code by module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def build_single(model: CompiledModel) -> Kernel:
    """The whole simulation as one numba function (numba compiles it on first call, or loads
    its cache): the reference the block kernel is tested against."""
    source, consts, candidates = generate(model)
    module = _import(source, "kernel")
    return Kernel(module._kernel, consts, candidates, source)


def build_lanes(model: CompiledModel) -> Kernel:
    """The single kernel rewritten with runs in SIMD lanes (``lanes.py``): the same arithmetic
    per run, ``lanes.LANES`` runs per instruction; the single kernel when the rewrite does not
    apply."""
    import threading

    from nea_sd.engine.batch import lanes

    source, consts, candidates = generate(model)
    try:
        lane_source = lanes.generate(source, layout(model, consts, []).const_cells)
    except lanes.NotLaneable:
        return build_single(model)
    kernel = _import(lane_source, "lanes")._kernel
    first = threading.Lock()

    def function(*args: Any) -> None:
        if not kernel.signatures:  # the first call compiles (or loads from numba's cache)
            with first, _slp_vectorizer():
                kernel(*args)
            return
        kernel(*args)

    return Kernel(function, consts, candidates, lane_source)


@contextmanager
def _slp_vectorizer() -> Iterator[None]:
    """LLVM's SLP vectorizer, for one compile.  numba leaves it off by default, but the lane
    kernel needs it: its loops of ``LANES`` runs are unrolled before the loop vectorizer would
    see them.  numba reads the setting each time it optimises a module, so it is switched on
    for the duration of this compile only (the lane kernel compiles before threads start)."""
    from numba.core import config

    before = config.SLP_VECTORIZE
    config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        config.SLP_VECTORIZE = before


@contextmanager
def compile_progress(label: str) -> Iterator[None]:
    """A line on stderr counting the seconds while numba compiles (or loads from its cache) a
    kernel: the first compile of a large model takes a while (shown only on a terminal)."""
    import threading

    from tqdm import tqdm

    bar = tqdm(
        total=1,
        desc=f"compiling {label}",
        file=sys.stderr,
        leave=False,
        disable=None,
        bar_format="{desc}: {elapsed} elapsed",
    )
    done = threading.Event()

    def tick() -> None:
        while not done.wait(1.0):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        bar.close()
