"""Calibration stage: fit statistics, the observation model and calibration specs.

Nothing here runs the simulator: an :class:`Observation` scores model output that a batch
engine produced, shaped (runs, times), against a data :class:`~nea_sd.data.Series`.
"""

from nea_sd.calibrate.observation import (
    Binomial,
    Identity,
    Index,
    Logistic,
    LogitNormal,
    LogNormal,
    Normal,
    Observation,
    Poisson,
    Scale,
    at_years,
)
from nea_sd.calibrate.priors import Prior
from nea_sd.calibrate.spec import (
    CalibrationSpec,
    FreeParameter,
    load_spec,
    load_spec_for_model,
    parse_variable,
)
from nea_sd.calibrate.stats import FitStatistics, batch_fit_statistics, fit_statistics

__all__ = [
    "Binomial",
    "CalibrationSpec",
    "FitStatistics",
    "FreeParameter",
    "Identity",
    "Index",
    "LogNormal",
    "Logistic",
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
