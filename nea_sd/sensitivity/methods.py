"""Methods as SALib's paired verbs: ``sample`` then ``analyze``; nothing re-implemented here.

Each :class:`Method` knows which SALib sampler and analyser belong together, which indices the
analyser returns (and which of them have a confidence interval), and whether it accepts groups.
``seed`` is honoured exactly, 0 included: samplers get it as given; analysers get a seed
derived from it (:func:`analysis_seed`, never 0) because SALib's ``sobol`` and ``fast``
analysers test ``if seed:`` and would otherwise bootstrap unseeded for seed 0. Those
analysers also seed numpy's global generator, so its state is restored around every call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from nea_sd.errors import InvalidValueError, unknown_name


def analysis_seed(seed: int) -> int:
    """A non-zero seed for SALib's analysers, derived deterministically from ``seed``."""
    state = np.random.SeedSequence([int(seed), 0x5A11B]).generate_state(1, dtype=np.uint32)
    return int(state[0]) % (2**31 - 1) + 1


@contextmanager
def global_rng_kept() -> Iterator[None]:
    """Restore numpy's global random state after SALib code that calls ``np.random.seed``."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


@dataclass(frozen=True)
class Method:
    """A SALib sampler/analyser pair.

    ``indices`` maps each per-factor index to the name of its confidence half-width ("" if the
    analyser gives none); ``pairwise`` are the (factor x factor) indices (Sobol's S2);
    ``groups`` says whether SALib's ``groups`` are accepted; ``runs`` gives the number of
    model runs for ``N`` and ``D`` factors (for progress and planning).
    """

    name: str
    description: str
    indices: tuple[tuple[str, str], ...]
    groups: bool
    sample: Callable[[dict[str, Any], int, int, Mapping[str, Any]], np.ndarray]
    analyze: Callable[
        [dict[str, Any], np.ndarray, np.ndarray, int, Mapping[str, Any]], dict[str, Any]
    ]
    runs: Callable[[int, int, Mapping[str, Any]], int]
    pairwise: tuple[tuple[str, str], ...] = ()

    def pairwise_for(self, options: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        return self.pairwise if options.get("calc_second_order", True) else ()


def _sobol_sample(problem: dict, n: int, seed: int, options: Mapping[str, Any]) -> np.ndarray:
    from SALib.sample import sobol

    return sobol.sample(problem, n, calc_second_order=bool(options["calc_second_order"]), seed=seed)


def _sobol_analyze(problem, X, Y, seed, options):  # type: ignore[no-untyped-def]
    from SALib.analyze import sobol

    return sobol.analyze(
        problem,
        Y,
        calc_second_order=bool(options["calc_second_order"]),
        num_resamples=int(options["num_resamples"]),
        conf_level=float(options["conf_level"]),
        seed=seed,
    )


def _morris_sample(problem, n, seed, options):  # type: ignore[no-untyped-def]
    from SALib.sample import morris

    return morris.sample(problem, n, num_levels=int(options["num_levels"]), seed=seed)


def _morris_analyze(problem, X, Y, seed, options):  # type: ignore[no-untyped-def]
    from SALib.analyze import morris

    return morris.analyze(
        problem,
        X,
        Y,
        num_resamples=int(options["num_resamples"]),
        conf_level=float(options["conf_level"]),
        num_levels=int(options["num_levels"]),
        seed=seed,
    )


def _fast_sample(problem, n, seed, options):  # type: ignore[no-untyped-def]
    from SALib.sample import fast_sampler

    if n <= 4 * int(options["M"]) ** 2:
        raise InvalidValueError(
            f"FAST needs more than 4*M^2 = {4 * int(options['M']) ** 2} samples, got {n}"
        )
    return fast_sampler.sample(problem, n, M=int(options["M"]), seed=seed)


def _fast_analyze(problem, X, Y, seed, options):  # type: ignore[no-untyped-def]
    from SALib.analyze import fast

    return fast.analyze(
        problem,
        Y,
        M=int(options["M"]),
        num_resamples=int(options["num_resamples"]),
        conf_level=float(options["conf_level"]),
        seed=seed,
    )


def _latin_sample(problem, n, seed, options):  # type: ignore[no-untyped-def]
    from SALib.sample import latin

    return latin.sample(problem, n, seed=seed)


def _mc_sample(problem, n, seed, options):  # type: ignore[no-untyped-def]
    from SALib.util import scale_samples

    unit = np.random.default_rng(seed).random((n, problem["num_vars"]))
    return scale_samples(unit, problem)


def _rbd_fast_analyze(problem, X, Y, seed, options):  # type: ignore[no-untyped-def]
    from SALib.analyze import rbd_fast

    return rbd_fast.analyze(
        problem,
        X,
        Y,
        M=int(options.get("M_rbd", 10)),
        num_resamples=int(options["num_resamples"]),
        conf_level=float(options["conf_level"]),
        seed=seed,
    )


def _sweep_analyze(problem, X, Y, seed, options):  # type: ignore[no-untyped-def]
    """Any random sample: RBD-FAST's S1 (Plischke's ordering estimator needs no special design)
    and PAWN's median KS statistic (moment-independent, catches effects S1 misses)."""
    from SALib.analyze import pawn

    result = dict(_rbd_fast_analyze(problem, X, Y, seed, options))
    result["PAWN"] = pawn.analyze(problem, X, Y, seed=seed)["median"]
    return result


