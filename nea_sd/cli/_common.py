"""Helpers shared by the commands: model lookup, ``--set`` parsing, progress bars."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nea_sd.errors import InvalidValueError
from nea_sd.model import Model, load_model

BUNDLED = ("richardson", "dyad", "nea")


def bundled_models_dir() -> Path:
    """``models/`` of the working directory if present, else the one beside the package."""
    local = Path.cwd() / "models"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "models"


def model_path(argument: str | None, default: str = "nea") -> Path:
    """A path as given, or a bundled model's name (``nea``, ``dyad``, ``richardson``)."""
    text = argument or default
    if text in BUNDLED:
        return bundled_models_dir() / f"{text}.mdl"
    return Path(text)


def open_model(argument: str | None, default: str = "nea") -> Model:
    """The model, validated first (a broken model is one ``error:`` line naming its line)."""
    from nea_sd.model.validate import check_model

    path = model_path(argument, default)
    if path.is_file() and path.suffix.lower() == ".mdl":
        check_model(path)
    return load_model(path)


def add_model_argument(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    help_text = "a .mdl file, or the name of a bundled model: " + ", ".join(BUNDLED)
    if optional:
        parser.add_argument("model", nargs="?", default=None, help=help_text + " (default nea)")
    else:
        parser.add_argument("model", help=help_text)


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("batch", "pysd"),
        default="batch",
        help="batch: the vectorized engine (default); pysd: PySD's reference runtime",
    )


def parse_assignments(items: list[str] | None) -> dict[str, float]:
    """``["Spillover=0.4", "Base rival weight[US,CN]=0.9"]`` -> mapping name -> float."""
    values: dict[str, float] = {}
    for item in items or []:
        name, sep, raw = item.rpartition("=")
        if not sep or not name.strip():
            raise InvalidValueError(
                f"--set expects NAME=VALUE, got {item!r} (quote names with spaces: "
                "--set 'Effort budget=0.5')"
            )
        try:
            values[name.strip()] = float(raw)
        except ValueError:
            raise InvalidValueError(
                f"--set {name.strip()!r}: value {raw.strip()!r} is not a number"
            ) from None
    return values


@contextmanager
def progress(total: int, description: str) -> Iterator[Any]:
    """A tqdm bar on stderr that shows up only when the job takes more than a second."""
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        desc=description,
        unit="run",
        delay=1.0,
        file=sys.stderr,
        leave=False,
        disable=None,
    )
    try:
        yield bar
    finally:
        bar.close()


def check_year(model: Model, year: float) -> float:
    """Refuse an outcome year outside the simulated period before anything runs."""
    first, last = model.time["initial"], model.time["final"]
    if not first - 1e-9 <= year <= last + 1e-9:
        raise InvalidValueError(
            f"--year {year:g} is outside the simulated period of {model.name} "
            f"({first:g}-{last:g}); choose a year in it"
        )
    return year


def check_workers(workers: int | None) -> None:
    """``--workers`` is a count of processes: refused below 1 before any work starts."""
    if workers is not None and workers < 1:
        raise InvalidValueError(
            f"--workers must be at least 1, got {workers} (omit it to run in this process)"
        )
