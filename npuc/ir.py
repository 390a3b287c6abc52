"""Small queries and helpers on npuc modules shared by passes, interpreters and drivers."""

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Attribute
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriteWalker,
    RewritePattern,
)

from npuc.dialects.common import NAME_ATTR
from npuc.dialects.quantized import ONNXRUNTIME_ROUNDING, rounding_mode
from npuc.errors import ModelVerificationError


def main_function(module: ModuleOp) -> FuncOp:
    """The model's function: `@main`, or else the module's only function.

    Importers name it `@main`; a test or another compiler may give a
    single-function module any name.
    """
    functions = [op for op in module.ops if isinstance(op, FuncOp)]
    for func in functions:
        if func.sym_name.data == "main":
            return func
    if len(functions) == 1:
        return functions[0]
    if not functions:
        raise ModelVerificationError("the module has no function")
    raise ModelVerificationError(f"the module has {len(functions)} functions and none is @main: name the model's @main")


def _attribute_dicts(
    attrs: ArrayAttr[DictionaryAttr] | None, count: int
) -> list[dict[str, Attribute]]:
    if attrs is None:
        return [{} for _ in range(count)]
    return [dict(entry.data) for entry in attrs.data]


def arg_attributes(func: FuncOp) -> list[dict[str, Attribute]]:
    """A copy of the attribute dict of each function argument (empty when it has none)."""
    return _attribute_dicts(func.arg_attrs, len(func.function_type.inputs.data))


def result_attributes(func: FuncOp) -> list[dict[str, Attribute]]:
    """A copy of the attribute dict of each function result (empty when it has none)."""
    return _attribute_dicts(func.res_attrs, len(func.function_type.outputs.data))


def tensor_name(attributes: dict[str, Attribute], fallback: str) -> str:
    """The model tensor name (`graph.name`) in an argument/result attribute dict."""
    attr = attributes.get(NAME_ATTR)
    return attr.data if isinstance(attr, StringAttr) else fallback


def rewrite_integer_module(module: ModuleOp, pattern: RewritePattern) -> None:
    """Apply `pattern` to a quantized module, unless it follows onnxruntime's rounding.

    The onnxruntime-rounding references (QDQ models) rescale convolutions
    from their scales, so an explicit rescale has no meaning there.
    """
    if rounding_mode(module) == ONNXRUNTIME_ROUNDING:
        return
    PatternRewriteWalker(GreedyRewritePatternApplier([pattern], dce_enabled=False)).rewrite_module(module)
