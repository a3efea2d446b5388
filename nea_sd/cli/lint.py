"""``nea-sd lint MODEL...``: check sketches against their equations, and the documentation."""

from __future__ import annotations

import argparse

from nea_sd.sketch.lint import has_errors, lint_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lint",
        help="check sketches against equations, and that units, ranges and docs are given",
        description=(
            "Print one line per finding as FILE:LINE: error|warning: message. "
            "Exit status 1 when there are errors, 0 otherwise (warnings alone included)."
        ),
    )
    parser.add_argument(
        "models", nargs="+", metavar="MODEL", help="a .mdl file or a bundled model's name"
    )
    parser.add_argument(
        "--units",
        action="store_true",
        help="also check dimensional consistency with pysimlin (needs nea-sd[diagram])",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.cli._common import model_path
    from nea_sd.model.validate import validate_model

    failed = False
    for name in args.models:
        model = model_path(name)
        findings = sorted(set(lint_model(model)) | set(validate_model(model)))
        if args.units:
            from nea_sd.sketch.units import check_units

            findings = sorted(set(findings) | set(check_units(model)))
        for finding in findings:
            print(finding.format(model))
        failed = failed or has_errors(findings)
    return 1 if failed else 0
