"""``nea-sd units MODEL...``: check each model's units for consistency (needs nea-sd[diagram])."""

from __future__ import annotations

import argparse

from nea_sd.sketch.lint import has_errors


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "units",
        help="check dimensional consistency with pysimlin (needs nea-sd[diagram])",
        description=(
            "Print one line per unit problem as FILE:LINE: error|warning: message. "
            "Exit status 1 when there are errors, 0 otherwise."
        ),
    )
    parser.add_argument(
        "models", nargs="+", metavar="MODEL", help="a .mdl file or a bundled model's name"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.cli._common import model_path
    from nea_sd.model.validate import check_model
    from nea_sd.sketch.units import check_units

    failed = False
    for model in map(model_path, args.models):
        check_model(model)  # a model that does not parse has no units to check
        findings = check_units(model)
        for finding in findings:
            print(finding.format(model))
        failed = failed or has_errors(findings)
    return 1 if failed else 0
