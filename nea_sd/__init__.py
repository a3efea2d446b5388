"""nea_sd: system-dynamics models of trust, arms buildup and exchange in Northeast Asia.

Stages, kept visible as in a compiler pipeline:
``model`` (load a Vensim file through PySD) -> ``engine`` (simulate) ->
``outcomes`` / ``loops`` / ``sensitivity`` / ``calibrate`` (analyse) -> ``cli`` (thin).
"""

from nea_sd.errors import NeaSdError

__version__ = "0.1.0"
__all__ = ["NeaSdError", "__version__"]
