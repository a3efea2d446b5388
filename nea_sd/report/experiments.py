"""H4, H5, H6 and H8: designed experiments on common draws, each contrast with an interval.

Every experiment runs a few variants (a strategy of ``models/scenarios.toml`` plus overrides)
on the same ``ctx`` draws, reads its outcomes at :data:`YEARS`, and reports each contrast
(a signed sum of variants, e.g. a difference or an interaction) as a mean over the draws with
a bootstrap 95% interval and the share of draws in which it is positive. The verdict follows
from the contrasts' intervals (:func:`both` where the claim has two parts). Intervention sizes
are fixed in advance at values the model's declared ranges name (the history's THAAD size,
half the largest activism share, half the largest restraint rate), never tuned to an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from nea_sd.outcomes import vocabulary_for
from nea_sd.report.core import Context, Section, Verdict, decide
from nea_sd.report.sectionkit import (
    STAT,
    Variants,
    diverged_json,
    draws,
    figure,
    interval_array,
    run_variants,
)

YEARS = (2030.0, 2035.0, 2040.0, 2050.0)
ACTORS = ("US", "CN", "RU", "JP", "KR", "KP", "MN")
SUMMIT_TIME = 2027.0
SUMMIT_DURATION = 0.75  # the 2018 window's length (the history scenario's)
SHOCK_SIZE = 2.0  # the history's THAAD size (top of the declared range [0, 2])
SHOCK_TIME = 2028.0
ACTIVISM = {"KR": 0.5 / 3, "KP": 0.5 / 3, "MN": 0.5 / 3}  # half the programme, shared
RESTRAINT = 0.1  # half the largest declared rate (0.2 per year)


@dataclass(frozen=True)
class Contrast:
    """A signed sum of variants' outcomes (variant -> weight), read at ``year``."""

    name: str
    weights: Mapping[str, float]


def both(first: Verdict, second: Verdict) -> Verdict:
    """A two-part claim: supported when both parts are, rejected when either is, else depends."""
    reason = f"{first.reason}; {second.reason}"
    if first.label == second.label == "supported":
        return Verdict("supported", reason)
    if "rejected" in (first.label, second.label):
        return Verdict("rejected", reason)
    depends = tuple(dict.fromkeys(first.depends_on + second.depends_on))
    return Verdict("depends", reason, depends)


def _outcomes(ctx: Context, result: xr.Dataset, extra: Callable | None) -> xr.Dataset:
    """Regional security trust and arms burden at :data:`YEARS` (+ ``extra(result)``)."""
    vocabulary = vocabulary_for(ctx.model)
    at = result.interp(time=list(YEARS)).rename(time="year")
    out = xr.Dataset(
        {
            "security_trust": at[vocabulary.security_trust],
            "arms_burden": at[vocabulary.arms_burden],
        }
    )
    if extra is not None:
        out = out.merge(extra(result, at))
    return out


def frontier_of(values: np.ndarray, gains: np.ndarray, names: list[str]) -> tuple[str, ...]:
    """Gains ranked by |correlation| with a per-draw contrast (top three)."""
    ok = np.isfinite(values)
    if gains.size == 0 or ok.sum() < 3 or np.std(values[ok]) == 0:
        return ()
    scores = [
        abs(np.corrcoef(g[ok], values[ok])[0, 1]) if np.std(g[ok]) > 0 else 0.0 for g in gains.T
    ]
    return tuple(names[i] for i in np.argsort(scores)[::-1][:3])


