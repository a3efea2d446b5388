"""Read the equation section of a Vensim ``.mdl``: names, lines, units, ranges, comments, uses.

The linter must point at the line of a bad equation and compare the sketch with what each
equation uses, so it reads the text itself; PySD's parser keeps neither lines nor spelling.
The reading is deliberately light: it finds variable references by matching tokens against the
names the model defines, which is all the diagram checks need.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from nea_sd.sketch.parse import SKETCH_START, canonical

CONTROL_NAMES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
CONTROL = frozenset(canonical(n) for n in CONTROL_NAMES)
BUILTIN_NAMES = frozenset({"time"})  # what an equation may use without defining it

_COMMENT = re.compile(r"\{[^}]*\}")
_CONTINUATION = re.compile(r"\\\s*\n")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_ARITHMETIC = re.compile(r"[\s0+\-*/^(),;]*0[\s0+\-*/^(),;]*")
_SEPARATORS = re.compile(r"[-+*/^(),=<>;:!\[\]&|]")


@dataclass
class Equation:
    """One defined variable, merged over its entries (piecewise subscripted definitions).

    ``rhs`` holds the right-hand side of each entry; ``low``/``high`` the range from the units
    field (``nan`` for ``?``); ``has_range`` whether a ``[...]`` range was written at all.
    """

    name: str
    line: int
    kind: str  # "normal", "lookup" or "data"
    rhs: list[str] = field(default_factory=list)
    units: str = ""
    doc: str = ""
    has_range: bool = False
    low: float = math.nan
    high: float = math.nan
    range_text: str = ""

    @property
    def key(self) -> str:
        return canonical(self.name)

    @property
    def is_control(self) -> bool:
        return self.key in CONTROL

    @property
    def is_stock(self) -> bool:
        return any(_integ_args(r) is not None for r in self.rhs)

    @property
    def is_constant(self) -> bool:
        """Numbers and arithmetic only (``0.3``, ``10/3``, ``1, 2; 3, 4`` for an array)."""
        if self.kind != "normal" or not self.rhs:
            return False
        return all(_ARITHMETIC.fullmatch(_NUMBER.sub("0", r)) for r in self.rhs)

    def values(self) -> list[float]:
        """The numbers of a constant written as plain numbers (every element of an array)."""
        if not self.is_constant or not all(_is_numeric(r) for r in self.rhs):
            return []
        pieces = (p for rhs in self.rhs for p in re.split(r"[,;]", rhs) if p.strip())
        return [float(_strip_parens(p)) for p in pieces]


@dataclass
class Equations:
    path: Path
    variables: dict[str, Equation]  # canonical name -> equation, in file order

    def __contains__(self, name: str) -> bool:
        return canonical(name) in self.variables

    def get(self, name: str) -> Equation | None:
        return self.variables.get(canonical(name))

    def references(self, equation: Equation) -> set[str]:
        """Canonical names of the model variables (and ``time``) that ``equation`` uses."""
        found: set[str] = set()
        for rhs in equation.rhs:
            found |= self._names_in(rhs)
        found.discard(equation.key)  # a stock's own name in its rate is not an arrow
        return found

    def flow_terms(self, equation: Equation) -> list[tuple[int, str, str]]:
        """Signed terms of a stock's INTEG rate: ``(sign, canonical flow or "", term text)``.

        A term that is not a plain variable name gets ``""``: no pipe can show it.
        """
        terms: list[tuple[int, str, str]] = []
        seen: set[tuple[int, str]] = set()
        for rhs in equation.rhs:
            args = _integ_args(rhs)
            if args is None:
                continue
            for sign, text in _signed_terms(args[0], 1):
                if _is_numeric(text) and float(_strip_parens(text) or 0) == 0:
                    continue
                bare = _strip_subscripts(_strip_parens(text)).strip().strip('"')
                key = canonical(bare)
                flow = key if key in self.variables and not _SEPARATORS.search(bare) else ""
                if (sign, flow or text) not in seen:
                    seen.add((sign, flow or text))
                    terms.append((sign, flow, " ".join(text.split())))
        return terms

    def _names_in(self, rhs: str) -> set[str]:
        found: set[str] = set()
        for quoted in re.findall(r'"([^"]*)"', rhs):
            key = canonical(quoted)
            if key in self.variables:
                found.add(key)
        text = _strip_subscripts(re.sub(r'"[^"]*"', " ", rhs))
        for token in _SEPARATORS.split(text):
            key = canonical(token)
            if key in self.variables or key in BUILTIN_NAMES:
                found.add(key)
        return found


def _strip_subscripts(text: str) -> str:
    """Drop ``[...]`` (subscripts, lookup ranges): their names are elements, not variables."""
    out, depth = [], 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split_top(text: str, separators: str) -> list[tuple[str, str]]:
    """Split at top-level separator characters: ``[(separator before, piece), ...]``."""
    pieces: list[tuple[str, str]] = []
    depth, quoted, start, before = 0, False, 0, ""
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and char in separators:
            if char in "+-" and (_is_exponent_sign(text, i) or _is_unary(text, i)):
                continue
            pieces.append((before, text[start:i]))
            before, start = char, i + 1
    pieces.append((before, text[start:]))
    return pieces


def _is_unary(text: str, i: int) -> bool:
    """A sign right after an operator (``a * -b``) belongs to its operand."""
    head = text[:i].rstrip()
    return bool(head) and head[-1] in "*/^+-"


def _is_exponent_sign(text: str, i: int) -> bool:
    """The sign in ``1e-05`` is part of a number, not a binary minus."""
    head = text[:i].rstrip()
    return bool(re.search(r"(^|[^\w ])\d+\.?\d*[eE]$", head))


def _signed_terms(expr: str, sign: int) -> list[tuple[int, str]]:
    """Split a sum into signed terms, opening parenthesised sums like ``-(a + b)``."""
    terms: list[tuple[int, str]] = []
    pending = sign
    for op, piece in _split_top(expr, "+-"):
        if op == "-":
            pending = -pending
        piece = piece.strip()
        while piece[:1] in ("-", "+") and piece:
            pending = -pending if piece[0] == "-" else pending
            piece = piece[1:].strip()
        if not piece:
            continue  # a unary sign: it carries to the next piece
        inner = _strip_parens(piece)
        if inner != piece and len(_split_top(inner, "+-")) > 1:
            terms += _signed_terms(inner, pending)
        else:
            terms.append((pending, piece))
        pending = sign
    return terms


def _integ_args(rhs: str) -> list[str] | None:
    """The arguments of ``INTEG(rate, initial)`` when ``rhs`` is one, else ``None``."""
    match = re.match(r"\s*INTEG\s*\(", rhs, flags=re.IGNORECASE)
    if not match:
        return None
    open_at = match.end() - 1
    close_at = _closing(rhs, open_at)
    if close_at < 0:
        return None
    return [piece for _, piece in _split_top(rhs[open_at + 1 : close_at], ",")]


def _is_numeric(rhs: str) -> bool:
    pieces = [p.strip() for p in re.split(r"[,;]", rhs) if p.strip()]
    return bool(pieces) and all(_NUMBER.fullmatch(_strip_parens(p)) for p in pieces)


_RANGE = re.compile(r"\[([^\],]*)(?:,([^\],]*))?(?:,[^\]]*)?\]\s*$")


def _units_and_range(text: str) -> tuple[str, bool, float, float, str]:
    text = " ".join(text.split())
    match = _RANGE.search(text)
    if not match:
        return text, False, math.nan, math.nan, ""
    low, high = (_bound(v) for v in (match.group(1), match.group(2)))
    return text[: match.start()].strip(), True, low, high, match.group(0).strip()


def _bound(value: str | None) -> float:
    try:
        return float((value or "").strip())
    except ValueError:
        return math.nan


def _entries(text: str) -> list[tuple[int, str]]:
    """``(offset, entry)`` for each ``|``-terminated entry of the equation section."""
    entries, start = [], 0
    for match in re.finditer(r"\|", text):
        entries.append((start, text[start : match.start()]))
        start = match.end()
    return entries


def _blank_comments(text: str) -> str:
    """Replace ``{...}`` comments by blanks of the same length so that offsets keep lines."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def read_equations(path: str | os.PathLike[str]) -> Equations:
    """Every variable the equation section defines, in file order, with its first line."""
    model_path = Path(path)
    full = model_path.read_text(encoding="utf-8", errors="replace")
    cut = full.find(SKETCH_START)
    text = _blank_comments(full if cut < 0 else full[:cut])
    variables: dict[str, Equation] = {}
    in_macro = False
    for offset, entry in _entries(text):
        stripped = entry.lstrip()
        line = text.count("\n", 0, offset + len(entry) - len(stripped)) + 1
        if stripped.startswith(":MACRO:"):
            in_macro = True
        if in_macro:
            in_macro = ":END OF MACRO:" not in entry
            continue
        parsed = _parse_entry(_CONTINUATION.sub(" ", stripped))
        if parsed is None:
            continue
        name, kind, rhs, units_field, doc = parsed
        key = canonical(name)
        units, has_range, low, high, range_text = _units_and_range(units_field)
        eq = variables.get(key)
        if eq is None:
            eq = variables[key] = Equation(name=name, line=line, kind=kind)
        if rhs is not None:
            eq.rhs.append(rhs)
        eq.units = eq.units or units
        eq.doc = eq.doc or " ".join(doc.split())
        if has_range and not eq.has_range:
            eq.has_range, eq.low, eq.high, eq.range_text = True, low, high, range_text
    return Equations(path=model_path, variables=variables)


