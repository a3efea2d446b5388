"""``nea-sd compare [MODEL]``: the main job — every sequencing strategy, side by side."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from nea_sd.cli._common import add_engine_argument, add_model_argument, open_model, progress
from nea_sd.compare import compare_strategies
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
    parser.add_argument(
        "--parameters",
        choices=("calibrated", "defaults"),
        default="calibrated",
        help="calibrated: the model's fitted values from calibration/results where they exist "
        "(default); defaults: the values written in the model",
    )
    add_engine_argument(parser)
    parser.set_defaults(handler=run)


def base_parameters(model: Model, choice: str) -> tuple[dict[str, float], str]:
    """Calibrated values of ``model`` (if asked for and available) and where they came from.

    Only parameters the calibration identified are used; one pinned at a bound or with a flat
    profile keeps the model's value (design: weakly identified parameters are scenario axes).
    """
    if choice == "defaults":
        return {}, "model defaults"
    from nea_sd.calibrate.results import _find_result, identified_estimates
    from nea_sd.errors import UnknownNameError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values, skipped, file = identified_estimates(model.name, model_path=model.path)
            doc = _find_result(model.name, None, model.path)[1]
            fitted_to = doc.get("calibration", {}).get("model_sha256")
    except UnknownNameError:
        return {}, "model defaults (no calibration results)"
    if fitted_to and fitted_to != model.sha256:
        print(
            f"warning: {file} was fitted to another version of {model.path.name} "
            "(model hash differs); using model defaults: recalibrate to use fitted values",
            file=sys.stderr,
        )
        return {}, f"model defaults ({file} was fitted to another model version)"
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    model.parameters.resolve(values)  # calibrated values must still fit the model's ranges
    source = f"calibrated, {len(values)} identified values from {file}"
    if skipped:
        source += "; model defaults for the unidentified " + ", ".join(skipped)
    return values, source


def run(args: argparse.Namespace) -> int:
    folder = check_output_dir(args.output_dir)
    model = open_model(args.model)
    vocabulary_for(model)  # refuse a model without sequencing outcomes before anything runs
    names = [n.strip() for n in args.scenarios.split(",")] if args.scenarios else None
    scenarios = select(load_scenarios(model, args.scenarios_file), names)
    base, source = base_parameters(model, args.parameters)
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
