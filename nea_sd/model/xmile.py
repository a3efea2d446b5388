"""XMILE models (Stella, iThink, Simlin) read through PySD's XMILE translator.

PySD's XMILE grammar misses a few spellings of the standard that Stella and Simlin write:
``STARTTIME``/``STOPTIME``/``DT``, the ``*`` wildcard and ``Dim.*`` of array reductions, and
flow names with blanks in ``<inflow>``/``<outflow>``. :func:`normalized_xmile` rewrites them
into the spellings PySD reads (``INITIAL_TIME``, ``Dim!``, underscores); the rewritten copy
lives in the translation cache, never beside the model. A call of a function that neither
PySD nor the model defines is refused before translation, naming the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from nea_sd.errors import ModelFileError

REWRITE_VERSION = 1  # bump when the rewriting for PySD changes (cached translations)
XMILE_SUFFIXES = (".xmile", ".stmx", ".xml", ".itmx")
NS = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
_VARIABLE_TAGS = ("stock", "flow", "aux", "gf", "module")
_TIME_NAMES = {"starttime": "INITIAL_TIME", "stoptime": "FINAL_TIME", "dt": "TIME_STEP"}
_CALL = re.compile(r"([A-Za-z_][\w$']*)\s*\(")
_REFERENCE = re.compile(r"([A-Za-z_][\w$']*)\s*\[([^\[\]]*)\]")
_SIZE = re.compile(r"\bSIZE\s*\(\s*([A-Za-z_][\w]*)\s*\)", re.IGNORECASE)
_MINMAX = re.compile(r"(?<![\w.])(MIN|MAX)\s*\(", re.IGNORECASE)
_NAMES = re.compile(r"\b(STARTTIME|STOPTIME|DT)\b", re.IGNORECASE)
_KEYWORDS = frozenset({"if", "then", "else", "and", "or", "not", "mod"})


def _builtins() -> frozenset[str]:
    """Function names PySD's XMILE translator accepts (its structures and function space)."""
    from pysd.builders.python.python_functions import functionspace
    from pysd.translators.xmile.xmile_structures import structures

    return frozenset(functionspace) | frozenset(structures) | _KEYWORDS


def is_xmile(path: str | os.PathLike[str]) -> bool:
    """True for the suffixes of XMILE files (``.xmile``, ``.stmx``, ``.itmx``, ``.xml``)."""
    return Path(path).suffix.lower() in XMILE_SUFFIXES


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("\\n", " ").split()).lower()


def _parse(path: Path) -> Any:
    from lxml import etree

    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False)).getroot()
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else 0
        raise ModelFileError(
            f"model file {str(path)!r} is not well-formed XML at line {line}: "
            f"{exc.msg}; fix the XML there or re-export the model from Stella"
        ) from None
    if etree.QName(root).localname != "xmile" or etree.QName(root).namespace != NS:
        raise ModelFileError(
            f"model file {str(path)!r} is not an XMILE file (root element "
            f"<{etree.QName(root).localname}>, expected <xmile xmlns={NS!r}>); "
            f"export the model as XMILE"
        )
    return root


def _variables(root: Any) -> list[Any]:
    found = []
    for model in root.iter(f"{{{NS}}}model"):
        for tag in _VARIABLE_TAGS:
            found.extend(model.iter(f"{{{NS}}}{tag}"))
    return [v for v in found if v.getparent().tag == f"{{{NS}}}variables"]


def _dims_of(variables: list[Any]) -> dict[str, list[str]]:
    dims = {}
    for var in variables:
        names = [d.get("name", "") for d in var.iter(f"{{{NS}}}dim")]
        dims[_key(var.get("name", ""))] = names
    return dims


def _rewrite_equation(text: str, dims: dict[str, list[str]], dimensions: set[str]) -> str:
    def star(match: re.Match[str]) -> str:
        name, inner = match[1], match[2]
        parts = [p.strip() for p in inner.split(",")]
        owner = dims.get(_key(name), [])
        fixed = []
        for i, part in enumerate(parts):
            if part == "*" and i < len(owner):
                part = owner[i] + "!"
            elif part.endswith(".*"):
                part = part[:-2] + "!"
            fixed.append(part)
        return f"{name}[{', '.join(fixed)}]"

    text = _REFERENCE.sub(star, text)
    text = _array_reductions(text)
    text = _SIZE.sub(lambda m: f"ELMCOUNT({m[1]})" if _key(m[1]) in dimensions else m[0], text)
    return _NAMES.sub(lambda m: _TIME_NAMES[m[1].lower()], text)


