"""The xDSL context with every dialect npuc reads and writes."""

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func

from npuc.dialects import get_all_dialects


def npuc_context() -> Context:
    """A fresh context with builtin and func loaded and npuc's dialects registered.

    npuc's dialects load on first use (parsing one of their ops, a pass
    asking for one): analyzing a quantized model never loads `graph`.
    """
    context = Context()
    for dialect in (Builtin, Func):
        context.load_dialect(dialect)
    for name, factory in get_all_dialects().items():
        context.register_dialect(name, factory)
    return context
