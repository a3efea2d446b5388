"""INTEG, SMOOTH, DELAY, DELAY N, TREND and INITIAL lowered to states and nodes.

The arithmetic follows PySD's runtime operation by operation (same initial values, same
derivative formulas, same order of floating-point operations), so that a batch run agrees
with a PySD run to rounding.  Every stateful call gets its own states, shaped like the
equation's left-hand side (``(run, *axes)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nea_sd.engine.batch.expressions import Context, Expr, ExpressionCompiler
from nea_sd.engine.batch.graph import Graph, Node, State
from nea_sd.engine.batch.unsupported import Unsupported


class StatefulLowering:
    """Creates the states and hidden nodes of each stateful call, once per AST node."""

    def __init__(self, graph: Graph, constant_value: Any):
        self.graph = graph
        self.compiler: ExpressionCompiler | None = None
        self.constant_value = constant_value  # evaluates a constant AST (orders of SMOOTH N)
        self._done: dict[int, tuple[str, Expr]] = {}

    def __call__(self, node: Any, ctx: Context) -> Expr:
        if ctx.space and any(a.bang for a in ctx.space):
            raise Unsupported("stateful function inside an aggregation", ctx.variable)
        memo = self._done.get(id(node))
        if memo is None:
            kind = type(node).__name__
            handler = getattr(self, "_" + kind)
            memo = handler(node, ctx)
            self._done[id(node)] = memo
        ident, expr = memo
        ctx.deps.add(ident)
        return expr

    # -- helpers -----------------------------------------------------------------------------
    def _shape(self, ctx: Context) -> tuple[int, ...]:
        return tuple(len(a.elements) for a in ctx.space)

    def _compile(self, ast: Any, ctx: Context, phase: str) -> tuple[Expr, Context]:
        sub = Context(ctx.variable, ctx.space, phase)
        assert self.compiler is not None
        return self.compiler.compile(ast, sub), sub

    def _full(self, ctx: Context) -> Expr:
        return Expr("", frozenset(range(ctx.rank)), True)

    def _aux(self, ast: Any, ctx: Context, label: str) -> tuple[str, Context, Context]:
        """A hidden node holding an argument, computed in both phases."""
        ident = self.graph.fresh(label)
        run, rctx = self._compile(ast, ctx, "run")
        init, ictx = self._compile(ast, ctx, "init")
        self.graph.add(
            Node(
                ident,
                self._shape(ctx),
                [f"{ident} = {init.code}"],
                ictx.deps,
                [f"{ident} = {run.code}"],
                rctx.deps,
                ctx.variable,
                rctx.uses_time,
                rctx.phase_variant or ictx.phase_variant,
            )
        )
        return ident, ictx, rctx

    def _state(
        self,
        ident: str,
        ctx: Context,
        init_code: str,
        init_deps: set[str],
        ddt_code: list[str],
        ddt_deps: set[str],
    ) -> None:
        shape = self._shape(ctx)
        self.graph.states[ident] = State(
            ident,
            shape,
            [f"{ident} = _state({init_code}, _N, {shape!r})"],
            init_deps,
            ddt_code,
            ddt_deps,
            [f"{ident} = {ident} + d_{ident} * _dt"],
            ctx.variable,
        )

    def _order(self, order_ast: Any, ctx: Context, what: str) -> int:
        try:
            value = float(self.constant_value(order_ast))
        except Unsupported:
            raise Unsupported(f"{what} whose order is not a constant", ctx.variable) from None
        if value != int(value) or value < 1:
            raise Unsupported(f"{what} of order {value!r}", ctx.variable)
        return int(value)

    # -- structures --------------------------------------------------------------------------
    def _IntegStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        if node.non_negative:
            raise Unsupported("non-negative INTEG", ctx.variable)
        ident = self.graph.fresh("s")
        flow, fctx = self._compile(node.flow, ctx, "run")
        init, ictx = self._compile(node.initial, ctx, "init")
        self._state(ident, ctx, init.code, ictx.deps, [f"d_{ident} = {flow.code}"], fctx.deps)
        return ident, Expr(ident, *_full_of(ctx))

    def _SmoothStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        order = int(node.order)
        return self._smooth(node, ctx, order)

    def _SmoothNStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        return self._smooth(node, ctx, self._order(node.order, ctx, "SMOOTH N"))

    def _smooth(self, node: Any, ctx: Context, order: int) -> tuple[str, Expr]:
        inp, _, ictx = self._aux(node.input, ctx, "a")
        tau, _, tctx = self._aux(node.smooth_time, ctx, "a")
        init, initctx = self._compile(node.initial, ctx, "init")
        base = self.graph.fresh("s")
        stages = [f"{base}_{k}" for k in range(order)]
        first = True
        for k, ident in enumerate(stages):
            target = inp if k == 0 else stages[k - 1]
            ddt = [f"d_{ident} = ({target} - {ident}) * {order} / {tau}"]
            deps = {inp, tau} | ({stages[k - 1]} if k else set())
            init_code = init.code if first else stages[0]
            init_deps = initctx.deps if first else {stages[0]}
            self._state(ident, ctx, init_code, init_deps, ddt, deps)
            first = False
        return stages[-1], Expr(stages[-1], *_full_of(ctx))

    def _DelayStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        return self._delay(node, ctx, int(node.order), variable_time=False)

    def _DelayNStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        return self._delay(node, ctx, self._order(node.order, ctx, "DELAY N"), variable_time=True)

    def _delay(self, node: Any, ctx: Context, order: int, variable_time: bool) -> tuple[str, Expr]:
        inp, _, _ = self._aux(node.input, ctx, "a")
        tau, _, _ = self._aux(node.delay_time, ctx, "a")
        init, initctx = self._compile(node.initial, ctx, "init")
        base = self.graph.fresh("s")
        stages = [f"{base}_{k}" for k in range(order)]
        taus = [f"{base}_t{k}" for k in range(order)] if variable_time else []
        shape = self._shape(ctx)
        # stage contents are value * delay time, as in PySD
        for k, ident in enumerate(stages):
            if k == 0:
                init_code, init_deps = f"({init.code}) * {tau}", initctx.deps | {tau}
            else:
                init_code, init_deps = stages[0], {stages[0]}
            if variable_time:
                out_k = f"({ident} / {taus[k]}_n)"
                inflow = inp if k == 0 else f"({stages[k - 1]} / {taus[k - 1]}_n)"
            else:
                out_k = f"({ident} / {tau})"
                inflow = inp if k == 0 else f"({stages[k - 1]} / {tau})"
            ddt = [f"d_{ident} = ({inflow} - {out_k}) * {order}"]
            deps = {inp, tau} | set(stages) | set(taus)
            self._state(ident, ctx, init_code, init_deps, ddt, deps)
        first = stages[0]
        self.graph.states[first].check_code.append(
            f"_check_delay_order({order}, _dt, {tau}, {ctx.variable!r})"
        )
        if variable_time:
            # the per-stage delay times shift one stage per step (PySD's DELAY N)
            roll = [f"{taus[0]}_n = _fit({tau}, _N, {shape!r})"]
            roll += [f"{taus[k]}_n = {taus[k - 1]}" for k in range(1, order)]
            self.graph.states[first].ddt_code[:0] = roll
            for k, t in enumerate(taus):
                self.graph.states[t] = State(
                    t,
                    shape,
                    [f"{t} = _state({tau}, _N, {shape!r})"],
                    {tau},
                    [],
                    set(),
                    [f"{t} = {t}_n"],
                    ctx.variable,
                )
                if k:
                    self.graph.states[first].ddt_deps.add(t)
            out = self.graph.fresh("h")
            code = f"{out} = {stages[-1]} / {taus[0]}"
            deps = {stages[-1], taus[0]}
        else:
            out = self.graph.fresh("h")
            code = f"{out} = {stages[-1]} / {tau}"
            deps = {stages[-1], tau}
        self.graph.add(Node(out, shape, [code], deps, [code], deps, ctx.variable))
        return out, Expr(out, *_full_of(ctx))

    def _TrendStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        inp, _, _ = self._aux(node.input, ctx, "a")
        avg, _, _ = self._aux(node.average_time, ctx, "a")
        init, initctx = self._compile(node.initial_trend, ctx, "init")
        ident = self.graph.fresh("s")
        self._state(
            ident,
            ctx,
            f"{inp} / (1 + ({init.code}) * {avg})",
            initctx.deps | {inp, avg},
            [f"d_{ident} = ({inp} - {ident}) / {avg}"],
            {inp, avg, ident},
        )
        out = self.graph.fresh("h")
        code = f"{out} = _zidz({inp} - {ident}, {avg} * np.abs({ident}))"
        deps = {inp, avg, ident}
        self.graph.add(Node(out, self._shape(ctx), [code], deps, [code], deps, ctx.variable))
        return out, Expr(out, *_full_of(ctx))

    def _InitialStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        init, ictx = self._compile(node.initial, ctx, "init")
        ident = self.graph.fresh("h")
        self.graph.add(
            Node(
                ident,
                self._shape(ctx),
                [f"{ident} = {init.code}"],
                ictx.deps,
                None,
                set(),
                ctx.variable,
            )
        )
        return ident, Expr(ident, init.axes, init.array)


def _full_of(ctx: Context) -> tuple[frozenset[int], bool]:
    return frozenset(range(ctx.rank)), True


_ = np  # numpy is used by generated code that these helpers write
