"""Streaming results: blocks of runs appended to a zarr store along ``run``, memory bounded.

Each block of runs is simulated, appended to a temporary store beside the target and freed, so
peak memory depends on the block size, not on N.  Attributes that describe single runs (which
diverged, which were dropped) are merged over the blocks and written last; the store is then
renamed into place, so it appears complete or not at all (a store already there is replaced
only once the new one is complete).  The result is opened lazily (Dask arrays when Dask is
installed), so analyses read it one chunk at a time.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from nea_sd.errors import InvalidValueError, MissingDependencyError, OutputPathError

SUFFIX = ".zarr"
BLOCK_BYTES = 256 << 20  # default output per block: small against memory, large against overhead
_JSON_MAPS = ("diverged_at", "diverged")  # JSON objects keyed by run: union over blocks
_RUN_LISTS = ("dropped_runs",)  # arrays of runs: concatenated over blocks
_TEMP_PREFIX = ".nea_sd-"
# Zarr format 2 (read by every zarr library; format 3 has no stable string type yet, and the
# subscript coordinates are strings), uncompressed: trajectories of doubles compress by ~20%
# with zstd, not worth the CPU time of a stream.
_FORMAT: dict[str, Any] = {"zarr_format": 2, "consolidated": False}
_COORDS = "nea_sd_coordinates"  # names zarr cannot mark as coordinates (blanks in them)
STORE_DTYPES = ("float64", "float32")  # how a stream may store floating-point results


def default_block_runs(bytes_per_run: int, n_runs: int, workers: int) -> int:
    """Runs per block: about :data:`BLOCK_BYTES` of output, at least one run per thread."""
    size = max(workers, BLOCK_BYTES // max(1, bytes_per_run))
    return max(1, min(n_runs, size))


def check_target(path: str | os.PathLike[str], *, needed: int = 0) -> Path:
    """A ``.zarr`` path we may write: its folder writable with ``needed`` bytes free (the
    whole stream, so that a run of hours is not lost to a full disk at its end), not an
    existing non-zarr path."""
    from nea_sd.outputs import MIN_FREE_BYTES, check_output_dir, check_output_name

    if importlib.util.find_spec("zarr") is None:
        raise MissingDependencyError("streaming results needs zarr: pip install zarr")
    target = Path(path)
    if target.suffix.lower() != SUFFIX:
        raise OutputPathError(
            f"stream target {str(path)!r} is not a zarr store; give a path ending in {SUFFIX}"
        )
    check_output_name(target)
    if target.exists() and not _is_store(target):
        raise OutputPathError(
            f"stream target {str(path)!r} exists and is not a zarr store; remove it or choose "
            "another path"
        )
    folder = target.parent if str(target.parent) else Path(".")
    check_output_dir(folder, needed=max(MIN_FREE_BYTES, int(needed)))
    return target


def _is_store(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in ("zarr.json", ".zgroup"))


def write_blocks(
    path: str | os.PathLike[str],
    blocks: Iterable[xr.Dataset],
    *,
    final_attrs: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    needed: int = 0,
    dtype: str = "float64",
) -> xr.Dataset:
    """Append every block to a new store at ``path`` along ``run``; return it opened lazily.

    ``final_attrs`` may rewrite the merged attributes before they are written; ``needed``: the
    bytes the whole stream will take (checked against the free space before the first block);
    ``dtype``: how floating-point results are stored (``"float32"`` halves the store and keeps
    about 7 significant digits; the simulation itself stays in float64).
    """
    if dtype not in STORE_DTYPES:
        raise InvalidValueError(
            f"store dtype {dtype!r} is not one of " + ", ".join(repr(d) for d in STORE_DTYPES)
        )
    target = check_target(path, needed=needed)
    folder = target.parent if str(target.parent) else Path(".")
    temp = Path(tempfile.mkdtemp(dir=folder, prefix=f"{_TEMP_PREFIX}{target.name[:40]}."))
    try:
        attrs = _append_all(temp, blocks, dtype)
        if final_attrs is not None:
            attrs = final_attrs(attrs)
        import zarr

        with signals_deferred():
            zarr.open_group(str(temp), mode="r+", zarr_format=2).attrs.update(_jsonable(attrs))
            _replace(temp, target)
    except OSError as exc:
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else exc.strerror
        raise OutputPathError(
            f"cannot stream results to {str(target)!r}: {reason or exc}; nothing was written "
            "there (a store already there is unchanged); free space or choose another location"
        ) from None
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return open_lazily(target)


_DEFERRED = ("SIGINT", "SIGTERM")


@contextlib.contextmanager
def signals_deferred():
    """Ctrl-C and SIGTERM wait until the write inside is done, then act as they would have.

    Why: zarr writes on its own event-loop thread while the main thread waits; an interrupt
    raised in the waiting thread leaves that write running (with a "coroutine was never
    awaited" warning on stderr) while the cleanup removes the store under it. Deferred, the
    interrupt lands between blocks, where the cleanup is clean. Outside the main thread
    (where handlers cannot be set) nothing is deferred."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    numbers = [getattr(signal, name) for name in _DEFERRED if hasattr(signal, name)]
    numbers = [n for n in numbers if signal.getsignal(n) is not None]  # None: set outside Python
    previous = {n: signal.signal(n, lambda signum, _frame: caught.append(signum)) for n in numbers}
    try:
        yield
    finally:
        for n, handler in previous.items():
            signal.signal(n, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])


