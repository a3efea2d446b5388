"""Data-driven inputs: a partial model whose other sectors are replaced by observed series.

A spec's ``[inputs]`` table names a model variable, the data series of its elements and the
equations that should read the data instead of the model::

    [inputs."Military expenditure"]
    in = ["Perception adjustment"]                 # equations whose references are replaced
    factor = 0.001                                 # model units = factor x data
    series = { US = "sipri:milex_constant_2022_usd:US", CN = "sipri:..." }

Each listed equation then reads ``Military expenditure input[...]``: the data (annual values
placed at mid-year, linearly interpolated, held flat outside the data) for the elements that
have a series, the model's own value for the others. ``link = "logistic"`` reads a poll
(% unfavourable) as the trust it measures, inverting the observation link of the polls
(``alpha`` per element, ``beta`` = 1 by default): T = expit((logit(1 − p/100) − α)/β), with α
taken from a fit (say which in the spec). The derived model is written to the
cache (never beside the original), so the batch engine and PySD run it like any model; its
text is a pure function of the original model, the inputs and the calibration's horizon (Oliva
2003: a sector is tested against the record with its neighbours as given).

The partial model ends where its calibration does (``final``: the last observation a fit or
holdout period uses), not at the original's FINAL TIME: beyond the data its inputs are held
flat, so later years model nothing, and the engine's check against PySD on its first run (PySD
is slow on subscripted models) covers exactly the span every fit simulates.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from nea_sd.data import load_series
from nea_sd.data.series import Series
from nea_sd.errors import InvalidValueError, unknown_name
from nea_sd.model.numbers import as_pysd_reads

INPUT_KEYS = ("in", "factor", "series", "link", "alpha", "beta")
LINKS = ("scale", "logistic")
SUFFIX = " input"


@dataclass(frozen=True)
class Input:
    """A model variable read from data in the listed consumer equations.

    Fields:
        variable: the model variable (as spelled in the model).
        consumers: equations whose references to it are replaced.
        series: (element key (``"US"`` or ``"JP,CN"``; ``""`` for an unsubscripted
            variable), series, factor, alpha) with model value = factor x data, or for a
            logistic link the trust the poll measures (alpha its constant; else NaN).
        beta: the logistic link's beta.
    """

    variable: str
    consumers: tuple[str, ...]
    series: tuple[tuple[str, Series, float, float], ...]
    beta: float = 1.0

    def values(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Years and model-scale values of one element's series (finite values only)."""
        row = next(r for r in self.series if r[0] == key)
        _, series, factor, alpha = row
        years, values = series.years, np.asarray(series.values, dtype=float)
        if np.isnan(alpha):
            out = values * factor
        else:
            favourable = np.clip(1.0 - values / 100.0, 1e-9, 1 - 1e-9)
            out = expit((logit(favourable) - alpha) / self.beta)
        ok = np.isfinite(out)
        return years[ok], out[ok]

    def describe(self) -> str:
        elements = ", ".join(r[0] or self.variable for r in self.series)
        return f"{self.variable} [{elements}] from data in {', '.join(self.consumers)}"


def parse_inputs(raw: Any, where: str, folder: Path) -> tuple[Input, ...]:
    """The ``[inputs]`` table of a spec, with its series loaded (names checked later)."""
    if not isinstance(raw, dict):
        raise InvalidValueError(f"{where}: [inputs] must be a table, got {raw!r}")
    out = []
    for variable, entry in raw.items():
        what = f"{where} input {variable!r}"
        if not isinstance(entry, dict):
            raise InvalidValueError(f"{what} must be a table with in, factor, series")
        for key in entry:
            if key not in INPUT_KEYS:
                raise InvalidValueError(
                    f"{what}: unknown key {key!r}; valid keys: "
                    + ", ".join(repr(k) for k in INPUT_KEYS)
                )
        for key in ("in", "series"):
            if key not in entry:
                raise InvalidValueError(f"{what}: missing required key {key!r}")
        consumers = entry["in"]
        if (
            not isinstance(consumers, list)
            or not consumers
            or not all(isinstance(c, str) and c.strip() for c in consumers)
        ):
            raise InvalidValueError(
                f"{what}: in must list the equations that read the data, got {consumers!r}"
            )
        series = entry["series"]
        if isinstance(series, str):
            series = {"": series}
        if not isinstance(series, dict) or not series:
            raise InvalidValueError(
                f"{what}: series must be a selector or a table element -> selector"
            )
        link = entry.get("link", "scale")
        if link not in LINKS:
            raise InvalidValueError(
                f"{what}: unknown link {link!r}; valid: " + ", ".join(repr(k) for k in LINKS)
            )
        if link == "logistic" and "factor" in entry:
            raise InvalidValueError(f"{what}: a logistic link takes alpha (and beta), not factor")
        if link == "scale" and ("alpha" in entry or "beta" in entry):
            raise InvalidValueError(f"{what}: alpha and beta need link = 'logistic'")
        if link == "logistic" and "alpha" not in entry:
            raise InvalidValueError(f"{what}: link = 'logistic' needs alpha (per element)")
        beta = _positive(entry.get("beta", 1.0), f"{what}: beta")
        rows = []
        for element, selector in series.items():
            label = element or variable
            if link == "scale":
                factor = _pick(entry.get("factor", 1.0), element, f"{what}: factor for {label!r}")
                factor, alpha = _positive(factor, f"{what}: factor for {label!r}"), math.nan
            else:
                alpha = _pick(entry["alpha"], element, f"{what}: alpha for {label!r}")
                if isinstance(alpha, bool) or not isinstance(alpha, int | float):
                    raise InvalidValueError(f"{what}: alpha for {label!r} must be a number")
                factor, alpha = 1.0, float(alpha)
            if not isinstance(selector, str):
                raise InvalidValueError(f"{what}: series of {label!r} must be a selector")
            key = ",".join(e.strip() for e in element.split(",")) if element else ""
            rows.append((key, load_series(selector, folder), factor, alpha))
        out.append(Input(variable, tuple(consumers), tuple(rows), beta))
    return tuple(out)


