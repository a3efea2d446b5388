"""From sample and outputs to indices: SALib's ``analyze`` per output column, gathered into one
labelled Dataset (output x parameter x index, with confidence half-widths).

Paired sweeps analyse the difference between the two scenarios run on the same samples, so the
indices say which parameters decide whether the order of cooperation matters.
"""

from __future__ import annotations

import html
import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.errors import InvalidValueError, unknown_name
from nea_sd.provenance import provenance_attrs, to_json
from nea_sd.sensitivity.methods import Method, analysis_seed, global_rng_kept
from nea_sd.sensitivity.problem import Problem

PRIMARY = ("ST", "mu_star", "S1")


def primary_index(names: list[str]) -> str:
    """The index that ranks parameters: total effect where there is one, else mu* or S1."""
    return next((p for p in PRIMARY if p in names), names[0])


@dataclass(frozen=True)
class SensitivityResult:
    """Indices of one sweep.

    ``dataset`` holds ``indices``/``conf`` (output, parameter, index) for scalar outputs,
    ``S2``/``S2_conf`` (output, parameter, parameter_b) for Sobol with second order,
    ``indices_t``/``conf_t`` (trajectory, time, parameter, index) for trajectory outputs, the
    sample ``X`` (run, factor), the analysed outputs ``Y`` (run, output) and ``Y_t``, and the
    provenance in its attributes; ``conf`` is the half-width of the interval at ``conf_level``.
    ``computed``/``reused`` count the chunks run now and those taken from a checkpoint.
    """

    dataset: xr.Dataset
    computed: int = 0
    reused: int = 0

    @property
    def method(self) -> str:
        return str(self.dataset.attrs["method"])

    def table(self, output: str | None = None) -> pd.DataFrame:
        """Indices and half-widths of one scalar output (default: the first), one row per
        parameter, most influential first (by :func:`primary_index`)."""
        ds = self.dataset
        if "indices" not in ds:
            raise InvalidValueError("this sweep has no scalar outputs; see indices_t")
        outputs = [str(o) for o in ds["output"].values]
        output = output if output is not None else outputs[0]
        if output not in outputs:
            raise unknown_name("output", output, outputs)
        frame = ds["indices"].sel(output=output).to_pandas()
        conf = ds["conf"].sel(output=output).to_pandas().add_suffix("_conf")
        table = pd.concat([frame, conf.dropna(axis=1, how="all")], axis=1)
        key = primary_index([str(i) for i in ds["index"].values])
        return table.sort_values(key, ascending=False)

    def has_indices(self, output: str) -> bool:
        """False where the output did not vary (or went non-finite): its indices are NaN."""
        return bool(self.dataset["indices"].sel(output=output).notnull().any())

    @property
    def diverged_runs(self) -> list[int]:
        """Sample rows whose run went non-finite (excluded from every statistic)."""
        if "diverged" not in self.dataset:
            return []
        return [int(i) for i in np.flatnonzero(self.dataset["diverged"].values)]

    def divergence_note(self) -> str:
        """One line on the diverged runs: how many, which, what was excluded; "" if none."""
        rows = self.diverged_runs
        if not rows:
            return ""
        ds = self.dataset
        total = ds.sizes["run"]
        shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
        by = json.loads(ds.attrs.get("diverged_by_scenario", "{}") or "{}")
        where = ""
        if len(by) > 1:
            where = " (" + ", ".join(f"{k}: {v}" for k, v in by.items()) + ")"
        excluded = int(ds.attrs.get("excluded_runs", len(rows)))
        if self.method == "fast":
            how = "FAST's design cannot lose runs: no indices computed"
        elif excluded > len(rows):
            unit = "Sobol blocks" if self.method == "sobol" else "Morris trajectories"
            how = f"excluded from the statistics with their {unit} ({excluded} rows in all)"
        else:
            how = "excluded from the statistics"
        return (
            f"warning: {len(rows)} of {total} samples diverged (non-finite){where}, "
            f"rows {shown}; {how}"
        )

    def _why_no_indices(self, output: str) -> str:
        ds = self.dataset
        kept = ~ds["excluded"].values if "excluded" in ds else np.ones(ds.sizes["run"], bool)
        y = ds["Y"].sel(output=output).values[kept]
        if len(y) < 2:
            return "no indices: every usable run diverged (see the warning above)"
        if np.ptp(y) == 0:
            return "the same in every run that did not diverge (no variance to apportion)"
        return (
            f"no indices: {self.method} could not estimate them from the {len(y)} usable runs; "
            "use more samples"
        )

    def report(self, top: int = 10) -> str:
        ds = self.dataset
        lines = [
            f"{ds.attrs['method']} on {ds.attrs['model_file']}: {ds.attrs['samples']} samples, "
            f"{ds.attrs['runs']} runs, seed {ds.attrs['seed']}"
            + (f", paired {ds.attrs['paired']}" if ds.attrs.get("paired") else "")
        ]
        note = self.divergence_note()
        if note:
            lines.append(note)
        if "indices" in ds:
            for output in ds["output"].values:
                if not self.has_indices(str(output)):
                    lines.append(f"\n{output}: {self._why_no_indices(str(output))}")
                    continue
                table = self.table(str(output)).head(top)
                lines.append(f"\n{output}:\n{table.to_string(float_format=lambda x: f'{x:.3f}')}")
        if "indices_t" in ds:
            lines.append(
                "\ntime-resolved: "
                + ", ".join(str(t) for t in ds["trajectory"].values)
                + f" ({ds.sizes['time']} times)"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        ds = self.dataset
        parts = [
            f"<p><b>{html.escape(ds.attrs['method'])}</b> sensitivity of "
            f"{html.escape(ds.attrs['model_file'])}: {ds.attrs['samples']} samples, "
            f"{ds.attrs['runs']} runs, seed {ds.attrs['seed']}</p>"
        ]
        if self.divergence_note():
            parts.append(f"<p><b>{html.escape(self.divergence_note())}</b></p>")
        if "indices" in ds:
            for output in ds["output"].values:
                parts.append(f"<p>{html.escape(str(output))}</p>")
                if not self.has_indices(str(output)):
                    parts.append(f"<p>{html.escape(self._why_no_indices(str(output)))}</p>")
                    continue
                parts.append(self.table(str(output)).to_html(float_format=lambda x: f"{x:.3f}"))
        return "".join(parts)


def analysed_values(problem: Problem, values: np.ndarray) -> np.ndarray:
    """(runs, columns) to analyse: the scenario's outputs, or A - B for a paired sweep."""
    return values[:, 0, :] - values[:, 1, :] if problem.paired else values[:, 0, :]


def _first_total_layout(Y: np.ndarray, d: int) -> np.ndarray:
    """Saltelli rows without the BA blocks (second-order layout -> first/total layout), so
    time-resolved Sobol skips S2, which it does not report."""
    blocks = Y.reshape(-1, 2 * d + 2)
    return np.concatenate([blocks[:, : d + 1], blocks[:, -1:]], axis=1).reshape(-1)


def diverged_rows(values: np.ndarray) -> np.ndarray:
    """Sample rows whose run went non-finite in any scenario (values: runs, scenarios, cols)."""
    return ~np.isfinite(values).all(axis=(1, 2))


def kept_rows(method: Method, diverged: np.ndarray, n_names: int, options: Mapping[str, Any]):
    """Rows the statistics may use once the diverged runs are excluded.

    Sobol's estimators average over independent blocks of N*(D+2) (or 2D+2) rows and Morris's
    over trajectories of D+1 rows, so a diverged run takes its whole block or trajectory with
    it; random designs (LHS, MC, RBD-FAST's ordering estimator) lose just the run. FAST's
    periodic design cannot lose a run: it keeps nothing when any diverged. Returns the boolean
    mask of rows kept (``None`` when the design cannot be analysed).
    """
    if not diverged.any():
        return np.ones(len(diverged), dtype=bool)
    if method.name == "fast":
        return None
    block = 1
    if method.name == "sobol":
        block = 2 * n_names + 2 if options.get("calc_second_order", True) else n_names + 2
    elif method.name == "morris":
        block = n_names + 1
    if block == 1:
        return ~diverged
    bad_blocks = diverged.reshape(-1, block).any(axis=1)
    return np.repeat(~bad_blocks, block)


def _analyze_column(
    method: Method,
    salib: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    options: Mapping[str, Any],
    n_names: int,
    pairwise: bool,
) -> dict[str, np.ndarray]:
    """SALib's indices for one output column (rows of diverged runs already excluded); NaN
    where the output is constant or nothing is left (no variance to apportion), instead of
    SALib's divide-by-zero warnings."""
    nan = np.full(n_names, np.nan)
    if len(y) < 2 or not np.all(np.isfinite(y)) or np.ptp(y) == 0:
        out = {}
        for index, conf in method.indices:
            out[index] = nan
            if conf:
                out[conf] = nan
        if pairwise:
            for index, conf in method.pairwise:
                out[index] = out[conf] = np.full((n_names, n_names), np.nan)
        return out
    with warnings.catch_warnings(), global_rng_kept():
        warnings.simplefilter("ignore")
        try:
            result = method.analyze(salib, X, y, analysis_seed(seed), options)
        except (ZeroDivisionError, FloatingPointError, ValueError, IndexError):
            return _analyze_column(method, salib, X, y[:0], seed, options, n_names, pairwise)
    wanted = {k for pair in method.indices + method.pairwise for k in pair if k}
    return {k: np.asarray(v, dtype=float) for k, v in dict(result).items() if k in wanted}


def analyze(
    problem: Problem,
    method: Method,
    X: np.ndarray,
    values: np.ndarray,
    *,
    seed: int,
    samples: int,
    extra_attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Indices of every output column of ``values`` (runs, scenarios, columns)."""
    options = {k: v for k, v in problem.settings}
    salib = problem.salib_problem()
    names = problem.groups if problem.grouped else problem.labels
    n_names = len(names)
    Y = analysed_values(problem, values)
    index_names = [i for i, _ in method.indices]
    pairwise = method.pairwise_for(options)
    diverged = diverged_rows(values)
    keep = kept_rows(method, diverged, n_names, options)
    if keep is None:  # FAST: no index can be computed honestly
        keep = np.zeros(len(diverged), dtype=bool)
    Xk = np.asarray(X)[keep]

    scalar, trajectories = [], []
    offset = 0
    for metric, width in zip(problem.metrics, problem.widths, strict=True):
        columns = slice(offset, offset + width)
        offset += width
        (trajectories if metric.times() is not None else scalar).append((metric, columns))

    def collect(results: list[dict[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        value = np.array([[r[i] for i in index_names] for r in results])  # (k, index, param)
        conf = np.array(
            [[r[c] if c else np.full(n_names, np.nan) for _, c in method.indices] for r in results]
        )
        return value.transpose(0, 2, 1), conf.transpose(0, 2, 1)

    data_vars: dict[str, Any] = {}
    coords: dict[str, Any] = {"parameter": names, "index": index_names}
    if scalar:
        results = [
            _analyze_column(
                method, salib, Xk, Y[keep, cols.start], seed, options, n_names, bool(pairwise)
            )
            for _, cols in scalar
        ]
        value, conf = collect(results)
        dims = ("output", "parameter", "index")
        data_vars["indices"] = (dims, value)
        data_vars["conf"] = (dims, conf)
        coords["output"] = [m.name for m, _ in scalar]
        for index, conf_name in pairwise:
            pair_dims = ("output", "parameter", "parameter_b")
            data_vars[index] = (pair_dims, np.array([r[index] for r in results]))
            data_vars[conf_name] = (pair_dims, np.array([r[conf_name] for r in results]))
            coords["parameter_b"] = names
        data_vars["Y"] = (("run", "output"), Y[:, [cols.start for _, cols in scalar]])
    if trajectories:
        t_options = dict(options)
        per_time = []
        for metric, cols in trajectories:
            columns = Y[keep][:, cols]
            if method.name == "sobol" and pairwise:
                t_options["calc_second_order"] = False
                columns = np.column_stack(
                    [_first_total_layout(columns[:, k], n_names) for k in range(columns.shape[1])]
                )
            results = [
                _analyze_column(method, salib, Xk, columns[:, k], seed, t_options, n_names, False)
                for k in range(columns.shape[1])
            ]
            value, conf = collect(results)
            times = metric.times()
            per_time.append(
                xr.Dataset(
                    {
                        "indices_t": (("time", "parameter", "index"), value),
                        "conf_t": (("time", "parameter", "index"), conf),
                        "Y_t": (("run", "time"), Y[:, cols]),
                    },
                    coords={"time": times, "parameter": names, "index": index_names},
                )
            )
        stacked = xr.concat(per_time, dim="trajectory", join="outer")
        stacked = stacked.assign_coords(trajectory=[m.name for m, _ in trajectories])
        for name in ("indices_t", "conf_t", "Y_t"):
            data_vars[name] = stacked[name]
        coords["time"] = stacked["time"].values
        coords["trajectory"] = stacked["trajectory"].values
    data_vars["X"] = (("run", "factor"), np.asarray(X, dtype=float))
    data_vars["diverged"] = (("run",), diverged)
    data_vars["excluded"] = (("run",), ~keep)
    coords["factor"] = problem.labels
    if problem.paired or problem.scenarios != ("",):
        labels: list[str] = []
        for metric in problem.metrics:
            times = metric.times()
            labels += [metric.name] if times is None else [f"{metric.name}[{t:g}]" for t in times]
        data_vars["Y_scenario"] = (("run", "scenario", "column"), values)
        coords["scenario"] = list(problem.scenarios)
        coords["column"] = labels
    dataset = xr.Dataset(data_vars, coords=coords)
    dataset.attrs = _attrs(problem, method, seed, samples, X, values, extra_attrs or {})
    return dataset


def _attrs(
    problem: Problem,
    method: Method,
    seed: int,
    samples: int,
    X: np.ndarray,
    values: np.ndarray,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    scenarios = [s for s in problem.scenarios if s]
    attrs = provenance_attrs(
        model_path=problem.model_name + ".mdl",
        model_sha256=problem.model_sha256,
        engine="batch",
        overrides={
            s or "model defaults": b for s, b in zip(problem.scenarios, problem.bases, strict=True)
        },
        scenarios=scenarios,
        seed=seed,
    )
    diverged = int(np.sum(diverged_rows(values)))
    per_scenario = {
        s or "model defaults": int(np.sum(~np.isfinite(values[:, k, :]).all(axis=1)))
        for k, s in enumerate(problem.scenarios)
    }
    keep = kept_rows(
        method,
        diverged_rows(values),
        len(problem.groups if problem.grouped else problem.labels),
        dict(problem.settings),
    )
    excluded = int(len(X)) if keep is None else int(np.sum(~keep))
    attrs.update(
        {
            "method": method.name,
            "method_description": method.description,
            "samples": int(samples),
            "runs": int(X.shape[0] * len(problem.scenarios)),
            "spec_sha256": problem.spec_sha256,
            "paired": " - ".join(problem.scenarios) if problem.paired else "",
            "settings": to_json(dict(problem.settings)),
            "factors": json.dumps([asdict(f) for f in problem.factors], default=str),
            "outputs": json.dumps(
                [{"kind": type(m).__name__, **asdict(m)} for m in problem.metrics], default=str
            ),
            "diverged_runs": diverged,
            "diverged_by_scenario": to_json(per_scenario),
            "excluded_runs": excluded,
            "conf_meaning": "half-width of the confidence interval at conf_level",
        }
    )
    attrs.update({k: v for k, v in extra.items()})
    return attrs
