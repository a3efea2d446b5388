"""Posterior and marginal likelihood by nested sampling (UltraNest or nautilus) or tempered
SMC (SMCPy, :mod:`nea_sd.calibrate.smc`), populations on the engine.

Why UltraNest: it takes a likelihood vectorised over many parameter sets (``vectorized=True``),
so each of its proposals is one batch-engine call; it estimates log Z with its Monte Carlo
error; it is a maintained, numpy-2-compatible library with no compiled dependency beyond its
wheels (dynesty batches only through a pool). Why nautilus beside it: in the regional model's
16 dimensions UltraNest's region and slice samplers need about a million model runs per run;
nautilus (also vectorised, pure Python on scikit-learn, which the EMA Workbench already brings)
bounds the likelihood with neural-network emulators and needs about a tenth of that. Its cost
is its own work (training the networks) and no per-run log Z error; the two agree on the
regional posterior (README). Tempered SMC (``sampler="smc"``) needs a third of UltraNest's
runs there at little cost of its own.
Nested sampling explores from the prior inward, so a rugged likelihood with separated optima
does not trap it the way a walker ensemble started at one optimum is trapped.

Convergence: ``runs`` independent nested-sampling runs (different seeds) are the chains. Each
run's weighted posterior is resampled to its Kish effective sample size and shuffled; ArviZ's
rank-normalised split R-hat and bulk/tail ESS are computed across runs. The runs' log Z
agree within their error if the sampler explored the same posterior mass; the pooled log Z
is their mean, with the larger of the between-run and the runs' own Monte Carlo error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nea_sd.calibrate._report import html_table, text_table
from nea_sd.calibrate.marginal import Target, check_links, target
from nea_sd.calibrate.problem import Setup
from nea_sd.calibrate.spec import CalibrationSpec
from nea_sd.errors import InvalidValueError, require

FLOOR = -1e100  # log L given to a run that cannot explain the data (UltraNest wants finite)
RHAT_MAX = 1.01
ESS_MIN = 400
# proposals drawn per population (UltraNest adapts between these): large batches keep the
# batch engine busy; points above the likelihood threshold are kept for later iterations
NDRAW_MIN = 512
NDRAW_MAX = 16384
SLICE_ABOVE = 8  # parameters above which "auto" moves walkers by slice sampling
NAUTILUS_PROCESSES = 2  # nautilus's own work, beside the engine (part of what a seed fixes)


def _ultranest():
    ultranest = require("ultranest", "ultranest", "nested sampling")
    logging.getLogger("ultranest").setLevel(logging.WARNING)
    return ultranest


def diagnostics(chains: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ArviZ rank-normalised R-hat, bulk ESS and tail ESS per parameter of
    ``chains`` (chain, draw, k)."""
    import warnings

    az = require("arviz", "arviz", "convergence diagnostics")

    rhat, bulk, tail = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(chains.shape[2]):
            a = chains[:, :, j]
            rhat.append(float(az.rhat(a)))
            bulk.append(float(az.ess(a, method="bulk")))
            tail.append(float(az.ess(a, method="tail")))
    return np.array(rhat), np.array(bulk), np.array(tail)


