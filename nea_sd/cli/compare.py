"""``nea-sd compare [MODEL]``: the main job — every sequencing strategy, side by side."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from nea_sd.cli._common import (
    add_engine_argument,
    add_model_argument,
    check_year,
    open_model,
    progress,
)
from nea_sd.compare import BASES, base_parameters, compare_strategies, result_base
from nea_sd.errors import InvalidValueError
from nea_sd.model import Model
from nea_sd.outcomes import vocabulary_for
from nea_sd.outputs import check_output_dir, write_dataset
from nea_sd.scenarios import load_scenarios, select

DEFAULT_DIR = "nea_sd_output"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="run every sequencing strategy and tabulate the headline outcomes"
    )
    add_model_argument(parser, optional=True)
    parser.add_argument("--scenarios", help="comma-separated scenario names (default: all)")
    parser.add_argument("--scenarios-file", help="another scenario file")
    parser.add_argument("--year", type=float, default=2040, help="year of the outcome levels")
    parser.add_argument(
        "--output-dir", default=DEFAULT_DIR, help=f"where to write results (default {DEFAULT_DIR})"
    )
    add_base_argument(parser)
    parser.add_argument(
        "--calibration",
        metavar="RESULT.toml",
        help="run on the joint optimum of this calibration result instead (a candidate fit "
        "such as calibration/results/nea_gravity.toml); it must be of this model's version",
    )
    add_engine_argument(parser)
    parser.set_defaults(handler=run)


def add_base_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parameters",
        choices=BASES,
        default="calibrated",
        help="calibrated: the joint optimum of the model's calibration in calibration/results, "
        "if fitted to this version of the model (default); defaults: the values in the model",
    )


def chosen_base(model: Model, choice: str) -> tuple[dict[str, float], str]:
    """:func:`nea_sd.compare.base_parameters`, its warnings printed as ``warning:`` lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values, source = base_parameters(model, choice)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return values, source


def run(args: argparse.Namespace) -> int:
    folder = check_output_dir(args.output_dir)
    model = open_model(args.model)
    vocabulary_for(model)  # refuse a model without sequencing outcomes before anything runs
    check_year(model, args.year)
    names = [n.strip() for n in args.scenarios.split(",")] if args.scenarios else None
    scenarios = select(load_scenarios(model, args.scenarios_file), names)
    if args.calibration is not None:
        if args.parameters != "calibrated":
            raise InvalidValueError(
                f"--calibration and --parameters {args.parameters} both choose the parameter "
                "base; give one of them"
            )
        base, source = result_base(model, args.calibration)
    else:
        base, source = chosen_base(model, args.parameters)
    with progress(len(scenarios), f"{model.name} strategies") as bar:
        comparison = compare_strategies(
            model,
            scenarios,
            year=args.year,
            engine=args.engine,
            base=base,
            base_source=source,
            on_run_done=lambda: bar.update(1),
        )
    from nea_sd.plots import comparison_figure, save_figure

    stem = Path(folder) / f"compare_{model.name}"
    written = [
        write_dataset(comparison.trajectories, f"{stem}_trajectories.nc"),
        write_dataset(comparison.outcomes, f"{stem}_outcomes.nc"),
        save_figure(comparison_figure(comparison), f"{stem}.png"),
    ]
    print(comparison.report())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
