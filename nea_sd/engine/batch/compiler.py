"""PySD's abstract model -> graph of nodes and states -> Python source of a batch simulator.

Compilation never stops at the first problem: every variable is compiled and each
unsupported construct is recorded, so that the pre-flight report lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nea_sd.engine.batch.expressions import Context, ExpressionCompiler, Symbol
from nea_sd.engine.batch.graph import ConstPool, Graph, Node
from nea_sd.engine.batch.render import NumpyRender, ScalarRender
from nea_sd.engine.batch.scalar import ScalarExpressionCompiler
from nea_sd.engine.batch.stateful import StatefulLowering
from nea_sd.engine.batch.subscripts import Axis, SubscriptTable, key
from nea_sd.engine.batch.unsupported import Finding, Unsupported


@dataclass
class LookupTable:
    """The tables of a (possibly subscripted) lookup: one (x, y) per cell."""

    shape: tuple[int, ...]
    cells: dict[int, tuple[np.ndarray, np.ndarray]]

    def single(self) -> tuple[np.ndarray, np.ndarray]:
        return self.cells[0]

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """Tables stacked to a common length by repeating their last point."""
        size = int(np.prod(self.shape))
        width = max(len(x) for x, _ in self.cells.values())
        xs = np.full((size, width), np.nan)
        ys = np.full((size, width), np.nan)
        for cell, (x, y) in self.cells.items():
            xs[cell, : len(x)], ys[cell, : len(y)] = x, y
            xs[cell, len(x) :], ys[cell, len(y) :] = x[-1], y[-1]
        return xs, ys


@dataclass
class VariableInfo:
    """A model variable as the runtime sees it."""

    name: str  # Vensim real name
    ident: str
    dims: list[str]
    coords: dict[str, list[str]]
    kind: str  # "constant" | "stock" | "auxiliary"
    parameter: bool = False
    default: np.ndarray | None = None  # (1, *shape) for constants


@dataclass
class CompiledModel:
    graph: Graph
    consts: ConstPool
    variables: dict[str, VariableInfo]  # by real name
    control: dict[str, float]
    findings: list[Finding]
    table: SubscriptTable
    order_params: set[str] = field(default_factory=set)  # constants fixing SMOOTH N/DELAY N orders
    backend: str = "numpy"
    allocs: list[str] = field(default_factory=list)  # compiled backend: per-run arrays
    checks: list[str] = field(default_factory=list)  # compiled backend: delay checks by code


def _is_number(ast: Any) -> bool:
    return isinstance(ast, (int, float, np.integer, np.floating, np.ndarray)) and not isinstance(
        ast, bool
    )


def _component_axes(table: SubscriptTable, subs: list[str]) -> list[Axis]:
    return [Axis(s, tuple(table.elements(s))) for s in subs]


class ModelCompiler:
    """Compile the main section of an abstract model."""

    def __init__(self, abstract: Any, backend: str = "numpy"):
        self.abstract = abstract
        self.backend = backend
        self.render = ScalarRender() if backend == "numba" else NumpyRender()
        self.findings: list[Finding] = []
        self.graph = Graph()
        self.consts = ConstPool()
        self.symbols: dict[str, Symbol] = {}
        self.variables: dict[str, VariableInfo] = {}
        self.control: dict[str, float] = {}
        self.order_params: set[str] = set()

    def _note(self, exc: Unsupported, variable: str) -> None:
        finding = Finding(exc.construct, exc.variable or variable)
        if finding not in self.findings:
            self.findings.append(finding)

    def compile(self) -> CompiledModel:
        sections = list(self.abstract.sections)
        main = next((s for s in sections if s.type == "main"), sections[0])
        for extra in sections:
            if extra is not main:
                self._note(Unsupported("macro", extra.name), extra.name)
        try:
            self.table = SubscriptTable.from_section(main.subscripts)
        except Unsupported as exc:
            self._note(exc, exc.variable)
            self.table = SubscriptTable()
        elements = [e for e in main.elements if type(e).__name__ != "AbstractControlElement"]
        controls = [e for e in main.elements if type(e).__name__ == "AbstractControlElement"]
        self._controls(controls)
        declared = self._declare(elements)
        kind = ScalarExpressionCompiler if self.backend == "numba" else ExpressionCompiler
        self.expr = kind(self.table, self.symbols, self.consts, self._stateful_hook())
        self.lowering.compiler = self.expr
        for element in declared:
            try:
                self._element(element)
            except Unsupported as exc:
                self._note(exc, element.name)
            except Exception as exc:  # a construct we did not foresee: refuse, do not crash
                failure = f"equation the batch engine cannot compile ({type(exc).__name__}: {exc})"
                self._note(Unsupported(failure, element.name), element.name)
        try:
            self.graph.schedule(i.ident for i in self.variables.values())
        except Unsupported as exc:
            self._note(exc, exc.variable)
        return CompiledModel(
            self.graph,
            self.consts,
            self.variables,
            self.control,
            self.findings,
            self.table,
            self.order_params,
            self.backend,
            self.render.allocs,
            self.render.checks,
        )

    def _stateful_hook(self) -> StatefulLowering:
        self.lowering = StatefulLowering(self.graph, self._constant_value, self.render)
        return self.lowering

    # -- control variables -------------------------------------------------------------------
    def _controls(self, controls: list[Any]) -> None:
        values: dict[str, Any] = {
            key(e.name).replace(" ", "_"): e.components[0].ast for e in controls
        }

        def evaluate(ast: Any, depth: int = 0) -> float:
            if _is_number(ast):
                return float(ast)
            if depth < 5 and type(ast).__name__ == "ReferenceStructure" and ast.reference in values:
                return evaluate(values[ast.reference], depth + 1)
            raise Unsupported("control variable that is not a constant", "")

        saveper = values.get("saveper")
        follows = (
            type(saveper).__name__ == "ReferenceStructure" and saveper.reference == "time_step"
        )
        self.control["saveper_follows_step"] = float(follows)
        for name in ("initial_time", "final_time", "time_step", "saveper"):
            try:
                self.control[name] = evaluate(values[name])
            except (Unsupported, KeyError):
                self._note(
                    Unsupported(
                        "control variable that is not a constant", name.upper().replace("_", " ")
                    ),
                    "",
                )
                self.control[name] = float("nan")

    # -- declarations ------------------------------------------------------------------------
    def _declare(self, elements: list[Any]) -> list[Any]:
        declared = []
        for n, element in enumerate(elements):
            ref = key(element.name).replace(" ", "_")
            comps = element.components
            is_lookup = all(type(c.ast).__name__ == "LookupsStructure" for c in comps)
            try:
                subs = [list(c.subscripts[0]) for c in comps]
                dims = self.table.final_dims(subs, element.name) if any(subs) else []
            except Unsupported as exc:
                self._note(exc, element.name)
                continue
            ident = f"v{n}"
            if is_lookup:
                try:
                    tables = self._lookup(element, dims)
                except Unsupported as exc:
                    self._note(exc, element.name)
                    continue
                self.symbols[ref] = Symbol(ident, dims, "lookup", tables)
                continue
            if any(type(c.ast).__name__ == "LookupsStructure" for c in comps):
                self._note(Unsupported("lookup mixed with equations", element.name), element.name)
                continue
            self.symbols[ref] = Symbol(ident, dims, "variable")
            declared.append(element)
        return declared

    def _lookup(self, element: Any, dims: list[str]) -> LookupTable:
        shape = tuple(len(self.table.elements(d)) for d in dims)
        cells: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for comp in element.components:
            lk = comp.ast
            if lk.type != "interpolate":
                raise Unsupported(f"lookup interpolation {lk.type!r}", element.name)
            x, y = np.asarray(lk.x, dtype=float), np.asarray(lk.y, dtype=float)
            order = np.argsort(x, kind="stable")
            boxes = self._box(dims, list(comp.subscripts[0]), element.name)
            for cell in np.ravel_multi_index(np.ix_(*boxes), shape).ravel() if dims else [0]:
                cells[int(cell)] = (x[order], y[order])
        if len(cells) != int(np.prod(shape)):
            raise Unsupported("lookup not defined for every subscript", element.name)
        return LookupTable(shape, cells)

    def _box(self, dims: list[str], subs: list[str], where: str) -> list[np.ndarray]:
        return [
            self.table.positions(self.table.elements(s), self.table.elements(d), where)
            for s, d in zip(subs, dims, strict=True)
        ]

    def _constant_value(self, ast: Any) -> float:
        """Value of a constant expression (orders of SMOOTH N / DELAY N), from model defaults."""
        if _is_number(ast):
            return float(np.asarray(ast).ravel()[0])
        if type(ast).__name__ == "ReferenceStructure" and ast.reference in self.symbols:
            info = next(
                (
                    v
                    for v in self.variables.values()
                    if v.ident == self.symbols[ast.reference].ident
                ),
                None,
            )
            if info is not None and info.kind == "constant" and info.default is not None:
                self.order_params.add(info.name)
                return float(info.default.ravel()[0])
            element = self._elements_by_ref.get(ast.reference)
            if element is not None and all(_is_number(c.ast) for c in element.components):
                self.order_params.add(element.name)
                return float(np.asarray(element.components[0].ast).ravel()[0])
        raise Unsupported("non-constant order", "")

    # -- elements ----------------------------------------------------------------------------
    def _element(self, element: Any) -> None:
        ref = key(element.name).replace(" ", "_")
        symbol = self.symbols[ref]
        dims = symbol.dims
        coords = {d: list(self.table.elements(d)) for d in dims}
        shape = tuple(len(coords[d]) for d in dims)
        comps = element.components
        info = VariableInfo(element.name, symbol.ident, dims, coords, "auxiliary")
        if all(_is_number(c.ast) for c in comps):
            info.kind = "constant"
            info.parameter = all(type(c).__name__ == "AbstractComponent" for c in comps)
            info.default = self._constant_array(element, dims, shape)
            self.graph.constants.add(symbol.ident)
            self.variables[element.name] = info
            return
        if any(type(c.ast).__name__ == "IntegStructure" for c in comps):
            info.kind = "stock"
        init_lines, init_deps, run_lines, run_deps = [], set(), [], set()
        uses_time = variant = False
        single = len(comps) == 1 and not comps[0].subscripts[1]
        for comp in comps:
            subs = list(comp.subscripts[0])
            space = _component_axes(self.table, subs)
            boxes = self._box(dims, subs, element.name)
            full = single and all(
                len(b) == n and np.array_equal(b, np.arange(n))
                for b, n in zip(boxes, shape, strict=True)
            )
            for phase, lines, deps in (
                ("init", init_lines, init_deps),
                ("run", run_lines, run_deps),
            ):
                ctx = Context(element.name, space, phase, cell="c" if space else "0")
                expr = self.expr.compile(comp.ast, ctx)
                deps |= ctx.deps
                uses_time |= ctx.uses_time
                variant |= ctx.phase_variant
                lines += self._assign(
                    symbol.ident, expr, ctx, boxes, shape, full, comp.subscripts[1], element.name
                )
        if self.render.scalar:
            self.render.alloc(symbol.ident, shape, fill="nan" if not single else "np.empty")
        elif not single:
            alloc = f"{symbol.ident} = np.full((_N, *{shape!r}), np.nan)"
            init_lines.insert(0, alloc)
            run_lines.insert(0, alloc)
        self.graph.add(
            Node(
                symbol.ident,
                shape,
                init_lines,
                init_deps,
                run_lines,
                run_deps,
                element.name,
                uses_time,
                variant,
            )
        )
        self.variables[element.name] = info

    def _assign(
        self,
        ident: str,
        expr: Any,
        ctx: Context,
        boxes: list[np.ndarray],
        shape: tuple[int, ...],
        full: bool,
        excepts: list[list[str]],
        where: str,
    ) -> list[str]:
        comp_shape = tuple(len(a.elements) for a in ctx.space)
        if self.render.scalar:
            return self._assign_cells(ident, expr, ctx, boxes, shape, full, excepts)
        complete = expr.array and expr.axes == frozenset(range(ctx.rank))
        value = expr.code if complete else f"_fit({expr.code}, 1, {comp_shape!r})"
        if full:
            return [f"{ident} = {value}"]
        if not excepts:
            target = self._box_index(boxes)
            return [f"{ident}[{target}] = {value}"]
        # :EXCEPT: assign cell by cell those not excluded
        keep = self._except_keep(ctx, comp_shape, excepts)
        cells = np.nonzero(keep)
        src = ", ".join(self.consts(c) for c in cells)
        dst = ", ".join(self.consts(b[c]) for b, c in zip(boxes, cells, strict=True))
        return [f"{ident}[:, {dst}] = _fit({value}, 1, {comp_shape!r})[:, {src}]"]

    def _assign_cells(
        self,
        ident: str,
        expr: Any,
        ctx: Context,
        boxes: list[np.ndarray],
        shape: tuple[int, ...],
        full: bool,
        excepts: list[list[str]],
    ) -> list[str]:
        """Compiled backend: a loop over the component's cells into the flat element array."""
        if not shape:
            return ctx.pre + [f"{ident} = float({expr.code})"]
        source = expr.code[:-3] if expr.code.endswith("[c]") else ""
        if full and not ctx.pre and source.isidentifier() and self._cells(source) == _size(shape):
            return [f"{ident} = {source}"]  # the same array (a stock's own state)
        comp_shape = tuple(len(b) for b in boxes)
        keep = self._kept_cells(ctx, comp_shape, excepts)
        grids = np.ix_(*boxes)
        targets = np.ravel_multi_index(tuple(np.broadcast_arrays(*grids)), shape).ravel()
        if full:
            loop, target = [f"for c in range({len(targets)}):"], "c"
        elif keep is None:
            loop, target = [f"for c in range({len(targets)}):"], f"{self.consts(targets)}[c]"
        else:
            loop = [f"for _i in range({len(keep)}):", f"    c = {self.consts(keep)}[_i]"]
            target = f"{self.consts(targets)}[c]"
        body = ctx.pre + [f"{ident}[{target}] = {expr.code}"]
        return loop + ["    " + line for line in body]

    def _cells(self, ident: str) -> int:
        """Number of cells of the value held in ``ident`` (-1 when unknown)."""
        if ident in self.graph.states:
            return _size(self.graph.states[ident].shape)
        if ident in self.graph.nodes:
            return _size(self.graph.nodes[ident].shape)
        for symbol in self.symbols.values():
            if symbol.ident == ident:
                return _size(tuple(len(self.table.elements(d)) for d in symbol.dims))
        return -1

    def _except_keep(
        self, ctx: Context, comp_shape: tuple[int, ...], excepts: list[list[str]]
    ) -> np.ndarray:
        """Boolean mask of the component's cells that no :EXCEPT: clause excludes."""
        keep = np.ones(comp_shape, dtype=bool)
        for excluded in excepts:
            picks = []
            for axis, sub in zip(ctx.space, excluded, strict=True):
                names = {key(e) for e in self.table.elements(sub)}
                picks.append(np.array([key(e) in names for e in axis.elements]))
            mask = picks[0]
            for pick in picks[1:]:
                mask = np.multiply.outer(mask, pick)
            keep &= ~mask.astype(bool)
        return keep

    def _kept_cells(
        self, ctx: Context, comp_shape: tuple[int, ...], excepts: list[list[str]]
    ) -> np.ndarray | None:
        if not excepts:
            return None
        keep = self._except_keep(ctx, comp_shape, excepts)
        return np.flatnonzero(keep.ravel())

    def _box_index(self, boxes: list[np.ndarray]) -> str:
        parts = [":"]
        contiguous = all(
            len(b) and np.array_equal(b, np.arange(b[0], b[0] + len(b))) for b in boxes
        )
        if contiguous:
            parts += [f"{int(b[0])}:{int(b[0]) + len(b)}" for b in boxes]
            return ", ".join(parts)
        grids = np.ix_(*boxes)
        parts += [self.consts(g) for g in grids]
        return ", ".join(parts)

    def _constant_array(self, element: Any, dims: list[str], shape: tuple[int, ...]) -> np.ndarray:
        out = np.full((1, *shape), np.nan)
        for comp in element.components:
            subs = list(comp.subscripts[0])
            boxes = self._box(dims, subs, element.name)
            comp_shape = tuple(len(b) for b in boxes)
            value = np.asarray(comp.ast, dtype=float)
            if value.size not in (1, int(np.prod(comp_shape))):
                raise Unsupported("array constant that does not fit its subscripts", element.name)
            value = np.broadcast_to(
                value.reshape(comp_shape) if value.size > 1 else value, comp_shape
            )
            if comp.subscripts[1]:
                raise Unsupported(":EXCEPT: in a constant", element.name)
            if dims:
                out[(0, *np.ix_(*boxes))] = value
            else:
                out[0] = value
        return out


def compile_abstract(abstract: Any, backend: str = "numpy") -> CompiledModel:
    compiler = ModelCompiler(abstract, backend)
    sections = list(abstract.sections)
    main = next((s for s in sections if s.type == "main"), sections[0])
    compiler._elements_by_ref = {  # type: ignore[attr-defined]
        key(e.name).replace(" ", "_"): e for e in main.elements
    }
    return compiler.compile()


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) if shape else 1
