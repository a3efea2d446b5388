# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Calibration review: do the models reproduce the record?
#
# This notebook reads the **committed** calibration results (`calibration/results/*.toml` and
# their posterior draws) — it does not refit. For each calibration it shows the data against
# the fitted model with a posterior predictive band, the residuals, Sterman's Theil
# decomposition on the fitting and the held-out years, the profile likelihoods (which
# parameters the data identify), posterior pairs, and a plain-language verdict per series.
# Regenerate the results with `nea-sd calibrate calibration/<spec>.toml --bayes`.
#
# Data are read in place from `$NEA_SD_DATA` (default `../shared/data` beside the checkout).

# %%
import importlib.util
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # running as a script: no display
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import nea_sd
from nea_sd.calibrate.acceptance import POLL_R_MIN, POLL_US_MAX
from nea_sd.calibrate.bayes import predictive
from nea_sd.calibrate.problem import prepare, whitened
from nea_sd.calibrate.results import read_draws
from nea_sd.calibrate.review import (
    error_model_table,
    evidence_frame,
    load_review,
    parameter_table,
    theil_table,
    verdicts,
    with_error_model,
)

CANDIDATES = (Path.cwd(), *Path.cwd().parents, Path(nea_sd.__file__).resolve().parents[1])
ROOT = next(p for p in CANDIDATES if (p / "calibration").is_dir())
RESULTS = ROOT / "calibration" / "results"
DATA = Path(os.environ.get("NEA_SD_DATA", ROOT.parent / "shared" / "data"))
FIGURES = Path(os.environ["FIGURES"]) if os.environ.get("FIGURES") else None  # to save PNGs
if FIGURES is not None:
    FIGURES.mkdir(parents=True, exist_ok=True)
N_BAND = int(os.environ.get("N_BAND", 150))


def show(fig) -> None:
    """Show a figure once (inline in Jupyter; nothing as a script), then close it."""
    if fig is None:
        return
    if "ipykernel" in sys.modules:
        from IPython.display import display

        display(fig)
    plt.close(fig)


pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 120)


def review(stem: str):
    """Load one result with its spec (re-read against the data) and posterior draws."""
    path = RESULTS / f"{stem}.toml"
    doc = load_review(path)
    setup = with_error_model(prepare(ROOT / "calibration" / doc["calibration"]["spec"], DATA), doc)
    draws = read_draws(path)
    names = list(setup.spec.names)
    if draws is not None:
        samples = draws[names].to_numpy()
    else:
        samples = np.array([[doc["parameters"][n]["estimate"] for n in names]])
    estimate = np.array([doc["parameters"][n]["estimate"] for n in names])
    return doc, setup, samples, estimate


