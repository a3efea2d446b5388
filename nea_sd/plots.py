"""Figures. Nothing global is changed on import: the CLI chooses the Agg backend itself, and a
notebook keeps its inline backend, so figures show where they are made."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from nea_sd.compare import Comparison
from nea_sd.outcomes import total_over_subscripts
from nea_sd.outputs import atomic_write


def comparison_figure(comparison: Comparison) -> Figure:
    """Security trust, societal trust, arms burden and exchange over time, a line per scenario
    (variants dashed in their strategy's colour)."""
    v = comparison.vocabulary
    data = comparison.trajectories
    panels = [
        (v.security_trust, "Security trust", 1.0),
        (v.societal_trust, "Societal trust", 1.0),
        (v.arms_burden, "Arms burden (% of GDP)", 100.0),
        (v.exchange, "People exchange (M visits/yr)", 1.0),
    ]
    figure, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True, layout="constrained")
    strategies = list(dict.fromkeys(s.strategy or s.name for s in comparison.scenarios))
    colours = {name: f"C{i % 10}" for i, name in enumerate(strategies)}
    for axis, (variable, title, scale) in zip(axes.flat, panels, strict=True):
        series = total_over_subscripts(data[variable]) * scale
        for scenario in comparison.scenarios:
            axis.plot(
                series["time"],
                series.sel(run=scenario.name),
                color=colours[scenario.strategy or scenario.name],
                linestyle="--" if scenario.variant else "-",
                linewidth=1.6,
                label=scenario.name
                + (" (diverged)" if scenario.name in comparison.diverged else ""),
            )
        axis.set_title(title)
        axis.axvline(comparison.year, color="0.7", linewidth=0.8)
        axis.grid(alpha=0.3)
    for axis in axes[1]:
        axis.set_xlabel("Year")
    axes[0, 0].legend(fontsize=8, ncol=2)
    figure.suptitle(f"Sequencing strategies, {comparison.model.name} model (equal total effort)")
    plt.close(figure)  # not left to pyplot: a notebook shows the returned figure once
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` (format from the suffix) atomically and close it."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower() or "png"
    try:
        return atomic_write(
            target, lambda tmp: figure.savefig(tmp, dpi=110, format=fmt), what="figure"
        )
    finally:
        plt.close(figure)
