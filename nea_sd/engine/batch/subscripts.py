"""Subscript ranges and the index arithmetic that turns Vensim subscripts into numpy indexing.

Every value in the generated code is an array ``(run, *axes)`` laid out over the *space* of the
equation being computed: the axes of its left-hand side, plus the ``!`` axes of any enclosing
aggregation.  A reference ``x[a, b]`` is compiled into the indexing that brings ``x`` (stored
over its own dimensions) into that space, with size-1 axes where it does not vary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nea_sd.engine.batch.unsupported import Unsupported


def key(name: str) -> str:
    """Vensim names (variables, ranges, elements) compare case- and blank-insensitively."""
    return " ".join(name.replace("_", " ").split()).lower()


@dataclass
class SubscriptTable:
    """The ranges of a model: name -> ordered elements, with copies and positional mappings."""

    ranges: dict[str, list[str]] = field(default_factory=dict)  # real range name -> elements
    mappings: dict[str, list[str]] = field(default_factory=dict)  # range -> ranges it maps to
    _range_key: dict[str, str] = field(default_factory=dict)
    _element_key: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_section(cls, subscripts: Sequence[object]) -> SubscriptTable:
        table = cls()
        pending = list(subscripts)
        # copies (``B <-> A``) name another range, which may be declared later
        for _ in range(len(pending) + 1):
            later = []
            for rng in pending:
                name, elements = rng.name, rng.subscripts  # type: ignore[attr-defined]
                if isinstance(elements, str):
                    if key(elements) not in table._range_key:
                        later.append(rng)
                        continue
                    elements = table.elements(elements)
                if isinstance(elements, dict):
                    raise Unsupported("GET XLS/DIRECT SUBSCRIPT", name)
                table.ranges[name] = list(elements)
                table._range_key[key(name)] = name
                for element in elements:
                    table._element_key.setdefault(key(element), element)
                mapping = getattr(rng, "mapping", None) or []
                for target in mapping:
                    if not isinstance(target, str):
                        raise Unsupported("subscript mapping with element lists", name)
                    table.mappings.setdefault(name, []).append(target)
            pending = later
            if not pending:
                break
        if pending:
            raise Unsupported("subscript copy of an undefined range", pending[0].name)  # type: ignore[attr-defined]
        return table

    def is_range(self, name: str) -> bool:
        return key(name) in self._range_key

    def range_name(self, name: str) -> str:
        return self._range_key[key(name)]

    def elements(self, name: str) -> list[str]:
        """Elements of a range, or ``[name]`` for a single element."""
        k = key(name)
        if k in self._range_key:
            return self.ranges[self._range_key[k]]
        if k in self._element_key:
            return [self._element_key[k]]
        raise Unsupported(f"unknown subscript {name!r}", "")

    def is_element(self, name: str) -> bool:
        return key(name) in self._element_key and key(name) not in self._range_key

    def mapped(self, source: str, target: str) -> bool:
        """True when ``source`` declares a positional mapping onto ``target`` (or vice versa)."""
        s, t = self.range_name(source), self.range_name(target)
        return t in self.mappings.get(s, []) or s in self.mappings.get(t, [])

    def final_dims(self, component_subs: list[list[str]], where: str) -> list[str]:
        """Dimensions of an element defined piecewise by several components.

        Per position: a range used by a component that covers exactly the union of the
        elements, else a declared range equal to it, else the first declared range holding it.
        """
        if not component_subs or not component_subs[0]:
            return []
        n = len(component_subs[0])
        if any(len(subs) != n for subs in component_subs):
            raise Unsupported("components with different numbers of subscripts", where)
        dims: list[str] = []
        for i in range(n):
            covered = {key(e) for subs in component_subs for e in self.elements(subs[i])}
            written = [subs[i] for subs in component_subs if self.is_range(subs[i])]
            chosen = next((self.range_name(w) for w in written if self._keys(w) == covered), None)
            others = {key(subs[j]) for subs in component_subs for j in range(n) if j != i}
            if chosen is None:
                chosen = next(
                    (r for r in self.ranges if self._keys(r) == covered and key(r) not in others),
                    None,
                )
            if chosen is None:
                chosen = next(
                    (r for r in self.ranges if covered <= self._keys(r) and key(r) not in others),
                    None,
                )
            if chosen is None:
                raise Unsupported("subscripts that no range covers", where)
            dims.append(chosen)
        return dims

    def _keys(self, name: str) -> set[str]:
        return {key(e) for e in self.elements(name)}

    def positions(self, elements: Sequence[str], within: Sequence[str], where: str) -> np.ndarray:
        """Positions of ``elements`` inside the ordered list ``within`` (matched by name)."""
        index = {key(e): i for i, e in enumerate(within)}
        try:
            return np.array([index[key(e)] for e in elements], dtype=np.intp)
        except KeyError as exc:
            raise Unsupported(f"subscript element {exc.args[0]!r} out of range", where) from None


@dataclass(frozen=True)
class Axis:
    """One axis of an equation's space: the subscript as written and its elements."""

    written: str
    elements: tuple[str, ...]
    bang: bool = False  # an aggregation axis (``dim!``), reduced by the enclosing SUM/VMAX/...


