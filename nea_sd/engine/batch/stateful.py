"""INTEG, SMOOTH, DELAY, DELAY N, TREND and INITIAL lowered to states and nodes.

The arithmetic follows PySD's runtime operation by operation (same initial values, same
derivative formulas, same order of floating-point operations), so that a batch run agrees
with a PySD run to rounding.  Every stateful call gets its own states, shaped like the
equation's left-hand side.
"""

from __future__ import annotations

from typing import Any

from nea_sd.engine.batch.expressions import Context, Expr, ExpressionCompiler
from nea_sd.engine.batch.graph import Graph, Node, State
from nea_sd.engine.batch.render import NumpyRender, ScalarRender
from nea_sd.engine.batch.unsupported import Unsupported


class StatefulLowering:
    """Creates the states and hidden nodes of each stateful call, once per AST node."""

    def __init__(self, graph: Graph, constant_value: Any, render: NumpyRender | ScalarRender):
        self.graph = graph
        self.render = render
        self.compiler: ExpressionCompiler | None = None
        self.constant_value = constant_value  # evaluates a constant AST (orders of SMOOTH N)
        self._done: dict[int, tuple[str, Expr]] = {}

    def __call__(self, node: Any, ctx: Context) -> Expr:
        if ctx.space and any(a.bang for a in ctx.space):
            raise Unsupported("stateful function inside an aggregation", ctx.variable)
        memo = self._done.get(id(node))
        if memo is None:
            handler = getattr(self, "_" + type(node).__name__)
            memo = handler(node, ctx)
            self._done[id(node)] = memo
        ident, expr = memo
        ctx.deps.add(ident)
        if self.render.scalar and ctx.space:
            return Expr(f"{ident}[{ctx.cell}]", expr.axes, False)
        return expr

    # -- helpers -----------------------------------------------------------------------------
    def _shape(self, ctx: Context) -> tuple[int, ...]:
        return tuple(len(a.elements) for a in ctx.space)

    def _compile(self, ast: Any, ctx: Context, phase: str) -> tuple[Expr, Context]:
        sub = Context(ctx.variable, ctx.space, phase, cell="c" if ctx.space else "0")
        assert self.compiler is not None
        return self.compiler.compile(ast, sub), sub

    def _fill(
        self, dest: str, ctx: Context, template: str, kind: str = "value", **parts: Any
    ) -> list[str]:
        operands = {k: v for k, v in parts.items() if isinstance(v, str)}
        exprs = {k: v for k, v in parts.items() if not isinstance(v, str)}
        return self.render.fill(dest, self._shape(ctx), template, operands, exprs, kind)

    def _aux(self, ast: Any, ctx: Context, label: str) -> str:
        """A hidden node holding an argument, computed in both phases."""
        ident = self.graph.fresh(label)
        run, rctx = self._compile(ast, ctx, "run")
        init, ictx = self._compile(ast, ctx, "init")
        self.graph.add(
            Node(
                ident,
                self._shape(ctx),
                self._fill(ident, ctx, "{e}", e=(init, ictx)),
                ictx.deps,
                self._fill(ident, ctx, "{e}", e=(run, rctx)),
                rctx.deps,
                ctx.variable,
                rctx.uses_time,
                rctx.phase_variant or ictx.phase_variant,
            )
        )
        return ident

    def _state(
        self,
        ident: str,
        ctx: Context,
        init: list[str],
        init_deps: set[str],
        ddt_template: str,
        ddt_deps: set[str],
        **operands: str,
    ) -> None:
        ddt = self._fill(f"d_{ident}", ctx, ddt_template, me=ident, **operands)
        update = self._fill(ident, ctx, "{me} + {d} * _dt", me=ident, d=f"d_{ident}")
        self.graph.states[ident] = State(
            ident, self._shape(ctx), init, init_deps, ddt, ddt_deps, update, ctx.variable
        )

    def _order(self, order_ast: Any, ctx: Context, what: str) -> int:
        try:
            value = float(self.constant_value(order_ast))
        except Unsupported:
            raise Unsupported(f"{what} whose order is not a constant", ctx.variable) from None
        if value != int(value) or value < 1:
            raise Unsupported(f"{what} of order {value!r}", ctx.variable)
        return int(value)

    def _output(
        self, ctx: Context, template: str, deps: set[str], **operands: str
    ) -> tuple[str, Expr]:
        out = self.graph.fresh("h")
        code = self._fill(out, ctx, template, **operands)
        self.graph.add(Node(out, self._shape(ctx), code, deps, code, deps, ctx.variable))
        return out, Expr(out, *_full_of(ctx))

    # -- structures --------------------------------------------------------------------------
    def _IntegStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        if node.non_negative:
            raise Unsupported("non-negative INTEG", ctx.variable)
        ident = self.graph.fresh("s")
        flow, fctx = self._compile(node.flow, ctx, "run")
        init, ictx = self._compile(node.initial, ctx, "init")
        init_code = self._fill(ident, ctx, "{e}", "state", e=(init, ictx))
        ddt = self._fill(f"d_{ident}", ctx, "{e}", e=(flow, fctx))
        update = self._fill(ident, ctx, "{me} + {d} * _dt", me=ident, d=f"d_{ident}")
        self.graph.states[ident] = State(
            ident, self._shape(ctx), init_code, ictx.deps, ddt, fctx.deps, update, ctx.variable
        )
        return ident, Expr(ident, *_full_of(ctx))

    def _SmoothStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        return self._smooth(node, ctx, int(node.order))

    def _SmoothNStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        return self._smooth(node, ctx, self._order(node.order, ctx, "SMOOTH N"))

    def _smooth(self, node: Any, ctx: Context, order: int) -> tuple[str, Expr]:
        inp = self._aux(node.input, ctx, "a")
        tau = self._aux(node.smooth_time, ctx, "a")
        init, ictx = self._compile(node.initial, ctx, "init")
        base = self.graph.fresh("s")
        stages = [f"{base}_{k}" for k in range(order)]
        for k, ident in enumerate(stages):
            target = inp if k == 0 else stages[k - 1]
            if k == 0:
                init_code = self._fill(ident, ctx, "{e}", "state", e=(init, ictx))
                init_deps = set(ictx.deps)
            else:
                init_code = self._fill(ident, ctx, "{first}", "state", first=stages[0])
                init_deps = {stages[0]}
            deps = {inp, tau} | ({stages[k - 1]} if k else set())
            template = f"({{target}} - {{me}}) * {order} / {{tau}}"
            self._state(ident, ctx, init_code, init_deps, template, deps, target=target, tau=tau)
        return stages[-1], Expr(stages[-1], *_full_of(ctx))

    def _DelayStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        return self._delay(node, ctx, int(node.order), variable_time=False)

    def _DelayNStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        return self._delay(node, ctx, self._order(node.order, ctx, "DELAY N"), variable_time=True)

    def _delay(self, node: Any, ctx: Context, order: int, variable_time: bool) -> tuple[str, Expr]:
        inp = self._aux(node.input, ctx, "a")
        tau = self._aux(node.delay_time, ctx, "a")
        init, ictx = self._compile(node.initial, ctx, "init")
        base = self.graph.fresh("s")
        stages = [f"{base}_{k}" for k in range(order)]
        taus = [f"{base}_t{k}" for k in range(order)] if variable_time else []
        shape = self._shape(ctx)
        # stage contents are value * delay time, as in PySD
        for k, ident in enumerate(stages):
            if k == 0:
                init_code = self._fill(
                    ident, ctx, "({e}) * {tau}", "state", e=(init, ictx), tau=tau
                )
                init_deps = ictx.deps | {tau}
            else:
                init_code = self._fill(ident, ctx, "{first}", "state", first=stages[0])
                init_deps = {stages[0]}
            own = f"{taus[k]}_n" if variable_time else tau
            prev = (f"{taus[k - 1]}_n" if variable_time else tau) if k else ""
            operands = {"own": own}
            if k == 0:
                operands["inflow"] = inp
                template = f"({{inflow}} - ({{me}} / {{own}})) * {order}"
            else:
                operands.update(up=stages[k - 1], prev=prev)
                template = f"(({{up}} / {{prev}}) - ({{me}} / {{own}})) * {order}"
            deps = {inp, tau} | set(stages) | set(taus)
            self._state(ident, ctx, init_code, init_deps, template, deps, **operands)
        first = self.graph.states[stages[0]]
        first.check_code += self.render.check_delay(order, tau, shape, ctx.variable)
        if not variable_time:
            return self._output(ctx, "{last} / {tau}", {stages[-1], tau}, last=stages[-1], tau=tau)
        # the per-stage delay times shift one stage per step (PySD's DELAY N)
        roll = self._fill(f"{taus[0]}_n", ctx, "{tau}", "fitted", tau=tau)
        for k in range(1, order):
            roll += self._fill(f"{taus[k]}_n", ctx, "{prev}", prev=taus[k - 1])
        first.ddt_code[:0] = roll
        first.ddt_deps |= set(taus)
        for t in taus:
            self.graph.states[t] = State(
                t,
                shape,
                self._fill(t, ctx, "{tau}", "state", tau=tau),
                {tau},
                [],
                set(),
                self._fill(t, ctx, "{new}", new=f"{t}_n"),
                ctx.variable,
            )
        return self._output(
            ctx, "{last} / {t0}", {stages[-1], taus[0]}, last=stages[-1], t0=taus[0]
        )

    def _TrendStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        inp = self._aux(node.input, ctx, "a")
        avg = self._aux(node.average_time, ctx, "a")
        init, ictx = self._compile(node.initial_trend, ctx, "init")
        ident = self.graph.fresh("s")
        init_code = self._fill(
            ident, ctx, "{inp} / (1 + ({e}) * {avg})", "state", e=(init, ictx), inp=inp, avg=avg
        )
        self._state(
            ident,
            ctx,
            init_code,
            ictx.deps | {inp, avg},
            "({inp} - {me}) / {avg}",
            {inp, avg, ident},
            inp=inp,
            avg=avg,
        )
        template = "_zidz({inp} - {s}, {avg} * np.abs({s}))"
        return self._output(ctx, template, {inp, avg, ident}, inp=inp, avg=avg, s=ident)

    def _InitialStructure(self, node: Any, ctx: Context) -> tuple[str, Expr]:  # noqa: N802
        init, ictx = self._compile(node.initial, ctx, "init")
        ident = self.graph.fresh("h")
        if self.render.scalar:
            code = self._fill(ident, ctx, "{e}", e=(init, ictx))
            expr = Expr(ident, *_full_of(ctx))
        else:
            code = [f"{ident} = {init.code}"]
            expr = Expr(ident, init.axes, init.array)
        self.graph.add(Node(ident, self._shape(ctx), code, ictx.deps, None, set(), ctx.variable))
        return ident, expr


def _full_of(ctx: Context) -> tuple[frozenset[int], bool]:
    return frozenset(range(ctx.rank)), True
