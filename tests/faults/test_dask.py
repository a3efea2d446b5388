"""A Dask future cancelled under the sweep (a lost worker) is run again, never taken as a result."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from nea_sd.model import load_model
from nea_sd.sensitivity import build_problem, load_spec
from nea_sd.sensitivity.evaluators import DaskEvaluator
from nea_sd.sensitivity.sweep import run_sweep
from tests.support import REPO

FIXTURES = REPO / "tests" / "sensitivity" / "fixtures"


class CancellingClient:
    """A client whose first submitted task is cancelled, as when its worker is lost."""

    def __init__(self, client):  # noqa: ANN001
        self._client, self.cancelled = client, 0

    def __getattr__(self, name):  # noqa: ANN001, ANN204
        return getattr(self._client, name)

    def submit(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        future = self._client.submit(*args, **kwargs)
        if self.cancelled == 0:
            self.cancelled += 1
            future.cancel()
        return future


def test_cancelled_future_is_resubmitted_not_passed_on() -> None:
    distributed = pytest.importorskip("distributed")
    problem = build_problem(
        load_model(FIXTURES / "ishigami.mdl"), load_spec(FIXTURES / "ishigami.toml")
    )
    expected = run_sweep(problem, "sobol", 64, seed=5)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        flaky = CancellingClient(client)
        result = run_sweep(problem, "sobol", 64, seed=5, evaluator=DaskEvaluator(problem, flaky))
    assert flaky.cancelled == 1
    np.testing.assert_array_equal(result.dataset["Y"].values, expected.dataset["Y"].values)
