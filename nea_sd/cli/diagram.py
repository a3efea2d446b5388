"""``nea-sd diagram MODEL --output FILE.svg|FILE.png [--view NAME]``: draw the model's views."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagram",
        help="render the stock-and-flow diagram of each view (needs nea-sd[diagram])",
        description=(
            "Render views from their own sketch coordinates with pysimlin. Without --view, a "
            "model with several views gets one file per view, named <stem>-<view><suffix>."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="a .mdl file or a bundled model's name")
    parser.add_argument(
        "--output", "-o", required=True, metavar="FILE", help="output file, .svg or .png"
    )
    parser.add_argument("--view", metavar="NAME", help="render only this view (by its name)")
    parser.add_argument(
        "--scale", type=float, default=2.0, help="PNG pixels per sketch unit (default: 2)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.cli._common import model_path
    from nea_sd.model.validate import check_model
    from nea_sd.sketch.diagram import render_diagram

    model = model_path(args.model)
    check_model(model)  # a model that does not parse has no diagram to draw
    for path in render_diagram(model, args.output, view=args.view, scale=args.scale):
        print(path)
    return 0
