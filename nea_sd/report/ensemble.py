"""Paired ensembles with common random numbers: one design, every strategy and structure.

One Latin-hypercube design (SciPy's ``qmc``) over the uncertain mechanism gains — each over the
range the model declares for it, never a range chosen for the answer — is run under every
strategy × structure on the same parameter base, so that each draw is a paired comparison:
draw ``i`` of functional-first and draw ``i`` of military-first differ only in the strategy.
The runs go through the sensitivity evaluators (this process, local processes or a Dask
cluster), chunk by chunk; a diverged run is NaN and flagged per (draw, strategy, structure),
never folded into a statistic.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import qmc

from nea_sd.errors import InvalidValueError, NeaSdError
from nea_sd.mechanisms import available
from nea_sd.model import Model
from nea_sd.model.params import split_element_key
from nea_sd.outcomes import vocabulary_for
from nea_sd.provenance import provenance_attrs, to_json
from nea_sd.scenarios import load_scenarios
from nea_sd.sensitivity.evaluators import make_evaluator
from nea_sd.sensitivity.outputs import Trajectory
from nea_sd.sensitivity.problem import DEFAULTS, Factor, Problem, _model_text
from nea_sd.structures import load_structures, variants

#: scenario axes of the issue drawn with the mechanism gains (when the model has them)
AXES = ("Spillover", "Great power gate strength", "Backfire strength", "Detente intensity")
#: report outcome -> (vocabulary attribute, +1 if more is better, -1 if less is better)
OUTCOMES = {
    "security_trust": ("security_trust", 1),
    "min_security_trust": ("min_security_trust", 1),
    "arms_burden": ("arms_burden", -1),
}
#: the compared strategies (the record's ``history`` is a hindcast, not a strategy)
STRATEGIES = ("status-quo", "functional-first", "military-first", "simultaneous", "trust-gated")
START, END = 2026.0, 2050.0
NUMBA_FROM = 2000
CHUNK = 4000  # runs per engine call at most (a few seconds of set-up per call)


def uncertain_gains(model: Model) -> dict[str, tuple[float, float]]:
    """The switchable mechanism gains (``nea-sd mechanisms``) and the scenario axes, each with
    the range the model declares for it; a parameter without a range is an error."""
    vocabulary_for(model)  # a model without the sequencing outcomes is one error line
    names = [g for m in available(model) for g in m.gains]
    names += [a for a in AXES if a in model.parameters and a not in names]
    if not names:
        raise NeaSdError(
            f"model {model.name!r} has none of the mechanism gains the report draws "
            "(see nea-sd mechanisms); the report works on the dyad and regional models"
        )
    gains = {}
    for name in names:
        param = model.parameters[name]
        if not param.has_range or not param.low < param.high:
            raise InvalidValueError(
                f"gain {name!r} has no range in {model.path.name}; declare one in its units field"
            )
        gains[param.name] = (float(param.low), float(param.high))
    return gains


def design(gains: Mapping[str, tuple[float, float]], samples: int, seed: int) -> np.ndarray:
    """The Latin-hypercube draws (samples × gains), a pure function of the seed."""
    if samples < 2:
        raise InvalidValueError(f"--samples must be at least 2, got {samples}")
    unit = qmc.LatinHypercube(d=len(gains), seed=np.random.default_rng(seed)).random(samples)
    low = np.array([lo for lo, _ in gains.values()])
    high = np.array([hi for _, hi in gains.values()])
    return qmc.scale(unit, low, high)


def strategies_of(model: Model, names: Sequence[str] = STRATEGIES) -> dict[str, dict[str, float]]:
    """The compared strategies of ``models/scenarios.toml`` that the model has, with overrides."""
    scenarios = load_scenarios(model)
    chosen = {n: dict(scenarios[n].overrides) for n in names if n in scenarios}
    if len(chosen) < 2:
        raise NeaSdError(
            f"model {model.name!r} has fewer than two of the strategies {', '.join(names)} in "
            "scenarios.toml; the report compares strategies"
        )
    return chosen


def structures_of(model: Model) -> dict[str, dict[str, float]]:
    """The shipped structure, each switch flipped and all switched (``structures.toml``)."""
    return dict(variants(load_structures(model)))


def backend_for(runs: int) -> str:
    """The compiled backend for large ensembles where numba is installed (about 3x faster per
    run once compiled), else numpy (no compilation: faster for a few hundred runs)."""
    if runs < NUMBA_FROM:
        return "numpy"
    try:
        import numba  # noqa: F401
    except ImportError:
        return "numpy"
    return "numba"


def _key_factor(model: Model, key: str) -> Factor:
    """A run-table column for ``key`` (``Name`` or ``Name[ELEMENT,...]``)."""
    name, elements = split_element_key(key)
    param = model.parameters[name]
    if param.dims and elements is None:
        raise NeaSdError(
            f"{key!r} sets the whole array {param.name!r}; the report varies scalar parameters "
            "or single elements: name the elements"
        )
    index = tuple(int(i) for i in param.index_of(elements)) if elements else ()
    mode = "element" if elements else "value"
    return Factor(key, param.name, mode, "unif", (0.0, 1.0), key, index)


def _cell_factors(
    model: Model, cells: list[dict[str, float]], skip: Sequence[str]
) -> tuple[list[Factor], np.ndarray]:
    """The parameters the strategy × structure cells set, as factors, and each cell's values
    (cells × factors): a cell that leaves a parameter alone gets the model's value there."""
    keys = list(dict.fromkeys(k for cell in cells for k in cell if k not in skip))
    factors = [_key_factor(model, key) for key in keys]
    columns = []
    for factor in factors:
        default = np.asarray(model.parameters[factor.parameter].value, dtype=float)
        column = []
        for cell in cells:
            value = np.asarray(model.parameters.resolve(cell).get(factor.parameter, default))
            column.append(float(value[factor.index]) if factor.index else float(value))
        columns.append(column)
    return factors, np.array(columns, dtype=float).T.reshape(len(cells), len(keys))


