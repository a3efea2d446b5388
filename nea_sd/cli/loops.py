"""``nea-sd loops``: which feedback loops dominate when (Loops That Matter), per strategy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nea_sd.cli._common import add_model_argument, model_path, open_model
from nea_sd.errors import InvalidValueError
from nea_sd.outputs import check_output_dir, safe_name, write_frame


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "loops",
        help="feedback loops and their dominance over time (Loops That Matter)",
        description=__doc__,
    )
    add_model_argument(parser)
    parser.add_argument("--scenario", help="strategy to analyse (see models/scenarios.toml)")
    parser.add_argument("--compare", metavar="S2", help="a second strategy, on the same draws")
    parser.add_argument("--runs", type=int, default=None, help="parameter draws (ensemble)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the draws (default 0)")
    parser.add_argument(
        "--saveper", type=float, default=None, help="score every S years (default: SAVEPER)"
    )
    parser.add_argument("--output-dir", type=Path, default=None, help="write CSV, NetCDF, PNG")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from nea_sd.errors import SimulationError
    from nea_sd.loops.analysis import Comparison, analyze, diverged_runs, exclude_runs
    from nea_sd.loops.strategies import strategy_parameters

    if args.runs is not None and args.runs < 1:
        raise InvalidValueError(f"--runs must be at least 1, got {args.runs}")
    if args.saveper is not None and not args.saveper > 0:
        raise InvalidValueError(f"--saveper must be positive, got {args.saveper}")
    if args.compare and not args.scenario:
        raise InvalidValueError("--compare needs --scenario (the first strategy)")
    if args.output_dir is not None:  # before the work, not after it
        check_output_dir(args.output_dir)
    path = model_path(args.model)
    model = open_model(str(path))  # validated first: a broken model is one line
    n_runs = args.runs or 1
    # draws whenever --runs or --seed is given; the seed is used as given, 0 included
    seed = args.seed if args.seed is not None else (0 if args.runs is not None else None)
    names = [args.scenario] + ([args.compare] if args.compare else [])
    params = strategy_parameters(model, names, n_runs, seed)
    results = []
    loopset = None
    for name, p in params.items():
        bad = diverged_runs(path, p)
        if bad and len(bad) == n_runs:
            first = next(iter(bad.values()))
            raise SimulationError(
                f"scenario {name!r} diverged ({first}){' in every draw' if n_runs > 1 else ''}; "
                "loop scores are undefined there: change the parameter values or the equation"
            )
        result = analyze(path, p, n_runs, scenario=name, loopset=loopset, saveper=args.saveper)
        loopset = result.loopset
        if bad:
            shown = ", ".join(f"{run} ({where})" for run, where in list(bad.items())[:5])
            print(
                f"warning: {len(bad)} of {n_runs} draws diverged under {name!r}: {shown}"
                f"{', ...' if len(bad) > 5 else ''}; their scores are left out (NaN)",
                file=sys.stderr,
            )
            result = exclude_runs(result, bad)
        results.append(result)
    pd.set_option("display.width", 160)
    first = results[0]
    how = "all loops (Johnson)" if first.loopset.exhaustive else "named + strongest-path loops"
    print(f"{first.model}: {len(first.loopset.loops)} loops scored ({how}), {n_runs} run(s)")
    for result in results:
        print(f"\n[{result.scenario}] mean relative loop score, dominance periods (run 0)")
        print(result.table().drop(columns=["title"]).to_string(float_format="{:.3f}".format))
        periods = result.polarity_periods()
        print(f"reinforcing loops dominate: {periods['R'] or 'never'}")
        print(f"balancing loops dominate:   {periods['B'] or 'never'}")
        if n_runs > 1:
            q = abs(result.data["named"]).mean("time").quantile([0.1, 0.5, 0.9], dim="run")
            print(f"\n[{result.scenario}] mean |relative| over runs: 10%, median, 90%")
            print(q.to_pandas().T.to_string(float_format="{:.3f}".format))
    comparison = None
    if len(results) == 2:
        comparison = Comparison(results[0], results[1])
        print(f"\n{results[0].scenario} minus {results[1].scenario}")
        print(comparison.summary().to_string(float_format="{:.3f}".format))
    if args.output_dir is not None:
        _write(args.output_dir, results, comparison, seed)
    return 0


def _write(folder: Path, results: list, comparison, seed: int | None) -> None:
    from nea_sd.loops.plot import plot_dominance
    from nea_sd.outputs import write_dataset
    from nea_sd.provenance import provenance_attrs

    check_output_dir(folder)
    for result in results:
        stem = safe_name(f"loops-{result.model}-{result.scenario}")
        write_frame(result.table(), folder / f"{stem}.csv")
        data = result.data.copy()
        model = result.loopset.graph.program.model
        data.attrs.update(
            provenance_attrs(
                model_path=str(model.path),
                model_sha256=model.sha256,
                engine="batch-ltm",
                scenarios=[result.scenario],
                seed=seed,
            )
        )
        if seed is not None:
            data.attrs["seed"] = int(seed)
        write_dataset(data, folder / f"{stem}.nc")
    if comparison is not None:
        name = safe_name(f"loops-{results[0].model}-comparison.csv")
        write_frame(comparison.summary(), folder / name)
    plot_dominance(results, folder / safe_name(f"loops-{results[0].model}.png"))
    print(f"\nwritten to {folder}")
