"""The calibration issue's acceptance criteria, read from committed results (issue 12).

Each :class:`Criterion` names the result it was read from, the number, the target and whether
it is met; a criterion a result cannot speak to (no poll series, no posterior) is absent, not
passed. The targets are the issue's and are never loosened here:

- every poll series: fit-period r ≥ 0.5 and U^S ≤ 0.3;
- held-out spending bias (mean simulated / mean observed − 1) within ±10 % for US, CN, KR;
- reduced χ² ≤ 2 under the estimated error scales; no model parameter at a bound that is not
  physical (a lower bound of 0 is: every model parameter is a magnitude whose sign the
  structure fixes — a reaction, a rate, a size — so 0 is "the mechanism is absent", a finding;
  any other limit is the modeller's range, and the data pushing against it is a structural
  question, as is a parameter at a bound whose side the document does not say);
- at most 3 distinct optima within the profile threshold among ≥ 20 starts;
- posterior: R-hat < 1.01 and bulk ESS ≥ 400 for every parameter (and no nested-sampling
  run stopped at its model-run cap: an unfinished run is no posterior, whatever R-hat says);
- speed: the nested sampler's own overhead (all but the batch engine's simulations) < 20 %.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nea_sd.calibrate._report import text_table

POLL_R_MIN = 0.5
POLL_US_MAX = 0.3
BIAS_MAX = 0.10
BIAS_ACTORS = ("US", "CN", "KR")
CHI2_MAX = 2.0
OPTIMA_MAX = 3
STARTS_MIN = 20
RHAT_MAX = 1.01
ESS_MIN = 400
OVERHEAD_MAX = 0.20
POLL_CRITERION = "fit r, U^S"  # per poll: "<series>: fit r, U^S"
BOUND_CRITERION = "model parameters at a bound that is not physical"


@dataclass(frozen=True)
class Criterion:
    """One acceptance check on one result: ``value`` against ``target``."""

    result: str
    criterion: str
    value: str
    target: str
    met: bool


def as_float(x: Any) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return math.nan
    return value


def holdout_bias(entry: Mapping[str, Any]) -> float:
    """A series' held-out bias in a results document: mean simulated / mean observed − 1
    (NaN without held-out statistics)."""
    hold = entry.get("holdout") or {}
    return as_float(hold.get("mean_sim")) / as_float(hold.get("mean_act")) - 1.0


def at_physical_bound(entry: Mapping[str, Any]) -> bool:
    """Whether a parameter's estimate sits on a lower bound of 0 (see the module doc); False
    when the document gives no estimate or bounds to tell which bound it is at."""
    bounds, estimate = entry.get("bounds"), as_float(entry.get("estimate"))
    if not bounds or len(bounds) != 2:
        return False
    lo, hi = (as_float(b) for b in bounds)
    label = str(entry.get("identifiability", ""))
    if "lower bound" in label or "upper bound" in label:  # the profile's verdict names it
        return lo == 0.0 and "lower bound" in label
    return lo == 0.0 and not math.isnan(estimate) and abs(estimate - lo) <= abs(hi - estimate)


def is_poll(entry: Mapping[str, Any]) -> bool:
    """Whether a results document's series entry is a poll the poll criterion reads."""
    return str(entry.get("series", "")).startswith("genron:")


def poll_series(doc: Mapping[str, Any]) -> list[str]:
    """The names of the poll series in a results document, in its order."""
    return [name for name, entry in doc.get("series", {}).items() if is_poll(entry)]


