"""The Vensim sketch (diagram) section of an ``.mdl``: reading it, and what else is built on it."""

from nea_sd.sketch.parse import Sketch, SketchObject, View, read_sketch

__all__ = ["Sketch", "SketchObject", "View", "read_sketch"]
