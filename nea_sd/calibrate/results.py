"""Calibration results on disk: ``calibration/results/<spec>.toml`` (+ posterior draws CSV).

The TOML holds estimates, intervals (Wald, profile, posterior), fit statistics per series and
period, every start's optimum, and provenance (data file hashes, model SHA-256, seed,
package versions), so a result can be checked against the files it came from.
:func:`load_calibrated` hands the calibrated model parameters to other commands as defaults.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nea_sd.calibrate._toml import dumps
from nea_sd.calibrate.bayes import Posterior
from nea_sd.calibrate.fit import FitResult, StartResult, beats
from nea_sd.calibrate.profile import Profiles
from nea_sd.calibrate.spec import CalibrationSpec
from nea_sd.errors import DataError, InvalidValueError, OutputPathError, UnknownNameError
from nea_sd.outputs import atomic_write_text, write_frame
from nea_sd.provenance import numerics, package_versions

RESULTS_DIR = Path("calibration") / "results"


NOT_ASSESSED = "not assessed"  # label of every parameter of a result without profiles


def default_output(spec_path: str | os.PathLike[str]) -> Path:
    """``calibration/results/<spec stem>.toml`` beside the spec's folder."""
    spec_path = Path(spec_path).resolve()
    return spec_path.parent / "results" / f"{spec_path.stem}.toml"


