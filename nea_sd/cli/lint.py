"""``nea-sd lint MODEL``: check a model's sketch against its equations, and its documentation."""

from __future__ import annotations

import argparse

from nea_sd.sketch.lint import has_errors, lint_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lint",
        help="check the diagram (sketch), units, ranges and documentation of a Vensim model",
        description=(
            "Print one line per finding as FILE:LINE: error|warning: message. "
            "Exit status 1 when there are errors, 0 otherwise."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="path of a Vensim .mdl file")
    parser.add_argument(
        "--units",
        action="store_true",
        help="also check dimensional consistency with pysimlin (needs nea-sd[diagram])",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    findings = lint_model(args.model)
    if args.units:
        from nea_sd.sketch.units import check_units

        findings = sorted(set(findings) | set(check_units(args.model)))
    for finding in findings:
        print(finding.format(args.model))
    return 1 if has_errors(findings) else 0
