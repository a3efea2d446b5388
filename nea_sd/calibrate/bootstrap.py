"""Where fits land when the truth is known: a parametric bootstrap of the estimates.

"No parameter at a bound" is, like any fit criterion, a statistic of noisy data. On a
rugged likelihood with flat directions a fit can end at a bound although the parameter that
made the data lies inside; then an estimate at a bound says little about the structure.
:func:`bound_check` puts that to the test: the record redrawn (with the fit's error model)
around a ``truth`` — typically the fit with the parameters in question moved inside their
ranges — each redrawn record refitted, and how often each parameter's refit ends at a bound,
alone and together. What the real fit shows beyond that rate is the data's push.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.fit import bound_sides, refit_many
from nea_sd.calibrate.problem import Setup
from nea_sd.calibrate.synthetic import redrawn
from nea_sd.errors import InvalidValueError

BOUND_NFEV = 100  # steps per refit: a start away from the redrawn record's optimum needs more


@dataclass(frozen=True)
class BoundCheck:
    """Refitted estimates of ``parameters`` (rows: redrawn records) and where they ended."""

    parameters: tuple[str, ...]
    truth: np.ndarray
    bounds: np.ndarray
    estimates: np.ndarray
    sides: np.ndarray  # −1 at the lower bound, +1 at the upper, 0 inside
    seed: int
    start: str

    def table(self) -> pd.DataFrame:
        """Per parameter: the truth, the refits' median and 90 % range, and the shares that
        ended at the lower and the upper bound."""
        q = np.quantile(self.estimates, [0.05, 0.5, 0.95], axis=0)
        return pd.DataFrame(
            {
                "parameter": self.parameters,
                "truth": self.truth,
                "lower": self.bounds[:, 0],
                "upper": self.bounds[:, 1],
                "median": q[1],
                "5%": q[0],
                "95%": q[2],
                "at lower": (self.sides == -1).mean(axis=0),
                "at upper": (self.sides == 1).mean(axis=0),
            }
        )

    def counts(self) -> np.ndarray:
        """Share of redrawn records with 0, 1, ... of the parameters at a bound."""
        hits = (self.sides != 0).sum(axis=1)
        return np.bincount(hits, minlength=len(self.parameters) + 1) / len(hits)

    def _header(self) -> str:
        shares = ", ".join(f"{k}: {v:.2f}" for k, v in enumerate(self.counts()))
        return (
            f"bound check: {len(self.estimates)} redrawn records, refitted from {self.start} "
            f"(seed {self.seed}); share with k of the {len(self.parameters)} at a bound — "
            f"{shares}"
        )

    def __str__(self) -> str:
        frame = self.table()
        return self._header() + "\n" + text_table(frame.columns, frame.round(3).values.tolist())

    def _repr_html_(self) -> str:
        frame = self.table()
        rows = frame.round(3).values.tolist()
        return html_table(list(frame.columns), rows, caption=self._header())


def bound_check(
    setup: Setup,
    truth: Sequence[float],
    parameters: Sequence[str],
    *,
    start: Sequence[float] | None = None,
    replicates: int = 100,
    seed: int = 0,
    max_nfev: int = BOUND_NFEV,
    on_batch: Callable[[int], None] | None = None,
) -> BoundCheck:
    """Redraw the record around ``truth`` (values of every free parameter) with the error
    model ``setup`` carries, refit each redrawn record locally from ``start`` (default the
    truth: a local refit from there leans inside, from the fit it leans to the fit's bounds;
    run both), and record where ``parameters`` end."""
    names = list(setup.spec.names)
    unknown = [p for p in parameters if p not in names]
    if unknown or not parameters:
        raise InvalidValueError(
            f"parameters to check must be free parameters of the spec; got {unknown or []!r}, "
            f"choose from {names!r}"
        )
    if replicates < 1 or max_nfev < 1:
        raise InvalidValueError(
            f"replicates and max_nfev must be at least 1; got {replicates!r} and {max_nfev!r}"
        )
    points = []
    for label, values in (("truth", truth), ("start", truth if start is None else start)):
        v = np.asarray(values, dtype=float)
        if v.shape != (len(names),) or not np.isfinite(v).all():
            raise InvalidValueError(
                f"{label} must be {len(names)} finite values ({', '.join(names)}); got shape "
                f"{v.shape!r}"
            )
        points.append(v)
    x, x0 = points
    rng = np.random.default_rng(seed)
    outputs = setup.simulator.run(x[None])
    records = redrawn(setup, x, rng, replicates, outputs)
    X = refit_many(records, x0, max_nfev=max_nfev, on_batch=on_batch)
    cols = [names.index(p) for p in parameters]
    bounds = np.asarray(setup.spec.bounds, dtype=float)[cols]
    return BoundCheck(
        parameters=tuple(parameters),
        truth=x[cols],
        bounds=bounds,
        estimates=X[:, cols],
        sides=bound_sides(X[:, cols], bounds),
        seed=seed,
        start="the truth" if start is None else "the given start",
    )
