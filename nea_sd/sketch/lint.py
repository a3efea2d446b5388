"""Check that a Vensim sketch agrees with its equations, and that every variable is documented.

PySD, pysimlin and SDEverywhere load a model whose diagram is broken without a word, so a modeler
only finds out when someone opens it in Vensim. The rules are those of ``design/VENSIM.md``;
each finding names the file line to fix.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nea_sd.errors import ModelFileError, close_matches
from nea_sd.sketch.equations import BUILTIN_NAMES, CONTROL, Equation, Equations, read_equations
from nea_sd.sketch.parse import (
    ARROW,
    COMMENT,
    VALVE,
    VARIABLE,
    Sketch,
    SketchObject,
    View,
    canonical,
    read_sketch,
)

ERROR, WARNING = "error", "warning"
STOCK_SHAPE, FLOW_NAME_SHAPE = 3, 40
INFLOW_HEAD, UPSTREAM_HEAD = 4, 100
MAX_VIEW_NAME = 30


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: ``line`` of the model file, ``severity`` ``"error"`` or ``"warning"``."""

    line: int
    severity: str
    message: str

    def format(self, path: str | os.PathLike[str]) -> str:
        return f"{path}:{self.line}: {self.severity}: {self.message}"


def check_model_file(path: str | os.PathLike[str]) -> Path:
    """The path of a readable ``.mdl`` file, or a :class:`ModelFileError` saying what is wrong."""
    model_path = Path(path)
    if not model_path.exists():
        raise ModelFileError(
            f"model file {str(path)!r} does not exist; give the path of a .mdl file"
        )
    if not model_path.is_file():
        raise ModelFileError(
            f"model path {str(path)!r} is not a file; give the path of a .mdl file"
        )
    if model_path.suffix.lower() != ".mdl":
        hint = (
            "; lint and diagram read the Vensim sketch, so lint the .mdl the XMILE came from"
            if model_path.suffix.lower() in (".xmile", ".stmx", ".itmx", ".xml")
            else ""
        )
        raise ModelFileError(f"model file {str(path)!r} is not a Vensim .mdl file{hint}")
    try:
        model_path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"model file {str(path)!r} cannot be read: {exc.strerror}") from None
    return model_path


def lint_model(path: str | os.PathLike[str]) -> list[Finding]:
    """All findings for the model at ``path``, sorted by line."""
    model_path = check_model_file(path)
    linter = _Linter(read_equations(model_path), read_sketch(model_path))
    linter.run()
    return sorted(set(linter.findings))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def _describe(obj: SketchObject | None) -> str:
    if obj is None:
        return "nothing"
    if obj.kind == VARIABLE:
        return f"variable {obj.name!r}"
    if obj.kind == VALVE:
        return f"valve {obj.id}"
    if obj.kind == COMMENT:
        return f"cloud {obj.id}" if obj.is_cloud else f"comment {obj.id}"
    if obj.kind == ARROW:
        return f"arrow {obj.id}"
    return f"object {obj.id} of type {obj.kind}"


class _ViewIndex:
    """Lookups within one view: objects by id, and the flow each valve carries."""

    def __init__(self, view: View):
        self.view = view
        self.by_id: dict[int, SketchObject] = {}
        self.flow_of_valve: dict[int, SketchObject] = {}
        objects = view.objects
        for i, obj in enumerate(objects):
            self.by_id.setdefault(obj.id, obj)
            nxt = objects[i + 1] if i + 1 < len(objects) else None
            if obj.kind == VALVE and _is_flow_name(nxt):
                self.flow_of_valve[obj.id] = nxt  # type: ignore[assignment]

    def variable_key(self, obj: SketchObject | None) -> str | None:
        """The variable an arrow end stands for (a valve stands for its flow)."""
        if obj is None:
            return None
        if obj.kind == VARIABLE and obj.name:
            return canonical(obj.name)
        if obj.kind == VALVE and obj.id in self.flow_of_valve:
            return canonical(self.flow_of_valve[obj.id].name or "")
        return None


