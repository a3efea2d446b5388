"""The Vensim sketch (diagram) section of an ``.mdl``: reading it, and what else is built on it.

``read_sketch`` reads views and objects with their lines; ``read_equations`` the equation section;
``lint_model`` checks one against the other. Diagrams (``nea_sd.sketch.diagram``) and unit checks
(``nea_sd.sketch.units``) need pysimlin, the optional ``nea-sd[diagram]`` extra.
"""

from nea_sd.sketch.equations import Equation, Equations, read_equations
from nea_sd.sketch.lint import Finding, lint_model
from nea_sd.sketch.parse import Sketch, SketchObject, View, read_sketch

__all__ = [
    "Equation",
    "Equations",
    "Finding",
    "Sketch",
    "SketchObject",
    "View",
    "lint_model",
    "read_equations",
    "read_sketch",
]
