"""``nea-sd mechanisms``: each switchable mechanism's contribution per strategy and period
(knock-out: the outcome with its gain on minus off), its share, and which are dormant."""

from __future__ import annotations

import argparse
from pathlib import Path

from nea_sd.cli._common import add_model_argument, open_model
from nea_sd.errors import InvalidValueError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mechanisms",
        help="each switchable mechanism's contribution per strategy and period; dormant ones",
        description=__doc__,
    )
    add_model_argument(parser, optional=True)
    parser.add_argument(
        "--scenario", action="append", help="strategy (repeatable; default: all strategies)"
    )
    parser.add_argument(
        "--years", default="2026,2030,2040,2050", help="period bounds (default 2026,2030,2040,2050)"
    )
    parser.add_argument("--output-dir", type=Path, default=None, help="write CSV, NetCDF, PNG")
    parser.set_defaults(handler=run)


def _years(text: str) -> list[float]:
    try:
        years = [float(y) for y in text.split(",") if y.strip()]
    except ValueError:
        raise InvalidValueError(
            f"--years must be comma-separated years like 2026,2030,2040, got {text!r}"
        ) from None
    if len(years) < 2 or sorted(years) != years or len(set(years)) != len(years):
        raise InvalidValueError(f"--years needs at least two increasing years, got {text!r}")
    return years


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from nea_sd.mechanisms import contributions
    from nea_sd.outcomes import vocabulary_for
    from nea_sd.outputs import check_output_dir, write_dataset
    from nea_sd.scenarios import load_scenarios, select

    model = open_model(args.model)
    outcome = vocabulary_for(model).security_trust
    years = _years(args.years)
    folder = check_output_dir(args.output_dir) if args.output_dir else None
    every = load_scenarios(model)
    if args.scenario:
        scenarios = select(every, args.scenario)
    else:  # every strategy, without the variants
        scenarios = [s for s in every.values() if not s.variant]
    result = contributions(model, scenarios, outcome, years)
    pd.set_option("display.width", 200)
    print(f"{model.name}: contribution of each mechanism to {outcome} (on minus off), by period")
    for name in result["scenario"].values:
        part = result.sel(scenario=name)
        frame = part["contribution"].to_pandas()
        frame["dormant"] = ["yes" if d else "" for d in part["dormant"].values]
        print(f"\n[{name}]")
        print(frame.to_string(float_format="{:+.4f}".format))
    if folder is not None:
        from nea_sd.plots import save_figure

        stem = f"mechanisms_{model.name}"
        write_dataset(result, folder / f"{stem}.nc")
        flat = result["contribution"].to_dataframe().reset_index()
        from nea_sd.outputs import atomic_write

        atomic_write(folder / f"{stem}.csv", lambda tmp: flat.to_csv(tmp, index=False))
        save_figure(_figure(result), folder / f"{stem}.png")
        print(f"\nwritten to {folder}")
    return 0


def _figure(result):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["scenario"].values)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 5), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        frame = result["contribution"].sel(scenario=name).to_pandas()
        frame.plot.barh(ax=ax, legend=ax is axes[0][0])
        ax.set_title(name)
        ax.axvline(0, color="k", lw=0.5)
    fig.suptitle(f"mechanism contributions to {result.attrs.get('outcome', '')} (on - off)")
    fig.tight_layout()
    return fig
