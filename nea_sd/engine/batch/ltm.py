"""Loops That Matter on the batch engine: link scores at element level over N runs at once.

The batch engine's compiled graph (read-only) already holds, per model variable, numpy
statements over ``(run, *cells)`` arrays.  This module re-runs the same Euler loop with a hook
at each scored step, and re-evaluates each equation with one input moved to its current value
while every other input stays at the previous step (Schoenberg, Davidsen & Eberlein 2020).
Flow-to-stock scores use the 2023 correction: the change a flow makes to the *net rate*
over the change of the net rate (Schoenberg, Hayward & Eberlein 2023).

Convention (as pysimlin): the score at step ``k`` compares values at ``k`` with ``k - 1``;
for flows these are the rates applied over ``[t_k, t_k + dt]``.  Step 0 scores are 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nea_sd.engine.batch.compiler import CompiledModel
from nea_sd.engine.batch.functions import NAMESPACE
from nea_sd.engine.batch.runtime import BatchModel, TimeGrid

_ALIAS_PREFIX = "_alias_"


@dataclass
class Unit:
    """One equation of the causal graph: a dynamic node, or the net rate of a state."""

    ident: str  # the node ident, or the state ident for a rate
    out: str  # name holding the value after ``code`` runs
    shape: tuple[int, ...]
    deps: list[str]  # dynamic inputs (canonical idents)
    code: Any  # compiled statements
    kind: str  # "aux" or "rate"
    variable: str


@dataclass
class EdgePattern:
    """Element links of one ident-level edge: pairs (source cell, target cell) and colours."""

    source: str
    target: str
    pairs: np.ndarray  # (n, 2) flat cells: source, target
    colours: list[np.ndarray]  # per colour: indices into pairs
    cells: list[np.ndarray]  # per colour: the source cells moved together
    first: int = 0  # offset of this edge's pairs in the global element-link list
    signs: np.ndarray | None = None  # per pair: +1, -1 seen alone, 0 when both were seen


@dataclass
class LtmProgram:
    """The causal structure of a compiled model and the means to score its links."""

    model: BatchModel
    units: dict[str, Unit]  # by ident (nodes and states)
    alias: dict[str, str]  # node ident -> state ident it merely reads (stock variables)
    names: dict[str, str]  # canonical ident -> display name
    shapes: dict[str, tuple[int, ...]]
    coords: dict[str, list[str]]  # canonical ident -> cell labels ("" for scalars)
    edges: list[EdgePattern] = field(default_factory=list)

    @property
    def compiled(self) -> CompiledModel:
        return self.model._compiled

    @property
    def n_links(self) -> int:
        return sum(len(e.pairs) for e in self.edges)

    def link_table(self) -> list[tuple[str, str, int, int]]:
        """Element links in scoring order: (source ident, target ident, source cell, target)."""
        rows = []
        for e in self.edges:
            rows += [(e.source, e.target, int(s), int(t)) for s, t in e.pairs]
        return rows


def _namespace(compiled: CompiledModel) -> dict[str, Any]:
    ns: dict[str, Any] = dict(NAMESPACE)
    ns.update(compiled.consts.values)
    return ns


def _cell_labels(info_dims: list[str], coords: dict[str, list[str]]) -> list[str]:
    if not info_dims:
        return [""]
    grids = np.meshgrid(*[np.array(coords[d], dtype=object) for d in info_dims], indexing="ij")
    return [",".join(str(g.ravel()[i]) for g in grids) for i in range(grids[0].size)]


def build_program(model: BatchModel, probes: int = 3, seed: int = 12345) -> LtmProgram:
    """The units (equations over dynamic inputs) of ``model`` and their element patterns."""
    compiled = model._compiled
    graph = compiled.graph
    dynamic = graph.dynamic()
    alias: dict[str, str] = {}
    for ident in dynamic:
        code = graph.nodes[ident].run_code or []
        if len(code) == 1 and code[0].replace(" ", "") in {f"{ident}={s}" for s in graph.states}:
            alias[ident] = code[0].split("=")[1].strip()
    canon = lambda i: alias.get(i, i)  # noqa: E731
    moving = {canon(i) for i in dynamic} | set(graph.states)
    by_ident = {v.ident: v for v in compiled.variables.values()}
    units: dict[str, Unit] = {}
    names: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    coords: dict[str, list[str]] = {}
    for ident in sorted(dynamic):
        if ident in alias:
            continue
        node = graph.nodes[ident]
        deps = sorted({canon(d) for d in node.run_deps if canon(d) in moving})
        code = compile("\n".join(node.run_code or []), f"<ltm {ident}>", "exec")
        units[ident] = Unit(ident, ident, node.shape, deps, code, "aux", node.variable)
    for sid, state in graph.states.items():
        deps_set = {canon(d) for d in state.ddt_deps if canon(d) in moving}
        if any(re.search(rf"\b{sid}\b", line.split("=", 1)[1]) for line in state.ddt_code):
            deps_set.add(sid)  # a SMOOTH/DELAY stage adjusting towards its input
        deps = sorted(deps_set)
        code = compile("\n".join(state.ddt_code), f"<ltm rate {sid}>", "exec")
        units[sid] = Unit(sid, f"d_{sid}", state.shape, deps, code, "rate", state.variable)
    for ident in sorted(moving):
        info = by_ident.get(ident) or next(
            (by_ident[a] for a, s in alias.items() if s == ident and a in by_ident), None
        )
        shape = graph.states[ident].shape if ident in graph.states else graph.nodes[ident].shape
        shapes[ident] = shape
        if info is not None and info.kind != "constant" and _is_plain(ident, info, alias):
            names[ident] = info.name
            coords[ident] = _cell_labels(info.dims, info.coords)
        else:
            variable = (graph.states.get(ident) or graph.nodes[ident]).variable
            names[ident] = f"{variable} ({ident})"
            coords[ident] = [str(i) for i in range(int(np.prod(shape)))] if shape else [""]
    program = LtmProgram(model, units, alias, names, shapes, coords)
    program.edges = _patterns(program, probes, seed)
    return program


def _is_plain(ident: str, info: Any, alias: dict[str, str]) -> bool:
    """Whether ``ident`` is the variable's own value (not a hidden stage of a SMOOTH/DELAY)."""
    if info.ident == ident:
        return True
    return alias.get(info.ident) == ident


