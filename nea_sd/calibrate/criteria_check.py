"""A result's acceptance criteria together with their noise checks, for the results folder.

Where the record cannot meet a criterion, the results must say so with the numbers and the
reason (issue 12). Two of the criteria are statistics of noisy data, and a miss means
something only beside the rate at which the fitted model itself would miss: :func:`check`
reads a committed result, scores it against the criteria (:mod:`.acceptance`) and puts those
two to the fit's own error model:

- **polls** (fit r and U^S): :func:`~nea_sd.calibrate.ppc.statistic_check` under the error
  model the fit estimated and under the spec's σ, and when asked
  :func:`~nea_sd.calibrate.ppc.refit_check` (each redrawn record refitted);
- **bounds** (no model parameter at a non-physical bound): the parameters at one moved to the
  middle of their 95 % profile interval (inside the range, a value the data accept; the
  middle of the range when not profiled), the record redrawn there with the fit's error model
  and refitted from that point and from the fit
  (:func:`~nea_sd.calibrate.bootstrap.bound_check`): how often one or more, all of them, and
  the record's own combination of sides end at a bound when none is there in truth.

Each section is written to a checkpoint folder as soon as it is done and reused by a rerun
with the same result, spec, data and settings, so a stopped check resumes.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.acceptance import (
    BOUND_CRITERION,
    POLL_CRITERION,
    Criterion,
    as_float,
    bound_hits,
    criteria,
    poll_series,
)
from nea_sd.calibrate.bootstrap import bound_check
from nea_sd.calibrate.fit import bound_sides
from nea_sd.calibrate.ppc import refit_check, statistic_check
from nea_sd.calibrate.problem import Setup
from nea_sd.calibrate.results import read_result
from nea_sd.calibrate.review import with_error_model
from nea_sd.errors import InvalidValueError, OutputPathError

REPLICATES = 20_000  # predictive replicates per error model: one model run per draw, seconds
SMALL_P = 0.05  # a predictive p-value below this: the record beyond the fit's error
FORMAT = 2  # of the checkpointed sections
SIDE = {-1: "lower", 1: "upper"}


@dataclass(frozen=True)
class Settings:
    """How many redrawn records each check uses (0: the check is not run)."""

    refit_replicates: int = 200
    bound_replicates: int = 100
    seed: int = 0
    replicates: int = REPLICATES

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value < 0 or (name == "replicates" and value < 1):
                raise InvalidValueError(
                    f"{name} must be a whole number of at least {int(name == 'replicates')}, "
                    f"got {value!r}"
                )


@dataclass(frozen=True)
class CriteriaCheck:
    """The criteria of one result (``rows``) and the noise checks (``sections``: name ->
    ``{"summary": {...}, "rows": [...]}``), with the verdict lines that read them."""

    result: str
    rows: tuple[Criterion, ...]
    sections: dict[str, dict[str, Any]]
    settings: Settings
    reused: tuple[str, ...] = field(default=())  # sections read from a checkpoint

    def verdicts(self) -> list[str]:
        """One line per criterion not met that a noise check speaks to."""
        lines = []
        polls = [c for c in self.rows if c.criterion.endswith(POLL_CRITERION)]
        if polls and not all(c.met for c in polls):
            lines.append(_poll_verdict(polls, self.sections))
        bounds = [c for c in self.rows if c.criterion == BOUND_CRITERION]
        if bounds and not bounds[0].met:
            lines.append(_bound_verdict(self.sections, bounds[0].value))
        return lines

    def document(self) -> dict[str, Any]:
        """TOML-ready: the criteria (with the verdict lines), then every section."""
        return {
            "criteria": [asdict(c) for c in self.rows],
            "verdicts": self.verdicts(),
            "checks": {name: dict(s) for name, s in self.sections.items()},
        }

    def __str__(self) -> str:
        body = [[c.criterion, c.value, c.target, "met" if c.met else "NOT met"] for c in self.rows]
        parts = [f"criteria of {self.result}", text_table(CRITERIA_HEADER, body)]
        for name, section in self.sections.items():
            parts.append(f"{name}: {_summary_text(section['summary'])}")
            if section["rows"]:
                header = list(section["rows"][0])
                parts.append(text_table(header, [_rounded(r.values()) for r in section["rows"]]))
        parts += [f"verdict: {line}" for line in self.verdicts()]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        body = [[c.criterion, c.value, c.target, "met" if c.met else "NOT met"] for c in self.rows]
        parts = [html_table(CRITERIA_HEADER, body, caption=f"criteria of {self.result}")]
        for name, section in self.sections.items():
            rows = section["rows"]
            caption = f"{name}: {_summary_text(section['summary'])}"
            if rows:
                body = [_rounded(r.values()) for r in rows]
                parts.append(html_table(list(rows[0]), body, caption))
        parts += [f"<p>{html.escape(line)}</p>" for line in self.verdicts()]
        return "\n".join(parts)


CRITERIA_HEADER = ("criterion", "value", "target", "verdict")


def _rounded(values: Any) -> list[object]:
    return [round(v, 3) if isinstance(v, float) else v for v in values]


def _summary_text(summary: Mapping[str, Any]) -> str:
    def show(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, Mapping):
            return "{" + ", ".join(f"{k}: {show(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(show(x) for x in v) + "]"
        return str(v)

    return "; ".join(f"{k} {show(v)}" for k, v in summary.items())


def _poll_verdict(polls: list[Criterion], sections: Mapping[str, Any]) -> str:
    met = sum(c.met for c in polls)
    rates, p_fewer = [], []
    for name in ("polls, refitted", "polls, estimated error", "polls, spec sigma"):
        if name in sections:
            s = sections[name]["summary"]
            rates.append(
                f"{name.split(', ', 1)[1]}: all {len(polls)} in {100 * s['p_all_meet']:.1f}%, "
                f"{s['expected_met']:.2f} expected, {met} or fewer in "
                f"{100 * s['p_met_or_fewer']:.0f}%"
            )
            p_fewer.append(s["p_met_or_fewer"])
    if not rates:
        return f"polls: {met} of {len(polls)} meet; not put to the noise (no poll check was run)"
    reading = (
        f"so few met is within the fit's own noise (P({met} or fewer) >= {SMALL_P} throughout)"
        if min(p_fewer) >= SMALL_P
        else f"fewer met than the fit's own noise explains (P({met} or fewer) < {SMALL_P})"
    )
    beyond = []
    for name in ("polls, estimated error", "polls, spec sigma", "polls, refitted"):
        for row in sections.get(name, {}).get("rows", []):
            for stat in ("p_r", "p_us"):
                if as_float(row.get(stat)) < SMALL_P:
                    label = name.split(", ", 1)[1]
                    beyond.append(f"{row['series']} {stat} {row[stat]:.3f} ({label})")
    tail = (
        "beyond the fit's error: " + ", ".join(beyond)
        if beyond
        else f"no poll's r or U^S beyond the fit's error (every p >= {SMALL_P})"
    )
    return (
        f"polls: {met} of {len(polls)} meet; records drawn from the fit ({'; '.join(rates)}): "
        f"{reading}; {tail}"
    )


def _bound_verdict(sections: Mapping[str, Any], value: str) -> str:
    runs = [(n, s["summary"]) for n, s in sections.items() if n.startswith("bounds")]
    if not runs:
        return f"bounds: {value}; not put to the noise (no bound check was run)"
    first = runs[0][1]
    k = len(first["record_sides"])  # the record's count: the test statistic, fixed in advance

    def of(share: float, n: int) -> str:
        return f"{round(share * n)} of {n}"

    def k_or_more(s: Mapping[str, Any]) -> float:
        return float(sum(s["share_with_k"][k:]))

    shares = "; ".join(
        f"{name.split(', ', 1)[1]}: one or more {of(s['at_least_one'], s['replicates'])}, "
        f"{k} or more {of(k_or_more(s), s['replicates'])}, the record's combination "
        f"{of(s['record_combination'], s['replicates'])}"
        for name, s in runs
    )
    record = ", ".join(f"{p} {side}" for p, side in first["record_sides"].items())
    rare = max(k_or_more(s) for _, s in runs) < SMALL_P
    reading = (
        f"{k} or more at a bound in fewer than {100 * SMALL_P:.0f}% of refits: the data push "
        "there, not the noise (a structural question)"
        if rare
        else f"the noise alone ends {k} or more at a bound as often: no evidence against the "
        "structure"
    )
    return (
        f"bounds: the record's fit has {k} at a bound that is not physical ({record}); moved "
        f"inside and the record redrawn there, refits end at a bound ({shares}): {reading}"
    )


def estimates(setup: Setup, doc: Mapping[str, Any], name: str) -> np.ndarray:
    """The result's optimum as a row of the spec's free parameters, or a one-line error when
    the result was fitted to another spec or another version of its model."""
    params = doc.get("parameters", {})
    missing = [n for n in setup.spec.names if n not in params]
    if missing:
        raise InvalidValueError(
            f"result {name!r} has no estimate of {missing[0]!r}: it was fitted to another "
            "version of the spec; refit it (nea-sd calibrate SPEC --replace)"
        )
    recorded = doc.get("calibration", {}).get("model_sha256")
    current = getattr(setup.model, "sha256", None)
    if recorded and current and recorded != current:
        raise InvalidValueError(
            f"result {name!r} was fitted to another version of its model (sha256 "
            f"{recorded[:12]}, now {current[:12]}); refit it (nea-sd calibrate SPEC --replace)"
        )
    return np.array([float(params[n]["estimate"]) for n in setup.spec.names])


def inside_point(setup: Setup, doc: Mapping[str, Any], x: np.ndarray, names: list[str]):
    """``x`` with each of ``names`` moved to the middle of its 95 % profile interval (the
    middle of its range when the result has none): the truth of the bound check."""
    inside = x.copy()
    spec_names = list(setup.spec.names)
    bounds = np.asarray(setup.spec.bounds, dtype=float)
    for n in names:
        i = spec_names.index(n)
        entry = doc["parameters"][n]
        lo, hi = as_float(entry.get("profile_lower")), as_float(entry.get("profile_upper"))
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
            lo, hi = bounds[i]
        inside[i] = 0.5 * (lo + hi)
    return inside


def _polls_section(check: Any, doc: Mapping[str, Any], polls: list[str]) -> dict[str, Any]:
    table = check.table()
    fits = [doc["series"][p]["fit"] for p in polls]
    met = int(sum(f["r"] >= check.r_min and f["us"] <= check.us_max for f in fits))
    a = check.data.attrs
    summary = {
        "replicates": int(a["replicates"]),
        "draws": int(a["draws"]),
        "refit_steps": int(a["refit"]),
        "excluded": str(a["excluded"]),
        "met_on_record": met,
        "expected_met": float(table["P(meet)"].sum()),
        "p_met_or_fewer": float((check.meets().sum("series") <= met).mean()),
        "p_all_meet": check.joint(),
        "min_p_r": float(table["p_r"].min()),
        "min_p_us": float(table["p_us"].min()),
    }
    return {"summary": summary, "rows": _records(table)}


def _records(frame: Any) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _bounds_section(check: Any, record: np.ndarray) -> dict[str, Any]:
    counts = check.counts()
    summary = {
        "truth": {p: float(v) for p, v in zip(check.parameters, check.truth, strict=True)},
        "record_sides": {
            p: SIDE[int(s)] for p, s in zip(check.parameters, record, strict=True) if s
        },
        "replicates": len(check.estimates),
        "at_least_one": float(1.0 - counts[0]),
        "all": float(counts[-1]),
        "record_combination": float(np.mean(np.all(check.sides == record, axis=1))),
        "share_with_k": [float(c) for c in counts],
    }
    return {"summary": summary, "rows": _records(check.table())}


def inputs_key(setup: Setup, result_path: Path, settings: Settings) -> str:
    """SHA-256 over what every section depends on: the result file, the spec file, the model,
    the data of every observation, the settings, the package's version (once per check)."""
    from nea_sd import __version__
    from nea_sd.model import file_sha256

    spec = setup.spec
    head = {
        "format": FORMAT,
        "result": file_sha256(result_path),
        "spec": file_sha256(spec.path) if Path(spec.path).is_file() else str(spec.path),
        "model": str(getattr(setup.model, "sha256", "")),
        "backend": str(getattr(setup.simulator, "backend", "numpy")),
        "settings": asdict(settings),
        "version": __version__,
    }
    digest = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    for o in spec.observations:
        digest.update(o.name.encode())
        digest.update(np.ascontiguousarray(o.series.years, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(o.series.values, dtype=np.float64).tobytes())
    return digest.hexdigest()


def section_key(inputs: str, name: str) -> str:
    """A section's checkpoint key: the check's inputs and the section's name."""
    return hashlib.sha256(f"{inputs}\n{name}".encode()).hexdigest()


def _checkpoint_file(folder: Path, result_path: Path, name: str, key: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    return folder / f"{result_path.stem}.{slug}.{key[:20]}.json"


def _load(path: Path, key: str) -> dict[str, Any] | None:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or half-copied: run the section again
    if not isinstance(saved, dict) or saved.get("key") != key:
        return None
    section = saved.get("section")
    return section if isinstance(section, dict) else None


def _save(path: Path, key: str, section: dict[str, Any]) -> None:
    from nea_sd.outputs import atomic_write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": key, "section": section}), what="checkpoint")
    except (OSError, OutputPathError):  # a checkpoint is a convenience: the run goes on
        pass


def check(
    setup: Setup,
    result_path: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_section: Callable[[str, bool], None] | None = None,
) -> CriteriaCheck:
    """The criteria of the result at ``result_path`` (fitted to ``setup``'s spec, which
    carries the spec's σ) and the noise checks of the poll and bound criteria; see the
    module doc. ``on_section(name, reused)`` is called as each section ends."""
    settings = settings or Settings()
    path = Path(result_path)
    doc = read_result(path)
    name = path.name
    x = estimates(setup, doc, name)
    rows = tuple(criteria(path.stem, doc))
    estimated = with_error_model(setup, doc)
    folder = Path(checkpoint) if checkpoint is not None else None
    sections: dict[str, dict[str, Any]] = {}
    reused: list[str] = []
    inputs = inputs_key(setup, path, settings) if folder else ""

    def run(section: str, compute: Callable[[], dict[str, Any]]) -> None:
        key = section_key(inputs, section)
        file = _checkpoint_file(folder, path, section, key) if folder else None
        found = _load(file, key) if file else None
        if found is not None:
            reused.append(section)
        else:
            found = compute()
            if file:
                _save(file, key, found)
        sections[section] = found
        if on_section:
            on_section(section, section in reused)

    observed = {o.name for o in setup.spec.observations}
    polls = [p for p in poll_series(doc) if p in observed]
    if polls:
        for label, s in (("estimated error", estimated), ("spec sigma", setup)):
            run(
                f"polls, {label}",
                lambda s=s: _polls_section(
                    statistic_check(
                        s, x, replicates=settings.replicates, seed=settings.seed, series=polls
                    ),
                    doc,
                    polls,
                ),
            )
        if settings.refit_replicates:
            run(
                "polls, refitted",
                lambda: _polls_section(
                    refit_check(
                        estimated,
                        x,
                        replicates=settings.refit_replicates,
                        seed=settings.seed,
                        series=polls,
                        on_batch=on_batch,
                    ),
                    doc,
                    polls,
                ),
            )
    hits, _ = bound_hits(doc)
    hits = [h for h in hits if h in setup.spec.names]
    if hits and settings.bound_replicates:
        spec_names = list(setup.spec.names)
        cols = [spec_names.index(h) for h in hits]
        bounds = np.asarray(setup.spec.bounds, dtype=float)[cols]
        record = bound_sides(x[cols][None], bounds)[0]
        truth = inside_point(setup, doc, x, hits)
        for label, start in (("from the point inside", None), ("from the fit", x)):
            run(
                f"bounds, {label}",
                lambda start=start: _bounds_section(
                    bound_check(
                        estimated,
                        truth,
                        hits,
                        start=start,
                        replicates=settings.bound_replicates,
                        seed=settings.seed,
                        on_batch=on_batch,
                    ),
                    record,
                ),
            )
    return CriteriaCheck(name, rows, sections, settings, tuple(reused))


def save(
    path: str | os.PathLike[str],
    result: CriteriaCheck,
    result_path: str | os.PathLike[str],
    *,
    command: str = "",
) -> Path:
    """Write the check beside its result (atomically), with what it was made from."""
    import datetime as _dt

    from nea_sd.calibrate._toml import dumps
    from nea_sd.model import file_sha256
    from nea_sd.outputs import atomic_write_text
    from nea_sd.provenance import package_versions

    doc = {
        "check": {
            "result": result.result,
            "result_sha256": file_sha256(result_path),
            "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command,
            "settings": asdict(result.settings),
            "from_checkpoint": list(result.reused),
            "packages": package_versions(),
            "note": "polls: P(meet) and p-values of records drawn from the fit with its error "
            "model (estimated: scale and AR(1); spec sigma: as written), scored against the "
            "fit (refitted: against each record's own refit); bounds: the parameters at a "
            "non-physical bound moved to the middle of their profile interval, records drawn "
            "there, refitted from that point and from the fit",
        },
        **result.document(),
    }
    header = "Acceptance criteria and their noise checks (nea-sd calibrate --check-criteria)."
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(target, dumps(doc, header), what="criteria check")
    except OSError as exc:
        raise OutputPathError(
            f"cannot write the criteria check to {str(target)!r}: {exc}"
        ) from None


def committed_verdicts(result_path: str | os.PathLike[str]) -> list[str]:
    """The verdict lines of the check written beside ``result_path`` (``<stem>.criteria.toml``):
    a line saying it is out of date when the result changed since, or unreadable; no lines
    when there is no check."""
    from nea_sd.errors import NeaSdError
    from nea_sd.model import file_sha256

    path = Path(result_path)
    check_path = path.with_name(f"{path.stem}.criteria.toml")
    if not check_path.is_file():
        return []
    try:
        written = read_result(check_path)
    except NeaSdError as exc:
        return [f"criteria check unreadable ({exc}); run --check-criteria again with --replace"]
    if written.get("check", {}).get("result_sha256") != file_sha256(path):
        return [f"criteria check out of date ({check_path.name} predates this result)"]
    return [str(line) for line in written.get("verdicts", [])]
