"""npuc: an open neural-network compiler for NPUs, built on xDSL.

The library surface lives in `npuc.api` and is re-exported here:
`import_model`, `run_pipeline`, `run`, `quantize`, `analyze_model`,
`compile_model`.
"""

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
