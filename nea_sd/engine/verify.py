"""Self-verification: the batch engine's results on a model checked against PySD's, once.

The first batch run of any model content (its SHA-256) runs the model in both engines over the
full horizon, at the defaults and at a few random within-range parameter sets, and compares
every saved variable, element by element (rtol 1e-9).  The verdict is cached by hash (with
the versions of nea_sd and PySD), so later runs cost nothing.  A model on which they differ is
refused with the variables, elements and first times that differ; ``--allow-unverified``
(:func:`allow_unverified`) runs it anyway, marked unverified in the provenance.

The bundled models are verified by the project's test suite (full horizon, active strategies,
every variable); ``models/verified.toml`` lists the content hashes that suite checks, so the
README's commands do not pay PySD's minutes on a fresh machine.  Any other content -- an edited
bundled model included -- is verified here.  ``NEA_SD_VERIFY=off`` skips verification (the
provenance says so).
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nea_sd.errors import InvalidValueError, NeaSdError

if TYPE_CHECKING:
    from nea_sd.engine.batch.runtime import BatchModel
    from nea_sd.model import Model

MODES = ("auto", "off")
RTOL = 1e-9
RANDOM_SETS = 2
SEED = 20260101
MANIFEST = Path(__file__).resolve().parents[2] / "models" / "verified.toml"
_SETTLED: dict[str, str] = {}  # sha256 -> provenance text, for this process
_RUNNING: set[str] = set()
_ALLOW = {"unverified": False}


class VerificationError(NeaSdError):
    """The batch engine's results differ from PySD's on this model (or PySD cannot run it)."""


@dataclass
class Verdict:
    """The outcome of checking one model content against PySD."""

    sha256: str
    model: str
    verified: bool
    sets: int
    seconds: float
    differences: list[str] = field(default_factory=list)
    problem: str = ""  # PySD or the batch engine could not run the model
    versions: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        if self.verified:
            return (
                f"verified against PySD ({self.sets} parameter sets, full horizon, every "
                f"variable, rtol {RTOL:g})"
            )
        if self.problem:
            return f"not verifiable: {self.problem}"
        return "differs from PySD: " + "; ".join(self.differences[:5])


def mode() -> str:
    """``NEA_SD_VERIFY``: ``auto`` (the default) or ``off``."""
    chosen = os.environ.get("NEA_SD_VERIFY", "auto").strip().lower() or "auto"
    if chosen not in MODES:
        raise InvalidValueError(
            f"NEA_SD_VERIFY={chosen!r} is not one of {', '.join(MODES)}; unset it or use 'off'"
        )
    return chosen


def allow_unverified(allow: bool = True) -> None:
    """Run models whose verification fails anyway (results marked unverified)."""
    _ALLOW["unverified"] = allow


def _versions() -> dict[str, str]:
    from nea_sd import __version__

    return {"nea_sd": __version__, "pysd": version("pysd")}


def _verdict_entry(sha256: str) -> str:
    tag = "-".join(f"{k}{v}" for k, v in sorted(_versions().items()))
    return f"verdicts/{sha256[:24]}-{tag}.json"


def cached_verdict(sha256: str) -> Verdict | None:
    """The verdict stored for this content under the current versions, if any."""
    from nea_sd.model.cache import read_entry

    stored = read_entry(_verdict_entry(sha256))
    if stored is None:
        return None
    try:
        return Verdict(**json.loads(stored))
    except (TypeError, ValueError):
        return None


def suite_verified(sha256: str) -> str | None:
    """The bundled model whose content the project's test suite verifies, if this is one."""
    try:
        with open(MANIFEST, "rb") as handle:
            listed = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for name, entry in listed.items():
        if isinstance(entry, dict) and entry.get("sha256") == sha256:
            return name
    return None


