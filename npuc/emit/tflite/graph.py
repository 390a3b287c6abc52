"""The subgraph under construction: IR values as TFLite tensors, and the operators that connect them.

`GraphWriter` is the state of an export: every SSA value it has written is a
tensor index; a `quantized.constant` becomes a constant tensor (its bytes in
a buffer) the first time an operator reads it; exporters add result tensors
and operators. `tensor_for` gives the TFLite form of an IR tensor type:
`!quantized.uniform` element types become INT8/INT16/INT32 tensors with
their scales and zero points (per tensor, or per axis with the quantized
dimension), float and plain integer types their TFLite counterparts.

`NoTfliteForm` is what an exporter raises for an op TFLite cannot express;
the export collects every such op and reports them at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tflite
from xdsl.dialects.builtin import (
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    Signedness,
    TensorType,
)
from xdsl.ir import Attribute, SSAValue

from npuc.dialects import quantized
from npuc.dialects.quantized import UniformQuantizedType
from npuc.emit.tflite.flatbuffer import (
    Model,
    Operator,
    Options,
    Quantization,
    Subgraph,
    Tensor,
)


class NoTfliteForm(Exception):
    """An op (or one of its forms) that no TFLite builtin operator computes; the message says why."""


QUANTIZED_TYPES = {8: tflite.TensorType.INT8, 16: tflite.TensorType.INT16, 32: tflite.TensorType.INT32}
"""TFLite tensor type of each quantized storage width."""

_FLOAT_TYPES = {
    Float16Type: tflite.TensorType.FLOAT16,
    Float32Type: tflite.TensorType.FLOAT32,
    Float64Type: tflite.TensorType.FLOAT64,
}
_SIGNED_TYPES = {
    1: tflite.TensorType.BOOL, 8: tflite.TensorType.INT8, 16: tflite.TensorType.INT16,
    32: tflite.TensorType.INT32, 64: tflite.TensorType.INT64,
}
_UNSIGNED_TYPES = {
    8: tflite.TensorType.UINT8, 16: tflite.TensorType.UINT16,
    32: tflite.TensorType.UINT32, 64: tflite.TensorType.UINT64,
}


def type_code(element: Attribute) -> int:
    """The `tflite.TensorType` of an IR element type; NoTfliteForm for one TFLite has not."""
    if isinstance(element, UniformQuantizedType):
        return QUANTIZED_TYPES[element.bits]
    for kind, code in _FLOAT_TYPES.items():
        if isinstance(element, kind):
            return code
    if isinstance(element, IntegerType):
        table = _UNSIGNED_TYPES if element.signedness.data == Signedness.UNSIGNED else _SIGNED_TYPES
        if element.width.data in table:
            return table[element.width.data]
    raise NoTfliteForm(f"element type {element} has no TFLite tensor type")


def quantization_of(element: Attribute) -> Quantization | None:
    """The TFLite quantization of a `!quantized.uniform` element type (None for other types)."""
    if not isinstance(element, UniformQuantizedType):
        return None
    return Quantization(
        tuple(scale.data for scale in element.scales.data),
        tuple(zero_point.data for zero_point in element.zero_points.data),
        element.axis.data if element.is_per_axis else 0,
    )


def tensor_for(tensor_type: Attribute, name: str, data: bytes | None = None) -> Tensor:
    """The TFLite tensor of an IR tensor type (a constant when `data` holds its bytes)."""
    assert isinstance(tensor_type, TensorType), f"expected a tensor type, got {tensor_type}"
    element = tensor_type.element_type
    return Tensor(name, tuple(tensor_type.get_shape()), type_code(element), quantization_of(element), data)


class GraphWriter:
    """The tensors and operators of one subgraph, and the tensor index of every value written so far."""

    def __init__(self) -> None:
        self.tensors: list[Tensor] = []
        self.operators: list[Operator] = []
        self.names: dict[SSAValue, str] = {}
        """Names that values must take (the model's interface tensors), over the writing layer's."""
        self._indices: dict[tuple[SSAValue, str], int] = {}

    def add_tensor(self, tensor: Tensor) -> int:
        """Append a tensor; its index."""
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def bind(self, value: SSAValue, index: int) -> None:
        """Make tensor `index` the tensor of `value`."""
        self._indices[(value, "")] = index

    def is_bound(self, value: SSAValue) -> bool:
        """Whether `value` has a tensor already."""
        return (value, "") in self._indices

    def tensor(self, value: SSAValue) -> int:
        """The tensor of an operand: written before, or a constant written now."""
        key = (value, "")
        if key not in self._indices:
            self._indices[key] = self.add_tensor(tensor_for(value.type, "", constant_bytes(value)))
        return self._indices[key]

    def constant_with(self, value: SSAValue, quantization: Quantization, role: str) -> int:
        """The tensor of a constant operand with `quantization` set (a bias: TFLite records its implied scale)."""
        key = (value, role)
        if key not in self._indices:
            tensor = tensor_for(value.type, "", constant_bytes(value))
            self._indices[key] = self.add_tensor(
                Tensor(tensor.name, tensor.shape, tensor.type_code, quantization, tensor.data)
            )
        return self._indices[key]

    def result(self, value: SSAValue, name: str) -> int:
        """A new activation tensor for a result (named by the model's interface, else `name`), bound to it."""
        index = self.add_tensor(tensor_for(value.type, self.names.get(value, name)))
        self.bind(value, index)
        return index

    def intermediate(self, tensor_type: Attribute, name: str) -> int:
        """A new activation tensor no IR value stands for (between two operators of one op's export)."""
        return self.add_tensor(tensor_for(tensor_type, name))

    def parameter(self, values: int | Sequence[int] | Sequence[Sequence[int]], name: str) -> int:
        """A constant int32 tensor (shapes, axes, paddings: a matrix for nested lists); a scalar for an int."""
        array = np.asarray(values, dtype="<i4")
        return self.add_tensor(Tensor(name, tuple(array.shape), tflite.TensorType.INT32, None, array.tobytes()))

    def operator(self, code: str, inputs: Sequence[int], outputs: Sequence[int],
                 options: Options | None = None) -> None:
        """Append a builtin operator."""
        self.operators.append(Operator(code, tuple(inputs), tuple(outputs), options))

    def model(self, inputs: Sequence[int], outputs: Sequence[int], description: str,
              metadata: Sequence[tuple[str, bytes]] = ()) -> Model:
        """The written subgraph as a model of one subgraph."""
        subgraph = Subgraph(tuple(self.tensors), tuple(self.operators), tuple(inputs), tuple(outputs))
        return Model((subgraph,), description, tuple(metadata))


def constant_bytes(value: SSAValue) -> bytes:
    """The stored bytes of a `quantized.constant` result; NoTfliteForm for a value nothing wrote."""
    owner = value.owner
    if not isinstance(owner, quantized.ConstantOp):
        raise NoTfliteForm("an operand is read before any operator writes it")
    return owner.value.data.data
