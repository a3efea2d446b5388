"""Small Vensim models written by the tests (our own, not the SDXorg suite)."""

from __future__ import annotations

from pathlib import Path

# Every construct the batch engine supports, over subscripts with a copy (Partner <-> Actor),
# a subrange (Major), a positional mapping (Domain -> Sector), :EXCEPT: and transposition.
CONSTRUCTS = r"""{UTF-8}
Actor: A1, A2, A3
	~	~	|

Partner <-> Actor
	~	~	|

Major: A1, A2
	~	~	|

Sector: s1, s2
	~	~	|

Domain: econ, mil -> Sector
	~	~	|

Weight[Actor, Partner]=
	0.1, 0.2, 0.3; 0.4, 0.5, 0.6; 0.7, 0.8, 0.9;
	~	Dmnl [0, 1]
	~		|

Base[Actor]=
	1, 2, 3
	~	Dmnl [0, 10]
	~		|

Outflow rate=
	0.05
	~	1/Year [0, 0.2]
	~		|

Gain=
	0.1
	~	Dmnl [0, 0.5]
	~		|

Sector value[Sector]=
	5, 7
	~	Dmnl
	~		|

Domain value[Domain]=
	Sector value[Domain] * 2
	~	Dmnl
	~		|

Level[Actor]= INTEG (
	Inflow[Actor],
		Base[Actor])
	~	Dmnl
	~		|

Inflow[Actor]=
	Gain * SUM(Weight[Actor, Partner!] * Level[Partner!]) - Outflow[Actor]
	~	Dmnl
	~		|

Outflow[Major]=
	Outflow rate * Level[Major]
	~	Dmnl
	~		|

Outflow[A3]=
	0.01 * Level[A3]
	~	Dmnl
	~		|

Sym[Actor, Partner]=
	Weight[Actor, Partner] + Weight[Partner, Actor]
	~	Dmnl
	~		|

Masked[Actor, Partner] :EXCEPT: [A1, A1]=
	Level[Actor] - Level[Partner]
	~	Dmnl
	~		|

Masked[A1, A1]=
	-1
	~	Dmnl
	~		|

Biggest=
	VMAX(Level[Actor!])
	~	Dmnl
	~		|

Count=
	ELMCOUNT(Actor)
	~	Dmnl
	~		|

Smoothed[Actor]=
	SMOOTH3(Level[Actor], 2)
	~	Dmnl
	~		|

Delayed[Actor]=
	DELAY1I(Inflow[Actor], 1.5, 0)
	~	Dmnl
	~		|

Scaled=
	2 * SMOOTHI(Level[A1], 3, 0.5) + DELAY3(Biggest, 2)
	~	Dmnl
	~		|

Trend of level=
	TREND(Level[A2], 2, 0)
	~	Dmnl
	~		|

Response table(
	[(0,0)-(10,2)],(0,0),(2,0.5),(5,1.5),(10,2))
	~	Dmnl
	~		|

Response[Actor]=
	Response table(Level[Actor])
	~	Dmnl
	~		|

Shaped=
	WITH LOOKUP(Time, ([(0,0)-(10,1)],(0,0),(5,1),(10,0.5)))
	~	Dmnl
	~		|

Start level=
	INITIAL(Level[A3] * 2)
	~	Dmnl
	~		|

Switch=
	ACTIVE INITIAL(Level[A1] + Start level, 4)
	~	Dmnl
	~		|

Signals=
	STEP(1, 3) + PULSE(2, 1) + RAMP(0.5, 1, 4) + PULSE TRAIN(1, 0.5, 2, 8)
	+ MODULO(Time, 3) + INTEGER(Time / 4)
	~	Dmnl
	~		|

Logic=
	IF THEN ELSE(Level[A1] > 1 :AND: :NOT: (Time < 2) :OR: Time = 5,
	XIDZ(Level[A2], Level[A1] - Level[A1], 7), ZIDZ(1, 0))
	~	Dmnl
	~		|

Math=
	MIN(ABS(-Level[A1]), MAX(EXP(0.1), LN(Level[A2]))) + SQRT(Level[A3]) + Level[A1] ^ 2
	~	Dmnl
	~		|

FINAL TIME  = 10
	~	Year
	~		|

INITIAL TIME  = 0
	~	Year
	~		|

SAVEPER  =
        TIME STEP
	~	Year [0,?]
	~		|

TIME STEP  = 0.25
	~	Year [0,?]
	~		|

\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0
///---\\\
"""

# Exponential growth that overflows when Growth is large: for the non-finite policies.
EXPLODING = r"""{UTF-8}
Stock= INTEG (
	Growth * Stock * Stock,
		1)
	~	Dmnl
	~		|

Growth=
	0.1
	~	1/Year [0, 1e6]
	~		|

Twice=
	2 * Stock
	~	Dmnl
	~		|

FINAL TIME  = 10
	~	Year
	~		|

INITIAL TIME  = 0
	~	Year
	~		|

SAVEPER  = 1
	~	Year [0,?]
	~		|

TIME STEP  = 0.5
	~	Year [0,?]
	~		|

\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0
///---\\\
"""

# A construct the batch engine refuses (DELAY FIXED), to check the pre-flight.
REFUSED = CONSTRUCTS.replace("DELAY1I(Inflow[Actor], 1.5, 0)", "DELAY FIXED(Inflow[Actor], 1.5, 0)")


# Several constructs the batch engine refuses, each in its own variable.
UNSUPPORTED = r"""{UTF-8}
:MACRO: DOUBLE(x)
DOUBLE = 2 * x
	~	Dmnl
	~		|
:END OF MACRO:

Noise=
	RANDOM UNIFORM(0, 1, 0)
	~	Dmnl
	~		|

Held=
	SAMPLE IF TRUE(Time > 2, Noise, 0)
	~	Dmnl
	~		|

External=
	GET DIRECT CONSTANTS('data.csv', ',', 'B2')
	~	Dmnl
	~		|

Fixed=
	DELAY FIXED(Noise, 2, 0)
	~	Dmnl
	~		|

Doubled=
	DOUBLE(Noise)
	~	Dmnl
	~		|

Fine=
	Noise + 1
	~	Dmnl
	~		|

FINAL TIME  = 10
	~	Year
	~		|

INITIAL TIME  = 0
	~	Year
	~		|

SAVEPER  = 1
	~	Year [0,?]
	~		|

TIME STEP  = 1
	~	Year [0,?]
	~		|

\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0
///---\\\
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.mdl"
    path.write_text(text, encoding="utf-8")
    return path


# No stock at all: an auxiliary of Time through a lookup (Curve(2 * Time) = Time).
STATELESS = r"""{UTF-8}
Gain=
	2
	~	Dmnl [0, 5]
	~		|

Signal=
	Gain * Time
	~	Dmnl
	~		|

Curve(
	[(0,0)-(10,10)],(0,0),(10,5))
	~	Dmnl
	~		|

Shaped=
	Curve(Signal)
	~	Dmnl
	~		|

INITIAL TIME  = 0
	~	Year
	~		|

FINAL TIME  = 4
	~	Year
	~		|

TIME STEP  = 1
	~	Year [0,?]
	~		|

SAVEPER  = TIME STEP
	~	Year [0,?]
	~		|
"""