# -- evaluation ------------------------------------------------------------------------------
class _Evaluator:
    """Runs one unit's statements in a namespace of given values."""

    def __init__(self, program: LtmProgram, base: dict[str, Any]):
        self.program = program
        self.base = base
        self.alias_of: dict[str, list[str]] = {}
        for node, state in program.alias.items():
            self.alias_of.setdefault(state, []).append(node)

    def env(self, values: dict[str, Any]) -> dict[str, Any]:
        env = dict(self.base)
        env.update(values)
        for state, nodes in self.alias_of.items():
            if state in values:
                for node in nodes:
                    env[node] = values[state]
        return env

    def run(self, unit: Unit, env: dict[str, Any], moved: dict[str, Any] | None = None) -> Any:
        """Evaluate ``unit`` in ``env`` with ``moved`` values; ``env`` is left as it was."""
        saved: dict[str, Any] = {}
        for name, value in (moved or {}).items():
            for target in [name, *self.alias_of.get(name, [])]:
                saved.setdefault(target, env.get(target))
                env[target] = value
        saved.setdefault(unit.out, env.get(unit.out))
        try:
            exec(unit.code, env)  # noqa: S102 - statements generated by the batch compiler
            return env[unit.out]
        finally:
            for name, value in saved.items():
                env[name] = value