def _parse_entry(entry: str) -> tuple[str, str, str | None, str, str] | None:
    """``(name, kind, rhs, units field, documentation)``, or ``None`` for non-variables."""
    if not entry.strip() or entry.startswith("*"):
        return None  # empty tail, or a group heading
    body, _, rest = entry.partition("~")
    units_field, _, doc = rest.partition("~")
    match = re.match(r'\s*("(?:[^"\\]|\\.)*"|[^\[=(:<~]+)', body)
    if not match:
        return None
    name = " ".join(match.group(1).strip().strip('"').split())
    after = body[match.end() :].lstrip()
    if after.startswith("["):  # subscripted left-hand side
        after = after[after.find("]") + 1 :].lstrip() if "]" in after else ""
    if after.startswith(":EXCEPT:"):
        after = after[after.find("=") :] if "=" in after else ""
    if after.startswith("<->") or (after.startswith(":") and not after.startswith(":=")):
        return None  # subscript range, equivalence or mapping
    if not name:
        return None
    if after.startswith("("):
        return name, "lookup", None, units_field, doc
    for op in (":=", "==", "="):
        if after.startswith(op):
            rhs = after[len(op) :].strip()
            kind = "data" if op == ":=" else "normal"
            return name, kind, rhs, units_field, doc
    return name, "data", None, units_field, doc
