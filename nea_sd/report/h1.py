"""H1 (MODEL.md §7): functional-first beats military-first on regional security trust in 2040,
at equal effort — and where it flips.

Over the paired ensemble: P(FF better than MF) on regional security trust, the lowest salient
dyad's trust and the arms burden at 2030, 2040, 2050 and the 2026–50 mean, per structure, each
with a bootstrap 95 % interval; per strategy the robust criteria (mean, sd, worst 5 %, regret);
the flip frontier (a PRIM box over the gains); and the Sobol indices of FF − MF.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.report.core import Context, Section, decide
from nea_sd.report.ensemble import OUTCOMES, sobol_base_samples
from nea_sd.report.shared import (
    HEADLINE,
    frontier,
    gains_frame,
    main_ensemble,
    outcome_table,
    pairwise,
    restricted,
)
from nea_sd.report.stats import best_worst_case, minimax_regret, robust_criteria

FF, MF = "functional-first", "military-first"
CLAIM = (
    "Functional-first beats military-first on regional security trust in 2040 at equal "
    "effort (MODEL.md §7 H1), over the uncertain mechanism gains."
)


def robust_table(table: xr.DataArray) -> xr.Dataset:
    """Robust criteria per (outcome, when, structure, strategy) and the strategies they pick."""
    blocks = []
    for outcome in table["outcome"].values:
        sign = OUTCOMES[str(outcome)][1]
        rows = []
        for when in table["when"].values:
            cols = []
            for structure in table["structure"].values:
                cell = table.sel(outcome=outcome, when=when, structure=structure)
                crit = robust_criteria(cell.transpose("draw", "strategy"), sign)
                crit["minimax_regret"] = ((), minimax_regret(crit))
                crit["best_worst5"] = ((), best_worst_case(crit, sign))
                crit["draws_used"] = ((), crit.attrs.pop("draws_used"))
                cols.append(crit)
            rows.append(xr.concat(cols, dim="structure"))
        blocks.append(xr.concat(rows, dim="when"))
    ds = xr.concat(blocks, dim="outcome")
    return ds.assign_coords(
        outcome=table["outcome"].values,
        when=table["when"].values,
        structure=table["structure"].values,
    )


def sobol_difference(ctx: Context, a: str = FF, b: str = MF) -> xr.Dataset:
    """Sobol indices (S1, ST with half-widths) of a − b over the gains, through the
    sensitivity machinery (Saltelli's design, SALib's analysis) on the report's base."""
    from nea_sd.report.ensemble import strategies_of
    from nea_sd.sensitivity import build_problem, make_evaluator, run_sweep, spec_from_dict

    outputs = {
        "security_trust_2040": {"kind": "level", "variable": "security_trust", "year": 2040},
        "min_security_trust_2040": {
            "kind": "level",
            "variable": "min_security_trust",
            "year": 2040,
        },
        "arms_burden_2040": {"kind": "level", "variable": "arms_burden", "year": 2040},
    }
    spec = spec_from_dict(
        {
            "sweep": {"calc_second_order": False, "year": 2040, "chunk_size": 4096},
            "parameters": {g: {} for g in ctx.gains},
            "outputs": outputs,
        }
    )
    problem = build_problem(ctx.model, spec)
    strategies = strategies_of(ctx.model)
    bases = tuple(
        ctx.model.parameters.resolve(
            {**ctx.base, **{k: v for k, v in strategies[s].items() if k not in ctx.gains}}
        )
        for s in (a, b)
    )
    problem = dataclasses.replace(problem, scenarios=(a, b), paired=True, bases=bases)
    n = sobol_base_samples(ctx.samples)
    total = n * (len(ctx.gains) + 2) * 2
    done = [0]

    def tick(runs: int) -> None:
        done[0] += runs
        ctx.progress("sobol FF-MF", done[0], total)

    evaluator = make_evaluator(problem, workers=ctx.workers, scheduler=ctx.scheduler)
    result = run_sweep(problem, "sobol", n, seed=ctx.seed, evaluator=evaluator, on_progress=tick)
    ds = result.dataset
    out = xr.Dataset(
        {
            "sobol_index": ds["indices"].rename(output="sobol_output", parameter="gain"),
            "sobol_conf": ds["conf"].rename(output="sobol_output", parameter="gain"),
        }
    )
    out.attrs["sobol_base_samples"] = n
    out.attrs["sobol_runs"] = total
    out.attrs["sobol_diverged_runs"] = len(result.diverged_runs)
    return out


