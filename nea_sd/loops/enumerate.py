"""Feedback loops: exhaustive (Johnson) where the graph allows, strongest paths where not.

Johnson's algorithm (networkx ``simple_cycles``) lists every elementary cycle; on the regional
model at element level their number explodes, so loops are found instead by the strongest-path
search of Eberlein & Schoenberg (2020): from each stock, a depth-first search along links in
order of |link score| that abandons a path once its score product falls below the best
product already seen at that node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from nea_sd.errors import InvalidValueError

DEFAULT_LIMIT = 20000


@dataclass(frozen=True)
class Loop:
    """An elementary feedback loop: nodes in order (the last links back to the first)."""

    nodes: tuple[str, ...]
    polarity: str  # "R", "B" or "U" (a link of unknown polarity)

    @property
    def length(self) -> int:
        return len(self.nodes)

    def links(self) -> list[tuple[str, str]]:
        return list(zip(self.nodes, self.nodes[1:] + self.nodes[:1], strict=True))

    def key(self) -> tuple[str, ...]:
        return rotate(self.nodes)

    def __str__(self) -> str:
        return " -> ".join(self.nodes + self.nodes[:1])


def rotate(nodes: Sequence[str]) -> tuple[str, ...]:
    """The rotation of a cycle starting at its smallest node (a canonical form)."""
    nodes = tuple(nodes)
    i = min(range(len(nodes)), key=lambda k: nodes[k])
    return nodes[i:] + nodes[:i]


def loop_polarity(graph: nx.DiGraph, nodes: Sequence[str]) -> str:
    sign = 1
    for u, v in zip(nodes, tuple(nodes[1:]) + tuple(nodes[:1]), strict=True):
        pol = graph.edges[u, v]["polarity"]
        if pol == "?":
            return "U"
        sign *= -1 if pol == "-" else 1
    return "R" if sign > 0 else "B"


def make_loop(graph: nx.DiGraph, nodes: Sequence[str]) -> Loop:
    nodes = rotate(nodes)
    return Loop(nodes, loop_polarity(graph, nodes))


def johnson(graph: nx.DiGraph, limit: int = DEFAULT_LIMIT) -> list[Loop]:
    """Every elementary cycle of ``graph`` (refuses past ``limit`` cycles)."""
    loops = []
    for cycle in nx.simple_cycles(graph):
        loops.append(make_loop(graph, cycle))
        if len(loops) > limit:
            raise InvalidValueError(
                f"more than {limit} feedback loops: too many to enumerate; "
                "use the strongest-path search"
            )
    return sorted(loops, key=lambda lp: (lp.length, lp.key()))


def strongest_paths(
    graph: nx.DiGraph, weights: dict[tuple[str, str], float], starts: Iterable[str] | None = None
) -> list[Loop]:
    """Loops found by the strongest-path search over link weights ``|link score|``.

    For each start node (default: the stocks), a depth-first search records at each node the
    best path product that reached it and abandons weaker paths; a path back to the start is a
    loop.  Links of weight 0 are not followed.
    """
    found: dict[tuple[str, ...], Loop] = {}
    stocks = [n for n, d in graph.nodes(data=True) if d.get("stock")]
    succ = {
        u: sorted(
            ((v, weights.get((u, v), 0.0)) for v in graph.successors(u)),
            key=lambda item: -item[1],
        )
        for u in graph
    }
    for start in starts if starts is not None else stocks:
        best: dict[str, float] = {}
        stack: list[tuple[str, float, tuple[str, ...]]] = [(start, 1.0, (start,))]
        while stack:
            node, score, path = stack.pop()
            for nxt, w in reversed(succ[node]):
                if w <= 0:
                    continue
                value = score * w
                if nxt == start:
                    loop = make_loop(graph, path)
                    found.setdefault(loop.key(), loop)
                    continue
                if value <= best.get(nxt, 0.0) or nxt in path:  # the cheap test first
                    continue
                best[nxt] = value
                stack.append((nxt, value, path + (nxt,)))
    return sorted(found.values(), key=lambda lp: (lp.length, lp.key()))


def path_instances(
    graph: nx.DiGraph, path: Sequence[str], variable_of: dict[str, str], max_turns: int = 2
) -> list[Loop]:
    """Element loops whose variables follow the variable cycle ``path`` (1..``max_turns`` times).

    A regional loop such as the capability spiral passes the variable cycle once per actor it
    visits; ``max_turns`` bounds how many times.
    """
    by_variable: dict[str, list[str]] = {}
    for node, var in variable_of.items():
        by_variable.setdefault(var, []).append(node)
    n = len(path)
    found: dict[tuple[str, ...], Loop] = {}
    for start in by_variable.get(path[0], []):
        stack = [(start, (start,))]
        while stack:
            node, trail = stack.pop()
            want = path[len(trail) % n]
            for nxt in graph.successors(node):
                if variable_of.get(nxt) != want:
                    continue
                if nxt == start:
                    loop = make_loop(graph, trail)
                    found.setdefault(loop.key(), loop)
                    continue
                if nxt in trail or len(trail) >= n * max_turns:
                    continue
                stack.append((nxt, trail + (nxt,)))
    return sorted(found.values(), key=lambda lp: (lp.length, lp.key()))


def project(loop: Loop, variable_of: dict[str, str]) -> tuple[str, ...]:
    """The variable cycle an element loop follows (once, when it repeats a cycle k times)."""
    seq = [variable_of[n] for n in loop.nodes]
    n = len(seq)
    for period in range(1, n + 1):
        if n % period == 0 and seq == seq[:period] * (n // period):
            return rotate(seq[:period])
    return rotate(seq)


def link_ids(loops: Sequence[Loop], index: dict[tuple[str, str], int]) -> list[list[int]]:
    return [[index[link] for link in loop.links()] for loop in loops]


__all__ = [
    "Loop",
    "johnson",
    "link_ids",
    "loop_polarity",
    "make_loop",
    "path_instances",
    "project",
    "rotate",
    "strongest_paths",
]