def _array_reductions(text: str) -> str:
    """One-argument ``MIN``/``MAX`` (an array reduction in XMILE) as ``VMIN``/``VMAX``.

    PySD reads them as its ``vmin_xmile`` helpers, which the batch engine does not know; with
    the reduced dimensions written ``Dim!`` the Vensim functions mean the same.
    """
    out, i = [], 0
    for match in _MINMAX.finditer(text):
        depth, j, single = 1, match.end(), True
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(text[j], 0)
            if text[j] == "," and depth == 1:
                single = False
            j += 1
        if single and match.start() >= i:
            out.append(text[i : match.start()] + "V" + match[1] + "(")
            i = match.end()
    return "".join(out) + text[i:]


def _check_calls(path: Path, variables: list[Any]) -> None:
    defined = {_key(v.get("name", "")) for v in variables}
    builtins = _builtins()
    for var in variables:
        for eqn in var.iter(f"{{{NS}}}eqn"):
            for call in _CALL.findall(eqn.text or ""):
                if call.lower() in builtins or call.lower() == "size" or _key(call) in defined:
                    continue
                raise ModelFileError(
                    f"model file {str(path)!r}: the equation of {var.get('name')!r} calls "
                    f"{call}(), which is neither an XMILE builtin PySD supports nor a "
                    f"graphical function of the model; replace it with a supported builtin"
                )


def normalized_xmile(path: str | os.PathLike[str]) -> bytes:
    """The XMILE of ``path`` rewritten into the spellings PySD's XMILE translator reads.

    Raises :class:`ModelFileError` for malformed XML, a non-XMILE root or an unknown builtin.
    """
    from lxml import etree

    model_path = Path(path)
    root = _parse(model_path)
    variables = _variables(root)
    _check_calls(model_path, variables)
    dims = _dims_of(variables)
    dimensions = {_key(d.get("name", "")) for d in root.iter(f"{{{NS}}}dim") if len(d)}
    for dim in root.iter(f"{{{NS}}}dim"):  # PySD reads subscripts with blanks, not underscores
        dim.set("name", " ".join(dim.get("name", "").replace("_", " ").split()))
    for var in variables:
        for eqn in var.iter(f"{{{NS}}}eqn"):
            if eqn.text:
                eqn.text = _rewrite_equation(eqn.text, dims, dimensions)
        for tag in ("inflow", "outflow"):
            for flow in var.findall(f"{{{NS}}}{tag}"):
                if flow.text:
                    flow.text = "_".join(flow.text.split())
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def xmile_views(path: str | os.PathLike[str]) -> dict[str, str]:
    """Canonical variable name -> the view (or the ``<group>`` of a view) that shows it.

    Simlin writes the views of a ``.mdl`` as groups of one XMILE view; a variable inside a
    group's rectangle belongs to that group, otherwise to its view.
    """
    root = _parse(Path(path))
    views: dict[str, str] = {}
    for number, view in enumerate(root.iter(f"{{{NS}}}view"), start=1):
        title = view.get("name") or f"View {number}"
        items = [c for c in view if isinstance(c.tag, str)]
        groups = [g for g in items if etree_name(g) == "group"]
        for item in items:
            name = item.get("name")
            if not name or etree_name(item) == "group":
                continue
            views.setdefault(_key(name), _group_of(item, groups) or title)
    return views


def etree_name(element: Any) -> str:
    return str(element.tag).rpartition("}")[2]


def _group_of(item: Any, groups: list[Any]) -> str | None:
    try:
        x, y = float(item.get("x")), float(item.get("y"))
    except (TypeError, ValueError):
        return None
    for group in groups:
        try:
            gx, gy = float(group.get("x")), float(group.get("y"))
            width, height = float(group.get("width")), float(group.get("height"))
        except (TypeError, ValueError):
            continue
        if gx <= x <= gx + width and gy <= y <= gy + height:
            return group.get("name")
    return None


