"""The float reference's matrix products on one OpenBLAS thread (`one_blas_thread`).

The float reference interpreter's matrix products are small (a layer's
output positions by its channels, in calibration): OpenBLAS's worker
threads cost more than they save there, and on a busy machine many times
more, waiting for their turn (regnet_x_400mf's float calibration: 0.76 s
in its 1x1 convolutions on 2 threads, 0.07 s on one). The results are the
same on any number of threads: the threads split a product's rows and
columns, not its sums.

numpy has no call for OpenBLAS's thread count, and `OPENBLAS_NUM_THREADS`
counts only before numpy loads OpenBLAS, so `one_blas_thread` finds the
OpenBLAS numpy loaded (on Linux, in `/proc/self/maps`) and calls its
`openblas_set_num_threads` under the names numpy's wheels give it
(`scipy_openblas*64_`, `openblas*64_` or plain), restoring the count
after. Without one (another BLAS, another system) it changes nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")
"""The symbol prefixes and suffixes of OpenBLAS builds: numpy 2's wheels, older wheels, a system build."""

ThreadCount = tuple[Callable[[], int], Callable[[int], None]]


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with OpenBLAS on one thread (if numpy uses an OpenBLAS this finds), then restore."""
    controls = _openblas_thread_count()
    if controls is None:
        yield
        return
    get_threads, set_threads = controls
    threads = get_threads()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(threads)


@cache
def _openblas_thread_count() -> ThreadCount | None:
    """The get and set functions of the thread count of the OpenBLAS loaded in this process, if any."""
    import numpy  # noqa: F401  (loads the BLAS numpy uses)

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1].lower()})
    except OSError:
        return None
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get_threads = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
                set_threads = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
                if get_threads is not None and set_threads is not None:
                    get_threads.restype, get_threads.argtypes = ctypes.c_int, []
                    set_threads.restype, set_threads.argtypes = None, [ctypes.c_int]
                    return get_threads, set_threads
    return None
