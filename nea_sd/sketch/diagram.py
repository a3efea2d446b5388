"""Render the views of a Vensim sketch as SVG or PNG, from the sketch's own coordinates.

Rendering is pysimlin's (optional extra ``nea-sd[diagram]``). pysimlin 0.8.5 renders a whole
model only: it imports every Vensim view into one canvas, each view a titled group placed below
the previous one, keeping the sketch coordinates up to a shift. One view is therefore the whole
rendering cropped to that view's group: the SVG gets that group's ``viewBox``, the PNG is cut
from a full rendering (with Pillow). Ghosts stay drawn as aliases of their variables, which a
single-view copy of the model could not do (pysimlin would turn them into full variables).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nea_sd.errors import (
    InvalidValueError,
    MissingDependencyError,
    ModelFileError,
    OutputPathError,
    unknown_name,
)
from nea_sd.outputs import atomic_write_bytes, check_output_file, check_output_name
from nea_sd.sketch.lint import check_model_file
from nea_sd.sketch.parse import read_sketch

FORMATS = (".svg", ".png")
INSTALL_HINT = "install it with: pip install 'nea-sd[diagram]'"
MARGIN = 30.0  # labels hang out of the view's group box


@dataclass(frozen=True)
class Box:
    """A rectangle in the rendering's coordinates (those of the SVG ``viewBox``)."""

    x: float
    y: float
    width: float
    height: float

    def grown(self, by: float) -> Box:
        return Box(self.x - by, self.y - by, self.width + 2 * by, self.height + 2 * by)


def import_simlin() -> Any:
    """pysimlin, or an error that says how to install it."""
    try:
        import simlin
    except ImportError:
        raise MissingDependencyError(
            f"diagrams and unit checks need pysimlin, which is not installed; {INSTALL_HINT}"
        ) from None
    return simlin


def load_project(path: Path) -> Any:
    """The pysimlin project of a ``.mdl``; a model pysimlin cannot read is the user's error."""
    simlin = import_simlin()
    try:
        return simlin.load(path).project
    except simlin.SimlinError as exc:
        raise ModelFileError(f"pysimlin cannot read {str(path)!r}: {exc}") from None


def view_boxes(project: Any) -> dict[str, Box]:
    """View name -> its group's box, for models that pysimlin imported with several views."""
    data = json.loads(project.serialize_json())
    boxes: dict[str, Box] = {}
    for model in data.get("models", [])[:1]:
        for view in model.get("views", []):
            for element in view.get("elements", []):
                if element.get("type") == "group" and element.get("isMdlViewMarker"):
                    boxes[element["name"]] = Box(
                        float(element["x"]),
                        float(element["y"]),
                        float(element["width"]),
                        float(element["height"]),
                    )
    return boxes


def _svg_box(svg: str) -> Box:
    match = re.search(r'viewBox="([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+)"', svg)
    if not match:
        raise ModelFileError("pysimlin produced an SVG without a viewBox; cannot crop a view")
    return Box(*(float(v) for v in match.groups()))


def crop_svg(svg: str, box: Box) -> str:
    """Only the drawing inside ``box``: a new ``viewBox`` and size, other views' shapes dropped."""
    head_end = svg.index(">") + 1
    head = svg[:head_end]
    size = f"{box.width:g} {box.height:g}"
    head = re.sub(r'viewBox="[^"]*"', f'viewBox="{box.x:g} {box.y:g} {size}"', head)
    head = re.sub(
        r'style="width: [^;]*; height: [^;]*;"',
        f'style="width: {box.width:g}px; height: {box.height:g}px;"',
        head,
    )
    return _drop_outside(head + svg[head_end:], box)


_SVG_NS = "http://www.w3.org/2000/svg"
_MATRIX = re.compile(r"(?:matrix\((?:[-\d.e]+,\s*){4}|translate\()([-\d.e]+)[,\s]+([-\d.e]+)")
_MOVE = re.compile(r"^\s*M\s*([-\d.e]+)[,\s]+([-\d.e]+)")


def _drop_outside(svg: str, box: Box) -> str:
    """Remove the top-level shapes that lie wholly outside ``box`` (the other views).

    A shape is kept when any of its anchor points (centres, corners, path starts, translations)
    falls inside the box, or when it has none we can read; on unexpected markup nothing is removed.
    """
    from xml.etree import ElementTree

    ElementTree.register_namespace("", _SVG_NS)
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return svg
    canvas = root.find(f"{{{_SVG_NS}}}g")
    if canvas is None:
        return svg
    for child in list(canvas):
        points = _anchor_points(child)
        if points and not any(_inside(box, x, y) for x, y in points):
            canvas.remove(child)
    return ElementTree.tostring(root, encoding="unicode")


