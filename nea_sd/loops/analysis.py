"""Loops That Matter over runs: which loops dominate when, per strategy and across draws.

``analyze`` finds the loops (all of them where Johnson's enumeration is feasible, otherwise
the named loops' element instances plus the strongest-path loops of a pilot run), scores
them over every run at every saved step, and normalises each loop score by the sum of
absolute loop scores of its cycle partition (the relative loop score).  A loop, or a set of
loops of one polarity, *dominates* where its relative score explains at least half.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.engine.batch import batch_model, compile_model
from nea_sd.engine.batch.ltm import LoopScorer, Scoring, run_scored
from nea_sd.engine.batch.runtime import TimeGrid
from nea_sd.errors import InvalidValueError
from nea_sd.loops.enumerate import (
    Loop,
    johnson,
    link_ids,
    path_instances,
    strongest_paths,
)
from nea_sd.loops.graph import CausalGraph, cycle_partitions, graph_of
from nea_sd.loops.named import NamedLoop, default_loops_file, match, read_named_loops
from nea_sd.model import Model

DOMINANCE = 0.5
EXHAUSTIVE_LIMIT = 5000
PILOT_TIMES = 4
SMALL = 1000  # element links: a graph this small is searched at every saved step

_GRAPHS: dict[str, CausalGraph] = {}


def causal_graph(source: str | os.PathLike[str] | Model) -> CausalGraph:
    """The causal graph of a model file or loaded model (cached per content hash).

    Keyed by the file's SHA-256, not its path, so an edited file gets a new graph; a loaded
    :class:`~nea_sd.model.Model` whose file changed since loading is an error.
    """
    batch = batch_model(source) if isinstance(source, Model) else compile_model(source)
    if batch.sha256 not in _GRAPHS:
        _GRAPHS[batch.sha256] = graph_of(batch)
    return _GRAPHS[batch.sha256]


@dataclass(frozen=True)
class LoopSet:
    """The loops scored for a model, with their names and cycle partitions."""

    graph: CausalGraph
    loops: tuple[Loop, ...]
    labels: tuple[str, ...]
    partitions: tuple[int, ...]
    named: tuple[NamedLoop, ...]
    exhaustive: bool
    ids: list[list[int]] = field(repr=False, default_factory=list)
    strength: tuple[float, ...] | None = None  # mean |relative score| in the pilot, if any

    def main_partition(self) -> int:
        """The cycle partition holding the most loops (where the named loops compete)."""
        parts = list(self.partitions)
        return max(set(parts), key=parts.count) if parts else 0

    def shown(self, top_unnamed: int = 5) -> list[int]:
        """Loops reported by name: every named loop's instances, then the strongest others."""
        named = {n.name for n in self.named}
        inst = [i for i, lab in enumerate(self.labels) if lab in named]
        main = self.main_partition()  # a loop alone in its partition reads 1 by construction
        others = [
            i
            for i, lab in enumerate(self.labels)
            if lab not in named and self.partitions[i] == main
        ]
        if self.strength is not None:
            others.sort(key=lambda i: -self.strength[i])
        return inst + others[:top_unnamed]

    def _repr_html_(self) -> str:
        how = "all loops (Johnson)" if self.exhaustive else "named + strongest-path loops"
        return f"<b>{len(self.loops)} loops</b> of {self.graph.name}: {how}"


