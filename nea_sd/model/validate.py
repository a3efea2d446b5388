"""Check a Vensim model before anything runs it: one set of rules for ``lint``, ``check``, ``run``.

PySD, the batch engine and pysimlin accept some broken models and fail on others with their own
tracebacks (RecursionError, NameError, KeyError), far from the line to fix. These rules read
PySD's parse of the equations and report, each with its file line and variable:

* syntax errors (the line PySD's parser stops at);
* undefined names, and a missing INITIAL TIME, FINAL TIME or TIME STEP;
* circular definitions (simultaneous equations: a loop without a stock);
* subscript errors: an unknown range or element, an element of another range, a wrong count;
* a subscripted variable used without its subscripts (SDEverywhere refuses it);
* lookups whose x values are not increasing (interpolated wrongly, without a word);
* lookup values with more digits than PySD keeps (the engines then differ, see
  :mod:`nea_sd.model.numbers`).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from nea_sd.errors import ModelFileError
from nea_sd.model.numbers import as_pysd_reads
from nea_sd.sketch.equations import read_equations
from nea_sd.sketch.lint import ERROR, WARNING, Finding, check_model_file
from nea_sd.sketch.parse import canonical

SYNTAX = "syntax error"
_PARSE_ERRORS: dict[str, str] = {}  # resolved path -> the parser's one-line message
PORTABILITY = "used without its subscripts"
REQUIRED_CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP")
BUILTIN = frozenset({"time"})
#: structures whose arguments are read from state, not simultaneously (no algebraic loop)
STATEFUL = frozenset(
    {
        "IntegStructure",
        "DelayStructure",
        "DelayNStructure",
        "DelayFixedStructure",
        "SmoothStructure",
        "SmoothNStructure",
        "TrendStructure",
        "ForecastStructure",
        "SampleIfTrueStructure",
        "InitialStructure",
    }
)
_PAIR = re.compile(r"\(\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*\)")
_RANGE_BOX = re.compile(r"\[\s*\([^\]]*\)\s*-\s*\([^\]]*\)\s*(?:,[^\]]*)?\]")


def validate_model(path: str | os.PathLike[str]) -> list[Finding]:
    """Every finding of the rules above, sorted by line (errors and warnings)."""
    model_path = check_model_file(path)
    stat = model_path.stat()
    return list(_validate(str(model_path.resolve()), stat.st_mtime_ns, stat.st_size))


def check_model(path: str | os.PathLike[str]) -> None:
    """Raise one :class:`ModelFileError` line for the first error (``check``/``run``).

    A portability error (a bare subscripted reference, which PySD and the batch engine read
    as meant, SDEverywhere refuses) is left to ``lint``: it does not make a run wrong.
    """
    errors = [
        f for f in validate_model(path) if f.severity == ERROR and PORTABILITY not in f.message
    ]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more; list them with 'nea-sd lint')" if errors[1:] else ""
        if first.message.startswith(SYNTAX):  # PySD's parser's own message, as load gives it
            raise ModelFileError(_PARSE_ERRORS.get(str(Path(path).resolve()), first.message))
        raise ModelFileError(f"{path}:{first.line}: {first.message}{more}")


@lru_cache(maxsize=32)
def _validate(path: str, _mtime: int, _size: int) -> tuple[Finding, ...]:
    from nea_sd.model.load import parse_abstract_model

    equations = read_equations(path)
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()

    def line_of(name: str) -> int:
        eq = equations.get(name)
        return eq.line if eq is not None else 1

    try:
        abstract = parse_abstract_model(path)
    except ModelFileError as exc:
        error = str(exc)
        try:
            Path(path).read_bytes().decode("utf-8")
        except UnicodeDecodeError as bad:
            error = (
                f"model file {path!r} is not text (byte {bad.start} is not UTF-8); "
                "save the model from Vensim as a text .mdl"
            )
        _PARSE_ERRORS[path] = error
        found = re.search(r"at line (\d+)", error)
        variable = re.search(r"in the equation of ('.*?'): ", error)
        message = error.split(": ", 1)[-1] if found else error.split("cannot be parsed: ")[-1]
        where = f" in the equation of {variable.group(1)}" if variable else ""
        line = int(found.group(1)) if found else 1
        return (Finding(line, ERROR, f"{SYNTAX}{where}: {message}"),)
    findings: list[Finding] = []
    section = abstract.sections[0]
    ranges = _ranges(section.subscripts)
    elements = {canonical(e) for members in ranges.values() for e in members}
    defined: dict[str, Any] = {canonical(e.name): e for e in section.elements}
    dims = {key: _dims(element) for key, element in defined.items()}
    graph: dict[str, set[str]] = {}
    for key, element in defined.items():
        name = element.name
        line = line_of(name)
        graph[key] = set()
        for component in element.components:
            for ref, subscripts, simultaneous, call in _references(component.ast):
                target = canonical(ref.strip('"'))
                if target in defined:
                    if simultaneous:
                        graph[key].add(target)
                    findings += _subscript_findings(
                        name, line, defined[target].name, dims[target], subscripts, ranges, call
                    )
                elif call and subscripts is None:
                    continue  # a built-in function (the parser keeps it as a call)
                elif target in BUILTIN or target in ranges or target in elements:
                    continue
                else:
                    findings.append(
                        Finding(
                            line,
                            ERROR,
                            f"undefined name {_spelling(ref, equations.get(name))!r} in the "
                            f"equation of {name!r}; "
                            "define it or correct the spelling",
                        )
                    )
        findings += _lookup_findings(equations.get(name), name, line, lines)
    findings += _cycles(graph, defined, dims, line_of)
    for control in REQUIRED_CONTROL:
        if canonical(control) not in defined:
            findings.append(
                Finding(1, ERROR, f"missing control variable {control!r}; add its equation")
            )
    if canonical("SAVEPER") not in defined:
        findings.append(Finding(1, WARNING, "no SAVEPER: results are saved every TIME STEP"))
    return tuple(sorted(set(findings)))


def _spelling(reference: str, equation: Any) -> str:
    """The name as written in the equation (PySD lower-cases it and joins words by ``_``)."""
    words = [re.escape(w) for w in reference.strip('"').replace("_", " ").split()]
    if equation is not None and words:
        pattern = re.compile(r"[\s_]+".join(words), re.IGNORECASE)
        for text in equation.rhs:
            match = pattern.search(text)
            if match:
                return match.group(0)
    return reference.strip('"')


def _ranges(subscripts: list[Any]) -> dict[str, list[str]]:
    """Range name (canonical) -> its elements (a copy or subrange list expanded)."""
    raw = {canonical(r.name): r.subscripts for r in subscripts}

    def expand(value: Any, seen: frozenset[str]) -> list[str]:
        items = [value] if isinstance(value, str) else list(value)
        out: list[str] = []
        for item in items:
            key = canonical(item)
            if key in raw and key not in seen:
                out += expand(raw[key], seen | {key})
            else:
                out.append(item)
        return out

    return {key: expand(value, frozenset({key})) for key, value in raw.items()}


def _dims(element: Any) -> int:
    """Number of subscripts the element is declared over (0 for a scalar)."""
    counts = {len(c.subscripts[0]) for c in element.components if c.subscripts}
    return max(counts) if counts else 0


def _references(ast: Any, stateful: bool = False) -> Iterator[tuple[str, Any, bool, bool]]:
    """``(reference, subscripts or None, read simultaneously, called as a function)``."""
    kind = type(ast).__name__
    if kind == "ReferenceStructure":
        subs = ast.subscripts.subscripts if ast.subscripts is not None else None
        yield ast.reference, subs, not stateful, False
        return
    if kind == "CallStructure":
        function = ast.function
        subs = function.subscripts.subscripts if function.subscripts is not None else None
        yield function.reference, subs, not stateful, True
        for argument in ast.arguments:
            yield from _references(argument, stateful)
        return
    inner = stateful or kind in STATEFUL
    if dataclasses.is_dataclass(ast):
        for item in dataclasses.fields(ast):
            yield from _references(getattr(ast, item.name), inner)
    elif isinstance(ast, list | tuple):
        for item in ast:
            yield from _references(item, inner)


def _subscript_findings(
    name: str,
    line: int,
    target: str,
    target_dims: int,
    subscripts: Any,
    ranges: dict[str, list[str]],
    call: bool,
) -> list[Finding]:
    where = f"in the equation of {name!r}"
    if subscripts is None:
        if target_dims and not call:
            return [
                Finding(
                    line,
                    ERROR,
                    f"{target!r} is subscripted but used without its subscripts {where}; "
                    f"write {target}[...] (SDEverywhere and Vensim refuse the bare name)",
                )
            ]
        return []
    found = []
    if target_dims and len(subscripts) != target_dims:
        found.append(
            Finding(
                line,
                ERROR,
                f"{target!r} has {target_dims} subscript(s) but is used with "
                f"{len(subscripts)} {where}",
            )
        )
    if not target_dims:
        found.append(Finding(line, ERROR, f"{target!r} has no subscripts but is used with some"))
    elements = {canonical(e) for members in ranges.values() for e in members}
    for subscript in subscripts:
        key = canonical(subscript.rstrip("!"))
        if key not in ranges and key not in elements:
            found.append(
                Finding(
                    line,
                    ERROR,
                    f"unknown subscript {subscript!r} on {target!r} {where}; it is neither a "
                    "range nor an element",
                )
            )
    return found


def _lookup_findings(equation: Any, name: str, line: int, lines: list[str]) -> list[Finding]:
    """x values of a lookup (own or WITH LOOKUP) that do not increase (read from the file:
    PySD sorts the points, the batch engine does not, neither says so)."""
    if equation is None:
        return []
    entry = []
    for text in lines[line - 1 :]:
        entry.append(text.split("~")[0])
        if "~" in text:
            break
    raw = "\n".join(entry)
    if equation.kind != "lookup" and "with lookup" not in raw.lower():
        return []
    texts = [raw.split("=", 1)[-1] if equation.kind != "lookup" else raw]
    found = []
    for text in texts:
        xs, numbers = [], []
        for x, y in _PAIR.findall(_RANGE_BOX.sub(" ", text)):
            try:
                xs.append(float(x))
                numbers += [float(x), float(y)]
            except ValueError:
                break
        found += _rounding_findings(name, line, numbers)
        bad = next((i for i in range(1, len(xs)) if not xs[i] > xs[i - 1]), None)
        if bad is not None:
            found.append(
                Finding(
                    line,
                    ERROR,
                    f"lookup {name!r}: x values must increase, but {xs[bad]:g} follows "
                    f"{xs[bad - 1]:g} (point {bad + 1}); sort the points",
                )
            )
    return found


def _rounding_findings(name: str, line: int, numbers: list[float]) -> list[Finding]:
    """Lookup values PySD runs rounded (numpy's print precision), the batch engine exactly."""
    for number, run in zip(numbers, as_pysd_reads(numbers), strict=True):
        if number != run:
            return [
                Finding(
                    line,
                    WARNING,
                    f"lookup {name!r}: PySD runs {number!r} as {run!r} (it keeps 8 digits "
                    "after the point), the batch engine as written, so the two engines differ "
                    "and the batch engine's self-verification refuses the model; round the "
                    "values to 8 digits",
                )
            ]
    return []


def _cycles(graph: dict[str, set[str]], defined: dict[str, Any], dims, line_of) -> list[Finding]:  # type: ignore[no-untyped-def]
    """Simultaneous definitions: strongly connected groups without a stock."""
    import networkx as nx

    g = nx.DiGraph()
    for source, targets in graph.items():
        g.add_node(source)
        for target in targets:
            if target == source and (dims[source] or len(defined[source].components) > 1):
                continue  # element-wise definitions of one array may use each other
            g.add_edge(source, target)
    found = []
    for group in nx.strongly_connected_components(g):
        if len(group) == 1:
            (only,) = group
            if not g.has_edge(only, only):
                continue
        names = sorted(defined[k].name for k in group)
        first = min(names, key=line_of)
        found.append(
            Finding(
                line_of(first),
                ERROR,
                "circular definition: " + " -> ".join([*names, names[0]]) + " (no stock in "
                "the loop; make one of them a stock or a delay)",
            )
        )
    return found