def bound_hits(doc: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The model parameters of a results document at a bound: (not physical, physical)."""
    params = doc.get("parameters", {})
    at_bound = [
        p
        for p, e in params.items()
        if e.get("kind") == "model"
        and (e.get("at_bound") or str(e.get("identifiability", "")).startswith("bound-active"))
    ]
    physical = [p for p in at_bound if at_physical_bound(params[p])]
    return [p for p in at_bound if p not in physical], physical


def criteria(name: str, doc: Mapping[str, Any]) -> list[Criterion]:
    """The acceptance checks one results document can speak to."""
    out: list[Criterion] = []
    cal = doc.get("calibration", {})
    for series, entry in doc.get("series", {}).items():
        fit, hold = entry.get("fit") or {}, entry.get("holdout") or {}
        if is_poll(entry) and fit:
            r, us = as_float(fit.get("r")), as_float(fit.get("us"))
            out.append(
                Criterion(
                    name,
                    f"{series}: {POLL_CRITERION}",
                    f"r {r:.2f}, U^S {us:.2f}",
                    f"r >= {POLL_R_MIN}, U^S <= {POLL_US_MAX}",
                    r >= POLL_R_MIN and us <= POLL_US_MAX,
                )
            )
        selector = str(entry.get("series", ""))
        if selector.startswith("sipri:") and selector.rsplit(":", 1)[-1] in BIAS_ACTORS and hold:
            bias = holdout_bias(entry)
            out.append(
                Criterion(
                    name,
                    f"{series}: held-out bias",
                    f"{100 * bias:+.1f}% (U^M {as_float(hold.get('um')):.2f})",
                    f"within +/-{100 * BIAS_MAX:.0f}%",
                    abs(bias) <= BIAS_MAX,
                )
            )
    chi2 = as_float(cal.get("reduced_chi2"))
    if not math.isnan(chi2):
        out.append(
            Criterion(name, "reduced chi2", f"{chi2:.2f}", f"<= {CHI2_MAX}", chi2 <= CHI2_MAX)
        )
    params = doc.get("parameters", {})
    if params:
        other, physical = bound_hits(doc)
        value = ", ".join(other) or "none"
        if physical:
            value += f" (at the physical bound 0: {', '.join(physical)})"
        out.append(
            Criterion(
                name,
                BOUND_CRITERION,
                value,
                "none",
                not other,
            )
        )
    if "distinct_optima_within_threshold" in cal:
        starts, optima = int(cal.get("starts", 0)), int(cal["distinct_optima_within_threshold"])
        extra = [
            f"{cal[key]} {label}"
            for key, label in (
                ("basins_within_threshold", "basin(s)"),
                ("unconverged_starts", "start(s) not converged"),
            )
            if cal.get(key)
        ]
        out.append(
            Criterion(
                name,
                "distinct optima within threshold",
                f"{optima} of {starts} starts" + (f" ({', '.join(extra)})" if extra else ""),
                f"<= {OPTIMA_MAX} among >= {STARTS_MIN} starts",
                optima <= OPTIMA_MAX and starts >= STARTS_MIN,
            )
        )
    rhat = [as_float(e.get("rhat")) for e in params.values() if "rhat" in e]
    ess = [as_float(e.get("ess_bulk")) for e in params.values() if "ess_bulk" in e]
    nested = doc.get("nested", {})
    capped = int(nested.get("capped_runs", 0))
    if rhat:
        note = f" ({capped} of {nested.get('runs')} runs stopped at the cap)" if capped else ""
        out.append(
            Criterion(
                name,
                "posterior R-hat, bulk ESS (worst)",
                f"R-hat {max(rhat):.3f}, ESS {min(ess):.0f}{note}",
                f"R-hat < {RHAT_MAX}, ESS >= {ESS_MIN}",
                max(rhat) < RHAT_MAX and min(ess) >= ESS_MIN and not capped,
            )
        )
    if "overhead_fraction" in nested:
        share = as_float(nested["overhead_fraction"])
        out.append(
            Criterion(
                name,
                "nested-sampling overhead",
                f"{100 * share:.0f}% of {as_float(nested.get('elapsed_seconds')):.0f} s",
                f"< {100 * OVERHEAD_MAX:.0f}%",
                share < OVERHEAD_MAX,
            )
        )
    if "evidence" in doc:
        variants = [v for v in doc["evidence"].values() if isinstance(v, Mapping)]
        with_error = [v for v in variants if math.isfinite(as_float(v.get("log_z_err")))]
        out.append(
            Criterion(
                name,
                "structural variants with log evidence",
                f"{len(with_error)} (of {len(variants)}) with Monte Carlo error",
                ">= 4 with Monte Carlo error",
                len(with_error) >= 4,
            )
        )
    return out


def acceptance_table(rows: list[Criterion]) -> str:
    body = [[c.result, c.criterion, c.value, c.target, "met" if c.met else "NOT met"] for c in rows]
    return text_table(("result", "criterion", "value", "target", "verdict"), body)
