"""Paired strategy differences on the dyad model (common samples for both scenarios), and the
local-process evaluator agreeing with the in-process one."""

from __future__ import annotations

import numpy as np
import pytest

from nea_sd.sensitivity import (
    ProcessEvaluator,
    build_problem,
    evaluate_chunk,
    run_sweep,
    spec_from_dict,
)

SPEC = {
    "sweep": {"year": 2040, "chunk_size": 64},
    "parameters": {"Spillover": {}, "Backfire strength": {}, "Trust building rate": {}},
    "outputs": {
        "trust_2040": {"variable": "security_trust"},
        "trust_over_time": {"kind": "trajectory", "variable": "security_trust", "every": 5},
    },
}


@pytest.fixture(scope="module")
def paired(dyad):
    return build_problem(dyad, spec_from_dict(SPEC), paired=["functional-first", "military-first"])


def test_paired_difference_on_common_samples(paired, dyad):
    result = run_sweep(paired, "morris", 8, seed=0).dataset
    both = result["Y_scenario"]
    assert list(both["scenario"].values) == ["functional-first", "military-first"]
    difference = both.sel(scenario="functional-first") - both.sel(scenario="military-first")
    np.testing.assert_array_equal(result["Y"].sel(output="trust_2040"), difference[:, 0])
    assert result.attrs["paired"] == "functional-first - military-first"
    assert result.attrs["runs"] == 8 * 4 * 2
    # each scenario's column equals a run of that scenario alone on the same sample rows
    alone = build_problem(dyad, spec_from_dict(SPEC), scenario="military-first")
    values = evaluate_chunk(alone, result["X"].values)
    np.testing.assert_array_equal(values[:, 0, 0], both.sel(scenario="military-first")[:, 0])
    assert result["indices_t"].sizes["time"] == len(np.arange(2000, 2051, 5))


@pytest.mark.slow  # two spawned workers import the stack: ~10 s
def test_process_workers_give_the_in_process_result(paired):
    local = run_sweep(paired, "sobol", 16, seed=4).dataset
    with_workers = run_sweep(paired, "sobol", 16, seed=4, evaluator=ProcessEvaluator(paired, 2))
    assert with_workers.computed == 2  # 16 * (2 * 3 + 2) rows in chunks of 64
    for name in ("indices", "conf", "Y", "Y_t", "Y_scenario"):
        np.testing.assert_array_equal(
            local[name].values, with_workers.dataset[name].values, err_msg=name
        )
