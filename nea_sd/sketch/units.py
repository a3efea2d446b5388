"""Dimensional consistency of a model's equations, checked by pysimlin, reported like the linter.

PySD ignores units; pysimlin infers and checks them. ``simlin.Model.check_units()`` of pysimlin
0.8.5 returns only unit *definition* errors, so we read the project's full error list and keep
its unit entries. pysimlin marks every unit problem a warning; here a declared unit that the
equation contradicts (consistency, definition) is an error, a failed inference across several
variables (often the echo of the same mistake, or a builtin pysimlin types loosely) a warning.
"""

from __future__ import annotations

import os
import re
from typing import Any

from nea_sd.sketch.diagram import import_simlin
from nea_sd.sketch.equations import Equations, read_equations
from nea_sd.sketch.lint import ERROR, WARNING, Finding, check_model_file
from nea_sd.sketch.parse import canonical


def check_units(path: str | os.PathLike[str]) -> list[Finding]:
    """Unit findings for the model at ``path``, with the line of the variable concerned."""
    model_path = check_model_file(path)
    simlin = import_simlin()
    equations = read_equations(model_path)
    try:
        project = simlin.load(model_path).project
    except simlin.SimlinError as exc:
        return [_load_failure(model_path.read_bytes(), str(exc))]
    findings = [_finding(detail, equations, simlin) for detail in project.get_errors()]
    return sorted({f for f in findings if f is not None})


def _load_failure(data: bytes, message: str) -> Finding:
    """pysimlin's parse errors give a byte offset: turn it into the line to fix."""
    match = re.search(r"at (\d+)\.\.", message)
    line = data[: int(match.group(1))].count(b"\n") + 1 if match else 1
    detail = re.search(r"at \d+\.\.\d+: (.*)", message)
    reason = detail.group(1).rstrip("}").strip() if detail else message
    return Finding(line, ERROR, f"pysimlin cannot read the model (units included): {reason}")


def _finding(detail: Any, equations: Equations, simlin: Any) -> Finding | None:
    errors = simlin.errors
    if detail.kind != errors.ErrorKind.UNITS:
        return None
    text = " ".join((detail.details or detail.message).split())
    if detail.variable_name:
        eq = equations.get(canonical(detail.variable_name))
        name = eq.name if eq else detail.variable_name
        line = eq.line if eq else 1
        message = f"units of {name!r}: {text}"
    else:
        involved = _involved(detail.message, equations)
        line = min((eq.line for eq in involved), default=1)
        names = ", ".join(repr(eq.name) for eq in involved)
        message = f"units inferred for {names}: {text}" if names else f"units: {text}"
    inference = detail.unit_error_kind == errors.UnitErrorKind.INFERENCE
    return Finding(line, WARNING if inference else ERROR, message)


def _involved(message: str, equations: Equations) -> list[Any]:
    match = re.search(r"involving (.*?):", message)
    if not match:
        return []
    found = (equations.get(canonical(n)) for n in match.group(1).split(","))
    return [eq for eq in found if eq is not None]
