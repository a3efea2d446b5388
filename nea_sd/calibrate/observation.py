"""Observation model: how a model quantity shows up in a data series, and how likely the data are.

A *link* maps model output to the data's scale (identity, a scale factor, the logistic poll
link, an index to a base year); an *error model* gives the log-likelihood of the data around
that prediction. Everything is vectorized over a leading ``run`` axis: model output shaped
(runs, times) gives one log-likelihood per run, so a batch of parameter sets is scored at once.
Missing data points (NaN) are skipped, never filled.

Link constants that are fitted (``None`` in the link) are passed per call as ``params`` —
a scalar or an array with one value per run — under the names in ``link.free``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
from scipy.special import expit, gammaln, logit, xlog1py, xlogy

from nea_sd.data.series import Series, _year_list
from nea_sd.errors import DataError, InvalidValueError

LOG_2PI = float(np.log(2 * np.pi))
Params = Mapping[str, float | np.ndarray]


def at_years(model: np.ndarray, model_years: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Columns of ``model`` (…, times) at ``years``; a year the model did not save is an error."""
    model = np.asarray(model, dtype=float)
    times = np.asarray(model_years, dtype=float)
    if model.shape[-1] != times.size:
        raise InvalidValueError(
            f"model output has {model.shape[-1]} times but {times.size} model years were given"
        )
    where = np.searchsorted(times, np.asarray(years, dtype=float) - 1e-9)
    where = np.clip(where, 0, times.size - 1)
    hit = np.abs(times[where] - years) < 1e-6
    if not hit.all():
        missing = np.asarray(years)[~hit]
        raise InvalidValueError(
            f"model output has no value at year(s) {_year_list(missing)}; "
            f"it covers {times[0]:g}-{times[-1]:g} — save at least yearly over the data period"
        )
    return model[..., where]