def _pick(value: Any, element: str, what: str) -> Any:
    if isinstance(value, dict):
        if element not in value:
            raise InvalidValueError(f"{what} is missing (give one per series element)")
        return value[element]
    return value


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


# -- the derived model ------------------------------------------------------------------------

_HEADER = re.compile(r"^([^\s~|{][^=\[\(]*?)\s*(\[[^\]]*\])?\s*(=|\(|:)", re.MULTILINE)


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def _blocks(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, name, dims) of every equation block before the sketch section."""
    body_end = text.find("\\\\\\---///")
    body_end = len(text) if body_end < 0 else body_end
    blocks = []
    start = 0
    for match in re.finditer(r"\|", text[:body_end]):
        chunk = text[start : match.end()]
        head = _HEADER.search(chunk)
        if head is not None:
            offset = start + (len(chunk) - len(chunk.lstrip()))
            blocks.append((offset, match.end(), head.group(1).strip(), head.group(2) or ""))
        start = match.end()
    return blocks


def _replace_references(expr: str, name: str, new: str) -> tuple[str, int]:
    """Replace whole-name references to ``name`` (case and space insensitive) by ``new``."""
    words = [re.escape(w) for w in _norm(name).split(" ")]
    pattern = re.compile(r"[\s_]+".join(words), re.IGNORECASE)
    out, last, count = [], 0, 0
    for m in pattern.finditer(expr):
        before = expr[: m.start()].rstrip()
        after = expr[m.end() :].lstrip()
        if before and (before[-1].isalnum() or before[-1] in "_\"'.$"):
            continue
        if after and (after[0].isalnum() or after[0] in "_\"'"):
            continue
        out.append(expr[last : m.start()] + new)
        last = m.end()
        count += 1
    out.append(expr[last:])
    return "".join(out), count


def _elements(dims: str, subscripts: dict[str, list[str]]) -> list[tuple[str, ...]]:
    names = [d.strip() for d in dims.strip("[]").split(",") if d.strip()]
    axes = []
    for dim in names:
        if dim not in subscripts:
            raise unknown_name("subscript range", dim, list(subscripts))
        axes.append([str(e) for e in subscripts[dim]])
    grid: list[tuple[str, ...]] = [()]
    for axis in axes:
        grid = [g + (e,) for g in grid for e in axis]
    return grid


def _table_points(item: Input, key: str, initial: float, final: float) -> str:
    """Mid-year points inside the model's span (plus one year either side)."""
    years, values = item.values(key)
    keep = (years >= initial - 1) & (years <= final)
    years, values = years[keep], values[keep]
    if not len(years):
        name = next(r[1].name for r in item.series if r[0] == key)
        raise InvalidValueError(
            f"input series {name!r} has no values in the model's span {initial:g}-{final:g}"
        )
    exact = as_pysd_reads(values)  # what PySD will run; the batch engine reads the same
    return ",".join(f"({y + 0.5:.1f},{v!r})" for y, v in zip(years, exact, strict=True))


