"""The data's verdict on structural variants: log evidence per variant, Bayes factors.

A structural variant is the model with some constants set (switches: a mechanism on or off,
a functional form chosen by a constant). Each variant's marginal likelihood on the fit period
comes from :func:`nea_sd.calibrate.nested.nested_sample` with the same spec, priors and data;
differences of log Z are log Bayes factors, with the runs' Monte Carlo errors combined.
:func:`load_variants` reads the variants from a TOML file, so the table can be pointed at the
model's list of structural switches.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.nested import NestedResult, nested_sample
from nea_sd.calibrate.problem import Setup
from nea_sd.errors import DataError, InvalidValueError


@dataclass(frozen=True)
class Variant:
    """A structure: ``constants`` (``"Name"`` or ``"Name[el]"`` → value) set in the model."""

    name: str
    constants: Mapping[str, float] = field(default_factory=dict)
    description: str = ""


def load_variants(path: str | os.PathLike[str]) -> list[Variant]:
    """Variants from TOML: ``[[variant]]`` tables (or ``[variants.<name>]``) with ``name``,
    ``constants = { "Name" = value, ... }`` (alias ``set``) and an optional ``description``."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValueError(f"cannot read variants file {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path.name}: invalid TOML ({exc})") from None
    entries: list[tuple[str, Any]] = []
    for item in doc.get("variant", []):
        entries.append((item.get("name", ""), item))
    for name, item in doc.get("variants", {}).items():
        entries.append((name, item))
    if not entries:
        raise DataError(f"{path.name}: no [[variant]] or [variants.<name>] tables")
    out = []
    for name, item in entries:
        if not isinstance(name, str) or not name:
            raise DataError(f"{path.name}: every variant needs a name")
        constants = item.get("constants", item.get("set", {}))
        if not isinstance(constants, Mapping):
            raise DataError(f"{path.name}: variant {name!r}: constants must be a table")
        try:
            values = {str(k): float(v) for k, v in constants.items()}
        except (TypeError, ValueError):
            raise DataError(f"{path.name}: variant {name!r}: constants must be numbers") from None
        out.append(Variant(name, values, str(item.get("description", ""))))
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise DataError(f"{path.name}: variant names must be unique, got {names}")
    return out


def variant_setup(setup: Setup, variant: Variant) -> Setup:
    """``setup`` with the variant's constants set (same spec, data and priors)."""
    simulator = setup.simulator.with_constants(variant.constants, setup.model.parameters)
    return Setup(setup.spec, setup.model, simulator, setup.problem)


@dataclass(frozen=True, eq=False)
class EvidenceTable:
    """Log evidence per variant; ``delta``: log Z minus the best variant's (a log Bayes factor
    against the best), ``delta_err`` its Monte Carlo error."""

    spec: str
    variants: tuple[Variant, ...]
    results: tuple[NestedResult, ...]

    @property
    def best(self) -> int:
        return max(range(len(self.results)), key=lambda i: self.results[i].log_z)

    def delta(self, i: int) -> tuple[float, float]:
        b = self.results[self.best]
        r = self.results[i]
        if i == self.best:
            return 0.0, 0.0
        return r.log_z - b.log_z, math.hypot(r.log_z_err, b.log_z_err)

    @staticmethod
    def verdict(delta: float, err: float) -> str:
        """Kass & Raftery (1995) on ln B against the best, once the MC error is allowed for."""
        worse = -delta - 2 * err
        if delta == 0:
            return "best"
        if worse <= 1.0:
            return "not distinguishable from the best"
        if worse <= 3.0:
            return "positive evidence against"
        if worse <= 5.0:
            return "strong evidence against"
        return "very strong evidence against"

    def rows(self) -> list[list[object]]:
        out = []
        for i, (v, r) in enumerate(zip(self.variants, self.results, strict=True)):
            d, e = self.delta(i)
            out.append(
                [
                    v.name,
                    r.log_z,
                    r.log_z_err,
                    d,
                    e,
                    self.verdict(d, e),
                    "yes" if r.converged else "no",
                ]
            )
        return out

    HEADER = ("variant", "log Z", "± MC", "Δ log Z", "± MC", "verdict", "converged")

    def __str__(self) -> str:
        return f"[[Evidence]] {self.spec}: log Z per structural variant\n" + text_table(
            self.HEADER, self.rows()
        )

    def _repr_html_(self) -> str:
        return html_table(self.HEADER, self.rows(), f"Evidence per structural variant: {self.spec}")

    def as_dict(self) -> dict[str, Any]:
        """For a results TOML: one table per variant."""
        out = {}
        for i, (v, r) in enumerate(zip(self.variants, self.results, strict=True)):
            d, e = self.delta(i)
            out[v.name] = {
                "constants": dict(v.constants),
                "log_z": r.log_z,
                "log_z_err": r.log_z_err,
                "delta_log_z": d,
                "delta_log_z_err": e,
                "verdict": self.verdict(d, e),
                "converged": r.converged,
                "model_runs": r.ncall,
                "rhat_max": max(r.rhat),
                "ess_bulk_min": min(r.ess_bulk),
                "elapsed_seconds": round(r.elapsed, 2),
                "overhead_fraction": round(r.overhead, 4),
            }
        return out


def evidence_table(
    setup: Setup,
    variants: Sequence[Variant],
    *,
    on_batch: Callable[[int], None] | None = None,
    **nested: Any,
) -> EvidenceTable:
    """Nested-sample every variant (``nested``: options of :func:`nested_sample`, the same
    seeds for each) and tabulate log evidence and Bayes factors against the best."""
    if not variants:
        raise InvalidValueError("evidence_table needs at least one variant")
    results = tuple(
        nested_sample(variant_setup(setup, v), label=v.name, on_batch=on_batch, **nested)
        for v in variants
    )
    return EvidenceTable(setup.spec.path.name, tuple(variants), results)