def find_loops(
    graph: CausalGraph,
    named: list[NamedLoop],
    pilot: np.ndarray | None = None,
    limit: int = EXHAUSTIVE_LIMIT,
) -> LoopSet:
    """All element loops if there are at most ``limit``; else named instances + strongest paths.

    ``pilot``: element link scores ``(time, n_links)`` of a pilot run, weighting the search.
    """
    elements = graph.elements
    variable_of = {n: d["variable"] for n, d in elements.nodes(data=True)}
    exhaustive = True
    try:
        loops = johnson(elements, limit)
    except InvalidValueError:
        exhaustive = False
        found: dict[tuple[str, ...], Loop] = {}
        for nl in named:
            for loop in path_instances(elements, nl.path, variable_of):
                found.setdefault(loop.key(), loop)
        if pilot is not None:
            index = graph.element_index
            # every saved step on small graphs, a few on large ones (the search costs seconds)
            count = len(pilot) - 1 if elements.number_of_edges() <= SMALL else PILOT_TIMES
            times = np.unique(
                np.linspace(1, len(pilot) - 1, min(count, len(pilot) - 1)).astype(int)
            )
            for t in times:
                weights = {e: abs(float(pilot[t, i])) for e, i in index.items()}
                for loop in strongest_paths(elements, weights):
                    found.setdefault(loop.key(), loop)
        loops = sorted(found.values(), key=lambda lp: (lp.length, lp.key()))
    labels = match(loops, named, variable_of)
    part = cycle_partitions(elements)
    ids = link_ids(loops, graph.element_index)
    strength = None
    if pilot is not None and loops:
        scores = LoopScorer(ids, graph.program.n_links)(pilot)
        rel = relative_scores(scores, tuple(part[lp.nodes[0]] for lp in loops))
        strength = tuple(float(v) for v in np.abs(rel).mean(axis=0))
    return LoopSet(
        graph,
        tuple(loops),
        tuple(labels),
        tuple(part[lp.nodes[0]] for lp in loops),
        tuple(named),
        exhaustive,
        ids,
        strength,
    )


def relative_scores(scores: np.ndarray, partitions: tuple[int, ...]) -> np.ndarray:
    """Loop score / sum of |loop scores| in its cycle partition (0 where that sum is 0)."""
    rel = np.zeros_like(scores)
    part = np.asarray(partitions)
    for p in np.unique(part):
        cols = part == p
        total = np.abs(scores[..., cols]).sum(axis=-1, keepdims=True)
        with np.errstate(all="ignore"):
            rel[..., cols] = np.where(total > 0, scores[..., cols] / total, 0.0)
    return rel


@dataclass(frozen=True)
class LoopAnalysis:
    """Loop scores of one strategy over runs: ``data`` has dims (run, time, loop).

    Variables: ``score`` (raw loop score), ``relative`` (relative loop score, signed),
    ``named`` (dims run, time, name: the summed relative score of each named loop's element
    loops), plus any recorded model ``outputs`` over (run, time, ...).
    """

    model: str
    scenario: str
    loopset: LoopSet
    data: xr.Dataset

    @property
    def names(self) -> list[str]:
        return [str(n) for n in self.data["name"].values]

    def dominance(self, threshold: float = DOMINANCE) -> xr.DataArray:
        """Whether each named loop explains at least ``threshold`` (run, time, name)."""
        return abs(self.data["named"]) >= threshold

    def polarity_shares(self) -> xr.DataArray:
        """Share of the reinforcing (relative score > 0) and balancing (< 0) loops.

        Dims (run, time, polarity), within the main cycle partition (all its scored loops),
        where the two shares sum to 1: a polarity set dominates where its share is >= 1/2.
        """
        return self.data["shares"]

    def polarity_periods(self, run: int = 0, threshold: float = DOMINANCE) -> dict[str, str]:
        """Intervals in which the reinforcing / balancing loops together dominate (one run)."""
        shares = self.polarity_shares().isel(run=run)
        times = shares["time"].values
        out = {}
        for pol in ("R", "B"):
            flags = shares.sel(polarity=pol).values >= threshold
            out[pol] = "; ".join(f"{a:g}-{b:g}" for a, b in _spans(times, flags))
        return out

    def first_dominance(self, threshold: float = DOMINANCE) -> xr.DataArray:
        """Date each named loop first dominates (NaN if never), over (run, name)."""
        dom = self.dominance(threshold)
        time = self.data["time"]
        first = time.where(dom).min("time")
        return first

    def periods(self, run: int = 0, threshold: float = DOMINANCE) -> dict[str, list[tuple]]:
        """Intervals (start, end) in which each named loop dominates in one run."""
        dom = self.dominance(threshold).isel(run=run)
        times = dom["time"].values
        out: dict[str, list[tuple]] = {}
        for name in self.names:
            out[name] = _spans(times, dom.sel(name=name).values)
        return out

    def table(self, threshold: float = DOMINANCE) -> pd.DataFrame:
        """One row per named loop (then the strongest unnamed ones): polarity, length, scores."""
        rows = []
        nl = {n.name: n for n in self.loopset.named}
        named = self.data["named"]
        periods = self.periods(0, threshold)
        for name in self.names:
            info = nl.get(name)
            members = [i for i, lab in enumerate(self.loopset.labels) if lab == name]
            rows.append(
                {
                    "loop": name,
                    "title": info.title if info else "",
                    "polarity": info.polarity if info else self.loopset.loops[members[0]].polarity,
                    "length": len(info.path) if info else self.loopset.loops[members[0]].length,
                    "instances": len(members),
                    "runtime": self.runtime_polarity(name),
                    "mean |relative|": float(abs(named.sel(name=name)).mean()),
                    "dominant": "; ".join(f"{a:g}-{b:g}" for a, b in periods.get(name, [])),
                    "dormant": self.dormant_reason(name),
                }
            )
        return pd.DataFrame(rows).set_index("loop")

    def _member_scores(self, name: str) -> np.ndarray:
        """Scores (run, time, instance) of the loop instances labelled ``name``."""
        members = self.data["label"].values == name
        return self.data["score"].values[..., members]

    def runtime_polarity(self, name: str) -> str:
        """Sign of the loop score over the runs, times and instances: R (never negative),
        B (never positive), U (both occur) or 0 (identically zero: dormant)."""
        scores = self._member_scores(name)
        if scores.size == 0:
            return ""
        pos, neg = bool((scores > 0).any()), bool((scores < 0).any())
        return "U" if pos and neg else "R" if pos else "B" if neg else "0"

    def dormant_reason(self, name: str) -> str:
        """Why a named loop is dormant (its score identically zero over the window), else ''."""
        scores = self._member_scores(name)
        if scores.size == 0 or np.any(scores != 0):
            return ""
        times = self.data["time"].values
        return (
            f"score identically 0 over {times[0]:g}-{times[-1]:g} in every run: a link on its "
            "path carries no change there (a switched-off gain, or a MAX/threshold never crossed)"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<b>Loop dominance of {html.escape(self.model)} / {html.escape(self.scenario)}</b>"
            f" ({self.data.sizes['run']} runs, {len(self.loopset.loops)} loops)"
        )
        return head + self.table().to_html()


