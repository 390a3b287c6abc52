"""Quantized IR as TFLite builtin operators: a whole model (`export_tflite`) or a list of ops (`export_ops`).

Every `quantized` op npuc may leave on the CPU has a TFLite builtin form
(`layers`, `movement`); `quantized.constant`s become constant tensors where
they are read. A `quantized.external` op imported from a TFLite builtin is
written back as that builtin, as long as the import lost nothing: the IR
keeps neither builtin options nor custom options, so a builtin whose options
table has fields, and any custom operator, has no faithful form. Every op
without a TFLite form is listed, with its layer and the reason, in one
`UnsupportedOperatorError`.

`export_tflite` writes `@main` of a quantized module as a `.tflite`: the
arguments and results are the subgraph's inputs and outputs, named by their
`graph.name`, in the IR's own layout (NHWC); tensors take the `layer` name
of the op that writes them, as npuc's TFLite importer names layers, so a
TFLite model imported, exported and imported again is the same IR.
"""

from __future__ import annotations

from collections.abc import Iterable

import tflite
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue

from npuc.dialects import quantized
from npuc.dialects.common import layer_name
from npuc.emit.tflite.flatbuffer import serialize
from npuc.emit.tflite.graph import GraphWriter, NoTfliteForm, tensor_for
from npuc.emit.tflite.layers import EXPORTERS as LAYER_EXPORTERS
from npuc.emit.tflite.layers import Exporter
from npuc.emit.tflite.movement import EXPORTERS as MOVEMENT_EXPORTERS
from npuc.errors import UnsupportedOperatorError
from npuc.ir import arg_attributes, main_function, result_attributes, tensor_name

BUILTIN_OPERATORS = frozenset(name for name in vars(tflite.BuiltinOperator) if not name.startswith("_"))
"""Names of TFLite's builtin operators."""

IRREGULAR_OPTIONS = {
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions", "L2_POOL_2D": "Pool2DOptions",
    "L2_NORMALIZATION": "L2NormOptions", "CONV_3D_TRANSPOSE": "Conv3DOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions",
    "MEAN": "ReducerOptions", "SUM": "ReducerOptions", "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions", "REDUCE_PROD": "ReducerOptions", "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions", "RANDOM_STANDARD_NORMAL": "RandomOptions", "RANDOM_UNIFORM": "RandomOptions",
    "MULTINOMIAL": "RandomOptions",
}  # fmt: skip
"""Builtins whose options table is not named after them (`CONV_2D` -> `Conv2DOptions` is the rule)."""

_OPTIONS_TABLES = {name.lower(): name for name in vars(tflite.BuiltinOptions) if not name.startswith("_")}

EXPORTERS: dict[type[Operation], Exporter] = {**LAYER_EXPORTERS, **MOVEMENT_EXPORTERS}
"""Quantized op class -> its exporter (`quantized.external` aside)."""


def options_table(builtin: str) -> str | None:
    """The name of a builtin operator's options table, or None when it has none."""
    if builtin in IRREGULAR_OPTIONS:
        return IRREGULAR_OPTIONS[builtin]
    return _OPTIONS_TABLES.get(builtin.replace("_", "").lower() + "options")


def has_option_fields(table: str) -> bool:
    """Whether an options table has fields (its generated class has accessors besides the reader's own)."""
    table_class = getattr(tflite, table)
    return any(
        name[0].isupper() and name != "Init" and not name.startswith("GetRootAs")
        and not name.endswith("BufferHasIdentifier")
        for name in vars(table_class)
    )  # fmt: skip


def export_external(writer: GraphWriter, op: quantized.ExternalOp) -> None:
    """An operator imported opaque, written back as the TFLite builtin it was, when that loses nothing."""
    code = op.op_type.data
    if code.startswith("STABLEHLO_") or code not in BUILTIN_OPERATORS:
        raise NoTfliteForm(f"custom operator '{code}': its custom options are not kept in the IR")
    table = options_table(code)
    if table is not None and has_option_fields(table):
        raise NoTfliteForm(f"TFLite {code}: its {table} are not kept in the IR")
    name = layer_name(op)
    inputs = [writer.tensor(value) for value in op.inputs]
    outputs = [writer.result(result, name if position == 0 else f"{name}:{position}")
               for position, result in enumerate(op.outputs)]
    writer.operator(code, inputs, outputs)


def export_ops(writer: GraphWriter, ops: Iterable[Operation], source: str) -> None:
    """Write ops in order (constants where read; no terminator); UnsupportedOperatorError listing every op
    without a TFLite form (ops reading their results are not listed again)."""
    problems: list[tuple[str, str, str]] = []
    poisoned: set[SSAValue] = set()
    for op in ops:
        if isinstance(op, quantized.ConstantOp):
            continue
        if any(operand in poisoned for operand in op.operands):
            poisoned.update(op.results)
            continue
        exporter: Exporter | None = export_external if isinstance(op, quantized.ExternalOp) else EXPORTERS.get(type(op))
        try:
            if exporter is None:
                raise NoTfliteForm("no TFLite builtin computes it")
            exporter(writer, op)
        except NoTfliteForm as problem:
            problems.append((layer_name(op), op.name, str(problem)))
            poisoned.update(op.results)
    if problems:
        raise UnsupportedOperatorError(f"{source}: TFLite export", problems)


def export_tflite(module: ModuleOp, source: str = "<module>") -> bytes:
    """The `.tflite` bytes of a quantized module's `@main` (see the module docstring)."""
    function = main_function(module)
    block = function.body.block
    terminator = block.last_op
    assert terminator is not None, "a verified function ends in its return"
    writer = GraphWriter()
    for value, attributes in zip(terminator.operands, result_attributes(function)):
        if tensor_name(attributes, ""):
            writer.names.setdefault(value, tensor_name(attributes, ""))
    inputs = []
    for position, (argument, attributes) in enumerate(zip(block.args, arg_attributes(function))):
        try:
            tensor = tensor_for(argument.type, tensor_name(attributes, f"input{position}"))
        except NoTfliteForm as problem:
            raise UnsupportedOperatorError(f"{source}: TFLite export", [("@main", f"argument {position}",
                                                                         str(problem))]) from None
        inputs.append(writer.add_tensor(tensor))
        writer.bind(argument, inputs[-1])
    export_ops(writer, list(block.ops)[:-1], source)
    outputs = [writer.tensor(value) for value in terminator.operands]
    return serialize(writer.model(inputs, outputs, f"npuc export of {source}"))