def derive_text(
    text: str, inputs: tuple[Input, ...], model: Any, final: float | None = None
) -> str:
    """The model text with each input's consumers reading the data and, when ``final`` is
    before the model's FINAL TIME, ending at ``final`` (see the module doc)."""
    blocks = _blocks(text)
    by_name: dict[str, list[tuple[int, int, str, str]]] = {}
    for block in blocks:
        by_name.setdefault(_norm(block[2]), []).append(block)
    initial, final_time = float(model.time["initial"]), float(model.time["final"])
    edits: list[tuple[int, int, str]] = []
    if final is not None and initial < final < final_time:
        start, end, _, _ = by_name[_norm("FINAL TIME")][0]
        block = text[start:end]
        eq_at, tilde = block.find("="), block.find("~")
        edits.append((start, end, f"{block[: eq_at + 1]}\n\t{final:g}\n\t{block[tilde:]}"))
        final_time = final
    added = []
    for item in inputs:
        defs = by_name.get(_norm(item.variable))
        if not defs:
            raise unknown_name("variable", item.variable, [b[2] for b in blocks])
        real, dims = defs[0][2], defs[0][3]
        elements = _elements(dims, model.subscripts)
        keys = {",".join(e) for e in elements}
        for key, *_ in item.series:
            if key not in keys:
                valid = sorted(keys) if dims else ["'' (unsubscripted)"]
                raise unknown_name(f"element of {real}", key, valid)
        new = real + SUFFIX
        for consumer in item.consumers:
            cdefs = by_name.get(_norm(consumer))
            if not cdefs:
                raise unknown_name("equation", consumer, [b[2] for b in blocks])
            for start, end, _, _ in cdefs:
                block = text[start:end]
                eq_at = block.find("=")
                tilde = block.find("~")
                head, expr, tail = block[: eq_at + 1], block[eq_at + 1 : tilde], block[tilde:]
                replaced, count = _replace_references(expr, real, new)
                if not count:
                    raise InvalidValueError(
                        f"input {real!r}: equation {consumer!r} does not reference it; "
                        "list only equations that read the variable"
                    )
                edits.append((start, end, head + replaced + tail))
        added.append(_input_blocks(item, real, dims, elements, initial, final_time))
    out = text
    for start, end, new_block in sorted(edits, key=lambda e: -e[0]):
        out = out[:start] + new_block + out[end:]
    sketch = out.find("\\\\\\---///")
    at = len(out) if sketch < 0 else sketch
    return out[:at] + "\n".join(added) + "\n" + out[at:]


def _array(values: list[float], shape: tuple[int, ...]) -> str:
    """A Vensim numeric array constant: a scalar, a vector, or rows ending in ';'."""
    text = [f"{v:g}" for v in values]
    if not shape:
        return text[0]
    if len(shape) == 1:
        return ", ".join(text)
    cols = shape[1]
    return "\n\t" + "\n\t".join(
        ", ".join(text[r * cols : (r + 1) * cols]) + ";" for r in range(shape[0])
    )


def _input_blocks(
    item: Input,
    real: str,
    dims: str,
    elements: list[tuple[str, ...]],
    initial: float,
    final: float,
) -> str:
    """The input variable: per data cell a scalar lookup on Time times an indicator array
    (element-wise lookups would give PySD a (Actor, Actor) array for a [Actor, Partner]
    variable, since Partner is an equivalent of Actor), else the model's own value."""
    names = [d.strip() for d in dims.strip("[]").split(",") if d.strip()]
    if len(names) > 2:
        raise InvalidValueError(
            f"input {real!r} has {len(names)} subscripts; inputs support at most two"
        )
    shape = tuple(len({e[i] for e in elements}) for i in range(len(names)))
    keys = [",".join(e) for e in elements]
    ref = f"[{', '.join(names)}]" if names else ""
    base = real + SUFFIX
    terms, lines = [], []
    for n, (key, series, factor, alpha) in enumerate(item.series, start=1):
        table, cell = f"{base} table {n}", f"{base} cell {n}"
        how = f"x {factor:g}" if np.isnan(alpha) else f"poll as trust, alpha {alpha:g}"
        points = _table_points(item, key, initial, final)
        lines.append(
            f"{table}(\n\t{points})\n\t~\t\n\t~\t{series.name} ({key or real}), {how}\n\t|\n"
        )
        if names:
            mask = [1.0 if k == key else 0.0 for k in keys]
            lines.append(f"{cell}{ref}=\n\t{_array(mask, shape)}\n\t~\tDmnl\n\t~\t\n\t|\n")
            terms.append(f"{cell}{ref} * {table}(Time)")
        else:
            terms.append(f"{table}(Time)")
    covered = {row[0] for row in item.series}
    on = [1.0 if k in covered else 0.0 for k in keys]
    lines.append(
        f"{base} on{ref}=\n\t{_array(on, shape)}\n\t~\tDmnl\n\t~\t1 where data replace the "
        "model\n\t|\n"
    )
    lines.insert(
        0,
        f"{base}{ref}=\n\tIF THEN ELSE({base} on{ref} > 0.5, {' + '.join(terms)}, "
        f"{real}{ref})\n\t~\t\n\t~\tData-driven input (calibration [inputs]); the model's "
        "own value where no series is given.\n\t|\n",
    )
    return "\n".join(lines)


def derived_model(model: Any, inputs: tuple[Input, ...], final: float | None = None) -> Path:
    """Write (once, atomically) the partial model, ending at ``final``, to the cache; return
    its path."""
    from nea_sd.model.cache import cache_dir

    text = Path(model.path).read_text(encoding="utf-8")
    derived = derive_text(text, inputs, model, final)
    digest = hashlib.sha256(derived.encode()).hexdigest()[:16]
    folder = cache_dir() / "partial" / digest
    path = folder / f"{Path(model.path).stem}-partial.mdl"
    if path.is_file() and path.read_text(encoding="utf-8") == derived:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{path.name}.{os.getpid()}"
    staging.write_text(derived, encoding="utf-8")
    os.replace(staging, path)
    return path
