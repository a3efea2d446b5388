# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Does functional-first change which loops drive the system?
#
# Loops That Matter (Schoenberg, Davidsen & Eberlein 2020; flow scores as corrected in 2023)
# for *functional-first* against *military-first* on the dyad and the regional model.
# Relative loop scores are shares of the loops' cycle partition; a loop dominates where its
# share is at least one half.  The dyad has over two million loops, so, as for the regional
# model, the scored set is the named loops (`models/loops.toml`) plus the loops found by the
# strongest-path search on a pilot run.

# %%
import os
from pathlib import Path

import numpy as np

import nea_sd
from nea_sd.loops.analysis import Comparison, analyze
from nea_sd.loops.plot import plot_dominance
from nea_sd.loops.strategies import strategy_parameters
from nea_sd.model import load_model

# the repository root, whether the kernel starts there or in notebooks/
CANDIDATES = (Path.cwd(), *Path.cwd().parents, Path(nea_sd.__file__).resolve().parents[1])
ROOT = next(p for p in CANDIDATES if (p / "models" / "nea.mdl").exists())
os.chdir(ROOT)

STRATEGIES = ["functional-first", "military-first"]
# the named loops of both models (the dyad names them per side, e.g. "R1[A]")
TRUST = ["R1", "R2", "R1[A]", "R1[B]", "R2[A]", "R2[B]"]
SPIRALS = ["R3", "R4", "R5", "R6", "R6[A]", "R6[B]"]


def analyse(path, runs=1, seed=None, outputs=None):
    model = load_model(path)
    params = strategy_parameters(model, STRATEGIES, runs, seed)
    results, loopset = [], None
    for name in STRATEGIES:
        result = analyze(path, params[name], runs, scenario=name, loopset=loopset, outputs=outputs)
        loopset = result.loopset
        results.append(result)
    return results


# %% [markdown]
# ## Dyad: trajectories and dominance profiles

# %%
dyad = analyse(
    "models/dyad.mdl", outputs=["Security trust A", "Societal trust A", "Military expenditure A"]
)
for r in dyad:
    d = r.data.isel(run=0)
    print(
        f"{r.scenario:17s} Tsec A 2040 = {float(d['Security trust A'].sel(time=2040)):.3f}  "
        f"Tsoc A 2040 = {float(d['Societal trust A'].sel(time=2040)):.3f}  "
        f"ME A 2050 = {float(d['Military expenditure A'].sel(time=2050)):.1f}"
    )
comparison = Comparison(*dyad)
print(comparison.summary().round(3).to_string())

# %%
plot_dominance(dyad, run=0)


# %% [markdown]
# ## When do the trust loops overtake the spirals?
#
# The date from which the summed share of the trust loops (R1, R2) exceeds that of the
# spirals (R3, R4, R6) — or "never", which is where functional-first fails to change the
# loop structure within the horizon.


# %%
def overtakes(result, after=2026.0, hold=2.0):
    """Per run, the first date from which the trust loops' share exceeds the spirals' for at
    least ``hold`` years (NaN: never)."""
    named = abs(result.data["named"])
    trust = named.sel(name=[n for n in TRUST if n in result.names]).sum("name")
    spirals = named.sel(name=[n for n in SPIRALS if n in result.names]).sum("name")
    time = trust["time"].values
    ahead = ((trust > spirals) & (trust["time"] >= after)).values  # (run, time)
    width = max(1, int(round(hold / (time[1] - time[0]))))
    dates = np.full(ahead.shape[0], np.nan)
    for run, flags in enumerate(ahead):
        for k in range(len(time) - width + 1):
            if flags[k : k + width].all():
                dates[run] = time[k]
                break
    return dates


for r in dyad:
    print(r.scenario, "trust loops overtake spirals:", overtakes(r))

# %% [markdown]
# ## Dyad ensemble (common draws within the declared ranges)

# %%
ensemble = analyse("models/dyad.mdl", runs=20, seed=0)
for r in ensemble:
    dates = overtakes(r)
    share = np.isfinite(dates).mean()
    print(
        f"{r.scenario:17s} trust loops overtake spirals in {share:.0%} of runs; "
        f"median date {np.nanmedian(dates) if share else float('nan'):.1f}"
    )
print(Comparison(*ensemble).summary().round(3).to_string())

# %% [markdown]
# Where does it fail?  The draws in which the trust loops never overtake the spirals under
# functional-first, against those in which they do (medians of a few key parameters).

# %%
draws = strategy_parameters(load_model("models/dyad.mdl"), STRATEGIES, 20, 0)["functional-first"]
failed = ~np.isfinite(overtakes(ensemble[0]))
for key in ["Spillover", "Backfire strength", "Defence reaction A", "Contact effect"]:
    values = np.asarray(draws[key])
    print(
        f"{key:20s} failed runs: {np.median(values[failed]) if failed.any() else np.nan:.3f}  "
        f"others: {np.median(values[~failed]):.3f}"
    )

# %% [markdown]
# ## Regional model (one run per strategy, scored yearly)

# %%
regional = []
params = strategy_parameters(load_model("models/nea.mdl"), STRATEGIES)
loopset = None
for name in STRATEGIES:
    result = analyze("models/nea.mdl", params[name], 1, scenario=name, loopset=loopset, saveper=1)
    loopset = result.loopset
    regional.append(result)
print(Comparison(*regional).summary().round(3).to_string())
for r in regional:
    print(r.scenario, "trust loops overtake spirals:", overtakes(r))

# %%
plot_dominance(regional, run=0)

# %% [markdown]
# ## Does the order matter, and on which structure? (issue 10 report)
#
# Functional-first minus military-first in regional security trust over a (σ, β_bf) grid, for
# the shipped structure, each structural switch of `models/structures.toml` flipped to its
# pre-repair setting, and all flipped together. The README reports the full 5 × 5 grid
# (`switch_grid(model)`); here a 3 × 3 corner of it to keep the notebook quick.

# %%
from nea_sd.sequencing import markdown, switch_grid  # noqa: E402

grid = switch_grid(load_model("models/nea.mdl"), sigmas=(0.0, 0.2, 0.6), betas=(0.0, 1.0, 2.0))
print(markdown(grid, "Regional security trust"))
print(grid["Regional security trust"].sel(when="2040", structure="shipped").to_pandas().round(3))
