"""TFLite importer: a `.tflite` flatbuffer becomes a `quantized` dialect module.

A full-integer TFLite model already holds what the quantized dialect states:
int8 (or int16) activations with per-tensor scale and zero point, symmetric
int8 weights per output channel, int32 (or int64) biases. The importer reads
the flatbuffer with the `tflite` package, decodes the main subgraph (index 0)
into plain records (`model`) and converts operator by operator
(`ops`, `movement`), building xDSL objects directly.

TFLite tensors are NHWC and weights OHWI already, so shapes and data are taken
as they are and no layout attributes are set. Every op is tagged `layer` with
its TFLite operator's first output tensor name (TFLite operators have none).
Constant buffers become `quantized.constant` ops built from numpy bytes.

An operator without a quantized counterpart (a float operator inside an
integer model, an unknown builtin, a custom operator) becomes the opaque
`quantized.external`, which npu-legalize places on the CPU. A known operator
in a form the dialect cannot express is an error: every such operator is
listed at once in one `UnsupportedOperatorError`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.dialects.builtin import (
    AnyDenseElement,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import LAYER_ATTR, NAME_ATTR
from npuc.dialects.quantized import ConstantOp, ExternalOp, UniformQuantizedType
from npuc.emit.ethos_u.package import ARENA_OFFSETS_ATTR, arena_offsets
from npuc.errors import (
    ModelFormatError,
    ModelVerificationError,
    UnsupportedOperatorError,
)
from npuc.importers.common import first_line, main_module, read_file
from npuc.importers.tflite import movement, ops
from npuc.importers.tflite.model import (
    BUILTIN_NAMES,
    NUMPY_DTYPES,
    TfliteOperator,
    TfliteTensor,
    decode_model,
    element_type,
)
from npuc.importers.tflite.ops import Malformed, Unsupported

CONVERTERS: dict[str, Callable[[TfliteGraph, TfliteOperator], None]] = {
    **ops.CONVERTERS,
    **movement.CONVERTERS,
}
"""TFLite builtin name -> converter into quantized ops; other operators stay external."""

ARITIES = {**ops.ARITIES, **movement.ARITIES}
"""Operand counts of the converted operators (`ops.UNARY` when not listed)."""


def import_tflite(path: str) -> ModuleOp:
    """Import the TFLite model file at `path` into a verified quantized module."""
    return import_tflite_bytes(read_file(path), path)


def import_tflite_bytes(data: bytes, source: str) -> ModuleOp:
    """Import a serialized TFLite model; `source` names it in error messages (on one line)."""
    tensors, operators, inputs, outputs = decode_model(data, source)
    graph = TfliteGraph(tensors, source, arena_offsets(data, source))
    return graph.build(operators, inputs, outputs)


class TfliteGraph:
    """Conversion state of the main subgraph: tensor indices to IR values.

    Converters read tensors through it (`tensor`, `ir_type`, `value`,
    `constant`) and add ops with `emit`, which tags them with the operator's
    layer name.
    """

    def __init__(self, tensors: list[TfliteTensor], source: str, offsets: dict[int, int] | None = None):
        self.source = source
        self.tensors = tensors
        self.offsets = offsets or {}
        self.values: dict[int, SSAValue] = {}
        self.block = Block()
        self._operator: TfliteOperator | None = None
        self._ops: list[Operation] = []

    # -- reading tensors -------------------------------------------------

    def tensor(self, index: int) -> TfliteTensor:
        """The decoded tensor `index`."""
        return self.tensors[index]

    def ir_type(self, index: int) -> TensorType:
        """The IR tensor type of tensor `index` (quantized element type when quantized)."""
        return TensorType(element_type(self.tensors[index]), self.tensors[index].shape)

    def constant(self, index: int) -> np.ndarray | None:
        """The data of a constant tensor as a numpy array, or None for an activation."""
        if index < 0:
            return None
        tensor = self.tensors[index]
        if tensor.data is None:
            return None
        dtype = NUMPY_DTYPES.get(tensor.type_code)
        if dtype is None:
            raise Unsupported(f"constant '{tensor.name}' of type {tensor.type_name}")
        return np.frombuffer(tensor.data, dtype=dtype).reshape(tensor.shape)

    def require_constant(self, index: int, what: str) -> np.ndarray:
        """The data of constant input tensor `index`, or Unsupported when it is computed."""
        array = self.constant(index)
        if array is None:
            raise Unsupported(f"{what} must be a constant")
        return array

    def value(self, index: int) -> SSAValue:
        """The IR value of tensor `index`; a constant becomes a `quantized.constant` on first use."""
        if index not in self.values:
            tensor = self.tensors[index]
            if tensor.data is None and not tensor.is_variable:
                raise ModelFormatError(
                    f"{self.source}: not a valid TFLite model (tensor '{tensor.name}' is read "
                    "before any operator writes it)"
                )
            array = self.constant(index)
            if array is None:  # a variable tensor: TFLite starts it at zero
                dtype = NUMPY_DTYPES.get(tensor.type_code)
                if dtype is None:
                    raise Unsupported(f"variable '{tensor.name}' of type {tensor.type_name}")
                array = np.zeros(tensor.shape, dtype)
            self.values[index] = self.emit_constant(array, self.ir_type(index))
        return self.values[index]

    # -- building IR -----------------------------------------------------

    def emit(self, op: Operation) -> Operation:
        """Append a layer op for the current operator, tagged with its `layer` name."""
        assert self._operator is not None
        op.attributes[LAYER_ATTR] = StringAttr(self._operator.name)
        self.block.add_op(op)
        self._ops.append(op)
        return op

    def emit_constant(self, array: np.ndarray, result_type: TensorType) -> SSAValue:
        """A `quantized.constant` holding `array`'s bytes, typed `result_type`."""
        qtype = result_type.element_type
        storage = qtype.storage_type if isinstance(qtype, UniformQuantizedType) else qtype
        assert isinstance(storage, AnyDenseElement), f"no dense storage for {qtype}"
        data = np.ascontiguousarray(array).tobytes()
        value = DenseIntOrFPElementsAttr(TensorType(storage, result_type.get_shape()), BytesAttr(data))
        op = ConstantOp(value, result_type)
        self.block.add_op(op)
        self._ops.append(op)
        return op.output

    def bind(self, index: int, value: SSAValue) -> None:
        """Make `value` the IR value of tensor `index`."""
        self.values[index] = value

    # -- the whole subgraph ----------------------------------------------

    def build(
        self, operators: list[TfliteOperator], inputs: list[int], outputs: list[int]
    ) -> ModuleOp:
        """Convert every operator and assemble the verified module with `@main`."""
        for index in inputs:
            self.values[index] = self.block.insert_arg(self._interface_type(index), len(self.block.args))
        problems: list[tuple[str, str, str]] = []
        poisoned: set[int] = set()
        for operator in operators:
            if any(index in poisoned for index in operator.inputs):
                poisoned.update(operator.outputs)  # its producer is reported already
                continue
            reason = self._convert(operator)
            if reason is not None:
                problems.append((operator.name, operator.op_type, reason))
                poisoned.update(operator.outputs)
        if problems:
            raise UnsupportedOperatorError(self.source, problems)
        return main_module(
            self.block,
            [self.value(index) for index in outputs],
            [self._interface_attrs(index) for index in inputs],
            [self._interface_attrs(index) for index in outputs],
            self.source,
        )

    def _interface_type(self, index: int) -> TensorType:
        try:
            return self.ir_type(index)
        except Unsupported as problem:
            raise ModelVerificationError(f"{self.source}: input {problem}") from None

    def _interface_attrs(self, index: int) -> DictionaryAttr:
        return DictionaryAttr({NAME_ATTR: StringAttr(self.tensors[index].name)})

    def _convert(self, operator: TfliteOperator) -> str | None:
        """Convert one operator; the reason it is unsupported, or None."""
        self._operator, self._ops = operator, []
        where = f"{self.source}: operator '{operator.name}' ({operator.op_type})"
        try:
            converter = CONVERTERS.get(operator.op_type)
            if converter is not None:
                ops.check_arity(operator, ARITIES.get(operator.op_type, ops.UNARY))
            if converter is not None and ops.is_integer_form(self, operator):
                converter(self, operator)
            else:
                self._convert_external(operator)
        except Unsupported as problem:
            return str(problem)
        except Malformed as problem:
            raise ModelFormatError(f"{where}: {problem}") from None
        except (ValueError, IndexError) as error:  # numpy rejecting inconsistent parameters
            raise ModelVerificationError(f"{where}: {first_line(error)}") from None
        for op in self._ops:
            try:
                op.verify()
            except VerifyException as error:
                raise ModelVerificationError(f"{where}: {first_line(error)}") from None
        return None

    def _convert_external(self, operator: TfliteOperator) -> None:
        """Keep the operator opaque: a `quantized.external` over its present tensors.

        A custom operator's input that is neither constant nor written by an
        operator is memory the runtime allocates for it (the scratch arenas of
        an `ethos-u` operator): it reads as zeros. With `OfflineMemoryAllocation`
        metadata the op records its tensors' arena offsets (`ARENA_OFFSETS_ATTR`).
        """
        inputs = [index for index in operator.inputs if index >= 0]
        if operator.op_type not in BUILTIN_NAMES.values():
            for index in inputs:
                tensor = self.tensors[index]
                if index not in self.values and tensor.data is None and not tensor.is_variable:
                    dtype = NUMPY_DTYPES.get(tensor.type_code, np.dtype(np.uint8))
                    self.values[index] = self.emit_constant(np.zeros(tensor.shape, dtype), self.ir_type(index))
        operands = [self.value(index) for index in inputs]
        op = ExternalOp(operands, [self.ir_type(i) for i in operator.outputs], operator.op_type)
        if self.offsets:
            offsets = [self.offsets.get(index, -1) for index in (*inputs, *operator.outputs)]
            op.attributes[ARENA_OFFSETS_ATTR] = DenseArrayBase.from_list(i64, offsets)
        self.emit(op)
        for index, result in zip(operator.outputs, op.results):
            self.bind(index, result)
