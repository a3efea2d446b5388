"""Sequencing strategies as named, validated parameter sets (``models/scenarios.toml``).

A scenario file has one table per model (the model file's stem) with ``common`` overrides,
``strategies`` and ``variants``; every strategy is also offered combined with every variant as
``strategy/variant`` (e.g. ``functional-first/no-detente``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nea_sd.errors import InvalidValueError, ModelFileError, NeaSdError, unknown_name
from nea_sd.model import Model
from nea_sd.model.companions import companion_file, model_table

DEFAULT_FILE = "scenarios.toml"


@dataclass(frozen=True)
class Scenario:
    """A named parameter set: ``overrides`` maps parameter names (with elements) to values."""

    name: str
    description: str
    overrides: dict[str, float] = field(default_factory=dict)
    strategy: str = ""
    variant: str = ""


def default_scenario_file(model: Model) -> Path:
    """``scenarios.toml`` beside the model, else one folder up (``models/xmile/``)."""
    return companion_file(model.path, DEFAULT_FILE)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ModelFileError(f"scenario file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"scenario file {str(path)!r} is not valid TOML: {exc}") from None


def _split(table: dict[str, Any], where: str) -> tuple[str, dict[str, float]]:
    description = str(table.get("description", ""))
    values = {}
    for key, value in table.items():
        if key == "description":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValueError(f"{where}: value of {key!r} must be a number, got {value!r}")
        values[key] = float(value)
    return description, values


def load_scenarios(model: Model, path: str | Path | None = None) -> dict[str, Scenario]:
    """All scenarios of ``model`` in file order, each validated against the model."""
    file = Path(path) if path is not None else default_scenario_file(model)
    document = _read_toml(file)
    section = model_table(document, model.name, file)
    if section is None:
        raise NeaSdError(
            f"scenario file {str(file)!r} has no table [{model.name}]; "
            f"it defines scenarios for: {', '.join(sorted(document)) or 'no model'}"
        )
    _, common = _split(section.get("common", {}), f"[{model.name}.common]")
    variants = {
        name: _split(table, f"[{model.name}.variants.{name}]")
        for name, table in section.get("variants", {}).items()
    }
    scenarios: dict[str, Scenario] = {}
    for name, table in section.get("strategies", {}).items():
        description, values = _split(table, f"[{model.name}.strategies.{name}]")
        scenarios[name] = Scenario(name, description, {**common, **values}, strategy=name)
        for variant, (variant_doc, variant_values) in variants.items():
            full = f"{name}/{variant}"
            scenarios[full] = Scenario(
                full,
                f"{description} ({variant_doc})" if variant_doc else description,
                {**common, **values, **variant_values},
                strategy=name,
                variant=variant,
            )
    if not scenarios:
        raise NeaSdError(f"scenario file {str(file)!r} defines no strategies for {model.name!r}")
    for scenario in scenarios.values():
        try:
            model.parameters.resolve(scenario.overrides)
        except NeaSdError as exc:
            raise type(exc)(f"scenario {scenario.name!r} in {file.name}: {exc}") from None
    return scenarios


def select(scenarios: dict[str, Scenario], names: list[str] | None) -> list[Scenario]:
    """The named scenarios in the given order (all when ``names`` is None)."""
    if not names:
        return list(scenarios.values())
    chosen = []
    for name in names:
        if name not in scenarios:
            raise unknown_name("scenario", name, scenarios)
        chosen.append(scenarios[name])
    return chosen
