"""Every project model gives the same stocks in pysimlin as in PySD, at every saved time.

A second, independent engine catches translation surprises that a single engine hides (see the
portability notes in ``design/VENSIM.md``). Names are compared canonically (case, blanks and
underscores folded); subscripted stocks element by element.

PySD takes about a minute for the subscripted regional model, so its stocks are kept in the
references cache under the model's content hash and PySD's version (not pytest's cache), and
subscripted models are marked slow.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nea_sd.sketch.parse import canonical
from tests.support import TEST_MODELS, require_shared, shared_params

simlin = pytest.importorskip("simlin")

ROOT = Path(__file__).resolve().parents[2]
SHARED = TEST_MODELS
FIXTURE = Path(__file__).parent / "fixtures" / "trust_exchange.mdl"
# reference models exercising stocks, subscripts and delays, read in place (never copied)
REFERENCE = ["subscripted_flows", "subscript_2d_arrays", "smooth_and_stock", "time"]
TOLERANCE = 1e-9
TINY = 1e-12  # below this both engines are at zero


def _subscripted(path: Path) -> bool:
    return bool(re.search(r"^[^~|=\n]*\[[^\]]+\]\s*=", path.read_text(encoding="utf-8"), re.M))


def project_models() -> list:
    return [
        pytest.param(p, marks=[pytest.mark.slow] if _subscripted(p) else [], id=p.name)
        for p in sorted((ROOT / "models").glob("*.mdl"))
    ]


def reference_models() -> list[Path]:
    return [p for name in REFERENCE for p in sorted((SHARED / name).glob("*.mdl"))]


def _key(name: str, elements: tuple[str, ...] = ()) -> str:
    key = canonical(name)
    return f"{key}[{','.join(canonical(e) for e in elements)}]" if elements else key


def pysd_stocks(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PySD's stocks, computed once per model hash and PySD version (the references cache)."""
    from nea_sd.engine.reference import reference_run
    from nea_sd.model import load_model

    model = load_model(path)
    data = reference_run(model, {}, model.stocks)
    series: dict[str, np.ndarray] = {}
    for name in model.stocks:
        array = data[name]
        dims = [d for d in array.dims if d != "time"]
        if not dims:
            series[_key(name)] = array.values
            continue
        stacked = array.stack(cell=dims).transpose("time", "cell")
        for i, cell in enumerate(stacked["cell"].values):
            elements = cell if isinstance(cell, tuple) else (cell,)
            series[_key(name, tuple(map(str, elements)))] = stacked.values[:, i]
    return data["time"].values, series


def simlin_results(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    results = simlin.load(path).run(analyze_loops=False).results
    series = {}
    for column in results.columns:
        name, _, rest = column.partition("[")
        elements = tuple(rest.rstrip("]").split(",")) if rest else ()
        series[_key(name, elements)] = results[column].to_numpy(dtype=float)
    return results.index.to_numpy(dtype=float), series


def max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), TINY)
    return float(np.max(np.abs(a - b) / scale))


def compare(path: Path) -> None:
    require_shared(path)
    times, stocks = pysd_stocks(path)
    other_times, other = simlin_results(path)
    assert stocks, f"{path.name}: PySD found no stocks"
    assert np.array_equal(times, other_times), (
        f"{path.name}: saved times differ: PySD {times[:3]}..{times[-1]} ({len(times)}), "
        f"pysimlin {other_times[:3]}..{other_times[-1]} ({len(other_times)})"
    )
    missing = sorted(set(stocks) - set(other))
    assert not missing, f"{path.name}: pysimlin has no results for stocks {missing}"
    worst = {k: max_relative_difference(v, other[k]) for k, v in stocks.items()}
    bad = {k: d for k, d in worst.items() if not d <= TOLERANCE}
    assert not bad, f"{path.name}: stocks differ by more than {TOLERANCE:g} (relative): {bad}"


@pytest.mark.parametrize("path", project_models())
def test_project_model_agrees_with_pysimlin(path: Path) -> None:
    compare(path)


@pytest.mark.parametrize(
    "path",
    [FIXTURE, *shared_params(reference_models())],
    ids=lambda p: p.parent.name + "/" + p.name,
)
def test_reference_model_agrees_with_pysimlin(path: Path) -> None:
    compare(path)
