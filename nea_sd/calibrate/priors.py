"""Priors for calibrated parameters, truncated to the parameter's bounds.

The bounds are hard (a sweep or optimizer never leaves them), so every prior is the named
distribution restricted to ``[low, high]``: ``logpdf`` is −inf outside and renormalized inside,
and ``ppf`` maps a unit-cube sample into the bounds (for Latin-hypercube / Sobol' batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from nea_sd.errors import InvalidValueError

DISTRIBUTIONS = {
    "uniform": (),
    "normal": ("mean", "sd"),
    "lognormal": ("mu", "sigma"),  # of log(x): median exp(mu)
    "beta": ("a", "b"),  # on [low, high]
}


@dataclass(frozen=True)
class Prior:
    """A named distribution on ``[low, high]``.

    Fields:
        dist: one of ``uniform``, ``normal`` (mean, sd), ``lognormal`` (mu, sigma of log x),
            ``beta`` (a, b, rescaled to the bounds).
        args: the distribution's parameters by name.
        low, high: the truncation (the parameter's bounds).
    """

    dist: str
    args: dict[str, float]
    low: float
    high: float
    _frozen: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_frozen", _scipy(self.dist, self.args, self.low, self.high))
        mass = self._mass
        if not mass > 1e-12:
            raise InvalidValueError(
                f"{self.dist} prior {self.args!r} has no mass inside the bounds "
                f"[{self.low:g}, {self.high:g}]"
            )

    @property
    def _mass(self) -> float:
        return float(self._frozen.cdf(self.high) - self._frozen.cdf(self.low))

    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """Log density of the truncated prior (−inf outside the bounds)."""
        x = np.asarray(x, dtype=float)
        inside = (x >= self.low) & (x <= self.high)
        with np.errstate(divide="ignore"):
            value = self._frozen.logpdf(x) - math.log(self._mass)
        return np.where(inside, value, -np.inf)

    def ppf(self, u: np.ndarray | float) -> np.ndarray:
        """Quantile function of the truncated prior, for u in [0, 1]."""
        u = np.asarray(u, dtype=float)
        lo = self._frozen.cdf(self.low)
        return np.clip(self._frozen.ppf(lo + u * self._mass), self.low, self.high)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.args.items())
        return f"{self.dist}({args}) on [{self.low:g}, {self.high:g}]"


def _scipy(dist: str, args: dict[str, float], low: float, high: float) -> Any:
    if dist not in DISTRIBUTIONS:
        raise InvalidValueError(
            f"unknown prior distribution {dist!r}; valid: "
            + ", ".join(repr(d) for d in DISTRIBUTIONS)
        )
    need = DISTRIBUTIONS[dist]
    if set(args) != set(need):
        raise InvalidValueError(
            f"{dist} prior takes {list(need)!r}, got {sorted(args)!r}"
            + (" (its range is the parameter's bounds)" if dist == "uniform" else "")
        )
    for key, value in args.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
            raise InvalidValueError(f"{dist} prior {key} must be a finite number, got {value!r}")
    positive = {"normal": ("sd",), "lognormal": ("sigma",), "beta": ("a", "b")}.get(dist, ())
    for key in positive:
        if args[key] <= 0:
            raise InvalidValueError(f"{dist} prior {key} must be > 0, got {args[key]!r}")
    if dist == "uniform":
        return stats.uniform(loc=low, scale=high - low)
    if dist == "normal":
        return stats.norm(loc=args["mean"], scale=args["sd"])
    if dist == "lognormal":
        if low < 0:
            raise InvalidValueError(f"lognormal prior needs bounds >= 0, got low={low!r}")
        return stats.lognorm(s=args["sigma"], scale=math.exp(args["mu"]))
    return stats.beta(args["a"], args["b"], loc=low, scale=high - low)
