"""Loop-score arithmetic, strongest-path search, parallel scoring, ensemble seeds."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from nea_sd.engine.batch.ltm import LoopScorer, loop_scores_from_links
from nea_sd.loops.analysis import analyze, relative_scores
from nea_sd.loops.enumerate import johnson, path_instances, rotate, strongest_paths


def test_log_space_loop_scores_equal_exact_products():
    rng = np.random.default_rng(3)
    links = rng.normal(size=(50, 12)) * rng.integers(0, 2, size=(50, 12))  # zeros too
    loops = [[0, 1], [2, 3, 4], [5], [6, 7, 8, 9, 10, 11], [1, 3, 5, 7]]
    exact = loop_scores_from_links(links, loops)
    np.testing.assert_allclose(LoopScorer(loops, 12)(links), exact, rtol=1e-12, atol=0)
    assert (exact == 0).any() and (exact < 0).any()


def test_relative_scores_normalise_within_partitions():
    scores = np.array([[2.0, -1.0, 1.0, 0.0]])
    rel = relative_scores(scores, (0, 0, 1, 2))
    np.testing.assert_allclose(rel, [[2 / 3, -1 / 3, 1.0, 0.0]])


def _ring() -> nx.DiGraph:
    g = nx.DiGraph()
    for u, v in [("S", "a"), ("a", "S"), ("S", "b"), ("b", "c"), ("c", "S"), ("T", "T2")]:
        g.add_edge(u, v, polarity="+")
    g.add_edge("T2", "T", polarity="-")
    for n in g:
        g.nodes[n]["stock"] = n in {"S", "T"}
    return g


def test_strongest_paths_find_the_strong_loops_and_skip_dead_links():
    g = _ring()
    weights = {e: 1.0 for e in g.edges}
    found = {lp.key() for lp in strongest_paths(g, weights)}
    assert found == {lp.key() for lp in johnson(g)}
    weights[("b", "c")] = 0.0  # a link that never moves its target closes no loop
    found = {lp.key() for lp in strongest_paths(g, weights)}
    assert rotate(("S", "b", "c")) not in found and rotate(("S", "a")) in found
    assert {lp.polarity for lp in johnson(g)} == {"R", "B"}


def test_path_instances_follow_a_variable_cycle_over_elements():
    g = nx.DiGraph()
    for i, j in [("1", "2"), ("2", "1"), ("2", "3"), ("3", "1")]:
        g.add_edge(f"x[{i}]", f"y[{j}]", polarity="+")
        g.add_edge(f"y[{j}]", f"x[{j}]", polarity="+")
    var = {n: n[0] for n in g}
    loops = path_instances(g, ["x", "y"], var, max_turns=3)
    lengths = sorted(lp.length for lp in loops)
    assert lengths == [4, 6]  # 1->2->1 and 1->2->3->1
    assert len(path_instances(g, ["x", "y"], var, max_turns=2)) == 1


def test_parallel_scoring_equals_sequential(tmp_path):
    from nea_sd.engine.batch.sampling import sample_within_ranges
    from nea_sd.model import load_model

    params = sample_within_ranges(load_model("models/richardson.mdl").parameters, 200, seed=5)
    params = {k: v for k, v in params.items() if "Initial" not in k}
    one = analyze("models/richardson.mdl", params, 200, workers=1)
    two = analyze("models/richardson.mdl", params, 200, workers=2)
    np.testing.assert_array_equal(one.data["score"].values, two.data["score"].values)
    assert one.data["score"].std("run").max() > 0  # draws differ


@pytest.mark.slow
def test_regional_named_loops_have_element_instances():
    result = analyze("models/nea.mdl", saveper=2)
    counts = result.table()["instances"]
    assert counts["R3"] >= 42  # every ordered rival pair i -> j -> i, plus longer spirals
    assert counts["B1"] == 7  # one fatigue loop per actor
    assert not result.loopset.exhaustive


def test_scoring_from_a_later_time_skips_only_the_earlier_steps():
    """score_from leaves the scores from that time on bit for bit as a full run's (a step's
    score needs only that step and the one before), and marks the skipped steps NaN."""
    full = analyze("models/richardson.mdl", {}, 3, workers=1, saveper=1.0)
    late = analyze("models/richardson.mdl", {}, 3, workers=1, saveper=1.0, score_from=1930.0)
    times = full.data["time"].values
    after = times >= 1930.0
    assert after.any() and (~after).any()
    np.testing.assert_array_equal(
        late.data["score"].values[:, after], full.data["score"].values[:, after]
    )
    assert np.isnan(late.data["score"].values[:, ~after]).all()
    assert np.isfinite(full.data["score"].values[:, ~after][:, 1:]).all()


def test_the_fixed_loop_set_read_back_from_the_cache_is_the_one_found():
    """A worker process reads the loop set from the cache instead of searching again: the set
    it reads must be the set the search finds (loops, labels, link ids, strengths)."""
    from nea_sd.loops import dominance
    from nea_sd.model import load_model

    model = load_model("models/dyad.mdl")
    pilot = model.parameters.resolve({})
    dominance._LOOPSETS.clear()
    first = dominance.fixed_loopset(model.path, pilot)  # found (or read) and stored
    dominance._LOOPSETS.clear()
    again = dominance.fixed_loopset(model.path, pilot)  # read from the cache
    fresh = analyze(model.path, dict(pilot), 1, workers=1).loopset
    for got in (first, again):
        assert got.graph is not None
        assert [lp.nodes for lp in got.loops] == [lp.nodes for lp in fresh.loops]
        assert (got.labels, got.partitions, got.ids) == (fresh.labels, fresh.partitions, fresh.ids)
        assert got.strength == fresh.strength