@dataclass(frozen=True, eq=False)
class NestedResult:
    """Posterior draws, log evidence and diagnostics of ``runs`` nested-sampling runs.

    Fields:
        spec, names: spec file name and free parameters (spec order).
        chains: (runs, draws, k) equal-weight draws, one row of draws per run (shuffled).
        log_z, log_z_err: pooled log marginal likelihood (fit period) and its Monte Carlo
            error; ``run_log_z``/``run_log_z_err`` per run (UltraNest's own errors).
        rhat, ess_bulk, ess_tail: ArviZ diagnostics per parameter across runs.
        ncall: likelihood evaluations (model runs); ``batches``: engine calls.
        elapsed: wall seconds of the sampling (diagnostics not included: ArviZ's first
            import alone takes seconds); ``simulation_seconds``: inside the batch engine.
        live_points, seed: settings; ``max_ncalls``: the cap on model runs per run (None:
            none); ``capped_runs``: runs stopped by that cap before UltraNest's own termination
            (their posterior is the explored part of the prior, not a finished run);
            ``run_max_log_l``: the best log-likelihood each run reached (with ``integrated``
            constants, of the likelihood they are integrated out of).
        sampler: ``"ultranest"`` or ``"nautilus"`` (whose ``run_log_z_err`` is importance
            sampling's error alone: the shells' volume error is only in the between-run spread)
            or ``"smc"``.
        integrated: link constants integrated out in closed form (their draws are exact
            conditional draws given each draw of the sampled parameters).
        tempering_ess: SMC's effective share kept per tempering step, when set (None: the
            sampler's default, or not SMC).
    """

    spec: str
    names: tuple[str, ...]
    chains: np.ndarray
    log_z: float
    log_z_err: float
    run_log_z: tuple[float, ...]
    run_log_z_err: tuple[float, ...]
    rhat: tuple[float, ...]
    ess_bulk: tuple[float, ...]
    ess_tail: tuple[float, ...]
    ncall: int
    batches: int
    elapsed: float
    simulation_seconds: float
    live_points: int
    seed: int
    label: str = field(default="")
    max_ncalls: int | None = None
    capped_runs: int = 0
    run_max_log_l: tuple[float, ...] = ()
    sampler: str = "ultranest"
    integrated: tuple[str, ...] = ()
    tempering_ess: float | None = None

    @property
    def samples(self) -> np.ndarray:
        """All runs' draws pooled, (draws, k)."""
        return self.chains.reshape(-1, self.chains.shape[2])

    @property
    def overhead(self) -> float:
        """Share of the wall time spent outside the batch engine (the sampler's own cost)."""
        return float(1.0 - self.simulation_seconds / self.elapsed) if self.elapsed > 0 else 0.0

    @property
    def converged(self) -> bool:
        """R-hat < 1.01 and bulk ESS ≥ 400 for every parameter, and no run stopped at the
        model-run cap (an unfinished run's draws are no posterior sample, whatever R-hat says)."""
        return bool(
            self.capped_runs == 0
            and np.all(np.asarray(self.rhat) < RHAT_MAX)
            and np.all(np.asarray(self.ess_bulk) >= 400)
        )

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        j = self.names.index(name)
        a = (1 - level) / 2
        lo, hi = np.quantile(self.samples[:, j], [a, 1 - a])
        return float(lo), float(hi)

    def _rows(self) -> list[list[object]]:
        s = self.samples
        q = np.quantile(s, [0.025, 0.5, 0.975], axis=0)
        return [
            [
                n,
                float(s[:, j].mean()),
                float(s[:, j].std(ddof=1)),
                q[0, j],
                q[1, j],
                q[2, j],
                self.rhat[j],
                self.ess_bulk[j],
                self.ess_tail[j],
            ]
            for j, n in enumerate(self.names)
        ]

    HEADER = ("parameter", "mean", "sd", "2.5%", "median", "97.5%", "R-hat", "ESS bulk", "tail")

    def __str__(self) -> str:
        runs = ", ".join(
            f"{z:.2f}±{e:.2f}" for z, e in zip(self.run_log_z, self.run_log_z_err, strict=True)
        )
        return (
            f"[[{_KIND.get(self.sampler, 'Nested sampling')}, {self.sampler}]] {self.spec}"
            f"{' ' + self.label if self.label else ''}: "
            f"log Z = {self.log_z:.3f} ± {self.log_z_err:.3f} (runs: {runs}); "
            f"{len(self.run_log_z)} runs x {self.live_points} live points, {self.ncall} "
            f"model runs in {self.batches} batches, {self.elapsed:.1f} s "
            f"(sampler overhead {100 * self.overhead:.0f}%), seed {self.seed}; "
            f"{self._cap_note()}"
            f"{'converged' if self.converged else 'NOT converged'} (R-hat < 1.01, bulk ESS "
            f">= 400)\n" + text_table(self.HEADER, self._rows())
        )

    def _cap_note(self) -> str:
        if not self.capped_runs:
            return ""
        best = ", ".join(f"{v:.1f}" for v in self.run_max_log_l)
        return (
            f"{self.capped_runs} of {len(self.run_log_z)} runs stopped at the cap of "
            f"{self.max_ncalls} model runs, unfinished (best log L reached: {best}); "
        )

    def _repr_html_(self) -> str:
        cap = f"log Z = {self.log_z:.3f} ± {self.log_z_err:.3f}; " + (
            "converged" if self.converged else "NOT converged"
        )
        return html_table(self.HEADER, self._rows(), cap)


