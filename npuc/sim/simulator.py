"""Functional simulator of npu command programs.

It executes lowered `npu` IR the way the hardware would see it: every memory
region is a byte array, `npu.constant` ops fill the constant memory, inputs
are written through their feature-map descriptors, and each command reads its
operands from memory, computes with the TFLite integer kernels and writes its
OFM back to memory. Nothing is taken from the quantized IR the program came
from, so a wrong address, an overlapping allocation or a bad scale/bias table
shows up as a wrong output, or, for overlaps that a command-at-a-time
simulation cannot see, as a `MemoryHazardError` of the hazard check run
first (`npuc.sim.hazards`): the simulator must reproduce the quantized
reference interpreter bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation

from npuc.dialects import npu
from npuc.dialects.common import array_values, layer_name
from npuc.dialects.npu_memory import HEIGHT_AXIS
from npuc.errors import InputDataError, NpucError
from npuc.reference import int_elementwise, int_kernels
from npuc.reference.fixed_point import dequantize, quantize
from npuc.sim import integer_ops
from npuc.sim.encoded_weights import decode_layer
from npuc.sim.hazards import check_program, region_sizes
from npuc.targets import Target, available_targets, load_target, parse_target_spec


class Memories:
    """The byte arrays of every memory region a program touches."""

    def __init__(self, sizes: dict[str, int]):
        self.regions = {name: np.zeros(size, dtype=np.uint8) for name, size in sizes.items()}

    def view(self, fm: npu.FeatureMapAttr) -> np.ndarray:
        """A strided numpy view of a feature map that does not wrap, in its region (reads and writes)."""
        return np.ndarray(
            fm.shape_values(),
            dtype=fm.element_type.numpy_dtype(),
            buffer=self.regions[fm.region.data],
            offset=fm.offset.data,
            strides=fm.stride_values(),
        )

    def read(self, fm: npu.FeatureMapAttr) -> np.ndarray:
        """A copy of a feature map's current contents (the rows of both pieces of a map that wraps)."""
        if not fm.wrap.data:
            return self.view(fm).copy()
        return np.concatenate([self.view(piece) for piece in fm.pieces()], axis=HEIGHT_AXIS)

    def write(self, fm: npu.FeatureMapAttr, values: np.ndarray) -> None:
        """Store values (already of the storage type) into a feature map (split at the wrap of one that wraps)."""
        if not fm.wrap.data:
            self.view(fm)[...] = values
            return
        top, bottom = fm.pieces()
        self.view(top)[...] = values[:, : fm.wrap.data]
        self.view(bottom)[...] = values[:, fm.wrap.data :]

    def bytes(self, buffer: npu.BufferAttr) -> np.ndarray:
        """The bytes of a buffer (a view)."""
        return self.regions[buffer.region.data][buffer.offset.data : buffer.end]


def _scale_bias(
    memories: Memories, buffer: npu.BufferAttr, channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bias, multiplier, shift) per channel; the bias keeps its width (int64 in a wide table),
    which selects the integer kernels' rescale as TFLite's bias type does."""
    wide = buffer.size.data == channels * npu.WIDE_SCALE_BIAS_ENTRY_BYTES
    entries = memories.bytes(buffer).view(npu.scale_bias_entry(wide))
    bias = entries["bias"].astype(np.int64 if wide else np.int32)
    return bias, entries["multiplier"].astype(np.int64), entries["shift"].astype(np.int64)


def _weights(memories: Memories, buffer: npu.BufferAttr, shape: Sequence[int]) -> np.ndarray:
    return memories.bytes(buffer).view(np.int8).reshape(shape)


def _constants(
    memories: Memories, op: npu.WeightedOp | npu.FullyConnectedOp, weight_shape: Sequence[int], target: Target | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weights in `weight_shape`, bias, multiplier, shift) of a weighted command: from its raw weights and
    scale/bias table, or decoded from its encoded streams (`npuc.sim.encoded_weights`)."""
    if op.encoding is None:
        bias, multiplier, shift = _scale_bias(memories, op.scale_bias, op.ofm.shape_values()[-1])
        return _weights(memories, op.weights, weight_shape), bias, multiplier, shift
    if target is None:
        raise NpucError(f"layer '{layer_name(op)}' has encoded weights but the program names no {npu.TARGET_ATTR}")
    decoded = decode_layer(op, memories.bytes(op.weights), memories.bytes(op.scale_bias), target)
    return decoded.weights.reshape(weight_shape), decoded.bias, decoded.multiplier, decoded.exponent


