"""Reading a `.tflite` flatbuffer: the main subgraph as plain records.

`decode_model` checks the flatbuffer's bounds (`verify`), reads it with the
`tflite` package and turns the main subgraph (index 0) into `TfliteTensor`
and `TfliteOperator` records: shapes, element types, quantization
parameters, constant bytes, operator names and their decoded builtin
options. Anything malformed or truncated, and what TFLite's loader refuses
(other schema versions, buffers of the wrong size, inconsistent
quantization parameters), becomes a `ModelFormatError`, so the converters
work on checked data.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
import tflite
from xdsl.dialects.builtin import (
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    Signedness,
)
from xdsl.ir import Attribute

from npuc.dialects.quantized import UniformQuantizedType
from npuc.errors import ModelFormatError
from npuc.importers.common import (
    TensorTooLarge,
    check_element_count,
    first_line,
    quantization_count_problem,
    quantization_value_problem,
)
from npuc.importers.tflite.ops import Unsupported
from npuc.importers.tflite.verify import verify_flatbuffer

BUILTIN_NAMES = {
    value: name for name, value in vars(tflite.BuiltinOperator).items() if not name.startswith("_")
}
"""TFLite builtin operator code -> its name (`CONV_2D`)."""

TYPE_NAMES = {
    value: name for name, value in vars(tflite.TensorType).items() if not name.startswith("_")
}
"""TFLite tensor type code -> its name (`INT8`)."""

OPTIONS_NAMES = {
    value: name for name, value in vars(tflite.BuiltinOptions).items() if not name.startswith("_")
}
"""TFLite builtin options type code -> its table name (`Conv2DOptions`)."""

NUMPY_DTYPES: dict[int, np.dtype] = {
    tflite.TensorType.FLOAT32: np.dtype("<f4"),
    tflite.TensorType.FLOAT16: np.dtype("<f2"),
    tflite.TensorType.FLOAT64: np.dtype("<f8"),
    tflite.TensorType.INT8: np.dtype("i1"),
    tflite.TensorType.INT16: np.dtype("<i2"),
    tflite.TensorType.INT32: np.dtype("<i4"),
    tflite.TensorType.INT64: np.dtype("<i8"),
    tflite.TensorType.UINT8: np.dtype("u1"),
    tflite.TensorType.UINT16: np.dtype("<u2"),
    tflite.TensorType.UINT32: np.dtype("<u4"),
    tflite.TensorType.UINT64: np.dtype("<u8"),
}
"""TFLite tensor types whose data npuc reads, with their (little-endian) numpy dtype."""

SCHEMA_VERSION = 3
"""The TFLite schema version TFLite reads (`TFLITE_SCHEMA_VERSION`); it refuses any other."""

QUANTIZED_STORAGE = {tflite.TensorType.INT8: 8, tflite.TensorType.INT16: 16}
"""TFLite integer types that carry quantized activations or weights, with their width."""


@dataclass(frozen=True)
class TfliteTensor:
    """One tensor of the main subgraph, decoded from the flatbuffer.

    `data` holds the raw bytes of a constant (None for an activation);
    `scales` is empty when the tensor is not quantized.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    type_code: int
    data: bytes | None
    scales: np.ndarray
    zero_points: np.ndarray
    quantized_dimension: int
    is_variable: bool

    @property
    def type_name(self) -> str:
        """The TFLite name of the element type (`INT8`)."""
        return TYPE_NAMES.get(self.type_code, f"type {self.type_code}")

    @property
    def is_quantized(self) -> bool:
        """Whether the tensor holds quantized int8/int16 values."""
        return self.type_code in QUANTIZED_STORAGE and self.scales.size > 0

    @property
    def is_per_tensor(self) -> bool:
        """Whether the tensor holds int8/int16 values with one scale and zero point."""
        return self.is_quantized and self.scales.size == 1


@dataclass(frozen=True)
class TfliteOperator:
    """One operator of the main subgraph; absent optional inputs are -1.

    `options` is the decoded builtin options table of the operator's kind
    (e.g. a `tflite.Conv2DOptions`), or None when the operator has none.
    """

    name: str
    op_type: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: object | None


