"""Our structure and LTM scores against pysimlin's (an independent Rust implementation).

Convention (both): the score at step k compares values at k with k-1; for a flow, the rates
that move the stock over [t_k, t_k + dt].  pysimlin reports 0 at the first step, as we do.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

simlin = pytest.importorskip("simlin")

from nea_sd.loops.analysis import analyze, causal_graph  # noqa: E402
from nea_sd.loops.enumerate import johnson, rotate  # noqa: E402
from nea_sd.loops.graph import canonical  # noqa: E402

from .conftest import variant  # noqa: E402

TOL = 1e-6


def _simlin_run(path):
    model = simlin.load(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = model.simulate(enable_ltm=True)
        sim.run_to_end()
    return model, sim


def test_richardson_loops_equal_pysimlin_structural_loops():
    graph = causal_graph("models/richardson.mdl")
    ours = {
        rotate([canonical(n) for n in lp.nodes]): lp.polarity for lp in johnson(graph.variables)
    }
    theirs = {
        rotate(lp.variables): str(lp.polarity) for lp in simlin.load("models/richardson.mdl").loops
    }
    assert ours == theirs
    assert len(ours) == 3


@pytest.mark.parametrize("coefficient", [0.3, 0.6])
def test_richardson_link_and_relative_loop_scores_match_pysimlin(tmp_path, coefficient):
    path = variant(
        tmp_path, "richardson", SAVEPER="TIME STEP", **{"Defence coefficient X": coefficient}
    )
    result = analyze(path)
    _, sim = _simlin_run(path)
    run = sim.get_run()
    theirs = {rotate(lp.variables): lp.behavior_time_series for lp in run.loops}
    for i, loop in enumerate(result.loopset.loops):
        key = rotate([canonical(n) for n in loop.nodes])
        ours = result.data["relative"].isel(run=0, loop=i).values
        assert ours.shape == theirs[key].shape
        np.testing.assert_allclose(ours, theirs[key], atol=TOL, rtol=0)
    # link scores, every link at every step
    program = result.loopset.graph.program
    links = {(lk.from_var, lk.to_var): lk.score for lk in sim.get_links() if lk.score is not None}
    from nea_sd.loops.analysis import pilot_links

    scores = pilot_links(result.loopset.graph, {}, None)
    for k, (src, tgt, _, _) in enumerate(program.link_table()):
        key = (canonical(program.names[src]), canonical(program.names[tgt]))
        np.testing.assert_allclose(scores[:, k], links[key], atol=TOL, rtol=0)


def test_dyad_link_scores_match_pysimlin_at_every_step(dyad_dt):
    graph = causal_graph(dyad_dt)
    from nea_sd.loops.analysis import pilot_links

    scores = pilot_links(graph, {}, None)
    _, sim = _simlin_run(dyad_dt)
    theirs = {(lk.from_var, lk.to_var): lk.score for lk in sim.get_links() if lk.score is not None}
    program = graph.program
    table = program.link_table()
    assert len(table) > 200
    worst = 0.0
    for k, (src, tgt, _, _) in enumerate(table):
        key = (canonical(program.names[src]), canonical(program.names[tgt]))
        assert key in theirs, key
        assert len(theirs[key]) == scores.shape[0]
        worst = max(worst, float(np.max(np.abs(scores[:, k] - theirs[key]))))
    assert worst <= TOL


def test_dyad_links_equal_pysimlin_links_between_dynamic_variables():
    graph = causal_graph("models/dyad.mdl")
    ours = {(canonical(u), canonical(v)) for u, v in graph.variables.edges}
    nodes = {canonical(n) for n in graph.variables}
    theirs = {
        (lk.from_var, lk.to_var)
        for lk in simlin.load("models/dyad.mdl").get_links()
        if lk.from_var in nodes and lk.to_var in nodes
    }
    # INITIAL() is frozen after initialisation: no feedback passes through it
    theirs.discard(("mean_societal_trust", "reference_societal_trust"))
    assert ours == theirs


def test_dyad_loops_pysimlin_discovers_are_ours_and_the_important_ones_are_scored():
    """The dyad has over two million loops, so pysimlin runs discovery (its structural list is
    empty); every loop it discovers must be a cycle of our graph, and the
    loops it rates as mattering (mean |relative score| above 1%) must be in our scored set."""
    graph = causal_graph("models/dyad.mdl")
    edges = {
        (canonical(u), canonical(v)): d["polarity"] for u, v, d in graph.variables.edges(data=True)
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        discovered = simlin.load("models/dyad.mdl").analyze(timeout=60)
    assert len(discovered.loops) > 100
    for loop in discovered.loops:
        nodes = list(loop.variables)
        pols = [edges.get(link) for link in zip(nodes, nodes[1:] + nodes[:1], strict=True)]
        assert None not in pols, nodes
    ours = {
        rotate([canonical(n) for n in lp.nodes]) for lp in analyze("models/dyad.mdl").loopset.loops
    }
    important = [lp for lp in discovered.loops if lp.average_importance() > 0.01]
    assert len(important) >= 5
    assert all(rotate(lp.variables) in ours for lp in important)


def test_dyad_named_loop_scores_match_pysimlin_pinned_loops(dyad_dt):
    """Raw loop scores of named loops, pinned in pysimlin by their variables, at every step.

    Loop scores can reach 1e10 where a stock's net rate barely changes, so the comparison is
    relative (1e-6) with an absolute floor of 1e-6."""
    result = analyze(dyad_dt)
    paths = {n.name: n.path for n in result.loopset.named}
    names = ["R3", "R1[A]", "R2[B]", "B1[A]", "B4[B]"]
    model = simlin.load(str(dyad_dt))
    with model.edit() as (_, patch):
        for name in names:
            patch.set_loop_name(name, [canonical(v) for v in paths[name]])
    _, sim = _simlin_run_model(model)
    labels = list(result.data["label"].values)
    for i, name in enumerate(names):
        theirs = sim.get_loop_score(f"pin{i + 1}")
        ours = result.data["score"].isel(run=0, loop=labels.index(name)).values
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


def _simlin_run_model(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = model.simulate(enable_ltm=True)
        sim.run_to_end()
    return model, sim
