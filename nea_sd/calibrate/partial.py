"""The joint fit checked against the sector (partial-model) fits.

Each sector spec (``calibration/arms.toml``, ``trust.toml``, ``exchange.toml``) fits its own
parameters with the other sectors' variables read from data (``[inputs]``). The joint fit of
the whole model should land inside every sector's interval for the parameters they share
(Homer; Oliva 2003: a value that only the coupled model wants is a sign that one sector is
compensating for another's structural error). :func:`sector_check` lists, per shared
parameter, the joint estimate, the sector's estimate and profile interval and whether the
joint value lies inside; :func:`save_sector_check` writes it with provenance.

A parameter a sector fits but the joint fit holds fixed (at the model's value or a spec
constant) is checked too (:func:`held_values`): a joint fit that keeps a default the sector
rejects carries that sector's structural error as surely as one that estimates it there.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nea_sd.calibrate._report import text_table
from nea_sd.calibrate._toml import dumps
from nea_sd.calibrate.results import read_result
from nea_sd.errors import DataError, NeaSdError, OutputPathError
from nea_sd.model import file_sha256
from nea_sd.model.params import ParameterTable, split_element_key
from nea_sd.outputs import atomic_write_text


@dataclass(frozen=True)
class SectorRow:
    """One shared parameter of the joint fit and one sector fit.

    ``interval``: the sector's 95 % profile interval (its bounds where the profile did not
    cross, so a flat profile constrains nothing); ``inside``: the joint value lies in it;
    ``fitted``: the joint fit estimated the value (False: held at a constant).
    """

    parameter: str
    sector: str
    joint: float
    estimate: float
    lower: float
    upper: float
    identifiability: str
    inside: bool
    fitted: bool = True


def _interval(entry: Mapping[str, Any]) -> tuple[float, float]:
    low, high = (float(b) for b in entry["bounds"])
    lower = entry.get("profile_lower")
    upper = entry.get("profile_upper")
    return (low if lower is None else float(lower), high if upper is None else float(upper))


def _joint_estimate(estimates: Mapping[str, Any], name: str) -> float | None:
    """The joint value of ``name``: its own estimate, or a shared one (``Fatigue rate`` fitted
    for every element counts as the joint's ``Fatigue rate[US]``)."""
    if name in estimates:
        return float(estimates[name])
    base, elements = split_element_key(name)
    if elements is not None and base in estimates:
        return float(estimates[base])
    return None


def _sector_parameters(
    sectors: Mapping[str, Mapping[str, Any]],
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(sector, name, entry) for every model parameter a sector result fitted."""
    for sector, doc in sectors.items():
        if "partial_model" not in doc.get("calibration", {}):
            raise DataError(
                f"{sector}: not a sector (partial-model) result; fit a spec with [inputs]"
            )
        for name, entry in doc.get("parameters", {}).items():
            if entry.get("kind") == "model":
                yield sector, str(name), entry


def held_values(
    joint: Mapping[str, Any],
    sectors: Mapping[str, Mapping[str, Any]],
    parameters: ParameterTable,
) -> dict[str, float]:
    """The value the joint fit ran with for every sector parameter it did not estimate.

    ``parameters``: the joint model's table (its own values); the joint result's
    ``[constants]`` take precedence, element key before the whole parameter.
    """
    estimates = joint.get("estimates", {})
    constants = joint.get("constants", {})
    held: dict[str, float] = {}
    for _, name, _ in _sector_parameters(sectors):
        if _joint_estimate(estimates, name) is not None or name in held:
            continue
        base, elements = split_element_key(name)
        if elements is None and any(str(k).startswith(f"{name}[") for k in estimates):
            continue  # one sector value against several joint ones: no single joint value
        if name in constants:
            held[name] = float(constants[name])
        elif base in constants and np.ndim(constants[base]) == 0:
            held[name] = float(constants[base])
        elif base in parameters:
            value = np.asarray(parameters[base].value, dtype=float)
            if elements is not None:
                held[name] = parameters.value_of(name)
            elif np.all(value == value.flat[0]):  # a whole array held at one value
                held[name] = float(value.flat[0])
    return held


def sector_check(
    joint: Mapping[str, Any],
    sectors: Mapping[str, Mapping[str, Any]],
    held: Mapping[str, float] | None = None,
) -> list[SectorRow]:
    """Rows for every model parameter the joint result shares with a sector result.

    ``joint`` and each ``sectors[name]`` are results documents (:func:`read_result`);
    ``held``: values the joint fit held fixed (:func:`held_values`), checked like estimates.
    """
    if "estimates" not in joint:
        raise DataError("joint result has no [estimates]: not a calibration result")
    held = held or {}
    rows = []
    for sector, name, entry in _sector_parameters(sectors):
        value = _joint_estimate(joint["estimates"], name)
        fitted = value is not None
        if value is None:
            if name not in held:
                continue
            value = float(held[name])
        lo, hi = _interval(entry)
        rows.append(
            SectorRow(
                name,
                sector,
                value,
                float(entry["estimate"]),
                lo,
                hi,
                str(entry.get("identifiability", "not assessed")),
                lo <= value <= hi,
                fitted,
            )
        )
    return rows


def sector_table(rows: Sequence[SectorRow]) -> str:
    """The check as a text table, outside rows flagged."""
    body = [
        [
            r.parameter,
            r.sector,
            r.joint if r.fitted else f"{r.joint:.6g} (held)",
            r.estimate,
            f"[{r.lower:.4g}, {r.upper:.4g}]",
            r.identifiability,
            "inside" if r.inside else "OUTSIDE",
        ]
        for r in rows
    ]
    head = ("parameter", "sector", "joint", "sector est.", "sector interval", "label", "joint")
    return "[[Joint fit against the sector fits]]\n" + text_table(head, body)


def save_sector_check(
    path: str | os.PathLike[str],
    joint_path: str | os.PathLike[str],
    sector_paths: Sequence[str | os.PathLike[str]],
    *,
    command: str = "",
    parameters: ParameterTable | None = None,
) -> tuple[Path, list[SectorRow]]:
    """Check ``joint_path`` against ``sector_paths`` and write the table (atomically).

    ``parameters``: the joint model's table; with it, the values the joint fit held fixed are
    checked too (without it, only the values it estimated).
    """
    joint = read_result(joint_path)
    sectors = {Path(p).stem: read_result(p) for p in sector_paths}
    held = held_values(joint, sectors, parameters) if parameters is not None else None
    rows = sector_check(joint, sectors, held)
    files = [Path(joint_path), *map(Path, sector_paths)]
    doc = {
        "check": {
            "joint": Path(joint_path).name,
            "sectors": [Path(p).name for p in sector_paths],
            "shared_parameters": len(rows),
            "outside": sum(not r.inside for r in rows),
            "held_checked": parameters is not None,
            "held": sum(not r.fitted for r in rows),
            "held_outside": sum(not (r.inside or r.fitted) for r in rows),
            "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command,
            "result_sha256": {f.name: file_sha256(f) for f in files},
            "note": "interval = the sector's 95% profile interval (its bounds where the "
            "profile did not cross); fitted = false: the joint fit held the value fixed",
        },
        "rows": [asdict(r) for r in rows],
    }
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "Joint fit against the sector fits (written by nea-sd calibrate --check-sectors)."
        atomic_write_text(path, dumps(doc, header), what="sector check")
    except OSError as exc:
        raise OutputPathError(f"cannot write the sector check to {str(path)!r}: {exc}") from None
    return path, rows


def sector_note(result_path: str | os.PathLike[str]) -> str:
    """What the committed sector check beside a joint result says, for a header line.

    ``<stem>.sectors.toml`` next to ``result_path`` (written by ``--check-sectors``): the values
    outside the sectors' intervals, named (``held``: a value the joint fit held fixed); "out of
    date" when the result changed since the check, "unreadable" when the file is damaged (the
    strategies still run); empty when there is no check.
    """
    path = Path(result_path)
    check_path = path.with_name(f"{path.stem}.sectors.toml")
    if not check_path.is_file():
        return ""
    try:
        check = read_result(check_path)
    except NeaSdError as exc:  # a damaged side file must not block the strategies: said
        return f"sector check unreadable ({exc}); run --check-sectors again with --replace"
    recorded = check.get("check", {}).get("result_sha256", {}).get(path.name)
    if recorded != file_sha256(path):
        return f"sector check out of date ({check_path.name} predates this result)"
    rows = check.get("rows", [])
    outside = [
        r["parameter"] + ("" if r.get("fitted", True) else " held")
        for r in rows
        if not r.get("inside", True)
    ]
    named = f" ({', '.join(outside)})" if outside else ""
    return f"{len(outside)} of {len(rows)} values outside the sector fits' intervals{named}"


def with_sector_note(header: str, result_path: str | os.PathLike[str]) -> str:
    """``header`` followed by :func:`sector_note` of ``result_path`` (when there is one): the
    one place a base's header line gains the check's verdict."""
    note = sector_note(result_path)
    return f"{header}; {note}" if note else header