def _append_all(store: Path, blocks: Iterable[xr.Dataset], dtype: str) -> dict[str, Any]:
    """Write the blocks one after another; the merged attributes of all of them."""
    attrs: dict[str, Any] = {}
    maps: dict[str, dict[str, Any]] = {}  # only the keys some block has
    lists: dict[str, list[np.ndarray]] = {k: [] for k in _RUN_LISTS}
    written = False
    empty: xr.Dataset | None = None
    for block in blocks:
        block = block.copy(deep=False)
        coords = [str(c) for c in block.coords if c not in block.dims]
        if coords:
            attrs[_COORDS] = json.dumps(coords)
            block = block.reset_coords(coords)  # kept as variables, restored when opened
        for name, value in block.attrs.items():
            if name in _JSON_MAPS:
                maps.setdefault(name, {}).update(json.loads(value))
            elif name in lists:
                lists[name].append(np.asarray(value))
            else:
                attrs.setdefault(name, value)
        block.attrs = {}
        if block.sizes.get("run", 0) == 0:
            empty = block  # every run of this block was dropped
            continue
        if not written:
            encoding = {
                name: {
                    "chunks": tuple(block.sizes[d] for d in block[name].dims),
                    "compressors": None,
                }
                for name in block.variables
            }
            for name in block.data_vars:  # results only: coordinates and times stay exact
                if block[name].dtype.kind == "f":
                    encoding[name]["dtype"] = dtype
            with signals_deferred():
                block.to_zarr(str(store), mode="w", encoding=encoding, **_FORMAT)
            written = True
        else:
            with signals_deferred():
                block.to_zarr(str(store), append_dim="run", **_FORMAT)
        del block  # free it before the next block is computed: one block in memory at a time
    if not written:
        if empty is None:
            raise InvalidValueError("there are no runs to stream; give at least one parameter set")
        with signals_deferred():
            empty.to_zarr(str(store), mode="w", **_FORMAT)
    for name, merged in maps.items():
        attrs[name] = json.dumps(merged)  # blocks come in run order
    for name, parts in lists.items():
        if parts:
            attrs[name] = np.concatenate(parts)
    return attrs


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        out[name] = value
    return out


def _replace(temp: Path, target: Path) -> None:
    """Rename the complete store into place; an old store is removed only after that."""
    if not target.exists():
        os.replace(temp, target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{_TEMP_PREFIX}old."))
    os.replace(target, old / target.name)
    try:
        os.replace(temp, target)
    except OSError:
        os.replace(old / target.name, target)  # put the old store back
        raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)


def open_lazily(path: str | os.PathLike[str]) -> xr.Dataset:
    """A streamed store as a Dataset whose arrays are read only when used (Dask chunks, one
    per written block, when Dask is installed)."""
    chunks: dict[str, Any] | None = {} if importlib.util.find_spec("dask") else None
    ds = xr.open_zarr(str(path), chunks=chunks, consolidated=False)
    coords = json.loads(ds.attrs.pop(_COORDS, "[]"))
    ds = ds.set_coords([c for c in coords if c in ds.variables])
    for name in _RUN_LISTS:
        if name in ds.attrs:
            ds.attrs[name] = np.asarray(ds.attrs[name], dtype=np.int64)
    return ds