def _patterns(program: LtmProgram, probes: int, seed: int) -> list[EdgePattern]:
    """Which source cells each target cell depends on, per edge, by perturbation probes.

    Constants keep their model values (so masks keep masked cells out), except constants that
    are zero everywhere, which get random values so that a switched-off mechanism still
    shows its links.  The probes batch all cells of a source over the run axis.
    """
    compiled = program.compiled
    rng = np.random.default_rng(seed)
    consts: dict[str, Any] = {}
    for info in compiled.variables.values():
        if info.kind == "constant" and info.default is not None:
            value = np.array(info.default, dtype=float)
            if not np.any(value):
                value = rng.uniform(0.5, 1.5, size=value.shape)
            consts[info.ident] = value
    base: dict[str, Any] = _namespace(compiled)
    base.update(consts)
    control = compiled.control
    base.update(_dt=control["time_step"], _t0=control["initial_time"], _tf=control["final_time"])
    base.update(_saveper=control["saveper"], time=control["initial_time"] + 1.0)
    # frozen nodes (INITIAL, values of constants' expressions): random positive values
    for ident, node in compiled.graph.nodes.items():
        if ident not in program.shapes and ident not in program.alias:
            base[ident] = rng.uniform(0.5, 1.5, size=(1, *node.shape))
    evaluator = _Evaluator(program, base)
    found: dict[tuple[str, str], set[tuple[int, int]]] = {}
    signs: dict[tuple[str, str, int, int], set[float]] = {}
    for _ in range(probes):
        values = {i: rng.uniform(0.2, 0.8, size=(1, *shape)) for i, shape in program.shapes.items()}
        env = evaluator.env(values)
        for unit in program.units.values():
            target = unit.ident
            for src in unit.deps:
                shape = program.shapes[src]
                n = int(np.prod(shape)) if shape else 1
                moved = np.repeat(values[src], n + 1, axis=0)
                flat = moved.reshape(n + 1, n)
                flat[np.arange(1, n + 1), np.arange(n)] += 0.1234567
                env["_N"] = n + 1
                with np.errstate(all="ignore"):
                    out = evaluator.run(unit, env, {src: moved})
                out = np.broadcast_to(out, (n + 1, *unit.shape)).reshape(n + 1, -1)
                diff = (out[1:] != out[:1]) & ~(np.isnan(out[1:]) & np.isnan(out[:1]))
                xs, zs = np.nonzero(diff)
                found.setdefault((src, target), set()).update(
                    zip(xs.tolist(), zs.tolist(), strict=True)
                )
                step = np.sign(out[1:] - out[:1])
                for x, z in zip(xs.tolist(), zs.tolist(), strict=True):
                    signs.setdefault((src, target, x, z), set()).add(float(step[x, z]))
    for unit in program.units.values():  # links the probes never saw move still exist
        for src in unit.deps:
            if found.get((src, unit.ident)):
                continue
            n_src = int(np.prod(program.shapes[src])) if program.shapes[src] else 1
            n_tgt = int(np.prod(unit.shape)) if unit.shape else 1
            if n_src == n_tgt:
                pairs = {(i, i) for i in range(n_src)}
            else:
                pairs = {(i, j) for i in range(n_src) for j in range(n_tgt)}
            found[(src, unit.ident)] = pairs
    edges = []
    offset = 0
    for (src, target), pairs in sorted(found.items()):
        arr = np.array(sorted(pairs), dtype=np.intp)
        colours, cells = _colour(arr)
        seen = [signs.get((src, target, int(x), int(z)), set()) for x, z in arr]
        sign = np.array([next(iter(v)) if len(v) == 1 else 0.0 for v in seen])
        edges.append(EdgePattern(src, target, arr, colours, cells, offset, sign))
        offset += len(arr)
    return edges


