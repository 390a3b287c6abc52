"""`--executor dask`: a small sweep on a two-worker `LocalCluster` gives the rows of the local run."""

from __future__ import annotations

import pytest

from npuc.dse.executor import run_sweep
from npuc.dse.grid import expand_grid

from support.paths import MODELS

distributed = pytest.importorskip("distributed", reason="dask is not installed: pip install 'npuc[dask]'")


def test_a_sweep_on_a_local_dask_cluster_equals_the_local_one():
    points = expand_grid([str(MODELS / "digits_cnn.tflite")], ["ethos-u55-64", "ethos-u65-256"], [1024, None],
                         ["Performance"])
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        on_cluster = run_sweep(points, executor="dask", scheduler=cluster.scheduler_address)
    local = run_sweep(points)
    assert on_cluster.analyzed == len(points)
    assert on_cluster.rows == local.rows
    assert {row["status"] for row in local.rows} == {"ok", "error"}
