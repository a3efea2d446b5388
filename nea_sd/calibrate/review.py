"""Reading a saved calibration for review: tables and a plain-language verdict per series.

Thresholds follow Sterman (1984): a small MAPE with the error mostly in U^C is a good fit
(unsystematic error); a large U^M is a level bias, a large U^S an amplitude/trend the model
does not reproduce — both are systematic and worth fixing. Held-out error well above the
fitting error means the fit does not carry forward.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from nea_sd.calibrate.acceptance import holdout_bias
from nea_sd.calibrate.results import read_result
from nea_sd.errors import InvalidValueError

GOOD_MAPE = 10.0
FAIR_MAPE = 25.0
SYSTEMATIC = 0.5  # a Theil share above this dominates the error


def theil_table(doc: dict[str, Any]) -> pd.DataFrame:
    """One row per (series, period): n, RMSE, MAPE, R², U^M, U^S, U^C."""
    rows = []
    for name, entry in doc.get("series", {}).items():
        for period in ("fit", "holdout"):
            st = entry.get(period)
            if st:
                rows.append(
                    {
                        "series": name,
                        "period": period,
                        "n": st["n"],
                        "RMSE": st["rmse"],
                        "MAPE %": st["mape"],
                        "r": st.get("r", math.nan),
                        "R²": st["r2"],
                        "U^M": st["um"],
                        "U^S": st["us"],
                        "U^C": st["uc"],
                    }
                )
    return pd.DataFrame(rows)


def parameter_table(doc: dict[str, Any]) -> pd.DataFrame:
    """Estimates with Wald, profile and posterior intervals and the identifiability verdict."""
    rows = []
    for name, p in doc.get("parameters", {}).items():
        rows.append(
            {
                "parameter": name,
                "kind": p.get("kind"),
                "estimate": p.get("estimate"),
                "stderr": p.get("stderr"),
                "scaled stderr": p.get("stderr_scaled"),
                "profile 95%": _span(p.get("profile_lower"), p.get("profile_upper")),
                "posterior 95%": _span(p.get("posterior_q025"), p.get("posterior_q975")),
                "nested 95%": _span(p.get("nested_q025"), p.get("nested_q975")),
                "R-hat": p.get("rhat"),
                "identifiability": p.get("identifiability", "not assessed"),
            }
        )
    return pd.DataFrame(rows)


def error_model_table(doc: dict[str, Any]) -> pd.DataFrame:
    """The estimated error model per series (empty when the spec's σ were used)."""
    return pd.DataFrame(
        [{"series": n, **e} for n, e in doc.get("error_model", {}).items()],
        columns=["series", "n", "dof", "scale", "ar1"],
    )


def evidence_frame(doc: dict[str, Any]) -> pd.DataFrame:
    """Log evidence per structural variant (empty when none was computed)."""
    rows = [
        {
            "variant": n,
            "log Z": e["log_z"],
            "± MC": e["log_z_err"],
            "Δ log Z": e["delta_log_z"],
            "Δ ± MC": e["delta_log_z_err"],
            "verdict": e["verdict"],
            "converged": e["converged"],
            "R-hat max": e.get("rhat_max", float("nan")),
            "ESS bulk min": e.get("ess_bulk_min", float("nan")),
            "wall s": e.get("elapsed_seconds", float("nan")),
            "overhead": e.get("overhead_fraction", float("nan")),
        }
        for n, e in doc.get("evidence", {}).items()
    ]
    return pd.DataFrame(rows)


def structure_table(docs: Mapping[str, dict[str, Any]]) -> pd.DataFrame:
    """Structural variants of one sector side by side, best AIC first: free parameters k,
    −log L and AIC = 2k + 2(−log L) on the fit period, ΔAIC to the best, the largest AR(1)
    of the residuals, and each spending series' held-out bias (mean simulated / observed − 1;
    series without held-out data, such as the disputes fitted to 2010, get no column).

    The variants must share observations and periods (the same data), else −log L and AIC
    are not comparable; a variant whose series differ is an error.
    """
    series = None
    rows = []
    for name, doc in docs.items():
        names = sorted(doc.get("series", {}))
        if series is None:
            series = names
        elif names != series:
            raise InvalidValueError(
                f"variant {name!r} has series {names}, the others {series}: "
                "compare structures on the same observations"
            )
        cal = doc["calibration"]
        k = len(doc.get("estimates", {})) + len(doc.get("link_estimates", {}))
        nll = -float(cal["log_likelihood"])
        row: dict[str, Any] = {"variant": name, "k": k, "-log L": nll, "AIC": 2 * k + 2 * nll}
        ar1 = [float(e.get("ar1", 0.0)) for e in doc.get("error_model", {}).values()]
        row["AR(1) max"] = max(ar1) if ar1 else math.nan
        for s in series:
            row[f"{s} held-out bias %"] = 100 * holdout_bias(doc["series"][s])
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    held_out = [c for c in frame.columns if c.endswith("held-out bias %")]
    frame = frame.drop(columns=[c for c in held_out if frame[c].isna().all()])  # fit-only series
    frame.insert(4, "ΔAIC", frame["AIC"] - frame["AIC"].min())
    return frame.sort_values("AIC", kind="stable").reset_index(drop=True)


def with_error_model(setup: Any, doc: dict[str, Any]) -> Any:
    """``setup`` scored with the error model the result estimated (scales, AR(1)), so its
    residuals are those the fit saw; unchanged when the result used the spec's σ."""
    from nea_sd.calibrate.noise import SeriesNoise, with_noise
    from nea_sd.calibrate.synthetic import with_spec

    table = doc.get("error_model", {})
    if not table:
        return setup
    noise = [
        SeriesNoise(n, int(e["n"]), float(e.get("dof", 0.0)), float(e["scale"]), float(e["ar1"]))
        for n, e in table.items()
        if "scale" in e
    ]
    return with_spec(setup, with_noise(setup.spec, noise))


def series_pull(
    setup: Any, doc: dict[str, Any], parameter: str, values: list[float]
) -> pd.DataFrame:
    """Which series pull a parameter where it is: each series' whitened sum of squares at the
    result's estimate and with ``parameter`` moved to each of ``values``, everything else held
    (not a profile: nothing is re-optimised), under the error model the result estimated.

    For Gaussian (whitenable) observations −log L = SS/2 + a constant of the error model, so
    twice a change in −log L is the change in the ``total`` row.
    """
    import numpy as np

    from nea_sd.calibrate.problem import whitened

    scored = with_error_model(setup, doc)
    names = list(scored.spec.names)
    if parameter not in names:
        raise InvalidValueError(
            f"parameter {parameter!r} is not fitted by {scored.spec.path.name}; fitted: "
            + ", ".join(repr(n) for n in names)
        )
    estimates = {**doc["estimates"], **doc.get("link_estimates", {})}
    x0 = np.array([float(estimates[n]) for n in names])
    X = np.repeat(x0[None], len(values) + 1, axis=0)
    X[1:, names.index(parameter)] = values
    outputs = scored.simulator.run(X)
    observations = {o.name: o for o in scored.spec.observations}
    columns = ["estimate", *(f"{parameter} = {v:g}" for v in values)]
    rows = {
        name: np.nansum(whitened(observations[name], pred, data, flags, years) ** 2, axis=1)
        for name, (years, pred, data, flags) in scored.problem.predictions(outputs, X).items()
    }
    frame = pd.DataFrame(rows, index=columns).T
    frame.loc["total"] = frame.sum()
    return frame


def _span(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "—"
    return f"[{lo:.4g}, {hi:.4g}]"


def _one(st: dict[str, float]) -> str:
    mape, um, us, uc = st["mape"], st["um"], st["us"], st["uc"]
    if math.isnan(mape):
        quality = "no MAPE (zero in the data)"
    elif mape <= GOOD_MAPE:
        quality = f"close (MAPE {mape:.0f} %)"
    elif mape <= FAIR_MAPE:
        quality = f"fair (MAPE {mape:.0f} %)"
    else:
        quality = f"poor (MAPE {mape:.0f} %)"
    if um >= SYSTEMATIC:
        side = ""
        if st.get("mean_act"):
            off = st["mean_sim"] / st["mean_act"] - 1.0
            side = f", the model {'above' if off > 0 else 'below'} the data by {abs(off):.0%}"
        kind = f"mostly a level bias (U^M{side}): a structural error, not noise"
    elif us >= SYSTEMATIC:
        kind = "mostly unequal variation (U^S): the model misses the trend or swings"
    elif uc >= SYSTEMATIC and (math.isnan(mape) or mape <= FAIR_MAPE):
        kind = "mostly unsystematic (U^C): point-by-point noise the model need not follow"
    elif uc >= SYSTEMATIC:
        kind = "mostly unequal covariation (U^C): the timing of the swings differs"
    else:
        kind = "error split between bias, variation and noise"
    r = st.get("r", math.nan)
    if not math.isnan(r) and r < 0:
        kind += f"; it moves against the data (r {r:.2f}): R² hides the sign"
    return f"{quality}, {kind}"


def verdict(entry: dict[str, Any]) -> str:
    """A sentence on one series: fit quality, kind of error, and whether it holds out."""
    fit, hold = entry.get("fit"), entry.get("holdout")
    if not fit:
        return "no fit statistics (fewer than 2 points)"
    text = "Fit: " + _one(fit) + "."
    if hold:
        text += " Held out: " + _one(hold) + "."
        if hold["mape"] > 2 * max(fit["mape"], 1.0):
            text += " The error more than doubles out of sample: the fit does not carry forward."
    else:
        text += " No held-out years."
    return text


def verdicts(doc: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"series": n, "verdict": verdict(e)} for n, e in doc.get("series", {}).items()]
    )


def load_review(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The results TOML as a dict (see :mod:`nea_sd.calibrate.results`)."""
    return read_result(Path(path))