class _Timed:
    """The likelihood the sampler calls: one batch-engine call per population, timed.

    ``target`` is what the sampler moves in (:func:`nea_sd.calibrate.marginal.target`: the
    spec's parameters less the link constants integrated out in closed form)."""

    def __init__(self, setup: Setup, target: Target, on_batch: Callable[[int], None] | None):
        self.setup = setup
        self.target = target
        self.on_batch = on_batch
        self.seconds = 0.0
        self.calls = 0
        self.runs = 0

    def simulate(self, X: np.ndarray):
        """Simulate the target's rows ``X`` (timed and counted)."""
        X = np.atleast_2d(X)
        t0 = time.perf_counter()
        outputs = self.setup.simulator.run(self.target.full(X))
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.runs += X.shape[0]
        return outputs

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        outputs = self.simulate(X)
        if self.on_batch is not None:
            self.on_batch(X.shape[0])
        ll = self.target.log_likelihood(outputs, X)
        return np.where(np.isfinite(ll), ll, FLOOR)


@contextlib.contextmanager
def _global_seed(seed: int):
    """UltraNest draws from numpy's global generator: seed it, and restore it after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _resample(points: np.ndarray, weights: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` equal-weight draws from a weighted sample (systematic resampling), shuffled."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    positions = (rng.random() + np.arange(n)) / n
    idx = np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)
    return points[rng.permutation(idx)]


SAMPLERS = ("ultranest", "nautilus", "smc")
PACKAGES = {"ultranest": "ultranest", "nautilus": "nautilus-sampler", "smc": "smcpy"}
_KIND = {"smc": "Tempered SMC"}  # the others: "Nested sampling"


@dataclass(frozen=True)
class _Settings:
    """What one run of either sampler is asked for (see :func:`nested_sample`)."""

    live_points: int
    min_ess: int
    frac_remain: float
    max_ncalls: int | None
    max_improvement_loops: int
    step_sampler: str
    networks: int = 4  # nautilus: neural networks per bound (its own default)
    layers: tuple[int, ...] = ()  # nautilus: its networks' hidden layers (empty: its own)
    tempering_ess: float | None = None  # SMC: effective share kept per step (None: its own)


@dataclass(frozen=True)
class _Run:
    """One finished run: its weighted posterior sample and evidence."""

    points: np.ndarray
    weights: np.ndarray
    log_z: float
    log_z_err: float  # the run's own Monte Carlo error
    max_log_l: float
    capped: bool


def _ultranest_run(setup: Setup, loglike: _Timed, settings: _Settings, seed: int) -> _Run:
    ultranest = _ultranest()
    goal = loglike.target
    with _global_seed(seed):
        sampler = ultranest.ReactiveNestedSampler(
            list(goal.names),
            loglike,
            goal.prior_ppf,
            vectorized=True,
            ndraw_min=NDRAW_MIN,
            ndraw_max=NDRAW_MAX,
        )
        sampler.logger.setLevel(logging.WARNING)  # progress goes to on_batch, not the log
        k = len(goal.names)
        step = settings.step_sampler
        if step == "slice" or (step == "auto" and k > SLICE_ABOVE):
            from ultranest import popstepsampler as pss

            sampler.stepsampler = pss.PopulationSliceSampler(
                popsize=settings.live_points,
                nsteps=2 * k,
                generate_direction=pss.generate_region_oriented_direction,
            )
        res = sampler.run(
            min_num_live_points=settings.live_points,
            min_ess=settings.min_ess,
            frac_remain=settings.frac_remain,
            max_ncalls=settings.max_ncalls,
            max_num_improvement_loops=settings.max_improvement_loops,
            show_status=False,
            viz_callback=False,
        )
    cap = settings.max_ncalls
    return _Run(
        points=np.asarray(res["weighted_samples"]["points"]),
        weights=np.asarray(res["weighted_samples"]["weights"], dtype=float),
        log_z=float(res["logz"]),
        log_z_err=float(res["logzerr"]),
        max_log_l=float(res["maximum_likelihood"]["logl"]),
        capped=cap is not None and int(getattr(sampler, "ncall", 0)) >= cap,
    )


def _nautilus():
    return require("nautilus", "nautilus-sampler", "the nautilus sampler")


@contextlib.contextmanager
def _sampler_pool():
    """Processes for nautilus's own work (training its networks, drawing from its bounds): the
    engine idles meanwhile, so a second core would too. Always NAUTILUS_PROCESSES of them,
    whatever the machine: nautilus splits its draws by the pool's size, so the size is part of
    what a seed reproduces. Spawned, not forked: the parent runs the engine's threads."""
    import multiprocessing

    pool = multiprocessing.get_context("spawn").Pool(NAUTILUS_PROCESSES)
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def _nautilus_run(setup: Setup, loglike: _Timed, settings: _Settings, seed: int) -> _Run:
    """Nautilus (Lange 2023): importance nested sampling whose bounds are neural-network
    emulators of the likelihood; far fewer model runs than region or slice sampling in the
    regional model's 16 dimensions. Points of the exploration phase are discarded (the
    unbiased posterior and evidence). It reports no Monte Carlo error of one run's log Z: the
    run's error here is importance sampling's alone."""
    nautilus = _nautilus()
    goal = loglike.target
    cap = np.inf if settings.max_ncalls is None else settings.max_ncalls
    shape = {"hidden_layer_sizes": settings.layers} if settings.layers else {}
    with _sampler_pool() as pool:
        sampler = nautilus.Sampler(
            goal.prior_ppf,
            loglike,
            n_dim=len(goal.names),
            n_live=settings.live_points,
            n_batch=NDRAW_MIN,
            n_networks=settings.networks,
            neural_network_kwargs=shape,
            vectorized=True,
            pass_dict=False,
            pool=(None, pool),
            seed=seed,
        )
        finished = sampler.run(
            f_live=settings.frac_remain,
            n_eff=settings.min_ess,
            n_like_max=cap,
            discard_exploration=True,
        )
    points, log_w, log_l = sampler.posterior()
    w = np.exp(log_w - log_w.max())
    kish = w.sum() ** 2 / np.sum(w**2)
    return _Run(
        points=np.asarray(points),
        weights=w,
        log_z=float(sampler.log_z),
        # importance sampling's error of the shells' mean likelihood (relative error of Z:
        # sqrt(1/ESS - 1/N)); the error of the shells' volumes is not in it, so the pooled
        # error also takes the spread between runs
        log_z_err=float(math.sqrt(max(1.0 / kish - 1.0 / len(w), 0.0))),
        max_log_l=float(np.max(log_l)),
        capped=not finished,
    )