def _runtime_polarity(scores: np.ndarray) -> list[str]:
    """Per loop: R if its score is never negative (and sometimes positive), B the reverse, U
    when both signs occur over the runs and times (the link polarities then vary)."""
    flat = scores.reshape(-1, scores.shape[-1])
    pos, neg = (flat > 0).any(axis=0), (flat < 0).any(axis=0)
    return [
        "U" if p and n else "R" if p else "B" if n else "0" for p, n in zip(pos, neg, strict=True)
    ]


def _spans(times: np.ndarray, flags: np.ndarray) -> list[tuple[float, float]]:
    """Intervals of consecutive true flags, as (first time, first time after)."""
    spans, start = [], None
    for t, f in zip(times, flags, strict=True):
        if f and start is None:
            start = t
        if not f and start is not None:
            spans.append((float(start), float(t)))
            start = None
    if start is not None:  # open at the end: it lasts to the end of the last saved step
        step = float(times[-1] - times[-2]) if len(times) > 1 else 0.0
        spans.append((float(start), float(times[-1]) + step))
    return spans


MIN_PARALLEL = 100
BUDGET = 2_000_000  # values of a per-loop (run, time, loop) array kept in full
TOP_UNNAMED = 5


def _count_times(program: Any, saveper: float | None) -> int:
    control = program.compiled.control
    step = control["time_step"]
    grid = TimeGrid.build(
        control["initial_time"],
        control["final_time"],
        step,
        float(saveper) if saveper is not None else program.model.default_saveper(step),
    )
    return int(grid.save.sum())


_WORK: dict[str, Any] = {}