def staged_xmile(path: Path, folder: Path) -> Path:
    """Write the normalized XMILE of ``path`` into ``folder`` under a private name."""
    data = normalized_xmile(path)
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".{path.stem}.{os.getpid()}.xmile"
    staged.write_bytes(data)
    return staged


def _save_interval(path: Path) -> float | None:
    """``isee:save_interval`` of ``<sim_specs>`` (PySD's reader ignores it and saves every DT)."""
    for specs in _parse(path).iter(f"{{{NS}}}sim_specs"):
        for key, value in specs.attrib.items():
            if key.endswith("}save_interval") or key == "save_interval":
                try:
                    return float(value)
                except ValueError:
                    raise ModelFileError(
                        f"model file {str(path)!r}: save_interval {value!r} of <sim_specs> is "
                        f"not a number; write the interval between saved times"
                    ) from None
    return None


def _copies(path: Path) -> dict[str, str]:
    """Dimension -> the dimension it maps to (``isee:maps_to``), as Vensim's ``A <-> B``."""
    copies = {}
    for dimensions in _parse(path).iter(f"{{{NS}}}dimensions"):
        for dim in dimensions:
            target = [c.text for c in dim if etree_name(c) == "maps_to" and c.text]
            if target:
                copies[_key(dim.get("name", ""))] = _key(target[0])
    return copies


def _apply_copies(abstract: Any, copies: dict[str, str]) -> None:
    """A dimension that maps to another with the same elements becomes its copy."""
    for section in abstract.sections:
        by_key = {_key(r.name): r for r in section.subscripts}
        for source, target in copies.items():
            copy, original = by_key.get(source), by_key.get(target)
            if copy is None or original is None or copy.subscripts != original.subscripts:
                continue
            copy.subscripts = original.name


def parse_abstract_xmile(path: Path, folder: Path) -> Any:
    """PySD's abstract model of an XMILE file (same structures as for a ``.mdl``)."""
    import warnings

    from pysd.translators.xmile.xmile_file import XmileFile

    staged = staged_xmile(path, folder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xmile = XmileFile(staged)
            xmile.parse()
            abstract = xmile.get_abstract_model()
    except Exception as exc:  # PySD raises bare Exceptions and parsimonious errors
        raise xmile_failure(path, exc) from None
    finally:
        staged.unlink(missing_ok=True)
    _apply_copies(abstract, _copies(path))
    for section in abstract.sections:  # XMILE's Arms_control is Vensim's Arms control
        for element in section.elements:
            element.name = " ".join(element.name.replace("_", " ").split())
    interval = _save_interval(path)
    if interval is not None:
        for section in abstract.sections:
            for element in section.elements:
                if _key(element.name) == "saveper":
                    element.components[0].ast = interval
    return abstract


def translated_xmile(path: Path, folder: Path) -> Path:
    """PySD translation of ``path``, made once per content hash and version of the rewriting.

    ``folder`` is the model's cache folder; the rewriting version names a subfolder, so a
    translation made by an older rewriting is never reused.
    """
    folder = folder / f"xmile-v{REWRITE_VERSION}"
    target = folder / (path.stem + ".py")
    if not target.exists():
        translate_xmile(path, folder, target)
    return target


def translate_xmile(path: Path, folder: Path, target: Path) -> None:
    """Translate ``path`` with PySD into ``target`` (a ``.py`` inside the cache ``folder``)."""
    import contextlib
    import io
    import warnings

    from pysd.builders.python.python_model_builder import ModelBuilder

    # sections are named after the private staged copy in ``folder``: the build lands there
    abstract = parse_abstract_xmile(path, folder)
    built = None
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            built = Path(ModelBuilder(abstract).build_model())
        os.replace(built, target)
    except Exception as exc:
        raise xmile_failure(path, exc) from None
    finally:
        if built is not None:
            built.unlink(missing_ok=True)


def xmile_failure(path: Path, exc: Exception) -> ModelFileError:
    """One line for a failure of PySD's XMILE translator, with the equation text it rejected."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    snippet = getattr(exc, "text", None)
    where = f" in the equation {snippet.strip()[:60]!r}" if isinstance(snippet, str) else ""
    return ModelFileError(
        f"model file {str(path)!r} cannot be translated by PySD's XMILE reader{where}: "
        f"{first}; fix that equation or re-export the model"
    )
