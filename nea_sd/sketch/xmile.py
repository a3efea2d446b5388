"""Export a Vensim ``.mdl`` as XMILE (for Stella, iThink, Simlin), diagram included.

pysimlin converts the model and its views; its XMILE then needs three repairs, all done here
from the ``.mdl`` itself (``read_equations``): variable names get back their Vensim spelling
(Simlin lower-cases them; we write the XMILE form, blanks as underscores), ``<inflow>`` and
``<outflow>`` name flows with underscores as the standard requires (Simlin writes blanks), and
the ranges of the units field (``[low, high]``) become ``<range min max>`` (Simlin drops them).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from nea_sd.errors import ModelFileError
from nea_sd.sketch.equations import read_equations
from nea_sd.sketch.parse import canonical

NS = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
_VARIABLE_TAGS = ("stock", "flow", "aux", "gf", "module")
_AFTER_RANGE = ("eqn", "gf", "inflow", "outflow", "non_negative", "units", "doc", "dimensions")


def _xmile_name(name: str) -> str:
    return "_".join(name.split())


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def mdl_to_xmile(path: str | os.PathLike[str]) -> bytes:
    """XMILE document of the ``.mdl`` at ``path`` (bytes, UTF-8, with the XML declaration)."""
    from lxml import etree

    from nea_sd.sketch.diagram import import_simlin

    model_path = Path(path)
    if model_path.suffix.lower() != ".mdl" or not model_path.is_file():
        raise ModelFileError(
            f"model file {str(path)!r} is not a readable Vensim .mdl file; export reads .mdl"
        )
    simlin = import_simlin()
    try:
        handle = simlin.open(str(model_path))
        try:
            raw = handle.project.to_xmile()
        finally:
            handle.project.close()
    except simlin.SimlinError as exc:
        raise ModelFileError(f"model file {str(path)!r} cannot be converted: {exc}") from None
    equations = read_equations(model_path)
    spelled = {key: _xmile_name(eq.name) for key, eq in equations.variables.items()}
    root = etree.fromstring(raw, etree.XMLParser(remove_blank_text=False))
    for element in root.iter(*(f"{{{NS}}}{tag}" for tag in _VARIABLE_TAGS)):
        name = element.get("name")
        if name is not None and canonical(name) in spelled:
            element.set("name", spelled[canonical(name)])
        parent = element.getparent()
        if parent is None or parent.tag != f"{{{NS}}}variables":
            continue
        for tag in ("inflow", "outflow"):
            for flow in element.findall(f"{{{NS}}}{tag}"):
                text = flow.text or ""
                flow.text = spelled.get(canonical(text), _xmile_name(text))
        equation = equations.get(name or "")
        if equation is not None and equation.has_range:
            _set_range(element, equation.low, equation.high)
    _order_dimensions(root)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _order_dimensions(root: object) -> None:
    """Dimensions in a fixed order (pysimlin's varies from run to run): plain ones first, then
    those that map onto another, each group by name; the same .mdl gives the same bytes."""
    for dims in root.iter(f"{{{NS}}}dimensions"):  # type: ignore[attr-defined]
        children = list(dims)
        if not children:
            continue
        tails = [c.tail for c in children]
        ordered = sorted(
            children,
            key=lambda c: (
                any("maps_to" in str(g.tag) for g in c),
                str(c.get("name", "")).lower(),
            ),
        )
        for child in children:
            dims.remove(child)
        for child, tail in zip(ordered, tails, strict=True):
            child.tail = tail
            dims.append(child)


def _set_range(element: object, low: float, high: float) -> None:
    from lxml import etree

    if math.isnan(low) and math.isnan(high):
        return
    for old in element.findall(f"{{{NS}}}range"):  # type: ignore[attr-defined]
        element.remove(old)  # type: ignore[attr-defined]
    attrs = {}
    if not math.isnan(low):
        attrs["min"] = _number(low)
    if not math.isnan(high):
        attrs["max"] = _number(high)
    node = etree.Element(f"{{{NS}}}range", attrs)
    children = list(element)  # type: ignore[call-overload]
    last = max(
        (i for i, c in enumerate(children) if etree.QName(c).localname in _AFTER_RANGE),
        default=-1,
    )
    node.tail = children[last].tail if last >= 0 else None
    element.insert(last + 1, node)  # type: ignore[attr-defined]


def write_xmile(path: str | os.PathLike[str], output: str | os.PathLike[str]) -> Path:
    """Write the XMILE of ``path`` to ``output`` atomically; returns the path written."""
    from nea_sd.outputs import atomic_write_bytes, check_output_file

    target = check_output_file(output, (".xmile", ".stmx"))
    data = mdl_to_xmile(path)
    atomic_write_bytes(target, data, what="XMILE model")
    return target