def decode_model(
    data: bytes, source: str
) -> tuple[list[TfliteTensor], list[TfliteOperator], list[int], list[int]]:
    """Tensors, operators, inputs and outputs of the main subgraph, or ModelFormatError."""
    if len(data) < 8 or not tflite.Model.ModelBufferHasIdentifier(data, 0):
        raise ModelFormatError(f"{source}: not a TFLite model (no TFL3 file identifier)")
    verify_flatbuffer(data, source)
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.Version() != SCHEMA_VERSION:
            raise ModelFormatError(
                f"{source}: TFLite schema version {model.Version()}, not {SCHEMA_VERSION} (truncated or corrupt)"
            )
        if model.SubgraphsLength() < 1:
            raise ModelFormatError(f"{source}: not a valid TFLite model (no subgraph)")
        subgraph = model.Subgraphs(0)
        tensors = [
            _decode_tensor(model, subgraph.Tensors(index), index, data)
            for index in range(subgraph.TensorsLength())
        ]
        operators = [
            _decode_operator(model, subgraph.Operators(index), tensors)
            for index in range(subgraph.OperatorsLength())
        ]
        inputs = [int(i) for i in subgraph.InputsAsNumpy()] if subgraph.InputsLength() else []
        outputs = [int(i) for i in subgraph.OutputsAsNumpy()] if subgraph.OutputsLength() else []
    except (IndexError, struct.error, ValueError, AttributeError, TypeError) as error:
        raise ModelFormatError(
            f"{source}: not a valid TFLite model (truncated or corrupt: {first_line(error)})"
        ) from None
    if not operators or not outputs:
        raise ModelFormatError(f"{source}: not a valid TFLite model (the main subgraph is empty)")
    for index in (*inputs, *outputs):
        if not 0 <= index < len(tensors):
            raise ModelFormatError(f"{source}: not a valid TFLite model (bad tensor index {index})")
    for tensor in tensors:
        _check_tensor(tensor, source)
    return tensors, operators, inputs, outputs


def _check_tensor(tensor: TfliteTensor, source: str) -> None:
    """Raise ModelFormatError unless the tensor's shape, data size and quantization are consistent.

    TFLite's loader refuses the same: a negative extent, a buffer whose size
    is not the shape's, zero points not one per scale, several scales not
    one per slice of the quantized dimension.
    """
    what = f"{source}: tensor '{tensor.name}'"
    if any(extent < 0 for extent in tensor.shape):
        raise ModelFormatError(f"{what} has shape {list(tensor.shape)}")
    try:
        check_element_count(tensor.shape, "tensor")
    except TensorTooLarge as error:
        raise ModelFormatError(f"{what}: {error}") from None
    dtype = NUMPY_DTYPES.get(tensor.type_code)
    if tensor.data is not None and dtype is not None:
        needed = math.prod(tensor.shape) * dtype.itemsize
        if len(tensor.data) != needed:
            raise ModelFormatError(
                f"{what} has {len(tensor.data)} bytes of data; its shape {list(tensor.shape)} "
                f"of {tensor.type_name} needs {needed}"
            )
    if tensor.scales.size:
        _check_quantization(tensor, what)


def _check_quantization(tensor: TfliteTensor, what: str) -> None:
    """Counts as TFLite's loader checks them; values (finite positive scales, zero points in range) when int8/int16."""
    axis_size = None
    if tensor.scales.size > 1:
        if not 0 <= tensor.quantized_dimension < len(tensor.shape):
            raise ModelFormatError(
                f"{what}: quantized dimension {tensor.quantized_dimension} outside a "
                f"rank-{len(tensor.shape)} tensor"
            )
        axis_size = tensor.shape[tensor.quantized_dimension]
    problem = quantization_count_problem(tensor.scales.size, tensor.zero_points.size, axis_size)
    bits = QUANTIZED_STORAGE.get(tensor.type_code)
    if problem is None and bits is not None:
        scales, zero_points = [float(s) for s in tensor.scales], [int(z) for z in tensor.zero_points]
        problem = quantization_value_problem(scales, zero_points, bits)
    if problem is not None:
        raise ModelFormatError(f"{what}: quantization with {problem}")


def _decode_tensor(model: tflite.Model, tensor: tflite.Tensor, index: int, data: bytes) -> TfliteTensor:
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    scales = np.zeros(0, np.float32)
    zero_points = np.zeros(0, np.int64)
    dimension = 0
    quantization = tensor.Quantization()
    if quantization is not None and quantization.ScaleLength():
        scales = np.asarray(quantization.ScaleAsNumpy(), dtype=np.float32)
        zero_points = np.zeros(0, np.int64)
        if quantization.ZeroPointLength():
            zero_points = np.asarray(quantization.ZeroPointAsNumpy(), dtype=np.int64)
        dimension = quantization.QuantizedDimension()
    return TfliteTensor(
        index=index,
        name=tensor.Name().decode(errors="replace") if tensor.Name() else f"tensor_{index}",
        shape=shape,
        type_code=tensor.Type(),
        data=_buffer_bytes(model, tensor.Buffer(), data),
        scales=scales,
        zero_points=zero_points,
        quantized_dimension=dimension,
        is_variable=bool(tensor.IsVariable()),
    )


