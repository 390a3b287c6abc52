"""Build single-operator TFLite flatbuffers and run them with TFLite's reference kernels.

Test helper: `build_model` serialises one operator with its tensors through
npuc's TFLite writer (`npuc.emit.tflite.flatbuffer`); `run_model` runs a
model with ``ai_edge_litert`` and the BUILTIN_REF op resolver, so results come
from ``tensorflow/lite/kernels/internal/reference``.

Operators and their options are named as in the TFLite schema: the operator
by its ``BuiltinOperator`` name (``"CONV_2D"``), the options by their table
name (``"Conv2DOptions"``) and fields by the suffix of the generated adder
functions (``Conv2DOptionsAddStrideH`` -> ``StrideH``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tflite
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from npuc.emit.tflite.flatbuffer import (
    Model,
    Operator,
    Options,
    Quantization,
    Subgraph,
    Tensor,
    serialize,
)

_TENSOR_TYPES = {
    np.dtype(np.float32): tflite.TensorType.FLOAT32,
    np.dtype(np.int64): tflite.TensorType.INT64,
    np.dtype(np.int32): tflite.TensorType.INT32,
    np.dtype(np.int16): tflite.TensorType.INT16,
    np.dtype(np.int8): tflite.TensorType.INT8,
}


@dataclass
class TensorSpec:
    """One tensor of the model: a constant when ``data`` is given.

    ``scale``/``zero_point`` hold one value per tensor or, with
    ``quantized_dimension``, one per slice along that axis.
    """

    shape: Sequence[int]
    dtype: type
    scale: Sequence[float] | None = None
    zero_point: Sequence[int] | None = None
    quantized_dimension: int = 0
    data: np.ndarray | None = None
    name: str | None = None


def to_tensor(spec: TensorSpec) -> Tensor:
    """The writer's record of a tensor spec (unnamed: the writer names it by its index)."""
    quantization = None
    if spec.scale is not None:
        assert spec.zero_point is not None, "a quantized tensor needs its zero points"
        quantization = Quantization(
            tuple(float(s) for s in np.asarray(spec.scale, dtype=np.float32)),
            tuple(int(z) for z in spec.zero_point),
            spec.quantized_dimension,
        )
    data = np.ascontiguousarray(spec.data).tobytes() if spec.data is not None else None
    return Tensor(spec.name or "", tuple(spec.shape), _TENSOR_TYPES[np.dtype(spec.dtype)], quantization, data)


def build_model(
    operator: str,
    tensors: Sequence[TensorSpec],
    inputs: Sequence[int],
    outputs: Sequence[int],
    options: str | None = None,
    **fields: float,
) -> bytes:
    """Serialise a model holding one ``operator`` (a BuiltinOperator name) with npuc's TFLite writer.

    ``inputs``/``outputs`` index ``tensors`` (-1 marks an absent optional
    input); the model's inputs are the operator inputs without data.
    ``options`` names the builtin options table, ``fields`` its values.
    """
    subgraph = Subgraph(
        tensors=tuple(to_tensor(spec) for spec in tensors),
        operators=(Operator(operator, tuple(inputs), tuple(outputs), Options(options, fields) if options else None),),
        inputs=tuple(i for i in inputs if i >= 0 and tensors[i].data is None),
        outputs=tuple(outputs),
    )
    return serialize(Model((subgraph,), f"npuc single-operator test model: {operator}"))


OPTIMIZED_KERNEL_OPERATORS = frozenset({"SUM"})
"""Operators whose BUILTIN_REF kernel is wrong in ai_edge_litert 2.3 for int8/int16.

Its SUM reads int8 and int16 data as uint8; the default BUILTIN resolver's
kernel (the one TFLite runs in practice) is the reference for these.
"""


def reference_interpreter(model: bytes, operator: str | None = None) -> Interpreter:
    """An allocated ai_edge_litert interpreter using TFLite's reference kernels.

    For an ``operator`` of OPTIMIZED_KERNEL_OPERATORS it uses the default
    BUILTIN kernels instead.
    """
    resolver = OpResolverType.BUILTIN_REF
    if operator in OPTIMIZED_KERNEL_OPERATORS:
        resolver = OpResolverType.BUILTIN
    interpreter = Interpreter(model_content=model, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def run_model(model: bytes, *inputs: np.ndarray, operator: str | None = None) -> list[np.ndarray]:
    """Run a model with TFLite's reference kernels; return every output in order."""
    interpreter = reference_interpreter(model, operator)
    for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
