"""Write the whole simulation (initialisation, Euler loop, saving) as one Python function.

One function with every value in a local variable avoids per-variable call overhead; the
loop body is straight-line numpy over ``(run, *axes)`` arrays.  The Euler order is PySD's:
at each time, values are computed from the states, saved when due, then all derivatives are
computed from that same state before every state is updated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nea_sd.engine.batch.compiler import CompiledModel
from nea_sd.engine.batch.functions import NAMESPACE

SIGNATURE = "_simulate(C, _N, _t0, _dt, _tf, _saveper, _nsteps, _save, _sink)"


def generate(model: CompiledModel, outputs: Sequence[str]) -> str:
    """Source of ``_simulate`` saving the nodes ``outputs`` (idents) at the saved steps."""
    graph = model.graph
    consts, init_order, run_order = graph.schedule(outputs)
    body: list[str] = ["time = _t0"]
    body += [f"{c} = C[{c!r}]" for c in consts]
    for ident in init_order:
        obj = graph.nodes.get(ident) or graph.states[ident]
        body += obj.init_code
    for st in graph.states.values():
        body += st.check_code
    states = list(graph.states)
    loop: list[str] = []
    for ident in run_order:
        loop += graph.nodes[ident].run_code or []
    out_tuple = "(" + "".join(f"{o}, " for o in outputs) + ")"
    state_tuple = "(" + "".join(f"{s}, " for s in states) + ")"
    loop += ["if _save[_k]:", f"    _sink(_k, time, {out_tuple}, {state_tuple})"]
    loop += ["if _k == _nsteps - 1:", "    break"]
    for st in graph.states.values():
        loop += st.ddt_code
    for st in graph.states.values():
        loop += st.update_code
    loop += ["time = time + _dt"]
    lines = [f"def {SIGNATURE}:"]
    lines += ["    " + line for line in body]
    lines += ["    for _k in range(_nsteps):"]
    lines += ["        " + line for line in loop]
    return "\n".join(lines) + "\n"


def build(model: CompiledModel, outputs: Sequence[str]) -> tuple[Callable[..., Any], str]:
    """Compile the generated source into a function (and return the source for inspection)."""
    source = generate(model, outputs)
    namespace: dict[str, Any] = dict(NAMESPACE)
    namespace.update(model.consts.values)
    code = compile(source, "<nea_sd batch model>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated code
    return namespace["_simulate"], source
