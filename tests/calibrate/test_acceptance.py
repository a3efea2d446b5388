"""Acceptance criteria read from a results document: each can fail, none is assumed."""

from __future__ import annotations

from nea_sd.calibrate.acceptance import acceptance_table, criteria


def _doc(r=0.8, us=0.1, sim=105.0, chi2=1.5, optima=2, starts=20, at_bound=False, rhat=1.005):
    return {
        "calibration": {
            "reduced_chi2": chi2,
            "distinct_optima_within_threshold": optima,
            "starts": starts,
        },
        "parameters": {
            "a": {
                "kind": "model",
                "at_bound": at_bound,
                "identifiability": "identified",
                "rhat": rhat,
                "ess_bulk": 500.0,
            },
            "poll.alpha": {"kind": "link", "at_bound": True},
        },
        "series": {
            "poll": {"series": "genron:pct_unfavorable:CN->JP", "fit": {"r": r, "us": us}},
            "milex CN": {
                "series": "sipri:milex_constant_2022_usd:CN",
                "fit": {"r": 0.9},
                "holdout": {"mean_sim": sim, "mean_act": 100.0, "um": 0.9},
            },
            "milex JP": {  # JP is not among the bias criteria
                "series": "sipri:milex_constant_2022_usd:JP",
                "holdout": {"mean_sim": 200.0, "mean_act": 100.0, "um": 0.9},
            },
        },
        "evidence": {f"v{i}": {"log_z": -10.0 - i, "log_z_err": 0.2} for i in range(4)},
    }


BOUND = "model parameters at a bound that is not physical"


def _verdicts(doc):
    return {c.criterion: c.met for c in criteria("x", doc)}


def test_a_good_result_meets_every_criterion():
    verdicts = _verdicts(_doc())
    assert len(verdicts) == 7 and all(verdicts.values())
    assert "milex JP: held-out bias" not in verdicts
    assert "met" in acceptance_table(criteria("x", _doc()))


def test_each_criterion_can_fail():
    # a strong negative correlation has a high R^2 but fails r >= 0.5
    assert not _verdicts(_doc(r=-0.8))["poll: fit r, U^S"]
    assert not _verdicts(_doc(us=0.4))["poll: fit r, U^S"]
    assert not _verdicts(_doc(sim=89.0))["milex CN: held-out bias"]
    assert not _verdicts(_doc(sim=111.0))["milex CN: held-out bias"]
    assert not _verdicts(_doc(chi2=2.5))["reduced chi2"]
    assert not _verdicts(_doc(optima=4))["distinct optima within threshold"]
    assert not _verdicts(_doc(starts=12))["distinct optima within threshold"]
    assert not _verdicts(_doc(at_bound=True))[BOUND]
    assert not _verdicts(_doc(rhat=1.02))["posterior R-hat, bulk ESS (worst)"]
    doc = _doc()
    doc["evidence"].pop("v0")
    assert not _verdicts(doc)["structural variants with log evidence"]


def test_absent_evidence_is_not_a_pass():
    doc = _doc()
    del doc["evidence"]
    doc["parameters"]["a"].pop("rhat")
    verdicts = _verdicts(doc)
    assert "structural variants with log evidence" not in verdicts
    assert "posterior R-hat, bulk ESS (worst)" not in verdicts


def test_a_capped_posterior_and_a_slow_sampler_fail():
    """R-hat and ESS that pass do not make a run stopped at its model-run cap a posterior;
    the sampler's overhead share is checked against the issue's 20%."""
    doc = _doc()
    doc["nested"] = {"runs": 2, "capped_runs": 0, "overhead_fraction": 0.12, "elapsed_seconds": 9}
    verdicts = _verdicts(doc)
    assert verdicts["posterior R-hat, bulk ESS (worst)"] and verdicts["nested-sampling overhead"]
    doc["nested"] |= {"capped_runs": 1, "overhead_fraction": 0.2}
    rows = {c.criterion: c for c in criteria("x", doc)}
    assert not rows["posterior R-hat, bulk ESS (worst)"].met
    assert "1 of 2 runs stopped at the cap" in rows["posterior R-hat, bulk ESS (worst)"].value
    assert not rows["nested-sampling overhead"].met
    assert rows["nested-sampling overhead"].value == "20% of 9 s"


def test_only_a_lower_bound_of_zero_is_physical():
    """A reaction at 0 (the mechanism absent) passes; a rate at the model's lower limit 0.01, a
    size at its upper limit, and a parameter at a bound whose side the document does not say
    fail, and the value names which is which."""

    def verdict(**entry):
        doc = _doc()
        doc["parameters"]["a"] = {"kind": "model", "at_bound": True, **entry}
        (row,) = [c for c in criteria("x", doc) if c.criterion == BOUND]
        return row

    at_zero = verdict(estimate=1e-7, bounds=[0.0, 5.0], identifiability="flat")
    assert at_zero.met and "physical bound 0: a" in at_zero.value
    pushed = verdict(
        estimate=0.0,
        bounds=[0.0, 2.0],
        identifiability="bound-active (lower bound 0; the data push below it)",
    )
    assert pushed.met
    assert not verdict(estimate=0.01, bounds=[0.01, 0.5]).met
    top = verdict(
        estimate=4.9999,
        bounds=[0.0, 5.0],
        identifiability="bound-active (upper bound 5; the data push above it)",
    )
    assert not top.met and top.value.startswith("a")
    assert not verdict(estimate=5.0, bounds=[0.0, 5.0], identifiability="flat").met
    assert not verdict().met  # no estimate or bounds: which bound is unknown
