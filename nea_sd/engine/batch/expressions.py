"""PySD abstract syntax trees -> numpy source text over a run-leading array space.

Dispatch is on the class names of PySD's structures, so that PySD stays inside
``nea_sd.model``.  Each compiled expression knows which axes of the space it varies along
and whether it is an array of full rank; scalars (``time``, literals) stay Python floats so
that numpy broadcasting does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nea_sd.engine.batch.subscripts import (
    Axis,
    SubscriptTable,
    flat_table,
    index_code,
    key,
    resolve,
    space_shape,
)
from nea_sd.engine.batch.unsupported import Unsupported

SMALL_VENSIM = 1e-6  # what Vensim (and PySD) treat as zero in XIDZ/ZIDZ, RAMP and PULSE

CONTROL = {"time_step": "_dt", "initial_time": "_t0", "final_time": "_tf", "saveper": "_saveper"}
AGGREGATIONS = {"sum": "np.sum", "prod": "np.prod", "vmin": "np.min", "vmax": "np.max"}
UNARY = {
    "abs": "np.abs",
    "exp": "np.exp",
    "sqrt": "np.sqrt",
    "ln": "np.log",
    "sin": "np.sin",
    "cos": "np.cos",
    "tan": "np.tan",
    "arcsin": "np.arcsin",
    "arccos": "np.arccos",
    "arctan": "np.arctan",
    "sinh": "np.sinh",
    "cosh": "np.cosh",
    "tanh": "np.tanh",
    "integer": "np.trunc",
}
BINARY_OPS = {
    "^": "**",
    "*": "*",
    "/": "/",
    "+": "+",
    "-": "-",
    "=": "==",
    "<>": "!=",
    ">=": ">=",
    ">": ">",
    "<=": "<=",
    "<": "<",
}
STATEFUL = {
    "IntegStructure": "INTEG",
    "SmoothStructure": "SMOOTH",
    "SmoothNStructure": "SMOOTH N",
    "DelayStructure": "DELAY",
    "DelayNStructure": "DELAY N",
    "TrendStructure": "TREND",
    "InitialStructure": "INITIAL",
}
REFUSED = {
    "DelayFixedStructure": "DELAY FIXED",
    "ForecastStructure": "FORECAST",
    "SampleIfTrueStructure": "SAMPLE IF TRUE",
    "GetLookupsStructure": "GET XLS/DIRECT LOOKUPS",
    "GetDataStructure": "GET XLS/DIRECT DATA",
    "GetConstantsStructure": "GET XLS/DIRECT CONSTANTS",
    "DataStructure": "data variable",
    "GameStructure": "GAME",
    "AllocateAvailableStructure": "ALLOCATE AVAILABLE",
    "AllocateByPriorityStructure": "ALLOCATE BY PRIORITY",
}


@dataclass(frozen=True)
class Expr:
    """Compiled expression: source text, axes it varies along, and whether it is an array."""

    code: str
    axes: frozenset[int] = frozenset()
    array: bool = False


@dataclass
class Symbol:
    """What a model name refers to in generated code."""

    ident: str  # python identifier holding the value
    dims: list[str]
    kind: str  # "variable" | "lookup"
    lookup: Any = None  # for lookups: the tables (see compiler.LookupTable)


@dataclass
class Context:
    """Where an expression is compiled: its variable, space, phase, and what it reads."""

    variable: str
    space: list[Axis]
    phase: str  # "init" or "run"
    deps: set[str] = field(default_factory=set)
    uses_time: bool = False
    phase_variant: bool = False  # ACTIVE INITIAL inside: init and run values differ
    cell: str = "c"  # scalar backend: flat index of the current cell of the space
    pre: list[str] = field(default_factory=list)  # scalar backend: statements to run first

    @property
    def rank(self) -> int:
        return len(self.space)


class ExpressionCompiler:
    """Compile one equation AST into numpy source text within a :class:`Context`."""

    def __init__(
        self,
        table: SubscriptTable,
        symbols: dict[str, Symbol],
        const: Callable[[Any], str],
        stateful: Callable[[Any, Context], Expr],
    ):
        self.table = table
        self.symbols = symbols
        self.const = const
        self.stateful = stateful

    # -- entry point -------------------------------------------------------------------------
    def compile(self, node: Any, ctx: Context) -> Expr:
        if isinstance(node, bool):
            return Expr(repr(float(node)))
        if isinstance(node, (int, float, np.integer, np.floating)):
            value = float(node)
            if np.isnan(value):
                return Expr("np.nan")
            # bare, as PySD writes it: ``-2^2`` is then -(2**2), as in Vensim
            return Expr(repr(value))
        if isinstance(node, np.ndarray):
            return self._array_literal(node, ctx)
        kind = type(node).__name__
        if kind in STATEFUL:
            return self.stateful(node, ctx)
        if kind in REFUSED:
            raise Unsupported(REFUSED[kind], ctx.variable)
        method = getattr(self, "_" + kind, None)
        if method is None:
            raise Unsupported(f"expression {kind}", ctx.variable)
        return method(node, ctx)

    # -- structures --------------------------------------------------------------------------
    def _ArithmeticStructure(self, node: Any, ctx: Context) -> Expr:  # noqa: N802
        return self._operation(node, ctx)

    def _LogicStructure(self, node: Any, ctx: Context) -> Expr:  # noqa: N802
        return self._operation(node, ctx)

    def _operation(self, node: Any, ctx: Context) -> Expr:
        args = [self.compile(a, ctx) for a in node.arguments]
        ops = list(node.operators)
        if len(args) == 1:
            op = ops[0]
            if op == "negative":
                return Expr(f"(-{args[0].code})", args[0].axes, args[0].array)
            if op == ":NOT:":
                return Expr(f"np.logical_not({args[0].code})", args[0].axes, args[0].array)
            raise Unsupported(f"unary operator {op!r}", ctx.variable)
        axes = frozenset().union(*(a.axes for a in args))
        array = any(a.array for a in args)
        if ops[0] in (":AND:", ":OR:"):
            # left to right, as PySD nests them
            func = {":AND:": "np.logical_and", ":OR:": "np.logical_or"}
            code = args[0].code
            for op, arg in zip(ops, args[1:], strict=True):
                code = f"{func[op]}({code}, {arg.code})"
            return Expr(code, axes, array)
        parts = [args[0].code]
        for op, arg in zip(ops, args[1:], strict=True):
            if op not in BINARY_OPS:
                raise Unsupported(f"operator {op!r}", ctx.variable)
            parts += [BINARY_OPS[op], arg.code]
        # one flat infix chain, as PySD writes it, so that associativity matches
        return Expr("(" + " ".join(parts) + ")", axes, array)

    def _ReferenceStructure(self, node: Any, ctx: Context) -> Expr:  # noqa: N802
        ref = node.reference
        if ref == "time":
            ctx.uses_time = True
            return Expr("time")
        if ref in CONTROL:
            return Expr(CONTROL[ref])
        symbol = self.symbols.get(ref)
        if symbol is None:
            if self.table.is_range(ref):
                raise Unsupported("subscript range used as a value", ctx.variable)
            raise Unsupported(f"reference to undefined variable {ref!r}", ctx.variable)
        if symbol.kind == "lookup":
            raise Unsupported("lookup table used as a value", ctx.variable)
        subs = node.subscripts.subscripts if node.subscripts is not None else None
        return self.reference(symbol, subs, ctx)

    def reference(self, symbol: Symbol, subs: list[str] | None, ctx: Context) -> Expr:
        ctx.deps.add(symbol.ident)
        ix = resolve(self.table, symbol.dims, subs, ctx.space, ctx.variable)
        suffix, _ = index_code(ix, len(symbol.dims), self.const)
        return Expr(symbol.ident + suffix, ix.axes, True)

    def _InitialStructure(self, node: Any, ctx: Context) -> Expr:  # noqa: N802 - via stateful
        return self.stateful(node, ctx)

    def _InlineLookupsStructure(self, node: Any, ctx: Context) -> Expr:  # noqa: N802
        arg = self.compile(node.argument, ctx)
        table = node.lookups
        if table.type != "interpolate":
            raise Unsupported(f"lookup interpolation {table.type!r}", ctx.variable)
        x, y = _sorted_table(table.x, table.y)
        return Expr(f"np.interp({arg.code}, {self.const(x)}, {self.const(y)})", arg.axes, arg.array)

    def _CallStructure(self, node: Any, ctx: Context) -> Expr:  # noqa: N802
        name = node.function.reference
        symbol = self.symbols.get(name)
        if symbol is not None and symbol.kind == "lookup":
            return self._lookup_call(symbol, node, ctx)
        if name in AGGREGATIONS:
            return self._aggregate(name, node.arguments, ctx)
        if name == "elmcount":
            ref = node.arguments[0]
            if type(ref).__name__ != "ReferenceStructure" or not self.table.is_range(ref.reference):
                raise Unsupported("ELMCOUNT of something other than a range", ctx.variable)
            return Expr(repr(float(len(self.table.elements(ref.reference)))))
        if name == "active_initial":
            ctx.phase_variant = True
            chosen = node.arguments[1] if ctx.phase == "init" else node.arguments[0]
            return self.compile(chosen, ctx)
        args = [self.compile(a, ctx) for a in node.arguments]
        build = getattr(self, "_fn_" + name, None)
        if build is None and name in UNARY and len(args) == 1:
            a = args[0]
            return Expr(f"{UNARY[name]}({a.code})", a.axes, a.array)
        if build is None:
            raise Unsupported(f"function {name.upper().replace('_', ' ')}", ctx.variable)
        return build(args, ctx)

    # -- functions ---------------------------------------------------------------------------
    @staticmethod
    def _merge(code: str, args: list[Expr]) -> Expr:
        axes = frozenset().union(*(a.axes for a in args)) if args else frozenset()
        return Expr(code, axes, any(a.array for a in args))

    def _fn_if_then_else(self, args: list[Expr], ctx: Context) -> Expr:
        c, a, b = args
        return self._merge(f"np.where({c.code}, {a.code}, {b.code})", args)

    def _fn_min(self, args: list[Expr], ctx: Context) -> Expr:
        return self._merge(f"np.minimum({args[0].code}, {args[1].code})", args)

    def _fn_max(self, args: list[Expr], ctx: Context) -> Expr:
        return self._merge(f"np.maximum({args[0].code}, {args[1].code})", args)

    def _fn_power(self, args: list[Expr], ctx: Context) -> Expr:
        return self._merge(f"np.power({args[0].code}, {args[1].code})", args)

    def _fn_log(self, args: list[Expr], ctx: Context) -> Expr:
        return self._merge(f"(np.log({args[0].code}) / np.log({args[1].code}))", args)

    def _fn_modulo(self, args: list[Expr], ctx: Context) -> Expr:
        return self._merge(f"_modulo({args[0].code}, {args[1].code})", args)

    def _fn_quantum(self, args: list[Expr], ctx: Context) -> Expr:
        return self._merge(f"_quantum({args[0].code}, {args[1].code})", args)

    def _fn_xidz(self, args: list[Expr], ctx: Context) -> Expr:
        a, b, x = (e.code for e in args)
        return self._merge(f"_xidz({a}, {b}, {x})", args)

    def _fn_zidz(self, args: list[Expr], ctx: Context) -> Expr:
        return self._merge(f"_zidz({args[0].code}, {args[1].code})", args)

    def _fn_step(self, args: list[Expr], ctx: Context) -> Expr:
        ctx.uses_time = True
        height, when = (e.code for e in args)
        return self._merge(f"({height} * (time + _dt / 2 > {when}))", args)

    def _fn_ramp(self, args: list[Expr], ctx: Context) -> Expr:
        ctx.uses_time = True
        slope, start = args[0].code, args[1].code
        end = f"np.minimum({args[2].code}, time)" if len(args) > 2 else "time"
        return self._merge(
            f"((time + {SMALL_VENSIM!r} > {start}) * {slope} * ({end} - {start}))", args
        )

    def _fn_pulse(self, args: list[Expr], ctx: Context) -> Expr:
        ctx.uses_time = True
        start, width = (e.code for e in args)
        return self._merge(f"_pulse(time, {start}, {width})", args)

    def _fn_pulse_train(self, args: list[Expr], ctx: Context) -> Expr:
        ctx.uses_time = True
        start, repeat, width, end = (e.code for e in args)
        return self._merge(f"_pulse_train(time, {start}, {repeat}, {width}, {end})", args)

    def _fn_pi(self, args: list[Expr], ctx: Context) -> Expr:
        return Expr("np.pi")

    # -- lookups and aggregation -------------------------------------------------------------
    def _lookup_call(self, symbol: Symbol, node: Any, ctx: Context) -> Expr:
        if len(node.arguments) != 1:
            raise Unsupported("lookup called with several arguments", ctx.variable)
        arg = self.compile(node.arguments[0], ctx)
        tables = symbol.lookup
        if not symbol.dims:
            x, y = tables.single()
            code = f"np.interp({arg.code}, {self.const(x)}, {self.const(y)})"
            return Expr(code, arg.axes, arg.array)
        subs = node.function.subscripts.subscripts if node.function.subscripts else None
        ix = resolve(self.table, symbol.dims, subs, ctx.space, ctx.variable)
        cell = flat_table(ix, ctx.space).reshape((1, *space_shape(ctx.space)))
        xs, ys = tables.padded()
        axes = arg.axes | ix.axes
        tables_code = f"{self.const(np.asarray(cell))}, {self.const(xs)}, {self.const(ys)}"
        code = f"_interp_cells({arg.code}, {tables_code})"
        return Expr(code, axes, True)

    def _aggregate(self, name: str, arguments: tuple[Any, ...], ctx: Context) -> Expr:
        if len(arguments) != 1:
            raise Unsupported(f"{name.upper()} with {len(arguments)} arguments", ctx.variable)
        bangs = _bang_ranges(arguments[0])
        if not bangs:
            raise Unsupported(f"{name.upper()} without a '!' subscript", ctx.variable)
        inner = Context(
            ctx.variable,
            ctx.space + [Axis(b, tuple(self.table.elements(b)), True) for b in bangs],
            ctx.phase,
        )
        arg = self.compile(arguments[0], inner)
        ctx.deps |= inner.deps
        ctx.uses_time |= inner.uses_time
        ctx.phase_variant |= inner.phase_variant
        first = ctx.rank
        reduced = tuple(range(first, first + len(bangs)))
        sizes = tuple(len(self.table.elements(b)) for b in bangs)
        func = AGGREGATIONS[name]
        axes_text = ", ".join(str(a + 1) for a in reduced)
        if arg.array and set(reduced) <= arg.axes:
            code = f"{func}({arg.code}, axis=({axes_text},))"
        else:
            code = f"{func}(_full_tail({arg.code}, {inner.rank}, {sizes!r}), axis=({axes_text},))"
        return Expr(code, frozenset(a for a in arg.axes if a < first), True)

    def _array_literal(self, value: np.ndarray, ctx: Context) -> Expr:
        shape = tuple(len(a.elements) for a in ctx.space)
        if int(np.prod(shape)) != value.size:
            raise Unsupported("array constant that does not fit its subscripts", ctx.variable)
        array = np.asarray(value, dtype=float).reshape((1, *shape))
        axes = frozenset(i for i, n in enumerate(shape))
        return Expr(self.const(array), axes, True)


def _bang_ranges(node: Any) -> list[str]:
    """Ranges written with ``!`` in an aggregation's argument (not in nested aggregations)."""
    found: list[str] = []

    def walk(n: Any) -> None:
        kind = type(n).__name__
        if kind == "ReferenceStructure":
            if n.subscripts is not None:
                for sub in n.subscripts.subscripts:
                    if sub.endswith("!") and key(sub[:-1]) not in {key(f) for f in found}:
                        found.append(sub[:-1].strip())
            return
        if kind == "CallStructure":
            if n.function.reference in AGGREGATIONS:
                return
            walk(n.function)
            for a in n.arguments:
                walk(a)
            return
        for attr in ("arguments", "argument", "flow", "initial", "input"):
            child = getattr(n, attr, None)
            if isinstance(child, tuple):
                for c in child:
                    walk(c)
            elif child is not None and not isinstance(child, (int, float, str, np.ndarray)):
                walk(child)

    walk(node)
    return found


def _sorted_table(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]
