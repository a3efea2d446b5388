"""Parse the sketch section of a Vensim ``.mdl`` into views and objects, with line numbers.

PySD reads the sketch only to split views; a linter and the parameter table need every object
and the line it sits on, so we read the section ourselves (format: ``design/VENSIM.md`` and
Vensim's "Sketch information" documentation).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

SKETCH_START = "\\\\\\---///"
SKETCH_END = "///---\\\\\\"

VARIABLE, VALVE, COMMENT, ARROW = 10, 11, 12, 1


@dataclass(frozen=True)
class SketchObject:
    """One object line of a view: ``kind`` 10 variable, 11 valve, 12 comment/cloud, 1 arrow."""

    kind: int
    id: int
    fields: tuple[str, ...]
    line: int

    @property
    def name(self) -> str | None:
        """Variable name (type 10), with Vensim's double quotes removed."""
        if self.kind != VARIABLE:
            return None
        raw = self.fields[2]
        if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
            raw = raw[1:-1].replace('\\"', '"')
        return " ".join(raw.split())

    def _int(self, index: int) -> int:
        try:
            return int(self.fields[index])
        except (IndexError, ValueError):
            return 0

    @property
    def x(self) -> int:
        return self._int(3)

    @property
    def y(self) -> int:
        return self._int(4)

    @property
    def half_width(self) -> int:
        """Half the width of a variable, valve or cloud (Vensim stores half sizes)."""
        return self._int(5)

    @property
    def half_height(self) -> int:
        return self._int(6)

    @property
    def shape(self) -> int:
        """Type 10: 3 box (stock), 8 plain, 40 flow name; type 1: arrowhead code."""
        return self._int(7) if self.kind != ARROW else self._int(4)

    @property
    def bits(self) -> int:
        return self._int(8)

    @property
    def is_primary(self) -> bool:
        return self.kind == VARIABLE and bool(self.bits & 1)

    @property
    def is_cloud(self) -> bool:
        return self.kind == COMMENT and self._int(2) == 48

    # arrows
    @property
    def source(self) -> int:
        return self._int(2)

    @property
    def target(self) -> int:
        return self._int(3)

    @property
    def is_pipe(self) -> bool:
        """Flow pipe (thickness field 22) rather than an information arrow."""
        return self.kind == ARROW and self._int(7) == 22

    @property
    def polarity(self) -> str:
        code = self._int(6)
        return chr(code) if code in (43, 45) else ""


@dataclass
class View:
    name: str
    line: int
    objects: list[SketchObject] = field(default_factory=list)

    def variables(self) -> list[SketchObject]:
        return [o for o in self.objects if o.kind == VARIABLE]

    def arrows(self) -> list[SketchObject]:
        return [o for o in self.objects if o.kind == ARROW]


@dataclass
class Sketch:
    path: Path
    views: list[View]

    def primary_view(self) -> dict[str, str]:
        """Variable name (lower-case, blanks folded) -> the view holding its primary object."""
        where: dict[str, str] = {}
        for view in self.views:
            for obj in view.variables():
                if obj.is_primary and obj.name:
                    where.setdefault(canonical(obj.name), view.name)
        return where


def canonical(name: str) -> str:
    """Vensim names are case-insensitive and treat runs of blanks/underscores alike."""
    return " ".join(name.replace("_", " ").split()).lower()


def _split_fields(line: str) -> tuple[str, ...]:
    return tuple(next(csv.reader([line], skipinitialspace=False)))


def read_sketch(path: str | os.PathLike[str]) -> Sketch:
    """Read every view of the sketch; a model without a sketch gives no views."""
    model_path = Path(path)
    lines = model_path.read_text(encoding="utf-8", errors="replace").splitlines()
    views: list[View] = []
    current: View | None = None
    in_sketch = False
    skip_text_line = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if skip_text_line:  # a comment whose text sits on the following line (bits & 4)
            skip_text_line = False
            continue
        if line.startswith(SKETCH_END):
            break
        if line.startswith(SKETCH_START):
            in_sketch = True
            current = None
            continue
        if not in_sketch or not line:
            continue
        if line.startswith("*"):
            current = View(name=line[1:].strip(), line=number)
            views.append(current)
            continue
        if current is None or line.startswith(("V300", "V364", "$")):
            continue
        head = line.split(",", 2)
        if len(head) < 3 or not head[0].isdigit():
            continue  # comment text continuation lines and font records
        fields = _split_fields(line)
        try:
            obj = SketchObject(kind=int(fields[0]), id=int(fields[1]), fields=fields, line=number)
        except ValueError:
            continue
        current.objects.append(obj)
        skip_text_line = obj.kind == COMMENT and not obj.is_cloud and bool(obj.bits & 4)
    return Sketch(path=model_path, views=views)
