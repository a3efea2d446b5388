"""Writing results: checked output paths, netCDF/CSV of Datasets, nothing half-written.

Paths are checked before a long job starts (folder writable, name not too long, some free
space), and every file is written to a unique temporary name beside its target, flushed to disk
and renamed over it, so an error, a full disk, an interrupt or a concurrent writer never leaves
a truncated file behind and never damages the file that was there before.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import itertools
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.errors import OutputPathError

SUFFIXES = (".nc", ".csv", ".tab")
MIN_FREE_BYTES = 1 << 20  # refuse to start a job whose results could not even be written
_TEMP_PREFIX = ".nea_sd-"
_TEMP_NAME_ROOM = 8 + len(_TEMP_PREFIX) + 4  # random part of mkstemp + prefix + ".tmp"
_UNSAFE = re.compile(r"[/\\\x00:]+")


def safe_name(text: str) -> str:
    """``text`` usable as one file-name component: ``functional-first/no-detente`` becomes
    ``functional-first--no-detente`` (path separators and NUL replaced)."""
    cleaned = _UNSAFE.sub("--", text).strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def check_free_space(folder: Path, needed: int = MIN_FREE_BYTES) -> None:
    """Refuse a folder with less than ``needed`` bytes free (a full disk), before the work."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # unknown: the write itself will say
    if free < needed:
        raise OutputPathError(
            f"only {_size(free)} free in {str(folder)!r} (the results need about "
            f"{_size(needed)}); free some space or choose another location"
        )


def _size(n: int) -> str:
    """Bytes as a person reads them (decimal units, as ``df -H`` prints them)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e3:.1f} kB"


def check_output_name(target: Path) -> None:
    """Refuse a file name its file system cannot hold (the limit is usually 255 bytes)."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        limit = _name_max(folder) if folder.is_dir() else 255
    except OSError:
        limit = 255
    length = len(os.fsencode(target.name))
    if length > limit:
        raise OutputPathError(
            f"output file name {target.name[:40]!r}... is {length} bytes long, more than the "
            f"{limit} its file system allows; choose a shorter name"
        )


def check_output_file(
    path: str | os.PathLike[str],
    suffixes: tuple[str, ...] = SUFFIXES,
    *,
    needed: int = MIN_FREE_BYTES,
) -> Path:
    """Validate a file path we are about to write (suffix, name length, folder writable, free
    space)."""
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise OutputPathError(
            f"output file {str(path)!r} has an unknown type; use one of: {', '.join(suffixes)}"
        )
    check_output_name(target)
    if target.is_dir():
        raise OutputPathError(f"output path {str(path)!r} is a directory; give a file name")
    check_output_dir(target.parent if str(target.parent) else Path("."), needed=needed)
    return target


_CREATED: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar(
    "nea_sd_created_folders", default=None
)


@contextlib.contextmanager
def created_folders_removed_on_failure() -> Iterator[None]:
    """Within this block, folders that :func:`check_output_dir` creates are removed again
    (deepest first, only while still empty) if the block raises: a command that fails after
    checking its output path leaves no empty folder behind (the CLI wraps every command)."""
    created: list[Path] = []
    token = _CREATED.set(created)
    try:
        yield
    except BaseException:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds on an empty folder: nothing written is lost
        raise
    finally:
        _CREATED.reset(token)


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, outermost first."""
    missing = []
    for part in (folder, *folder.parents):
        if part.exists():
            break
        missing.append(part)
    return missing[::-1]


def check_output_dir(path: str | os.PathLike[str], *, needed: int = MIN_FREE_BYTES) -> Path:
    """Create the folder if needed and prove it is writable and not full."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"output folder {str(path)!r} is a file; give a folder")
    try:
        created = _CREATED.get()
        if created is not None:
            created.extend(_missing_parents(folder.absolute()))  # made just below
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=_TEMP_PREFIX + "probe-"):
            pass
    except OSError as exc:
        raise OutputPathError(
            f"cannot write to {str(path)!r}: {exc.strerror or exc}; choose another location"
        ) from None
    check_free_space(folder, needed)
    return folder


