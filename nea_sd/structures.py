"""Structural switches of a model (``models/structures.toml``): named alternative structures.

Each switch names documented constants of the model and its settings as parameter overrides;
``default`` is the setting the model ships with. :func:`load_structures` validates every
setting against the model (names, ranges) and checks that the default is what the model holds.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nea_sd.errors import InvalidValueError, ModelFileError
from nea_sd.model import Model
from nea_sd.model.companions import companion_file, model_table

DEFAULT_FILE = "structures.toml"


@dataclass(frozen=True)
class Setting:
    """One alternative structure: its meaning and the parameter overrides that select it."""

    name: str
    meaning: str
    overrides: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Structure:
    """A structural switch: letter, title, default setting with its argument, all settings."""

    name: str
    switch: str
    title: str
    default: str
    argument: str
    settings: dict[str, Setting]

    def alternatives(self) -> list[Setting]:
        """Every setting but the default, in file order."""
        return [s for n, s in self.settings.items() if n != self.default]


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ModelFileError(f"structures file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"structures file {str(path)!r} is not valid TOML: {exc}") from None


def _setting(name: str, table: dict, where: str) -> Setting:
    overrides = {}
    for key, value in table.items():
        if key == "meaning":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValueError(f"{where}: value of {key!r} must be a number, got {value!r}")
        overrides[key] = float(value)
    return Setting(name, str(table.get("meaning", "")), overrides)


def load_structures(model: Model, path: str | Path | None = None) -> dict[str, Structure]:
    """The structural switches of ``model``, validated; empty when the model has none."""
    file = Path(path) if path is not None else companion_file(model.path, DEFAULT_FILE)
    section = model_table(_read(file), model.name, file) or {}
    structures = {}
    for name, table in section.items():
        where = f"[{model.name}.{name}] in {file.name}"
        tables = table.get("settings", {})
        settings = {s: _setting(s, t, f"{where} setting {s!r}") for s, t in tables.items()}
        default = str(table.get("default", ""))
        if default not in settings:
            raise InvalidValueError(
                f"{where}: default {default!r} is not one of its settings "
                f"({', '.join(settings) or 'none'}); name one of them"
            )
        for setting in settings.values():
            model.parameters.resolve(setting.overrides)
        chosen = settings[default].overrides
        off = {k: v for k, v in chosen.items() if not np.isclose(model.parameters.value_of(k), v)}
        if off:
            raise InvalidValueError(
                f"{where}: the default {default!r} sets {off}, but the model holds other values; "
                "make the default the model's setting"
            )
        structures[name] = Structure(
            name=name,
            switch=str(table.get("switch", "")),
            title=str(table.get("title", "")),
            default=default,
            argument=str(table.get("argument", "")),
            settings=settings,
        )
    return structures


def variants(structures: dict[str, Structure]) -> Iterator[tuple[str, dict[str, float]]]:
    """The shipped structure, each switch flipped to each alternative, and all flipped together
    (the first alternative of every switch), as (label, overrides)."""
    yield "shipped", {}
    for structure in structures.values():
        for setting in structure.alternatives():
            yield f"{structure.name}={setting.name}", dict(setting.overrides)
    firsts = [s.alternatives()[0] for s in structures.values() if s.alternatives()]
    if len(firsts) > 1:
        combined = dict(itertools.chain.from_iterable(s.overrides.items() for s in firsts))
        yield "all-switched", combined