@dataclass
class _Reducer:
    """Per step: loop scores, relative scores, named sums and polarity shares of the runs.

    Only these reductions leave the step, so memory stays ``runs x times x (named + kept)``
    however many loops are scored.
    """

    scorer: LoopScorer
    partitions: np.ndarray
    main: int
    groups: list[np.ndarray]  # per named loop: its loop indices
    keep: np.ndarray  # loop indices whose own scores are stored

    def __call__(self, links: np.ndarray) -> dict[str, np.ndarray]:
        scores = self.scorer(links)
        rel = relative_scores(scores, self.partitions)
        main = rel[:, self.partitions == self.main]
        return {
            "named": np.stack([rel[:, g].sum(axis=1) for g in self.groups], axis=1)
            if self.groups
            else np.zeros((len(rel), 0)),
            "shares": np.stack(
                [np.where(main > 0, main, 0).sum(1), -np.where(main < 0, main, 0).sum(1)], axis=1
            ),
            "score": scores[:, self.keep],
            "relative": rel[:, self.keep],
        }


def _score(
    program: Any,
    params: dict[str, np.ndarray],
    n_runs: int,
    reducer: _Reducer,
    scoring: Scoring,
    chunk: int,
    record_factory: Any = None,
    keep: list[str] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Reduced loop scores, each ``(run, time, ...)``, over ``n_runs`` parameter sets."""
    store: dict[tuple[int, int], dict[str, np.ndarray]] = {}

    def factory(start: int, stop: int) -> Any:
        def reduce(j: int, scores: np.ndarray) -> None:
            store[(start, j)] = reducer(scores)

        return reduce

    grid = run_scored(
        program,
        params,
        n_runs,
        factory,
        record_factory=record_factory,
        scoring=scoring,
        chunk=chunk,
        links=reducer.scorer.used,
        keep=keep,
    )
    times = grid.saved_times
    starts = sorted({s for s, _ in store})
    out = {}
    for name in ("named", "shares", "score", "relative"):
        out[name] = np.concatenate(
            [np.stack([store[(s, j)][name] for j in range(len(times))], axis=1) for s in starts],
            axis=0,
        )
    return times, out


def _slice(params: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    return {k: (v[start:stop] if v.shape[0] > 1 else v) for k, v in params.items()}


def _work(bounds: tuple[int, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    w = _WORK
    start, stop = bounds
    return _score(
        w["program"],
        _slice(w["params"], start, stop),
        stop - start,
        w["reducer"],
        w["scoring"],
        w["chunk"],
    )


def _score_parallel(
    program: Any,
    params: dict[str, np.ndarray],
    n_runs: int,
    reducer: _Reducer,
    scoring: Scoring,
    chunk: int,
    workers: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """As :func:`_score`, the runs split among forked processes (the program is inherited)."""
    import multiprocessing

    _WORK.update(program=program, params=params, reducer=reducer, scoring=scoring, chunk=chunk)
    cuts = np.linspace(0, n_runs, workers + 1).astype(int)
    bounds = [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
    try:
        with multiprocessing.get_context("fork").Pool(len(bounds)) as pool:
            parts = pool.map(_work, bounds)
    finally:
        _WORK.clear()
    merged = {k: np.concatenate([p[1][k] for p in parts], axis=0) for k in parts[0][1]}
    return parts[0][0], merged


def pilot_links(
    graph: CausalGraph, params: dict[str, np.ndarray], saveper: float | None
) -> np.ndarray:
    """Element link scores of the first run at each saved step ``(time, n_links)``."""
    rows: dict[int, np.ndarray] = {}
    first = {k: v[:1] for k, v in params.items()}

    def factory(start: int, stop: int) -> Any:
        def reduce(j: int, scores: np.ndarray) -> None:
            rows[j] = scores[0].copy()

        return reduce

    run_scored(graph.program, first, 1, factory, scoring=Scoring(saveper))
    return np.array([rows[j] for j in sorted(rows)])


def analyze(
    path: str | os.PathLike[str] | Model,
    params: dict[str, np.ndarray] | None = None,
    n_runs: int = 1,
    *,
    scenario: str = "",
    loopset: LoopSet | None = None,
    outputs: list[str] | None = None,
    saveper: float | None = None,
    score_from: float | None = None,
    loops_file: str | os.PathLike[str] | None = None,
    chunk: int = 500,
    workers: int | None = None,
) -> LoopAnalysis:
    """Score the loops of ``path`` (a file or a loaded model) over ``n_runs`` parameter sets.

    ``workers``: processes (forked) sharing the runs; default: one per CPU, at most 2 here.
    ``saveper``: years between scored steps (default the model's SAVEPER); ``score_from``: the
    steps before this time are not scored and read NaN (a window that starts later need not
    pay for them).
    """
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    graph = causal_graph(path)
    params, n_params, _ = graph.program.model.parameter_arrays(params or {})
    if n_params > 1 and n_params != n_runs:
        raise InvalidValueError(f"parameter sets hold {n_params} runs, not {n_runs}")
    if loopset is None:
        where = path.path if isinstance(path, Model) else path
        file = Path(loops_file) if loops_file else default_loops_file(where)
        named = (
            read_named_loops(file, graph.name, graph.variables)
            if loops_file or file.exists()
            else []
        )
        loopset = find_loops(graph, named)
        if not loopset.exhaustive:
            loopset = find_loops(graph, named, pilot_links(graph, params, saveper))
    values: dict[str, dict[tuple[int, int], np.ndarray]] = {o: {} for o in outputs or []}
    program = graph.program
    idents = {}
    for name in outputs or []:
        info = program.model.variable(name)
        if info is None:
            raise InvalidValueError(f"unknown output variable {name!r}")
        idents[name] = program.alias.get(info.ident, info.ident), info.ident

    def record_factory(start: int, stop: int) -> Any:
        def record(j: int, cur: dict[str, Any]) -> None:
            for name, (ident, raw) in idents.items():
                value = cur.get(raw, cur.get(ident))
                shape = (stop - start, *np.shape(value)[1:])
                values[name][(start, j)] = np.broadcast_to(value, shape).copy()

        return record

    named_names = [n.name for n in loopset.named if n.name in loopset.labels]
    labels = np.asarray(loopset.labels)
    partitions = np.asarray(loopset.partitions)
    scoring = Scoring(saveper, score_from)
    n_times = _count_times(program, saveper)
    full = n_runs * n_times * max(1, len(loopset.loops)) <= BUDGET
    keep = np.arange(len(loopset.loops)) if full else np.asarray(loopset.shown(), dtype=np.intp)
    reducer = _Reducer(
        LoopScorer(loopset.ids, program.n_links),
        partitions,
        loopset.main_partition(),
        [np.flatnonzero(labels == n) for n in named_names],
        keep,
    )
    parallel = workers > 1 and not outputs and n_runs >= 2 * MIN_PARALLEL
    if parallel:
        times, red = _score_parallel(program, params, n_runs, reducer, scoring, chunk, workers)
    else:
        times, red = _score(
            program,
            params,
            n_runs,
            reducer,
            scoring,
            chunk,
            record_factory if outputs else None,
            keep=[i for pair in idents.values() for i in pair],
        )
    starts = sorted({s for s, _ in next(iter(values.values()))}) if values else []
    kept_labels = [loopset.labels[i] for i in keep]
    main = loopset.main_partition()
    unnamed = [
        i
        for i, lab in enumerate(kept_labels)
        if lab not in named_names and loopset.partitions[keep[i]] == main
    ]
    strength = np.abs(red["relative"][..., unnamed]).mean(axis=(0, 1)) if unnamed else np.zeros(0)
    top = [unnamed[i] for i in np.argsort(-strength, kind="stable")[:TOP_UNNAMED]]
    names = named_names + [kept_labels[i] for i in top]
    named = np.concatenate([red["named"], red["relative"][..., top]], axis=-1)
    coords = {
        "run": np.arange(n_runs),
        "time": times,
        "loop": [f"{loopset.labels[i]}:{i}" for i in keep],
        "name": names,
        "polarity": ["R", "B"],
    }
    data = xr.Dataset(
        {
            "score": (("run", "time", "loop"), red["score"]),
            "relative": (("run", "time", "loop"), red["relative"]),
            "named": (("run", "time", "name"), named),
            "shares": (("run", "time", "polarity"), red["shares"]),
        },
        coords=coords,
    )
    loops = [loopset.loops[i] for i in keep]
    data = data.assign_coords(
        label=("loop", kept_labels),
        loop_polarity=("loop", [lp.polarity for lp in loops]),
        runtime_polarity=("loop", _runtime_polarity(red["score"])),
        length=("loop", [lp.length for lp in loops]),
        partition=("loop", [loopset.partitions[i] for i in keep]),
    )
    for name, by in values.items():
        arr = np.concatenate(
            [np.stack([by[(s, j)] for j in range(len(times))], axis=1) for s in starts], axis=0
        )
        data[name] = (("run", "time", *[f"{name}_d{i}" for i in range(arr.ndim - 2)]), arr)
    data.attrs.update(
        model=graph.name,
        scenario=scenario,
        exhaustive=int(loopset.exhaustive),
        loops_scored=len(loopset.loops),
        loops_stored="all" if full else "named instances and the strongest others",
    )
    return LoopAnalysis(graph.name, scenario, loopset, data)


@dataclass(frozen=True)
class Comparison:
    """Two strategies on common parameter draws: dominance profiles and their difference."""

    first: LoopAnalysis
    second: LoopAnalysis

    def difference(self) -> xr.DataArray:
        """Relative score of each named loop, first minus second strategy (run, time, name)."""
        names = [n for n in self.first.names if n in self.second.names]
        return self.first.data["named"].sel(name=names) - self.second.data["named"].sel(name=names)

    def first_dominance(self, threshold: float = DOMINANCE) -> xr.Dataset:
        return xr.Dataset(
            {
                self.first.scenario: self.first.first_dominance(threshold),
                self.second.scenario: self.second.first_dominance(threshold),
            }
        )

    def summary(self) -> pd.DataFrame:
        """Per named loop: mean |relative| under each strategy, difference quantiles over runs."""
        rows = []
        diff = self.difference().mean("time")
        fd = self.first_dominance()
        for name in diff["name"].values:
            d = diff.sel(name=name).values
            row = {"loop": str(name)}
            for a in (self.first, self.second):
                row[f"mean |rel| {a.scenario}"] = float(abs(a.data["named"].sel(name=name)).mean())
                dates = fd[a.scenario].sel(name=name).values
                row[f"first dominant {a.scenario} (median)"] = (
                    float(np.nanmedian(dates)) if np.isfinite(dates).any() else np.nan
                )
            row["difference median"] = float(np.median(d))
            row["difference p10"] = float(np.quantile(d, 0.1))
            row["difference p90"] = float(np.quantile(d, 0.9))
            rows.append(row)
        return pd.DataFrame(rows).set_index("loop")

    def _repr_html_(self) -> str:
        return (
            f"<b>{html.escape(self.first.scenario)} vs {html.escape(self.second.scenario)}</b>"
            + self.summary().to_html(float_format="{:.3g}".format)
        )


def ensemble_quantiles(data: xr.DataArray, q: tuple[float, ...] = (0.1, 0.5, 0.9)) -> xr.DataArray:
    """Quantiles over runs (median and 10-90% by default)."""
    return data.quantile(list(q), dim="run")


__all__ = [
    "Comparison",
    "LoopAnalysis",
    "LoopSet",
    "analyze",
    "causal_graph",
    "ensemble_quantiles",
    "find_loops",
    "relative_scores",
]


def diverged_runs(path: str | os.PathLike[str], params: dict[str, Any]) -> dict[int, str]:
    """Runs of ``params`` that go non-finite in the batch engine: run -> "variable at time".

    Loop scores of such a run are undefined (the scorer would read them as zero), so callers
    exclude them and say so.
    """
    import json

    from nea_sd.engine.batch import compile_model

    result = compile_model(path).simulate(params or None, nonfinite="nan")
    where = json.loads(result.attrs.get("diverged_at", "{}"))
    return {int(run): f"{var!r} at {time:g}" for run, (var, time) in where.items()}


def exclude_runs(analysis: LoopAnalysis, runs: dict[int, str]) -> LoopAnalysis:
    """``analysis`` with the scores of ``runs`` set to NaN (left out of medians and quantiles)
    and the runs listed in ``data.attrs["diverged_runs"]``."""
    import json
    from dataclasses import replace

    if not runs:
        return analysis
    data = analysis.data.copy()
    mask = xr.DataArray(np.isin(data["run"].values, list(runs)), dims="run")
    for name in data.data_vars:
        if "run" in data[name].dims and data[name].dtype.kind == "f":
            data[name] = data[name].where(~mask)
    data.attrs["diverged_runs"] = json.dumps({str(k): v for k, v in sorted(runs.items())})
    return replace(analysis, data=data)
