"""``nea-sd calibrate SPEC``: maximum-likelihood fit, profile intervals, optional Bayesian run.

Writes ``calibration/results/<spec>.toml`` (or ``--output``) with estimates, intervals, fit
statistics and provenance, and prints the fit report.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np

from nea_sd.errors import InvalidValueError
from nea_sd.outputs import check_output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="fit a model to data from a calibration spec (TOML)"
    )
    parser.add_argument("spec", help="calibration spec, e.g. calibration/nea.toml")
    parser.add_argument("--starts", type=int, default=20, help="Latin-hypercube starts (20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--method",
        choices=("least_squares", "minimize", "differential_evolution"),
        help="optimiser (default: least_squares when all errors are Gaussian on some scale)",
    )
    parser.add_argument("--max-nfev", type=int, help="iteration cap per start")
    parser.add_argument(
        "--error-model",
        choices=("estimated", "spec"),
        default="estimated",
        help="estimated (default): per-series error scales and AR(1) residuals estimated at "
        "the optimum and the fit repeated under them; spec: the spec's sigma as given",
    )
    parser.add_argument(
        "--start-from",
        nargs="+",
        default=[],
        metavar="RESULT",
        help="also start the search at these results' optima (a nested structural variant from "
        "its base's: parameters the result did not fit start at the model's values; under "
        "--error-model spec the variant then matches or beats its base, while an estimated "
        "error model is re-estimated at the best start and the refit may end elsewhere)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip profile likelihoods")
    parser.add_argument(
        "--profile",
        choices=("all", "model"),
        default="all",
        help="which free parameters to profile: all, or only the model's values (the link "
        "constants -- poll intercepts, scale factors, MID intercepts -- then get no interval "
        "or label, 'not assessed'; about half the joint fit's profiles, and no criterion of the "
        "calibration reads their intervals)",
    )
    parser.add_argument("--profile-points", type=int, default=11, help="grid points (11)")
    parser.add_argument("--bayes", action="store_true", help="also sample the posterior (emcee)")
    parser.add_argument("--walkers", type=int, help="emcee walkers (default max(4k, 16))")
    parser.add_argument("--steps", type=int, default=2000, help="emcee steps (2000)")
    parser.add_argument(
        "--nested",
        action="store_true",
        help="also sample the posterior and log evidence by nested sampling (UltraNest)",
    )
    parser.add_argument("--live-points", type=int, default=400, help="nested: live points (400)")
    parser.add_argument(
        "--nested-runs", type=int, default=4, help="nested: independent runs for R-hat (4)"
    )
    parser.add_argument(
        "--max-ncalls",
        type=int,
        help="nested: stop each run after this many model runs (a budget for slow models; a "
        "run stopped there is unfinished and the posterior is marked not converged)",
    )
    parser.add_argument(
        "--sampler",
        choices=("ultranest", "nautilus", "smc"),
        default="ultranest",
        help="nested: UltraNest (ultranest), nautilus (neural-network bounds: far fewer "
        "model runs in many dimensions, more of its own work per run) or tempered SMC (smc, "
        "SMCPy: --live-points particles, little work of its own)",
    )
    parser.add_argument(
        "--networks",
        type=int,
        help="nested, nautilus: neural networks per bound (default nautilus's 4; fewer train "
        "faster; 1 converged on the regional base, in less sampling time)",
    )
    parser.add_argument(
        "--network-layers",
        type=_layers,
        metavar="N,N,...",
        help="nested, nautilus: its networks' hidden layer sizes (default nautilus's "
        "100,50,20; 32,16 converged on the regional base in less sampling time)",
    )
    parser.add_argument(
        "--tempering-ess",
        type=float,
        metavar="SHARE",
        help="nested, smc: the effective share of the particles each tempering step keeps "
        "(default 0.8; 0.95: finer steps, at about twice the model runs, whose log Z comes "
        "closer to a known evidence: within 0.07 either way, against 0.17 low)",
    )
    parser.add_argument(
        "--links",
        choices=("closed-form", "free"),
        default=None,
        help="link constants that touch one series (poll intercepts, scale factors, MID "
        "intercepts): closed-form (maximised given the model values in the fit and the "
        "profiles, integrated out of the likelihood in a posterior: the same optimum, "
        "posterior and evidence in fewer dimensions) or free (searched and sampled like the "
        "model values); default: free in the fit and profiles, closed-form in a posterior",
    )
    parser.add_argument(
        "--step-sampler",
        choices=("auto", "region", "slice"),
        default="auto",
        help="nested: how new points are drawn: region (UltraNest's MLFriends, in batches of at "
        "least 512 proposals), slice (population slice sampling), auto (slice above 8 "
        "parameters)",
    )
    parser.add_argument(
        "--variants",
        help="TOML of structural variants (constants to set): log evidence of each (nested); "
        "each variant's result is checkpointed in the cache ($NEA_SD_CACHE/evidence) as soon as "
        "it is done, and a rerun with the same spec, model, data and settings reuses it",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="VARIANT",
        help="with --variants: only these variants (names from the file, in the file's order); "
        "a table too long for one sitting is run and committed in parts",
    )
    parser.add_argument(
        "--check-sectors",
        nargs="+",
        metavar="RESULT",
        help="no fit: check the spec's joint result (calibration/results/<spec>.toml) against "
        "these sector results; writes calibration/results/<spec>.sectors.toml (or --output)",
    )
    parser.add_argument(
        "--check-criteria",
        action="store_true",
        help="no fit: the issue's acceptance criteria of the spec's result "
        "(calibration/results/<spec>.toml), with the poll and bound criteria put to the fit's "
        "own error model (records drawn from the fit, refitted); writes "
        "calibration/results/<spec>.criteria.toml (or --output); sections are checkpointed "
        "in the cache and a rerun resumes",
    )
    parser.add_argument(
        "--refit-replicates",
        type=int,
        metavar="N",
        help="--check-criteria: redrawn records refitted for the poll criterion (200; 0 skips)",
    )
    parser.add_argument(
        "--bound-replicates",
        type=int,
        metavar="N",
        help="--check-criteria: redrawn records refitted, twice, for the bound criterion "
        "(100; 0 skips)",
    )
    parser.add_argument(
        "--backend",
        choices=("numpy", "numba"),
        default="numpy",
        help="batch engine backend for every simulation (numpy; numba compiles the model once "
        "and is much faster for small models with many time steps, e.g. the dyad's nested runs)",
    )
    parser.add_argument("--data-dir", help="data folder (default $NEA_SD_DATA)")
    parser.add_argument(
        "--output",
        help="results file (default calibration/results/<spec>.toml, or <spec>-N.toml when "
        "that exists: results are never overwritten)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="overwrite the results file (the old one is kept as <file>.bak)",
    )
    parser.set_defaults(handler=run)


class _Progress:
    """Simulations done so far, on stderr (tqdm; silent when stderr is not a terminal)."""

    def __init__(self, stage: str):
        from tqdm import tqdm

        self.bar = tqdm(
            desc=stage, unit="run", file=sys.stderr, delay=1.0, leave=False, disable=None
        )

    def __call__(self, runs: int) -> None:
        self.bar.update(runs)

    def close(self) -> None:
        self.bar.close()


def _layers(text: str) -> tuple[int, ...]:
    """``--network-layers 32,16`` -> (32, 16): positive sizes, comma-separated."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of positive layer sizes; write them like 32,16"
        )
    return sizes