def plot_fit(doc, setup, samples, estimate, title):
    """Data (dots), the ML fit (line) and the 90 % posterior predictive band per series."""
    bands = predictive(setup, samples, n=N_BAND, seed=0)
    X = estimate[None]
    out = setup.simulator.run(X)
    fit = setup.problem.predictions(out, X)
    hold = setup.problem.predictions(out, X, holdout=True)
    obs = setup.spec.observations
    cols = 3 if len(obs) > 4 else len(obs)
    rows = int(np.ceil(len(obs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False)
    for ax, o in zip(axes.flat, obs, strict=False):
        band = bands[o.name]
        years = band["year"].values
        ax.fill_between(
            years,
            band.sel(quantile=0.05),
            band.sel(quantile=0.95),
            alpha=0.3,
            label="90% predictive",
        )
        for part, style in ((fit, "-"), (hold, "--")):
            if o.name in part:
                y, pred, data, _ = part[o.name]
                ax.plot(
                    y, pred[0], style, color="C1", label="ML fit" if style == "-" else "held out"
                )
                ax.plot(y, data, "o", color="k", ms=3)
        ax.set_title(o.name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(obs) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_residuals(setup, estimate, title):
    """Whitened residuals (data − model in σ units) per series over time."""
    X = estimate[None]
    out = setup.simulator.run(X)
    fig, ax = plt.subplots(figsize=(8, 3))
    by_name = {o.name: o for o in setup.spec.observations}
    for name, (years, pred, data, flags) in setup.problem.predictions(out, X).items():
        r = whitened(by_name[name], pred[0], data, flags, years)
        ax.plot(years, r, "o-", ms=3, label=name)
    ax.axhline(0, color="k", lw=0.5)
    ax.axhspan(-2, 2, color="0.9")
    ax.set_ylabel("whitened residual")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    return fig


def plot_profiles(doc, title):
    """Δ(−2 log L) against each parameter, with the χ²₁ 95 % threshold."""
    profiles = doc.get("profiles", {})
    if not profiles:
        return None
    names = list(profiles)
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.4 * rows), squeeze=False)
    threshold = doc["calibration"].get("profile_threshold", 3.84)
    for ax, name in zip(axes.flat, names, strict=False):
        grid, delta = np.array(profiles[name]["grid"]), np.array(profiles[name]["delta"])
        ax.plot(grid, np.minimum(delta, 50), "o-", ms=3)
        ax.axhline(threshold, color="r", lw=0.8)
        ax.set_title(f"{name}\n{doc['parameters'][name]['identifiability']}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_pairs(doc, samples, names, title, max_params=6):
    """Posterior pairs of the model parameters (link constants left out)."""
    keep = [i for i, n in enumerate(names) if doc["parameters"][n]["kind"] == "model"]
    keep = keep[:max_params]
    k = len(keep)
    fig, axes = plt.subplots(k, k, figsize=(1.8 * k, 1.8 * k), squeeze=False)
    for a, i in enumerate(keep):
        for b, j in enumerate(keep):
            ax = axes[a, b]
            if a == b:
                ax.hist(samples[:, i], bins=25, color="C0")
            elif a > b:
                ax.plot(samples[:, j], samples[:, i], ".", ms=1, alpha=0.4)
            else:
                ax.axis("off")
            ax.tick_params(labelsize=5)
            if a == k - 1:
                ax.set_xlabel(names[j], fontsize=6)
            if b == 0 and a > 0:
                ax.set_ylabel(names[i], fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## 1. Richardson on pre-1914 Europe
#
# France+Russia (X) against Germany+Austria-Hungary (Y), COW military expenditure 1900–1910,
# 1911–1913 held out. Richardson's own table was not found (SOURCES.md §1): these are COW's
# figures, so his constants 0.73 / 194 are not expected.

# %%
doc_r, setup_r, samples_r, est_r = review("richardson_prewwi")
print(parameter_table(doc_r).to_string(index=False))

# %%
fig = plot_fit(doc_r, setup_r, samples_r, est_r, "Richardson 1900-1913: data, fit, 90% band")
if FIGURES is not None:
    fig.savefig(FIGURES / "calibration_richardson_fit.png", dpi=110)
show(fig)
show(plot_residuals(setup_r, est_r, "Richardson: whitened residuals (fit years)"))

# %%
print(theil_table(doc_r).round(3).to_string(index=False))

# %%
show(plot_profiles(doc_r, "Richardson: profile likelihoods"))

# %%
if len(samples_r) > 1:
    show(plot_pairs(doc_r, samples_r, list(setup_r.spec.names), "Richardson: posterior pairs"))

# %%
print(verdicts(doc_r).to_string(index=False))

# %% [markdown]
# ## 2. The regional model (nea.mdl)
#
# SIPRI spending of US, CN, RU, JP, KR (fit 2000–2018, held out 2019–2023), Genron polls via
# the logistic link, trade with China (2001–2019), and JNTO arrivals (fit 2019–2023, held
# out 2024–2025). Spillover σ and the great-power gate strength are not fitted: they are
# scenario axes (MODEL.md §6).

# %%
from nea_sd.calibrate.results import read_result  # noqa: E402
from nea_sd.model import file_sha256  # noqa: E402

# A result fitted to another version of the model is not reviewed against the current one (its
# parameters may not even exist any more): the section says so instead.
_fitted_to = read_result(RESULTS / "nea.toml")["calibration"].get("model_sha256")
CURRENT_N = _fitted_to == file_sha256(ROOT / "models" / "nea.mdl")
if CURRENT_N:
    doc_n, setup_n, samples_n, est_n = review("nea")
    print(parameter_table(doc_n).to_string(index=False))
else:
    doc_n = None
    print(
        "results/nea.toml was fitted to another version of models/nea.mdl (SHA-256 differs): "
        "not reviewed here; recalibrate with 'nea-sd calibrate calibration/nea.toml --replace'"
    )

# %%
if CURRENT_N:
    fig = plot_fit(doc_n, setup_n, samples_n, est_n, "nea.mdl: data, fit, 90% predictive band")
    if FIGURES is not None:
        fig.savefig(FIGURES / "calibration_nea_fit.png", dpi=110)
    show(fig)
    show(plot_residuals(setup_n, est_n, "nea.mdl: whitened residuals (fit years)"))

# %% [markdown]
# ### Theil table and held-out performance
#
# U^M (bias), U^S (unequal variation) and U^C (unequal covariation) sum to one per row.

# %%
if CURRENT_N:
    table = theil_table(doc_n)
    print(table.round(3).to_string(index=False))
    held = table[table["period"] == "holdout"].set_index("series")["MAPE %"]
    fitted = table[table["period"] == "fit"].set_index("series")["MAPE %"]
    print("\nMAPE, fit vs held out:")
    print(pd.DataFrame({"fit": fitted, "held out": held}).round(1).to_string())

# %%
if CURRENT_N:
    show(plot_profiles(doc_n, "nea.mdl: profile likelihoods"))

# %%
if CURRENT_N and len(samples_n) > 1:
    show(plot_pairs(doc_n, samples_n, list(setup_n.spec.names), "nea.mdl: posterior pairs"))

# %% [markdown]
# ### Verdict per series

# %%
if CURRENT_N:
    print(verdicts(doc_n).to_string(index=False))
# %% [markdown]
# ### Error model, nested-sampling posterior and structural evidence
#
# Shown when the result has them (`nea-sd calibrate SPEC --nested --variants FILE`): the
# estimated scale and AR(1) per series, log Z with its Monte Carlo error, and log evidence per
# structural variant with the verdict against the best.

# %%
for label, doc in (("Richardson", doc_r), ("nea.mdl", doc_n)):
    if doc is None:
        continue
    print(f"{label}: error model {doc['calibration'].get('error_model', 'spec sigma as given')}")
    if not error_model_table(doc).empty:
        print(error_model_table(doc).round(3).to_string(index=False))
    if "nested" in doc:
        z = doc["nested"]
        print(f"  log Z = {z['log_z']:.2f} ± {z['log_z_err']:.2f}, converged {z['converged']}")
    if not evidence_frame(doc).empty:
        print(evidence_frame(doc).round(3).to_string(index=False))

# %%
post = doc_n.get("posterior") if doc_n is not None else None
if post:
    print(
        f"\nPosterior: {post['walkers']} walkers x {post['steps']} steps, acceptance "
        f"{post['acceptance']:.2f}, {'converged' if post['converged'] else 'NOT converged'} "
        "(chain shorter than 50 autocorrelation times: treat the band as indicative)"
    )

# %% [markdown]
# ## 3. Sector by sector (partial-model fits)
#
# Each sector of the regional model fitted on its own, with the other sectors' variables read
# from the record (`[inputs]` in the spec; Oliva 2003): **arms** (SIPRI spending; the rivals'
# spending each actor perceives is SIPRI's), **trust** (Genron polls; the trade that trust reads
# is the record), **exchange** (trade and JNTO arrivals; the societal trust that scales them is
# read from the polls). A sector whose own fit fails has a structural error of its own, not one
# another sector passed on. Tables only: the sectors are not re-simulated here.

# %%
from nea_sd.calibrate.acceptance import acceptance_table, criteria  # noqa: E402
from nea_sd.calibrate.partial import held_values, sector_check, sector_table  # noqa: E402

SECTORS = [s for s in ("arms", "trust", "exchange") if (RESULTS / f"{s}.toml").is_file()]
sector_docs = {s: read_result(RESULTS / f"{s}.toml") for s in SECTORS}
for name, doc in sector_docs.items():
    cal = doc["calibration"]
    print(f"\n=== {name}: {', '.join(cal['partial_model']['inputs'])}")
    print(
        f"log L {cal['log_likelihood']:.1f} on {cal['n_points']} points, reduced chi2 "
        f"{cal['reduced_chi2']:.2f}, {cal['distinct_optima_within_threshold']} optima within "
        f"the threshold {cal.get('profile_threshold', float('nan')):.2f} of {cal['starts']} starts"
    )
    print(parameter_table(doc).to_string(index=False))
    print(theil_table(doc).round(3).to_string(index=False))

# %% [markdown]
# ### Verdict per series, sector by sector
#
# Bias (U^M) names a structural error of the sector itself; unequal variation (U^S) names
# swings the sector misses (events not in the model); a negative r means the series moves
# against the data, whatever its R².

# %%
for name, doc in sector_docs.items():
    print(f"\n=== {name}")
    print(verdicts(doc).to_string(index=False))

# %% [markdown]
# ### The arms sector's structure, put to the record
#
# Alternative arms structures (`calibration/arms-variants/`), each a mechanism rather than a
# curve: one fatigue rate for all actors (the joint fit's structure), budget norms per actor
# (own fatigue rates), reactions per actor (Japan's and Korea's own defence reactions), both,
# and both with a fitted fatigue exponent or free standing drivers. Same SIPRI series, inputs
# and periods, 20 starts each; AIC = 2k + 2(−log L), best first. A second table puts the
# adopted spec (`arms.toml`, with the DPRK and the MIDs) beside the variants fitted to its
# series: `operations` adds the US operations outside the region (Afghanistan and Iraq, the
# record's dates, plateau size fitted; `models/variants/nea-operations.mdl`).

# %%
from nea_sd.calibrate.review import structure_table  # noqa: E402

VARIANTS = RESULTS / "arms-variants"
variant_docs = {f.stem: read_result(f) for f in sorted(VARIANTS.glob("*.toml"))}
by_series: dict[tuple, dict] = {}  # only results on the same series compare
for stem, variant in variant_docs.items():
    by_series.setdefault(tuple(sorted(variant["series"])), {})[stem] = variant
if "arms" in sector_docs:
    adopted = tuple(sorted(sector_docs["arms"]["series"]))
    by_series[adopted] = {"arms (adopted)": sector_docs["arms"], **by_series.get(adopted, {})}
for group in by_series.values():
    if len(group) > 1:
        print(structure_table(group).round(2).to_string(index=False), end="\n\n")

# %% [markdown]
# ### Events the trust sector misses (`calibration/trust-variants/`)
#
# The polls swing more than the model's trust (their U^S, printed above, is high). The
# variants put the 2012 crises in as an event — the model's one historical flare-up, moved by
# `[constants]` to September 2012 on the China–Japan dyads, or on those and Japan–Korea — with
# its size and duration fitted; same polls, inputs and periods as `trust.toml`. The `-damage`
# variant runs the structural variant `models/variants/nea-flare-damage.mdl`, in which a
# flare-up also leaves reputational damage (a lower trust ceiling that fades over the memory
# time), its size fitted too.

# %%
TRUST_VARIANTS = RESULTS / "trust-variants"
trust_docs = {f.stem: read_result(f) for f in sorted(TRUST_VARIANTS.glob("*.toml"))}
if trust_docs and "trust" in sector_docs:
    trust_docs = {"trust (no event)": sector_docs["trust"], **trust_docs}
    print(structure_table(trust_docs).round(2).to_string(index=False))
    for name, variant in trust_docs.items():
        fits = {s[5:]: e["fit"] for s, e in variant["series"].items()}
        print(
            f"{name}: fit r / U^S "
            + ", ".join(f"{s} {e['r']:+.2f} / {e['us']:.2f}" for s, e in fits.items())
        )

# %% [markdown]
# ### The joint fit inside the sector intervals?
#
# Each parameter the regional (joint) fit shares with a sector: is the joint value inside the
# sector's profile interval? Outside means the coupled model wants a value the sector's own
# data reject — one sector compensating for another's structure. Parameters a sector fits but
# the joint fit holds fixed (marked "held": the model's value or a spec constant) are checked
# at the value the joint fit ran with.

# %%
if doc_n is not None and sector_docs:
    held_n = held_values(doc_n, sector_docs, setup_n.model.parameters)
    print(sector_table(sector_check(doc_n, sector_docs, held_n)))

# %% [markdown]
# ### Structural evidence
#
# Log evidence (nested sampling, with its Monte Carlo error) per structural variant of
# `models/structures.toml`, with the log Bayes factor against the best variant, the runs'
# R-hat and bulk ESS, and each variant's wall time and sampler overhead. The committed tables
# are the dyad on China–Japan SIPRI spending (`calibration/dyad_cnjp.toml` with
# `--variants calibration/structures-dyad.toml`) and the regional model on the whole record
# (`calibration/nea.toml` with `--variants calibration/structures-nea.toml`: the switches that
# change a fit-period prediction, under the base's priors and error model; the same table on
# the base until 7 December, `nea_flare_evidence_structures`, kept as its record); a sector result
# with variants shows too.
# A switch that changes no output over the fit period can only tie with the default: its row
# says the record cannot speak to it, not that the switch is right.

# %%
evidence_docs = dict(sector_docs)
for stem in ("dyad_cnjp", "nea_structures", "nea_flare_evidence_structures"):
    if (RESULTS / f"{stem}.toml").is_file():
        evidence_docs[stem] = read_result(RESULTS / f"{stem}.toml")
for name, doc in evidence_docs.items():
    if not evidence_frame(doc).empty:
        print(f"=== {name}: {doc['provenance'].get('command', '')}")
        print(evidence_frame(doc).round(3).to_string(index=False))

# %% [markdown]
# ### The regional posterior
#
# The base's posterior (`calibration/nea_base_posterior.toml`, the same problem as `nea.toml`
# with `base = false`, so it never replaces the joint optimum as `compare`'s base), and that of
# the previous base structure (`calibration/nea_posterior.toml`, the problem of `nea_elastic.toml`):
# log Z with its Monte Carlo error, wall time and the sampler's overhead share, whether a run
# stopped at its model-run cap (`--max-ncalls`: unfinished, so not a posterior whatever R-hat
# says), and per parameter the posterior interval with R-hat and bulk/tail ESS across runs;
# for each committed sampler (on the previous base: UltraNest; nautilus and tempered SMC).


# %%
def print_posterior(name: str) -> None:
    doc = read_result(RESULTS / name)
    z = doc["nested"]
    print(
        f"=== {name} ({z.get('sampler', 'ultranest')}): log Z = {z['log_z']:.2f} ± "
        f"{z['log_z_err']:.2f} (runs: "
        + ", ".join(f"{v:.2f}" for v in z["run_log_z"])
        + f"); {z['runs']} runs x {z['live_points']} live points (particles for smc), "
        f"{z['model_runs']} model runs "
        f"in {z['elapsed_seconds']:.0f} s, overhead {100 * z['overhead_fraction']:.0f}%; "
        f"{z.get('capped_runs', 0)} runs stopped at the cap of {z.get('max_ncalls', 'no')} "
        f"model runs; converged: {z['converged']}"
    )
    integrated = z.get("integrated_links", [])
    if integrated:  # the sampler moved in the rest; these came from their exact conditionals
        print(f"{len(integrated)} link constants integrated out in closed form")
    if z.get("run_max_log_likelihood"):
        print(
            "best log L reached per run: "
            + ", ".join(f"{v:.1f}" for v in z["run_max_log_likelihood"])
            + (
                " (with the link constants integrated out: below the optimum's by their prior "
                "volume)"
                if integrated
                else ""
            )
            + f"; the joint optimum: {doc['calibration']['log_likelihood']:.1f}"
        )
    cols = ["nested_q025", "nested_median", "nested_q975", "rhat", "ess_bulk", "ess_tail"]
    frame = pd.DataFrame(
        {n: {c: e.get(c) for c in ["estimate", *cols]} for n, e in doc["parameters"].items()}
    ).T
    print(frame.to_string(float_format=lambda v: f"{v:.4g}"))


# the same posterior by three samplers (UltraNest; nautilus, a tenth of the model runs;
# tempered SMC, little work of its own)
POSTERIORS = (
    "nea_base_posterior.toml",
    "nea_base_posterior_smc.toml",
    "nea_posterior.toml",
    "nea_posterior_nautilus.toml",
    "nea_posterior_smc.toml",
    "nea_flare_evidence_posterior.toml",
)
found = [n for n in POSTERIORS if (RESULTS / n).is_file()]
for name in found:
    print_posterior(name)
if not found:
    print("no regional posterior in calibration/results (nea-sd calibrate nea_posterior.toml)")

# %% [markdown]
# The base (its 2012 crises erode societal trust at their own rate, since 7 December) against
# the base before it (`nea_flare_evidence`: the crises read as evidence through the trust
# building rate times the loss-to-gain ratio; same parameters and data): the log Bayes factor
# from the two nautilus runs, with its Monte Carlo error (the runs' errors combined). The
# previous base's posterior was sampled on `nea.mdl` before the switch was added (its hash is
# that file's); at 0 the switch runs that model bit for bit (`tests/models/test_variants.py`).

# %%
pair = [RESULTS / n for n in ("nea_base_posterior.toml", "nea_flare_evidence_posterior.toml")]
if all(p.is_file() for p in pair):
    base_z, evidence_z = (read_result(p)["nested"] for p in pair)
    factor = base_z["log_z"] - evidence_z["log_z"]
    error = float(np.hypot(base_z["log_z_err"], evidence_z["log_z_err"]))
    print(f"log Bayes factor, the base over nea_flare_evidence: {factor:+.2f} ± {error:.2f}")

# %% [markdown]
# ### Joint candidates (structural tests of the whole model, `base = false`)
#
# Each carries a sector's verdict into the joint fit: `nea_norms` the arms sector's structure
# (norms and reactions per actor, the DPRK, the MIDs); `nea_gravity` that too, with trade no
# longer following societal trust (`[constants]`: the exchange sector puts that elasticity at
# 0); `nea_gravity_events` that and the 2012 crises as an event (the trust sector's variant);
# `nea_gravity_damage` that on the variant model whose flare-ups leave lasting damage;
# `nea_gravity_damage_trust` that with the trust sector's contact, interdependence and
# alliance-shock values fitted instead of held at the model's defaults;
# `nea_gravity_events_operations` and `nea_gravity_damage_operations` the two 2012-crisis
# candidates on variant models with the US operations outside the region (the wars in
# Afghanistan and Iraq: the arms sector's structural test); the base (`nea.toml`) is
# `nea_gravity_damage_operations` on `nea.mdl`, which now carries both terms, with (since
# 7 December) its 2012 crises eroding societal trust at their own rate; `nea_flare_evidence`
# the base before that, the crises read through the (slow) trust building rate times the
# loss-to-gain ratio; `nea_flare_rate` the test that led to the switch (the same structure as
# the base, on the variant file it was made on); `nea_capacity` (7 December, a candidate) the
# base with the drivers of spending growth scaled by economic capacity, the structural test of
# the fatigue rates at the model's lower limit.
# Same observations, so −log L and AIC compare; the acceptance rows below read them too.

# %%
JOINT = (
    "nea_norms",
    "nea_gravity",
    "nea_gravity_events",
    "nea_gravity_damage",
    "nea_gravity_damage_trust",
    "nea_gravity_events_operations",
    "nea_gravity_damage_operations",
    "nea_flare_evidence",
    "nea_flare_rate",
    "nea_capacity",
)
joint_names = [c for c in JOINT if (RESULTS / f"{c}.toml").is_file()]
candidate_docs = {c: read_result(RESULTS / f"{c}.toml") for c in joint_names}
if len(candidate_docs) > 1:
    print(structure_table(candidate_docs).round(2).to_string(index=False))


def polls_met(doc: dict) -> list[bool]:
    """Whether each poll of a result meets the criterion (fit r ≥ 0.5 and U^S ≤ 0.3)."""
    fits = [e["fit"] for s, e in doc["series"].items() if s.startswith("poll")]
    return [f["r"] >= POLL_R_MIN and f["us"] <= POLL_US_MAX for f in fits]


def _model_of(spec: Path) -> str:
    """The model file a spec names (its ``model =`` line), without loading the spec."""
    import tomllib

    return str(tomllib.loads(spec.read_text())["model"])


def print_polls(docs: dict) -> None:
    """Each result's fit-period poll correlations and U^S, one line per result."""
    for name, doc in docs.items():
        polls = {s: e["fit"] for s, e in doc["series"].items() if s.startswith("poll")}
        print(
            f"{name}: poll fit r "
            + ", ".join(f"{s[5:]} {e['r']:+.2f} (U^S {e['us']:.2f})" for s, e in polls.items())
        )


print_polls(candidate_docs)

# %% [markdown]
# ### The base beside its sector-held test
#
# The base (`nea.toml`) fits one value outside its sector's interval (the trust building rate,
# below the trust sector's); `nea_sector_held` holds it at the trust sector's own estimate
# instead, for both trust layers; `nea_trust_layers` lets the societal layer (the polls) move
# at its own speed (`Societal trust speed` multiplies its rate: the trust sector's rate is the
# product). Same observations as the base, so −log L and AIC compare. The previous base
# (`nea_elastic`, fewer series) is printed with its own polls.

# %%
held_docs = {
    name: read_result(RESULTS / f"{name}.toml")
    for name in ("nea", "nea_sector_held", "nea_trust_layers", "nea_elastic")
    if (RESULTS / f"{name}.toml").is_file()
}
paired = {k: v for k, v in held_docs.items() if k != "nea_elastic"}
if "nea_trust_layers" in held_docs:
    layers = held_docs["nea_trust_layers"]["estimates"]
    print(
        f"nea_trust_layers: security rate {layers['Trust building rate']:.3f}, societal rate "
        f"{layers['Trust building rate'] * layers['Societal trust speed']:.3f} (speed "
        f"{layers['Societal trust speed']:.2f})"
    )
if len(paired) >= 2:
    print(structure_table(paired).round(2).to_string(index=False))
print_polls(held_docs)

# %% [markdown]
# ### Optima and basins, recounted
#
# `results/recount/` holds the same fits rerun with the stricter count: a start that ran out
# of evaluations is no optimum, only optima re-optimised under the final error model count,
# and optima whose straight segment shows no barrier are one basin (a ridge, not two
# explanations). A count above the basins means starts that stopped apart on one ridge.

# %%
RECOUNT = RESULTS / "recount"
recount_docs = {f.stem: read_result(f) for f in sorted(RECOUNT.glob("*.toml"))}
for name, recount in recount_docs.items():
    cal = recount["calibration"]
    barriers = [g["barrier"] for g in recount.get("basins", {}).get("segments", [])]
    print(
        f"{name}: {cal['starts']} starts ({cal.get('unconverged_starts', 0)} not converged), "
        f"{cal['distinct_optima_within_threshold']} optima within the threshold in "
        f"{cal.get('basins_within_threshold')} basin(s); highest barrier "
        + (f"{max(barriers):.2f}" if barriers else "none")
        + f"; best -log L {-cal['log_likelihood']:.2f}"
    )

# %% [markdown]
# ### Acceptance criteria of the calibration issue
#
# Read from the committed results; a criterion a result cannot speak to is absent, not passed.

# %%
rows = []
previous = {"nea_elastic": held_docs.get("nea_elastic")}
for name, doc in {"nea": doc_n, **previous, **candidate_docs, **evidence_docs}.items():
    if doc is not None:
        rows += criteria(name, doc)
for name, recount in recount_docs.items():
    rows += [c for c in criteria(f"recount/{name}", recount) if "optima" in c.criterion]
for name in found:  # their fit (no profiles) is not the base: posterior rows only
    rows += [
        c
        for c in criteria(Path(name).stem, read_result(RESULTS / name))
        if c.criterion.startswith(("posterior", "nested"))
    ]
print(acceptance_table(rows))

# %% [markdown]
# What the base's misses mean, as committed beside it (and beside the previous base,
# `nea_flare_evidence`, and the capacity candidate): `nea-sd calibrate calibration/nea.toml
# --check-criteria --backend numba` puts the poll and bound criteria to the base's own error
# model (records drawn from the base, refitted; the bound hits moved inside their profile
# intervals) and writes `results/nea.criteria.toml`. The sections below compute the same
# checks here, step by step.

# %%
from nea_sd.calibrate.criteria_check import committed_verdicts  # noqa: E402

for stem in ("nea", "nea_flare_evidence", "nea_capacity"):
    for line in committed_verdicts(RESULTS / f"{stem}.toml") or ["no criteria check beside it"]:
        print(f"{stem}: verdict: {line}")

# %% [markdown]
# ### Could the fitted model itself meet the poll criterion?
#
# The poll criterion is a statistic of noisy data: four or five Japan–Korea poll years, ten
# China–Japan ones. A posterior predictive check (`nea_sd.calibrate.statistic_check`) draws
# new records from the base with the error model its fit estimated (σ times the scale, AR(1)
# over the years) and scores each against the base, as the record is scored: `P(meet)` is how
# often data from the base itself meet the threshold, `P(all meet)` all four at once; `p_r`
# (the share of replicates with an r at or below the record's) and `p_us` (U^S at or above)
# are small when a poll moves against the model beyond its error. The scales are estimated from
# the same residuals, so the check is repeated with the spec's σ, and on the base's posterior
# draws; the previous base (`nea_elastic`, trust fitted to trade against the polls) shows the
# check failing.

# %%
from nea_sd.calibrate import statistic_check  # noqa: E402

REPLICATES = 20_000  # each a new record; cheap (the model runs once per draw)
if CURRENT_N:
    polls = [o.name for o in setup_n.spec.observations if o.name.startswith("poll")]
    spec_sigma = prepare(ROOT / "calibration" / doc_n["calibration"]["spec"], DATA)
    checks = {
        "the base, its estimated error": statistic_check(
            setup_n, est_n, replicates=REPLICATES, series=polls
        )
    }
    checks["the base, the spec's sigma"] = statistic_check(
        spec_sigma, est_n, replicates=REPLICATES, series=polls
    )
    base_draws = read_draws(RESULTS / "nea_base_posterior.toml")
    if base_draws is not None:
        checks["the base's posterior draws, its estimated error"] = statistic_check(
            setup_n,
            base_draws[list(setup_n.spec.names)].to_numpy(),
            replicates=REPLICATES,
            series=polls,
        )
    if held_docs.get("nea_elastic") is not None:
        doc_e, setup_e, _, est_e = review("nea_elastic")
        spec_sigma_e = prepare(ROOT / "calibration" / doc_e["calibration"]["spec"], DATA)
        for label, setup in (("its estimated error", setup_e), ("the spec's sigma", spec_sigma_e)):
            checks[f"nea_elastic (the previous base), {label}"] = statistic_check(
                setup, est_e, replicates=REPLICATES, series=polls
            )
    for label, check in checks.items():
        expected = check.table()["P(meet)"].sum()
        print(f"{label}: expected number of polls meeting {expected:.2f} of {len(polls)}")
        print(check, end="\n\n")

# %% [markdown]
# Held out (2019–2023): every series with three or more held-out years, the base scored as
# the record is. Two p-values per series: about one in twenty below 0.05 is chance.

# %%
if CURRENT_N:
    held_check = statistic_check(setup_n, est_n, replicates=REPLICATES, holdout=True)
    print(held_check)
    held_table = held_check.table()
    small_p = int((held_table[["p_r", "p_us"]] < 0.05).to_numpy().sum())
    print(f"p-values below 0.05: {small_p} of {2 * len(held_table)}")

# %% [markdown]
# The same check on every joint structure tried (same observations): how many polls data from
# each structure's own fit would meet, and whether its polls move against it beyond its
# error. Results on the base model file only, unless `PPC_ALL` is set (the variant model files
# are then verified against PySD on their first run, minutes on an empty cache).

# %%
PPC_ALL = bool(os.environ.get("PPC_ALL"))
if CURRENT_N:
    stems = ["nea", *[s for s in held_docs if s != "nea"], *candidate_docs]
    rows = []
    for stem in dict.fromkeys(stems):
        doc_s = read_result(RESULTS / f"{stem}.toml")
        spec_s = ROOT / "calibration" / doc_s["calibration"]["spec"]
        if not PPC_ALL and Path(_model_of(spec_s)).name != "nea.mdl":
            continue
        raw_s = prepare(spec_s, DATA)
        if doc_s["calibration"].get("model_sha256") != file_sha256(raw_s.spec.model):
            print(f"{stem}: fitted to another version of its model file; not checked")
            continue
        x_s = np.array([doc_s["parameters"][n]["estimate"] for n in raw_s.spec.names])
        row = {"result": stem, "polls met": int(sum(polls_met(doc_s)))}
        for label, setup in (("estimated", with_error_model(raw_s, doc_s)), ("spec σ", raw_s)):
            check = statistic_check(setup, x_s, replicates=REPLICATES, series=polls)
            table = check.table()
            row[f"{label}: expected met"] = table["P(meet)"].sum()
            row[f"{label}: P(all meet)"] = check.joint()
            row[f"{label}: min p_r"] = table["p_r"].min()
            row[f"{label}: min p_us"] = table["p_us"].min()
        rows.append(row)
    print(pd.DataFrame(rows).round(3).to_string(index=False))

# %% [markdown]
# The record's r and U^S are those of a *fit*, which adapted to the record's noise; the
# replicates above are scored against the model that drew them. `refit_check` redraws the
# whole record around the base, refits each redrawn record from the base (all refits in one
# engine batch per step) and scores it against its own fit — the like-for-like rate. It costs
# a few minutes on the regional model, so it runs when `REFIT_REPLICATES` asks for it
# (the README's numbers: 200).

# %%
from nea_sd.calibrate import refit_check  # noqa: E402

REFIT_REPLICATES = int(os.environ.get("REFIT_REPLICATES", 0))
if CURRENT_N and REFIT_REPLICATES:
    fast = "numba" if importlib.util.find_spec("numba") else "numpy"  # 3x the runs per second
    spec_n = ROOT / "calibration" / doc_n["calibration"]["spec"]
    refit_setup = with_error_model(prepare(spec_n, DATA, backend=fast), doc_n)
    refitted = refit_check(refit_setup, est_n, replicates=REFIT_REPLICATES, series=polls)
    expected = refitted.table()["P(meet)"].sum()
    print(f"refitted: expected number of polls meeting {expected:.2f} of {len(polls)}")
    print(refitted)
elif CURRENT_N:
    print("refit check not run: set REFIT_REPLICATES (e.g. 200, a few minutes) to run it")

# %% [markdown]
# ### Is an estimate at a bound the data's push or the noise's?
#
# `bound_check` moves the base's four non-physical bound hits inside their ranges (the
# loss-to-gain ratio and the flare-up size to values inside their profile intervals, the US
# and Chinese fatigue rates to a rate the other actors' fits reach), redraws the record
# around that point with the base's error model and refits each redrawn record — from that
# point (which leans inside) and from the base (which leans to its bounds). How often, and
# how many together, end at a bound when none is there in truth. Minutes on the regional
# model, so it runs when `BOUND_REPLICATES` asks for it (the README's numbers: 100).

# %%
from nea_sd.calibrate import bound_check  # noqa: E402

BOUND_REPLICATES = int(os.environ.get("BOUND_REPLICATES", 0))
INSIDE = {
    "Loss to gain ratio": 3.0,
    "Flare up size": 3.5,
    "Fatigue rate[US]": 0.05,
    "Fatigue rate[CN]": 0.05,
}
if CURRENT_N and BOUND_REPLICATES:
    fast = "numba" if importlib.util.find_spec("numba") else "numpy"
    spec_n = ROOT / "calibration" / doc_n["calibration"]["spec"]
    bound_setup = with_error_model(prepare(spec_n, DATA, backend=fast), doc_n)
    names_n = list(bound_setup.spec.names)
    inside = est_n.copy()
    for name, value in INSIDE.items():
        inside[names_n.index(name)] = value
    for start in (None, est_n):
        print(
            bound_check(
                bound_setup, inside, list(INSIDE), start=start, replicates=BOUND_REPLICATES
            ),
            end="\n\n",
        )
elif CURRENT_N:
    print("bound check not run: set BOUND_REPLICATES (e.g. 100, several minutes) to run it")
