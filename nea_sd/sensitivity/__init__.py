"""Sensitivity sweeps: which parameters decide the outcomes, and whether sequencing matters.

A :class:`Problem` is read from a model (ranges from the ``.mdl`` units field) and a sweep spec;
SALib samples and analyses it (:mod:`.methods`); an :class:`Evaluator` runs the batch engine in
this process, in local processes or on Dask, in checkpointed chunks (:func:`run_sweep`); the
result is a labelled Dataset of indices with confidence intervals and provenance.

Example (the paired difference functional-first minus military-first)::

    model = load_model("models/nea.mdl")
    problem = build_problem(model, load_spec("sweep.toml"),
                            paired=["functional-first", "military-first"])
    result = run_sweep(problem, "sobol", 1024, seed=0, output="sobol.nc")
    result.table("security_trust_2040")      # S1, ST and their half-widths

Command line: ``nea-sd sensitivity nea --method sobol --samples 1024 --spec sweep.toml
--paired functional-first,military-first --workers 2 --seed 0 --output sobol.nc``; after an
interruption, the same command with ``--resume`` recomputes only the missing chunks.
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
