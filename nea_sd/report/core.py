"""The report's shared vocabulary: what each hypothesis section returns, and the verdict rule.

Every hypothesis (MODEL.md §7, H1–H8) and the feedback-loop section is computed by a function
``section(ctx: Context) -> Section``. The report only assembles sections: each section carries
its numbers as a labelled :class:`xarray.Dataset` (all of them go into ``report.nc``), its
verdict (derived from those numbers by :func:`decide`, never typed in), its prose (generated
from the numbers) and its figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import xarray as xr

from nea_sd.model import Model

VerdictLabel = Literal["supported", "rejected", "depends"]
VERDICTS: tuple[VerdictLabel, ...] = ("supported", "rejected", "depends")


@dataclass(frozen=True)
class Verdict:
    """A hypothesis' verdict and the sentence (with its numbers) that justifies it.

    ``depends_on``: the named parameters or structures on which a ``depends`` verdict turns
    (the restricted dimensions of the flip frontier), empty otherwise.
    """

    label: VerdictLabel
    reason: str
    depends_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.label not in VERDICTS:
            raise ValueError(f"verdict {self.label!r} is not one of {VERDICTS}")


@dataclass
class Section:
    """One hypothesis (``key`` "H1".."H8") or the loops section (``key`` "loops")."""

    key: str
    title: str
    claim: str
    verdict: Verdict
    numbers: xr.Dataset
    text: str
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure


@dataclass(frozen=True)
class Context:
    """What every section needs, built once by the report: the one loaded model, the
    parameter base (``base_source`` says where it came from), the uncertain gains to draw
    over (name -> (low, high), the model's declared ranges), the ensemble size and seed
    (common random numbers: every section draws from ``seed``), and a progress callback
    ``progress(stage, done, total)``."""

    model: Model
    base: Mapping[str, float]
    base_source: str
    gains: Mapping[str, tuple[float, float]]
    samples: int
    seed: int
    workers: int | None = None
    scheduler: str | None = None
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None
    #: parameters with one value per ensemble draw (posterior draws), name -> (samples,)
    per_draw: Mapping[str, Any] = field(default_factory=dict)
    #: results shared between sections (e.g. the paired ensemble), computed once per report
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def decide(
    low: float,
    high: float,
    *,
    threshold: float = 0.5,
    frontier: tuple[str, ...] = (),
    what: str = "P",
) -> Verdict:
    """The verdict from an interval of a statistic whose value above ``threshold`` supports
    the hypothesis (a probability of winning, or an effect with threshold 0).

    supported: the whole interval lies above the threshold; rejected: the whole interval
    lies below it; otherwise depends — on ``frontier`` (the parameters that separate the two
    outcomes), which must then be named.
    """
    shown = f"{what} in [{low:.3f}, {high:.3f}]"
    if low > threshold:
        return Verdict("supported", f"{shown}, all above {threshold:g}")
    if high < threshold:
        return Verdict("rejected", f"{shown}, all below {threshold:g}")
    where = ", ".join(frontier) if frontier else "no parameter separates the outcomes"
    return Verdict("depends", f"{shown} straddles {threshold:g}; depends on: {where}", frontier)
