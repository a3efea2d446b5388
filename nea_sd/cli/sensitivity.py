"""``nea-sd sensitivity MODEL``: a sensitivity sweep through SALib on the batch engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nea_sd.cli._common import add_model_argument, check_workers, model_path, open_model
from nea_sd.errors import InvalidValueError


def register(subparsers: argparse._SubParsersAction) -> None:
    from nea_sd.sensitivity.methods import METHODS

    parser = subparsers.add_parser(
        "sensitivity",
        help="sensitivity indices (Sobol, Morris, FAST, RBD-FAST) or LHS/MC sweeps",
        description="Sample the parameters of a sweep spec (ranges from the model's units "
        "field), run the batch engine in checkpointed chunks and analyse with SALib.",
    )
    add_model_argument(parser)
    parser.add_argument("--method", choices=list(METHODS), default="sobol")
    parser.add_argument(
        "--samples",
        "-N",
        type=int,
        required=True,
        help="base samples N (Sobol runs N*(D+2), or N*(2D+2) with second order)",
    )
    parser.add_argument("--spec", help="sweep spec (TOML): parameters, ranges, groups, outputs")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--scenario", help="run every sample under this scenario")
    which.add_argument(
        "--paired",
        metavar="A,B",
        help="analyse A minus B, both scenarios run on the same samples",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local worker processes (default: this one)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://...)")
    parser.add_argument(
        "--backend",
        choices=("numpy", "numba"),
        help="batch engine backend (default: the spec's, else numpy); numba compiles the model "
        "once (minutes, cached on disk) and runs faster",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: drawn and recorded)")
    parser.add_argument(
        "--output", help="result file FILE.nc (default sensitivity_MODEL_METHOD.nc)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the checkpointed sweep of --output"
    )
    parser.add_argument("--plot", action="store_true", help="also write PNG figures beside it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.outputs import check_output_file
    from nea_sd.sensitivity.checkpoint import checkpoint_dir
    from nea_sd.sensitivity.evaluators import make_evaluator
    from nea_sd.sensitivity.problem import build_problem
    from nea_sd.sensitivity.spec import SweepSpec, load_spec
    from nea_sd.sensitivity.sweep import planned_runs, run_sweep

    check_workers(args.workers)
    if args.samples < 1:
        raise InvalidValueError(f"--samples must be at least 1, got {args.samples}")
    path = model_path(args.model)
    output = Path(args.output or f"sensitivity_{path.stem}_{args.method}.nc")
    check_output_file(output, (".nc",))
    spec = load_spec(args.spec) if args.spec else SweepSpec()
    paired = None
    if args.paired:
        paired = [p.strip() for p in args.paired.split(",")]
        if len(paired) != 2:
            raise InvalidValueError(f"--paired takes A,B (two scenarios), got {args.paired!r}")
    model = open_model(str(path))  # validated first: a broken model is one line
    problem = build_problem(
        model, spec, scenario=args.scenario, paired=paired, backend=args.backend
    )
    total = planned_runs(problem, args.method, args.samples)
    print(
        f"{args.method}: {len(problem.factors)} factors, {len(problem.metrics)} outputs, "
        f"{total} runs",
        file=sys.stderr,
    )
    evaluator = make_evaluator(problem, workers=args.workers, scheduler=args.scheduler)
    from tqdm import tqdm

    with tqdm(
        total=total,
        desc=f"{model.name} {args.method}",
        unit="run",
        file=sys.stderr,
        disable=None,
        smoothing=0.1,
    ) as bar:
        try:
            result = run_sweep(
                problem,
                args.method,
                args.samples,
                seed=args.seed,
                evaluator=evaluator,
                output=output,
                resume=args.resume,
                on_progress=bar.update,
            )
        except KeyboardInterrupt:
            bar.close()
            print(
                f"finished chunks are kept in {checkpoint_dir(output)}; continue with the same "
                "command and --resume",
                file=sys.stderr,
            )
            raise
    print(result.report())
    if args.resume:
        print(f"resumed: {result.reused} chunks reused, {result.computed} computed")
    written = [output]
    if args.plot:
        written += _plots(result, output)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _plots(result, output: Path) -> list[Path]:  # type: ignore[no-untyped-def]
    from nea_sd.outputs import safe_name
    from nea_sd.plots import save_figure
    from nea_sd.sensitivity.plots import index_bars, time_heatmap

    written = []
    ds = result.dataset
    if "indices" in ds:
        for name in ds["output"].values:
            if not result.has_indices(str(name)):
                continue
            target = output.with_name(safe_name(f"{output.stem}_{name}.png"))
            written.append(save_figure(index_bars(result, str(name)), target))
    if "indices_t" in ds:
        for name in ds["trajectory"].values:
            target = output.with_name(safe_name(f"{output.stem}_{name}_time.png"))
            written.append(save_figure(time_heatmap(result, str(name)), target))
    return written
