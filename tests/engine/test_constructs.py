"""Constructs found in models outside the project, each in a minimal model checked against PySD.

Full horizon, every variable, rtol 1e-9, on both backends where numba is installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from constructs_helpers import differences, pysd_defaults
from synthetic_models import write

from nea_sd.engine.batch import compile_model

BACKENDS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") else [])
CONTROL = """
INITIAL TIME  = 0
	~	Year
	~		|

FINAL TIME  = 10
	~	Year
	~		|

TIME STEP  = 0.25
	~	Year [0,?]
	~		|

SAVEPER  = TIME STEP
	~	Year [0,?]
	~		|
"""

# The ageing-chain idiom: a stock defined piecewise over subranges whose flow refers to a
# subrange mapped onto another (``Previous`` -> ``Older``): ageing[Previous] at Older[i] is
# ageing of the i-th element of Previous, the cohort just younger.
AGEING = (
    r"""{UTF-8}
Cohort: Youngest, Middle, Oldest
	~	~	|

Older: Middle, Oldest
	~	~	|

Previous: Youngest, Middle -> Older
	~	~	|

Population[Youngest]= INTEG (
	births - ageing[Youngest],
		1000)
	~~|
Population[Older]= INTEG (
	ageing[Previous] - ageing[Older],
		900)
	~	people
	~		|

ageing[Cohort]=
	Population[Cohort] * ageing rate
	~	people/Year
	~		|

Younger than[Older]=
	Population[Previous]
	~	people
	~		|

ageing rate=
	0.1
	~	1/Year [0, 0.5]
	~		|

births=
	120
	~	people/Year [0, 500]
	~		|
"""
    + CONTROL
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ageing_chain_with_mapped_subrange_matches_pysd(tmp_path: Path, backend: str) -> None:
    path = write(tmp_path, "ageing", AGEING)
    assert differences(path, backend) == {}


def test_ageing_chain_older_cohorts_move(tmp_path: Path) -> None:
    """The independent truth behind the fix: 900 -> 902.5 after one step (0.25 * 0.1 * 100)."""
    path = write(tmp_path, "ageing", AGEING)
    pop = compile_model(path).simulate({}, ["Population"])["Population"].isel(run=0)
    assert pop.sel(Cohort="Middle").values[:2].tolist() == pytest.approx([900.0, 902.5])
    reference = pysd_defaults(path, ["Population"])["Population"]
    np.testing.assert_allclose(pop.values, reference.values, rtol=1e-9)
