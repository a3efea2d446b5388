"""Figures of a sweep: index bars with their intervals, and indices over time as a heat map.

Figures are made with :class:`matplotlib.figure.Figure` directly (Agg canvas), so no pyplot
state is touched; save them with :func:`nea_sd.plots.save_figure`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nea_sd.errors import InvalidValueError, unknown_name
from nea_sd.sensitivity.analysis import SensitivityResult, primary_index


def _choose(kind: str, name: str | None, choices: Sequence[str]) -> str:
    if not choices:
        raise InvalidValueError(f"this sweep has no {kind}s to plot")
    if name is None:
        return choices[0]
    if name not in choices:
        raise unknown_name(kind, name, choices)
    return name


class InlineFigure(Figure):
    """A pyplot-free figure that still shows itself in Jupyter (as PNG), whatever backend is
    active: no pyplot state, so it is shown exactly once, where it is the cell's value."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def _excluded(ds) -> str:  # type: ignore[no-untyped-def]
    """Title suffix stating the diverged runs left out of the statistics."""
    diverged = int(ds["diverged"].sum()) if "diverged" in ds else 0
    if not diverged:
        return ""
    return f"\n({diverged} of {ds.sizes['run']} samples diverged, excluded)"


def index_bars(
    result: SensitivityResult,
    output: str | None = None,
    indices: Sequence[str] | None = None,
    top: int = 15,
) -> Figure:
    """Horizontal bars of each index per parameter with its confidence interval, most
    influential first (ST, else mu* or S1)."""
    ds = result.dataset
    if "indices" not in ds:
        raise InvalidValueError("this sweep has no scalar outputs; use time_heatmap")
    output = _choose("output", output, [str(o) for o in ds["output"].values])
    available = [str(i) for i in ds["index"].values]
    indices = list(indices) if indices is not None else available
    for name in indices:
        _choose("index", name, available)
    table = result.table(output).head(top)
    figure = InlineFigure(figsize=(8, 0.35 * len(table) + 1.6), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    positions = np.arange(len(table))
    height = 0.8 / len(indices)
    for k, name in enumerate(indices):
        conf = table.get(f"{name}_conf")
        axis.barh(
            positions + (k - (len(indices) - 1) / 2) * height,
            table[name],
            height=height,
            xerr=None if conf is None else conf.fillna(0).to_numpy(),
            capsize=2,
            label=name,
        )
    axis.set_yticks(positions, [str(p) for p in table.index])
    axis.invert_yaxis()
    axis.axvline(0, color="0.5", linewidth=0.8)
    axis.set_xlabel("index (bars: estimate; whiskers: confidence interval)")
    axis.set_title(f"{ds.attrs['method']}: {output}{_excluded(ds)}", fontsize=10)
    axis.legend(fontsize=8)
    axis.grid(axis="x", alpha=0.3)
    return figure


def time_heatmap(
    result: SensitivityResult,
    trajectory: str | None = None,
    index: str | None = None,
    top: int = 15,
) -> Figure:
    """Heat map of one index (default ST, else mu* or S1) over time and parameters, the
    parameters ordered by their largest value over time."""
    ds = result.dataset
    if "indices_t" not in ds:
        raise InvalidValueError("this sweep has no trajectory outputs; use index_bars")
    trajectory = _choose("trajectory", trajectory, [str(t) for t in ds["trajectory"].values])
    names = [str(i) for i in ds["index"].values]
    index = _choose("index", index if index is not None else primary_index(names), names)
    data = ds["indices_t"].sel(trajectory=trajectory, index=index).transpose("parameter", "time")
    data = data.dropna("time", how="all")
    order = np.argsort(-np.nan_to_num(data.max("time").values, nan=-np.inf))[:top]
    data = data.isel(parameter=order)
    figure = InlineFigure(figsize=(10, 0.35 * data.sizes["parameter"] + 1.8), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    times = data["time"].values
    mesh = axis.pcolormesh(
        times, np.arange(data.sizes["parameter"]), data.values, shading="nearest", cmap="viridis"
    )
    axis.set_yticks(np.arange(data.sizes["parameter"]), [str(p) for p in data["parameter"].values])
    axis.invert_yaxis()
    axis.set_xlabel("time")
    axis.set_title(
        f"{ds.attrs['method']} {index} over time: {trajectory}{_excluded(ds)}", fontsize=10
    )
    figure.colorbar(mesh, ax=axis, label=index)
    return figure
