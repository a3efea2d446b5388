"""Loop dominance per run, as plain arrays: what sensitivity outputs and the report read.

:func:`dominance_data` scores the loops of a model over parameter sets (Loops That Matter, via
:func:`~nea_sd.loops.analysis.analyze`) and returns, per run and saved time, each named loop's
relative score and the reinforcing/balancing shares. The scored loop set is fixed by a *pilot*
parameter set (not by whichever run comes first), so that every chunk of a sweep, in every
process, normalises by the same loops. :func:`set_share`, :func:`first_reach` and
:func:`overtake` reduce those arrays to one number per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from nea_sd.errors import ModelFileError, NamedLoopError
from nea_sd.loops.named import default_loops_file
from nea_sd.model.companions import model_table

#: MODEL.md §4: "R1+R2 against R3+R4+R6 gives two attractors" — the trust loops and the spirals
TRUST_LOOPS = ("R1", "R2")
SPIRALS = ("R3", "R4", "R6")

_LOOPSETS: dict[str, Any] = {}


def loop_names(model_path: str | os.PathLike[str], model_name: str) -> tuple[str, ...]:
    """Names of the named loops of ``model_name`` in the loops file beside the model
    (``R1``, or ``R1[A]`` and ``R1[B]`` for a loop named per side); empty without a file."""
    file = default_loops_file(model_path)
    if not file.exists():
        return ()
    try:
        with open(file, "rb") as handle:
            table = model_table(tomllib.load(handle), model_name, file) or {}
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"named-loop file {str(file)!r} is not valid TOML: {exc}") from None
    names: list[str] = []
    for base, entry in table.items():
        sides = entry.get("sides") or [None]
        names.extend(f"{base}[{s}]" if s else base for s in sides)
    return tuple(names)


def expand(wanted: Sequence[str], available: Sequence[str], where: str) -> tuple[str, ...]:
    """Model loop names for ``wanted``: ``R1`` also selects ``R1[A]`` and ``R1[B]``."""
    out: list[str] = []
    for name in wanted:
        hits = [a for a in available if a == name or a.split("[")[0] == name]
        if not hits:
            shown = ", ".join(available) if available else "none (no loops.toml beside the model)"
            raise NamedLoopError(f"{where}: no named loop {name!r}; the model's loops: {shown}")
        out.extend(h for h in hits if h not in out)
    return tuple(out)


def present(wanted: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    """The loops of ``wanted`` the model has (expanded per side), silently skipping others."""
    return tuple(a for name in wanted for a in available if a == name or a.split("[")[0] == name)


def _key(path: Path, pilot: Mapping[str, Any]) -> str:
    """The loop set's identity: the model's content, its named loops, the pilot's values and
    the source of the loop search (a changed search never reads an old set)."""
    from nea_sd.loops import analysis, enumerate

    digest = hashlib.sha256()
    digest.update(path.read_bytes())
    loops_file = default_loops_file(path)
    digest.update(loops_file.read_bytes() if loops_file.exists() else b"")
    for module in (analysis, enumerate):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(
        json.dumps(
            {k: np.asarray(v, dtype=float).tolist() for k, v in sorted(pilot.items())},
            sort_keys=True,
        ).encode()
    )
    return digest.hexdigest()[:32]


def fixed_loopset(path: str | os.PathLike[str], pilot: Mapping[str, Any]) -> Any:
    """The loop set scored for ``path``: all loops where enumerable, else the named instances
    plus the strongest-path loops of one run of ``pilot``. Found once per model content and
    pilot and kept in the cache (the search takes tens of seconds on the regional model, and
    every worker process of a sweep needs the same set)."""
    import pickle

    from nea_sd.loops.analysis import analyze, causal_graph
    from nea_sd.model.cache import read_entry, write_entry

    key = _key(Path(path), pilot)
    if key not in _LOOPSETS:
        relative = f"loopsets/{key}.pickle"
        stored = read_entry(relative)  # written by this module only (checksummed)
        if stored is not None:
            found = replace(pickle.loads(stored), graph=causal_graph(path))  # noqa: S301
        else:
            found = analyze(path, dict(pilot), 1, workers=1).loopset
            write_entry(relative, pickle.dumps(replace(found, graph=None)))
        _LOOPSETS[key] = found
    return _LOOPSETS[key]


def dominance_data(
    path: str | os.PathLike[str],
    params: Mapping[str, Any],
    n_runs: int,
    pilot: Mapping[str, Any] | None = None,
    *,
    workers: int = 1,
    saveper: float | None = None,
    score_from: float | None = None,
) -> xr.Dataset:
    """Per run, scored every ``saveper`` years (default the model's SAVEPER) from ``score_from``
    on (earlier steps read NaN; default from the start): ``loop_named``
    (run, loop_time, loop_name), each named loop's relative score
    (signed; the absolute values of all loops of the main cycle partition sum to 1), and
    ``loop_shares`` (run, loop_time, polarity) of the reinforcing and balancing loops."""
    from nea_sd.loops.analysis import analyze

    loopset = fixed_loopset(path, pilot if pilot is not None else {})
    analysis = analyze(
        path,
        dict(params),
        n_runs,
        loopset=loopset,
        workers=workers,
        saveper=saveper,
        score_from=score_from,
    )
    data = analysis.data
    named = [n for n in analysis.names if n in {x.name for x in loopset.named}]
    return xr.Dataset(
        {
            "loop_named": (
                ("run", "loop_time", "loop_name"),
                data["named"].sel(name=named).values,
            ),
            "loop_shares": (("run", "loop_time", "polarity"), data["shares"].values),
        },
        coords={"loop_time": data["time"].values, "loop_name": named, "polarity": ["R", "B"]},
    )


def set_share(
    data: xr.Dataset, loops: Sequence[str] = (), polarity: str | None = None
) -> xr.DataArray:
    """Share (run, loop_time) of a set of named loops (sum of their |relative scores|) or of
    a polarity set (``R`` or ``B``)."""
    if polarity is not None:
        return data["loop_shares"].sel(polarity=polarity, drop=True)
    return abs(data["loop_named"].sel(loop_name=list(loops))).sum("loop_name")


def _window(times: np.ndarray, start: float, end: float) -> np.ndarray:
    return (times >= start - 1e-9) & (times <= end + 1e-9)


def first_reach(flags: np.ndarray, times: np.ndarray, start: float, end: float) -> np.ndarray:
    """First time in [start, end] a run's flag is true, per run; ``end`` where it never is
    (censored, as :class:`~nea_sd.sensitivity.outputs.TimeToThreshold` censors)."""
    flags = np.asarray(flags, dtype=bool) & _window(times, start, end)
    return np.where(flags.any(axis=1), times[np.argmax(flags, axis=1)], end)


def mean_share(share: np.ndarray, times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mean of a share over the saved times in [start, end], per run."""
    inside = _window(times, start, end)
    return np.asarray(share, dtype=float)[:, inside].mean(axis=1)


def sustained_from(flags: np.ndarray, times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Per run, the first saved time in [start, end] from which the flag holds to ``end``
    (a lasting change, not a momentary crossing); ``end`` where it does not hold at the end."""
    inside = _window(times, start, end)
    flags = np.asarray(flags, dtype=bool)[:, inside]
    shown = times[inside]
    held = np.flip(np.logical_and.accumulate(np.flip(flags, axis=1), axis=1), axis=1)
    return np.where(held[:, -1], shown[np.argmax(held, axis=1)], end)


def overtake(
    data: xr.Dataset,
    trust: Sequence[str],
    spirals: Sequence[str],
    start: float,
    end: float,
) -> np.ndarray:
    """Per run, the saved time in [start, end] from which the trust loops' share stays above
    the spirals' to the end (``end`` where they are not ahead at the end: censored)."""
    ahead = set_share(data, trust).values > set_share(data, spirals).values
    return sustained_from(ahead, data["loop_time"].values, start, end)