def _is_flow_name(obj: SketchObject | None) -> bool:
    return obj is not None and obj.kind == VARIABLE and obj.shape == FLOW_NAME_SHAPE


class _Linter:
    def __init__(self, equations: Equations, sketch: Sketch):
        self.eqs = equations
        self.sketch = sketch
        self.findings: list[Finding] = []
        self.indexes = [_ViewIndex(v) for v in sketch.views]
        self.drawn: dict[str, list[tuple[View, SketchObject]]] = defaultdict(list)
        for view in sketch.views:
            for obj in view.variables():
                if obj.name:
                    self.drawn[canonical(obj.name)].append((view, obj))

    def error(self, line: int, message: str) -> None:
        self.findings.append(Finding(line, ERROR, message))

    def warning(self, line: int, message: str) -> None:
        self.findings.append(Finding(line, WARNING, message))

    def run(self) -> None:
        self.check_documentation()
        if not self.sketch.views:
            self.error(1, "the model has no sketch; draw its variables in at least one view")
            return
        self.check_names()
        self.check_view_names()
        for index in self.indexes:
            self.check_ids(index)
            self.check_valves(index)
            self.check_pipes(index)
            self.check_overlaps(index)
        self.check_stock_flows()
        self.check_info_arrows()

    # -- equations ---------------------------------------------------------------------------
    def check_documentation(self) -> None:
        for eq in self.eqs.variables.values():
            if not eq.units:
                self.error(
                    eq.line,
                    f"variable {eq.name!r} has no units; write them after the first '~' "
                    "(Dmnl when dimensionless)",
                )
            if not eq.doc:
                self.error(
                    eq.line,
                    f"variable {eq.name!r} has no documentation; write it after the second '~'",
                )
            if eq.is_constant and not eq.is_control:
                self._check_range(eq)

    def _check_range(self, eq: Equation) -> None:
        if not eq.has_range:
            self.error(
                eq.line,
                f"constant {eq.name!r} has no range; add '[min, max]' after its units, "
                f"e.g. '~ {eq.units or 'Dmnl'} [0, 1]'",
            )
        elif math.isnan(eq.low) or math.isnan(eq.high):
            self.warning(
                eq.line,
                f"constant {eq.name!r} has the open range {eq.range_text!r}; give both bounds "
                "so that sweeps and calibrations can use it",
            )
        elif eq.low > eq.high:
            self.error(eq.line, f"constant {eq.name!r} has the empty range {eq.range_text!r}")
        else:
            values = eq.values()
            outside = [v for v in values if not eq.low <= v <= eq.high]
            if len(values) == 1 and outside:
                self.error(
                    eq.line,
                    f"constant {eq.name!r} = {outside[0]:g} lies outside its range "
                    f"{eq.range_text!r}",
                )
            elif outside:
                shown = ", ".join(f"{v:g}" for v in outside[:5])
                self.error(
                    eq.line,
                    f"constant {eq.name!r} has values outside its range {eq.range_text!r}: {shown}",
                )

    # -- names -------------------------------------------------------------------------------
    def check_names(self) -> None:
        primaries: dict[str, list[tuple[View, SketchObject]]] = defaultdict(list)
        for key, objects in self.drawn.items():
            eq = self.eqs.variables.get(key)
            for view, obj in objects:
                if eq is None and key not in BUILTIN_NAMES:
                    self.error(obj.line, self._unknown_object(obj, view))
                elif eq is not None and obj.name != " ".join(eq.name.split()):
                    self.error(
                        obj.line,
                        f"object {obj.name!r} in view {view.name!r} is spelled differently "
                        f"from its equation {eq.name!r} (line {eq.line}); use the same spelling",
                    )
                if obj.is_primary:
                    primaries[key].append((view, obj))
        for eq in self.eqs.variables.values():
            found = primaries.get(eq.key, [])
            if not found and eq.is_control:
                continue  # Vensim draws control variables as ghosts, if at all
            if not found:
                ghosts = self.drawn.get(eq.key, [])
                if ghosts:
                    views = sorted({v.name for v, _ in ghosts})
                    where = ("view " if len(views) == 1 else "views ") + ", ".join(map(repr, views))
                    self.error(
                        eq.line,
                        f"variable {eq.name!r} has only ghost objects (in {where}); "
                        "make one of them primary (bits & 1)",
                    )
                else:
                    self.error(
                        eq.line, f"variable {eq.name!r} is not in the sketch; add it to a view"
                    )
            for view, obj in found[1:]:
                first_view, first = found[0]
                self.error(
                    obj.line,
                    f"second primary object of {eq.name!r} in view {view.name!r} (the first is "
                    f"at line {first.line} in view {first_view.name!r}); make this one a ghost "
                    "(bits 2)",
                )

    def check_view_names(self) -> None:
        seen: dict[str, int] = {}
        for view in self.sketch.views:
            if len(view.name) > MAX_VIEW_NAME:
                self.warning(
                    view.line,
                    f"view name {view.name!r} has {len(view.name)} characters; Vensim allows "
                    f"{MAX_VIEW_NAME}",
                )
            key = view.name.lower()
            if key in seen:
                self.error(
                    view.line,
                    f"view name {view.name!r} is used twice (first at line {seen[key]}); "
                    "give each view its own name",
                )
            seen.setdefault(key, view.line)
            if not view.objects:
                self.warning(view.line, f"view {view.name!r} is empty")

    def _unknown_object(self, obj: SketchObject, view: View) -> str:
        names = [eq.name for eq in self.eqs.variables.values()]
        matches = close_matches(obj.name or "", names, n=3)
        hint = (
            "; did you mean " + ", ".join(repr(m) for m in matches) + "?"
            if matches
            else "; delete it or add its equation"
        )
        return f"object {obj.name!r} in view {view.name!r} names no variable of the equations{hint}"

    # -- structure of one view ---------------------------------------------------------------
    def check_ids(self, index: _ViewIndex) -> None:
        view = index.view
        first_line: dict[int, int] = {}
        for obj in view.objects:
            if obj.id in first_line:
                self.error(
                    obj.line,
                    f"id {obj.id} is used twice in view {view.name!r} (first at line "
                    f"{first_line[obj.id]}); ids must be unique within a view",
                )
            else:
                first_line[obj.id] = obj.line
        for arrow in view.arrows():
            for role, end in (("starts at", arrow.source), ("ends at", arrow.target)):
                if end not in index.by_id:
                    self.error(
                        arrow.line,
                        f"arrow {arrow.id} in view {view.name!r} {role} id {end}, which is not "
                        "in the view",
                    )

    def check_valves(self, index: _ViewIndex) -> None:
        objects = index.view.objects
        for i, obj in enumerate(objects):
            if obj.kind == VALVE and obj.id not in index.flow_of_valve:
                nxt = objects[i + 1] if i + 1 < len(objects) else None
                self.error(
                    obj.line,
                    f"valve {obj.id} in view {index.view.name!r} is followed by "
                    f"{_describe(nxt)}; a valve must be directly followed by its flow's name "
                    "(type 10, shape 40)",
                )
            prev = objects[i - 1] if i > 0 else None
            if _is_flow_name(obj) and (prev is None or prev.kind != VALVE):
                self.error(
                    obj.line,
                    f"flow name {obj.name!r} (shape 40) in view {index.view.name!r} does not "
                    "directly follow a valve; put it right after its valve's line",
                )

    def check_pipes(self, index: _ViewIndex) -> None:
        view = index.view
        heads: dict[int, list[int]] = defaultdict(list)
        for pipe in (a for a in view.arrows() if a.is_pipe):
            source, target = index.by_id.get(pipe.source), index.by_id.get(pipe.target)
            if source is None or target is None:
                continue  # reported as a missing end
            if source.kind != VALVE:
                self.error(
                    pipe.line,
                    f"pipe {pipe.id} in view {view.name!r} starts at {_describe(source)}; "
                    "a pipe must run from a valve",
                )
            if not (_is_stock_object(target) or target.is_cloud):
                self.error(
                    pipe.line,
                    f"pipe {pipe.id} in view {view.name!r} ends at {_describe(target)}; a pipe "
                    "must end at a stock (type 10, shape 3) or a cloud (type 12, field 48)",
                )
            if pipe.shape not in (INFLOW_HEAD, UPSTREAM_HEAD):
                self.error(
                    pipe.line,
                    f"pipe {pipe.id} in view {view.name!r} has arrowhead code {pipe.shape!r}; "
                    f"use {INFLOW_HEAD} (downstream end) or {UPSTREAM_HEAD} (upstream end)",
                )
            elif source.kind == VALVE:
                heads[source.id].append(pipe.shape)
        for valve_id, flow in index.flow_of_valve.items():
            found = sorted(heads.get(valve_id, []))
            if found != [INFLOW_HEAD, UPSTREAM_HEAD]:
                self.error(
                    index.by_id[valve_id].line,
                    f"valve of {flow.name!r} in view {view.name!r} has pipes with arrowhead "
                    f"codes {found!r}; a valve needs exactly one pipe to its upstream stock or "
                    f"cloud (shape {UPSTREAM_HEAD}) and one to its downstream one "
                    f"(shape {INFLOW_HEAD})",
                )

    def check_overlaps(self, index: _ViewIndex) -> None:
        """Objects drawn on top of each other hide each other's names in Vensim."""
        placed = [o for o in index.view.objects if o.kind in (VARIABLE, VALVE, COMMENT)]
        attached = {(v, f.id) for v, f in index.flow_of_valve.items()}
        for i, first in enumerate(placed):
            for second in placed[i + 1 :]:
                if (first.id, second.id) in attached or (second.id, first.id) in attached:
                    continue
                if (
                    abs(first.x - second.x) < first.half_width + second.half_width
                    and abs(first.y - second.y) < first.half_height + second.half_height
                ):
                    self.warning(
                        second.line,
                        f"{_describe(second)} overlaps {_describe(first)} (line {first.line}) "
                        f"in view {index.view.name!r}; move one of them",
                    )

    # -- stocks and flows ----------------------------------------------------------------------
    def check_stock_flows(self) -> None:
        drawn: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
        for index in self.indexes:
            for pipe in (a for a in index.view.arrows() if a.is_pipe):
                flow = index.flow_of_valve.get(pipe.source)
                target = index.by_id.get(pipe.target)
                if flow is None or target is None or not _is_stock_object(target):
                    continue
                stock_key, flow_key = canonical(target.name or ""), canonical(flow.name or "")
                eq = self.eqs.variables.get(stock_key)
                if eq is None:
                    continue  # reported as an unknown name
                if not eq.is_stock:
                    self.error(
                        pipe.line,
                        f"pipe of {flow.name!r} ends at {eq.name!r}, which is drawn as a stock "
                        "but whose equation is not INTEG",
                    )
                    continue
                sign = 1 if pipe.shape == INFLOW_HEAD else -1
                drawn[stock_key][flow_key].setdefault(sign, pipe.line)
        for eq in self.eqs.variables.values():
            if eq.is_stock:
                self._check_stock(eq, drawn.get(eq.key, {}))

    def _check_stock(self, eq: Equation, drawn: dict[str, dict[int, int]]) -> None:
        for _, obj in self.drawn.get(eq.key, []):
            if obj.is_primary and obj.shape != STOCK_SHAPE:
                self.warning(
                    obj.line,
                    f"stock {eq.name!r} is drawn with shape {obj.shape}; draw stocks as boxes "
                    f"(shape {STOCK_SHAPE})",
                )
        expected: dict[str, int] = {}
        for sign, flow, text in self.eqs.flow_terms(eq):
            if not flow:
                self.warning(
                    eq.line,
                    f"stock {eq.name!r} has the rate term {text!r}, which is not a flow "
                    "variable; no pipe can show it, so give it a flow of its own",
                )
            else:
                expected[flow] = sign
        for flow, sign in expected.items():
            name = self._name(flow)
            lines = drawn.get(flow, {})
            if sign in lines:
                continue
            if -sign in lines:
                if sign > 0:
                    message = (
                        f"flow {name!r} is drawn as an outflow of {eq.name!r} (pipe shape "
                        f"{UPSTREAM_HEAD}), but the INTEG of {eq.name!r} adds it; draw the stock "
                        f"downstream (shape {INFLOW_HEAD})"
                    )
                else:
                    message = (
                        f"flow {name!r} is drawn as an inflow of {eq.name!r} (pipe shape "
                        f"{INFLOW_HEAD}), but the INTEG of {eq.name!r} subtracts it; draw the "
                        f"stock upstream (shape {UPSTREAM_HEAD})"
                    )
                self.error(lines[-sign], message)
            else:
                verb = "adds" if sign > 0 else "subtracts"
                self.error(
                    eq.line,
                    f"the INTEG of stock {eq.name!r} {verb} flow {name!r}, but no pipe joins the "
                    f"valve of {name!r} to {eq.name!r}",
                )
        for flow, lines in drawn.items():
            if flow not in expected:
                self.error(
                    min(lines.values()),
                    f"a pipe joins flow {self._name(flow)!r} to stock {eq.name!r}, but the INTEG "
                    f"of {eq.name!r} does not use {self._name(flow)!r}",
                )

    # -- information arrows ------------------------------------------------------------------
    def check_info_arrows(self) -> None:
        covered: set[tuple[str, str]] = set()
        for index in self.indexes:
            for arrow in index.view.arrows():
                if arrow.is_pipe:
                    continue
                source = index.variable_key(index.by_id.get(arrow.source))
                target = index.variable_key(index.by_id.get(arrow.target))
                eq = self.eqs.variables.get(target or "")
                known = source in self.eqs.variables or source in BUILTIN_NAMES
                if source is None or eq is None or not known:
                    continue  # comments, clouds, missing ends, unknown names: reported elsewhere
                if source in self.eqs.references(eq):
                    covered.add((source, eq.key))
                    continue
                self.error(
                    arrow.line,
                    f"arrow from {self._name(source)!r} to {eq.name!r} in view "
                    f"{index.view.name!r} matches no dependency: the equation of {eq.name!r} "
                    f"does not use {self._name(source)!r}; delete the arrow or fix the equation",
                )
        for eq in self.eqs.variables.values():
            if eq.is_control or eq.key not in self.drawn:
                continue
            piped = {flow for _, flow, _ in self.eqs.flow_terms(eq)} if eq.is_stock else set()
            for dep in sorted(self.eqs.references(eq)):
                if dep in BUILTIN_NAMES or dep in CONTROL or dep in piped:
                    continue
                if dep in self.drawn and (dep, eq.key) not in covered:
                    self.warning(
                        eq.line,
                        f"{eq.name!r} uses {self._name(dep)!r}, but no arrow runs from "
                        f"{self._name(dep)!r} to {eq.name!r} in any view",
                    )

    def _name(self, key: str) -> str:
        eq = self.eqs.variables.get(key)
        return eq.name if eq is not None else key


def _is_stock_object(obj: SketchObject) -> bool:
    return obj.kind == VARIABLE and obj.shape == STOCK_SHAPE