def _conv_like(memories: Memories, op: npu.WeightedOp | npu.FullyConnectedOp, target: Target | None) -> None:
    ifm_zero_point, ofm_zero_point = op.ifm.element_type.zero_point, op.ofm.element_type.zero_point
    ifm = memories.read(op.ifm)
    ofm_shape = op.ofm.shape_values()
    if isinstance(op, npu.FullyConnectedOp):
        weight_shape: tuple[int, ...] = (ofm_shape[1], ifm.shape[1])
    elif isinstance(op, npu.DepthwiseConv2dOp):
        weight_shape = (1, *op.window().kernel, ofm_shape[3])
    else:
        weight_shape = (ofm_shape[3], *op.window().kernel, ifm.shape[3])
    weights, bias, multiplier, shift = _constants(memories, op, weight_shape, target)
    rescale = (bias, multiplier, shift, ofm_zero_point, op.act_min.value.data, op.act_max.value.data)
    if isinstance(op, npu.FullyConnectedOp):
        result = int_kernels.fully_connected(ifm, ifm_zero_point, weights, *rescale)
    else:
        window = op.window()
        if isinstance(op, npu.DepthwiseConv2dOp):
            result = int_kernels.depthwise_conv2d(
                ifm, ifm_zero_point, weights, *rescale,
                window.strides, window.dilations, window.padding, ofm_shape[3] // ifm.shape[3],
                op.ofm.element_type.numpy_dtype(),
            )  # fmt: skip
        else:
            result = int_kernels.conv2d(
                ifm, ifm_zero_point, weights, *rescale, window.strides, window.dilations, window.padding
            )
    memories.write(op.ofm, _looked_up(memories, op, result))


def _pool(memories: Memories, op: npu.PoolOp) -> None:
    if op.kind.data == "reduce_sum":
        total = integer_ops.reduce_sum(memories.read(op.ifm), op.ifm.element_type.zero_point)
        memories.write(op.ofm, _output_stage(op, total, (1, 0), "half_up"))
        return
    window = op.window()
    function = int_kernels.max_pool2d if op.kind.data == "max" else int_kernels.avg_pool2d
    result = function(
        memories.read(op.ifm),
        window.kernel,
        window.strides,
        window.padding,
        op.act_min.value.data,
        op.act_max.value.data,
    )
    memories.write(op.ofm, _looked_up(memories, op, result))


