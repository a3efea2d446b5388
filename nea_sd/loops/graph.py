"""The causal graph of a model, at variable level and at subscript-element level.

Built from the batch engine's compilation of PySD's abstract model (read-only): each
dynamic equation's inputs are the links; an INTEG's net-rate inputs are *flow* links, every
other input an *information* link.  SMOOTH/DELAY stages appear as their own nodes
(``"Perceived (s3)"``), so their internal loops are explicit.  Constants and values frozen
after initialisation (INITIAL) carry no feedback and are left out.

Polarity is the sign of the partial derivative, found numerically by probing each equation
at random points (and, with :meth:`CausalGraph.with_run_polarity`, over a simulated run):
``+``, ``-``, or ``?`` when both signs occur or the link never moved its target.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import numpy as np

from nea_sd.engine.batch import BatchModel, compile_model
from nea_sd.engine.batch.ltm import LtmProgram, build_program


def canonical(name: str) -> str:
    """pysimlin's spelling of a Vensim name (lower case, blanks as underscores)."""
    return "_".join(name.replace("_", " ").lower().split())


def element_name(variable: str, cell: str) -> str:
    return f"{variable}[{cell}]" if cell else variable


def _polarity(signs: np.ndarray) -> str:
    if len(signs) and np.all(signs == 1.0):
        return "+"
    if len(signs) and np.all(signs == -1.0):
        return "-"
    return "?"


@dataclass(frozen=True)
class Link:
    """A variable-level causal link."""

    source: str
    target: str
    kind: str  # "flow" (into a stock) or "info"
    polarity: str  # "+", "-" or "?"


@dataclass(frozen=True)
class CausalGraph:
    """Variable- and element-level causal graphs of one model (networkx ``DiGraph``s).

    Node names are Vensim variable names (elements as ``Name[US,CN]``); edge attributes
    ``kind`` and ``polarity``; element edges also ``link`` (their index in the LTM program).
    """

    program: LtmProgram
    variables: nx.DiGraph
    elements: nx.DiGraph

    @property
    def name(self) -> str:
        return self.program.model.path.stem

    @property
    def stocks(self) -> list[str]:
        return sorted(n for n, d in self.variables.nodes(data=True) if d["stock"])

    @property
    def is_subscripted(self) -> bool:
        return self.elements.number_of_nodes() != self.variables.number_of_nodes() or any(
            "[" in n for n in self.elements
        )

    def links(self) -> list[Link]:
        return [
            Link(u, v, d["kind"], d["polarity"])
            for u, v, d in sorted(self.variables.edges(data=True))
        ]

    @cached_property
    def element_index(self) -> dict[tuple[str, str], int]:
        """(source element, target element) -> index of the element link in LTM scores."""
        return {(u, v): d["link"] for u, v, d in self.elements.edges(data=True)}

    def variable_of(self, element: str) -> str:
        return self.elements.nodes[element]["variable"]

    def _repr_html_(self) -> str:
        return (
            f"<b>Causal graph of {self.name}</b>: {self.variables.number_of_nodes()} variables, "
            f"{self.variables.number_of_edges()} links ({len(self.stocks)} stocks); "
            f"{self.elements.number_of_nodes()} elements, "
            f"{self.elements.number_of_edges()} element links"
        )


def build_graph(program: LtmProgram) -> CausalGraph:
    """The causal graph of a compiled model's LTM program."""
    names, coords = program.names, program.coords
    states = set(program.compiled.graph.states)
    variables = nx.DiGraph()
    elements = nx.DiGraph()
    for ident, name in names.items():
        variables.add_node(name, ident=ident, stock=ident in states)
        for i, cell in enumerate(coords[ident]):
            elements.add_node(
                element_name(name, cell), variable=name, ident=ident, cell=i, stock=ident in states
            )
    patterns = {(e.source, e.target): e for e in program.edges}
    for unit in program.units.values():
        target = names[unit.ident]
        kind = "flow" if unit.kind == "rate" else "info"
        for src in unit.deps:
            edge = patterns.get((src, unit.ident))
            signs = edge.signs if edge is not None and edge.signs is not None else np.array([])
            variables.add_edge(names[src], target, kind=kind, polarity=_polarity(signs))
    for edge in program.edges:
        kind = "flow" if program.units[edge.target].kind == "rate" else "info"
        src_name, tgt_name = names[edge.source], names[edge.target]
        for i, (s, t) in enumerate(edge.pairs):
            sign = edge.signs[i] if edge.signs is not None else 0.0
            elements.add_edge(
                element_name(src_name, coords[edge.source][s]),
                element_name(tgt_name, coords[edge.target][t]),
                kind=kind,
                polarity="+" if sign == 1.0 else "-" if sign == -1.0 else "?",
                link=edge.first + i,
            )
    return CausalGraph(program, variables, elements)


def load_graph(path: str | os.PathLike[str]) -> CausalGraph:
    """Compile ``path`` (batch engine) and build its causal graph."""
    return graph_of(compile_model(path))


def graph_of(batch: BatchModel) -> CausalGraph:
    """The causal graph of a batch-compiled model."""
    return build_graph(build_program(batch))


def cycle_partitions(graph: nx.DiGraph) -> dict[Any, int]:
    """Node -> index of its strongly connected component (loops compete within one)."""
    index: dict[Any, int] = {}
    for i, comp in enumerate(
        sorted(nx.strongly_connected_components(graph), key=lambda c: sorted(c)[0])
    ):
        for node in comp:
            index[node] = i
    return index