def run_experiment(
    ctx: Context,
    key: str,
    variants: Variants,
    contrasts: list[Contrast],
    outputs: list[str],
    extra: Callable | None = None,
) -> xr.Dataset:
    """Outcomes (variant, draw, year) of every variant and each contrast's statistics."""
    vocabulary = vocabulary_for(ctx.model)
    sets = draws(ctx)
    names = [vocabulary.security_trust, vocabulary.arms_burden, *outputs]
    result = run_variants(ctx, variants, list(dict.fromkeys(names)), f"{key}: runs", sets)
    outcomes = _outcomes(ctx, result, extra)
    ds = xr.Dataset({f"outcome_{k}": v for k, v in outcomes.data_vars.items()})
    ds["diverged"] = result["diverged"]
    gains = np.array([[s[g] for g in ctx.gains] for s in sets]).reshape(len(sets), -1)
    ds["gain_draw"] = (("draw", "gain"), gains)
    for name in outcomes.data_vars:
        values = xr.concat(
            [
                sum(w * outcomes[name].sel(variant=v, drop=True) for v, w in c.weights.items())
                for c in contrasts
            ],
            dim="contrast",
        )
        ds[f"draw_effect_{name}"] = values
        ds[f"effect_{name}"] = xr.apply_ufunc(
            lambda x: interval_array(x, ctx.seed),
            values,
            input_core_dims=[["draw"]],
            output_core_dims=[["stat"]],
            vectorize=True,
        )
        ds[f"p_positive_{name}"] = xr.apply_ufunc(
            lambda x: interval_array(np.where(np.isfinite(x), x > 0, np.nan), ctx.seed),
            values,
            input_core_dims=[["draw"]],
            output_core_dims=[["stat"]],
            vectorize=True,
        )
    ds = ds.assign_coords(
        contrast=[c.name for c in contrasts],
        stat=list(STAT),
        gain=list(ctx.gains),
        weights=("contrast", [repr(dict(c.weights)) for c in contrasts]),
    )
    ds.attrs.update(
        draws=len(sets),
        seed=ctx.seed,
        variants=repr({k: {**v[0], **v[1]} for k, v in variants.items()}),
        diverged_runs=diverged_json(result["diverged"]),
    )
    return ds


def verdict_on(
    numbers: xr.Dataset, contrast: str, year: float, outcome: str = "security_trust", sign: int = 1
) -> Verdict:
    """decide() on a contrast's interval at ``year`` (``sign`` -1: the claim is a decrease)."""
    effect = numbers[f"effect_{outcome}"].sel(contrast=contrast, year=year)
    low, high = sorted(sign * effect.sel(stat=["low", "high"]).values)
    per_draw = sign * numbers[f"draw_effect_{outcome}"].sel(contrast=contrast, year=year).values
    frontier = frontier_of(per_draw, numbers["gain_draw"].values, list(numbers["gain"].values))
    what = f"{'' if sign > 0 else '-'}[{contrast}] {outcome} {year:g}"
    return decide(float(low), float(high), threshold=0.0, frontier=frontier, what=what)


def _strategy(ctx: Context, name: str) -> dict[str, Any]:
    from nea_sd.scenarios import load_scenarios

    return dict(load_scenarios(ctx.model)[name].overrides)


def _element(name: str, values: Mapping[str, float]) -> dict[str, float]:
    return {f"{name}[{actor}]": value for actor, value in values.items()}


def _text(numbers: xr.Dataset, lead: str, outcome: str = "security_trust") -> str:
    lines = [lead, f"{numbers.attrs['draws']} common draws (mean, bootstrap 95% interval):"]
    for c in numbers["contrast"].values:
        cells = []
        for year in numbers["year"].values:
            e = numbers[f"effect_{outcome}"].sel(contrast=c, year=year).values
            cells.append(f"{year:g} {e[0]:+.4f} [{e[1]:+.4f}, {e[2]:+.4f}]")
        lines.append(f"- {c} ({outcome.replace('_', ' ')}): " + "; ".join(cells))
    lines.append(f"Diverged runs (left out): {numbers.attrs['diverged_runs']}.")
    return "\n".join(lines)


