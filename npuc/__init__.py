"""npuc: an open neural-network compiler for NPUs, built on xDSL.

The library surface lives in `npuc.api` and is re-exported here:
`import_model`, `run_pipeline`, `run`, `quantize`, `analyze_model`,
`compile_model`. The re-exports load `npuc.api` (xDSL, numpy) on first use
(PEP 562), so importing a light module such as `npuc.errors`, as the CLI's
start-up does, does not pay for the whole compiler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from npuc.errors import NpucError

if TYPE_CHECKING:
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


def __getattr__(name: str):
    """The `npuc.api` names of `__all__`, imported when first asked for."""
    if name in __all__:
        from npuc import api

        return getattr(api, name)
    raise AttributeError(f"module 'npuc' has no attribute '{name}'")