def annual_mean(model: np.ndarray, model_years: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Mean of ``model`` (…, times) over each calendar year [y, y+1) at the saved times.

    Annual data (spending, trade, arrivals) are totals over a year, not values on 1 January;
    a stock that collapses in March (the 2020 pandemic) must be compared with its yearly mean.
    """
    model = np.asarray(model, dtype=float)
    times = np.asarray(model_years, dtype=float)
    out = np.empty(model.shape[:-1] + (len(years),))
    for i, year in enumerate(np.asarray(years, dtype=float)):
        inside = (times >= year - 1e-9) & (times < year + 1 - 1e-9)
        if inside.sum() < 2 or times[-1] < year + 1 - 1e-6 - np.diff(times).max():
            raise InvalidValueError(
                f"a yearly mean for {year:g} needs saved times through {year + 1:g} at least "
                f"twice a year; the model output covers {times[0]:g}-{times[-1]:g}"
            )
        out[..., i] = model[..., inside].mean(axis=-1)
    return out


def _param(link: object, name: str, params: Params | None) -> np.ndarray:
    """A link constant: fixed in the link, else taken from ``params`` (scalar or per run)."""
    fixed = getattr(link, name)
    if fixed is not None:
        return np.asarray(fixed, dtype=float)
    if params is None or name not in params:
        raise InvalidValueError(
            f"{type(link).__name__} link has {name!r} to fit; pass params={{{name!r}: ...}}"
        )
    value = np.asarray(params[name], dtype=float)
    return value[..., None] if value.ndim else value  # (runs,) -> (runs, 1) for broadcasting


class Link(Protocol):
    free: tuple[str, ...]

    def observe(self, series: Series, years: np.ndarray) -> np.ndarray: ...

    def predict(
        self,
        model: np.ndarray,
        model_years: np.ndarray,
        years: np.ndarray,
        params: Params | None = None,
    ) -> np.ndarray: ...


class _PointLink:
    """Links that act point by point on the model value and leave the data as they are."""

    def observe(self, series: Series, years: np.ndarray) -> np.ndarray:
        return series.on_years(years)

    _constants: ClassVar[tuple[str, ...]] = ()

    def transform(self, values: np.ndarray, params: Params | None = None) -> np.ndarray:
        raise NotImplementedError

    def predict(
        self,
        model: np.ndarray,
        model_years: np.ndarray,
        years: np.ndarray,
        params: Params | None = None,
    ) -> np.ndarray:
        return self.transform(at_years(model, model_years, years), params)

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(n for n in self._constants if getattr(self, n) is None)


@dataclass(frozen=True)
class Identity(_PointLink):
    """Model and data in the same units (e.g. SIPRI constant US$ m)."""

    def transform(self, values: np.ndarray, params: Params | None = None) -> np.ndarray:
        return values


@dataclass(frozen=True)
class Scale(_PointLink):
    """data = factor · model; ``factor=None`` fits it (e.g. $bn/yr model vs thousand JPY data)."""

    factor: float | None = None
    _constants: ClassVar[tuple[str, ...]] = ("factor",)

    def transform(self, values: np.ndarray, params: Params | None = None) -> np.ndarray:
        return _param(self, "factor", params) * values


@dataclass(frozen=True)
class Logistic(_PointLink):
    """Poll link: % unfavourable = 100 · (1 − logistic(α + β · logit(T))) for trust T in (0, 1).

    T of exactly 0 or 1 maps to 100 % or 0 %, which the poll error models then score as
    impossible (−inf) — a model that pins trust at a bound cannot explain a poll.
    """

    alpha: float | None = None
    beta: float | None = None
    _constants: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def transform(self, values: np.ndarray, params: Params | None = None) -> np.ndarray:
        alpha = _param(self, "alpha", params)
        beta = _param(self, "beta", params)
        with np.errstate(divide="ignore"):
            return 100.0 * (1.0 - expit(alpha + beta * logit(values)))


@dataclass(frozen=True)
class LogLinear(_PointLink):
    """Count rate = exp(intercept + slope · value): a log-linear (Poisson GLM) link, e.g. the
    yearly rate of militarized disputes in a dyad from its security trust (slope < 0: fewer
    disputes the more the states trust each other). Either constant may be fitted (None)."""

    intercept: float | None = None
    slope: float | None = None
    _constants: ClassVar[tuple[str, ...]] = ("intercept", "slope")

    def transform(self, values: np.ndarray, params: Params | None = None) -> np.ndarray:
        a = _param(self, "intercept", params)
        b = _param(self, "slope", params)
        with np.errstate(over="ignore"):
            return np.exp(a + b * values)


@dataclass(frozen=True)
class Index:
    """Series and model each divided by their value in a base year (scale-free comparison).

    For a series with level breaks (DPRK won figures, 2003) give one base year per segment —
    each segment is then indexed on its own; one base year for a period that crosses a break
    is an error, since it would compare values across the break.
    """

    base_year: int | tuple[int, ...]
    free: tuple[str, ...] = field(default=(), init=False)

    @property
    def base_years(self) -> tuple[int, ...]:
        b = self.base_year
        return (int(b),) if np.ndim(b) == 0 else tuple(int(x) for x in b)

    def bases(self, series: Series, years: np.ndarray) -> np.ndarray:
        """The base year for each of ``years`` (the one in the same segment)."""
        edges = [-np.inf, *series.breaks, np.inf]
        out = np.zeros(len(years), dtype=np.int64)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            inside = (years >= lo) & (years < hi)
            if not inside.any():
                continue
            base = [b for b in self.base_years if lo <= b < hi]
            if len(base) != 1:
                seg = f"{years[inside].min()}-{years[inside].max()}"
                found = "no" if not base else f"{len(base)}"
                raise DataError(
                    f"index link for {series.name!r}: {found} base year in segment {seg} "
                    f"(level break(s) at {list(series.breaks)}); give exactly one base year "
                    f"per segment, e.g. base_year = [...], or restrict the period to one side "
                    "of the break (comparing across it would be meaningless)"
                )
            out[inside] = base[0]
        return out

    def observe(self, series: Series, years: np.ndarray) -> np.ndarray:
        bases = self.bases(series, years)
        base_values = series.on_years(bases)
        if np.isnan(base_values).any():
            bad = sorted(set(bases[np.isnan(base_values)].tolist()))
            raise DataError(
                f"index link for {series.name!r}: base year {bad} has no observation "
                f"(missing years: {_year_list(series.missing_years()) or 'none'})"
            )
        if np.any(base_values <= 0):
            raise DataError(f"index link for {series.name!r}: base value is not positive")
        return series.on_years(years) / base_values

    def predict(
        self,
        model: np.ndarray,
        model_years: np.ndarray,
        years: np.ndarray,
        params: Params | None = None,
        *,
        bases: np.ndarray | None = None,
    ) -> np.ndarray:
        """Model indexed like the data: each year divided by its segment's base year."""
        if bases is None:
            bases = np.full(len(years), self.base_years[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            return at_years(model, model_years, years) / at_years(model, model_years, bases)


# -- error models ---------------------------------------------------------------------------


def _prepare(pred: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=float)
    obs = np.asarray(obs, dtype=float)
    if pred.shape[-1] != obs.shape[-1] or obs.ndim != 1:
        raise InvalidValueError(
            f"prediction {pred.shape} must end with the data's length {obs.shape}"
        )
    keep = np.isfinite(obs)
    return pred[..., keep], obs[keep], keep


def _per_point(value: float | np.ndarray, keep: np.ndarray) -> np.ndarray:
    value = np.asarray(value, dtype=float)
    return value[keep] if value.ndim else value


def _total(terms: np.ndarray) -> np.ndarray:
    """Sum over points; NaN terms (impossible predictions) count as −inf."""
    return np.where(np.isnan(terms), -np.inf, terms).sum(axis=-1)


@dataclass(frozen=True)
class Normal:
    """Additive Gaussian error with standard deviation ``sigma`` (scalar or per point)."""

    sigma: float | np.ndarray

    def log_likelihood(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        pred, obs, keep = _prepare(pred, obs)
        s = _per_point(self.sigma, keep)
        return _total(-0.5 * LOG_2PI - np.log(s) - 0.5 * ((obs - pred) / s) ** 2)

    def standardized(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        """(data − prediction) / σ per point (NaN where the data are missing)."""
        return (np.asarray(obs, float) - np.asarray(pred, float)) / np.asarray(self.sigma, float)


@dataclass(frozen=True)
class LogNormal:
    """log(data) ~ N(log(prediction), σ): multiplicative error, for money and visitor flows.

    ``sigma_estimate`` / ``sigma_highly_uncertain`` replace ``sigma`` on points flagged
    ``sipri_estimate`` / ``sipri_highly_uncertain`` (the latter wins), so SIPRI's own estimates
    pull the fit less. The density is that of the data on its own scale (includes −log y).
    """

    sigma: float
    sigma_estimate: float | None = None
    sigma_highly_uncertain: float | None = None

    def sigmas(self, n: int, flags: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Per-point σ for ``n`` points carrying ``flags``."""
        out = np.full(n, float(self.sigma))
        flags = flags or {}
        for name, value in (
            ("sipri_estimate", self.sigma_estimate),
            ("sipri_highly_uncertain", self.sigma_highly_uncertain),
        ):
            if value is not None and name in flags:
                out[np.asarray(flags[name], bool)] = value
        return out

    def log_likelihood(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        s_all = self.sigmas(np.asarray(obs).shape[-1], flags)
        pred, obs, keep = _prepare(pred, obs)
        if np.any(obs <= 0):
            raise DataError(f"log-normal error needs positive data; got {obs[obs <= 0].tolist()!r}")
        s = s_all[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(obs) - np.log(pred)) / s
            terms = -np.log(obs) - np.log(s) - 0.5 * LOG_2PI - 0.5 * z**2
        return _total(np.where(pred > 0, terms, np.nan))

    def standardized(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        """(log data − log prediction) / σ per point (NaN where impossible or missing)."""
        obs = np.asarray(obs, float)
        s = self.sigmas(obs.shape[-1], flags)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(obs) - np.log(np.asarray(pred, float))) / s
        return np.where(np.isfinite(z), z, np.nan)


def _proportions(obs: np.ndarray, scale: float, what: str) -> np.ndarray:
    p = obs / scale
    if np.any((p <= 0) | (p >= 1)):
        raise DataError(
            f"{what} needs data strictly between 0 and {scale:g}; got {obs[(p <= 0) | (p >= 1)]!r}"
        )
    return p


@dataclass(frozen=True)
class LogitNormal:
    """logit(data/scale) ~ N(logit(prediction/scale), σ): for poll percentages.

    The density is that of the proportion p = data/scale on (0, 1), including the Jacobian
    1/(p(1−p)), so it equals the logit-normal pdf.
    """

    sigma: float | np.ndarray
    scale: float = 100.0

    def log_likelihood(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        pred, obs, keep = _prepare(pred, obs)
        p = _proportions(obs, self.scale, "logit-normal error")
        s = _per_point(self.sigma, keep)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (logit(p) - logit(pred / self.scale)) / s
            terms = -0.5 * LOG_2PI - np.log(s) - 0.5 * z**2 - np.log(p * (1 - p))
        return _total(np.where(np.isinf(z), -np.inf, terms))

    def standardized(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        """(logit data − logit prediction) / σ per point (NaN where impossible or missing)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (logit(np.asarray(obs, float) / self.scale) - logit(pred / self.scale)) / (
                np.asarray(self.sigma, float)
            )
        return np.where(np.isfinite(z), z, np.nan)


@dataclass(frozen=True)
class Binomial:
    """k of n respondents unfavourable, k = round(n · data/scale), probability prediction/scale.

    ``n`` is the (effective) sample size — the poll file gives none, so it is a modelling
    choice; a smaller n widens the likelihood for design effects and sample changes.
    """

    n: float | np.ndarray
    scale: float = 100.0

    def log_likelihood(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        pred, obs, keep = _prepare(pred, obs)
        n = _per_point(self.n, keep)
        if np.any(np.asarray(n) <= 0):
            raise InvalidValueError(f"binomial n must be positive; got {self.n!r}")
        if np.any((obs < 0) | (obs > self.scale)):
            raise DataError(f"binomial error needs data in [0, {self.scale:g}]; got {obs!r}")
        k = np.round(n * obs / self.scale)
        q = pred / self.scale
        with np.errstate(divide="ignore", invalid="ignore"):
            comb = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
            terms = comb + xlogy(k, q) + xlog1py(n - k, -q)
        return _total(np.where((q >= 0) & (q <= 1), terms, np.nan))


@dataclass(frozen=True)
class Poisson:
    """Counts (e.g. MID onsets per year) with rate = prediction per year."""

    def log_likelihood(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        pred, obs, keep = _prepare(pred, obs)
        if np.any((obs < 0) | (obs != np.round(obs))):
            raise DataError(f"Poisson error needs non-negative whole counts; got {obs!r}")
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = xlogy(obs, pred) - pred - gammaln(obs + 1)
        return _total(np.where(pred >= 0, terms, np.nan))

    def standardized(self, pred, obs, flags: Mapping[str, np.ndarray] | None = None):
        """Deviance residuals sign(y − μ) · √(2 (y log(y/μ) − y + μ)): ½ Σ r² = −log L + a
        constant of the data alone (Σ y log y − y − log y!), so least squares fits counts too.
        NaN where the data are missing or the rate is negative or zero with a count above 0."""
        obs = np.asarray(obs, float)
        pred = np.asarray(pred, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2.0 * (xlogy(obs, obs) - xlogy(obs, pred) - obs + pred)
            r = np.sign(obs - pred) * np.sqrt(np.maximum(dev, 0.0))
        return np.where(np.isfinite(r) & (pred >= 0), r, np.nan)


ErrorModel = Normal | LogNormal | LogitNormal | Binomial | Poisson
GAUSSIAN = (Normal, LogNormal, LogitNormal)  # error models with standardized residuals


def ar1_whiten(
    z: np.ndarray, years: np.ndarray, scale: float = 1.0, rho: float = 0.0
) -> tuple[np.ndarray, float]:
    """Innovations of standardized residuals ``z`` (…, n) under a stationary AR(1) with
    marginal sd ``scale`` and lag-one-year correlation ``rho`` (a gap of d years: rho**d),
    and the log-determinant term: log L = −½ Σ e² − n log scale − ``logdet`` + const."""
    z = np.asarray(z, dtype=float) / scale
    if rho == 0.0 or z.shape[-1] < 2:
        return z, 0.0
    r = np.power(rho, np.diff(np.asarray(years, dtype=float)))
    root = np.sqrt(1.0 - r**2)
    e = z.copy()
    e[..., 1:] = (z[..., 1:] - r * z[..., :-1]) / root
    return e, float(np.sum(np.log(root)))


# -- one comparison -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Observation:
    """One data series compared with one model quantity through a link and an error model.

    Fields:
        name: label used for fitted link constants (``"<name>.alpha"``) and in reports.
        series: the data (see :func:`nea_sd.data.load_series`).
        variable: model variable with subscripts, e.g. ``"Military expenditure[CN]"``.
        link, error: the link and error model; ``weight`` multiplies the log-likelihood.
        average: compare each data year with the model's mean over that calendar year
            (annual totals) instead of its value at the start of the year.
        fit_period, holdout_period: this observation's own periods, overriding the spec's
            (a series that starts after the spec's fit period ends, e.g. JNTO 2019-).
        scale, ar1: the error model's σ times ``scale``, residuals AR(1) with lag-one-year
            correlation ``ar1`` (Gaussian errors only; estimated by
            :func:`nea_sd.calibrate.noise.estimate_noise`, not written in specs).
        shared: (link constant, free parameter name) pairs for constants fitted jointly
            with other observations (see :meth:`link_name`).
    """

    name: str
    series: Series
    variable: str
    link: Identity | Scale | Logistic | LogLinear | Index
    error: ErrorModel
    weight: float = 1.0
    average: bool = False
    fit_period: tuple[int, int] | None = None
    holdout_period: tuple[int, int] | None = None
    scale: float = 1.0
    ar1: float = 0.0
    shared: tuple[tuple[str, str], ...] = ()

    def link_name(self, key: str) -> str:
        """The free parameter fitting link constant ``key``: ``"<name>.<key>"``, or the name
        given in ``shared`` (one constant fitted across observations, e.g. a common slope)."""
        return dict(self.shared).get(key, f"{self.name}.{key}")

    @property
    def rescaled(self) -> bool:
        return self.scale != 1.0 or self.ar1 != 0.0

    def innovations(self, pred, obs, flags, years) -> tuple[np.ndarray, float]:
        """Whitened residuals (…, points) under this observation's scale and AR(1), NaN at
        missing or impossible points, and the log-determinant term (see :func:`ar1_whiten`)."""
        z = np.atleast_1d(self.error.standardized(pred, obs, flags))
        keep = np.isfinite(np.asarray(obs, dtype=float))
        z = np.broadcast_to(z, np.broadcast_shapes(z.shape, keep.shape)).copy()
        e, logdet = ar1_whiten(z[..., keep], np.asarray(years)[keep], self.scale, self.ar1)
        out = np.full(z.shape, np.nan)
        out[..., keep] = e
        return out, logdet

    def points(self, period: tuple[int, int] | None = None) -> np.ndarray:
        """Observed years inside ``period`` (all when None); gaps are simply absent."""
        years = self.series.years
        if period is not None:
            years = years[(years >= period[0]) & (years <= period[1])]
        if not years.size:
            raise DataError(
                f"observation {self.name!r}: series {self.series.name!r} "
                f"({'{}-{}'.format(*self.series.span)}) has no data in {period!r}"
            )
        return years

    def log_likelihood(
        self,
        model: np.ndarray,
        model_years: Sequence[float] | np.ndarray,
        params: Params | None = None,
        period: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Weighted log-likelihood per run for model output (runs, times) or (times,)."""
        years = self.points(period)
        pred, obs, flags = self.predict(model, model_years, years, params)
        ll = self.error.log_likelihood(pred, obs, flags)
        if self.rescaled:  # swap the iid quadratic form for the scaled AR(1) one
            z = self.error.standardized(pred, obs, flags)[..., np.isfinite(obs)]
            e, logdet = self.innovations(pred, obs, flags, years)
            e = e[..., np.isfinite(obs)]
            with np.errstate(invalid="ignore"):
                new = (
                    ll
                    + 0.5 * np.sum(z**2, axis=-1)
                    - 0.5 * np.sum(e**2, axis=-1)
                    - z.shape[-1] * np.log(self.scale)
                    - logdet
                )
            ll = np.where(np.isfinite(ll), new, ll)
        return self.weight * ll

    def predict(
        self,
        model: np.ndarray,
        model_years: Sequence[float] | np.ndarray,
        years: np.ndarray,
        params: Params | None = None,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(prediction (…, points), data, flags) on the data scale at observed ``years``."""
        obs = self.link.observe(self.series, years)
        model_years = np.asarray(model_years, dtype=float)
        if self.average:
            model = annual_mean(model, model_years, years)
            model_years = np.asarray(years, dtype=float)
        if isinstance(self.link, Index):
            bases = self.link.bases(self.series, years)
            pred = self.link.predict(model, model_years, years, bases=bases)
        else:
            pred = self.link.predict(model, model_years, years, params)
        keep = np.isin(self.series.years, years)
        flags = {k: v[keep] for k, v in self.series.flags.items()}
        return pred, obs, flags
