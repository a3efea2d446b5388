"""Loop analysis: causal graph, feedback loops, named loops, Loops That Matter dominance."""
