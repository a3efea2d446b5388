"""User-facing errors: one clear message naming the bad thing and how to fix it.

The CLI prints ``error: <message>`` and exits with code 2 for any :class:`NeaSdError`;
everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from types import ModuleType


class NeaSdError(Exception):
    """Base class of every error caused by the user's input (path, model, name, value, data)."""


class ModelFileError(NeaSdError):
    """A model file is missing, unreadable or cannot be parsed."""


class UnknownNameError(NeaSdError, KeyError):
    """A parameter, variable, scenario or series name that does not exist."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class OutOfRangeError(NeaSdError, ValueError):
    """A value outside the range declared for it."""


class InvalidValueError(NeaSdError, ValueError):
    """A value that cannot be used (not a number, wrong shape, empty range, ...)."""


class OutputPathError(NeaSdError):
    """An output path that cannot be written."""


class SimulationError(NeaSdError):
    """A run that diverged or produced non-finite values."""


def close_matches(name: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """Return up to ``n`` choices that look like ``name`` (case-insensitive)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    # substring hits help for long Vensim names typed partially
    hits += [c for c in lowered if name.lower() in c and c not in hits]
    return [lowered[h] for h in hits[:n]]


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> UnknownNameError:
    """Build the error for an unknown ``kind`` named ``name``, suggesting close matches."""
    choices = sorted(choices)
    matches = close_matches(name, choices)
    if matches:
        hint = "did you mean " + ", ".join(repr(m) for m in matches) + "?"
    elif len(choices) <= 12:
        hint = "valid choices: " + ", ".join(repr(c) for c in choices)
    else:
        hint = f"{len(choices)} are defined; list them with 'nea-sd params'"
    return UnknownNameError(f"unknown {kind} {name!r}; {hint}")


class DataError(NeaSdError, ValueError):
    """A data file or series that does not match its documented form.

    Wrong unit, unexpected column, duplicate or missing year inside a requested span, a level
    break that an operation would straddle: each names the file (and row, where there is one).
    """


class UnsupportedModelError(NeaSdError):
    """A model uses constructs that the batch engine cannot compile (use ``--engine pysd``)."""


class MissingDependencyError(NeaSdError):
    """An optional package that a command needs is not installed; the message says how to add it."""


def require(module: str, package: str, purpose: str) -> ModuleType:
    """Import ``module`` for ``purpose``, or raise one line naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{purpose} needs {package}: pip install {package} (it is in pyproject)"
        ) from None


class CheckpointError(NeaSdError):
    """A sweep checkpoint that is missing, unreadable or belongs to another sweep."""


class NamedLoopError(NeaSdError, ValueError):
    """A named loop in ``loops.toml`` whose path is not a feedback loop of the model."""