@dataclass(frozen=True)
class Indexing:
    """How a stored array ``(run, *dims)`` is brought into a space ``(run, *axes)``.

    ``picks[i]`` is an ``int`` (a fixed element) or ``(axis, positions)`` for dimension ``i``.
    """

    picks: tuple[int | tuple[int, np.ndarray], ...]
    rank: int  # number of axes of the space
    sizes: tuple[int, ...] = ()  # lengths of the stored dimensions

    @property
    def axes(self) -> frozenset[int]:
        return frozenset(p[0] for p in self.picks if not isinstance(p, int))


def resolve(
    table: SubscriptTable,
    dims: Sequence[str],
    subs: Sequence[str] | None,
    space: Sequence[Axis],
    where: str,
) -> Indexing:
    """Match each subscript of a reference to a fixed element or an axis of ``space``."""
    if subs is None:
        subs = list(dims)  # a bare reference to a subscripted variable means all of it
    if len(subs) != len(dims):
        raise Unsupported(
            f"reference with {len(subs)} subscripts to a {len(dims)}-d variable", where
        )
    picks: list[int | tuple[int, np.ndarray]] = []
    used: set[int] = set()
    for sub, dim in zip(subs, dims, strict=True):
        within = table.elements(dim)
        bang = sub.endswith("!")
        name = sub[:-1].strip() if bang else sub.strip()
        if not bang and table.is_element(name):
            picks.append(int(table.positions([name], within, where)[0]))
            continue
        if not table.is_range(name):
            raise Unsupported(f"unknown subscript {sub!r}", where)
        axis = _find_axis(table, name, bang, space, used)
        if axis is None:
            raise Unsupported(f"subscript {sub!r} not on the left-hand side", where)
        used.add(axis)
        elements = space[axis].elements
        # the axis holds the elements the subscript names (same range, subrange, copy) ...
        direct = {key(e) for e in elements} <= {key(e) for e in table.elements(name)}
        if direct and _same_family(table, elements, within):
            positions = table.positions(elements, within, where)
        else:  # ... or a positional mapping between two ranges (``B: b1, b2 -> A``)
            source = space[axis].written
            if not table.is_range(source) or not (
                table.mapped(source, dim) or table.mapped(source, name)
            ):
                raise Unsupported(f"subscript {sub!r} does not match dimension {dim!r}", where)
            offsets = table.positions(elements, table.elements(source), where)
            mine = table.elements(name)
            target = mine if _same_family(table, mine, within) else within
            if len(table.elements(source)) != len(target):
                raise Unsupported(f"mapping of {source!r} onto {dim!r} of another size", where)
            positions = table.positions([target[o] for o in offsets], within, where)
        picks.append((axis, positions))
    sizes = tuple(len(table.elements(d)) for d in dims)
    return Indexing(tuple(picks), len(space), sizes)


