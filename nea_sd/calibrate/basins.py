"""Separate optima or stops on one ridge? The likelihood on the segment between two optima.

Starts that end apart with nearly equal −log L are either separate modes — a barrier between
them, so the record supports two explanations — or stops on a ridge or plateau where the
optimiser's tolerance ran out: one connected set of equally good parameter values, which the
profiles then label flat or weakly identified. A straight segment without a barrier proves the
connection; a barrier on it does not prove separation (a curved ridge can bend around it), so
the number of basins counted here is an upper bound on the number of separate modes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nea_sd.calibrate._report import text_table
from nea_sd.calibrate.fit import BIG, FitResult, objective
from nea_sd.calibrate.problem import Setup

BARRIER_TOL = 0.5  # −log L: the tolerance within which FitResult.optima calls two values equal
SEGMENT_POINTS = 15  # interior points per segment


@dataclass(frozen=True)
class Segment:
    """The straight segment between optima ``a`` and ``b`` (indices, best first): ``height``
    is the highest −log L on it above the worse of its two ends (≤ 0: no barrier)."""

    a: int
    b: int
    height: float


@dataclass(frozen=True)
class Basins:
    """Optima within a threshold (−log L, best first), the segments between every pair, and
    ``count``: groups of optima joined by segments with no barrier above ``BARRIER_TOL``."""

    neg_log_likelihood: tuple[float, ...]
    segments: tuple[Segment, ...]
    count: int

    def __str__(self) -> str:
        rows = [
            [s.a, s.b, self.neg_log_likelihood[s.a], self.neg_log_likelihood[s.b], s.height]
            for s in self.segments
        ]
        head = (
            f"[[Basins]] {len(self.neg_log_likelihood)} optima within the threshold, "
            f"{self.count} basin(s) (joined where the straight segment rises less than "
            f"{BARRIER_TOL} in -log L above its worse end)"
        )
        if not rows:
            return head
        return head + "\n" + text_table(("a", "b", "-log L a", "-log L b", "barrier"), rows)


def basins(
    setup: Setup,
    points: Sequence[Sequence[float]],
    values: Sequence[float],
    on_batch: Callable[[int], None] | None = None,
    links: str = "free",
) -> Basins:
    """Basins of the optima ``points`` (parameter values, spec order) with −log L ``values``
    under ``setup``'s likelihood: every pair's segment scored in one batch. With
    ``closed-form`` links the segment joins the model values and each closed-form constant
    is at its maximum along it (the likelihood the fit searched), not on the straight line."""
    order = np.argsort(values, kind="stable")
    X0 = np.asarray(points, dtype=float)[order]
    v = np.asarray(values, dtype=float)[order]
    pairs = [(i, j) for i in range(len(v)) for j in range(i + 1, len(v))]
    t = np.linspace(0.0, 1.0, SEGMENT_POINTS + 2)[1:-1, None]
    segments: list[Segment] = []
    if pairs:
        X = np.concatenate([X0[i] + t * (X0[j] - X0[i]) for i, j in pairs])
        problem, _ = objective(setup, links)
        nll = -problem.log_likelihood(setup.simulator.run(X), X)
        if on_batch is not None:
            on_batch(X.shape[0])
        nll = np.where(np.isfinite(nll), nll, BIG).reshape(len(pairs), SEGMENT_POINTS)
        segments = [
            Segment(i, j, float(nll[n].max() - max(v[i], v[j]))) for n, (i, j) in enumerate(pairs)
        ]
    parent = list(range(len(v)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for s in segments:
        if s.height <= BARRIER_TOL:
            parent[root(s.b)] = root(s.a)
    return Basins(
        neg_log_likelihood=tuple(float(x) for x in v),
        segments=tuple(segments),
        count=len({root(i) for i in range(len(v))}),
    )


def fit_basins(
    setup: Setup,
    result: FitResult,
    threshold: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Basins:
    """Basins of the optima :func:`~nea_sd.calibrate.results.optima_within` counts (the
    profile ``threshold``; when None, the one its profiles would use); ``setup`` must carry
    the likelihood the result was fitted under."""
    from nea_sd.calibrate.results import contending_optima

    near = contending_optima(result, threshold)
    points = [s.estimate for s in near]
    return basins(setup, points, [s.neg_log_likelihood for s in near], on_batch, result.links)