def check_sampler(
    spec: CalibrationSpec,
    sampler: str,
    step_sampler: str = "auto",
    max_ncalls: int | None = None,
    *,
    dims: int | None = None,
    networks: int | None = None,
    layers: tuple[int, ...] | None = None,
    tempering_ess: float | None = None,
) -> None:
    """Raise a one-line error for a sampler this spec cannot use (checked before the fit);
    ``dims``: the sampled dimensions (default: every free parameter); ``networks``,
    ``layers``: nautilus's networks per bound and their hidden layers, when given;
    ``tempering_ess``: SMC's effective share kept per tempering step, when given."""
    if sampler not in SAMPLERS:
        raise InvalidValueError(
            f"sampler must be one of {', '.join(map(repr, SAMPLERS))}, got {sampler!r}"
        )
    if step_sampler not in ("auto", "region", "slice"):
        raise InvalidValueError(
            f"step_sampler must be 'auto', 'region' or 'slice', got {step_sampler!r}"
        )
    dims = len(spec.names) if dims is None else dims
    if sampler == "nautilus" and dims < 2:
        raise InvalidValueError(
            f"the nautilus sampler needs at least 2 free parameters, {spec.path.name} "
            f"has {dims}; use the ultranest sampler"
        )
    if sampler != "ultranest" and step_sampler != "auto":
        raise InvalidValueError(
            f"step_sampler {step_sampler!r} is UltraNest's; {sampler} draws its own way"
        )
    if networks is not None and sampler != "nautilus":
        raise InvalidValueError(
            f"networks is nautilus's (neural networks per bound); {sampler} has none: drop "
            "--networks or use --sampler nautilus"
        )
    if networks is not None and networks < 1:
        raise InvalidValueError(f"networks must be at least 1, got {networks!r}")
    if layers is not None and sampler != "nautilus":
        raise InvalidValueError(
            f"network layers are nautilus's (its networks' hidden layers); {sampler} has none: "
            "drop --network-layers or use --sampler nautilus"
        )
    if layers is not None and (not layers or min(layers) < 1):
        raise InvalidValueError(
            f"network layers must be one or more positive sizes (like 32,16), got {layers!r}"
        )
    if tempering_ess is not None and sampler != "smc":
        raise InvalidValueError(
            f"the tempering ESS is tempered SMC's (the share each tempering step keeps); "
            f"{sampler} has none: drop --tempering-ess or use --sampler smc"
        )
    if tempering_ess is not None and not 0.0 < tempering_ess < 1.0:
        raise InvalidValueError(
            f"tempering ESS must be a share strictly between 0 and 1 (like 0.95), got "
            f"{tempering_ess!r}"
        )
    if sampler == "smc" and max_ncalls is not None:
        raise InvalidValueError(
            "max_ncalls is a nested sampler's budget; an SMC run's model runs are particles x "
            "Metropolis steps x tempering steps: drop --max-ncalls or use another sampler"
        )


