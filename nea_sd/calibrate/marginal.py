"""Link constants integrated out of the likelihood in closed form, for the posterior samplers.

Why: the regional posterior has 38 dimensions and 17 of them are link constants — poll
intercepts, scale factors, militarized-dispute intercepts — each touching one series. Given
the model parameters, each enters its own observation's likelihood as an offset whose
integral over its (uniform) prior has a closed form, so the samplers can move in the model
parameters alone (plus shared constants such as a common MID slope) and lose nothing: the
marginal likelihood of the model parameters is exactly the full likelihood integrated over
those constants, so log Z, and the posterior of every other parameter, are unchanged. The
constants' own posterior comes back as exact conditional draws, one per posterior draw.

The cases (a constant shared by several observations, or with a non-uniform prior, stays a
sampled dimension):

* an offset on a Gaussian scale — a scale factor under a log-normal error (log data =
  log f + log model + e) or a poll intercept α under a logit-normal error (logit data =
  −α − β logit T + e): the whitened residuals, with the series' error scale and AR(1), are
  affine in the offset, so the log-likelihood is a quadratic in it, known exactly from three
  evaluations; its integral over the prior's interval is a difference of normal CDFs. The
  scale factor's prior is uniform in f, a density ∝ e^c in c = log f.
* a log-linear Poisson intercept a (MID onsets; rate e^(a + b x)): log L = wY a − wS e^a + C
  with Y the counts' sum and S = Σ e^(b x); substituting u = wS e^a the integral is an
  incomplete gamma function, S'^(−Y') Γ(Y') [P(Y', S' e^hi) − P(Y', S' e^lo)], and an
  exponential-integral difference when no dispute was observed (Y = 0).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import exp1, gammainc, gammaincc, gammaincinv, gammaln, log_ndtr
from scipy.stats import truncnorm

from nea_sd.calibrate.observation import Logistic, LogitNormal, LogLinear, LogNormal, Poisson, Scale
from nea_sd.calibrate.problem import Problem
from nea_sd.errors import InvalidValueError

if TYPE_CHECKING:
    from nea_sd.calibrate.observation import Observation
    from nea_sd.calibrate.problem import Outputs, Setup
    from nea_sd.calibrate.spec import CalibrationSpec

GAUSSIAN, COUNTS = "gaussian", "counts"
# how link constants with a closed form are handled: maximised (fits, profiles) or integrated
# (posteriors) given the model values, or free dimensions like every other parameter
LINK_MODES = ("closed-form", "free")
_GRID = 4001  # points of the numerical inverse CDF for a dyad without disputes (Y = 0)


@dataclass(frozen=True)
class _Part:
    """One integrated constant: its observation, column in the full parameter matrix, kind,
    and prior interval on the integration coordinate (log f for a scale factor)."""

    obs: Observation
    column: int
    key: str
    kind: str
    lo: float
    hi: float
    log_scale: bool  # the constant is e^c (a scale factor): prior uniform in e^c


def _kind(obs: Observation, key: str) -> tuple[str, bool] | None:
    link, error = obs.link, obs.error
    if isinstance(link, Scale) and key == "factor" and isinstance(error, LogNormal):
        return GAUSSIAN, True
    if isinstance(link, Logistic) and key == "alpha" and isinstance(error, LogitNormal):
        return GAUSSIAN, False
    if (
        isinstance(link, LogLinear)
        and key == "intercept"
        and isinstance(error, Poisson)
        and not obs.rescaled
    ):
        return COUNTS, False
    return None


def _parts(spec: CalibrationSpec) -> tuple[_Part, ...]:
    names = spec.names
    users: dict[str, int] = {}
    for obs in spec.observations:
        for key in obs.link.free:
            users[obs.link_name(key)] = users.get(obs.link_name(key), 0) + 1
    parts = []
    for obs in spec.observations:
        for key in obs.link.free:
            name = obs.link_name(key)
            col = names.index(name)
            prior = spec.free[col].prior
            kind = _kind(obs, key)
            if kind is None or users[name] != 1 or prior.dist != "uniform":
                continue
            lo, hi = prior.low, prior.high
            if kind[1]:
                if lo <= 0:
                    continue  # a factor allowed to reach 0 has no log coordinate
                lo, hi = np.log(lo), np.log(hi)
            parts.append(_Part(obs, col, key, kind[0], float(lo), float(hi), kind[1]))
    return tuple(parts)


@dataclass(frozen=True, eq=False)
class Target:
    """What a sampler moves in: the spec's free parameters less the integrated constants.

    ``names``/``prior_ppf`` are the sampler's; :meth:`log_likelihood` scores simulated
    outputs at those parameters with the constants integrated out; :meth:`full` and
    :meth:`draw` return parameter matrices in the spec's columns (the constants at their
    prior midpoint, or drawn from their exact conditional posterior).
    """

    spec: CalibrationSpec
    keep: tuple[int, ...]
    parts: tuple[_Part, ...]
    rest: Problem  # the likelihood of the observations without an integrated constant

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.spec.names[j] for j in self.keep)

    @property
    def integrated(self) -> tuple[str, ...]:
        return tuple(self.spec.names[p.column] for p in self.parts)

    def prior_ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.atleast_2d(np.asarray(u, dtype=float))
        return np.column_stack(
            [self.spec.free[j].prior.ppf(u[:, i]) for i, j in enumerate(self.keep)]
        )

    def full(self, X: np.ndarray) -> np.ndarray:
        """The spec's parameter matrix for ``X`` (runs, kept): constants at their midpoint."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.empty((X.shape[0], len(self.spec.names)))
        out[:, list(self.keep)] = X
        for p in self.parts:
            mid = 0.5 * (p.lo + p.hi)
            out[:, p.column] = np.exp(mid) if p.log_scale else mid
        return out

    def log_likelihood(self, outputs: Outputs, X: np.ndarray) -> np.ndarray:
        """Fit-period log-likelihood per run with the constants integrated over their priors
        (−inf where a run cannot explain the data)."""
        full = self.full(X)
        total = self.rest.log_likelihood(outputs, full)
        for p in self.parts:
            total = total + _log_marginal(p, self._curve(p, outputs, full))
        total = np.asarray(total, dtype=float)
        return np.where(np.isnan(total), -np.inf, total)

    def draw(self, outputs: Outputs, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The spec's parameter matrix with each constant drawn from its conditional
        posterior given the run's other parameters (exact; one draw per run)."""
        full = self.full(X)
        for p in self.parts:
            c = _conditional_draw(p, self._curve(p, outputs, full), rng)
            full[:, p.column] = np.exp(c) if p.log_scale else c
        return full

    def concentrate(
        self, outputs: Outputs, X: np.ndarray, skip: frozenset[int] = frozenset()
    ) -> np.ndarray:
        """``X`` (runs, all columns) with each constant, but the columns in ``skip``, at its
        maximum-likelihood value given the rest: the profile likelihood over the constants
        (Golub and Pereyra's variable projection). Each enters one observation as a concave
        function of one variable — a quadratic, or Y c − S e^c — so its stationary point,
        clipped to the bounds, is the maximum."""
        full = np.array(np.atleast_2d(X), dtype=float)
        for p in self.parts:
            if p.column not in skip:
                c = _conditional_max(p, self._curve(p, outputs, full))
                full[:, p.column] = np.exp(c) if p.log_scale else c
        return full

    def _curve(self, p: _Part, outputs: Outputs, full: np.ndarray) -> _Curve:
        """The log-likelihood's shape in the constant: a quadratic (Gaussian) or the Poisson
        terms (weighted Y, S and the constant part)."""
        obs = p.obs
        period = self.spec.period_of(obs)
        model = outputs.values[obs.variable]
        params = {
            key: full[:, self.spec.names.index(obs.link_name(key))]
            for key in obs.link.free
            if key != p.key
        }

        def ll_at(c: float) -> np.ndarray:
            value = np.exp(c) if p.log_scale else c
            return obs.log_likelihood(model, outputs.years, {**params, p.key: value}, period)

        c0 = 0.5 * (p.lo + p.hi)
        if p.kind == GAUSSIAN:
            mid, up, down = ll_at(c0), ll_at(c0 + 1.0), ll_at(c0 - 1.0)
            with np.errstate(invalid="ignore"):
                slope = 0.5 * (up - down) + (1.0 if p.log_scale else 0.0)
                precision = 2.0 * mid - up - down
                # prior density on c: 1/(hi − lo), or e^c/(e^hi − e^lo) for a scale factor
                if p.log_scale:
                    log_prior = c0 - np.log(np.exp(p.hi) - np.exp(p.lo))
                else:
                    log_prior = -np.log(p.hi - p.lo)
            return _Curve(c0, mid + log_prior, slope, precision, None, None)
        years = obs.points(period)
        pred, data, _ = obs.predict(model, outputs.years, years, {**params, p.key: 0.0})
        seen = np.isfinite(data)
        s = obs.weight * np.atleast_2d(pred)[:, seen].sum(axis=-1)
        y = obs.weight * float(data[seen].sum())
        constant = ll_at(0.0) + s - np.log(p.hi - p.lo)
        return _Curve(0.0, constant, None, None, y, s)


@dataclass(frozen=True)
class _Curve:
    """log L(c) × prior: A + B d − ½ P d² with d = c − c0 (Gaussian), or
    const + Y c − S e^c (counts), per run."""

    c0: float
    const: np.ndarray
    slope: np.ndarray | None
    precision: np.ndarray | None
    y: float | None
    s: np.ndarray | None


def _log_phi_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Φ(b) − Φ(a)) for a < b, accurate in both tails."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    upper = a > 0  # both in the upper tail: Φ(−a) − Φ(−b)
    hi = np.where(upper, log_ndtr(-a), log_ndtr(b))
    lo = np.where(upper, log_ndtr(-b), log_ndtr(a))
    with np.errstate(divide="ignore", invalid="ignore"):
        return hi + np.log1p(-np.exp(lo - hi))


