"""The feedback-loop section: how the order of cooperation changes which loops dominate.

Per strategy, over the ensemble of common draws (Loops That Matter, one loop set fixed by the
base under functional-first): each named loop's mean relative-score share over 2026–2050 and
the share of that period it dominates (explains at least half); whether and when the trust
loops (R1+R2) overtake the spirals (R3+R4+R6, MODEL.md §4); the differences functional-first
minus every other strategy with bootstrap intervals; and the Sobol indices of the FF − MF
difference (loop dominance as a sensitivity output), which say which parameters decide it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from nea_sd.errors import InvalidValueError
from nea_sd.loops.dominance import (
    SPIRALS,
    TRUST_LOOPS,
    dominance_data,
    loop_names,
    present,
    set_share,
    sustained_from,
)
from nea_sd.model.params import split_element_key
from nea_sd.outcomes import vocabulary_for
from nea_sd.report.core import Context, Section, decide
from nea_sd.report.sectionkit import (
    STAT,
    compose,
    diverged_json,
    draws,
    figure,
    interval_array,
    resolved_sets,
    run_variants,
)

START = 2026.0
STRATEGIES = ("functional-first", "military-first", "simultaneous", "trust-gated")
FIRST, SECOND = "functional-first", "military-first"
#: the smallest change of the trust loops' share (of all loop dominance) counted as a change
#: of the feedback structure: one percentage point, declared before any result is seen
MATERIAL = 0.01
DOMINANT = 0.5
SHOWN = MATERIAL / 10  # the prose lists loop-share changes from this size (all are in the numbers)
SOBOL_FROM = 32  # ensembles smaller than this (tests) skip the Sobol indices, and say so
#: years between scored steps: dominance read yearly (the model saves quarterly; loop scores
#: are instantaneous, so this samples the same curves four times less often)
SCORED_EVERY = 1.0


def _strategies(ctx: Context) -> dict[str, dict[str, Any]]:
    from nea_sd.scenarios import load_scenarios

    known = load_scenarios(ctx.model)
    return {name: dict(known[name].overrides) for name in STRATEGIES if name in known}


def _sobol(ctx: Context, strategies: dict[str, dict[str, Any]]) -> xr.Dataset | None:
    """Sobol indices (ST, S1 and half-widths) of the FF − MF trust-loop share and overtake year."""
    from nea_sd.sensitivity import build_problem, make_evaluator, run_sweep, spec_from_dict

    if ctx.samples < SOBOL_FROM or not ctx.gains or FIRST not in strategies:
        return None
    if SECOND not in strategies:
        return None
    d = len(ctx.gains)
    n = 2 ** max(2, int(math.log2(max(4, ctx.samples // (d + 2)))))
    window = {"start": START, "end": float(ctx.model.time["final"])}
    spec = {
        "sweep": {
            "calc_second_order": False,
            "chunk_size": max(8, n * (d + 2) // (2 * max(1, ctx.workers or 1))),
            "loop_saveper": SCORED_EVERY,
        },
        "parameters": {k: {"range": [float(lo), float(hi)]} for k, (lo, hi) in ctx.gains.items()},
        "outputs": {
            "trust_share": {"kind": "loop_dominance", "loops": list(TRUST_LOOPS), **window},
            "overtake_year": {"kind": "loop_dominance", "statistic": "overtake", **window},
        },
    }
    problem = build_problem(ctx.model, spec_from_dict(spec))
    # the pair on the report's base; a drawn gain the scenario file also sets (a scenario axis)
    # is the factor's, as in the ensemble (see sectionkit.compose)
    drawn = {split_element_key(k)[0] for k in ctx.gains} | set(ctx.gains)
    bases = tuple(
        ctx.model.parameters.resolve(
            {
                **ctx.base,
                **{k: v for k, v in strategies[s].items() if split_element_key(k)[0] not in drawn},
            }
        )
        for s in (FIRST, SECOND)
    )
    problem = replace(problem, bases=bases, scenarios=(FIRST, SECOND), paired=True)
    ctx.progress("loops: Sobol of FF - MF", 0, 1)
    evaluator = make_evaluator(problem, workers=ctx.workers, scheduler=ctx.scheduler)
    result = run_sweep(problem, "sobol", n, seed=ctx.seed, evaluator=evaluator)
    ctx.progress("loops: Sobol of FF - MF", 1, 1)
    ds = result.dataset
    return xr.Dataset(
        {
            "sobol_index": ds["indices"].sel(index=["ST", "S1"]),
            "sobol_conf": ds["conf"].sel(index=["ST", "S1"]),
        }
    ).rename({"output": "sobol_output", "parameter": "sobol_parameter", "index": "sobol_kind"})


def _per_loop(values: xr.DataArray, strategy: list[str], seed: int) -> tuple[Any, np.ndarray]:
    """[mean, low, high] over runs per strategy and named loop, as a Dataset entry."""
    return (
        ("strategy", "loop_name", "stat"),
        np.array(
            [
                [
                    interval_array(values.sel(strategy=s, loop_name=n), seed)
                    for n in values["loop_name"].values
                ]
                for s in strategy
            ]
        ),
    )


def preflight(ctx: Context) -> None:
    """Refuse, before any section runs, a model without the named loops this section compares
    (otherwise the whole report would run and then fail here)."""
    names = loop_names(ctx.model.path, ctx.model.path.stem)
    trust, spirals = present(TRUST_LOOPS, names), present(SPIRALS, names)
    if not trust or not spirals:
        raise InvalidValueError(
            f"the loops section compares the trust loops {', '.join(TRUST_LOOPS)} with the "
            f"spirals {', '.join(SPIRALS)}, but {ctx.model.path.name} names "
            f"{', '.join(names) or 'no loops'} in loops.toml (beside the model or one folder "
            'up); add its loops there, or like = "<model>" for a structural variant'
        )


def compute(ctx: Context, *, sobol: bool = True) -> xr.Dataset:
    """Every number of the section (see the module doc), labelled."""
    strategies = _strategies(ctx)
    names = loop_names(ctx.model.path, ctx.model.path.stem)
    trust, spirals = present(TRUST_LOOPS, names), present(SPIRALS, names)
    sets = draws(ctx)
    outputs = [vocabulary_for(ctx.model).security_trust]
    variants = {name: (overrides, {}) for name, overrides in strategies.items()}
    runs = run_variants(ctx, variants, outputs, "loops: runs", sets)  # divergence per run
    pilot = ctx.model.parameters.resolve({**ctx.base, **strategies[FIRST]})
    final = float(ctx.model.time["final"])
    shares, dominant, overtake, profiles = [], [], [], []
    for done, (name, overrides) in enumerate(strategies.items()):
        ctx.progress("loops: scores", done, len(strategies))
        params = resolved_sets(ctx, [compose(ctx, s, overrides) for s in sets])
        data = dominance_data(
            ctx.model.path,
            params,
            len(sets),
            pilot,
            workers=ctx.workers or 1,
            saveper=SCORED_EVERY,
            score_from=START,
        )
        bad = runs["diverged"].sel(variant=name).values
        named = abs(data["loop_named"]).where(xr.DataArray(~bad, dims="run"))
        times = data["loop_time"].values
        inside = xr.DataArray((times >= START - 1e-9) & (times <= final + 1e-9), dims="loop_time")
        window = named.where(inside, drop=True)
        shares.append(window.mean("loop_time"))
        dominant.append((window >= DOMINANT).mean("loop_time").where(~np.isnan(window[:, 0])))
        t_share = set_share(data, trust).where(inside, drop=True)
        s_share = set_share(data, spirals).where(inside, drop=True)
        ahead = (t_share > s_share).values
        year = sustained_from(ahead, t_share["loop_time"].values, START, final)
        year = np.where(ahead[:, -1], year, np.nan)  # NaN: the spirals still lead at the end
        overtake.append(np.where(bad, np.nan, year))
        profiles.append(
            xr.concat([t_share, s_share], dim="loop_set")
            .where(xr.DataArray(~bad, dims="run"))
            .median("run")
        )
    ctx.progress("loops: scores", len(strategies), len(strategies))
    strategy = list(strategies)
    share = xr.concat(shares, dim="strategy").assign_coords(strategy=strategy)
    dom = xr.concat(dominant, dim="strategy").assign_coords(strategy=strategy)
    years = xr.DataArray(
        np.array(overtake), dims=("strategy", "run"), coords={"strategy": strategy}
    )
    overtook = years.notnull().where(
        ~runs["diverged"].rename(variant="strategy", draw="run").values
    )
    seed = ctx.seed
    others = [s for s in strategy if s != FIRST]
    trust_share = share.sel(loop_name=list(trust)).sum("loop_name", min_count=1)
    diff = np.array(
        [
            [
                interval_array(
                    (share.sel(strategy=FIRST) - share.sel(strategy=o)).sel(loop_name=n), seed
                )
                for n in share["loop_name"].values
            ]
            for o in others
        ]
    )
    ds = xr.Dataset(
        {
            "loop_share": _per_loop(share, strategy, seed),
            "dominant_fraction": _per_loop(dom, strategy, seed),
            "share_difference": (("versus", "loop_name", "stat"), diff),
            "trust_share": (
                ("strategy", "stat"),
                np.array([interval_array(trust_share.sel(strategy=s), seed) for s in strategy]),
            ),
            "trust_share_difference": (
                ("versus", "stat"),
                np.array(
                    [
                        interval_array(
                            trust_share.sel(strategy=FIRST) - trust_share.sel(strategy=o), seed
                        )
                        for o in others
                    ]
                ),
            ),
            "p_trust_overtakes": (
                ("strategy", "stat"),
                np.array([interval_array(overtook.sel(strategy=s).values, seed) for s in strategy]),
            ),
            "overtake_year_median": (
                ("strategy",),
                np.array([np.nanmedian(r) if np.isfinite(r).any() else np.nan for r in overtake]),
            ),
            "profile": xr.concat(profiles, dim="strategy").assign_coords(
                strategy=strategy, loop_set=["trust", "spirals"]
            ),
        },
        coords={
            "strategy": strategy,
            "loop_name": [str(n) for n in share["loop_name"].values],
            "stat": list(STAT),
            "versus": others,
        },
    )
    ds["diverged"] = runs["diverged"].rename(variant="strategy", draw="run")
    ds.attrs.update(
        trust_loops=", ".join(trust),
        spirals=", ".join(spirals),
        window=f"{START:g}-{final:g}",
        draws=len(sets),
        seed=seed,
        material_change=MATERIAL,
        dominance_threshold=DOMINANT,
        diverged_runs=diverged_json(runs["diverged"]),
    )
    if ctx.samples >= SOBOL_FROM and ctx.gains and SECOND in strategies:
        gains = np.array([[s[g] for g in ctx.gains] for s in sets])
        ds = ds.merge(
            ensemble_indices(
                gains, ctx, trust_share.sel(strategy=FIRST) - trust_share.sel(strategy=SECOND)
            )
        )
    if sobol:
        indices = _sobol(ctx, strategies)
        if indices is not None:
            ds = ds.merge(indices)
    return ds


def ensemble_indices(gains: np.ndarray, ctx: Context, difference: xr.DataArray) -> xr.Dataset:
    """First-order indices (SALib's RBD-FAST, on the ensemble's own Latin-hypercube draws: no
    extra runs) of the per-draw FF − MF trust-loop share; diverged draws left out."""
    from SALib.analyze import rbd_fast

    y = np.asarray(difference.values, dtype=float)
    ok = np.isfinite(y)
    names = list(ctx.gains)
    problem = {
        "num_vars": len(names),
        "names": names,
        "bounds": [list(ctx.gains[n]) for n in names],
    }
    with np.errstate(all="ignore"):
        result = rbd_fast.analyze(problem, gains[ok], y[ok], seed=ctx.seed)
    return xr.Dataset(
        {
            "ensemble_s1": (
                ("ensemble_parameter", "ensemble_kind"),
                np.column_stack([result["S1"], result["S1_conf"]]),
            )
        },
        coords={"ensemble_parameter": names, "ensemble_kind": ["S1", "S1_conf"]},
    )


def verdict_from(numbers: xr.Dataset) -> Any:
    """Supported when FF − MF in the trust loops' share lies wholly above :data:`MATERIAL`;
    the frontier of a ``depends`` names the parameters with the largest total Sobol index."""
    low, high = numbers["trust_share_difference"].sel(versus=SECOND, stat=["low", "high"]).values
    frontier: tuple[str, ...] = ()
    if "ensemble_s1" in numbers:  # N draws: steadier than a Sobol design of about 2N runs
        s1 = numbers["ensemble_s1"].sel(ensemble_kind="S1")
        order = np.argsort(-np.nan_to_num(s1.values, nan=-np.inf))[:3]
        frontier = tuple(str(s1["ensemble_parameter"].values[k]) for k in order)
    elif "sobol_index" in numbers:
        st = numbers["sobol_index"].sel(sobol_output="trust_share", sobol_kind="ST")
        ranked = st.dropna("sobol_parameter").sortby(st.dropna("sobol_parameter"), ascending=False)
        frontier = tuple(str(p) for p in ranked["sobol_parameter"].values[:3])
    return decide(
        float(low),
        float(high),
        threshold=MATERIAL,
        frontier=frontier,
        what="FF - MF trust-loop share",
    )


def _text(numbers: xr.Dataset) -> str:
    lines = [
        f"Trust loops {numbers.attrs['trust_loops']} against spirals {numbers.attrs['spirals']}, "
        f"{numbers.attrs['window']}, {numbers.attrs['draws']} common draws "
        "(mean, bootstrap 95% interval)."
    ]
    for s in numbers["strategy"].values:
        t = numbers["trust_share"].sel(strategy=s).values
        p = numbers["p_trust_overtakes"].sel(strategy=s).values
        year = float(numbers["overtake_year_median"].sel(strategy=s))
        when = f"median year {year:g}" if np.isfinite(year) else "never"
        lines.append(
            f"- {s}: trust-loop share {t[0]:.4f} [{t[1]:.4f}, {t[2]:.4f}]; the trust loops "
            f"overtake the spirals in {p[0]:.0%} of draws [{p[1]:.0%}, {p[2]:.0%}] ({when})."
        )
    dom = numbers["dominant_fraction"].sel(stat="mean")
    for s in numbers["strategy"].values:
        held = dom.sel(strategy=s)
        shown = ", ".join(
            f"{n} {float(held.sel(loop_name=n)):.0%}"
            for n in held["loop_name"].values
            if float(held.sel(loop_name=n)) > 0
        )
        lines.append(
            f"- {s}: share of {numbers.attrs['window']} a loop dominates: {shown or 'none'}."
        )
    for o in numbers["versus"].values:
        diff = numbers["share_difference"].sel(versus=o)
        moved = [
            f"{n} {float(diff.sel(loop_name=n, stat='mean')):+.4f}"
            for n in diff["loop_name"].values
            if (diff.sel(loop_name=n, stat="low") > 0 or diff.sel(loop_name=n, stat="high") < 0)
            and abs(float(diff.sel(loop_name=n, stat="mean"))) >= SHOWN
        ]
        lines.append(
            f"- loops whose share changes, FF − {o} (by at least {SHOWN:g}, interval excludes 0): "
            + (", ".join(moved) if moved else "none")
            + "."
        )
    for o in numbers["versus"].values:
        d = numbers["share_difference"].sel(versus=o, stat="mean")
        biggest = d.loop_name.values[int(np.nanargmax(np.abs(d.values)))]
        v = numbers["share_difference"].sel(versus=o, loop_name=biggest).values
        lines.append(
            f"- FF − {o}: largest change in {biggest}, {v[0]:+.4f} [{v[1]:+.4f}, {v[2]:+.4f}]."
        )
    if "ensemble_s1" in numbers:
        s1 = numbers["ensemble_s1"]
        order = np.argsort(-np.nan_to_num(s1.sel(ensemble_kind="S1").values, nan=-np.inf))[:3]
        shown = ", ".join(
            f"{s1.ensemble_parameter.values[k]} {float(s1.sel(ensemble_kind='S1')[k]):.2f} ± "
            f"{float(s1.sel(ensemble_kind='S1_conf')[k]):.2f}"
            for k in order
        )
        lines.append(f"First-order indices (RBD-FAST on the draws) of FF − MF: {shown}.")
    if "sobol_index" in numbers:
        lines.append(sobol_sentence(numbers))
    else:
        lines.append(
            f"Sobol indices of FF − MF not computed: {numbers.attrs['draws']} draws "
            f"(computed from {SOBOL_FROM})."
        )
    lines.append(f"Diverged runs (left out): {numbers.attrs['diverged_runs']}.")
    return "\n".join(lines)


def sobol_sentence(numbers: xr.Dataset) -> str:
    """The three largest total indices of FF − MF in the trust-loop share, and which of them
    are resolved (bootstrap interval above 0): at small N none may be, and the text says so
    rather than ranking noise."""
    st = numbers["sobol_index"].sel(sobol_output="trust_share", sobol_kind="ST")
    conf = numbers["sobol_conf"].sel(sobol_output="trust_share", sobol_kind="ST")
    order = np.argsort(-np.nan_to_num(st.values, nan=-np.inf))[:3]
    names, values, halves = st.sobol_parameter.values, st.values, conf.values
    shown = ", ".join(f"{names[k]} {values[k]:.2f} ± {halves[k]:.2f}" for k in order)
    resolved = np.nan_to_num(values - halves, nan=-1.0) > 0
    verdict = (
        f"resolved (interval above 0) for {', '.join(map(str, names[resolved]))}"
        if resolved.any()
        else "none resolved at this N (every interval reaches 0); rank them with "
        "`nea-sd sensitivity` and a larger N"
    )
    return f"Total Sobol indices of FF − MF in the trust-loop share: {shown}; {verdict}."


def _figures(numbers: xr.Dataset) -> dict[str, Any]:
    fig = figure(7, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    for s in numbers["strategy"].values:
        prof = numbers["profile"].sel(strategy=s)
        line = ax.plot(prof["loop_time"], prof.sel(loop_set="trust"), label=f"{s}: trust")[0]
        ax.plot(
            prof["loop_time"],
            prof.sel(loop_set="spirals"),
            "--",
            color=line.get_color(),
            label=f"{s}: spirals",
        )
    ax.set_xlabel("year")
    ax.set_ylabel("median share of loop dominance")
    ax.legend(fontsize=6, ncol=2)
    fig2 = figure(7, 3.6)
    ax2 = fig2.add_subplot(1, 1, 1)
    diff = numbers["share_difference"].sel(versus=SECOND)
    x = np.arange(diff.sizes["loop_name"])
    mean = diff.sel(stat="mean").values
    ax2.bar(x, mean)
    ax2.errorbar(
        x,
        mean,
        yerr=[mean - diff.sel(stat="low").values, diff.sel(stat="high").values - mean],
        fmt="none",
        color="k",
    )
    ax2.set_xticks(x, list(diff["loop_name"].values), rotation=90, fontsize=7)
    ax2.set_ylabel("share FF − MF")
    return {"loops_trust_vs_spirals": fig, "loops_difference_ff_mf": fig2}


def loops_section(ctx: Context) -> Section:
    """How the order of cooperation changes the feedback loops, answered with numbers."""
    numbers = compute(ctx)
    return Section(
        key="loops",
        title="Feedback loops: how ordering changes which loops dominate",
        claim=(
            "Functional-first strengthens the trust loops (R1+R2) against the spirals "
            f"relative to military-first, by at least {MATERIAL:g} of loop dominance"
        ),
        verdict=verdict_from(numbers),
        numbers=numbers,
        text=_text(numbers),
        figures=_figures(numbers),
    )
