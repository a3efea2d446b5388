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


# Constructs the batch engine does not compile: PySD runs each model, the pre-flight names the
# construct and the variable, and no batch run starts (so no result can silently differ).
REFUSED_BODY = r"""{UTF-8}
Input=
	Time * 2
	~	Dmnl
	~		|

Order=
	IF THEN ELSE(Time > 5, 3, 2)
	~	Dmnl
	~		|

"""
REFUSED_CONTROL = CONTROL.replace("SAVEPER  = TIME STEP", "SAVEPER  = {saveper}")
REFUSED_CASES = {
    "SAMPLE IF TRUE in 'Held'": "Held=\n\tSAMPLE IF TRUE(Time > 2, Input, 0)\n",
    "SMOOTH N whose order is not a constant in 'Smoothed'": (
        "Smoothed=\n\tSMOOTH N(Input, 2, 0, Order)\n"
    ),
    "DELAY N whose order is not a constant in 'Delayed'": (
        "Delayed=\n\tDELAY N(Input, 2, 0, Order)\n"
    ),
    "control variable that is not a constant in 'SAVEPER'": "",
}


@pytest.mark.parametrize("finding", sorted(REFUSED_CASES))
def test_unsupported_construct_is_refused_before_running(tmp_path: Path, finding: str) -> None:
    from nea_sd.errors import UnsupportedModelError
    from nea_sd.model import load_model

    equation = REFUSED_CASES[finding]
    body = REFUSED_BODY + (equation + "\t~\tDmnl\n\t~\t\t|\n" if equation else "")
    saveper = "IF THEN ELSE(Time > 5, 1, 0.5)" if "SAVEPER" in finding else "TIME STEP"
    path = write(tmp_path, "refused", body + REFUSED_CONTROL.format(saveper=saveper))
    assert len(load_model(path).pysd_model().run()) > 1  # PySD runs it
    batch = compile_model(path)
    assert finding in {str(f) for f in batch.unsupported()}
    with pytest.raises(UnsupportedModelError, match="--engine pysd"):
        batch.simulate()
