"""Posterior predictive checks of the fit statistics: could the fitted model have produced
the r and Theil's U^S we score it by?

An acceptance threshold such as "every poll's fit-period r ≥ 0.5 and U^S ≤ 0.3" is itself a
statistic of noisy data. On four poll years with the error the fit estimated, the model that
generated the data can miss it by chance, and a miss is then no evidence of wrong structure.
The check puts the threshold to the fit's own error model (σ times its estimated scale,
AR(1) over the years; :func:`nea_sd.calibrate.synthetic.replicate`): for draws θ of the
parameters (the optimum alone, or posterior draws) it simulates new data y_rep around the
model and compares the discrepancy T(y_rep, θ) with T(y, θ) on the record (Gelman, Meng and
Stern 1996):

- P(meet): how often data from the fitted model itself meet the threshold — the criterion's
  attainable rate on this record, per series and jointly;
- p_r = P(r_rep ≤ r) and p_us = P(U^S_rep ≥ U^S): small when the record's series moves
  against the model or varies unlike it beyond what its error allows — a check that fails.

The error scales are estimated from the same residuals, so a poorly fitting series widens its
own noise; run the check also on the spec's σ (the setup before
:func:`nea_sd.calibrate.review.with_error_model`) to see how much that matters. And the
record's statistics are those of a *fit*, which adapted to the record's noise: replicates
scored against the model that drew them are not. :func:`refit_check` refits every redrawn
record (a parametric bootstrap) and scores it against its own fit — the like-for-like rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.acceptance import POLL_R_MIN, POLL_US_MAX
from nea_sd.calibrate.fit import refit_many
from nea_sd.calibrate.problem import Setup
from nea_sd.calibrate.stats import paired_moments
from nea_sd.calibrate.synthetic import redrawn, replicate
from nea_sd.errors import InvalidValueError

REFIT_NFEV = 50  # a refit starts at the model that drew its data: a few steps reach its optimum


def _share(rep: np.ndarray, rec: np.ndarray, compare: Callable) -> float:
    """The share of replicates on the far side of the record, among those where both are
    defined (r of a constant series is not): NaN when none is."""
    ok = np.isfinite(rep) & np.isfinite(rec)
    return float(np.mean(compare(rep[ok], rec[ok]))) if ok.any() else float("nan")


@dataclass(frozen=True)
class StatisticCheck:
    """Replicated fit statistics per series (dims ``series``, ``replicate``).

    ``data`` holds ``r_rep``/``us_rep`` (the statistics of replicated data against the draw
    that generated them) and ``r_obs``/``us_obs`` (the record's against the same draw), with
    the coordinate ``n`` (points per series) and the attrs ``draws``, ``excluded`` (draws
    whose simulation, or replicates whose refit, was not finite on a compared year: left
    out, counted), ``refit`` (the refits' step cap; 0: not refitted), ``replicates``,
    ``seed`` and ``period``.
    """

    data: xr.Dataset
    r_min: float = POLL_R_MIN
    us_max: float = POLL_US_MAX

    def meets(self) -> xr.DataArray:
        """Whether each replicate meets the threshold (r ≥ r_min and U^S ≤ us_max; a
        replicate whose r is undefined, a constant series, does not)."""
        d = self.data
        return (d["r_rep"] >= self.r_min) & (d["us_rep"] <= self.us_max)

    def joint(self, series: Sequence[str] | None = None) -> float:
        """P(every one of ``series`` (default: all) meets the threshold in one replicate)."""
        meets = self.meets()
        if series is not None:
            meets = meets.sel(series=list(self._names(series)))
        return float(meets.all("series").mean("replicate"))

    def table(self) -> pd.DataFrame:
        """Per series: the record's r and U^S (median over draws), the replicates' medians and
        90 % ranges, the predictive p-values and P(meet)."""
        d = self.data
        rows = []
        for name in d["series"].values:
            s = d.sel(series=name)
            r_rep, us_rep = s["r_rep"].values, s["us_rep"].values
            rows.append(
                {
                    "series": str(name),
                    "n": int(s["n"]),
                    "r": float(np.median(s["r_obs"])),
                    "r_rep median": float(np.nanmedian(r_rep)),
                    "r_rep 5%": float(np.nanquantile(r_rep, 0.05)),
                    "r_rep 95%": float(np.nanquantile(r_rep, 0.95)),
                    "p_r": _share(r_rep, s["r_obs"].values, np.less_equal),
                    "U^S": float(np.median(s["us_obs"])),
                    "U^S_rep median": float(np.nanmedian(us_rep)),
                    "p_us": _share(us_rep, s["us_obs"].values, np.greater_equal),
                    "P(meet)": float(self.meets().sel(series=name).mean()),
                }
            )
        return pd.DataFrame(rows)

    def _names(self, series: Sequence[str]) -> list[str]:
        known = [str(s) for s in self.data["series"].values]
        bad = [s for s in series if s not in known]
        if bad:
            raise InvalidValueError(f"no series {bad[0]!r} in the check; choose from {known!r}")
        return list(series)

    def _header(self) -> str:
        a = self.data.attrs
        how = f"refitted (≤ {a['refit']} steps each)" if a["refit"] else "not refitted"
        return (
            f"predictive check, {a['period']} period: {a['replicates']} replicates from "
            f"{a['draws']} draw(s), {how} (seed {a['seed']}; {a['excluded']} excluded); "
            f"threshold r ≥ {self.r_min:g} and U^S ≤ {self.us_max:g}; "
            f"P(all meet) {self.joint():.3f}"
        )

    def _rows(self) -> tuple[list[str], list[list[object]]]:
        frame = self.table()
        return list(frame.columns), frame.round(3).values.tolist()

    def __str__(self) -> str:
        header, rows = self._rows()
        return self._header() + "\n" + text_table(header, rows)

    def _repr_html_(self) -> str:
        header, rows = self._rows()
        return html_table(header, rows, caption=self._header())


def _compared(
    preds: dict, series: Sequence[str] | None, holdout: bool
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, dict]]:
    """The series to score, on their points with data: the named ones (each must exist), or
    every one with at least three points."""
    names = list(preds) if series is None else list(series)
    unknown = [s for s in names if s not in preds]
    if unknown:
        raise InvalidValueError(
            f"no series {unknown[0]!r} in the {'held-out' if holdout else 'fit'} period; "
            f"choose from {sorted(preds)!r}"
        )
    parts = {}
    for name in names:
        years, pred, data, flags = preds[name]
        keep = np.isfinite(data)
        if series is not None or keep.sum() >= 3:
            parts[name] = (
                years[keep],
                pred[:, keep],
                data[keep],
                {k: v[keep] for k, v in flags.items()},
            )
    if not parts:
        period = "held-out" if holdout else "fit"
        raise InvalidValueError(
            f"no series to check in the {period} period (a series needs three or more years "
            f"with data there); choose from {sorted(preds)!r}"
        )
    return parts


def _points(setup: Setup, values: np.ndarray) -> np.ndarray:
    """``values`` as rows of the spec's free parameters, or a one-line error naming them."""
    X = np.atleast_2d(np.asarray(values, dtype=float))
    names = list(setup.spec.names)
    if X.ndim != 2 or X.shape[1] != len(names) or not np.isfinite(X).all():
        raise InvalidValueError(
            f"parameter values must be finite rows of {len(names)} ({', '.join(names)}); "
            f"got shape {np.shape(values)!r}"
        )
    return X


def _check(stats: dict[str, list[np.ndarray]], parts: dict, attrs: dict) -> StatisticCheck:
    data = xr.Dataset(
        {k: (("series", "replicate"), np.array(v)) for k, v in stats.items()},
        coords={
            "series": list(parts),
            "replicate": np.arange(len(stats["r_rep"][0])),
            "n": ("series", [p[0].size for p in parts.values()]),
        },
        attrs=attrs,
    )
    return StatisticCheck(data)


def statistic_check(
    setup: Setup,
    samples: np.ndarray,
    *,
    replicates: int = 2000,
    draws: int = 200,
    seed: int = 0,
    holdout: bool = False,
    series: Sequence[str] | None = None,
) -> StatisticCheck:
    """Replicate the fit statistics of ``series`` (default: every observation with at least
    three points in the period) from ``samples`` (k,) or (m, k), ``draws`` of them at most,
    with the error model ``setup`` carries; see the module doc. The replicates are scored
    against the draw that made them, not refitted (see :func:`refit_check`)."""
    if replicates < 1 or draws < 1:
        raise InvalidValueError(
            f"replicates and draws must be at least 1; got {replicates!r} and {draws!r}"
        )
    rng = np.random.default_rng(seed)
    samples = _points(setup, samples)
    pick = np.sort(rng.choice(len(samples), size=min(draws, len(samples)), replace=False))
    X = samples[pick]
    preds = setup.problem.predictions(setup.simulator.run(X), X, holdout=holdout)
    parts = _compared(preds, series, holdout)
    finite = np.all([np.isfinite(p[1]).all(axis=1) for p in parts.values()], axis=0)
    if not finite.any():
        raise InvalidValueError("every draw's simulation is non-finite on a compared year")
    good = np.flatnonzero(finite)
    which = good[np.arange(replicates) % good.size]
    obs_by_name = {o.name: o for o in setup.spec.observations}
    stats: dict[str, list[np.ndarray]] = {k: [] for k in ("r_rep", "us_rep", "r_obs", "us_obs")}
    for name, (years, pred, data, flags) in parts.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            y_rep = replicate(obs_by_name[name], pred[which], flags, rng, years)
        rep = paired_moments(pred[which], y_rep)
        rec = paired_moments(pred, data[None, :])
        stats["r_rep"].append(rep["r"])
        stats["us_rep"].append(rep["us"])
        stats["r_obs"].append(rec["r"][which])
        stats["us_obs"].append(rec["us"][which])
    attrs = {"draws": int(good.size), "excluded": f"{len(X) - good.size} draw(s)", "refit": 0}
    attrs |= {"replicates": replicates, "seed": seed, "period": "held-out" if holdout else "fit"}
    return _check(stats, parts, attrs)


def refit_check(
    setup: Setup,
    x: Sequence[float],
    *,
    replicates: int = 200,
    seed: int = 0,
    holdout: bool = False,
    series: Sequence[str] | None = None,
    max_nfev: int = REFIT_NFEV,
    on_batch: Callable[[int], None] | None = None,
) -> StatisticCheck:
    """A parametric bootstrap of the fit statistics: the whole record redrawn around the fit
    ``x`` with the error model ``setup`` carries, each redrawn record refitted (locally from
    ``x``, ``max_nfev`` steps at most, all refits in one engine batch per step) and scored
    against its own refit, as the record was against ``x``. Unlike :func:`statistic_check`
    the replicates' fits adapt to their noise as the record's fit adapted to the record, so
    P(meet) is the rate at which a fit of this structure meets the threshold on data it
    generated. A replicate whose refit does not simulate finitely is left out and counted."""
    if replicates < 1 or max_nfev < 1:
        raise InvalidValueError(
            f"replicates and max_nfev must be at least 1; got {replicates!r} and {max_nfev!r}"
        )
    rng = np.random.default_rng(seed)
    x = _points(setup, x)
    if len(x) != 1:
        raise InvalidValueError(f"refit_check redraws around one fit; got {len(x)} rows")
    x = x[0]
    outputs = setup.simulator.run(x[None])
    parts = _compared(setup.problem.predictions(outputs, x[None], holdout=holdout), series, holdout)
    reps = redrawn(setup, x, rng, replicates, outputs)
    X = refit_many(reps, x, max_nfev=max_nfev, on_batch=on_batch)
    fitted = setup.simulator.run(X)
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in parts}
    kept = 0
    for i, rep in enumerate(reps):
        preds = rep.problem.predictions(fitted.take(slice(i, i + 1)), X[i : i + 1], holdout=holdout)
        mine = _compared(preds, list(parts), holdout)
        if not all(np.isfinite(p[1]).all() for p in mine.values()):
            continue
        kept += 1
        for name, (_, pred, data, _) in mine.items():
            m = paired_moments(pred[0], data)
            rows[name].append((float(m["r"]), float(m["us"])))
    if not kept:
        raise InvalidValueError("no refit of a redrawn record simulates finitely; check the fit")
    stats: dict[str, list[np.ndarray]] = {k: [] for k in ("r_rep", "us_rep", "r_obs", "us_obs")}
    for name, (_, pred, data, _) in parts.items():
        rec = paired_moments(pred[0], data)
        values = np.array(rows[name])
        stats["r_rep"].append(values[:, 0])
        stats["us_rep"].append(values[:, 1])
        stats["r_obs"].append(np.full(kept, float(rec["r"])))
        stats["us_obs"].append(np.full(kept, float(rec["us"])))
    attrs = {"draws": 1, "excluded": f"{replicates - kept} replicate(s)", "refit": max_nfev}
    attrs |= {"replicates": kept, "seed": seed, "period": "held-out" if holdout else "fit"}
    return _check(stats, parts, attrs)
