"""Parameter sets for comparing strategies on common draws (common random numbers).

Draws cover every parameter with a declared range except the strategy levers (any parameter a
scenario of the model sets) and the time controls; each strategy then applies its overrides to
the same draws, so differences between strategies are differences of strategy alone.
"""

from __future__ import annotations

import numpy as np

from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.errors import InvalidValueError
from nea_sd.model import Model
from nea_sd.model.params import split_element_key
from nea_sd.scenarios import load_scenarios

CONTROLS = {"initial time", "final time", "time step", "saveper"}


def _key(name: str) -> str:
    return " ".join(name.lower().split())


def _is_pattern(model: Model, name: str) -> bool:
    """Masks and patterns (arrays of 0 and 1: which dyads are salient, ...) are structure."""
    value = np.asarray(model.parameters[name].value, dtype=float)
    return value.ndim > 0 and bool(np.isin(value, (0.0, 1.0)).all())


def strategy_parameters(
    model: Model, scenarios: list[str | None], n_runs: int = 1, seed: int | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Batch-engine parameter sets per scenario (``None``: the model as written).

    With ``seed`` given, ``n_runs`` common draws within the declared ranges; without, one run.
    Masks and patterns (arrays of 0 and 1) are not drawn: they say which dyads exist.
    """
    if n_runs < 1:
        raise InvalidValueError(f"the number of runs must be at least 1, got {n_runs}")
    known = load_scenarios(model) if any(scenarios) else {}
    levers = set()
    if seed is not None:
        try:
            every = load_scenarios(model)
        except Exception:  # noqa: BLE001 - a model without scenarios has no levers
            every = {}
        for sc in every.values():
            levers |= {_key(split_element_key(k)[0]) for k in sc.overrides}
    draws: dict[str, np.ndarray] = {}
    if seed is not None:
        sampled = sample_within_ranges(model.parameters, n_runs, seed)
        draws = {
            k: v
            for k, v in sampled.items()
            if _key(k) not in levers | CONTROLS and not _is_pattern(model, k)
        }
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in scenarios:
        params = dict(draws)
        if name:
            if name not in known:
                from nea_sd.errors import unknown_name

                raise unknown_name("scenario", name, known)
            resolved = model.parameters.resolve(known[name].overrides)
            for key, value in resolved.items():
                params[key] = value  # type: ignore[assignment]
        out[name or "model"] = params
    return out
