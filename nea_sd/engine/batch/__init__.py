"""The batch engine: a Vensim model compiled to code that advances N parameter sets at once.

PySD stays the loader (its abstract model, via :func:`nea_sd.model.parse_abstract_model`) and
the reference runtime; this engine reproduces PySD's Euler arithmetic for many runs in one
process, so that sweeps, sensitivity analyses and calibrations are affordable.

Pipeline: ``subscripts`` (ranges, index arithmetic) -> ``expressions`` / ``scalar`` (AST to
code) -> ``stateful`` (INTEG, SMOOTH, DELAY, TREND, INITIAL) -> ``compiler`` (graph of nodes
and states, pre-flight findings) -> ``codegen`` (numpy backend: one vectorized function over a
leading ``run`` axis) or ``kernel`` (numba backend: one compiled per-run loop, runs on threads)
-> ``runtime`` (:class:`BatchModel`: parameters, chunks, non-finite policy, Dataset).
"""

from nea_sd.engine.batch.runtime import BatchModel, TimeGrid, batch_model, compile_model
from nea_sd.engine.batch.unsupported import Finding, report

__all__ = ["BatchModel", "Finding", "TimeGrid", "batch_model", "compile_model", "report"]
