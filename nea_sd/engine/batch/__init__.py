"""The batch engine: a Vensim model compiled to numpy code that advances N runs at once.

PySD stays the loader (its abstract model, via :func:`nea_sd.model.parse_abstract_model`) and
the reference runtime; this engine reproduces PySD's Euler arithmetic over a leading ``run``
axis, so that sweeps, sensitivity analyses and calibrations run thousands of parameter sets
in one process.
"""

from nea_sd.engine.batch.runtime import BatchModel, TimeGrid, compile_model
from nea_sd.engine.batch.unsupported import Finding, report

__all__ = ["BatchModel", "Finding", "TimeGrid", "compile_model", "report"]