def h1_section(ctx: Context) -> Section:
    ens = main_ensemble(ctx)
    table = outcome_table(ens)
    pair = pairwise(table, FF, MF, seed=ctx.seed)
    robust = robust_table(table)
    outcome, when = HEADLINE
    shipped = table.sel(outcome=outcome, when=when, structure="shipped")
    diff = (shipped.sel(strategy=FF) - shipped.sel(strategy=MF)).values
    keep = np.isfinite(diff)
    edge = frontier(gains_frame(ens).loc[keep], diff[keep] > 0)
    if "sobol_ff_mf" not in ctx.cache:
        ctx.cache["sobol_ff_mf"] = sobol_difference(ctx)
    sobol = ctx.cache["sobol_ff_mf"]
    head = pair.sel(outcome=outcome, when=when, structure="shipped")
    variable = str(ens[outcome].attrs.get("variable", "security trust"))
    verdict = decide(
        float(head["low"]),
        float(head["high"]),
        frontier=restricted(edge),
        what=f"P({FF} > {MF}) on {variable.lower()} in 2040",
    )
    numbers = xr.Dataset(
        {
            "p_ff_better": pair["p"],
            "p_ff_better_low": pair["low"],
            "p_ff_better_high": pair["high"],
            "pairs": pair["n"],
            "ff_minus_mf_2040_mean": ((), float(np.nanmean(diff))),
            "close_share_2040": ((), float(np.mean(np.abs(diff[keep]) < 0.01))),
            **{f"robust_{k}": v for k, v in robust.data_vars.items()},
            **edge.data_vars,
            **sobol.data_vars,
            "verdict_low": ((), float(head["low"])),
            "verdict_high": ((), float(head["high"])),
        }
    )
    numbers.attrs.update({**edge.attrs, **sobol.attrs})
    numbers.attrs["verdict_statistic"] = "p_ff_better[security_trust, 2040, shipped]"
    plane = sigma_beta_table(gains_frame(ens), diff, ctx.gains)
    if plane is not None:
        numbers = numbers.merge(plane)
    text = _text(pair, robust, edge, sobol, diff[keep])
    if plane is not None:
        text += "\n" + _plane_text(plane)
    return Section(
        "H1",
        "Sequencing: functional-first against military-first",
        CLAIM,
        verdict,
        numbers,
        text,
        {"ff_minus_mf": _figure(table)},
    )


SIGMA, BETA = "Spillover", "Backfire strength"
THIRDS = 3


def sigma_beta_table(
    frame: pd.DataFrame, diff: np.ndarray, gains: Mapping[str, tuple[float, float]]
) -> xr.Dataset | None:
    """Where in (σ, β_bf) functional-first leads (MODEL.md H1): the share of draws with
    FF > MF in each third of σ's range × third of β_bf's range, and the draws per cell."""
    if SIGMA not in frame or BETA not in frame:
        return None
    cells = np.full((THIRDS, THIRDS), np.nan)
    counts = np.zeros((THIRDS, THIRDS), dtype=int)
    keep = np.isfinite(diff)
    index = []
    for name in (SIGMA, BETA):
        low, high = gains[name]
        position = (frame[name].to_numpy() - low) / (high - low) * THIRDS
        index.append(np.clip(position.astype(int), 0, THIRDS - 1))
    for i in range(THIRDS):
        for j in range(THIRDS):
            inside = keep & (index[0] == i) & (index[1] == j)
            counts[i, j] = int(inside.sum())
            if counts[i, j]:
                cells[i, j] = float(np.mean(diff[inside] > 0))

    def labels(name: str) -> list[str]:
        low, high = gains[name]
        step = (high - low) / THIRDS
        return [f"{low + k * step:.3g}-{low + (k + 1) * step:.3g}" for k in range(THIRDS)]

    dims = ("sigma_third", "beta_third")
    return xr.Dataset(
        {"share_ff_ahead_sigma_beta": (dims, cells), "draws_sigma_beta": (dims, counts)},
        coords={"sigma_third": labels(SIGMA), "beta_third": labels(BETA)},
    )


