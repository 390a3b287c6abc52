"""The constant pool of a lowering: the `npu.constant`s npu-lower puts in the weights memory.

First the model's constants, at the offsets npu-allocate gave them, in the
form the NPU reads them: raw int8 weights, a bias as the per-channel
scale/bias table of the layers reading it (`npu.scale_bias_entry`), or, on
a target that encodes weights, the encoded weight streams or scale records
of the NPU layer reading it (`npuc.backend.weight_encoding`). Then the
tables the lowering itself makes (a lookup-table activation's or a
softmax's lut, an Ethos-U scalar wider than its scalar register), aligned,
after all others; a table with the bytes of an earlier one is that one, so
the weights memory grows by the distinct tables only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    IntegerType,
    TensorType,
    i8,
    i32,
    i64,
)
from xdsl.ir import Operation, SSAValue
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.addresses import Addresses
from npuc.backend.planning import NPU, placement, sized_bytes
from npuc.backend.weight_encoding import (
    BIAS_OPERAND,
    WEIGHTS_OPERAND,
    layer_streams,
    weighted_consumers,
)
from npuc.dialects import npu, quantized
from npuc.dialects.common import layer_name, value_shape
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.emit.ethos_u.operations import fits_scalar
from npuc.reference.int_parameters import rescale_parameters

SCALAR_TYPE = UniformQuantizedType(IntegerType(32), [1.0], [0])
"""Element type of a scalar operand kept in memory: the int32 value itself."""
SCALAR_SHAPE = (1, 1, 1, 1)
"""Shape of a scalar operand kept in memory, broadcast by the command's IFM2."""


class ConstantPool:
    """The constants of one lowering in the weights memory, of which `weights_used` bytes are in use
    before the lowering's own tables."""

    def __init__(self, addresses: Addresses, weights_used: int):
        self.addresses = addresses
        self.end = weights_used
        """End of the weights memory in use: lowering-made tables (luts) go after it."""
        self.tables: list[npu.ConstantOp] = []
        """The lowering-made tables, in the order they were made."""
        self._table_buffers: dict[tuple[bool, bytes], npu.BufferAttr] = {}
        """The lowering-made tables by (int8, bytes): equal tables share one constant."""
        self._scalars: dict[int, npu.BufferAttr] = {}
        """Constants holding scalars wider than the target's scalar register, by value."""

    def model_constants(self, ops: Iterable[Operation]) -> list[npu.ConstantOp]:
        """The `npu.constant` of each quantized constant of `ops` (`constant`); the tables made later go
        after all of them."""
        constants = [self.constant(op) for op in ops if isinstance(op, quantized.ConstantOp)]
        self.end = max([self.end] + [op.buffer.end for op in constants])
        return constants

    def constant(self, op: quantized.ConstantOp) -> npu.ConstantOp:
        """The constant's initial memory contents: raw weights or a scale/bias table, or, on a target
        that encodes weights, the encoded weight streams or scale records of the NPU layer reading it."""
        target, pass_name = self.addresses.target, self.addresses.pass_name
        memory, offset = self.addresses.location(op.output)
        if memory != target.weights_memory:
            readers = ", ".join(sorted({layer_name(use.operation) for use in op.output.uses}))
            raise PassFailedException(
                f"{pass_name}: a constant read by {readers or 'nothing'} is in '{memory}', not in the weights "
                f"memory '{target.weights_memory}': run npu-allocate first"
            )
        buffer = npu.BufferAttr(memory, offset, sized_bytes(op.output, target, self.addresses.sizes))
        if target.encodes_weights:
            encoded = self._encoded_constant(op.output)
            if encoded is not None:
                return npu.ConstantOp(buffer, _bytes_value(encoded))
        consumers = weighted_consumers(op.output, BIAS_OPERAND)
        if not consumers:
            return npu.ConstantOp(buffer, op.value)
        tables = {_scale_bias_table(op, consumer) for consumer in consumers}
        if len(tables) != 1:
            names = ", ".join(sorted(layer_name(consumer) for consumer in consumers))
            raise PassFailedException(
                f"{pass_name}: a bias constant feeds layers with different rescales ({names}); "
                "give each layer its own bias constant"
            )
        table = tables.pop()
        channels = value_shape(consumers[0].results[0])[-1]
        value = DenseIntOrFPElementsAttr(TensorType(i32, [channels, len(table) // channels // 4]), BytesAttr(table))
        return npu.ConstantOp(buffer, value)

    def _encoded_constant(self, value: SSAValue) -> bytes | None:
        """The encoded weight streams (scale records) of the NPU layer reading `value` as weights (bias),
        or None if no NPU layer does; `buffer_bytes` made sure every such layer encodes it alike."""
        for operand in (WEIGHTS_OPERAND, BIAS_OPERAND):
            readers = [op for op in weighted_consumers(value, operand) if placement(op) == NPU]
            if readers:
                streams = layer_streams(readers[0], self.addresses.target)
                return streams.weights if operand == WEIGHTS_OPERAND else streams.scales
        return None

    def table(self, data: np.ndarray) -> npu.BufferAttr:
        """A constant of the weights memory holding `data` (int8 as bytes, other integers as little-endian
        int32), after all others; a table with the bytes of an earlier one is that one."""
        target = self.addresses.target
        int8 = data.dtype == np.int8
        stored = data.astype("i1" if int8 else "<i4").tobytes()
        key = (int8, stored)
        if key in self._table_buffers:
            return self._table_buffers[key]
        alignment = target.alignment
        offset = -(-self.end // alignment) * alignment
        buffer = npu.BufferAttr(target.weights_memory, offset, len(stored))
        value = DenseIntOrFPElementsAttr(TensorType(i8 if int8 else i32, [data.size]), BytesAttr(stored))
        self.tables.append(npu.ConstantOp(buffer, value))
        self._table_buffers[key] = buffer
        self.end = buffer.end
        return buffer

    def register_scalars(self, command: Operation) -> Operation:
        """`command` with a scalar the target's register cannot hold made an IFM2 constant of one element.

        An Ethos-U command takes a 16-bit scalar (`fits_scalar`); a wider one is
        a new int32 constant of the weights memory (one per value), broadcast.
        """
        if self.addresses.target.ethos_u is None or not isinstance(command, npu.ElementwiseOp) or command.scalar is None:
            return command
        value = command.scalar.value.data
        if fits_scalar(value):
            return command
        if value not in self._scalars:
            self._scalars[value] = self.table(np.array([value], dtype=np.int32))
        buffer = self._scalars[value]
        properties = {key: attr for key, attr in command.properties.items() if key != "scalar"}
        properties["ifm2"] = npu.FeatureMapAttr.dense(buffer.region.data, buffer.offset.data, SCALAR_SHAPE, SCALAR_TYPE)
        return npu.build_command(npu.ElementwiseOp, properties, layer_name(command))


def _bytes_value(data: bytes) -> DenseIntOrFPElementsAttr:
    """A constant's value holding `data` as bytes (an encoded stream)."""
    return DenseIntOrFPElementsAttr(TensorType(i8, [len(data)]), BytesAttr(data))


def _scale_bias_table(bias: quantized.ConstantOp, layer: Operation) -> bytes:
    """Per output channel, little-endian (bias, multiplier, shift): an int32 bias, or an int64 one (wide)."""
    entry = npu.scale_bias_entry(wide=bias.output.type.element_type == i64)
    values = np.frombuffer(bias.value.data.data, dtype=entry["bias"])
    entries = np.zeros(len(values), dtype=entry)
    entries["bias"] = values
    entries["multiplier"], entries["shift"] = rescale_parameters(layer)
    return entries.tobytes()
