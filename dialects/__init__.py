"""npuc's dialects: `graph` (float), `quantized` (integer), `npu` (commands)."""

from collections.abc import Callable

from xdsl.ir import Dialect


def _graph() -> Dialect:
    from npuc.dialects.graph import Graph

    return Graph


def _quantized() -> Dialect:
    from npuc.dialects.quantized import Quantized

    return Quantized


def _npu() -> Dialect:
    from npuc.dialects.npu import NPU

    return NPU


def get_all_dialects() -> dict[str, Callable[[], Dialect]]:
    """Every npuc dialect name with a factory returning it (imported lazily)."""
    return {"graph": _graph, "quantized": _quantized, "npu": _npu}