def _file_mode(target: Path) -> int:
    """The mode a new file would get (mkstemp makes 0600): the old file's, else 0666 - umask."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[str], object], *, what: str = "results"
) -> Path:
    """Write ``path`` through ``write(temporary_path)`` and rename it into place.

    The temporary file gets a unique name beside the target (so concurrent writers never share
    one and the rename stays on one file system) and a short one (so a target name near the
    file-system limit still fits); it is flushed to disk before the rename. On any failure the
    temporary file is removed and the previous ``path`` is left untouched; an ``OSError`` (full
    disk, read-only folder, ...) becomes one :class:`OutputPathError` line.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    stem = target.name[: max(1, min(40, _name_max(folder) - _TEMP_NAME_ROOM))]
    temp = ""
    try:
        handle, temp = tempfile.mkstemp(dir=folder, prefix=f"{_TEMP_PREFIX}{stem}.", suffix=".tmp")
        os.close(handle)
        os.chmod(temp, _file_mode(target))
        write(temp)
        with open(temp, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temp, target)
        temp = ""
        _fsync_dir(folder)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            reason = "no space left on the device"
        raise OutputPathError(
            f"cannot write {what} to {str(target)!r}: {reason}; nothing was written there "
            "(a file already there is unchanged); free space or choose another location"
        ) from None
    finally:
        if temp:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, what: str = "results") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), what=what)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, what: str = "results") -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), what=what)


# The netCDF/HDF5 C libraries are not thread-safe: two threads writing files at once can crash
# the process, so writes from threads of one process take turns (processes need no lock).
_NETCDF_LOCK = threading.Lock()


def _to_netcdf(dataset: xr.Dataset, path: str) -> None:
    with _NETCDF_LOCK:
        dataset.to_netcdf(path, engine="netcdf4")


def write_netcdf_groups(
    root: xr.Dataset, groups: Mapping[str, xr.Dataset], path: str | os.PathLike[str]
) -> Path:
    """Write ``root`` and each of ``groups`` (as a netCDF group of its name) to one ``.nc``
    file, atomically."""
    target = check_output_file(path, (".nc",), needed=0)

    def write(tmp: str) -> None:
        with _NETCDF_LOCK:
            root.to_netcdf(tmp, engine="netcdf4")
            for name, dataset in groups.items():
                dataset.to_netcdf(tmp, mode="a", group=name, engine="netcdf4")

    return atomic_write(target, write)


def write_dataset(dataset: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``dataset`` as netCDF (``.nc``), a long CSV table (``.csv``) or a Vensim ``.tab``."""
    target = check_output_file(path, needed=0)
    if target.suffix.lower() == ".nc":
        atomic_write(target, lambda tmp: _to_netcdf(dataset, tmp))
    elif target.suffix.lower() == ".tab":  # Vensim dataset layout
        from nea_sd.data.vensim import write_tab

        write_tab(dataset, target)
    else:
        frame = wide_frame(dataset)
        atomic_write(target, lambda tmp: frame.to_csv(tmp, index=False))
    return target


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str], **to_csv: object) -> Path:
    """Write a table as CSV atomically (keyword arguments go to ``DataFrame.to_csv``)."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, **to_csv))  # type: ignore[arg-type]


def wide_frame(dataset: xr.Dataset) -> pd.DataFrame:
    """One row per (run, time), one column per variable element, named as Vensim does
    (``Security trust[US,CN]``)."""
    index_dims = [d for d in ("run", "time") if d in dataset.dims]
    columns: dict[str, np.ndarray] = {}
    for name, variable in dataset.data_vars.items():
        extra = [d for d in variable.dims if d not in index_dims]
        ordered = variable.transpose(*[d for d in index_dims if d in variable.dims], *extra)
        if not extra:
            columns[str(name)] = ordered.values.reshape(-1)
            continue
        for combo in itertools.product(*(ordered[d].values for d in extra)):
            label = f"{name}[{','.join(str(c) for c in combo)}]"
            columns[label] = ordered.sel(dict(zip(extra, combo, strict=True))).values.reshape(-1)
    index = pd.MultiIndex.from_product([dataset[d].values for d in index_dims], names=index_dims)
    return pd.DataFrame(columns, index=index).reset_index()
