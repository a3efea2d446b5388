"""The design's loop names (R1-R6, B1-B4) mapped onto each model (``models/loops.toml``).

Reports speak the modeler's names: every loop found in a model is matched against these
paths, and a named path that is not a loop of the model is an error naming it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from nea_sd.errors import ModelFileError, NamedLoopError
from nea_sd.loops.enumerate import Loop, loop_polarity, project, rotate
from nea_sd.model.companions import companion_file, model_table

DEFAULT_FILE = "loops.toml"


@dataclass(frozen=True)
class NamedLoop:
    """A named variable cycle: ``name`` like ``"R3"`` or ``"B1[A]"``."""

    name: str
    title: str
    path: tuple[str, ...]
    design_polarity: str  # "R" or "B" as the design says
    polarity: str  # as the model's links give it ("R", "B" or "U")

    def key(self) -> tuple[str, ...]:
        return rotate(self.path)

    @property
    def polarity_agrees(self) -> bool:
        return self.polarity == self.design_polarity


def default_loops_file(model_path: str | Path) -> Path:
    """``loops.toml`` beside the model, else one folder up (``models/variants/``)."""
    return companion_file(Path(model_path), DEFAULT_FILE)


def read_named_loops(
    path: str | Path, model: str, graph: nx.DiGraph, *, strict: bool = True
) -> list[NamedLoop]:
    """The named loops of ``model`` (a table of ``path``), validated against ``graph``."""
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise ModelFileError(f"named-loop file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"named-loop file {str(path)!r} is not valid TOML: {exc}") from None
    entries = model_table(table, model, Path(path)) or {}
    named: list[NamedLoop] = []
    for base, entry in entries.items():
        sides = entry.get("sides") or [None]
        for side in sides:
            other = next((s for s in sides if s != side), side)
            name = f"{base}[{side}]" if side else base
            raw = [p.replace("{i}", side or "").replace("{j}", other or "") for p in entry["path"]]
            nodes = tuple(" ".join(p.split()) for p in raw)
            _check(name, nodes, graph, path)
            named.append(
                NamedLoop(
                    name,
                    str(entry.get("title", "")),
                    nodes,
                    str(entry.get("polarity", "")),
                    loop_polarity(graph, nodes),
                )
            )
    return named


def _check(name: str, nodes: tuple[str, ...], graph: nx.DiGraph, file: str | Path) -> None:
    where = f"named loop {name!r} in {str(file)!r}"
    lowered = {n.lower(): n for n in graph}
    for node in nodes:
        if node not in graph:
            hint = f" (did you mean {lowered[node.lower()]!r}?)" if node.lower() in lowered else ""
            raise NamedLoopError(f"{where}: {node!r} is not a variable of the model{hint}")
    if len(set(nodes)) != len(nodes):
        raise NamedLoopError(f"{where}: the path visits a variable twice; a loop visits each once")
    for u, v in zip(nodes, nodes[1:] + nodes[:1], strict=True):
        if not graph.has_edge(u, v):
            raise NamedLoopError(f"{where} is not a loop: {v!r} does not depend on {u!r}")


def match(loops: list[Loop], named: list[NamedLoop], variable_of: dict[str, str]) -> list[str]:
    """Name of each loop: its named loop where its variables follow one, else ``L<k>``."""
    by_key = {n.key(): n.name for n in named}
    out = []
    unnamed = 0
    for loop in loops:
        label = by_key.get(project(loop, variable_of))
        if label is None:
            unnamed += 1
            label = f"L{unnamed}"
        out.append(label)
    return out