def new_output(path: str | os.PathLike[str]) -> Path:
    """``path`` if it is free, else the first free ``<stem>-N.toml`` (N = 2, 3, ...) beside it:
    a committed result is never overwritten by a new run."""
    path = Path(path)
    if not path.exists():
        return path
    n = 2
    while (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists():
        n += 1
    return candidate


def output_path(
    spec_path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    replace: bool = False,
) -> Path:
    """Where ``nea-sd calibrate`` writes, decided before the fit starts.

    Default: ``calibration/results/<stem>.toml``, or ``<stem>-N.toml`` when that exists. An
    explicit ``output`` that exists is refused unless ``replace`` (which keeps a ``.bak``).
    """
    if output is None:
        target = default_output(spec_path)
        return target if replace else new_output(target)
    target = Path(output)
    if target.suffix.lower() != ".toml":
        raise OutputPathError(f"results file {str(output)!r} must end in .toml")
    if target.is_dir():
        raise OutputPathError(f"results path {str(output)!r} is a directory; give a .toml file")
    if target.exists() and not replace:
        raise OutputPathError(
            f"results file {str(output)!r} exists; pass --replace to overwrite it (a .bak copy "
            f"is kept) or choose another --output (e.g. {new_output(target).name})"
        )
    return target


def _stats(st: Any) -> dict[str, Any] | None:
    return (
        None if st is None else {k: float(v) if k != "n" else int(v) for k, v in asdict(st).items()}
    )


def contending_optima(result: FitResult, threshold: float | None = None) -> list[StartResult]:
    """One start per distinct optimum whose Δ(−2 log L) to the best is below the profile
    threshold (when none is given, the one its profiles use: F(1, ν) under an estimated error
    model, else χ²₁ 3.84): competing explanations of the data."""
    from nea_sd.calibrate.noise import result_threshold

    limit = result_threshold(result) if threshold is None else threshold
    reps = [result.starts[g[0]] for g in result.optima()]
    best = min((s.neg_log_likelihood for s in reps), default=0.0)
    return [s for s in reps if 2 * (s.neg_log_likelihood - best) <= limit]


def optima_within(result: FitResult, threshold: float | None = None) -> int:
    """How many :func:`contending_optima` there are."""
    return len(contending_optima(result, threshold))


def result_document(
    spec: CalibrationSpec,
    result: FitResult,
    profiles: Profiles | None = None,
    posterior: Posterior | None = None,
    *,
    draws_file: str | None = None,
    command: str = "",
    refits: int = 0,
    nested: Any = None,
    evidence: Any = None,
    basins: Any = None,
) -> dict[str, Any]:
    """The nested mapping written to the results TOML (``refits``: local refits started from
    a profile point that beat the optimum; ``basins``: :class:`~nea_sd.calibrate.basins.Basins`
    of the optima within the threshold)."""
    model_names = {p.name for p in spec.parameters}
    params: dict[str, Any] = {}
    for j, name in enumerate(result.names):
        entry: dict[str, Any] = {
            "kind": "model" if name in model_names else "link",
            "estimate": result.estimates[j],
            "stderr": result.stderr[j],
            "stderr_scaled": result.stderr_scaled[j],
            "bounds": list(result.bounds[j]),
            "at_bound": result.at_bound[j],
        }
        if profiles is not None and name in [p.name for p in profiles.profiles]:
            pr = profiles[name]
            entry |= {
                "profile_lower": pr.lower,
                "profile_upper": pr.upper,
                "identifiability": pr.status,
            }
        else:  # no profile, no verdict: never "identified" by default
            entry["identifiability"] = NOT_ASSESSED
        if posterior is not None:
            q = np.quantile(posterior.samples[:, j], [0.025, 0.5, 0.975])
            entry |= {
                "posterior_mean": float(posterior.samples[:, j].mean()),
                "posterior_q025": float(q[0]),
                "posterior_median": float(q[1]),
                "posterior_q975": float(q[2]),
                "tau": posterior.tau[j],
                "ess": posterior.ess[j],
            }
        if nested is not None:
            s = nested.samples[:, j]
            q = np.quantile(s, [0.025, 0.5, 0.975])
            entry |= {
                "nested_mean": float(s.mean()),
                "nested_q025": float(q[0]),
                "nested_median": float(q[1]),
                "nested_q975": float(q[2]),
                "rhat": nested.rhat[j],
                "ess_bulk": nested.ess_bulk[j],
                "ess_tail": nested.ess_tail[j],
            }
        params[name] = entry
    doc: dict[str, Any] = {
        "calibration": {
            "spec": result.spec,
            "model": result.model,
            "model_sha256": result.model_sha256,
            "method": result.method,
            "links": result.links,
            "seed": result.seed,
            "starts": len(result.starts),
            "distinct_optima": len(result.optima()),
            "unconverged_starts": result.unconverged,
            "distinct_optima_within_threshold": optima_within(
                result, profiles.threshold if profiles is not None else None
            ),
            "log_likelihood": result.log_likelihood,
            "holdout_log_likelihood": result.holdout_log_likelihood,
            "n_points": result.n_points,
            "reduced_chi2": result.reduced_chi2,
            "aic": result.aic,
            "bic": result.bic,
            "fit_period": list(spec.fit_period),
            "holdout_period": list(spec.holdout_period) if spec.holdout_period else None,
            "simulations": result.simulations,
            "elapsed_seconds": round(result.elapsed, 2),
            "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "estimates": {
            n: v for n, v in zip(result.names, result.estimates, strict=True) if n in model_names
        },
        "link_estimates": {
            n: v
            for n, v in zip(result.names, result.estimates, strict=True)
            if n not in model_names
        },
        "parameters": params,
        "series": {
            s.name: {
                "series": s.series,
                "variable": s.variable,
                "fit": _stats(s.fit),
                "holdout": _stats(s.holdout),
            }
            for s in result.series
        },
        "starts": [
            {
                "neg_log_likelihood": s.neg_log_likelihood,
                "success": s.success,
                "rescored": s.rescored,
                "evaluations": s.evaluations,
                "start": list(s.start),
                "estimate": list(s.estimate),
            }
            for s in result.starts
        ],
        "provenance": {
            "data_files": dict(result.data_files),
            "model_file": result.model,
            "model_sha256": result.model_sha256,
            "seed": result.seed,
            "packages": package_versions(),
            "numerics": numerics(),
            "command": command,
        },
    }
    if not spec.base:  # an application of the model: never its compare/report base
        doc["calibration"]["model_base"] = False
    if spec.constants:  # part of the fitted point: a base applies them with the estimates
        doc["constants"] = dict(spec.constants)
    if spec.inputs:  # a partial model: model_sha256 is the derived model's
        from nea_sd.model import file_sha256

        doc["calibration"]["partial_model"] = {
            "base_model_sha256": file_sha256(spec.model),
            "inputs": [item.describe() for item in spec.inputs],
            "input_series": sorted({row[1].name for item in spec.inputs for row in item.series}),
        }
    if profiles is not None:
        doc["profiles"] = {
            p.name: {"grid": list(p.grid), "delta": list(p.delta)} for p in profiles.profiles
        }
        doc["calibration"]["profile_threshold"] = profiles.threshold
        doc["calibration"]["profile_beat_optimum"] = refits > 0 or profiles.improved
        doc["calibration"]["refits_from_profile"] = refits
        doc["calibration"]["profile_still_better"] = profiles.improved
        doc["calibration"]["profile_best_neg_log_likelihood"] = profiles.best_neg_log_likelihood
        doc["calibration"]["profile_beat_margin"] = (
            profiles.fit_neg_log_likelihood - profiles.best_neg_log_likelihood
        )
    if result.noise:
        from nea_sd.calibrate.noise import effective_dof, interval_quantile

        k = len(result.names)
        doc["calibration"]["error_model"] = "estimated: per-series scale and AR(1)"
        doc["calibration"]["effective_dof"] = effective_dof(result.noise, k)
        doc["calibration"]["wald_quantile"] = interval_quantile(result.noise, k)
        doc["error_model"] = {
            s.name: {"n": s.n, "dof": s.dof, "scale": s.scale, "ar1": s.ar1}
            if s.estimated
            else {"n": s.n, "estimated": False}
            for s in result.noise
        }
    else:
        doc["calibration"]["error_model"] = "spec sigma as given"
    if nested is not None:
        doc["nested"] = {
            "sampler": nested.sampler,
            "log_z": nested.log_z,
            "log_z_err": nested.log_z_err,
            "run_log_z": list(nested.run_log_z),
            "run_log_z_err": list(nested.run_log_z_err),
            "runs": len(nested.run_log_z),
            "live_points": nested.live_points,
            "draws": len(nested.samples),
            "model_runs": nested.ncall,
            "batches": nested.batches,
            "elapsed_seconds": round(nested.elapsed, 2),
            "simulation_seconds": round(nested.simulation_seconds, 2),
            "overhead_fraction": round(nested.overhead, 4),
            "converged": nested.converged,
            "max_ncalls": nested.max_ncalls,
            "capped_runs": nested.capped_runs,
            "run_max_log_likelihood": list(nested.run_max_log_l),
            "integrated_links": list(getattr(nested, "integrated", ())),
            **(
                {"tempering_ess": nested.tempering_ess}
                if getattr(nested, "tempering_ess", None) is not None
                else {}
            ),
            "seed": nested.seed,
            "draws_file": draws_file if posterior is None else None,
        }
    if evidence is not None:
        doc["evidence"] = evidence.as_dict()
    if basins is not None:
        doc["calibration"]["basins_within_threshold"] = basins.count
        doc["basins"] = {
            "neg_log_likelihood": list(basins.neg_log_likelihood),
            "segments": [{"a": g.a, "b": g.b, "barrier": g.height} for g in basins.segments],
        }
    if posterior is not None:
        doc["posterior"] = {
            "walkers": posterior.walkers,
            "steps": posterior.steps,
            "burn": posterior.burn,
            "thin": posterior.thin,
            "draws": len(posterior.samples),
            "acceptance": posterior.acceptance,
            "converged": posterior.converged,
            "seed": posterior.seed,
            "draws_file": draws_file,
        }
    return doc


def save_result(
    path: str | os.PathLike[str],
    spec: CalibrationSpec,
    result: FitResult,
    profiles: Profiles | None = None,
    posterior: Posterior | None = None,
    *,
    command: str = "",
    refits: int = 0,
    nested: Any = None,
    evidence: Any = None,
    basins: Any = None,
) -> Path:
    """Write the results TOML (and ``<stem>.draws.csv`` with posterior draws, if any).

    Both files are written to a temporary name and renamed (never half-written). An existing
    file at ``path`` is kept as ``<name>.bak`` (its draws as ``<draws>.bak``); draws left from
    an earlier result at ``path`` are removed when the new result has none, so a TOML and its
    draws always belong together. Choose ``path`` with :func:`output_path`.
    """
    path = Path(path)
    draws_path = path.with_name(f"{path.stem}.draws.csv")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = result_document(
            spec,
            result,
            profiles,
            posterior,
            draws_file=draws_path.name if posterior is not None or nested is not None else None,
            command=command,
            refits=refits,
            nested=nested,
            evidence=evidence,
            basins=basins,
        )
        header = (
            f"Calibration results for {result.spec} (written by nea-sd calibrate; "
            "regenerate rather than edit)."
        )
        text = dumps(doc, header)
        for old in (path, draws_path):
            if old.exists():
                shutil.copy2(old, old.with_name(old.name + ".bak"))
        if posterior is not None or nested is not None:
            if posterior is not None:  # emcee's draws, with their log posterior
                frame = pd.DataFrame(posterior.samples, columns=list(posterior.names))
                frame["log_prob"] = posterior.log_prob
            else:  # nested sampling's equal-weight draws, with the run they came from
                frame = pd.DataFrame(nested.samples, columns=list(nested.names))
                frame["run"] = np.repeat(np.arange(nested.chains.shape[0]), nested.chains.shape[1])
            write_frame(frame, draws_path, index=False, float_format="%.8g")
        else:
            draws_path.unlink(missing_ok=True)  # stale: it belonged to the replaced result
        atomic_write_text(path, text, what="calibration results")
    except OSError as exc:
        raise OutputPathError(f"cannot write calibration results to {str(path)!r}: {exc}") from None
    return path


def read_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValueError(f"cannot read calibration results {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"calibration results {path.name}: invalid TOML ({exc})") from None


def start_point(setup: Any, result: str | os.PathLike[str]) -> tuple[float, ...]:
    """A start for ``setup``'s fit at another calibration's optimum (``nea-sd calibrate
    --start-from``): its estimates where it fitted the same names, the model's value for
    parameters it did not fit (the added term of a nested structural variant at 0: the base's
    optimum is then a start, so under a fixed error model the variant can only match or beat
    it; an estimated error model is re-estimated at the best start, and the refit under it may
    end elsewhere), the prior median for link constants it lacks; clipped to the spec's
    bounds."""
    doc = read_result(result)
    known = {str(k): float(v) for k, v in doc.get("estimates", {}).items()}
    known.update({str(k): float(v) for k, v in doc.get("link_estimates", {}).items()})
    spec = setup.spec
    if not set(known) & set(spec.names):
        raise InvalidValueError(
            f"--start-from {Path(result).name}: it fitted none of the spec's parameters "
            f"({', '.join(spec.names[:4])}, ...); name a result of the same or a nested spec"
        )
    median = spec.prior_ppf(np.full((1, len(spec.names)), 0.5))[0]
    x = []
    for j, name in enumerate(spec.names):
        if name in known:
            value = known[name]
        elif j < len(spec.parameters):
            value = setup.model.parameters.value_of(name)
        else:
            value = float(median[j])
        x.append(float(np.clip(value, *spec.bounds[j])))
    return tuple(x)


def read_draws(path: str | os.PathLike[str]) -> pd.DataFrame | None:
    """Posterior draws saved beside a results TOML (None when it has none)."""
    path = Path(path)
    doc = read_result(path)
    name = doc.get("posterior", {}).get("draws_file") or doc.get("nested", {}).get("draws_file")
    if not name:
        return None
    return pd.read_csv(path.parent / name)


def _results_dir(results_dir: str | os.PathLike[str] | None) -> Path:
    if results_dir is not None:
        return Path(results_dir)
    local = Path.cwd() / RESULTS_DIR
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / RESULTS_DIR


def find_result(
    model_name: str,
    *,
    results_dir: str | os.PathLike[str] | None = None,
    model_path: str | os.PathLike[str] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The results file of ``model_name`` and its contents (one per model; see
    :func:`load_calibrated`)."""
    return _find_result(model_name, results_dir, model_path)


def _find_result(
    model_name: str,
    results_dir: str | os.PathLike[str] | None,
    model_path: str | os.PathLike[str] | None,
) -> tuple[Path, dict[str, Any]]:
    """The results file of ``model_name`` and its contents (see :func:`load_calibrated`)."""
    folder = _results_dir(results_dir)
    stem = Path(model_name).stem
    candidates = []
    if folder.is_dir():
        for file in sorted(folder.glob("*.toml")):
            doc = read_result(file)
            if "partial_model" in doc.get("calibration", {}):
                continue  # a sector fitted with data inputs: not a base for the whole model
            if doc.get("calibration", {}).get("model_base") is False:
                continue  # an application of the model to one case (spec: base = false)
            if Path(doc.get("calibration", {}).get("model", "")).stem == stem:
                candidates.append((file, doc))
    if not candidates:
        raise UnknownNameError(
            f"no calibration results for model {stem!r} in {str(folder)!r}; "
            f"run 'nea-sd calibrate calibration/{stem}.toml' first"
        )
    preferred = [c for c in candidates if c[0].stem == stem]
    if len(preferred) == 1:
        file, doc = preferred[0]
    elif len(candidates) == 1:
        file, doc = candidates[0]
    else:
        raise InvalidValueError(
            f"several calibration results for model {stem!r}: "
            + ", ".join(c[0].name for c in candidates)
            + f"; name one {stem}.toml or pass results_dir"
        )
    if model_path is not None:
        from nea_sd.model import file_sha256

        current = file_sha256(Path(model_path))
        if current != doc["calibration"].get("model_sha256"):
            warnings.warn(
                f"{file.name} was calibrated on a different version of {Path(model_path).name} "
                "(SHA-256 differs); recalibrate before relying on these values",
                stacklevel=3,
            )
    return file, doc


def load_calibrated(
    model_name: str,
    *,
    results_dir: str | os.PathLike[str] | None = None,
    model_path: str | os.PathLike[str] | None = None,
) -> dict[str, float]:
    """Calibrated model-parameter values for ``model_name`` (``"nea"`` or ``"nea.mdl"``).

    Keys are as the spec wrote them (``"Defence reaction[CN]"``), which
    ``ParameterTable.resolve`` accepts as overrides; link constants are left out. The result
    file is ``<results_dir>/<model>.toml`` if it exists, else the only result for that model.
    With ``model_path``, a model whose SHA-256 differs from the calibrated one gives a warning.
    """
    _, doc = _find_result(model_name, results_dir, model_path)
    values = {str(k): float(v) for k, v in doc.get("estimates", {}).items()}
    values.update({str(k): float(v) for k, v in doc.get("constants", {}).items()})
    return values


def identified_estimates(
    model_name: str,
    *,
    results_dir: str | os.PathLike[str] | None = None,
    model_path: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, float], list[str], str]:
    """Calibrated values whose profile identified them, the names left out, and the file.

    A parameter pinned at a bound or with a flat or one-sided profile is not a fitted constant
    (design: weakly identified parameters are scenario axes), so callers keep the model's value.
    """
    file, doc = _find_result(model_name, results_dir, model_path)
    details = doc.get("parameters", {})
    kept, skipped = {}, []
    for name, value in doc.get("estimates", {}).items():
        if details.get(name, {}).get("identifiability", NOT_ASSESSED) == "identified":
            kept[str(name)] = float(value)
        else:
            skipped.append(str(name))
    return kept, skipped, f"{file.parent.name}/{file.name}"


def _best_neg_log_likelihood(doc: Mapping[str, Any]) -> float:
    """The best −log L the result knows of: its optimum, any start, any profile point."""
    cal = doc.get("calibration", {})
    values = [-float(cal["log_likelihood"])]
    values += [float(s["neg_log_likelihood"]) for s in doc.get("starts", [])]
    if "profile_best_neg_log_likelihood" in cal:
        values.append(float(cal["profile_best_neg_log_likelihood"]))
    finite = [v for v in values if np.isfinite(v)]
    return min(finite) if finite else float("nan")


def compare_base(
    result: Mapping[str, Any] | str | os.PathLike[str],
) -> tuple[dict[str, float], str]:
    """The parameter base for ``compare``: the joint optimum of a calibration result.

    Every fitted model parameter at its jointly estimated value (never identified values
    mixed with model defaults that the profiles reject), and a header line giving the base's
    −log L and its Δ(−2 log L) to the best fit the result knows of (a start or a profile point
    that beat the optimum shows as Δ > 0, and is flagged when it beats it by more than the
    search resolves, :func:`nea_sd.calibrate.fit.beats`). ``result``: a results TOML path or
    its contents.
    """
    name = "calibration result"
    if not isinstance(result, Mapping):
        name = Path(result).name
        result = read_result(result)
    cal = result.get("calibration", {})
    if "log_likelihood" not in cal or "estimates" not in result:
        raise DataError(f"{name}: not a calibration result (no [calibration] log_likelihood)")
    params = {str(k): float(v) for k, v in result["estimates"].items()}
    constants = {str(k): float(v) for k, v in result.get("constants", {}).items()}
    nll = -float(cal["log_likelihood"])
    best = _best_neg_log_likelihood(result)
    delta = 2.0 * (nll - best)
    spec = cal.get("spec", name)
    fixed = f" and {len(constants)} constants it set" if constants else ""
    header = (
        f"base: joint optimum of {spec} ({len(params)} fitted values{fixed}), "
        f"-log L = {nll:.2f}, delta(-2 log L) to the best fit = {delta:.2f}"
    )
    params.update(constants)  # the fitted point includes the spec's constants
    if beats(best, nll):
        header += " (a better point is known: recalibrate)"
    return params, header


def calibrated_base(
    model_name: str,
    *,
    results_dir: str | os.PathLike[str] | None = None,
    model_path: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, float], str]:
    """:func:`compare_base` of the results file of ``model_name`` (found as by
    :func:`load_calibrated`); the header names the file and, as ``compare``'s does, what the
    committed sector check beside it says."""
    from nea_sd.calibrate.partial import with_sector_note

    file, doc = _find_result(model_name, results_dir, model_path)
    params, header = compare_base(doc)
    return params, f"{with_sector_note(header, file)} [{file.parent.name}/{file.name}]"


def posterior_draws(
    document: Mapping[str, Any] | str | os.PathLike[str],
    n: int,
    seed: int = 0,
    *,
    results_dir: str | os.PathLike[str] | None = None,
) -> list[dict[str, float]]:
    """``n`` posterior draws of the model parameters: a ``compare`` ensemble base.

    ``document``: a results TOML path, or its contents (its draws file is then looked up in
    ``results_dir``, default ``calibration/results``). Draws are equal-weight rows of the
    nested-sampling or emcee draws file, chosen without replacement with ``seed``; link
    constants (poll α, scale factors) are left out. A posterior that did not converge
    (R-hat/ESS for nested sampling, autocorrelation times for emcee) is refused: its draws are
    not a sample of the posterior.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InvalidValueError(f"n must be a positive number of draws, got {n!r}")
    if isinstance(document, Mapping):
        name, folder = "calibration result", _results_dir(results_dir)
    else:
        name, folder = Path(document).name, Path(document).parent
        document = read_result(document)
    sampler = next((key for key in ("nested", "posterior") if key in document), None)
    if sampler is None:
        raise DataError(f"{name}: no posterior (rerun nea-sd calibrate with --nested, or --bayes)")
    info = document[sampler]
    if not info.get("converged", False):
        label = "nested sampling" if sampler == "nested" else "emcee"
        raise DataError(
            f"{name}: the {label} posterior did not converge (converged = false); its draws "
            "are no posterior sample: rerun with more live points/steps, or use the joint "
            "optimum (compare_base)"
        )
    file = info.get("draws_file")
    if not file or not (folder / file).is_file():
        raise DataError(f"{name}: posterior draws file {file!r} not found in {str(folder)!r}")
    frame = pd.read_csv(folder / file)
    params = [str(k) for k in document.get("estimates", {})]
    missing = [p for p in params if p not in frame.columns]
    if missing:
        raise DataError(f"{name}: draws file {file} lacks {', '.join(missing)}")
    if n > len(frame):
        raise InvalidValueError(
            f"{name}: {n} draws asked, the posterior has {len(frame)}: ask for at most {len(frame)}"
        )
    rows = np.random.default_rng(seed).choice(len(frame), size=n, replace=False)
    values = frame[params].to_numpy(dtype=float)[rows]
    return [dict(zip(params, map(float, row), strict=True)) for row in values]
