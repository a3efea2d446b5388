"""How the two backends write elementwise statements.

The numpy backend writes whole-array statements over ``(run, *axes)``; the compiled backend
writes a loop over the flat cells of one run's array (or a plain float for scalars).
Statefuls and equations describe a statement once, as a template over operand names
(full-shape values) and compiled expressions; the renderer turns it into code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nea_sd.engine.batch.expressions import Context, Expr

Exprs = dict[str, tuple[Expr, Context]]


@dataclass
class NumpyRender:
    scalar = False
    allocs: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def alloc(self, ident: str, shape: tuple[int, ...], fill: str = "np.empty") -> None:
        """Nothing to allocate: numpy statements create their arrays."""

    def fill(
        self,
        target: str,
        shape: tuple[int, ...],
        template: str,
        operands: dict[str, str] | None = None,
        exprs: Exprs | None = None,
        kind: str = "value",
    ) -> list[str]:
        values = dict(operands or {})
        values.update({k: e.code for k, (e, _) in (exprs or {}).items()})
        text = template.format(**values)
        if kind == "state":
            text = f"_state({text}, _N, {shape!r})"
        elif kind == "fitted":
            text = f"_fit({text}, _N, {shape!r})"
        return [f"{target} = {text}"]

    def check_delay(self, order: int, tau: str, shape: tuple[int, ...], variable: str) -> list[str]:
        return [f"_check_delay_order({order}, _dt, {tau}, {variable!r})"]


@dataclass
class ScalarRender:
    scalar = True
    allocs: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # variables of delays, by error code - 1

    def alloc(self, ident: str, shape: tuple[int, ...], fill: str = "np.empty") -> None:
        if shape:
            line = (
                f"{ident} = {fill}({_cells(shape)})"
                if fill != "nan"
                else (f"{ident} = np.full({_cells(shape)}, np.nan)")
            )
            if line not in self.allocs:
                self.allocs.append(line)

    def fill(
        self,
        target: str,
        shape: tuple[int, ...],
        template: str,
        operands: dict[str, str] | None = None,
        exprs: Exprs | None = None,
        kind: str = "value",
    ) -> list[str]:
        pre: list[str] = []
        for _, ctx in (exprs or {}).values():
            pre += ctx.pre
        codes = {k: e.code for k, (e, _) in (exprs or {}).items()}
        if not shape:
            text = template.format(**(operands or {}), **codes)
            return pre + [f"{target} = float({text})"]
        self.alloc(target, shape)
        cells = {k: f"{v}[c]" for k, v in (operands or {}).items()}
        text = template.format(**cells, **codes)
        body = pre + [f"{target}[c] = {text}"]
        return [f"for c in range({_cells(shape)}):"] + ["    " + line for line in body]

    def check_delay(self, order: int, tau: str, shape: tuple[int, ...], variable: str) -> list[str]:
        self.checks.append(variable)
        shortest = f"np.min({tau})" if shape else tau
        return [f"if {order} * _dt > {shortest}:", f"    _err[r] = {len(self.checks)}"]


def _cells(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size