def _log_gamma_window(y: float, x_lo: np.ndarray, x_hi: np.ndarray) -> np.ndarray:
    """log ∫ u^(y−1) e^−u du over [x_lo, x_hi]: Γ(y)(P(y, x_hi) − P(y, x_lo)), or
    E1(x_lo) − E1(x_hi) for y = 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if y == 0:
            return np.log(exp1(x_lo) - exp1(x_hi))
        upper = x_lo > y  # the window in the upper tail: Q differences keep their digits
        diff = np.where(
            upper,
            gammaincc(y, x_lo) - gammaincc(y, x_hi),
            gammainc(y, x_hi) - gammainc(y, x_lo),
        )
        return gammaln(y) + np.log(diff)


def _log_marginal(p: _Part, curve: _Curve) -> np.ndarray:
    if p.kind == GAUSSIAN:
        prec, slope = curve.precision, curve.slope
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = slope / prec
            root = np.sqrt(prec)
            window = _log_phi_diff((p.lo - curve.c0 - mu) * root, (p.hi - curve.c0 - mu) * root)
            out = curve.const + 0.5 * slope**2 / prec + 0.5 * np.log(2 * np.pi / prec) + window
        return np.where(np.isfinite(out) & (prec > 0), out, -np.inf)
    y, s = curve.y, curve.s
    with np.errstate(divide="ignore", invalid="ignore"):
        out = curve.const - y * np.log(s) + _log_gamma_window(y, s * np.exp(p.lo), s * np.exp(p.hi))
    return np.where(np.isfinite(out), out, -np.inf)


def _conditional_max(p: _Part, curve: _Curve) -> np.ndarray:
    """The constant's maximum-likelihood value per run (integration coordinate; the prior's
    e^c of a scale factor left out), clipped to its bounds; the midpoint for a run whose
    likelihood has no maximum (it diverged: scored impossible anyway)."""
    mid = 0.5 * (p.lo + p.hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.kind == GAUSSIAN:
            slope = curve.slope - (1.0 if p.log_scale else 0.0)
            c = curve.c0 + slope / curve.precision
            c = np.where(curve.precision > 0, c, np.nan)
        else:
            c = np.log(curve.y / curve.s)  # y = 0: −inf, clipped to the lower bound
    return np.where(np.isnan(c), mid, np.clip(c, p.lo, p.hi))


class Profiled:
    """``problem``'s residuals and log-likelihood with the closed-form constants (but the
    columns in ``skip``) at their maximum given the rest of each row: what the optimisers
    see under ``links="closed-form"``, moving in the model values (and shared constants)
    only; the constants' columns of ``X`` are overwritten, never read."""

    def __init__(self, goal: Target, problem: Problem, skip: frozenset[int] = frozenset()):
        self.goal, self.problem, self.skip = goal, problem, skip
        self.whitenable = problem.whitenable

    def concentrate(self, outputs: Outputs, X: np.ndarray) -> np.ndarray:
        return self.goal.concentrate(outputs, X, self.skip)

    def residuals(self, outputs: Outputs, X: np.ndarray, *, counts: bool = True) -> np.ndarray:
        return self.problem.residuals(outputs, self.concentrate(outputs, X), counts=counts)

    def log_likelihood(self, outputs: Outputs, X: np.ndarray) -> np.ndarray:
        return self.problem.log_likelihood(outputs, self.concentrate(outputs, X))


