"""nea_sd: system-dynamics models of trust, arms buildup and exchange in Northeast Asia.

Stages, kept visible as in a compiler pipeline:
``model`` (load a Vensim file through PySD) -> ``engine`` (simulate) ->
``outcomes`` / ``loops`` / ``sensitivity`` / ``calibrate`` (analyse) -> ``cli`` (thin).

The public API (:mod:`nea_sd.api`)::

    import nea_sd as nsd

    m = nsd.load("nea")                      # once; every stage takes this object
    m.run(scenario="functional-first")       # xarray Dataset
    nsd.compare(m).table()                   # the strategies side by side
    nsd.sensitivity(m, "morris", 64)         # SALib on the batch engine
    nsd.calibrate("calibration/richardson_prewwi.toml")
    nsd.loops(m, scenario="functional-first")
    nsd.report(m, samples=500).write("report")   # the hypotheses over the uncertainty

``compare``, ``sensitivity``, ``calibrate``, ``loops`` and ``report`` are the stage packages
themselves, made callable (``nsd.loops(...)`` is :func:`nea_sd.api.loops`, ``nsd.loops.analyze`` is
still there).  Everything is imported on first use, so ``import nea_sd`` stays light.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from nea_sd.errors import NeaSdError

__version__ = "0.1.0"
STAGES = ("compare", "sensitivity", "calibrate", "loops", "report")
_API = ("Calibration", "Model", "load", "base_parameters", "Comparison")
__all__ = ["NeaSdError", "__version__", *_API, *STAGES]


class _Stage(types.ModuleType):
    """A stage package that can be called: the call is the :mod:`nea_sd.api` function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from nea_sd import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # the import system binds each subpackage here once, when it is first imported
        if name in STAGES and type(value) is types.ModuleType:
            value.__class__ = _Stage
        super().__setattr__(name, value)


def __getattr__(name: str) -> Any:
    if name in STAGES:
        return importlib.import_module(f"nea_sd.{name}")
    if name in ("base_parameters", "Comparison"):
        return getattr(importlib.import_module("nea_sd.compare"), name)
    if name in _API:
        return getattr(importlib.import_module("nea_sd.api"), name)
    raise AttributeError(f"module 'nea_sd' has no attribute {name!r}")


sys.modules[__name__].__class__ = _Package
