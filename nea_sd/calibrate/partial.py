"""The joint fit checked against the sector (partial-model) fits.

Each sector spec (``calibration/arms.toml``, ``trust.toml``, ``exchange.toml``) fits its own
parameters with the other sectors' variables read from data (``[inputs]``). The joint fit of
the whole model should land inside every sector's interval for the parameters they share
(Homer; Oliva 2003: a value that only the coupled model wants is a sign that one sector is
compensating for another's structural error). :func:`sector_check` lists, per shared
parameter, the joint estimate, the sector's estimate and profile interval and whether the
joint value lies inside; :func:`save_sector_check` writes it with provenance.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nea_sd.calibrate._report import text_table
from nea_sd.calibrate._toml import dumps
from nea_sd.calibrate.results import read_result
from nea_sd.errors import DataError, OutputPathError
from nea_sd.model import file_sha256
from nea_sd.outputs import atomic_write_text


@dataclass(frozen=True)
class SectorRow:
    """One shared parameter of the joint fit and one sector fit.

    ``interval``: the sector's 95 % profile interval (its bounds where the profile did not
    cross, so a flat profile constrains nothing); ``inside``: the joint estimate lies in it.
    """

    parameter: str
    sector: str
    joint: float
    estimate: float
    lower: float
    upper: float
    identifiability: str
    inside: bool


def _interval(entry: Mapping[str, Any]) -> tuple[float, float]:
    low, high = (float(b) for b in entry["bounds"])
    lower = entry.get("profile_lower")
    upper = entry.get("profile_upper")
    return (low if lower is None else float(lower), high if upper is None else float(upper))


def sector_check(
    joint: Mapping[str, Any], sectors: Mapping[str, Mapping[str, Any]]
) -> list[SectorRow]:
    """Rows for every model parameter the joint result shares with a sector result.

    ``joint`` and each ``sectors[name]`` are results documents (:func:`read_result`).
    """
    if "estimates" not in joint:
        raise DataError("joint result has no [estimates]: not a calibration result")
    rows = []
    for sector, doc in sectors.items():
        if "partial_model" not in doc.get("calibration", {}):
            raise DataError(
                f"{sector}: not a sector (partial-model) result; fit a spec with [inputs]"
            )
        params = doc.get("parameters", {})
        for name, value in joint["estimates"].items():
            entry = params.get(name)
            if entry is None or entry.get("kind") != "model":
                continue
            lo, hi = _interval(entry)
            joint_value = float(value)
            rows.append(
                SectorRow(
                    str(name),
                    sector,
                    joint_value,
                    float(entry["estimate"]),
                    lo,
                    hi,
                    str(entry.get("identifiability", "not assessed")),
                    lo <= joint_value <= hi,
                )
            )
    return rows


def sector_table(rows: Sequence[SectorRow]) -> str:
    """The check as a text table, outside rows flagged."""
    body = [
        [
            r.parameter,
            r.sector,
            r.joint,
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
) -> tuple[Path, list[SectorRow]]:
    """Check ``joint_path`` against ``sector_paths`` and write the table (atomically)."""
    joint = read_result(joint_path)
    sectors = {Path(p).stem: read_result(p) for p in sector_paths}
    rows = sector_check(joint, sectors)
    files = [Path(joint_path), *map(Path, sector_paths)]
    doc = {
        "check": {
            "joint": Path(joint_path).name,
            "sectors": [Path(p).name for p in sector_paths],
            "shared_parameters": len(rows),
            "outside": sum(not r.inside for r in rows),
            "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command,
            "result_sha256": {f.name: file_sha256(f) for f in files},
            "note": "interval = the sector's 95% profile interval (its bounds where the "
            "profile did not cross)",
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
