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
PARALLEL_AFTER_S = 5.0  # a slower PySD run sends the other sets to worker processes
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
    (constants that fix a SMOOTH N/DELAY N order keep their value).  PySD runs the defaults
    here; when that took longer than :data:`PARALLEL_AFTER_S`, the other sets run in worker
    processes side by side (PySD is single-threaded: on the regional model a run is tens of
    seconds), so the check costs about two PySD runs of wall time instead of three.
    """
    from nea_sd.engine.batch import batch_model
    from nea_sd.engine.batch.sampling import run_slice, sample_within_ranges
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
        labels = ["defaults"] + [f"random set {n}" for n in range(1, len(sets))]
        differences: list[str] = []
        problem = ""
        try:
            ours = [_batch_run(batch, model.parameters, sets, n) for n in range(len(sets))]
            references = _references(model, sets, names)
        except _SetFailed as failed:  # an engine failing on a model is a verdict, not a crash
            exc = failed.__cause__
            problem = (
                f"{labels[failed.index]}: {type(exc).__name__}: "
                f"{(str(exc).splitlines() or [''])[0][:200]}"
            )
        else:
            for label, mine, reference in zip(labels, ours, references, strict=True):
                for name in names:
                    found = first_difference(mine[name].isel(run=0), reference[name])
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


def _batch_run(batch: BatchModel, parameters: Any, sets: list[dict[str, Any]], index: int) -> Any:
    """The batch engine's every variable for set ``index`` (a diverged run kept as NaN)."""
    try:
        return batch.simulate(
            parameters.resolve(sets[index], allow_out_of_range=True),
            batch.variable_names,
            nonfinite="nan",
        )
    except NeaSdError:
        raise
    except Exception as exc:
        raise _SetFailed(index) from exc


class _SetFailed(Exception):
    """An engine (or loading PySD's model) failed on parameter set ``index``; the cause is
    chained."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def _references(model: Model, sets: list[dict[str, Any]], names: list[str]) -> list[Any]:
    """PySD's trajectories for each set: the first here, the rest side by side in worker
    processes when the first was slow; a set a worker did not deliver is run here (so a
    PySD failure is reported as it would be without workers)."""
    began = time.perf_counter()
    found: list[Any] = [_reference(model, sets, names, 0)] + [None] * (len(sets) - 1)
    workers = min(len(sets) - 1, os.cpu_count() or 1)
    if workers >= 2 and time.perf_counter() - began >= PARALLEL_AFTER_S:
        found[1:] = _in_workers(model, sets[1:], names, workers)
    return [
        ready if ready is not None else _reference(model, sets, names, index)
        for index, ready in enumerate(found)
    ]


def _reference(model: Model, sets: list[dict[str, Any]], names: list[str], index: int) -> Any:
    from nea_sd.engine.reference import reference_run

    try:
        return reference_run(model, sets[index], names)
    except NeaSdError:
        raise
    except Exception as exc:
        raise _SetFailed(index) from exc


def _in_workers(
    model: Model, sets: list[dict[str, Any]], names: list[str], workers: int
) -> list[Any]:
    """Each set's PySD run in its own ``python -m nea_sd.engine.pysd_worker`` (a fresh
    interpreter: the caller's script is never re-imported, as multiprocessing's spawn would);
    None where a worker failed."""
    import concurrent.futures as cf
    import pickle
    import subprocess
    import tempfile

    def run(index: int, folder: str) -> Any:
        job = Path(folder) / f"set{index}.in"
        out = Path(folder) / f"set{index}.out"
        try:
            job.write_bytes(pickle.dumps((str(model.path), model.sha256, sets[index], names)))
            done = subprocess.run(
                [sys.executable, "-m", "nea_sd.engine.pysd_worker", str(job), str(out)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            return pickle.loads(out.read_bytes()) if done.returncode == 0 else None
        except Exception:  # no interpreter, no space, a broken result: the caller runs it
            return None

    try:
        with (
            tempfile.TemporaryDirectory(prefix="nea_sd-verify-") as folder,
            cf.ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            return list(pool.map(lambda i: run(i, folder), range(len(sets))))
    except OSError:  # no temporary folder: every set runs in the caller
        return [None] * len(sets)


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