def check_links(links: str) -> None:
    """Refuse a ``links`` mode that is not one of LINK_MODES (named, with the choices)."""
    if links not in LINK_MODES:
        raise InvalidValueError(
            f"links must be one of {', '.join(map(repr, LINK_MODES))}, got {links!r}"
        )


def _conditional_draw(p: _Part, curve: _Curve, rng: np.random.Generator) -> np.ndarray:
    """One draw per run of the constant (on its integration coordinate) given the rest."""
    if p.kind == GAUSSIAN:
        prec = np.maximum(curve.precision, 1e-300)
        mu = curve.c0 + curve.slope / prec
        sd = 1.0 / np.sqrt(prec)
        v = rng.random(mu.shape)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # SciPy's truncated normal stays accurate far in a tail (mass piled on a bound)
            c = truncnorm.ppf(v, (p.lo - mu) / sd, (p.hi - mu) / sd, loc=mu, scale=sd)
        return np.clip(np.where(np.isfinite(c), c, p.lo + v * (p.hi - p.lo)), p.lo, p.hi)
    y, s = curve.y, curve.s
    v = rng.random(s.shape)
    if y > 0:  # u = S e^c is Gamma(Y) truncated to [S e^lo, S e^hi]
        lo, hi = gammainc(y, s * np.exp(p.lo)), gammainc(y, s * np.exp(p.hi))
        u = gammaincinv(y, lo + v * (hi - lo))
        c = np.log(u / s)
        if np.all(np.isfinite(c)):
            return np.clip(c, p.lo, p.hi)
    grid = np.linspace(p.lo, p.hi, _GRID)  # the density ∝ exp(Y c − S e^c), inverted
    log_d = y * grid[None, :] - s[:, None] * np.exp(grid)[None, :]
    d = np.exp(log_d - log_d.max(axis=1, keepdims=True))
    cdf = np.concatenate([np.zeros((len(s), 1)), np.cumsum(0.5 * (d[:, 1:] + d[:, :-1]), 1)], 1)
    cdf /= cdf[:, -1:]
    return np.array([np.interp(v[i], cdf[i], grid) for i in range(len(s))])


def target(setup: Setup | CalibrationSpec, *, integrate: bool = True) -> Target:
    """The sampler's target for a spec: its link constants integrated out where a closed form
    exists (``integrate=False``: none, every free parameter sampled). At least two dimensions
    stay sampled (a population sampler needs a direction to move in); otherwise none is
    integrated."""
    spec = getattr(setup, "spec", setup)
    parts = _parts(spec) if integrate else ()
    if len(spec.names) - len(parts) < 2:
        parts = ()
    gone = {id(p.obs) for p in parts}
    columns = {p.column for p in parts}
    rest = replace(spec, observations=tuple(o for o in spec.observations if id(o) not in gone))
    keep = tuple(j for j in range(len(spec.names)) if j not in columns)
    return Target(spec, keep, parts, Problem(rest))
