"""``nea-sd params MODEL``: the parameter table (value, units, range, view, documentation)."""

from __future__ import annotations

import argparse

import pandas as pd

from nea_sd.cli._common import add_model_argument, open_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("params", help="list a model's parameters with their ranges")
    add_model_argument(parser)
    parser.add_argument("--view", help="only the parameters shown on this view")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    model = open_model(args.model)
    frame = model.parameters.to_frame()
    if args.view:
        views = sorted(set(frame["view"]))
        if args.view not in views:
            from nea_sd.errors import unknown_name

            raise unknown_name("view", args.view, views)
        frame = frame[frame["view"] == args.view]
    if args.csv:
        print(frame.to_csv(index=False), end="")
        return 0
    with pd.option_context("display.max_rows", None, "display.width", 200):
        shown = frame.drop(columns=["documentation"])
        print(shown.to_string(index=False))
    print(f"\n{len(frame)} parameters in {model.path.name} (sha256 {model.sha256[:12]})")
    return 0
