"""The data's verdict on structural variants: log evidence per variant, Bayes factors.

A structural variant is the model with some constants set (switches: a mechanism on or off,
a functional form chosen by a constant). Each variant's marginal likelihood on the fit period
comes from :func:`nea_sd.calibrate.nested.nested_sample` with the same spec, priors and data;
differences of log Z are log Bayes factors, with the runs' Monte Carlo errors combined.
:func:`load_variants` reads the variants from a TOML file, so the table can be pointed at the
model's list of structural switches.

Long tables checkpoint: with ``checkpoint=`` a folder, each variant's nested result is written
there (atomically) as soon as it is done, under a key that hashes everything the result
depends on (spec, model file, data, error model, the variant's constants, the sampler's
settings); a rerun with the same key reads it back instead of sampling again, and any change
gives a new key, so a stale result is never reused.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import tomllib
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.nested import PACKAGES, NestedResult, nested_sample
from nea_sd.calibrate.problem import Setup
from nea_sd.errors import DataError, InvalidValueError
from nea_sd.outputs import atomic_write

CHECKPOINT_FORMAT = 2  # bump when NestedResult or the key changes meaning


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
    reused: tuple[bool, ...] = ()  # per variant: read from a checkpoint, not sampled now

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
                "runs": len(r.run_log_z),
                "run_log_z": list(r.run_log_z),
                "live_points": r.live_points,
                "seed": r.seed,
                "from_checkpoint": bool(self.reused[i]) if self.reused else False,
            }
        return out


_NESTED_SIGNATURE = inspect.signature(nested_sample)  # the sampler's options and defaults


def _sampler_options(nested: Mapping[str, Any]) -> dict[str, Any]:
    """``nested`` completed with :func:`nested_sample`'s defaults (what a result depends on)."""
    bound = _NESTED_SIGNATURE.bind(None, **nested)
    bound.apply_defaults()
    out = dict(bound.arguments)
    for name in ("setup", "label", "on_batch"):
        out.pop(name, None)
    if out.get("sampler") == "ultranest":  # the default: keys made before the choice stay valid
        del out["sampler"]
    if out.get("layers") is None:  # nautilus's own networks: keys made before the option
        out.pop("layers", None)
    if out.get("tempering_ess") is None:  # SMC's own steps: keys made before the option
        out.pop("tempering_ess", None)
    return out


def variant_key(setup: Setup, variant: Variant, nested: Mapping[str, Any]) -> str:
    """SHA-256 over everything a variant's nested result depends on: the spec file, the model
    file (the derived one for a partial model), the free parameters with their priors, every
    observation (series values and years, link, error model with its fitted scale and AR(1)),
    the periods, the time step and engine backend, constants held fixed, the variant's
    constants, the sampler's settings and version."""
    from importlib.metadata import PackageNotFoundError, version

    from nea_sd.model import file_sha256

    spec = setup.spec
    digest = hashlib.sha256()
    options = _sampler_options(nested)
    package = PACKAGES[options.get("sampler", "ultranest")]
    try:
        sampler_version = version(package)
    except PackageNotFoundError:  # pragma: no cover - nested_sample needs it anyway
        sampler_version = ""
    head = {
        "format": CHECKPOINT_FORMAT,
        "spec": file_sha256(spec.path) if Path(spec.path).is_file() else str(spec.path),
        "model": str(getattr(setup.model, "sha256", "")),
        "parameters": [repr(p) for p in spec.free],
        "periods": [list(spec.fit_period), list(spec.holdout_period or ())],
        "time_step": repr(getattr(setup.simulator, "time_step", None)),
        "backend": str(getattr(setup.simulator, "backend", "numpy")),
        "constants": sorted((k, repr(float(v))) for k, v in variant.constants.items()),
        "options": sorted((k, repr(v)) for k, v in options.items()),
        "ultranest": sampler_version,  # the sampler's version (key name kept: keys stay valid)
    }
    digest.update(json.dumps(head, sort_keys=True).encode())
    for o in spec.observations:
        fields = [o.name, o.variable, repr(o.link), repr(o.error), repr(o.weight)]
        fields += [repr(o.average), repr(o.fit_period), repr(o.holdout_period), o.series.name]
        fields += [repr(float(o.scale)), repr(float(o.ar1))]
        digest.update(json.dumps(fields).encode())
        digest.update(np.ascontiguousarray(o.series.years, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(o.series.values, dtype=np.float64).tobytes())
    fixed = getattr(setup.simulator, "fixed", {})
    for name in sorted(fixed):  # constants the setup already holds fixed
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(fixed[name], dtype=np.float64).tobytes())
    return digest.hexdigest()


