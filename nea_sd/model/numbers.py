"""Numbers as PySD runs them: lookups and array constants pass through numpy's printer.

PySD's builder writes every lookup table and numeric array constant into the translated Python
with ``numpy.array2string`` at numpy's default print precision: 8 digits after the point (or
after the first digit, in scientific form).  A table written with more digits therefore runs
rounded in PySD and unrounded in the batch engine (about 1e-9 relative, enough for the
self-verification to refuse the model).  Text we generate -- the data tables of partial models
-- is written at :func:`as_pysd_reads` values, so both engines read the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PRINT_PRECISION = 8  # numpy's default, the one PySD's builder relies on


def as_pysd_reads(values: Sequence[float] | np.ndarray) -> list[float]:
    """The numbers PySD's translation holds for a lookup or array written with ``values``."""
    array = np.asarray(values, dtype=float).ravel()
    if not array.size:
        return []
    text = np.array2string(
        array,
        separator=",",
        threshold=array.size + 1,
        precision=PRINT_PRECISION,
        floatmode="maxprec",
        suppress_small=False,
        max_line_width=1 << 30,
    )
    return [float(part) for part in text.strip("[]").split(",")]