METHODS: Mapping[str, Method] = MappingProxyType(
    {
        "sobol": Method(
            "sobol",
            "Sobol' variance decomposition (Saltelli sampling): S1, ST and S2",
            (("S1", "S1_conf"), ("ST", "ST_conf")),
            True,
            _sobol_sample,
            _sobol_analyze,
            lambda n, d, o: n * (2 * d + 2 if o["calc_second_order"] else d + 2),
            pairwise=(("S2", "S2_conf"),),
        ),
        "morris": Method(
            "morris",
            "Morris elementary effects: mu*, sigma (screening)",
            (("mu", ""), ("mu_star", "mu_star_conf"), ("sigma", "")),
            True,
            _morris_sample,
            _morris_analyze,
            lambda n, d, o: n * (d + 1),
        ),
        "fast": Method(
            "fast",
            "extended FAST: S1 and ST",
            (("S1", "S1_conf"), ("ST", "ST_conf")),
            False,
            _fast_sample,
            _fast_analyze,
            lambda n, d, o: n * d,
        ),
        "rbd-fast": Method(
            "rbd-fast",
            "RBD-FAST on a Latin hypercube: S1",
            (("S1", "S1_conf"),),
            False,
            _latin_sample,
            _rbd_fast_analyze,
            lambda n, d, o: n,
        ),
        "lhs": Method(
            "lhs",
            "Latin-hypercube sweep, analysed with RBD-FAST's S1 and PAWN (median KS)",
            (("S1", "S1_conf"), ("PAWN", "")),
            False,
            _latin_sample,
            _sweep_analyze,
            lambda n, d, o: n,
        ),
        "mc": Method(
            "mc",
            "Monte-Carlo sweep, analysed with RBD-FAST's S1 and PAWN (median KS)",
            (("S1", "S1_conf"), ("PAWN", "")),
            False,
            _mc_sample,
            _sweep_analyze,
            lambda n, d, o: n,
        ),
    }
)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise unknown_name("method", name, METHODS)
    return METHODS[name]


def check_method(method: Method, grouped: bool, n: int) -> None:
    """Refuse combinations SALib would reject late or silently mishandle."""
    if grouped and not method.groups:
        raise InvalidValueError(
            f"method {method.name!r} cannot group parameters; remove 'group' from the spec "
            "or use sobol or morris"
        )
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise InvalidValueError(f"--samples must be an integer of at least 2, got {n!r}")