def _colour(pairs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Greedy colouring: source cells sharing a target cell get different colours."""
    by_source: dict[int, set[int]] = {}
    for s, t in pairs:
        by_source.setdefault(int(s), set()).add(int(t))
    colour_targets: list[set[int]] = []
    colour_of: dict[int, int] = {}
    for s in sorted(by_source, key=lambda c: -len(by_source[c])):
        for c, used in enumerate(colour_targets):
            if not used & by_source[s]:
                used |= by_source[s]
                colour_of[s] = c
                break
        else:
            colour_targets.append(set(by_source[s]))
            colour_of[s] = len(colour_targets) - 1
    colours = [[] for _ in colour_targets]
    cells: list[list[int]] = [[] for _ in colour_targets]
    for i, (s, _) in enumerate(pairs):
        colours[colour_of[int(s)]].append(i)
    for s, c in colour_of.items():
        cells[c].append(s)
    return [np.array(c, dtype=np.intp) for c in colours], [
        np.array(sorted(c), dtype=np.intp) for c in cells
    ]


# -- scoring during a run ----------------------------------------------------------------------
def _layout(program: LtmProgram) -> None:
    """Global cell offsets of values and rates, and per link its source and target columns."""
    if getattr(program, "_cols", None) is not None:
        return
    offsets: dict[str, int] = {}
    total = 0
    for ident, shape in program.shapes.items():
        offsets[ident] = total
        total += int(np.prod(shape)) if shape else 1
    rate_offsets: dict[str, int] = {}
    rtotal = 0
    for unit in program.units.values():
        if unit.kind == "rate":
            rate_offsets[unit.ident] = rtotal
            rtotal += int(np.prod(unit.shape)) if unit.shape else 1
    src_col = np.empty(program.n_links, dtype=np.intp)
    tgt_col = np.empty(program.n_links, dtype=np.intp)
    tgt_rate = np.zeros(program.n_links, dtype=bool)
    for e in program.edges:
        sl = slice(e.first, e.first + len(e.pairs))
        src_col[sl] = offsets[e.source] + e.pairs[:, 0]
        if program.units[e.target].kind == "rate":
            tgt_col[sl] = rate_offsets[e.target] + e.pairs[:, 1]
            tgt_rate[sl] = True
        else:
            tgt_col[sl] = offsets[e.target] + e.pairs[:, 1]
    program._cols = (offsets, total, rate_offsets, rtotal, src_col, tgt_col, tgt_rate)  # type: ignore[attr-defined]


def _flat(value: Any, n: int, size: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape[:1] == (n,) and arr.size == n * size:
        return arr.reshape(n, size)
    return np.broadcast_to(arr, (n, *arr.shape[1:]) if arr.ndim else (n,)).reshape(n, size)


def _link_scores(
    program: LtmProgram,
    evaluator: _Evaluator,
    cur: dict[str, Any],
    prev: dict[str, Any],
    n: int,
    wanted: np.ndarray | None = None,
    needed: set[str] | None = None,
) -> np.ndarray:
    """Element link scores ``(n, n_links)`` at one step from current and previous values.

    ``wanted``: a boolean mask of the links needed; colours holding none of them are skipped
    (their scores read 0); ``needed``: the idents those links join (others are not read).

    Each (edge, colour) costs one evaluation of the target's equation; the scores are then
    computed for all links at once.
    """
    _layout(program)
    offsets, total, rate_offsets, rtotal, src_col, tgt_col, tgt_rate = program._cols  # type: ignore[attr-defined]
    env = evaluator.env(prev)
    env["_N"] = n
    env["time"] = prev["time"]
    v0 = np.empty((n, total))
    v1 = np.empty((n, total))
    for ident, shape in program.shapes.items():
        if needed is not None and ident not in needed:
            continue
        size = int(np.prod(shape)) if shape else 1
        at = offsets[ident]
        v0[:, at : at + size] = _flat(prev[ident], n, size)
        v1[:, at : at + size] = _flat(cur[ident], n, size)
    r0 = np.empty((n, rtotal))
    r1 = np.empty((n, rtotal))
    env_c = evaluator.env(cur)
    env_c["_N"] = n
    for unit in program.units.values():
        if unit.kind == "rate" and (needed is None or unit.ident in needed):
            size = int(np.prod(unit.shape)) if unit.shape else 1
            at = rate_offsets[unit.ident]
            r1[:, at : at + size] = _flat(evaluator.run(unit, env_c), n, size)
            r0[:, at : at + size] = _flat(evaluator.run(unit, env), n, size)
    moved_change = np.zeros((n, program.n_links))
    for edge in program.edges:
        unit = program.units[edge.target]
        shape = program.shapes[edge.source]
        size = int(np.prod(shape)) if shape else 1
        at = offsets[edge.source]
        size_z = int(np.prod(unit.shape)) if unit.shape else 1
        z_at = rate_offsets[unit.ident] if unit.kind == "rate" else offsets[unit.ident]
        z0 = (r0 if unit.kind == "rate" else v0)[:, z_at : z_at + size_z]
        for idx, cells in zip(edge.colours, edge.cells, strict=True):
            if wanted is not None and not wanted[edge.first + idx].any():
                continue
            if size == 1:
                moved = cur[edge.source]
            else:
                flat = v0[:, at : at + size].copy()
                flat[:, cells] = v1[:, at + cells]
                moved = flat.reshape((n, *shape))
            value = _flat(evaluator.run(unit, env, {edge.source: moved}), n, size_z)
            tgt = edge.pairs[idx, 1]
            moved_change[:, edge.first + idx] = value[:, tgt] - z0[:, tgt]
    cols = np.flatnonzero(wanted) if wanted is not None else slice(None)
    src, tgt, rate = src_col[cols], tgt_col[cols], tgt_rate[cols]
    change = moved_change[:, cols]
    dz = np.empty_like(change)
    dz[:, rate] = r1[:, tgt[rate]] - r0[:, tgt[rate]]
    dz[:, ~rate] = v1[:, tgt[~rate]] - v0[:, tgt[~rate]]
    dx = v1[:, src] - v0[:, src]
    score = np.abs(change / dz) * (np.sign(change) * np.sign(dx))
    ok = (dz != 0) & (dx != 0) & np.isfinite(score)
    if wanted is None:
        return np.where(ok, score, 0.0)
    out = np.zeros((n, program.n_links))
    out[:, cols] = np.where(ok, score, 0.0)
    return out


def _snapshot(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not k.startswith("_")}


def _generate(compiled: CompiledModel, outputs: Sequence[str] | None = None) -> str:
    """The Euler loop with the scoring hook; ``outputs``: node idents to compute beyond those
    feeding the states (default: every variable)."""
    graph = compiled.graph
    if outputs is None:
        outputs = [i.ident for i in compiled.variables.values()]
    consts, init_order, run_order = graph.schedule(outputs)
    body = ["time = _t0"] + [f"{c} = C[{c!r}]" for c in consts]
    for ident in init_order:
        obj = graph.nodes.get(ident) or graph.states[ident]
        body += obj.init_code
    loop: list[str] = []
    for ident in run_order:
        loop += graph.nodes[ident].run_code or []
    loop += [
        "if _score[_k]:",
        "    _hook(_k, time, _snap(locals()), _prev)",
        "if _k == _nsteps - 1:",
        "    break",
        "if _score[_k + 1]:",
        "    _prev = _snap(locals())",
    ]
    for st in graph.states.values():
        loop += st.ddt_code
    for st in graph.states.values():
        loop += st.update_code
    loop += ["time = time + _dt"]
    lines = ["def _ltm_run(C, _N, _t0, _dt, _tf, _saveper, _nsteps, _score, _hook, _snap):"]
    lines += ["    _prev = None"]
    lines += ["    " + line for line in body]
    lines += ["    for _k in range(_nsteps):"]
    lines += ["        " + line for line in loop]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Scoring:
    """Which steps are scored: every ``saveper`` years (default the model's SAVEPER), from
    ``start`` on (default from the first step; a skipped step's scores read NaN, so that a
    window that does not need them does not pay for them)."""

    saveper: float | None = None
    start: float | None = None


@dataclass
class StepHook:
    """Receives values at each scored step; computes what ``reduce`` wants from link scores."""

    program: LtmProgram
    evaluator: _Evaluator
    n: int
    reduce: Callable[[int, np.ndarray], None]
    wanted: np.ndarray | None = None
    needed: set[str] | None = None
    record: Callable[[int, dict[str, Any]], None] | None = None
    slot: np.ndarray | None = None
    start: float | None = None

    def __call__(self, k: int, time: float, cur: dict[str, Any], prev: Any) -> None:
        j = int(self.slot[k]) if self.slot is not None else k
        if self.record is not None:
            self.record(j, cur)
        if self.start is not None and time < self.start - 1e-9:
            self.reduce(j, np.full((self.n, self.program.n_links), np.nan))
            return
        if prev is None:
            self.reduce(j, np.zeros((self.n, self.program.n_links)))
            return
        with np.errstate(all="ignore"):
            scores = _link_scores(
                self.program, self.evaluator, cur, prev, self.n, self.wanted, self.needed
            )
        self.reduce(j, scores)


def run_scored(
    program: LtmProgram,
    params: dict[str, np.ndarray],
    n_runs: int,
    reduce_factory: Callable[[int, int], Callable[[int, np.ndarray], None]],
    *,
    record_factory: Callable[[int, int], Callable[[int, dict[str, Any]], None]] | None = None,
    scoring: Scoring = Scoring(),
    chunk: int = 500,
    links: Sequence[int] | None = None,
    keep: Sequence[str] | None = None,
) -> TimeGrid:
    """Simulate ``n_runs`` parameter sets, scoring links at every saved step.

    ``links``: ids of the element links needed (default all); the others read 0, and only
    the values feeding stocks (plus the node idents in ``keep``) are computed.

    ``reduce_factory(start, stop)`` returns the callback that receives ``(slot, scores)`` with
    scores ``(runs of the chunk, n_links)``; likewise ``record_factory`` for values.
    """
    model = program.model
    model._check_supported()  # pre-flight and verification against PySD, as for simulate
    compiled = program.compiled
    control = compiled.control
    step = control["time_step"]
    grid = TimeGrid.build(
        control["initial_time"],
        control["final_time"],
        step,
        scoring.saveper if scoring.saveper is not None else model._default_saveper(step),
    )
    wanted = None
    needed = None
    outputs = None
    if links is not None:
        wanted = np.zeros(program.n_links, dtype=bool)
        wanted[np.asarray(list(links), dtype=np.intp)] = True
        needed = set()
        for e in program.edges:
            if wanted[e.first : e.first + len(e.pairs)].any():
                needed |= {e.source, e.target}
        outputs = list(keep or [])
    source = _generate(compiled, outputs)
    namespace = _namespace(compiled)
    exec(compile(source, "<nea_sd ltm>", "exec"), namespace)  # noqa: S102
    func = namespace["_ltm_run"]
    slot = np.cumsum(grid.save) - 1
    score = np.append(grid.save, False)
    for start in range(0, n_runs, chunk):
        stop = min(n_runs, start + chunk)
        consts = model._chunk_constants(compiled, params, start, stop)
        base = _namespace(compiled)
        base.update(consts)
        base.update(_dt=step, _t0=grid.initial, _tf=grid.final, _saveper=grid.saveper)
        # frozen nodes come in with every snapshot (locals), so the base needs no more
        hook = StepHook(
            program,
            _Evaluator(program, base),
            stop - start,
            reduce_factory(start, stop),
            wanted=wanted,
            needed=needed,
            record=record_factory(start, stop) if record_factory else None,
            slot=slot,
            start=scoring.start,
        )
        with np.errstate(all="ignore"):
            func(
                consts,
                stop - start,
                grid.initial,
                step,
                grid.final,
                grid.saveper,
                len(grid.times),
                score,
                hook,
                _snapshot,
            )
    return grid


class LoopScorer:
    """Loop scores ``(runs, loops)`` as products of element link scores along each loop.

    Products are taken in log space through a sparse link-loop incidence matrix, so the cost
    grows with the total length of the loops, not with loops x runs gathers; signs and zero
    links are counted separately.
    """

    def __init__(self, loops: Sequence[Sequence[int]], n_links: int):
        from scipy import sparse

        rows = np.concatenate([np.asarray(lp, dtype=np.intp) for lp in loops]) if loops else []
        cols = np.concatenate([np.full(len(lp), i) for i, lp in enumerate(loops)]) if loops else []
        self.matrix = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(n_links, len(loops))
        )
        used = np.unique(rows) if len(rows) else np.array([], dtype=np.intp)
        self.used = used
        self.sub = self.matrix[used] if len(used) else self.matrix

    def __call__(self, links: np.ndarray) -> np.ndarray:
        values = links[:, self.used]
        absval = np.abs(values)
        zero = absval == 0
        logs = np.log(np.where(zero, 1.0, absval))
        magnitude = np.exp(np.asarray(self.sub.T.dot(logs.T)).T)
        negative = np.asarray(self.sub.T.dot((values < 0).T.astype(float))).T
        zeros = np.asarray(self.sub.T.dot(zero.T.astype(float))).T
        sign = 1.0 - 2.0 * (np.rint(negative) % 2)
        return np.where(zeros > 0, 0.0, sign * magnitude)


def loop_scores_from_links(links: np.ndarray, loops: Sequence[Sequence[int]]) -> np.ndarray:
    """Loop scores ``(runs, loops)``: exact products of element link scores along each loop."""
    out = np.empty((links.shape[0], len(loops)))
    by_length: dict[int, list[int]] = {}
    for i, loop in enumerate(loops):
        by_length.setdefault(len(loop), []).append(i)
    for _length, members in by_length.items():
        ids = np.array([loops[i] for i in members], dtype=np.intp)
        out[:, members] = links[:, ids].prod(axis=2)
    return out