def _figure(numbers: xr.Dataset, outcome: str = "security_trust") -> Any:
    fig = figure(6.5, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    effect = numbers[f"effect_{outcome}"]
    for c in effect["contrast"].values:
        e = effect.sel(contrast=c)
        line = ax.plot(e["year"], e.sel(stat="mean"), marker="o", label=str(c))[0]
        ax.fill_between(
            e["year"], e.sel(stat="low"), e.sel(stat="high"), alpha=0.2, color=line.get_color()
        )
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("year")
    ax.set_ylabel(f"effect on {outcome.replace('_', ' ')}")
    ax.legend(fontsize=7)
    return fig


def _dyad_mean(result: xr.Dataset, at: xr.Dataset, mask: np.ndarray, name: str) -> xr.Dataset:
    trust = at["Security trust"]
    dims = [d for d in trust.dims if d not in ("variant", "draw", "year")]
    weights = xr.DataArray(mask, dims=dims)
    return xr.Dataset({name: (trust * weights).sum(dims) / max(mask.sum(), 1)})


# -- H4 ----------------------------------------------------------------------------------------
def h4_numbers(ctx: Context) -> xr.Dataset:
    quiet, cbm = _strategy(ctx, "status-quo"), _strategy(ctx, "military-first")
    summit = {"Summit time": SUMMIT_TIME, "Summit duration": SUMMIT_DURATION}
    variants = {
        "no summit, no follow-through": (quiet, {}),
        "summit, no follow-through": (quiet, summit),
        "no summit, follow-through": (cbm, {}),
        "summit, follow-through": (cbm, summit),
    }
    contrasts = [
        Contrast(
            "summit with follow-through",
            {"summit, follow-through": 1, "no summit, follow-through": -1},
        ),
        Contrast(
            "summit without follow-through",
            {"summit, no follow-through": 1, "no summit, no follow-through": -1},
        ),
        Contrast(
            "follow-through needed (interaction)",
            {
                "summit, follow-through": 1,
                "no summit, follow-through": -1,
                "summit, no follow-through": -1,
                "no summit, no follow-through": 1,
            },
        ),
    ]
    pair = np.asarray(ctx.model.parameters["Summit pair"].value, dtype=float)
    mask = ((pair + pair.T) > 0).astype(float)
    extra = lambda result, at: _dyad_mean(result, at, mask, "summit_dyads_trust")  # noqa: E731
    ds = run_experiment(ctx, "H4", variants, contrasts, ["Security trust"], extra)
    ds.attrs.update(summit=f"{SUMMIT_TIME:g} for {SUMMIT_DURATION:g} years, the summit pairs")
    return ds


def h4_verdict(numbers: xr.Dataset) -> Verdict:
    """Supported when a summit with follow-through raises the summit dyads' trust in 2030 and
    the interaction (with minus without follow-through) is positive."""
    return both(
        verdict_on(numbers, "summit with follow-through", 2030.0, "summit_dyads_trust"),
        verdict_on(numbers, "follow-through needed (interaction)", 2030.0, "summit_dyads_trust"),
    )


def h4_section(ctx: Context) -> Section:
    """H4: summits speed confidence building but need follow-through."""
    numbers = h4_numbers(ctx)
    lead = (
        f"A summit in {SUMMIT_TIME:g} ({SUMMIT_DURATION:g} years, the model's summit pairs) "
        "without follow-through (status quo: no CBMs) and with it (military-first: CBMs from "
        "2026); outcome: the summit dyads' mean security trust."
    )
    return Section(
        key="H4",
        title="Summits with and without follow-through",
        claim="Summits speed confidence building but need follow-through",
        verdict=h4_verdict(numbers),
        numbers=numbers,
        text=_text(numbers, lead, "summit_dyads_trust"),
        figures={"h4_effects": _figure(numbers, "summit_dyads_trust")},
    )


# -- H5 ----------------------------------------------------------------------------------------
def h5_numbers(ctx: Context) -> xr.Dataset:
    ff = _strategy(ctx, "functional-first")
    variants = {
        "functional-first": (ff, {}),
        "functional-first with small-state activism": (
            ff,
            _element("Small state activism", ACTIVISM),
        ),
    }
    contrasts = [
        Contrast(
            "activism at equal effort",
            {"functional-first with small-state activism": 1, "functional-first": -1},
        )
    ]

    def extra(result: xr.Dataset, at: xr.Dataset) -> xr.Dataset:
        effort = result["Activism effort"]
        dims = [d for d in effort.dims if d not in ("variant", "draw", "time")]
        total = effort.sum(dims)
        spent = [
            (total * (total["time"] <= y)).integrate("time").assign_coords(year=y) for y in YEARS
        ]
        return xr.Dataset({"activism_effort": xr.concat(spent, dim="year")})

    ds = run_experiment(ctx, "H5", variants, contrasts, ["Activism effort"], extra)
    spent = ds["outcome_activism_effort"].sel(variant="functional-first with small-state activism")
    per_unit = ds["draw_effect_security_trust"].sel(contrast="activism at equal effort") / spent
    ds["trust_per_unit_effort"] = xr.apply_ufunc(
        lambda x: interval_array(x, ctx.seed),
        per_unit.where(spent > 0),
        input_core_dims=[["draw"]],
        output_core_dims=[["stat"]],
        vectorize=True,
    )
    ds.attrs.update(activism=repr(ACTIVISM))
    return ds


def h5_verdict(numbers: xr.Dataset) -> Verdict:
    """Supported when moving part of the functional effort to small states' activism (equal
    total effort) raises regional security trust in 2040."""
    return verdict_on(numbers, "activism at equal effort", 2040.0)


def h5_section(ctx: Context) -> Section:
    """H5: small-state functional activism matters per unit of effort."""
    numbers = h5_numbers(ctx)
    lead = (
        "Functional-first with half its functional effort spent as the Koreas' and Mongolia's "
        "own activism, against functional-first, at equal total effort."
    )
    per_unit = numbers["trust_per_unit_effort"].sel(year=2040.0).values
    text = _text(numbers, lead) + (
        f"\nTrust gained per unit of activism effort by 2040: {per_unit[0]:+.4f} "
        f"[{per_unit[1]:+.4f}, {per_unit[2]:+.4f}]."
    )
    return Section(
        key="H5",
        title="Small-state activism per unit of effort",
        claim="Small-state functional activism matters per unit of effort",
        verdict=h5_verdict(numbers),
        numbers=numbers,
        text=text,
        figures={"h5_effects": _figure(numbers)},
    )


# -- H6 ----------------------------------------------------------------------------------------
def h6_numbers(ctx: Context) -> xr.Dataset:
    ff = _strategy(ctx, "functional-first")
    shock = {"Alliance shock size": SHOCK_SIZE, "Alliance shock time": SHOCK_TIME}
    off = {"Bloc polarisation": 0.0, "Alliance threat sensitivity": 0.0}
    variants = {
        "no shock": (ff, {}),
        "shock": (ff, shock),
        "no shock, spread off": (ff, off),
        "shock, spread off": (ff, {**shock, **off}),
    }
    contrasts = [
        Contrast("shock (omega and alliance threat on)", {"shock": 1, "no shock": -1}),
        Contrast("shock (both off)", {"shock, spread off": 1, "no shock, spread off": -1}),
        Contrast(
            "spread by omega and alliance threat",
            {"shock": 1, "no shock": -1, "shock, spread off": -1, "no shock, spread off": 1},
        ),
    ]
    pattern = np.asarray(ctx.model.parameters["Alliance shock pattern"].value, dtype=float)
    mask = (1 - np.eye(len(pattern))) * ((pattern + pattern.T) == 0)
    extra = lambda result, at: _dyad_mean(result, at, mask, "third_party_trust")  # noqa: E731
    ds = run_experiment(ctx, "H6", variants, contrasts, ["Security trust"], extra)
    ds.attrs.update(shock=f"size {SHOCK_SIZE:g} in {SHOCK_TIME:g}, the model's shock pattern")
    return ds


def h6_verdict(numbers: xr.Dataset) -> Verdict:
    """Supported when the shock lowers third parties' trust in 2030 and omega with the
    alliance-threat sensitivity is what spreads it (the interaction is negative)."""
    return both(
        verdict_on(
            numbers, "shock (omega and alliance threat on)", 2030.0, "third_party_trust", -1
        ),
        verdict_on(numbers, "spread by omega and alliance threat", 2030.0, "third_party_trust", -1),
    )


def h6_section(ctx: Context) -> Section:
    """H6: an alliance buildup (THAAD-like) spreads distrust, with omega on and off."""
    numbers = h6_numbers(ctx)
    lead = (
        f"An alliance buildup shock of size {SHOCK_SIZE:g} in {SHOCK_TIME:g} (the model's pattern,"
        " US-ROK) under functional-first, with omega (bloc polarisation) and the alliance-threat "
        "sensitivity at the base and both 0; outcome: the mean security trust of the dyads "
        "outside the alliance (third parties)."
    )
    return Section(
        key="H6",
        title="An alliance shock spreads distrust",
        claim="Alliance buildup spreads distrust to third parties (THAAD-like shock, omega on/off)",
        verdict=h6_verdict(numbers),
        numbers=numbers,
        text=_text(numbers, lead, "third_party_trust"),
        figures={"h6_effects": _figure(numbers, "third_party_trust")},
    )


# -- H8 ----------------------------------------------------------------------------------------
def h8_numbers(ctx: Context) -> xr.Dataset:
    quiet = _strategy(ctx, "status-quo")
    variants: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {"no restraint": (quiet, {})}
    for actor in ("US", "CN"):
        variants[f"GRIT by {actor}"] = (quiet, {f"Restraint rate[{actor}]": RESTRAINT})
    contrasts = [
        Contrast(f"GRIT by {a}", {f"GRIT by {a}": 1, "no restraint": -1}) for a in ("US", "CN")
    ]

    def extra(result: xr.Dataset, at: xr.Dataset) -> xr.Dataset:
        later = result.sel(time=slice(2026, None))
        seen = later["Restraint observed"]
        arming = later["Excess arming seen"]
        dims = [d for d in seen.dims if d not in ("variant", "draw")]
        spending = at["Military expenditure"]
        actor_dim = next(d for d in spending.dims if d not in ("variant", "draw", "year"))
        total = spending.sum(actor_dim)
        others = xr.concat(
            [total - spending.isel({actor_dim: ACTORS.index(a)}, drop=True) for a in ("US", "CN")],
            dim="actor_excluded",
        ).assign_coords(actor_excluded=["US", "CN"])
        return xr.Dataset(
            {
                "restraint_observed_max": seen.max(dims).expand_dims(year=list(YEARS)),
                "excess_arming_max": arming.max(dims).expand_dims(year=list(YEARS)),
                "others_spending": others,
            }
        )

    outputs = ["Restraint observed", "Excess arming seen", "Military expenditure"]
    ds = run_experiment(ctx, "H8", variants, contrasts, outputs, extra)
    grit = [v for v in variants if v != "no restraint"]
    ds["reciprocation"] = (("variant_grit", "year", "stat"), _reciprocation(ctx, variants, ds))
    seen = ds["outcome_restraint_observed_max"].sel(variant=grit).isel(year=0)
    ds["p_restraint_observed"] = (
        ("variant_grit", "stat"),
        np.array(
            [interval_array(np.where(np.isfinite(r), r > 0, np.nan), ctx.seed) for r in seen.values]
        ),
    )
    quiet_seen = ds["outcome_restraint_observed_max"].sel(variant="no restraint").isel(year=0)
    ds["p_restraint_observed_without_grit"] = (
        ("stat",),
        interval_array(np.where(np.isfinite(quiet_seen), quiet_seen > 0, np.nan), ctx.seed),
    )
    arming = ds["outcome_excess_arming_max"].isel(year=0)
    ds["p_intent_spiral_active"] = (
        ("variant", "stat"),
        np.array(
            [
                interval_array(np.where(np.isfinite(r), r > 0, np.nan), ctx.seed)
                for r in arming.values
            ]
        ),
    )
    ds = ds.assign_coords(variant_grit=grit)
    ds.attrs.update(restraint=f"rate {RESTRAINT:g} per year from the model's restraint start")
    return ds


def _reciprocation(ctx: Context, variants: Variants, ds: xr.Dataset) -> np.ndarray:
    """Relative change of the other actors' military expenditure (all but the initiator) under
    each GRIT variant against no restraint, per year: reciprocation, if negative."""
    spending = ds["outcome_others_spending"]
    rows = []
    for name, (_, experiment) in variants.items():
        if name == "no restraint":
            continue
        actor = next(iter(experiment)).split("[")[1].rstrip("]")
        others = spending.sel(actor_excluded=actor)
        change = others.sel(variant=name) / others.sel(variant="no restraint") - 1
        rows.append([interval_array(change.sel(year=y).values, ctx.seed) for y in YEARS])
    return np.array(rows)


def h8_verdict(numbers: xr.Dataset) -> Verdict:
    """Rejected where restraint is never observed (loop B2 dormant in every run); otherwise
    supported when GRIT by either great power raises regional security trust in 2040."""
    observed = numbers["p_restraint_observed"].sel(stat="mean").values
    if np.nanmax(np.nan_to_num(observed, nan=0.0)) == 0:
        return Verdict(
            "rejected",
            "restraint observed in 0 of the GRIT runs: loop B2 is dormant (no partner ever "
            "reads the restraint beyond the tolerance band), so GRIT cannot work as reciprocation",
        )
    return both(
        verdict_on(numbers, "GRIT by US", 2040.0), verdict_on(numbers, "GRIT by CN", 2040.0)
    )


def h8_section(ctx: Context) -> Section:
    """H8: reciprocated restraint (GRIT) breaks the spiral, with the intent spiral active."""
    numbers = h8_numbers(ctx)
    lead = (
        f"Unilateral restraint (GRIT) at {RESTRAINT:g} per year by the US or China from the "
        "model's restraint start, against no restraint, with the intent spiral active (intent "
        "read from spending growth, the model's default)."
    )
    observed = numbers["p_restraint_observed"]
    spiral = numbers["p_intent_spiral_active"]
    notes = [
        f"- restraint observed by a partner (loop B2 live) under {v}: "
        f"{observed.sel(variant_grit=v, stat='mean'):.0%} of draws"
        for v in observed["variant_grit"].values
    ]
    quiet = numbers["p_restraint_observed_without_grit"].sel(stat="mean")
    notes.append(f"- restraint observed without any GRIT (background): {float(quiet):.0%} of draws")
    recip = numbers["reciprocation"].sel(year=2040.0)
    notes += [
        f"- reciprocation under {v}: the other actors' military expenditure in 2040 changes by "
        f"{float(recip.sel(variant_grit=v, stat='mean')):+.2%} "
        f"[{float(recip.sel(variant_grit=v, stat='low')):+.2%}, "
        f"{float(recip.sel(variant_grit=v, stat='high')):+.2%}]"
        for v in recip["variant_grit"].values
    ]
    notes += [
        f"- intent spiral active (excess arming seen > 0) under {v}: "
        f"{spiral.sel(variant=v, stat='mean'):.0%} of draws"
        for v in spiral["variant"].values
    ]
    return Section(
        key="H8",
        title="GRIT with the intent spiral active",
        claim="Reciprocated restraint (GRIT) breaks the spiral",
        verdict=h8_verdict(numbers),
        numbers=numbers,
        text=_text(numbers, lead)
        + "\n"
        + "\n".join(notes)
        + "\n"
        + _text(
            numbers, "Reciprocation: the same contrasts on the regional arms burden.", "arms_burden"
        ),
        figures={"h8_effects": _figure(numbers)},
    )