def _plane_text(plane: xr.Dataset) -> str:
    share = plane["share_ff_ahead_sigma_beta"]
    rows = []
    for s in plane["sigma_third"].values:
        cells = [
            f"β_bf {b} {float(share.sel(sigma_third=s, beta_third=b)):.2f}"
            for b in plane["beta_third"].values
        ]
        rows.append(f"σ {s}: " + ", ".join(cells))
    return (
        "Share of draws with functional-first ahead (security trust 2040) by σ × β_bf: "
        + "; ".join(rows)
        + "."
    )


def _text(
    pair: xr.Dataset, robust: xr.Dataset, edge: xr.Dataset, sobol: xr.Dataset, diff: np.ndarray
) -> str:
    lines = ["P(functional-first better than military-first), shipped structure, 95% intervals:"]
    for o in pair["outcome"].values:
        cells = []
        for w in pair["when"].values:
            c = pair.sel(outcome=o, when=w, structure="shipped")
            cells.append(
                f"{w}: {float(c['p']):.2f} [{float(c['low']):.2f}, {float(c['high']):.2f}]"
            )
        lines.append(f"- {o}: " + "; ".join(cells))
    head = pair.sel(outcome="security_trust", when="2040")
    agree = [str(s) for s in head["structure"].values if float(head.sel(structure=s)["low"]) > 0.5]
    against = [
        str(s) for s in head["structure"].values if float(head.sel(structure=s)["high"]) < 0.5
    ]
    lines.append(
        f"Across the {head.sizes['structure']} structures (security trust 2040): functional-first "
        f"clearly ahead in {len(agree)} ({', '.join(agree) or 'none'}), clearly behind in "
        f"{len(against)} ({', '.join(against) or 'none'})."
    )
    lines.append(
        f"Mean FF − MF in 2040: {diff.mean():+.3f}; |FF − MF| < 0.01 in "
        f"{np.mean(np.abs(diff) < 0.01):.0%} of draws."
    )
    r = robust.sel(outcome="security_trust", when="2040", structure="shipped")
    lines.append(
        "Robust criteria (security trust 2040, shipped): strategy mean / sd / 5th pct / max regret:"
    )
    for s in r["strategy"].values:
        c = r.sel(strategy=s)
        lines.append(
            f"- {s}: {float(c['mean']):.3f} / {float(c['sd']):.3f} / {float(c['worst5']):.3f} / "
            f"{float(c['max_regret']):.3f}"
        )
    lines.append(
        f"Minimax regret: {r['minimax_regret'].item()}; best 5th percentile: "
        f"{r['best_worst5'].item()}."
    )
    lines.append(
        f"Flip frontier (PRIM around the draws where functional-first "
        f"{'loses' if edge.attrs['prim_target'] == 'losses' else 'wins'}, "
        f"{float(edge['prim_target_share']):.0%} of draws): {edge.attrs['prim_box']} "
        f"(coverage {float(edge['prim_coverage']):.2f}, density {float(edge['prim_density']):.2f})."
    )
    st = sobol["sobol_index"].sel(sobol_output="security_trust_2040", index="ST")
    top = st.sortby(st, ascending=False)[:4]
    lines.append(
        "Sobol total indices of FF − MF (security trust 2040): "
        + ", ".join(
            f"{g} {float(v):.2f}" for g, v in zip(top["gain"].values, top.values, strict=True)
        )
        + f" (base N = {sobol.attrs['sobol_base_samples']})."
    )
    return "\n".join(lines)


def _figure(table: xr.DataArray):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(9, 3.2))
    axes = figure.subplots(1, 3)
    for ax, outcome in zip(axes, OUTCOMES, strict=True):
        cell = table.sel(outcome=outcome, structure="shipped")
        scale = 100.0 if outcome == "arms_burden" else 1.0  # burden in percentage points
        for when in cell["when"].values:
            d = (cell.sel(when=when, strategy=FF) - cell.sel(strategy=MF, when=when)).values
            d = d[np.isfinite(d)] * scale
            if len(d):  # one bin where every draw gives the same difference
                bins = 30 if np.ptp(d) > 1e-12 else 1
                ax.hist(d, bins=bins, histtype="step", label=str(when))
        ax.axvline(0, color="k", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        unit = " (pp of GDP)" if scale != 1.0 else ""
        ax.set_title(f"FF − MF: {outcome}{unit}", fontsize=9)
    axes[0].set_ylabel("draws (shipped structure)")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    return figure
