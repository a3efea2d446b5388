"""Pre-flight findings: constructs the batch engine cannot compile, found before any run."""

from __future__ import annotations

from dataclasses import dataclass

from nea_sd.errors import UnsupportedModelError


class Unsupported(Exception):  # noqa: N818 - internal signal, never reaches the user as is
    """Raised while compiling one variable; collected into the pre-flight report."""

    def __init__(self, construct: str, variable: str):
        super().__init__(construct, variable)
        self.construct = construct
        self.variable = variable


@dataclass(frozen=True)
class Finding:
    """One unsupported construct and the variable whose equation uses it."""

    construct: str
    variable: str

    def __str__(self) -> str:
        return f"{self.construct} in {self.variable!r}" if self.variable else self.construct


def report(model_name: str, findings: list[Finding]) -> str:
    """The pre-flight report: one line per finding, then how to run the model anyway."""
    lines = [f"model {model_name!r} uses constructs the batch engine does not support:"]
    lines += [f"  - {f}" for f in findings]
    lines.append("run it with '--engine pysd' (PySD supports them, one run at a time)")
    return "\n".join(lines)


def refuse(model_name: str, findings: list[Finding]) -> UnsupportedModelError:
    return UnsupportedModelError(report(model_name, findings))
