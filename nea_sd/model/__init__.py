"""Loading stage: the only part of nea_sd that imports PySD.

``load_model`` reads a Vensim ``.mdl`` through PySD (translated into a content-addressed
cache, never beside the model) and returns a :class:`Model`; ``parse_abstract_model``
returns PySD's abstract model for the builders of the engine stage.
"""

from nea_sd.model.cache import cache_dir, file_sha256
from nea_sd.model.load import Model, load_model, parse_abstract_model
from nea_sd.model.params import Parameter, ParameterTable

__all__ = [
    "Model",
    "Parameter",
    "ParameterTable",
    "cache_dir",
    "file_sha256",
    "load_model",
    "parse_abstract_model",
]
