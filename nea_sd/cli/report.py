"""``nea-sd report [MODEL]``: the essay's hypotheses over the uncertainty, with verdicts."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from nea_sd.cli._common import add_model_argument, check_workers, open_model
from nea_sd.report.ensemble import BASES

DEFAULT_DIR = "nea_sd_report"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="test the hypotheses H1-H8 over paired ensembles; write report.html/.md/.nc",
    )
    add_model_argument(parser, optional=True)
    parser.add_argument(
        "--samples", type=int, default=500, help="paired draws per strategy and structure"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    parser.add_argument(
        "--base",
        choices=BASES,
        default="calibrated",
        help="calibrated: the calibration's joint optimum (default); posterior: its converged "
        "posterior draws; defaults: the model's values",
    )
    parser.add_argument(
        "--calibration",
        metavar="RESULT.toml",
        help="the joint optimum of this calibration result as the base (a candidate structure's "
        "fit, e.g. calibration/results/nea_gravity_events.toml; of this model's version); with "
        "--base posterior its converged posterior draws (e.g. "
        "calibration/results/nea_base_posterior.toml)",
    )
    parser.add_argument(
        "--output-dir", default=DEFAULT_DIR, help=f"where to write (default {DEFAULT_DIR})"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a report already in --output-dir"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local worker processes")
    where.add_argument("--scheduler", help="address of a Dask scheduler (tcp://host:8786)")
    parser.set_defaults(handler=run)


class _Bars:
    """One tqdm bar per stage on stderr."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            unit = "section" if stage.startswith("section") else "run"
            bar = self.bars[stage] = tqdm(
                total=total, desc=stage, unit=unit, file=sys.stderr, leave=False, disable=None
            )
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nea_sd.errors import OutputPathError
    from nea_sd.outputs import check_output_dir
    from nea_sd.report.build import FILES, build

    check_workers(args.workers)
    folder = Path(args.output_dir)
    existing = [f for f in FILES if (folder / f).exists()]
    if existing and not args.overwrite:  # before the runs, not after them
        raise OutputPathError(
            f"{folder}/ already holds {', '.join(existing)}; choose another --output-dir "
            "or pass --overwrite"
        )
    check_output_dir(folder)  # writable and not full, before the runs
    model = open_model(args.model)
    bars = _Bars()
    start = time.perf_counter()
    try:
        report = build(
            model,
            samples=args.samples,
            seed=args.seed,
            base=args.base,
            calibration=args.calibration,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=bars,
        )
    finally:
        bars.close()
    paths = report.write(folder, overwrite=args.overwrite)
    for key, label in report.verdicts.items():
        print(f"{key}: {label}")
    for key in report.missing:
        print(f"{key}: not computed")
    print(f"wrote {', '.join(str(p) for p in paths)} in {time.perf_counter() - start:.0f} s")
    return 0
