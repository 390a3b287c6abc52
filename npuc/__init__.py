"""npuc: an open neural-network compiler for NPUs, built on xDSL.

The library surface lives in `npuc.api` and is re-exported here:
`import_model`, `run_pipeline`, `run`, `quantize`, `analyze_model`,
`compile_model`.

Importing npuc sets `OPENBLAS_NUM_THREADS=1` unless it is set (it acts
when numpy is not imported yet): the float reference interpreter's matrix
products (a layer's output positions by its channels, calibrating a model)
are too small for OpenBLAS's worker threads, whose waiting cost up to ten
times the product's own time on a busy machine (regnet_x_400mf's
calibration: 0.76 s for its 1x1 convolutions on 2 threads, 0.07 s on one;
the results are the same: threads split the rows and columns, not the sums).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from npuc.api import (
    Analysis,
    CompileResult,
    analyze_model,
    compile_model,
    import_model,
    quantize,
    run,
    run_pipeline,
)
from npuc.errors import NpucError

__all__ = [
    "Analysis",
    "CompileResult",
    "analyze_model",
    "NpucError",
    "compile_model",
    "import_model",
    "quantize",
    "run",
    "run_pipeline",
]