def _anchor_points(element: Any) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for node in element.iter():
        attrs = node.attrib
        moved = _MATRIX.search(attrs.get("transform", ""))
        if moved:
            points.append((float(moved.group(1)), float(moved.group(2))))
            continue  # its own coordinates are relative to the transform
        for x, y in (("cx", "cy"), ("x", "y")):
            if x in attrs and y in attrs:
                points.append((float(attrs[x]), float(attrs[y])))
        start = _MOVE.match(attrs.get("d", ""))
        if start and "transform" not in attrs:
            points.append((float(start.group(1)), float(start.group(2))))
    return points


def _inside(box: Box, x: float, y: float) -> bool:
    return box.x <= x <= box.x + box.width and box.y <= y <= box.y + box.height


def crop_png(png: bytes, whole: Box, box: Box) -> bytes:
    """Cut ``box`` out of a PNG rendering of the ``whole`` viewBox."""
    try:
        from io import BytesIO

        from PIL import Image
    except ImportError:
        raise MissingDependencyError(
            "a PNG of one view of a multi-view model is cut out with Pillow, which is not "
            "installed; install it with: pip install pillow (or write an .svg)"
        ) from None
    image = Image.open(BytesIO(png))
    scale = image.width / whole.width
    left, top = max(0.0, (box.x - whole.x) * scale), max(0.0, (box.y - whole.y) * scale)
    right = min(float(image.width), (box.x + box.width - whole.x) * scale)
    bottom = min(float(image.height), (box.y + box.height - whole.y) * scale)
    out = BytesIO()
    image.crop((round(left), round(top), round(right), round(bottom))).save(out, format="PNG")
    return out.getvalue()


def _view_box(boxes: dict[str, Box], name: str) -> Box | None:
    """The crop of one view; ``None`` when the rendering holds a single view (nothing to cut)."""
    if len(boxes) <= 1:
        return None
    if name not in boxes:
        raise ModelFileError(
            f"pysimlin did not import view {name!r}; it has " + ", ".join(map(repr, boxes))
        )
    return boxes[name].grown(MARGIN)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "view"


def output_paths(output: Path, views: list[str], several: bool) -> dict[str, Path]:
    """One file per view: ``output`` itself, or ``<stem>-<view><suffix>`` for several views."""
    if not several:
        return {views[0]: output}
    return {v: output.with_name(f"{output.stem}-{_slug(v)}{output.suffix}") for v in views}


def render_diagram(
    model: str | os.PathLike[str],
    output: str | os.PathLike[str],
    view: str | None = None,
    scale: float = 2.0,
) -> list[Path]:
    """Write the diagram of ``view`` (or of every view) of ``model``; return the files written.

    With several views and no ``view``, each view goes to ``<stem>-<view name><suffix>``.
    ``scale`` multiplies the PNG's pixel size (the SVG is vector).
    """
    model_path = check_model_file(model)
    out = Path(output)
    if out.suffix.lower() not in FORMATS:
        raise InvalidValueError(
            f"output {str(output)!r} has the unknown format {out.suffix or '(none)'!r}; "
            f"valid choices: {', '.join(FORMATS)}"
        )
    if not out.parent.is_dir():
        raise OutputPathError(f"output folder {str(out.parent)!r} does not exist")
    check_output_file(out, FORMATS)
    if not scale > 0:
        raise InvalidValueError(f"scale {scale!r} must be positive")
    names = [v.name for v in read_sketch(model_path).views]
    if view is not None:
        matches = [n for n in names if n.lower() == view.lower()]
        if not matches:
            raise unknown_name("view", view, names)
        names = matches[:1]
    project = load_project(model_path)
    boxes = view_boxes(project)
    written: list[Path] = []
    targets = output_paths(out, names or [""], several=view is None and len(names) > 1)
    for path in targets.values():
        check_output_name(path)
    svg = project.render_svg_string()
    whole = _svg_box(svg)
    png = b""
    if out.suffix.lower() == ".png":
        png = project.render_png(width=round(whole.width * scale))
    for name, path in targets.items():
        box = _view_box(boxes, name)
        if out.suffix.lower() == ".svg":
            data = (crop_svg(svg, box) if box else svg).encode("utf-8")
        else:
            data = crop_png(png, whole, box) if box else png
        written.append(atomic_write_bytes(path, data, what="the diagram"))
    return written