def _problem(
    model: Model,
    base: Mapping[str, float],
    gains: Mapping[str, tuple[float, float]],
    cell_factors: list[Factor],
    grid: np.ndarray,
    runs: int,
) -> Problem:
    vocabulary = vocabulary_for(model)
    metrics = tuple(
        Trajectory(key, getattr(vocabulary, attr), tuple(float(t) for t in grid))
        for key, (attr, _) in OUTCOMES.items()
    )
    factors = tuple(
        Factor(label=n, parameter=n, mode="value", dist="unif", bounds=b, group=n)
        for n, b in gains.items()
    ) + tuple(cell_factors)
    key = hashlib.sha256(to_json({"gains": gains, "base": base}).encode()).hexdigest()
    return Problem(
        model_name=model.name,
        model_path=str(model.path),
        model_sha256=model.sha256,
        factors=factors,
        metrics=metrics,
        scenarios=("",),
        paired=False,
        spec_sha256=key,
        settings=tuple(sorted({**DEFAULTS, "year": 2040.0, "backend": backend_for(runs)}.items())),
        bases=(model.parameters.resolve(base),),
        defaults={f.parameter: model.parameters[f.parameter].value for f in factors},
        model_text=_model_text(model),
    )


def run_ensemble(
    model: Model,
    base: Mapping[str, float],
    gains: Mapping[str, tuple[float, float]],
    X: np.ndarray,
    *,
    strategies: Mapping[str, Mapping[str, float]],
    structures: Mapping[str, Mapping[str, float]],
    fixed: Mapping[str, float] | None = None,
    per_draw: Mapping[str, np.ndarray] | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> xr.Dataset:
    """Every row of ``X`` under every strategy × structure on ``base``.

    The gains take their draws in every cell (a strategy's own setting of a drawn gain, such
    as the common détente intensity, gives way to the draw); ``fixed`` pins some gains for
    every draw (e.g. détente intensity 0: the other gains keep their draws, so the runs stay
    paired with the main ensemble); ``per_draw`` gives further parameters a value per draw
    (posterior draws of the calibrated parameters). The cells' parameters become further
    columns of one run table, so the engine runs large blocks (few calls). Returns a Dataset
    with the report outcomes (draw, strategy, structure, time) on a yearly grid 2026–2050,
    the draws ``X`` (draw, gain) and ``diverged`` (draw, strategy, structure).
    """
    X = np.array(X, dtype=float)
    names = list(gains)
    for name, value in (fixed or {}).items():
        X[:, names.index(name)] = value
    cells = [{**so, **to} for so in strategies.values() for to in structures.values()]
    per_draw = dict(per_draw or {})
    draw_factors = [_key_factor(model, key) for key in per_draw]
    P = np.array([np.asarray(v, dtype=float) for v in per_draw.values()]).T.reshape(len(X), -1)
    cell_factors, cell_values = _cell_factors(model, cells, [*names, *per_draw])
    grid = np.arange(START, END + 0.5, 1.0)
    factors = [*draw_factors, *cell_factors]
    problem = _problem(model, base, gains, factors, grid, len(X) * len(cells))
    n, nc, ng = len(X), len(cells), len(grid)
    rows = np.hstack(
        [np.repeat(X, nc, axis=0), np.repeat(P, nc, axis=0), np.tile(cell_values, (n, 1))]
    )
    total = len(rows)
    values = np.full((total, len(OUTCOMES) * ng), np.nan)
    parts = max(1, workers or 1) * 2 if scheduler is None else 16
    size = int(min(CHUNK, max(nc, math.ceil(total / parts))))
    chunks = [(i, rows[a : a + size]) for i, a in enumerate(range(0, total, size))]
    done = 0
    progress(0, total)
    with make_evaluator(problem, workers=workers, scheduler=scheduler) as evaluator:
        for index, out in evaluator.imap(chunks):
            start = index * size
            values[start : start + len(out)] = out[:, 0, :]
            done += len(out)
            progress(done, total)
    shaped = values.reshape(n, len(strategies), len(structures), len(OUTCOMES), ng)
    diverged = np.isnan(shaped).any(axis=(3, 4))
    dims = ("draw", "strategy", "structure", "time")
    data: dict[str, Any] = {key: (dims, shaped[:, :, :, k, :]) for k, key in enumerate(OUTCOMES)}
    data["X"] = (("draw", "gain"), X)
    data["diverged"] = (("draw", "strategy", "structure"), diverged)
    ds = xr.Dataset(
        data,
        coords={
            "draw": np.arange(n),
            "strategy": list(strategies),
            "structure": list(structures),
            "time": grid,
            "gain": names,
        },
    )
    vocabulary = vocabulary_for(model)
    for key, (attr, sign) in OUTCOMES.items():
        ds[key].attrs["variable"] = getattr(vocabulary, attr)
        ds[key].attrs["better"] = "higher" if sign > 0 else "lower"
    ds["gain_low"] = ("gain", [gains[g][0] for g in names])
    ds["gain_high"] = ("gain", [gains[g][1] for g in names])
    ds.attrs = provenance_attrs(
        model_path=model.path.name, model_sha256=model.sha256, engine="batch", overrides=base
    )
    ds.attrs["fixed_gains"] = json.dumps(dict(fixed or {}))
    ds.attrs["per_draw_parameters"] = json.dumps(list(per_draw))
    ds.attrs["diverged_runs"] = int(diverged.sum())
    ds.attrs["batch_backend"] = problem.setting("backend")
    return ds


BASES = ("calibrated", "posterior", "defaults")


def choose_base(
    model: Model, choice: str, samples: int, seed: int, calibration: str | None = None
) -> tuple[dict[str, float], str, dict[str, np.ndarray]]:
    """The parameter base: (values under every run, where they came from, values per draw).

    ``calibrated``: the joint optimum of the model's calibration (``compare``'s base), or of
    the named ``calibration`` result (a candidate structure's fit; same rules as ``nea-sd
    compare --calibration``); ``defaults``: the model's values; ``posterior``: the converged
    posterior draws of the model's calibration or of the named ``calibration`` result,
    ``samples`` of them chosen with ``seed`` (one per ensemble draw), else an error.
    """
    from nea_sd.compare import base_parameters, result_base

    if choice not in BASES:
        raise InvalidValueError(
            f"--base {choice!r} is not one of {', '.join(BASES)}; choose one of them"
        )
    if calibration is not None and choice == "defaults":
        raise InvalidValueError(
            "--calibration and --base defaults both choose the parameter base; give one of them"
        )
    if calibration is not None:
        values, source = result_base(model, calibration)  # checks the model and its version
        if choice == "calibrated":
            return values, source, {}
        from nea_sd.calibrate.results import read_result

        document = read_result(calibration)
        return _posterior_base(model, Path(calibration), document, samples, seed, values)
    if choice != "posterior":
        base, source = base_parameters(model, choice)
        return base, source, {}
    from nea_sd.calibrate.results import find_result

    try:
        file, document = find_result(model.name)
    except NeaSdError:
        raise NeaSdError(
            f"--base posterior: model {model.name!r} has no calibration results; "
            "use --base calibrated or defaults"
        ) from None
    base, _ = base_parameters(model, "calibrated")
    return _posterior_base(model, file, document, samples, seed, base)


def _posterior_base(
    model: Model, file: Path, document: dict, samples: int, seed: int, base: dict[str, float]
) -> tuple[dict[str, float], str, dict[str, np.ndarray]]:
    """``samples`` of a result's converged posterior draws (chosen with ``seed``) for the model
    values it sampled; ``base`` (the optimum the draws belong to) for the rest."""
    from nea_sd.calibrate.results import read_draws

    section = document.get("posterior") or document.get("nested") or {}
    fitted_to = document.get("calibration", {}).get("model_sha256")
    draws = read_draws(file) if section.get("converged") else None
    if draws is None or (fitted_to and fitted_to != model.sha256):
        raise NeaSdError(
            f"--base posterior: {file.name} has no converged posterior draws for the current "
            f"{model.path.name}; run nea-sd calibrate with a posterior, or use --base calibrated"
        )
    keys = [c for c in draws.columns if split_element_key(c)[0] in model.parameters]
    rows = np.random.default_rng(seed).choice(len(draws), size=samples, replace=True)
    per_draw = {k: draws[k].to_numpy(dtype=float)[rows] for k in keys}
    base = {k: v for k, v in base.items() if k not in per_draw}
    return base, f"posterior draws of {file.name} ({len(draws)} draws, converged)", per_draw


def divergence_table(ds: xr.Dataset) -> dict[str, int]:
    """Diverged runs per ``strategy|structure`` (only those with any)."""
    counts = ds["diverged"].sum("draw")
    return {
        f"{s}|{t}": int(counts.sel(strategy=s, structure=t))
        for s in ds["strategy"].values
        for t in ds["structure"].values
        if int(counts.sel(strategy=s, structure=t)) > 0
    }


def sobol_base_samples(samples: int) -> int:
    """The Sobol base sample size for an ensemble of ``samples`` draws: a power of two near
    ``samples / 4`` (at least 8): Saltelli's design costs N·(d + 2) runs per strategy."""
    return max(8, 2 ** int(math.floor(math.log2(max(samples, 8) / 4))))
