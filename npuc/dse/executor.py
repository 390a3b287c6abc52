"""Running a sweep's points: from the cache, in this process, on a local process pool or a Dask cluster.

`run_sweep` reads each model once (its digest keys the cache), takes the
points the cache holds, prepares the models of the others once
(`npuc.dse.models`) and analyzes those points: in this process for one
point or one job, else on a pool of `jobs` worker processes (each
receives the prepared models once, at start) or, with `executor="dask"`, on
the `dask.distributed` scheduler at `scheduler` (the models are scattered to
every worker once). Each finished row is cached at once, so an interrupted
sweep resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from npuc.dse.cache import PointCache
from npuc.dse.grid import SweepPoint
from npuc.dse.models import TFLITE_SUFFIX, PreparedModel, model_digest, prepare_model
from npuc.dse.point import ERROR, analyze_point, error_row, point_fields
from npuc.dse.progress import ProgressBar
from npuc.errors import NpucError

EXECUTORS = ("local", "dask")
"""Where the points run: `local` (this machine, `jobs` processes) or `dask` (a `dask.distributed` scheduler)."""

DASK_MISSING = "--executor dask needs dask.distributed: pip install 'npuc[dask]'"


@dataclasses.dataclass
class SweepRun:
    """A finished sweep: the rows in grid order, how many points were analyzed and how many came from
    the cache, and the wall time in seconds."""

    rows: list[dict[str, Any]]
    analyzed: int
    cached: int
    seconds: float


def calibration_files(models: Sequence[str], calibration: Sequence[str]) -> dict[str, str | None]:
    """The calibration file of each model: the i-th file for the i-th model that is not TFLite, or the one
    file for all of them; `NpucError` for another count."""
    quantized_here = [model for model in models if not model.lower().endswith(TFLITE_SUFFIX)]
    if len(calibration) not in (0, 1, len(quantized_here)):
        raise NpucError(f"--calibration given {len(calibration)} times for {len(quantized_here)} ONNX/IR "
                        "model(s): give one file for all of them or one for each, in order")
    files = calibration if len(calibration) != 1 else list(calibration) * len(quantized_here)
    chosen: dict[str, str | None] = dict.fromkeys(models)
    chosen.update(zip(quantized_here, files))
    return chosen


def run_sweep(
    points: Sequence[SweepPoint],
    calibration: Sequence[str] = (),
    *,
    cache: PointCache | None = None,
    jobs: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    progress: ProgressBar | None = None,
) -> SweepRun:
    """Analyze every point (or take its row from `cache`): the rows in the order of `points`.

    `calibration` as for `calibration_files`; `executor` one of `EXECUTORS`
    (`jobs` processes for `local`, the scheduler's address for `dask`). A
    model that cannot be read, imported or quantized makes error rows of its
    points (not cached).
    """
    if executor not in EXECUTORS:
        raise NpucError(f"unknown executor '{executor}' (known: {', '.join(EXECUTORS)})")
    if executor == "dask" and not scheduler:
        raise NpucError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    start = time.perf_counter()
    cache = cache or PointCache(None)
    progress = progress or ProgressBar(len(points))
    calibrations = calibration_files(list(dict.fromkeys(point.model for point in points)), calibration)
    digests, failed = _digests(calibrations)
    rows: list[dict[str, Any] | None] = [None] * len(points)
    keys: dict[int, str] = {}
    for index, point in enumerate(points):
        if point.model not in failed:
            keys[index] = cache.key(point, digests[point.model])
            hit = cache.get(keys[index])
            rows[index] = None if hit is None else {**hit, "model": point.model}
    cached = sum(rows[index] is not None for index in keys)
    needed = dict.fromkeys(points[index].model for index in keys if rows[index] is None)
    prepared = _prepared(needed, calibrations, digests, failed)
    work = []
    for index, point in enumerate(points):
        if point.model in failed:
            rows[index] = error_row(point_fields(point), failed[point.model])
        elif rows[index] is None:
            work.append(index)
    done = len(points) - len(work)
    errors = sum(row["status"] == ERROR for row in rows if row is not None)
    progress.update(done, cached, errors)

    def finished(index: int, row: dict[str, Any]) -> None:
        nonlocal done, errors
        rows[index] = row
        cache.put(keys[index], row)
        done += 1
        errors += row["status"] == ERROR
        progress.update(done, cached, errors)

    tasks = [(index, points[index], prepared[points[index].model]) for index in work]
    try:
        if executor == "dask":
            _run_dask(tasks, scheduler, finished)
        elif jobs <= 1 or len(tasks) <= 1:
            for index, point, prepared_model in tasks:
                finished(index, analyze_point(point, prepared_model))
        else:
            _run_pool(tasks, jobs, finished)
    finally:
        progress.close()
    complete = [row for row in rows if row is not None]
    return SweepRun(complete, len(work), cached, time.perf_counter() - start)


def _digests(calibrations: Mapping[str, str | None]) -> tuple[dict[str, str], dict[str, NpucError]]:
    """Each model's `model_digest`, and the error of each model that cannot be read."""
    digests: dict[str, str] = {}
    failed: dict[str, NpucError] = {}
    for model, calibration in calibrations.items():
        try:
            digests[model] = model_digest(model, calibration)
        except NpucError as error:
            failed[model] = error
    return digests, failed


def _prepared(models: Iterable[str], calibrations: Mapping[str, str | None], digests: Mapping[str, str],
              failed: dict[str, NpucError]) -> dict[str, PreparedModel]:
    """`models` prepared for the workers; the error of one that cannot be is added to `failed`."""
    prepared = {}
    for model in models:
        try:
            prepared[model] = prepare_model(model, calibrations[model], digests[model])
        except NpucError as error:
            failed[model] = error
    return prepared


Task = tuple[int, SweepPoint, PreparedModel]
"""A point to analyze: its index in the grid, the point and its prepared model."""


_pool_models: dict[str, PreparedModel] = {}
"""The prepared models of a pool worker, by digest (set once by `_receive_models`)."""


def _receive_models(models: Mapping[str, PreparedModel]) -> None:
    """A pool worker's start: keep the models; leave Ctrl-C to the sweep's process, which stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pool_models.update(models)


def _analyze_in_pool(task: tuple[int, SweepPoint, str]) -> tuple[int, dict[str, Any]]:
    index, point, digest = task
    return index, analyze_point(point, _pool_models[digest])


def _run_pool(tasks: Sequence[Task], jobs: int, finished: Callable[[int, dict[str, Any]], None]) -> None:
    """The tasks on `jobs` local worker processes, each given every prepared model once.

    A `multiprocessing` pool rather than `concurrent.futures`: on Ctrl-C or
    a failure it is terminated at once, where a `ProcessPoolExecutor` would
    first finish the points already queued to its workers.
    """
    models = {model.digest: model for _, _, model in tasks}
    pool = multiprocessing.Pool(min(jobs, len(tasks)), initializer=_receive_models, initargs=(models,))
    try:
        work = [(index, point, model.digest) for index, point, model in tasks]
        for index, row in pool.imap_unordered(_analyze_in_pool, work):
            finished(index, row)
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def _run_dask(tasks: Sequence[Task], scheduler: str | None,
              finished: Callable[[int, dict[str, Any]], None]) -> None:
    """The tasks on the Dask cluster whose scheduler is at `scheduler`; each prepared model scattered once."""
    try:
        from distributed import Client
        from distributed import as_completed as completed_on_cluster
    except ImportError:
        raise NpucError(DASK_MISSING) from None
    if not tasks:
        return
    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError) as error:
        raise NpucError(f"cannot reach the Dask scheduler at {scheduler}: {' '.join(str(error).split())}") from None
    try:
        models = {model.digest: model for _, _, model in tasks}
        scattered = dict(zip(models, client.scatter(list(models.values()), broadcast=True)))
        running = {client.submit(analyze_point, point, scattered[model.digest], pure=False): index
                   for index, point, model in tasks}
        for future in completed_on_cluster(running):
            finished(running[future], future.result())
    finally:
        client.close()
