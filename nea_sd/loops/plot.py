"""Relative loop scores over time as stacked areas, one panel per strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_dominance(results: list[Any], target: Path | None = None, run: int | None = None) -> Any:
    """Stacked |relative score| of the named loops (median over runs unless ``run``)."""
    import matplotlib.pyplot as plt

    from nea_sd.outputs import atomic_write

    fig, axes = plt.subplots(len(results), 1, figsize=(10, 3.2 * len(results)), squeeze=False)
    for ax, result in zip(axes[:, 0], results, strict=True):
        named = abs(result.data["named"])
        named = named.isel(run=run) if run is not None else named.median("run")
        time = named["time"].values
        colours = plt.get_cmap("tab20").colors
        ax.stackplot(
            time,
            named.values.T,
            labels=[str(n) for n in named["name"].values],
            colors=[colours[i % len(colours)] for i in range(named.sizes["name"])],
        )
        ax.axhline(0.5, color="k", lw=0.8, ls="--")
        ax.set_title(f"{result.model} / {result.scenario}")
        ax.set_ylabel("|relative loop score|")
        ax.set_xlim(time[0], time[-1])
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    axes[-1, 0].set_xlabel("time")
    fig.tight_layout()
    plt.close(fig)  # not left to pyplot: a notebook shows the returned figure once
    if target is not None:
        fmt = Path(target).suffix.lstrip(".").lower() or "png"
        atomic_write(target, lambda tmp: fig.savefig(tmp, dpi=100, format=fmt), what="figure")
    return fig
