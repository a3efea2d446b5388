"""Command line: a thin layer over the library.

Each ``nea_sd/cli/<command>.py`` module defines ``register(subparsers)``, which adds its parser
and sets ``handler`` to a function ``(args) -> int``. Commands are discovered, so adding one
touches no other file. User errors (:class:`NeaSdError`) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from nea_sd import __version__
from nea_sd.errors import NeaSdError

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit code 2, like our own errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nea-sd", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"nea-sd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    for command in subparsers.choices.values():  # every command may run the batch engine
        command.add_argument(
            "--allow-unverified",
            action="store_true",
            help="run a model even if the batch engine's results differ from PySD's on it "
            "(marked unverified in the provenance; NEA_SD_VERIFY=off skips the check)",
        )
    return parser


def _agg_backend() -> None:
    """Figures from the command line go to files: the Agg backend, chosen here (not on import
    of the plotting modules, so notebooks keep their inline backend)."""
    os.environ["MPLBACKEND"] = "Agg"
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")


def main(argv: Sequence[str] | None = None) -> int:
    _agg_backend()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "allow_unverified", False):
        from nea_sd.engine.verify import allow_unverified

        allow_unverified()
    from nea_sd.outputs import created_folders_removed_on_failure

    previous = _unwind_on_sigterm()
    try:
        with created_folders_removed_on_failure():
            return int(args.handler(args) or 0)
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except NeaSdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` that closed early: not an error
        _silence_stdout()
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt
    """SIGTERM arrived (a scheduler's or ``timeout``'s stop)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _unwind_on_sigterm() -> Any:
    """Make SIGTERM unwind like Ctrl-C, so that the cleanup of every write runs (a stream's
    temporary store, a half-written result) instead of leaving hidden temporaries behind; the
    previous handler, to restore, or None when it is not ours to change."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None  # someone (a test runner, an embedding program) handles it already
    return signal.signal(signal.SIGTERM, _terminate)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