def _stage(label: str, func, *args, **kwargs):
    bar = _Progress(label)
    try:
        return func(*args, on_batch=bar, **kwargs)
    finally:
        bar.close()


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this result (recorded in its provenance)."""
    parts = [
        "nea-sd",
        "calibrate",
        args.spec,
        "--starts",
        str(args.starts),
        "--seed",
        str(args.seed),
    ]
    for flag in ("method", "max_nfev", "walkers"):
        if getattr(args, flag) is not None:
            parts += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if args.error_model != "estimated":
        parts += ["--error-model", args.error_model]
    if args.backend != "numpy":
        parts += ["--backend", args.backend]
    parts += ["--start-from", *args.start_from] if args.start_from else []
    if args.no_profile:
        parts.append("--no-profile")
    else:
        parts += ["--profile", args.profile] if args.profile != "all" else []
        parts += ["--profile-points", str(args.profile_points)] if args.profile_points != 11 else []
    parts += ["--links", args.links] if args.links else []
    if args.bayes:
        parts += ["--bayes", "--steps", str(args.steps)]
    if args.nested or args.variants:
        parts += ["--live-points", str(args.live_points), "--nested-runs", str(args.nested_runs)]
        parts += ["--nested"] if args.nested else []
        parts += ["--max-ncalls", str(args.max_ncalls)] if args.max_ncalls else []
        parts += ["--step-sampler", args.step_sampler] if args.step_sampler != "auto" else []
        parts += ["--sampler", args.sampler] if args.sampler != "ultranest" else []
        parts += ["--networks", str(args.networks)] if args.networks is not None else []
        if args.network_layers is not None:
            parts += ["--network-layers", ",".join(map(str, args.network_layers))]
        if args.tempering_ess is not None:
            parts += ["--tempering-ess", repr(args.tempering_ess)]
        parts += ["--variants", args.variants] if args.variants else []
        parts += ["--only", *args.only] if args.variants and args.only else []
    return " ".join(shlex.quote(p) for p in parts)


def _data_gaps(spec) -> list[str]:  # type: ignore[no-untyped-def]
    """A note per observation whose series lacks years inside its fit or held-out period
    (those years are left out of the likelihood, never filled: said, not silent)."""
    notes = []
    for obs in spec.observations:
        for label, holdout in (("fit", False), ("held-out", True)):
            period = spec.period_of(obs, holdout=holdout)
            if period is None or not len(obs.series):
                continue
            missing = obs.series.missing_years(*period)
            if missing:
                years = ", ".join(str(y) for y in missing[:12]) + (", ..." if missing[12:] else "")
                notes.append(
                    f"note: observation {obs.name!r}: {obs.series.source} has no value for "
                    f"{years} in the {label} period {period[0]}-{period[1]}; those years are "
                    "left out, not filled"
                )
    return notes


def _honest(setup, result, max_nfev, on_batch=None):
    from nea_sd.calibrate.noise import honest_fit

    return honest_fit(setup, result, max_nfev=max_nfev, on_batch=on_batch)


def _beside(args: argparse.Namespace, result, kind: str):  # type: ignore[no-untyped-def]
    """Where a check of ``result`` goes: ``--output``, or ``<stem>.<kind>.toml`` beside it; a
    free ``-N`` name unless ``--replace``; checked writable before the work."""
    from pathlib import Path

    from nea_sd.calibrate.results import new_output

    target = Path(args.output) if args.output else result.with_name(f"{result.stem}.{kind}.toml")
    if not args.replace:
        target = new_output(target)
    check_output_file(target, (".toml",))
    return target


def _check_sectors(args: argparse.Namespace) -> int:
    """The joint result of ``args.spec`` against sector results: table printed and written."""
    from pathlib import Path

    from nea_sd.calibrate.partial import save_sector_check, sector_table
    from nea_sd.calibrate.results import default_output

    joint = default_output(args.spec)
    for file in (joint, *map(Path, args.check_sectors)):
        if not file.is_file():
            raise InvalidValueError(
                f"calibration result {str(file)!r} not found; run nea-sd calibrate on its spec"
            )
    target = _beside(args, joint, "sectors")
    command = " ".join(
        shlex.quote(p)
        for p in ["nea-sd", "calibrate", args.spec, "--check-sectors", *args.check_sectors]
    )
    parameters = None
    if Path(args.spec).is_file():  # the joint model's own values: what it held fixed
        from nea_sd.calibrate.spec import read_model_path
        from nea_sd.model import load_model

        parameters = load_model(read_model_path(args.spec)).parameters
    path, rows = save_sector_check(
        target, joint, args.check_sectors, command=command, parameters=parameters
    )
    print(sector_table(rows))
    outside = sum(not r.inside for r in rows)
    held = [r for r in rows if not r.fitted]
    held_out = sum(not r.inside for r in held)
    note = (
        f"{len(held)} held fixed by the joint fit, {held_out} of them outside"
        if parameters is not None
        else f"values the joint fit held fixed not checked: spec {args.spec!r} not found"
    )
    print(
        f"{outside} of {len(rows)} shared parameters outside the sector interval ({note}); "
        f"written to {path}"
    )
    return 0


def _check_criteria(args: argparse.Namespace) -> int:
    """The spec's result against the acceptance criteria, with the noise checks: printed and
    written beside the result."""

    from nea_sd.calibrate import criteria_check
    from nea_sd.calibrate.problem import prepare
    from nea_sd.calibrate.results import default_output
    from nea_sd.model import cache_dir

    counts = {"refit_replicates": args.refit_replicates, "bound_replicates": args.bound_replicates}
    for name, value in counts.items():  # named as the user typed it, not as the field
        if value is not None and value < 0:
            flag = "--" + name.replace("_", "-")
            raise InvalidValueError(f"{flag} must be 0 or more (0 skips that check), got {value!r}")
    settings = criteria_check.Settings(
        seed=args.seed, **{k: v for k, v in counts.items() if v is not None}
    )
    result = default_output(args.spec)
    if not result.is_file():
        raise InvalidValueError(
            f"calibration result {str(result)!r} not found; run nea-sd calibrate {args.spec} first"
        )
    target = _beside(args, result, "criteria")
    setup = prepare(args.spec, args.data_dir, backend=args.backend)
    parts = ["nea-sd", "calibrate", args.spec, "--check-criteria", "--seed", str(args.seed)]
    parts += ["--refit-replicates", str(settings.refit_replicates)]
    parts += ["--bound-replicates", str(settings.bound_replicates)]
    parts += ["--backend", args.backend] if args.backend != "numpy" else []

    def done(section: str, reused: bool) -> None:
        how = "read from its checkpoint" if reused else "done"
        print(f"criteria check: {section} {how}", file=sys.stderr)

    checked = _stage(
        "criteria check",
        criteria_check.check,
        setup,
        result,
        settings,
        checkpoint=cache_dir() / "criteria",
        on_section=done,
    )
    print(checked)
    command = " ".join(shlex.quote(p) for p in parts)
    path = criteria_check.save(target, checked, result, command=command)
    print(f"written to {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    from nea_sd.calibrate.basins import fit_basins
    from nea_sd.calibrate.fit import fit, refine
    from nea_sd.calibrate.problem import prepare
    from nea_sd.calibrate.profile import profile
    from nea_sd.calibrate.results import output_path, save_result, start_point

    if args.starts < 1:
        raise InvalidValueError(f"--starts must be at least 1, got {args.starts}")
    if args.profile_points < 3:
        raise InvalidValueError(f"--profile-points must be at least 3, got {args.profile_points}")
    if args.no_profile and args.profile != "all":
        raise InvalidValueError(
            f"--profile {args.profile} chooses what to profile and --no-profile profiles "
            "nothing; drop one of them"
        )
    if args.live_points < 10:
        raise InvalidValueError(f"--live-points must be at least 10, got {args.live_points}")
    if args.nested_runs < 2:
        raise InvalidValueError(f"--nested-runs must be at least 2, got {args.nested_runs}")
    if args.max_ncalls is not None and args.max_ncalls < 1:
        raise InvalidValueError(f"--max-ncalls must be a positive number, got {args.max_ncalls}")
    if args.networks is not None and args.networks < 1:
        raise InvalidValueError(f"--networks must be at least 1, got {args.networks}")
    for flag, given in (("--networks", args.networks), ("--network-layers", args.network_layers)):
        if given is not None and not (args.nested or args.variants):
            raise InvalidValueError(
                f"{flag} sets the nautilus posterior's networks; add --nested --sampler nautilus"
            )
    if args.tempering_ess is not None and not (args.nested or args.variants):
        raise InvalidValueError(
            "--tempering-ess sets tempered SMC's steps; add --nested --sampler smc"
        )
    given = [
        flag
        for flag, value in (
            ("--refit-replicates", args.refit_replicates),
            ("--bound-replicates", args.bound_replicates),
        )
        if value is not None
    ]
    if given and not args.check_criteria:
        raise InvalidValueError(f"{given[0]} sets a criteria check; add --check-criteria")
    if args.check_criteria and args.check_sectors:
        raise InvalidValueError("--check-criteria and --check-sectors are two checks; run one")
    if args.check_sectors:
        return _check_sectors(args)
    if args.check_criteria:
        return _check_criteria(args)
    variants = None
    if args.variants:
        from nea_sd.calibrate.structures import load_variants

        variants = load_variants(args.variants)
        if args.only:
            names = [v.name for v in variants]
            unknown = [n for n in args.only if n not in names]
            if unknown:
                raise InvalidValueError(
                    f"--only: no variant {unknown[0]!r} in {args.variants} (it has "
                    + ", ".join(names)
                    + ")"
                )
            variants = [v for v in variants if v.name in args.only]
    elif args.only:
        raise InvalidValueError("--only selects variants of --variants FILE; give that too")
    output = output_path(args.spec, args.output, replace=args.replace)
    t0 = time.perf_counter()
    setup = prepare(args.spec, args.data_dir, backend=args.backend)
    # once the spec is known good (a bad spec leaves no results folder behind), before the fit
    check_output_file(output, (".toml",))
    if args.profile == "model" and not args.no_profile and not setup.spec.parameters:
        raise InvalidValueError(
            f"--profile model: {args.spec} fits no model values, only link constants; use "
            "--profile all or --no-profile"
        )
    if args.nested or args.variants:
        from nea_sd.calibrate.nested import check_sampler

        check_sampler(
            setup.spec,
            args.sampler,
            args.step_sampler,
            args.max_ncalls,
            networks=args.networks,
            layers=args.network_layers,
            tempering_ess=args.tempering_ess,
        )
    initial = [start_point(setup, path) for path in args.start_from] or None
    print(setup.spec, file=sys.stderr)
    for note in _data_gaps(setup.spec):
        print(note, file=sys.stderr)
    print(_numerics_note(), file=sys.stderr)
    result = _stage(
        "fit",
        fit,
        setup,
        starts=args.starts,
        seed=args.seed,
        method=args.method,
        max_nfev=args.max_nfev,
        initial=initial,
        links=args.links or "free",
    )
    if args.error_model == "estimated":
        setup, result, _ = _stage("error model", _honest, setup, result, args.max_nfev)
    profiles = None
    refits = 0
    names = [p.name for p in setup.spec.parameters] if args.profile == "model" else None

    def profiled(result):  # the same profiles after every refit
        return _stage(
            "profiles",
            profile,
            setup,
            result,
            names=names,
            points=args.profile_points,
            max_nfev=args.max_nfev,
        )

    if not args.no_profile:
        profiles = profiled(result)
        for _ in range(2):  # a profile point beat the fit: polish from it, profile again
            if not profiles.improved:
                break
            print("a profile point beat the fit: refining from it", file=sys.stderr)
            refits += 1
            result = _stage(
                "refine", refine, setup, result, profiles.best_point, max_nfev=args.max_nfev
            )
            profiles = profiled(result)
    print(result.report())
    if profiles is not None:
        print(profiles)
    threshold = None if profiles is None else profiles.threshold
    basins = _stage("basins", fit_basins, setup, result, threshold)
    print(basins)
    posterior = None
    if args.bayes:
        from nea_sd.calibrate.bayes import sample

        posterior = _stage(
            "posterior",
            sample,
            setup,
            walkers=args.walkers,
            steps=args.steps,
            seed=args.seed,
            start=np.array(result.estimates),
        )
        print(posterior)
    nested = evidence = None
    options = {"runs": args.nested_runs, "live_points": args.live_points, "seed": args.seed}
    if args.max_ncalls is not None:  # only when given: evidence checkpoints keep their keys
        options["max_ncalls"] = args.max_ncalls
    if args.step_sampler != "auto":
        options["step_sampler"] = args.step_sampler
    if args.networks is not None:  # only when given, as max_ncalls
        options["networks"] = args.networks
    if args.network_layers is not None:
        options["layers"] = args.network_layers
    if args.tempering_ess is not None:  # only when given: evidence checkpoints keep their keys
        options["tempering_ess"] = args.tempering_ess
    if args.sampler != "ultranest":
        options["sampler"] = args.sampler
    if args.links == "free":  # the samplers' default is closed-form
        options["links"] = args.links
    if args.nested:
        from nea_sd.calibrate.nested import nested_sample

        nested = _stage("nested sampling", nested_sample, setup, **options)
        print(nested)
    if variants:
        from nea_sd.calibrate.structures import evidence_table
        from nea_sd.model import cache_dir

        if args.sampler == "smc":
            from nea_sd.calibrate.smc import EVIDENCE_NOTE

            print(EVIDENCE_NOTE, file=sys.stderr)

        def done(variant, result, reused):
            how = "read from its checkpoint" if reused else f"sampled in {result.elapsed:.1f} s"
            print(
                f"evidence: {variant.name}: log Z = {result.log_z:.3f} ± {result.log_z_err:.3f} "
                f"({how})",
                file=sys.stderr,
            )

        evidence = _stage(
            "evidence",
            evidence_table,
            setup,
            variants,
            checkpoint=cache_dir() / "evidence",
            on_variant=done,
            **options,
        )
        print(evidence)
    command = _command(args)
    path = save_result(
        output,
        setup.spec,
        result,
        profiles,
        posterior,
        command=command,
        refits=refits,
        nested=nested,
        evidence=evidence,
        basins=basins,
    )
    print(f"results written to {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _numerics_note() -> str:
    """One line on the floating-point environment the fit runs in, and how to replay it."""
    from nea_sd.provenance import numerics

    record = numerics()
    kernels = sorted({b["kernel"] for b in record["blas"].values()}) or ["none found"]
    return (
        f"numerics: numpy SIMD {record['numpy_simd']}, BLAS kernel {', '.join(kernels)}; "
        "optimiser paths depend on them, so another machine replays this fit with: "
        f"{record['replay'] or '(nothing to set)'} (kept in the results' provenance.numerics)"
    )