def _smc_run(setup: Setup, loglike: _Timed, settings: _Settings, seed: int) -> _Run:
    from nea_sd.calibrate.smc import smc_run

    return smc_run(setup, loglike, settings, seed)


_RUNNERS = {"ultranest": _ultranest_run, "nautilus": _nautilus_run, "smc": _smc_run}


def nested_sample(
    setup: Setup,
    *,
    sampler: str = "ultranest",
    runs: int = 4,
    live_points: int = 400,
    min_ess: int = ESS_MIN,
    frac_remain: float = 0.01,
    max_ncalls: int | None = None,
    max_improvement_loops: int = -1,
    step_sampler: str = "auto",
    networks: int | None = None,
    layers: tuple[int, ...] | None = None,
    tempering_ess: float | None = None,
    links: str = "closed-form",
    seed: int = 0,
    label: str = "",
    on_batch: Callable[[int], None] | None = None,
) -> NestedResult:
    """Posterior and log evidence of the spec (priors × likelihood on the fit period).

    ``runs`` independent runs (seeds ``seed``, ``seed + 1``, ...) of ``sampler`` with
    ``live_points`` live points each, until the posterior has ``min_ess`` effective draws
    and the remaining evidence is below ``frac_remain`` (``max_improvement_loops``: UltraNest's
    cap on extra passes to reach ``min_ess``; -1 none), or a run has made ``max_ncalls`` model
    runs (a budget for slow models: such a run is unfinished and the result not converged).
    Each population of proposals is one batch-engine call.

    ``sampler``: ``"ultranest"`` (nested sampling with its own log Z error per run) or
    ``"nautilus"`` (neural-network-bounded importance nested sampling: about a tenth of the
    model runs on the regional model, but its own work per run is larger; a run's error is
    importance sampling's, so the spread between runs matters more) or ``"smc"`` (adaptive
    tempered SMC with ``live_points`` particles, :mod:`nea_sd.calibrate.smc`: little work of
    its own; no ``max_ncalls``). ``step_sampler``
    (UltraNest): ``"region"`` draws new points from UltraNest's MLFriends region (efficient in
    few dimensions), ``"slice"`` moves a population of ``live_points`` walkers by vectorised
    slice sampling (2k steps; UltraNest's advice above ~10 parameters, where region rejection
    fails); ``"auto"``: slice when k > SLICE_ABOVE. ``networks`` (nautilus): neural networks
    per bound, default nautilus's 4; on the regional base 1 network converged too, in less
    sampling time (README, Calibration speed; one run, not a side-by-side ratio). ``layers``
    (nautilus): its networks' hidden layer sizes, default nautilus's (100, 50, 20); (32, 16)
    converged on the regional base to the same log Z in 13% less sampling time (README).
    ``tempering_ess`` (SMC): the effective share of the particles each tempering step keeps,
    default :data:`nea_sd.calibrate.smc.TARGET_ESS`; 0.95 makes finer steps, whose log Z comes
    closer to known evidence (within 0.07, against 0.17 low) and to nautilus's on the regional
    base, at about twice the model runs (README, "Which sampler's evidence").

    ``links``: ``"closed-form"`` integrates each link constant with a closed-form marginal
    out of the likelihood (:mod:`nea_sd.calibrate.marginal`: the same evidence and posterior
    in fewer dimensions; the constants' draws come from their exact conditionals), ``"free"``
    samples every free parameter.
    """
    check_links(links)
    goal = target(setup, integrate=links == "closed-form")
    check_sampler(
        setup.spec,
        sampler,
        step_sampler,
        max_ncalls,
        dims=len(goal.names),
        networks=networks,
        layers=layers,
        tempering_ess=tempering_ess,
    )
    if runs < 2:
        raise InvalidValueError(f"nested sampling needs at least 2 runs for R-hat, got {runs}")
    if live_points < 10:
        raise InvalidValueError(f"live_points must be at least 10, got {live_points}")
    settings = _Settings(
        live_points, min_ess, frac_remain, max_ncalls, max_improvement_loops, step_sampler
    )
    if networks is not None:
        settings = dataclasses.replace(settings, networks=networks)
    if layers is not None:
        settings = dataclasses.replace(settings, layers=tuple(layers))
    if tempering_ess is not None:
        settings = dataclasses.replace(settings, tempering_ess=float(tempering_ess))
    run_one = _RUNNERS[sampler]
    spec = setup.spec
    loglike = _Timed(setup, goal, on_batch)
    t0 = time.perf_counter()
    outcome = [run_one(setup, loglike, settings, seed + r) for r in range(runs)]
    rng = np.random.default_rng(seed)
    kish = [o.weights.sum() ** 2 / np.sum(o.weights**2) for o in outcome]
    n = max(int(min(kish)), 10)
    chains = np.stack([_resample(o.points, o.weights, n, rng) for o in outcome])
    if goal.parts:  # the integrated constants: one exact conditional draw per posterior draw
        flat = chains.reshape(-1, chains.shape[2])
        full = goal.draw(loglike.simulate(flat), flat, rng)
        chains = full.reshape(runs, n, -1)
    elapsed = time.perf_counter() - t0
    rhat, bulk, tail = diagnostics(chains)
    zs = np.array([o.log_z for o in outcome])
    errs = np.array([o.log_z_err for o in outcome])
    between = float(zs.std(ddof=1) / math.sqrt(runs))
    own = float(math.sqrt(np.mean(errs**2) / runs))
    return NestedResult(
        spec=spec.path.name,
        names=spec.names,
        chains=chains,
        log_z=float(zs.mean()),
        log_z_err=max(between, own),
        run_log_z=tuple(float(z) for z in zs),
        run_log_z_err=tuple(float(e) for e in errs),
        rhat=tuple(float(v) for v in rhat),
        ess_bulk=tuple(float(v) for v in bulk),
        ess_tail=tuple(float(v) for v in tail),
        ncall=loglike.runs,
        batches=loglike.calls,
        elapsed=elapsed,
        simulation_seconds=loglike.seconds,
        live_points=live_points,
        seed=seed,
        label=label,
        max_ncalls=max_ncalls,
        capped_runs=sum(o.capped for o in outcome),
        run_max_log_l=tuple(o.max_log_l for o in outcome),
        sampler=sampler,
        integrated=goal.integrated,
        tempering_ess=settings.tempering_ess,
    )
