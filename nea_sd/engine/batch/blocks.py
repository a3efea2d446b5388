"""The compiled backend's kernel as separately compiled blocks: a first compile in seconds.

Why: numba hands LLVM one function per jitted function, and LLVM's function passes (SROA,
GVN, instcombine) cost more than linearly in a function's size, so the whole regional model
as one function took about 30 s to compile.  Here consecutive equations are grouped into
blocks; each block is its own C-callable function (a numba ``cfunc``) and a small driver calls
them through function pointers, which LLVM cannot inline back into one function.  Every value
that crosses blocks lives in one flat work vector per run (arrays and scalars at fixed
offsets); the work vector is also the save frame, so saving copies nothing.

The arithmetic inside a block is the single kernel's, statement for statement, so results
are bit-identical to it (``tests/engine/test_blocks.py``).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nea_sd.engine.batch.compiler import CompiledModel, VariableInfo

BLOCK_LINES = 60  # generated lines per block: small enough for LLVM, few enough calls per step
PHASES = ("init", "run", "step")  # once per run; every step; between steps (Euler update)
SPECIAL = ("time", "_dt", "_t0")  # passed to every block
BLOCK_SIGNATURE = "void(CPointer(float64), CPointer(float64), float64, float64, float64)"
_ALLOC = re.compile(r"^(\w+) = np\.(empty|zeros|full)\((\d+)(, np\.nan)?\)$")
_ALIAS = re.compile(r"^(\w+) = (\w+)$")


class Unsplittable(ValueError):
    """The generated code does something the block form cannot hold (the single kernel can)."""


@dataclass
class Unit:
    """The code of one node or state phase: the smallest piece a block boundary may not cut."""

    lines: list[str]
    loads: set[str] = field(default_factory=set)
    stores: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)  # loop variables

    @classmethod
    def parse(cls, lines: list[str]) -> Unit:
        unit = cls(list(lines))
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.For):
                unit.targets |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.Name):
                (unit.loads if isinstance(node.ctx, ast.Load) else unit.stores).add(node.id)
        return unit

    @property
    def names(self) -> set[str]:
        return (self.loads | self.stores) - self.targets


@dataclass
class Work:
    """Where every value that crosses blocks lives in the work vector."""

    regions: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (start, cells)
    scalars: dict[str, int] = field(default_factory=dict)
    nan_fill: list[tuple[int, int]] = field(default_factory=list)
    size: int = 0
    err: int = -1

    def region(self, name: str, cells: int) -> tuple[int, int]:
        self.regions[name] = (self.size, cells)
        self.size += cells
        return self.regions[name]

    def scalar(self, name: str) -> int:
        if name not in self.scalars:
            self.scalars[name] = self.size
            self.size += 1
        return self.scalars[name]


@dataclass
class Blocks:
    """Source of the blocks and the driver, and where the saveable values sit in the work."""

    source: str
    phases: dict[str, list[str]]  # phase -> block function names, in call order
    positions: dict[str, int]  # candidate ident -> first cell in the work vector


def _units(code: Sequence[list[str]]) -> list[Unit]:
    return [Unit.parse(lines) for lines in code if lines]


def _phases(model: CompiledModel, idents: Sequence[str]) -> dict[str, list[Unit]]:
    graph = model.graph
    _, init_order, run_order = graph.schedule(idents)
    init = [(graph.nodes.get(i) or graph.states[i]).init_code for i in init_order]
    checks = [
        [line.replace("_err[r]", "_W[_ERR]") for line in s.check_code]
        for s in graph.states.values()
    ]
    run = [graph.nodes[i].run_code or [] for i in run_order]
    step = [s.ddt_code for s in graph.states.values()]
    step += [s.update_code for s in graph.states.values()]
    return {"init": _units(init + checks), "run": _units(run), "step": _units(step)}


def _storage(model: CompiledModel, phases: dict[str, list[Unit]], consts: set[str]) -> Work:
    work = Work()
    for line in model.allocs:
        match = _ALLOC.match(line)
        if match is None:
            raise Unsplittable(f"allocation {line!r}")
        start_cells = work.region(match[1], int(match[3]))
        if match[4]:
            work.nan_fill.append(start_cells)
    work.err = work.size  # the delay-order check's error code, read by the driver
    work.size += 1
    aliases: dict[str, str] = {}
    for units in phases.values():
        for unit in units:
            match = _ALIAS.match(unit.lines[0]) if len(unit.lines) == 1 else None
            if match and match[2] in work.regions and match[1] in work.regions:
                if aliases.setdefault(match[1], match[2]) != match[2]:
                    raise Unsplittable(f"{match[1]} stands for two arrays")
            elif unit.stores & set(work.regions):
                raise Unsplittable(f"an array is rebound in {unit.lines[0]!r}")
    for name, target in aliases.items():
        while target in aliases:
            target = aliases[target]
        work.regions[name] = work.regions[target]
    units = [u for us in phases.values() for u in us]
    seen: dict[str, int] = {}
    for unit in units:
        for name in unit.names:
            seen[name] = seen.get(name, 0) + 1
    targets = set().union(*(u.targets for u in units)) if units else set()
    for unit in units:
        for name in sorted(unit.stores - unit.targets):
            if name in work.regions or name in consts:
                continue
            if name in targets:
                raise Unsplittable(f"{name} is both a loop variable and a value")
            if seen[name] > 1:
                work.scalar(name)
    return work


def _known_globals(model: CompiledModel, helpers: Sequence[str]) -> set[str]:
    return set(model.consts.values) | set(helpers) | {"np"} | set(dir(builtins))


def _block(
    name: str, units: list[Unit], work: Work, consts: dict[str, tuple[int, int, bool]]
) -> list[str]:
    names = set().union(*(u.names for u in units))
    stored = set().union(*(u.stores for u in units))
    const_cells = max((a + n for a, n, _ in consts.values()), default=1)
    head = [
        f"@cfunc({BLOCK_SIGNATURE!r}, cache=True, error_model='numpy')",
        f"def {name}(_w, _c, time, _dt, _t0):",
        f"    _W = carray(_w, ({max(work.size, 1)},))",
        f"    _C = carray(_c, ({const_cells},))",
    ]
    tail: list[str] = []
    for ident in sorted(names):
        if ident in work.regions:
            a, n = work.regions[ident]
            head.append(f"    {ident} = _W[{a}:{a + n}]")
        elif ident in consts:
            a, n, array = consts[ident]
            head.append(f"    {ident} = _C[{a}:{a + n}]" if array else f"    {ident} = _C[{a}]")
        elif ident in work.scalars:
            head.append(f"    {ident} = _W[{work.scalars[ident]}]")
            if ident in stored:
                tail.append(f"    _W[{work.scalars[ident]}] = {ident}")
    body: list[str] = []
    for unit in units:
        match = _ALIAS.match(unit.lines[0]) if len(unit.lines) == 1 else None
        if match and match[1] in work.regions and match[2] in work.regions:
            continue  # a static alias: both names already view the same cells
        body += ["    " + line for line in unit.lines]
    return head + body + tail + ["    return", ""]


def _group(units: list[Unit], limit: int) -> list[list[Unit]]:
    groups: list[list[Unit]] = [[]]
    size = 0
    for unit in units:
        if groups[-1] and size + len(unit.lines) > limit:
            groups.append([])
            size = 0
        groups[-1].append(unit)
        size += len(unit.lines)
    return groups


def generate(
    model: CompiledModel,
    candidates: Sequence[VariableInfo],
    const_layout: dict[str, tuple[int, int]],
    helpers: Sequence[str],
    limit: int = BLOCK_LINES,
) -> Blocks:
    """Blocks and driver for ``model``; raises :class:`Unsplittable` when the code does not fit.

    ``const_layout`` is where each constant sits in a row of the constant matrix ``C``.
    """
    graph = model.graph
    phases = _phases(model, [c.ident for c in candidates])
    shapes = {i: s for i, s in ((v.ident, v.dims) for v in model.variables.values())}
    consts = {ident: (a, n, bool(shapes.get(ident))) for ident, (a, n) in const_layout.items()}
    work = _storage(model, phases, set(consts))
    known = _known_globals(model, helpers) | set(SPECIAL) | {"_W", "_ERR"}
    for units in phases.values():
        for unit in units:
            loose = unit.names - set(work.regions) - set(work.scalars) - set(consts) - known
            loose -= unit.stores  # assigned and used only here: a block-local value
            if loose:
                raise Unsplittable(f"unknown names {sorted(loose)} in {unit.lines[0]!r}")
    positions: dict[str, int] = {}
    copies: list[tuple[int, int]] = []  # (work cell, constant cell): savable constants
    for info in candidates:
        ident = info.ident
        if ident in work.regions:
            positions[ident] = work.regions[ident][0]
        elif ident in work.scalars:
            positions[ident] = work.scalars[ident]
        elif ident in consts:
            a, n, _ = consts[ident]
            p = work.size
            work.size += n
            positions[ident] = p
            copies += [(p + i, a + i) for i in range(n)]
        else:  # a value used only inside its own block: give it a cell to be saved from
            positions[ident] = work.scalar(ident)
    source = [
        '"""Generated by nea_sd.engine.batch.blocks; do not edit."""',
        "import numpy as np",
        "from numba import carray, cfunc, njit",
        "from nea_sd.engine.batch.kernels import " + ", ".join(helpers),
        "",
        f"_ERR = {work.err}",
        *_table("_COPY", copies),
        *_table("_NAN", [(a + i, 0) for a, n in work.nan_fill for i in range(n)]),
        *_table("_STATES", _state_cells(work, graph, len(candidates))),
    ]
    for name, value in model.consts.values.items():
        arr = np.ascontiguousarray(value)
        source.append(
            f"{name} = np.frombuffer(bytes.fromhex({arr.tobytes().hex()!r}), "
            f"dtype={arr.dtype.str!r}).reshape({arr.shape!r})"
        )
    source.append("")
    names: dict[str, list[str]] = {}
    for phase, units in phases.items():
        names[phase] = []
        for k, group in enumerate(_group(units, limit) if units else [[Unit.parse(["pass"])]]):
            name = f"_{phase}{k}"
            source += _block(name, group, work, consts)
            names[phase].append(name)
    source += _driver(work)
    return Blocks("\n".join(source) + "\n", names, positions)


def _table(name: str, rows: list[tuple[int, int]]) -> list[str]:
    """An int64 table as module source: the driver loops over it (one loop compiles faster
    than a statement per row)."""
    flat = ", ".join(f"{a}, {b}" for a, b in rows)
    return [f"{name} = np.array([{flat}], dtype=np.int64).reshape(({len(rows)}, 2))"]


def _state_cells(work: Work, graph: object, first: int) -> list[tuple[int, int]]:
    """(work cell, index reported when not finite) for every cell of every state."""
    rows = []
    for index, state in enumerate(graph.states.values(), start=first):  # type: ignore[attr-defined]
        if state.ident in work.regions:
            a, n = work.regions[state.ident]
            rows += [(a + i, index) for i in range(n)]
        else:
            rows.append((work.scalars[state.ident], index))
    return rows


def _driver(work: Work) -> list[str]:
    body = [
        f"_W = np.empty({max(work.size, 1)})",
        "for r in range(N):",
        "    _Cr = C[r]",
        "    time = _t0",
        "    _W[_ERR] = 0.0",
        "    for _i in range(_NAN.shape[0]):",
        "        _W[_NAN[_i, 0]] = np.nan",
        "    for _i in range(_COPY.shape[0]):",
        "        _W[_COPY[_i, 0]] = _Cr[_COPY[_i, 1]]",
        "    for _f in _init:",
        "        _f(_W.ctypes, _Cr.ctypes, time, _dt, _t0)",
        "    if _W[_ERR] != 0.0:",
        "        _err[r] = int(_W[_ERR])",
        "    for _k in range(_nsteps):",
        "        for _f in _run:",
        "            _f(_W.ctypes, _Cr.ctypes, time, _dt, _t0)",
        "        _j = _slot[_k]",
        "        if _j >= 0:",
        "            for _q in range(_sel.shape[0]):",
        "                _x = _W[_sel[_q]]",
        "                O[r, _j, _q] = _x",
        "                if _bad[r] < 0 and not np.isfinite(_x):",
        "                    _bad[r] = _k",
        "                    _what[r] = _selvar[_q]",
        "            for _i in range(_STATES.shape[0]):",
        "                if _bad[r] < 0 and not np.isfinite(_W[_STATES[_i, 0]]):",
        "                    _bad[r] = _k",
        "                    _what[r] = _STATES[_i, 1]",
        "        if _k == _nsteps - 1:",
        "            break",
        "        for _f in _step:",
        "            _f(_W.ctypes, _Cr.ctypes, time, _dt, _t0)",
        "        time = time + _dt",
    ]
    return [
        "@njit(nogil=True, cache=True, error_model='numpy')",
        "def _driver(N, _t0, _dt, _tf, _saveper, _nsteps, _slot, _sel, _selvar, C, O,"
        " _bad, _what, _err, _init, _run, _step):",
        *("    " + line for line in body),
        "",
    ]
