"""``nea-sd run MODEL``: one simulation with a scenario and/or ``--set`` overrides."""

from __future__ import annotations

import argparse

from nea_sd.api import default_outputs
from nea_sd.cli._common import (
    add_engine_argument,
    add_model_argument,
    check_year,
    open_model,
    parse_assignments,
    progress,
)
from nea_sd.cli.compare import add_base_argument, chosen_base
from nea_sd.engine import simulate
from nea_sd.errors import NeaSdError
from nea_sd.outcomes import headline_outcomes, vocabulary_for
from nea_sd.outputs import check_output_file, write_dataset
from nea_sd.provenance import to_json
from nea_sd.scenarios import load_scenarios, select


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="simulate a model once")
    add_model_argument(parser)
    parser.add_argument("--scenario", help="a scenario of models/scenarios.toml")
    parser.add_argument("--scenarios-file", help="another scenario file")
    parser.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="override a parameter (repeatable); elements as 'Name[US,CN]=0.9'",
    )
    parser.add_argument(
        "--output", help="write the trajectories to FILE.nc, FILE.csv or FILE.tab (Vensim dataset)"
    )
    parser.add_argument(
        "--outputs",
        help="comma-separated variables to keep, or 'all' (default: stocks and outcomes, "
        "or every variable of a model that has neither)",
    )
    parser.add_argument("--year", type=float, default=2040, help="year of the outcome levels")
    parser.add_argument(
        "--allow-out-of-range",
        action="store_true",
        help="accept values outside the ranges declared in the model",
    )
    add_base_argument(parser)
    add_engine_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.output:
        check_output_file(args.output)
    overrides = parse_assignments(args.set)
    model = open_model(args.model)
    base, source = chosen_base(model, args.parameters)
    label = "default"
    if args.scenario:
        (scenario,) = select(load_scenarios(model, args.scenarios_file), [args.scenario])
        overrides = {**scenario.overrides, **overrides}
        label = scenario.name
    overrides = {**base, **overrides}
    try:
        vocabulary = vocabulary_for(model)
    except NeaSdError:
        vocabulary = None
    if vocabulary is not None:
        check_year(model, args.year)  # before the run, not after it
    outputs = default_outputs(model, args.outputs)
    with progress(1, f"{model.name}") as bar:
        result = simulate(
            model,
            [overrides],
            outputs,
            labels=[label],
            engine=args.engine,
            allow_out_of_range=args.allow_out_of_range,
            on_run_done=lambda: bar.update(1),
        )
    result.attrs["base_parameters"] = to_json(base)
    result.attrs["base_parameters_source"] = source
    print(f"parameters: {source}")
    if vocabulary is not None and all(v in result for v in vocabulary.outputs()):
        table = headline_outcomes(result, vocabulary, args.year).to_dataframe().T
        print(f"{model.name} ({label}), outcomes in {args.year:g}:")
        print(table.to_string(float_format=lambda x: f"{x:.4g}", header=False))
    else:
        final = result.isel(run=0, time=-1)
        print(f"{model.name} ({label}) at {float(final['time']):g}:")
        for name, value in final.data_vars.items():
            shown = f"{float(value):.6g}" if value.ndim == 0 else f"{value.values.round(4)}"
            print(f"  {name} = {shown}")
    if args.output:
        path = write_dataset(result, args.output)
        print(f"wrote {path}")
    return 0
