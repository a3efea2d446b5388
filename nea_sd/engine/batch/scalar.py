"""Expressions for the compiled (numba) backend: one scalar expression per cell.

The kernel runs one parameter set at a time (runs spread over threads), with every subscripted
value a flat array.  A reference becomes ``x[table[c]]`` where ``c`` is the flat index of the
current cell of the equation's space and ``table`` is computed here from the subscripts;
aggregations become loops hoisted before the cell's expression (``Context.pre``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nea_sd.engine.batch.expressions import (
    AGGREGATIONS,
    Context,
    Expr,
    ExpressionCompiler,
    Symbol,
    _bang_ranges,
)
from nea_sd.engine.batch.subscripts import Axis, flat_table, resolve, space_shape
from nea_sd.engine.batch.unsupported import Unsupported

_START = {"sum": "0.0", "prod": "1.0", "vmin": "np.inf", "vmax": "-np.inf"}
_COMBINE = {
    "sum": "{acc} + ({x})",
    "prod": "{acc} * ({x})",
    "vmin": "np.minimum({acc}, {x})",
    "vmax": "np.maximum({acc}, {x})",
}


class ScalarExpressionCompiler(ExpressionCompiler):
    """Same language as :class:`ExpressionCompiler`, rendered for one cell at a time."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._count = 0

    def _fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def pick(self, ident: str, table: np.ndarray, ctx: Context) -> str:
        if table.size and np.all(table == table[0]):
            return f"{ident}[{int(table[0])}]"
        if np.array_equal(table, np.arange(table.size)):
            return f"{ident}[{ctx.cell}]"
        return f"{ident}[{self.const(table)}[{ctx.cell}]]"

    def reference(self, symbol: Symbol, subs: list[str] | None, ctx: Context) -> Expr:
        ctx.deps.add(symbol.ident)
        ix = resolve(self.table, symbol.dims, subs, ctx.space, ctx.variable)
        if not symbol.dims:
            return Expr(symbol.ident, frozenset(), False)
        return Expr(self.pick(symbol.ident, flat_table(ix, ctx.space), ctx), ix.axes, False)

    def _fn_if_then_else(self, args: list[Expr], ctx: Context) -> Expr:
        c, a, b = args
        return self._merge(f"(({a.code}) if ({c.code}) else ({b.code}))", args)

    def _lookup_call(self, symbol: Symbol, node: Any, ctx: Context) -> Expr:
        if len(node.arguments) != 1:
            raise Unsupported("lookup called with several arguments", ctx.variable)
        arg = self.compile(node.arguments[0], ctx)
        tables = symbol.lookup
        if not symbol.dims:
            x, y = tables.single()
            return Expr(f"np.interp({arg.code}, {self.const(x)}, {self.const(y)})", arg.axes)
        subs = node.function.subscripts.subscripts if node.function.subscripts else None
        ix = resolve(self.table, symbol.dims, subs, ctx.space, ctx.variable)
        cell = self.pick_index(flat_table(ix, ctx.space), ctx)
        xs, ys = tables.padded()
        code = f"_interp_row({arg.code}, {self.const(xs)}[{cell}], {self.const(ys)}[{cell}])"
        return Expr(code, arg.axes | ix.axes)

    def pick_index(self, table: np.ndarray, ctx: Context) -> str:
        if table.size and np.all(table == table[0]):
            return str(int(table[0]))
        if np.array_equal(table, np.arange(table.size)):
            return ctx.cell
        return f"{self.const(table)}[{ctx.cell}]"

    def _aggregate(self, name: str, arguments: tuple[Any, ...], ctx: Context) -> Expr:
        if len(arguments) != 1:
            raise Unsupported(f"{name.upper()} with {len(arguments)} arguments", ctx.variable)
        bangs = _bang_ranges(arguments[0])
        if not bangs:
            raise Unsupported(f"{name.upper()} without a '!' subscript", ctx.variable)
        extra = [Axis(b, tuple(self.table.elements(b)), True) for b in bangs]
        count = int(np.prod(space_shape(extra)))
        loop = self._fresh("_b")
        cell = loop if ctx.cell == "0" or not ctx.space else f"({ctx.cell}) * {count} + {loop}"
        inner = Context(ctx.variable, ctx.space + extra, ctx.phase, cell=cell)
        arg = self.compile(arguments[0], inner)
        ctx.deps |= inner.deps
        ctx.uses_time |= inner.uses_time
        ctx.phase_variant |= inner.phase_variant
        acc = self._fresh("_a")
        combine = _COMBINE[name].format(acc=acc, x=arg.code)
        ctx.pre += [f"{acc} = {_START[name]}", f"for {loop} in range({count}):"]
        ctx.pre += ["    " + line for line in inner.pre] + [f"    {acc} = {combine}"]
        first = ctx.rank
        return Expr(acc, frozenset(a for a in arg.axes if a < first))

    def _array_literal(self, value: np.ndarray, ctx: Context) -> Expr:
        shape = space_shape(ctx.space)
        if int(np.prod(shape)) != value.size:
            raise Unsupported("array constant that does not fit its subscripts", ctx.variable)
        flat = np.asarray(value, dtype=float).ravel()
        return Expr(f"{self.const(flat)}[{ctx.cell}]", frozenset(range(len(shape))))


_ = AGGREGATIONS
