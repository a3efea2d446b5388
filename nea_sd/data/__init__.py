"""Data stage: read the shared CSV files in place, check them, and hand out labelled series.

``load_series("sipri:milex_constant_2022_usd:CN")`` returns a :class:`Series` carrying units,
SIPRI flags, gaps, level breaks and the file's SHA-256; ``available_series()`` lists selectors.
The data directory is ``data_dir=...`` (CLI ``--data-dir``) or ``$NEA_SD_DATA``.
"""

from nea_sd.data.catalog import (
    KNOWN_BREAKS,
    available_series,
    jnto_monthly,
    load_series,
    mid_default_span,
)
from nea_sd.data.location import ENV_VAR, data_dir, data_file
from nea_sd.data.series import Series, detect_jumps, nonpositive_years, split_at_break

__all__ = [
    "ENV_VAR",
    "KNOWN_BREAKS",
    "Series",
    "available_series",
    "data_dir",
    "data_file",
    "detect_jumps",
    "jnto_monthly",
    "load_series",
    "mid_default_span",
    "nonpositive_years",
    "split_at_break",
]