def _looked_up(memories: Memories, op: npu.ComputeOp, result: np.ndarray) -> np.ndarray:
    """`result` through the command's fused lookup table, if it has one (int8 OFMs: `_check_lut`)."""
    if op.lut is None:
        return result
    table = memories.bytes(op.lut).view(op.ofm.element_type.numpy_dtype())
    return table[result.astype(np.int64) + npu.LUT_ENTRIES // 2]


def _output_stage(
    op: npu.ElementwiseOp | npu.PoolOp,
    values: np.ndarray,
    rescale: Sequence[int],
    rounding: str,
    table: np.ndarray | None = None,
) -> np.ndarray:
    """The integer output stage of `op` on exact `values` (then `table` looked up), as the OFM storage type."""
    multiplier, shift = rescale
    result = integer_ops.output_stage(
        values,
        multiplier,
        shift,
        rounding,
        op.ofm.element_type.zero_point,
        op.act_min.value.data,
        op.act_max.value.data,
        table,
    )
    return result.astype(op.ofm.element_type.numpy_dtype())


def _integer_elementwise(memories: Memories, op: npu.ElementwiseOp) -> None:
    assert op.rescale is not None and op.rounding is not None
    first = integer_ops.exact(memories.read(op.ifm)) - op.ifm.element_type.zero_point
    second = None
    if op.ifm2 is not None:
        second = integer_ops.exact(memories.read(op.ifm2)) - op.ifm2.element_type.zero_point
    elif op.scalar is not None:
        second = integer_ops.exact(op.scalar.value.data)
    if op.reversed is not None:
        assert second is not None, "a reversed elementwise has ifm2 or a scalar (verified)"
        first, second = second, first
    values = integer_ops.operate(op.kind.data, first, second, op.rounding.data)
    table = None if op.lut is None else memories.bytes(op.lut).view(f"<i{op.ofm.element_type.bits // 8}")
    result = _output_stage(op, values, array_values(op.rescale), op.rounding.data, table)
    memories.write(op.ofm, np.broadcast_to(result, op.ofm.shape_values()))


def _elementwise(memories: Memories, op: npu.ElementwiseOp) -> None:
    if op.rescale is not None:
        _integer_elementwise(memories, op)
        return
    assert op.ifm2 is not None
    first, second, out = op.ifm.element_type, op.ifm2.element_type, op.ofm.element_type
    kernel = {"add": int_elementwise.add, "sub": int_elementwise.sub, "mul": int_elementwise.mul}[op.kind.data]
    result = kernel(
        memories.read(op.ifm),
        first.zero_point,
        first.scale,
        memories.read(op.ifm2),
        second.zero_point,
        second.scale,
        out.zero_point,
        out.scale,
        op.act_min.value.data,
        op.act_max.value.data,
    )
    memories.write(op.ofm, result)


def _cpu_op(memories: Memories, op: npu.CpuOp) -> None:
    from npuc.reference.quantized_interpreter import run_block

    inputs = [memories.read(fm) for fm in op.inputs.data]
    outputs = run_block(op.body.block, inputs)
    for fm, values in zip(op.outputs.data, outputs, strict=True):
        memories.write(fm, values)


def _dma(memories: Memories, op: npu.DmaOp) -> None:
    memories.bytes(op.dst)[...] = memories.bytes(op.src)


def _execute(memories: Memories, op: Operation, target: Target | None) -> None:
    """Run one command; constants and the interface take no step of their own."""
    match op:
        case npu.DmaOp():
            _dma(memories, op)
        case npu.Conv2dOp() | npu.DepthwiseConv2dOp() | npu.FullyConnectedOp():
            _conv_like(memories, op, target)
        case npu.PoolOp():
            _pool(memories, op)
        case npu.ElementwiseOp():
            _elementwise(memories, op)
        case npu.CpuOp():
            _cpu_op(memories, op)
        case npu.ConstantOp() | npu.InputOp() | npu.OutputOp():
            pass
        case _:
            raise NpucError(f"the simulator cannot execute '{op.name}'")


def _store_input(memories: Memories, op: npu.InputOp, sample: np.ndarray) -> None:
    qtype = op.fm.element_type
    if tuple(sample.shape) != op.fm.shape_values():
        raise InputDataError(
            f"input '{op.tensor.data}' has shape {list(sample.shape)}, "
            f"expected {list(op.fm.shape_values())}"
        )
    if op.host_conversion is not None:  # "quantize" (verified)
        sample = quantize(
            sample, qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax, dtype=qtype.numpy_dtype()
        )
    memories.write(op.fm, sample.astype(qtype.numpy_dtype()))


def _load_output(memories: Memories, op: npu.OutputOp) -> np.ndarray:
    values = memories.read(op.fm)
    if op.host_conversion is not None:  # "dequantize" (verified)
        qtype = op.fm.element_type
        return dequantize(values, qtype.scale, qtype.zero_point)
    return values


def simulate_sample(module: ModuleOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Check the program for memory hazards, then run it once; `inputs` follow the `npu.input` order."""
    check_program(module, program_target(module))
    return _run(module, inputs)


def _run(module: ModuleOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    memories = Memories(region_sizes(module))
    input_ops = [op for op in module.ops if isinstance(op, npu.InputOp)]
    if len(inputs) != len(input_ops):
        raise InputDataError(f"the program has {len(input_ops)} input(s), got {len(inputs)}")
    for op in module.ops:
        if isinstance(op, npu.ConstantOp):
            data = np.frombuffer(op.value.data.data, dtype=np.uint8)
            memories.bytes(op.buffer)[...] = data
    for op, sample in zip(input_ops, inputs):
        _store_input(memories, op, sample)
    target = _decoding_target(module)
    for op in module.ops:
        _execute(memories, op, target)
    return [_load_output(memories, op) for op in module.ops if isinstance(op, npu.OutputOp)]


def program_target(module: ModuleOp) -> Target | None:
    """The program's `npu.target` when it names a built-in target, else None (a target file's name cannot be loaded)."""
    name = module.attributes.get(npu.TARGET_ATTR)
    if not isinstance(name, StringAttr) or parse_target_spec(name.data).base not in available_targets():
        return None
    return load_target(name.data)


def _decoding_target(module: ModuleOp) -> Target | None:
    """The program's `npu.target`, loaded only if a command has encoded weights to decode.

    A program of raw weights runs without it, so also when its target came from a file
    (`npu.target` holds the name, which only a built-in target can be loaded by).
    """
    name = module.attributes.get(npu.TARGET_ATTR)
    encoded = any(
        isinstance(op, npu.WeightedOp | npu.FullyConnectedOp) and op.encoding is not None for op in module.ops
    )
    return load_target(name.data) if encoded and isinstance(name, StringAttr) else None


def simulate(module: ModuleOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the program on a batch: arrays with N samples stacked on axis 0.

    The program is first checked for memory hazards (`npuc.sim.hazards`:
    the functional simulation alone would miss an OFM written over its own
    IFM) and, when its `npu.target` is a built-in target, for regions
    outside that target's memories. It is compiled for batch 1; each sample
    runs separately and the outputs are stacked again.
    """
    check_program(module, program_target(module))
    count = len(inputs[0]) if inputs else 1
    results = [_run(module, [array[index : index + 1] for array in inputs]) for index in range(count)]
    return [np.concatenate(parts) for parts in zip(*results)]
