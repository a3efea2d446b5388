"""``nea-sd check MODEL``: can the batch engine run this model? (the pre-flight report).

With ``--verify``, also run it in the batch engine and in PySD over the full horizon (defaults
and random within-range sets) and compare every variable: the same check a model's first batch
run makes, done now and reported with its cost.
"""

from __future__ import annotations

import argparse

from nea_sd.cli._common import add_model_argument, model_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check", help="list the constructs of a model that the batch engine does not support"
    )
    add_model_argument(parser)
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also compare the batch engine with PySD on this model (full horizon; PySD runs "
        "the model a few times) and store the verdict",
    )
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
    if not args.verify:
        return 0
    from nea_sd.engine.verify import verify
    from nea_sd.model import load_model

    verdict = verify(load_model(path))
    print(f"{path.name}: {verdict.summary()} in {verdict.seconds:.1f} s")
    for line in verdict.differences[5:20]:
        print(f"  also: {line}")
    return 0 if verdict.verified else 1
