"""Every project model gives the same stocks in pysimlin as in PySD, at every saved time.

A second, independent engine catches translation surprises that a single engine hides (see the
portability notes in ``design/VENSIM.md``). Names are compared canonically (case, blanks and
underscores folded); subscripted stocks element by element.

PySD takes about a minute for the subscripted regional model, so its stocks are kept in pytest's
cache under the model's content hash and PySD's version, and subscripted models are marked slow.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from nea_sd.sketch.parse import canonical

simlin = pytest.importorskip("simlin")

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "test-models"
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


def cached_pysd_stocks(path: Path, cache: pytest.Cache) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PySD's stocks, from pytest's cache when this very model ran before under this PySD."""
    from nea_sd.model import file_sha256

    key = f"nea_sd/pysd-stocks/{file_sha256(path)}-{version('pysd')}"
    stored = cache.get(key, None)
    if stored is None:
        times, series = pysd_stocks(path)
        stored = {"time": times.tolist(), "stocks": {k: v.tolist() for k, v in series.items()}}
        cache.set(key, stored)
    stocks = {k: np.asarray(v, dtype=float) for k, v in stored["stocks"].items()}
    return np.asarray(stored["time"], dtype=float), stocks


def pysd_stocks(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from nea_sd.model import load_model
    from nea_sd.model.load import frame_to_dataset

    model = load_model(path)
    frame = model.pysd_model().run(flatten_output=False)
    data = frame_to_dataset(frame, model.stocks)
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


def compare(path: Path, cache: pytest.Cache) -> None:
    times, stocks = cached_pysd_stocks(path, cache)
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
def test_project_model_agrees_with_pysimlin(path: Path, pytestconfig: pytest.Config) -> None:
    compare(path, pytestconfig.cache)


@pytest.mark.parametrize(
    "path", [FIXTURE, *reference_models()], ids=lambda p: p.parent.name + "/" + p.name
)
def test_reference_model_agrees_with_pysimlin(path: Path, pytestconfig: pytest.Config) -> None:
    compare(path, pytestconfig.cache)
