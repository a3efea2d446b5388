"""``nea-sd export MODEL... --to xmile [--output FILE | --output-dir DIR]``: write XMILE."""

from __future__ import annotations

import argparse
from pathlib import Path

from nea_sd.errors import InvalidValueError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a Vensim model as XMILE (Stella, iThink, Simlin), diagram included",
        description=(
            "Convert .mdl models to XMILE with pysimlin (needs nea-sd[diagram]), restoring the "
            "Vensim names, flow references and ranges pysimlin drops. Regenerate the bundled "
            "copies with: nea-sd export richardson dyad nea --to xmile --output-dir models/xmile"
        ),
    )
    parser.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="a .mdl file, or the name of a bundled model: richardson, dyad, nea",
    )
    parser.add_argument("--to", required=True, choices=("xmile",), help="target format")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--output", "-o", metavar="FILE", help="output file (.xmile or .stmx)")
    target.add_argument(
        "--output-dir", metavar="DIR", help="folder for <stem>.xmile (default: current folder)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.cli._common import model_path
    from nea_sd.sketch.xmile import write_xmile

    sources = [model_path(m) for m in args.models]
    if args.output and len(sources) > 1:
        raise InvalidValueError(
            f"--output names one file but {len(sources)} models were given; use --output-dir"
        )
    folder = Path(args.output_dir or ".")
    for source in sources:
        output = Path(args.output) if args.output else folder / f"{source.stem}.xmile"
        print(write_xmile(source, output))
    return 0
