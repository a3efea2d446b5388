"""Loop analysis: causal graph, feedback loops, named loops, Loops That Matter dominance.

``analyze(model_path, params, n_runs)`` scores the loops of a model over parameter sets;
``Comparison`` puts two strategies on common draws side by side; ``causal_graph`` gives the
variable- and element-level graphs; named loops come from ``models/loops.toml``.
"""

from nea_sd.loops.analysis import Comparison, LoopAnalysis, LoopSet, analyze, causal_graph
from nea_sd.loops.dominance import SPIRALS, TRUST_LOOPS, dominance_data
from nea_sd.loops.enumerate import Loop
from nea_sd.loops.graph import CausalGraph
from nea_sd.loops.named import NamedLoop, read_named_loops
from nea_sd.loops.strategies import strategy_parameters

__all__ = [
    "SPIRALS",
    "TRUST_LOOPS",
    "CausalGraph",
    "Comparison",
    "Loop",
    "LoopAnalysis",
    "LoopSet",
    "NamedLoop",
    "analyze",
    "causal_graph",
    "dominance_data",
    "read_named_loops",
    "strategy_parameters",
]
