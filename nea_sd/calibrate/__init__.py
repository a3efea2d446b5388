"""Calibration stage: specs, the observation model, fit statistics, and the fits themselves.

An :class:`Observation` scores model output shaped (runs, times) against a data
:class:`~nea_sd.data.Series`; :func:`prepare` binds a spec to the batch engine, and
:func:`fit` (multi-start maximum likelihood), :func:`profile` (profile-likelihood intervals)
and :func:`sample` (emcee posterior) estimate the free parameters. Results are saved with
:func:`save_result`; :func:`load_calibrated` gives other commands the calibrated values.
:func:`honest_fit` estimates per-series error scales and AR(1) residuals and refits under them;
:func:`nested_sample` gives the posterior and log evidence (UltraNest), :func:`evidence_table`
the evidence per structural variant; :func:`compare_base` the joint optimum for ``compare``;
:func:`fit_basins` whether optima that end apart are separate modes or stops on one ridge;
:func:`statistic_check` how often data from the fitted model would meet a fit threshold,
:func:`bound_check` how often fits end at a bound when the truth lies inside;
:mod:`~nea_sd.calibrate.criteria_check` the acceptance criteria of a committed result with
those checks and a verdict line per unmet criterion (``nea-sd calibrate --check-criteria``).
"""

from nea_sd.calibrate import criteria_check
from nea_sd.calibrate.basins import Basins, fit_basins
from nea_sd.calibrate.bayes import Posterior, parameter_draws, predictive, sample
from nea_sd.calibrate.bootstrap import BoundCheck, bound_check
from nea_sd.calibrate.fit import FitResult, SeriesFit, StartResult, fit, refine
from nea_sd.calibrate.nested import NestedResult, nested_sample
from nea_sd.calibrate.noise import SeriesNoise, estimate_noise, honest_fit
from nea_sd.calibrate.observation import (
    Binomial,
    Identity,
    Index,
    Logistic,
    LogitNormal,
    LogLinear,
    LogNormal,
    Normal,
    Observation,
    Poisson,
    Scale,
    at_years,
)
from nea_sd.calibrate.ppc import StatisticCheck, refit_check, statistic_check
from nea_sd.calibrate.priors import Prior
from nea_sd.calibrate.problem import Setup, prepare
from nea_sd.calibrate.profile import ParameterProfile, Profiles, profile
from nea_sd.calibrate.results import (
    calibrated_base,
    compare_base,
    load_calibrated,
    posterior_draws,
    read_result,
    save_result,
)
from nea_sd.calibrate.spec import (
    CalibrationSpec,
    FreeParameter,
    load_spec,
    load_spec_for_model,
    parse_variable,
)
from nea_sd.calibrate.stats import FitStatistics, batch_fit_statistics, fit_statistics
from nea_sd.calibrate.structures import EvidenceTable, Variant, evidence_table, load_variants

__all__ = [
    "criteria_check",
    "Basins",
    "fit_basins",
    "EvidenceTable",
    "NestedResult",
    "SeriesNoise",
    "Variant",
    "calibrated_base",
    "compare_base",
    "estimate_noise",
    "evidence_table",
    "honest_fit",
    "load_variants",
    "posterior_draws",
    "nested_sample",
    "Binomial",
    "CalibrationSpec",
    "FitResult",
    "FitStatistics",
    "ParameterProfile",
    "Posterior",
    "Profiles",
    "SeriesFit",
    "Setup",
    "StartResult",
    "fit",
    "load_calibrated",
    "parameter_draws",
    "predictive",
    "prepare",
    "StatisticCheck",
    "statistic_check",
    "refit_check",
    "BoundCheck",
    "bound_check",
    "profile",
    "read_result",
    "refine",
    "sample",
    "save_result",
    "FreeParameter",
    "Identity",
    "Index",
    "LogNormal",
    "Logistic",
    "LogLinear",
    "LogitNormal",
    "Normal",
    "Observation",
    "Poisson",
    "Prior",
    "Scale",
    "at_years",
    "batch_fit_statistics",
    "fit_statistics",
    "load_spec",
    "load_spec_for_model",
    "parse_variable",
]
