"""The compiled model as a graph: nodes (values), states (integrated), constants.

Each node carries code for two phases, because Vensim initialises in a different mode:
``init`` (stocks take their initial values, ACTIVE INITIAL its initial expression) and ``run``
(every Euler step).  Scheduling is a topological sort per phase over the nodes actually needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nea_sd.engine.batch.unsupported import Unsupported


@dataclass
class Node:
    """A value computed by generated code and stored in the local variable ``ident``."""

    ident: str
    shape: tuple[int, ...]
    init_code: list[str]
    init_deps: set[str]
    run_code: list[str] | None  # None: frozen after initialisation (INITIAL, constants)
    run_deps: set[str]
    variable: str = ""  # the model variable it belongs to (for messages)
    uses_time: bool = False
    phase_variant: bool = False


@dataclass
class State:
    """An integrated quantity: ``ident`` is initialised, then ``ident += d_ident * dt``."""

    ident: str
    shape: tuple[int, ...]
    init_code: list[str]
    init_deps: set[str]
    ddt_code: list[str]
    ddt_deps: set[str]
    update_code: list[str]
    variable: str = ""
    check_code: list[str] = field(default_factory=list)  # run once after initialisation


class ConstPool:
    """Array constants shared with generated code by name (index arrays, lookup tables)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._ids: dict[int, str] = {}

    def __call__(self, value: Any) -> str:
        if id(value) in self._ids:
            return self._ids[id(value)]
        name = f"_k{len(self.values)}"
        self.values[name] = np.asarray(value)
        self._ids[id(value)] = name
        return name


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    states: dict[str, State] = field(default_factory=dict)
    constants: set[str] = field(default_factory=set)  # idents provided by the caller (C)
    counter: int = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def add(self, node: Node) -> None:
        self.nodes[node.ident] = node

    def dynamic(self) -> set[str]:
        """Nodes whose run value changes during the run (time, states, ACTIVE INITIAL)."""
        dyn: set[str] = set()
        order = self._toposort(self.nodes, self._run_deps, "run")
        for ident in order:
            node = self.nodes[ident]
            if node.run_code is None:
                continue
            moving = any(d in self.states or d in dyn for d in node.run_deps)
            if node.uses_time or node.phase_variant or moving:
                dyn.add(ident)
        return dyn

    def schedule(self, outputs: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
        """(constants needed, init order, run order) for the requested output idents."""
        dyn = self.dynamic()
        wanted = set(outputs)
        for state in self.states.values():
            wanted |= state.ddt_deps
        run_needed = self._closure(
            wanted,
            lambda i: self.nodes[i].run_deps if i in self.nodes and i in dyn else set(),
        )
        run_nodes = {i for i in run_needed if i in dyn}
        frozen = {i for i in run_needed if i in self.nodes and i not in dyn}
        init_roots = frozen | set(self.states)
        init_needed = self._closure(init_roots, self._init_deps)
        init_items = {i for i in init_needed if i in self.nodes or i in self.states}
        # sorted roots: the same model gives the same code in every process (kernel cache)
        init_order = self._toposort(
            {i: None for i in sorted(init_items)},
            lambda i: self._init_deps(i) & init_items,
            "init",
        )
        run_order = self._toposort(
            {i: None for i in sorted(run_nodes)},
            lambda i: self.nodes[i].run_deps & run_nodes,
            "run",
        )
        consts = sorted((init_needed | run_needed) & self.constants)
        return consts, init_order, run_order

    def _run_deps(self, ident: str) -> set[str]:
        node = self.nodes[ident]
        return node.run_deps if node.run_code is not None else set()

    def _init_deps(self, ident: str) -> set[str]:
        if ident in self.nodes:
            return self.nodes[ident].init_deps
        if ident in self.states:
            return self.states[ident].init_deps
        return set()

    @staticmethod
    def _closure(roots: set[str], deps: Any) -> set[str]:
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            ident = stack.pop()
            if ident in seen:
                continue
            seen.add(ident)
            stack.extend(deps(ident))
        return seen

    def _toposort(self, items: dict[str, Any], deps: Any, phase: str) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}
        for root in items:
            if root in state:
                continue
            stack: list[tuple[str, list[str]]] = [(root, sorted(self._deps_of(root, deps, items)))]
            state[root] = 1
            while stack:
                ident, pending = stack[-1]
                if pending:
                    nxt = pending.pop()
                    if state.get(nxt) == 1:
                        raise Unsupported(
                            "circular definition (simultaneous equations)"
                            if phase == "run"
                            else "circular initialisation",
                            self._variable(nxt),
                        )
                    if nxt not in state:
                        state[nxt] = 1
                        stack.append((nxt, sorted(self._deps_of(nxt, deps, items))))
                else:
                    stack.pop()
                    state[ident] = 2
                    order.append(ident)
        return order

    def _deps_of(self, ident: str, deps: Any, items: dict[str, Any]) -> set[str]:
        return {d for d in deps(ident) if d in items}

    def _variable(self, ident: str) -> str:
        obj = self.nodes.get(ident) or self.states.get(ident)
        return obj.variable if obj is not None else ident