def _buffer_bytes(model: tflite.Model, index: int, data: bytes) -> bytes | None:
    """The bytes of buffer `index`; None for an empty buffer (an activation).

    Buffers of large models live after the flatbuffer (`offset`/`size`).
    """
    if index >= model.BuffersLength():
        raise IndexError(f"a tensor refers to buffer {index} of {model.BuffersLength()}")
    if index == 0:  # buffer 0 is the empty buffer by convention
        return None
    buffer = model.Buffers(index)
    if buffer.Offset() > 1:
        end = buffer.Offset() + buffer.Size()
        if end > len(data):
            raise IndexError("buffer beyond the end of the file")
        return data[buffer.Offset() : end]
    if buffer.DataLength() == 0:
        return None
    return buffer.DataAsNumpy().tobytes()


def _decode_operator(
    model: tflite.Model, operator: tflite.Operator, tensors: list[TfliteTensor]
) -> TfliteOperator:
    code = model.OperatorCodes(operator.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin > max(BUILTIN_NAMES):
        raise IndexError(f"operator code {builtin} is no TFLite builtin operator")
    if builtin == tflite.BuiltinOperator.CUSTOM:
        custom = code.CustomCode()
        op_type = custom.decode(errors="replace") if custom else "CUSTOM"
    else:
        op_type = BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")
    inputs = tuple(int(i) for i in operator.InputsAsNumpy()) if operator.InputsLength() else ()
    outputs = tuple(int(i) for i in operator.OutputsAsNumpy()) if operator.OutputsLength() else ()
    for index in (*inputs, *outputs):
        if not -1 <= index < len(tensors):
            raise IndexError(f"an operator refers to tensor {index} of {len(tensors)}")
    if -1 in outputs:
        raise IndexError("an operator has an absent (-1) output")
    name = tensors[outputs[0]].name if outputs else op_type
    return TfliteOperator(name, op_type, inputs, outputs, _options(operator))


def _options(operator: tflite.Operator) -> object | None:
    """The builtin options table of an operator, as its generated options class."""
    table = operator.BuiltinOptions()
    name = OPTIONS_NAMES.get(operator.BuiltinOptionsType(), "")
    options_class = getattr(tflite, name, None) if table is not None else None
    if options_class is None:
        return None
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    return options


_PLAIN_TYPES: dict[int, Attribute] = {
    tflite.TensorType.FLOAT32: Float32Type(),
    tflite.TensorType.FLOAT16: Float16Type(),
    tflite.TensorType.FLOAT64: Float64Type(),
    tflite.TensorType.BOOL: IntegerType(1),
    tflite.TensorType.INT8: IntegerType(8),
    tflite.TensorType.INT16: IntegerType(16),
    tflite.TensorType.INT32: IntegerType(32),
    tflite.TensorType.INT64: IntegerType(64),
    tflite.TensorType.UINT8: IntegerType(8, Signedness.UNSIGNED),
    tflite.TensorType.UINT16: IntegerType(16, Signedness.UNSIGNED),
    tflite.TensorType.UINT32: IntegerType(32, Signedness.UNSIGNED),
    tflite.TensorType.UINT64: IntegerType(64, Signedness.UNSIGNED),
}
"""Element types of tensors that carry no quantization."""


def element_type(tensor: TfliteTensor) -> Attribute:
    """The IR element type of a tensor: quantized for int8/int16 with parameters."""
    if tensor.is_quantized:
        per_axis = tensor.scales.size > 1
        return UniformQuantizedType(
            IntegerType(QUANTIZED_STORAGE[tensor.type_code]),
            [float(s) for s in tensor.scales],
            [int(z) for z in tensor.zero_points],
            tensor.quantized_dimension if per_axis else -1,
        )
    plain = _PLAIN_TYPES.get(tensor.type_code)
    if plain is None:
        raise Unsupported(f"tensor '{tensor.name}' has type {tensor.type_name}")
    return plain
