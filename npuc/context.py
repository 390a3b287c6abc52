"""The xDSL context with every dialect npuc reads and writes."""

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func


def npuc_context() -> Context:
    """A fresh context with builtin, func and npuc's dialects loaded."""
    from npuc.dialects.graph import Graph
    from npuc.dialects.npu import NPU
    from npuc.dialects.quantized import Quantized

    context = Context()
    for dialect in (Builtin, Func, Graph, Quantized, NPU):
        context.load_dialect(dialect)
    return context
