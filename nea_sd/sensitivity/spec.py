"""Sweep spec (TOML): which parameters vary, over what, grouped how, and which outputs to read.

Example::

    [sweep]
    year = 2040                      # default year of level outputs
    paired = ["functional-first", "military-first"]   # or: scenario = "functional-first"
    calc_second_order = true         # sobol: also S2 (costs N*(2D+2) runs instead of N*(D+2))
    chunk_size = 512                 # runs per evaluated (and checkpointed) chunk
    conf_level = 0.95
    num_resamples = 100
    backend = "numpy"                # batch engine backend: "numpy" or "numba" (compiled)
    loop_saveper = 1.0               # loop_dominance outputs: years between scored steps
                                     # (default the model's SAVEPER; coarser is cheaper)

    [parameters]
    "Spillover" = {}                                   # range from the model's units field
    "Backfire strength" = { range = [0, 1] }           # narrower range
    "Base rival weight[US,CN]" = { dist = "norm", mean = 0.8, sd = 0.05 }
    "Trust building rate" = { dist = "triang", peak = 0.3, group = "trust" }
    "Alliance strength" = { scale = [0.8, 1.2] }       # whole array times one factor

    [outputs.trust_2040]
    kind = "level"
    variable = "security_trust"      # a headline outcome or any model variable
    year = 2040

Parsing checks only the file's shape; names, ranges and outputs are checked against the model
by :func:`nea_sd.sensitivity.problem.build_problem`, so one spec serves several models.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nea_sd.errors import InvalidValueError, ModelFileError, UnknownNameError, unknown_name

SWEEP_KEYS = (
    "year",
    "scenario",
    "paired",
    "calc_second_order",
    "chunk_size",
    "conf_level",
    "num_resamples",
    "num_levels",
    "M",
    "backend",
    "loop_saveper",
)
FACTOR_KEYS = ("range", "dist", "mean", "sd", "peak", "scale", "group")


@dataclass(frozen=True)
class FactorSpec:
    """One ``[parameters]`` entry as written: the key and its (unchecked) settings."""

    key: str
    settings: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.settings).get(name, default)


@dataclass(frozen=True)
class OutputEntry:
    """One ``[outputs.NAME]`` table as written: the output's name and its settings."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(self.settings)


@dataclass(frozen=True)
class SweepSpec:
    """A parsed spec.

    ``factors`` in file order; ``outputs`` empty means the model's default outputs;
    ``sweep`` holds the ``[sweep]`` settings; ``sha256`` hashes the canonical content (not the
    bytes, so comments and layout do not change it) and identifies the sweep in provenance.
    """

    factors: tuple[FactorSpec, ...] = ()
    outputs: tuple[OutputEntry, ...] = ()
    sweep: tuple[tuple[str, Any], ...] = ()
    source: str = ""
    sha256: str = field(default="")

    def setting(self, name: str, default: Any = None) -> Any:
        return dict(self.sweep).get(name, default)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{f.key}</td><td>{dict(f.settings) or 'model range'}</td></tr>"
            for f in self.factors
        )
        return f"<table><tr><th>parameter</th><th>settings</th></tr>{rows}</table>"


def unknown_in(where: str, kind: str, name: str, choices: Any) -> UnknownNameError:
    """:func:`unknown_name` prefixed with where the name was found."""
    return UnknownNameError(f"{where}: {unknown_name(kind, name, choices)}")


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def spec_from_dict(document: Mapping[str, Any], source: str = "<dict>") -> SweepSpec:
    """Build a :class:`SweepSpec` from parsed TOML (or an equivalent dict)."""
    where = source
    for section in document:
        if section not in ("sweep", "parameters", "outputs"):
            raise unknown_in(
                f"sweep spec {where}", "section", section, ["sweep", "parameters", "outputs"]
            )
    sweep = dict(document.get("sweep", {}))
    for key in sweep:
        if key not in SWEEP_KEYS:
            raise unknown_in(f"{where} [sweep]", "setting", key, SWEEP_KEYS)
    factors = []
    for key, settings in dict(document.get("parameters", {})).items():
        if not isinstance(settings, Mapping):
            raise InvalidValueError(
                f"{where}: parameter {key!r} takes a table of settings "
                f"(e.g. {{ range = [0, 1] }}), got {settings!r}"
            )
        for name in settings:
            if name not in FACTOR_KEYS:
                raise unknown_in(f"{where} parameter {key!r}", "setting", name, FACTOR_KEYS)
        factors.append(FactorSpec(key, tuple((k, _freeze(v)) for k, v in settings.items())))
    outputs = []
    for name, settings in dict(document.get("outputs", {})).items():
        if not isinstance(settings, Mapping):
            raise InvalidValueError(
                f"{where}: output {name!r} takes a table (kind = ..., variable = ...), "
                f"got {settings!r}"
            )
        outputs.append(OutputEntry(name, tuple((k, _freeze(v)) for k, v in settings.items())))
    canonical_text = json.dumps(
        {
            "sweep": sweep,
            "parameters": dict(document.get("parameters", {})),
            "outputs": dict(document.get("outputs", {})),
        },
        sort_keys=True,
        default=str,
    )
    return SweepSpec(
        factors=tuple(factors),
        outputs=tuple(outputs),
        sweep=tuple((k, _freeze(v)) for k, v in sweep.items()),
        source=source,
        sha256=hashlib.sha256(canonical_text.encode()).hexdigest(),
    )


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read a sweep spec file (TOML)."""
    file = Path(path)
    try:
        with open(file, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ModelFileError(f"sweep spec {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"sweep spec {str(path)!r} is not valid TOML: {exc}") from None
    return spec_from_dict(document, source=file.name)
