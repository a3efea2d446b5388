"""H7 (MODEL.md §7): trust-gated sequencing beats a fixed calendar under parameter uncertainty.

Over the paired ensemble: P(trust-gated better than each calendar strategy) per outcome, time
and structure with bootstrap intervals, and the robust criteria of all of them. The verdict is
taken against the calendar strategy that trust-gated beats least often (it must beat every
calendar, the strongest included), at regional security trust in 2040 on the shipped
structure, with a PRIM frontier where the outcome is split.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from nea_sd.report.core import Context, Section, decide
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

GATED = "trust-gated"
CALENDAR = ("functional-first", "military-first", "simultaneous")
CLAIM = (
    "Trust-gated sequencing beats every fixed calendar (functional-first, military-first, "
    "simultaneous) on regional security trust in 2040 under parameter uncertainty "
    "(MODEL.md §7 H7)."
)


def h7_section(ctx: Context) -> Section:
    ens = main_ensemble(ctx)
    table = outcome_table(ens)
    present = [str(s) for s in table["strategy"].values]
    calendars = [c for c in CALENDAR if c in present]
    pairs = xr.concat(
        [pairwise(table, GATED, c, seed=ctx.seed) for c in calendars], dim="calendar"
    ).assign_coords(calendar=calendars)
    outcome, when = HEADLINE
    head = pairs.sel(outcome=outcome, when=when, structure="shipped")
    rival = calendars[int(np.argmin(head["p"].values))]
    shipped = table.sel(outcome=outcome, when=when, structure="shipped")
    diff = (shipped.sel(strategy=GATED) - shipped.sel(strategy=rival)).values
    keep = np.isfinite(diff)
    edge = frontier(gains_frame(ens).loc[keep], diff[keep] > 0)
    cell = shipped.transpose("draw", "strategy").sel(strategy=[GATED, *calendars])
    crit = robust_criteria(cell, 1)
    numbers = xr.Dataset(
        {
            "p_gated_better": pairs["p"],
            "p_gated_better_low": pairs["low"],
            "p_gated_better_high": pairs["high"],
            "pairs": pairs["n"],
            **{f"robust_{k}": v for k, v in crit.data_vars.items()},
            "minimax_regret": ((), minimax_regret(crit)),
            "best_worst5": ((), best_worst_case(crit, 1)),
            "strongest_calendar": ((), rival),
            **edge.data_vars,
        }
    )
    low, high = (float(head.sel(calendar=rival)[k]) for k in ("low", "high"))
    numbers["verdict_low"], numbers["verdict_high"] = ((), low), ((), high)
    numbers.attrs.update(edge.attrs)
    numbers.attrs["verdict_statistic"] = (
        f"p_gated_better[{rival}, security_trust, 2040, shipped] (the strongest calendar)"
    )
    verdict = decide(
        low, high, frontier=restricted(edge), what=f"P({GATED} > {rival}, the strongest calendar)"
    )
    return Section(
        "H7",
        "Trust-gated against calendar sequencing",
        CLAIM,
        verdict,
        numbers,
        _text(numbers, rival),
        {"gated_vs_calendar": _figure(cell)},
    )


def _text(numbers: xr.Dataset, rival: str) -> str:
    lines = ["P(trust-gated better than the calendar strategy), shipped structure, 95% intervals:"]
    for c in numbers["calendar"].values:
        cells = []
        for o in numbers["outcome"].values:
            x = numbers.sel(calendar=c, outcome=o, when="2040", structure="shipped")
            cells.append(
                f"{o} 2040 {float(x['p_gated_better']):.2f} "
                f"[{float(x['p_gated_better_low']):.2f}, {float(x['p_gated_better_high']):.2f}]"
            )
        lines.append(f"- vs {c}: " + "; ".join(cells))
    lines.append(
        f"Strongest calendar rival: {rival}. Minimax regret among trust-gated and the calendars: "
        f"{numbers['minimax_regret'].item()}; best 5th percentile: "
        f"{numbers['best_worst5'].item()}."
    )
    lines.append(
        f"Frontier (PRIM around the draws where trust-gated "
        f"{'loses' if numbers.attrs['prim_target'] == 'losses' else 'wins'} against {rival}): "
        f"{numbers.attrs['prim_box']}."
    )
    return "\n".join(lines)


def _figure(cell: xr.DataArray):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3))
    ax = figure.subplots()
    names = [str(s) for s in cell["strategy"].values]
    data = [v[np.isfinite(v)] for v in cell.transpose("strategy", "draw").values]
    ax.boxplot(data, whis=(5, 95))
    ax.set_xticks(range(1, len(names) + 1), names, fontsize=7)
    ax.set_ylabel("security trust 2040 (shipped structure)")
    ax.set_title("boxes: quartiles; whiskers: 5th-95th percentile", fontsize=8)
    figure.tight_layout()
    return figure
