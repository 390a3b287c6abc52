"""`ethos-u` operators inside an imported model: run them in the register-stream simulator.

The TFLite importer keeps a custom operator as `quantized.external` over its
tensors: for an `ethos-u` operator the command stream and the read-only data
(constants), the scratch arenas (zeros: runtime memory) and the IFMs, with
the arena offsets of `OfflineMemoryAllocation` as `tflite.arena_offsets`.
`run_ethos_u` is the interpreter handler that rebuilds the operator from
those operands and runs it with `simulate_operator`, sample by sample for a
batch. Operands that are one SSA value are one tensor (Vela passes one
scratch tensor as both arenas).
"""

from __future__ import annotations

import numpy as np
import tflite
from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Operation, SSAValue

from npuc.dialects.common import layer_name, value_shape
from npuc.dialects.quantized import ExternalOp, quant_type
from npuc.emit.ethos_u.package import (
    ARENA_OFFSETS_ATTR,
    CUSTOM_CODE,
    FIXED_INPUTS,
    EthosUOperator,
    PackageTensor,
)
from npuc.errors import ModelFormatError, UnsupportedOperatorError
from npuc.reference.interpreter import Handler
from npuc.sim.ethos_u.runner import simulate_operator


def _type_code(dtype: np.dtype) -> int:
    """The TFLite tensor type of a numpy dtype (UINT8 when TFLite has no such name)."""
    return getattr(tflite.TensorType, dtype.name.upper(), tflite.TensorType.UINT8)


def _operator(op: ExternalOp, operands: list[np.ndarray]) -> EthosUOperator:
    """The ethos-u operator the external op stands for, with one sample's tensor sizes."""
    values: list[SSAValue] = [*op.operands, *op.results]
    offsets_attr = op.attributes.get(ARENA_OFFSETS_ATTR)
    offsets = list(offsets_attr.get_values()) if isinstance(offsets_attr, DenseArrayBase) else [-1] * len(values)
    if len(offsets) != len(values) or len(op.operands) < 4:
        raise ModelFormatError(f"ethos-u operator '{layer_name(op)}': expected the command stream, read-only data, "
                               "scratch and fast scratch inputs and an arena offset per tensor")
    indices: dict[SSAValue, int] = {}
    tensors = []
    roles = [*FIXED_INPUTS, *(f"IFM {n}" for n in range(len(op.operands) - 4)),
             *(layer_name(op) if n == 0 else f"OFM {n}" for n in range(len(op.results)))]
    for position, (value, offset) in enumerate(zip(values, offsets)):
        index = indices.setdefault(value, len(indices))
        shape = value_shape(value)
        constant = operands[position] if position < 2 else None
        dtype = operands[position].dtype if position < len(operands) else _result_dtype(op, position)
        tensors.append(PackageTensor(
            index=index,
            name=roles[position],
            shape=shape,
            type_code=_type_code(dtype),
            nbytes=int(np.prod(shape, dtype=np.int64)) * dtype.itemsize,
            data=np.ascontiguousarray(constant).tobytes() if constant is not None else None,
            arena_offset=int(offset) if offset >= 0 else None,
        ))
    count = len(op.operands)
    command_stream, read_only, scratch, scratch_fast = tensors[:4]
    return EthosUOperator(0, command_stream, read_only, scratch, scratch_fast, tuple(tensors[4:count]),
                          tuple(tensors[count:]))


def _result_dtype(op: ExternalOp, position: int) -> np.dtype:
    """The stored element type of result `position` (counted after the operands)."""
    result = op.results[position - len(op.operands)]
    qtype = quant_type(result)
    if qtype is not None:
        return np.dtype(qtype.numpy_dtype())
    raise ModelFormatError(f"ethos-u operator '{layer_name(op)}': result {position} is not quantized")


def is_ethos_u(op: Operation) -> bool:
    """Whether the op is an imported `ethos-u` custom operator."""
    return isinstance(op, ExternalOp) and op.op_type.data == CUSTOM_CODE


def with_ethos_u(handlers: dict[type[Operation], Handler]) -> dict[type[Operation], Handler]:
    """An interpreter handler table where `quantized.external` ops of custom code ethos-u run in the simulator.

    Other external ops keep the table's own handler.
    """
    others = handlers.get(ExternalOp)

    def external(op: Operation, operands: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        if is_ethos_u(op):
            return run_ethos_u(op, operands)
        if others is None:
            raise UnsupportedOperatorError("reference interpreter", [(layer_name(op), op.name, "no handler")])
        return others(op, operands)

    return {**handlers, ExternalOp: external}


def run_ethos_u(op: Operation, operands: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """Run an `ethos-u` external op on its operands in the simulator; its results."""
    assert isinstance(op, ExternalOp) and is_ethos_u(op)
    ifms = operands[4:]
    samples = 1
    if ifms:
        leading = value_shape(op.operands[4])[0] if value_shape(op.operands[4]) else 1
        samples = ifms[0].shape[0] // leading if ifms[0].ndim and leading else 1
    operator = _operator(op, operands)
    outputs: list[list[np.ndarray]] = [[] for _ in op.results]
    for sample in range(samples):
        sample_ifms = [np.ascontiguousarray(np.array_split(ifm, samples)[sample]).tobytes() for ifm in ifms]
        results = simulate_operator(operator, sample_ifms)
        for index, (result, data) in enumerate(zip(op.results, results)):
            dtype = _result_dtype(op, len(op.operands) + index)
            outputs[index].append(np.frombuffer(data, dtype).reshape(value_shape(result)))
    arrays = [np.concatenate(parts) if samples > 1 else parts[0] for parts in outputs]
    return arrays[0] if len(arrays) == 1 else arrays
