"""Chunks of runs: balanced over the worker threads for any N, results independent of them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nea_sd.engine.batch.runtime import balanced_chunks


def test_ten_thousand_runs_on_two_threads_split_evenly() -> None:
    # the old split was 4096 + 4096 + 1808: one thread idled through a third of the work
    assert balanced_chunks(10_000, 4096, 2) == [
        (0, 2500),
        (2500, 5000),
        (5000, 7500),
        (7500, 10_000),
    ]


def test_fewer_runs_than_threads_give_one_run_each() -> None:
    assert balanced_chunks(3, 4096, 8) == [(0, 1), (1, 2), (2, 3)]
    assert balanced_chunks(0, 4096, 2) == []


@settings(deadline=None)  # a loaded machine must not fail a pure function on time
@given(n=st.integers(1, 50_000), most=st.integers(1, 20_000), workers=st.integers(1, 16))
def test_spans_cover_the_runs_evenly(n: int, most: int, workers: int) -> None:
    spans = balanced_chunks(n, most, workers)
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    sizes = [stop - start for start, stop in spans]
    assert min(sizes) >= 1 and max(sizes) <= most
    assert max(sizes) - min(sizes) <= 1
    needed = -(-n // most)  # the fewest spans of at most `most` runs
    rounded = -(-needed // workers) * workers
    assert len(spans) == min(n, rounded)  # every thread gets as many spans, when runs allow
