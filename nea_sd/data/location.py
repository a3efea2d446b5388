"""Where the shared data files live: never inside the project, always named explicitly.

The data are kept beside the checkout (``../shared/data``) and are read in place, so a
calibration's provenance can cite the exact file and its hash.
"""

from __future__ import annotations

import os
from pathlib import Path

from nea_sd.errors import DataError

ENV_VAR = "NEA_SD_DATA"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``explicit``, else ``$NEA_SD_DATA``; it must exist."""
    if explicit is not None:
        origin, raw = "--data-dir", os.fspath(explicit)
    else:
        raw = os.environ.get(ENV_VAR, "")
        origin = ENV_VAR
        if not raw:
            raise DataError(
                "no data directory given; pass --data-dir DIR (data_dir=... in Python) "
                f"or set the environment variable {ENV_VAR} (e.g. {ENV_VAR}=../shared/data)"
            )
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DataError(f"data directory {raw!r} (from {origin}) does not exist or is not a folder")
    return path.resolve()


def data_file(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Path of the data file ``name`` inside the data directory; it must exist."""
    folder = data_dir(directory)
    path = folder / name
    if not path.is_file():
        present = sorted(p.name for p in folder.glob("*.csv"))
        raise DataError(
            f"data file {name!r} not found in {str(folder)!r}; files there: "
            + (", ".join(repr(p) for p in present) or "none")
        )
    return path