def verify(model: Model, *, random_sets: int = RANDOM_SETS, store: bool = True) -> Verdict:
    """Run ``model`` in the batch engine and in PySD; compare every variable over the horizon.

    Parameter sets: the defaults and ``random_sets`` uniform draws within the declared ranges
    (constants that fix a SMOOTH N/DELAY N order keep their value).
    """
    from nea_sd.engine.batch import batch_model
    from nea_sd.engine.batch.sampling import run_slice, sample_within_ranges
    from nea_sd.engine.reference import reference_run
    from nea_sd.model.cache import write_entry

    start = time.perf_counter()
    batch = batch_model(model)
    _RUNNING.add(model.sha256)
    try:
        fixed = set(batch.fixed_parameters)
        drawn = sample_within_ranges(model.parameters, random_sets, seed=SEED)
        drawn = {k: v for k, v in drawn.items() if k not in fixed}
        sets = [{}] + [run_slice(drawn, i) for i in range(random_sets)] if drawn else [{}]
        names = batch.variable_names
        differences: list[str] = []
        problem = ""
        for number, overrides in enumerate(sets):
            label = "defaults" if number == 0 else f"random set {number}"
            try:
                ours = batch.simulate(
                    model.parameters.resolve(overrides, allow_out_of_range=True),
                    names,
                    nonfinite="nan",
                )
                reference = reference_run(model, overrides, names)
            except NeaSdError:
                raise
            except Exception as exc:  # PySD failing on a model is a verdict, not a crash
                problem = f"{label}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                break
            for name in names:
                found = first_difference(ours[name].isel(run=0), reference[name])
                if found:
                    differences.append(f"{name}{found} ({label})")
    finally:
        _RUNNING.discard(model.sha256)
    verdict = Verdict(
        sha256=model.sha256,
        model=model.path.name,
        verified=not differences and not problem,
        sets=len(sets),
        seconds=round(time.perf_counter() - start, 2),
        differences=differences,
        problem=problem,
        versions=_versions(),
    )
    if store:
        write_entry(_verdict_entry(model.sha256), json.dumps(asdict(verdict)).encode())
    return verdict


def first_difference(ours: Any, reference: Any) -> str:
    """``"[elements] from t=T (batch a, PySD b)"`` for the first cell that differs, else ``""``.

    Relative tolerance :data:`RTOL`, with a floor of 1e-12 of the variable's scale near zero;
    NaN in both engines (a diverged run) counts as equal.
    """
    a = np.asarray(ours.transpose(*reference.dims).values, dtype=float)
    b = np.asarray(reference.values, dtype=float)
    if a.shape != b.shape:
        return f" has shape {a.shape} in the batch engine, {b.shape} in PySD"
    finite = np.isfinite(b)
    scale = float(np.max(np.abs(b[finite]))) if finite.any() else 1.0
    with np.errstate(invalid="ignore"):
        close = np.isclose(a, b, rtol=RTOL, atol=1e-12 * scale, equal_nan=True)
    if close.all():
        return ""
    cell = np.argwhere(~close)
    t, *rest = cell[np.argmin(cell[:, 0])]
    where = ""
    if rest:
        labels = [
            str(reference[d].values[i]) for d, i in zip(reference.dims[1:], rest, strict=True)
        ]
        where = "[" + ", ".join(labels) + "]"
    when = float(reference["time"].values[t])
    return f"{where} from t={when:g} (batch {a[(t, *rest)]:.10g}, PySD {b[(t, *rest)]:.10g})"


def ensure_verified(batch: BatchModel, model: Model | None = None) -> str:
    """Provenance text for a batch run of this content, verifying it first if needed.

    Raises :class:`VerificationError` when the engines differ, unless unverified runs are
    allowed (then the text says the run is unverified).
    """
    if mode() == "off":
        return "not verified (NEA_SD_VERIFY=off)"
    sha = batch.sha256
    if sha in _SETTLED:
        return _SETTLED[sha]
    if sha in _RUNNING:
        return "being verified"
    bundled = suite_verified(sha)
    if bundled is not None:
        text = f"verified by the project's test suite ({bundled}, models/verified.toml)"
        _SETTLED[sha] = text
        return text
    verdict = cached_verdict(sha)
    if verdict is None:
        from nea_sd.model import load_model

        loaded = model if model is not None and model.sha256 == sha else load_model(batch.path)
        if loaded.sha256 != sha:
            from nea_sd.errors import ModelFileError

            raise ModelFileError(
                f"model file {str(batch.path)!r} changed since it was compiled; load it again"
            )
        print(
            f"note: first batch run of {batch.path.name} (sha256 {sha[:12]}): checking the batch "
            "engine against PySD over the full horizon (once per model content; "
            "NEA_SD_VERIFY=off skips)",
            file=sys.stderr,
        )
        verdict = verify(loaded)
    text = verdict.summary()
    if not verdict.verified:
        if not _ALLOW["unverified"]:
            raise VerificationError(
                f"the batch engine {text} on {batch.path.name}; run it with --engine pysd, "
                "or pass --allow-unverified to run it anyway (marked unverified)"
            )
        text = "UNVERIFIED (--allow-unverified): " + text
    _SETTLED[sha] = text
    return text