def checkpoint_path(folder: str | os.PathLike[str], setup: Setup, variant: Variant, key: str):
    """``<folder>/<spec stem>.<variant>.<key[:20]>.npz``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", variant.name)
    return Path(folder) / f"{Path(setup.spec.path).stem}.{name}.{key[:20]}.npz"


_SCALARS = ("spec", "log_z", "log_z_err", "ncall", "batches", "elapsed")
_SCALARS += ("simulation_seconds", "live_points", "seed", "label")
_TUPLES = ("names", "run_log_z", "run_log_z_err", "rhat", "ess_bulk", "ess_tail")


def save_checkpoint(path: str | os.PathLike[str], key: str, result: NestedResult) -> Path:
    """Write ``result`` with its key (atomically: never half-written)."""
    meta = {name: getattr(result, name) for name in _SCALARS}
    meta |= {name: list(getattr(result, name)) for name in _TUPLES}
    meta |= {"max_ncalls": result.max_ncalls, "capped_runs": result.capped_runs}
    meta["run_max_log_l"] = list(result.run_max_log_l)
    meta["sampler"] = result.sampler
    meta["integrated"] = list(result.integrated)
    meta["tempering_ess"] = result.tempering_ess
    meta["key"] = key
    meta["format"] = CHECKPOINT_FORMAT

    def write(tmp: str) -> None:
        with open(tmp, "wb") as stream:
            np.savez(stream, chains=np.asarray(result.chains), meta=np.array(json.dumps(meta)))

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, write, what="evidence checkpoint")


def load_checkpoint(path: str | os.PathLike[str], key: str) -> NestedResult | None:
    """The result saved at ``path`` if it is there, readable and saved under ``key``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            chains = np.array(data["chains"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing, half-copied or not ours: sample again
    if meta.get("key") != key or meta.get("format") != CHECKPOINT_FORMAT:
        return None
    try:
        kwargs = {name: meta[name] for name in _SCALARS}
        kwargs |= {name: tuple(meta[name]) for name in _TUPLES}
    except (KeyError, TypeError):
        return None
    kwargs["max_ncalls"] = meta.get("max_ncalls")  # absent in checkpoints without a cap
    kwargs["capped_runs"] = int(meta.get("capped_runs", 0))
    kwargs["run_max_log_l"] = tuple(meta.get("run_max_log_l", ()))
    kwargs["sampler"] = str(meta.get("sampler", "ultranest"))
    kwargs["integrated"] = tuple(meta.get("integrated", ()))
    kwargs["tempering_ess"] = meta.get("tempering_ess")  # absent before the option
    return NestedResult(chains=chains, **kwargs)


def evidence_table(
    setup: Setup,
    variants: Sequence[Variant],
    *,
    on_batch: Callable[[int], None] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    on_variant: Callable[[Variant, NestedResult, bool], None] | None = None,
    **nested: Any,
) -> EvidenceTable:
    """Nested-sample every variant (``nested``: options of :func:`nested_sample`, the same
    seeds for each) and tabulate log evidence and Bayes factors against the best.

    ``checkpoint``: a folder where each variant's result is saved as soon as it is done and
    read back by a rerun with the same inputs (see :func:`variant_key`). ``on_variant(variant,
    result, reused)`` is called after each variant (progress)."""
    if not variants:
        raise InvalidValueError("evidence_table needs at least one variant")
    results = []
    reused = []
    for v in variants:
        path = key = None
        result = None
        if checkpoint is not None:
            key = variant_key(setup, v, nested)
            path = checkpoint_path(checkpoint, setup, v, key)
            result = load_checkpoint(path, key)
        reused.append(result is not None)
        if result is None:
            result = nested_sample(
                variant_setup(setup, v), label=v.name, on_batch=on_batch, **nested
            )
            if path is not None:
                save_checkpoint(path, key, result)
        if on_variant is not None:
            on_variant(v, result, reused[-1])
        results.append(result)
    return EvidenceTable(setup.spec.path.name, tuple(variants), tuple(results), tuple(reused))