def _same_family(table: SubscriptTable, elements: Sequence[str], within: Sequence[str]) -> bool:
    inside = {key(e) for e in within}
    return all(key(e) in inside for e in elements)


def _find_axis(
    table: SubscriptTable, name: str, bang: bool, space: Sequence[Axis], used: set[int]
) -> int | None:
    candidates = [i for i, a in enumerate(space) if a.bang == bang and i not in used]
    for i in candidates:
        if key(space[i].written) == key(name):
            return i
    mine = {key(e) for e in table.elements(name)}
    for i in candidates:  # a subrange or single element of the same family
        if {key(e) for e in space[i].elements} <= mine:
            return i
    for i in candidates:
        written = space[i].written
        if table.is_range(written) and table.mapped(written, name):
            return i
    return None


def index_code(ix: Indexing, source_rank: int, const: object) -> tuple[str, bool]:
    """Python subscript text (``[...]`` suffix or ``.transpose(...)``) for an :class:`Indexing`.

    Uses views (slices, ``None``, transpose) when the positions are contiguous and distinct
    axes; otherwise fancy indexing with broadcast index arrays.  ``const`` registers an array
    constant and returns its name.  The boolean tells whether fancy indexing was needed.
    """
    rank = ix.rank
    basic: list[str] = [":"]
    targets: list[int] = []
    simple = True
    for pick in ix.picks:
        if isinstance(pick, int):
            basic.append(str(pick))
            continue
        axis, pos = pick
        if len(pos) and np.array_equal(pos, np.arange(pos[0], pos[0] + len(pos))):
            start, stop = int(pos[0]), int(pos[0]) + len(pos)
            whole = ix.sizes and start == 0 and stop == ix.sizes[len(basic) - 1]
            basic.append(":" if whole else f"{start}:{stop}")
        else:
            simple = False
        targets.append(axis)
    if simple and len(set(targets)) == len(targets):
        trimmed = list(basic)
        while len(trimmed) > 1 and trimmed[-1] == ":":
            trimmed.pop()  # trailing full slices are no-ops
        text = "[" + ", ".join(trimmed) + "]" if len(trimmed) > 1 else ""
        if targets != sorted(targets):
            order = sorted(range(len(targets)), key=lambda k: targets[k])
            text += ".transpose(" + ", ".join(["0"] + [str(k + 1) for k in order]) + ")"
        present = sorted(targets)
        if len(present) < rank or rank == 0:
            slots = ["None"] * rank
            for axis in present:
                slots[axis] = ":"
            if rank:
                text += "[" + ", ".join([":"] + slots) + "]"
        return text, False
    parts = [":"]
    for pick in ix.picks:
        if isinstance(pick, int):
            parts.append(str(pick))
            continue
        axis, pos = pick
        shape = [1] * rank
        shape[axis] = len(pos)
        parts.append(const(pos.reshape(shape)))  # type: ignore[operator]
    text = "[" + ", ".join(parts) + "]"
    fancy_axes = [p[0] for p in ix.picks if not isinstance(p, int)]
    if not fancy_axes:  # only fixed elements: add the missing axes
        text += "[" + ", ".join([":"] + ["None"] * rank) + "]" if rank else ""
    return text, True


def space_shape(space: list[Axis]) -> tuple[int, ...]:
    return tuple(len(a.elements) for a in space)


def flat_table(ix: Indexing, space: list[Axis]) -> np.ndarray:
    """For each cell of ``space`` (C order), the flat index into the referenced array."""
    shape = space_shape(space)
    cells = int(np.prod(shape)) if shape else 1
    coords = np.unravel_index(np.arange(cells), shape) if shape else ()
    strides = [int(np.prod(ix.sizes[i + 1 :])) for i in range(len(ix.sizes))]
    flat = np.zeros(cells, dtype=np.int64)
    for pick, stride in zip(ix.picks, strides, strict=True):
        if isinstance(pick, int):
            flat += pick * stride
        else:
            axis, positions = pick
            flat += positions[coords[axis]] * stride
    return flat
