"""Sensitivity sweeps: which parameters decide the outcomes, and whether sequencing matters.

A :class:`Problem` is read from a model (ranges from the ``.mdl`` units field) and a sweep spec;
SALib samples and analyses it (:mod:`.methods`); an :class:`Evaluator` runs the batch engine in
this process, in local processes or on Dask, in checkpointed chunks (:func:`run_sweep`); the
result is a labelled Dataset of indices with confidence intervals and provenance.
"""

from nea_sd.sensitivity.analysis import SensitivityResult, analyze
from nea_sd.sensitivity.evaluators import (
    DaskEvaluator,
    Evaluator,
    InProcessEvaluator,
    ProcessEvaluator,
    evaluate_chunk,
    make_evaluator,
)
from nea_sd.sensitivity.methods import METHODS, Method, get_method
from nea_sd.sensitivity.outputs import OUTPUT_KINDS
from nea_sd.sensitivity.problem import Factor, Problem, build_problem
from nea_sd.sensitivity.spec import SweepSpec, load_spec, spec_from_dict
from nea_sd.sensitivity.sweep import draw_sample, load_result, planned_runs, run_sweep

__all__ = [
    "METHODS",
    "OUTPUT_KINDS",
    "DaskEvaluator",
    "Evaluator",
    "Factor",
    "InProcessEvaluator",
    "Method",
    "Problem",
    "ProcessEvaluator",
    "SensitivityResult",
    "SweepSpec",
    "analyze",
    "build_problem",
    "draw_sample",
    "evaluate_chunk",
    "get_method",
    "load_result",
    "load_spec",
    "make_evaluator",
    "planned_runs",
    "run_sweep",
    "spec_from_dict",
]
