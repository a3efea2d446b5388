"""``nea-sd check MODEL``: can the batch engine run this model? (the pre-flight report)."""

from __future__ import annotations

import argparse

from nea_sd.cli._common import add_model_argument, model_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check", help="list the constructs of a model that the batch engine does not support"
    )
    add_model_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.engine.batch import compile_model, report
    from nea_sd.model.validate import check_model

    path = model_path(args.model)
    check_model(path)  # a broken model is an error, not an "unsupported construct"
    model = compile_model(path)
    findings = model.unsupported()
    if findings:
        print(report(path.name, findings))
        return 1
    print(
        f"{path.name}: supported by the batch engine ({len(model.variable_names)} variables, "
        f"{model.state_count} state arrays, {len(model.parameter_names)} parameters; "
        f"sha256 {model.sha256[:12]})"
    )
    return 0
