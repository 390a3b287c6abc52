"""The registers and operation word of one npu compute command on Ethos-U.

`KernelOperation` is what an npu command becomes on the NPU: the operation
(OP_CONV for a convolution or a fully connected layer, a 1x1 convolution
over the [N, K] IFM read as 1 x N x K; OP_DEPTHWISE; OP_POOL; OP_ELEMENTWISE),
its feature maps, its shared-buffer layout and lookup-table slot, and its
scaling. `write_registers` writes every register the operation reads, in
the order Vela's generator writes them (so that streams compare word for
word), skipping values the registers already hold (`CommandWriter`).

An elementwise command broadcasts only its IFM2: when its IFM is the
broadcast operand the two swap and the operand order reverses. A `shl` by a
scalar is a `mul` by the power of two, which saturates as the npu IR's
`shl` does (the NPU's SHL keeps the low 32 bits: an `shl` by a feature map
is exact only when no value overflows, as in the softmax chain, whose
shifts by the headroom cannot). An average pool keeps its input's
quantization and TFLite averages the stored values, so its zero point
registers are 0 (Vela's legacy generator programs the zero point, which
moves the rounding of ties across it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from npuc.cost.compute import command_shape
from npuc.dialects import npu
from npuc.dialects.common import layer_name
from npuc.emit.ethos_u import output_scaling
from npuc.emit.ethos_u.command_writer import CommandWriter
from npuc.emit.ethos_u.feature_maps import (
    FeatureMap,
    feature_map,
    ifm2_precision,
    ifm_precision,
    ofm_precision,
    write_ifm,
    write_ifm2,
    write_ofm,
)
from npuc.emit.ethos_u.output_scaling import Scaling
from npuc.emit.ethos_u.regions import RegionMap
from npuc.emit.ethos_u.registers import (
    AccFormat,
    ActivationFunction,
    ClipRange,
    Cmd0,
    Cmd1,
    ElementwiseMode,
    OperandOrder,
    PoolingMode,
    UpscaleMode,
    WeightOrder,
    kernel_stride,
    pack_param,
    param_fields,
)
from npuc.emit.ethos_u.shared_buffer import ShramLayout, layout, wide_accumulators
from npuc.emit.ethos_u.weights import Traversal
from npuc.errors import CommandStreamError
from npuc.targets import Target

POOL_MODES = {"max": PoolingMode.MAX, "avg": PoolingMode.AVERAGE, "reduce_sum": PoolingMode.REDUCE_SUM}
ELEMENTWISE_MODES = {
    "add": ElementwiseMode.ADD, "sub": ElementwiseMode.SUB, "mul": ElementwiseMode.MUL,
    "shl": ElementwiseMode.SHL, "asr": ElementwiseMode.SHR, "clz": ElementwiseMode.CLZ,
}  # fmt: skip
"""The NPU operation of each npu pool and elementwise kind."""

_ACTIVATION_RANGE = param_fields(Cmd0.SET_ACTIVATION_MIN)[0]
"""ACTIVATION_MIN/MAX hold 16-bit values: a wider OFM range is clipped by the OFM's storage instead."""
_SCALAR = param_fields(Cmd0.SET_IFM2_SCALAR)[0]
"""IFM2_SCALAR's one field: a 16-bit two's-complement value."""
_BYTE_RANGE = (-128, 127)
"""The range a 32-bit result is forced to before an 8-bit lookup table."""


def fits_scalar(value: int) -> bool:
    """Whether IFM2_SCALAR holds `value`: larger scalar operands must be in memory, an IFM2 of one
    element (npu-lower puts them there for Ethos-U targets)."""
    return -(1 << (_SCALAR.width - 1)) <= value < 1 << (_SCALAR.width - 1)


@dataclass(frozen=True)
class KernelOperation:
    """One compute command as the NPU runs it (see the module docstring).

    `ifm2` is None for a scalar or unary operand (`scalar` holds the
    scalar); `reversed` is IFM2_BROADCAST's operand order; `lut_slot` the
    lookup-table slot of ACTIVATION (None: no table); `stream_regions` the
    regions of the weight and the scale streams.
    """

    op: npu.ComputeOp
    opcode: Cmd0
    mode: int
    ifm: FeatureMap
    ifm2: FeatureMap | None
    ofm: FeatureMap
    scalar: int | None
    reversed: bool
    traversal: Traversal
    layout: ShramLayout
    scaling: Scaling
    lut_slot: int | None
    stream_regions: tuple[int, int]

    @property
    def where(self) -> str:
        """How errors name the command."""
        return f"layer '{layer_name(self.op)}' ({self.op.name})"


def fits_with_table(op: npu.ComputeOp, target: Target) -> bool:
    """Whether `op`'s block leaves the shared buffer room for a lookup table (`shared_buffer.layout`)."""
    traversal = Traversal.DEPTH_FIRST
    if isinstance(op, (npu.WeightedOp, npu.FullyConnectedOp)) and op.encoding is not None:
        traversal = Traversal[op.encoding.traversal.data.upper()]
    second_ifm = isinstance(op, npu.ElementwiseOp) and op.ifm2 is not None
    return layout(command_shape(op), op.block_shape(), traversal, target, second_ifm=second_ifm, lut=True) is not None


def kernel_operation(
    op: npu.ComputeOp, regions: RegionMap, target: Target, lut_slot: int | None, batch: int = 0
) -> KernelOperation:
    """The NPU operation of compute command `op` for batch element `batch` (`feature_maps.batches`);
    `lut_slot` is where its lookup table is (if it has one)."""
    where = f"layer '{layer_name(op)}' ({op.name})"
    ifm, ofm = feature_map(op.ifm, regions, where, batch), feature_map(op.ofm, regions, where, batch)
    ifm2, scalar, reversed_operands = None, None, False
    traversal = Traversal.DEPTH_FIRST
    stream_regions = (0, 0)
    if isinstance(op, (npu.WeightedOp, npu.FullyConnectedOp)):
        if op.encoding is None:
            raise CommandStreamError(f"{where}: its weights are not Ethos-U encoded; lower it for {target.name}")
        traversal = Traversal[op.encoding.traversal.data.upper()]
        stream_regions = (regions.buffer_region(op.weights, where), regions.buffer_region(op.scale_bias, where))
        opcode, mode = (Cmd0.OP_DEPTHWISE if isinstance(op, npu.DepthwiseConv2dOp) else Cmd0.OP_CONV), 0
        scaling = Scaling(output_scaling.weighted_round_mode(op))
    elif isinstance(op, npu.PoolOp):
        opcode, mode, scaling = Cmd0.OP_POOL, POOL_MODES[op.kind.data], output_scaling.pool_scaling(op)
        if op.kind.data == "avg":  # TFLite averages the stored values: no zero point is subtracted or added
            ifm, ofm = replace(ifm, zero_point=0), replace(ofm, zero_point=0)
    else:
        assert isinstance(op, npu.ElementwiseOp)
        opcode, mode = Cmd0.OP_ELEMENTWISE, ELEMENTWISE_MODES[op.kind.data]
        reversed_operands = op.reversed is not None
        if op.ifm2 is not None:
            ifm2 = feature_map(op.ifm2, regions, where, batch)
            if _broadcast(ifm, ofm):
                if _broadcast(ifm2, ofm):
                    raise CommandStreamError(f"{where}: both operands are broadcast; the NPU broadcasts the IFM2 only")
                ifm, ifm2, reversed_operands = ifm2, ifm, not reversed_operands
        elif op.scalar is not None:
            scalar = op.scalar.value.data
        scaling = output_scaling.elementwise_scaling(op, reversed_operands)
        if mode == ElementwiseMode.SHL and scalar is not None and 0 <= scalar and fits_scalar(1 << scalar):
            mode, scalar = ElementwiseMode.MUL, 1 << scalar
        if scalar is not None and not fits_scalar(scalar):
            raise CommandStreamError(f"{where}: scalar {scalar} does not fit IFM2_SCALAR's {_SCALAR.width} bits")
    shape = command_shape(op)
    second_ifm = ifm2 is not None
    shram = layout(shape, op.block_shape(), traversal, target, second_ifm=second_ifm, lut=lut_slot is not None)
    if shram is None:
        raise CommandStreamError(f"{where}: block {list(op.block_shape())} does not fit {target.name}'s shared buffer")
    return KernelOperation(
        op, opcode, mode, ifm, ifm2, ofm, scalar, reversed_operands, traversal, shram, scaling, lut_slot, stream_regions
    )


def _broadcast(fm: FeatureMap, ofm: FeatureMap) -> bool:
    """Whether `fm` is smaller than the OFM along an axis (an elementwise operand broadcast to it)."""
    return (fm.height, fm.width, fm.depth) != (ofm.height, ofm.width, ofm.depth)


def write_registers(writer: CommandWriter, kernel: KernelOperation, target: Target) -> None:
    """Every register `kernel` reads (not BLOCKDEP, the waits or the operation word)."""
    op, scaling = kernel.op, kernel.scaling
    elementwise = kernel.opcode is Cmd0.OP_ELEMENTWISE
    if elementwise:
        _write_scaling(writer, scaling)
    write_ifm(writer, kernel.ifm)
    writer.set(Cmd0.SET_IFM_PRECISION, ifm_precision(kernel.ifm, scaling.operand))
    writer.set(Cmd0.SET_IFM_UPSCALE, pack_param(Cmd0.SET_IFM_UPSCALE, mode=UpscaleMode.NONE))
    if isinstance(op, npu.WindowedOp) or isinstance(op, npu.FullyConnectedOp):
        # The hardware derives the IFM extent from the OFM, the kernel and the padding: only the reached padding.
        top, left, bottom, right = (
            op.window().reached_padding(kernel.ifm.height, kernel.ifm.width)
            if isinstance(op, npu.WindowedOp)
            else (0, 0, 0, 0)
        )
        writer.set(Cmd0.SET_IFM_PAD_TOP, top)
        writer.set(Cmd0.SET_IFM_PAD_LEFT, left)
        writer.set(Cmd0.SET_IFM_PAD_BOTTOM, bottom)
        writer.set(Cmd0.SET_IFM_PAD_RIGHT, right)
    write_ofm(writer, kernel.ofm)
    writer.set(Cmd0.SET_OFM_PRECISION, ofm_precision(kernel.ofm, scaling.ofm is not None, scaling.round_mode))
    if not elementwise:
        _write_kernel(writer, kernel)
    if isinstance(op, (npu.WeightedOp, npu.FullyConnectedOp)):
        _write_streams(writer, kernel, target)
    _write_activation(writer, kernel)
    block_height, block_width, block_depth = op.block_shape()
    writer.set(Cmd0.SET_OFM_BLK_HEIGHT_M1, block_height - 1)
    writer.set(Cmd0.SET_OFM_BLK_WIDTH_M1, block_width - 1)
    writer.set(Cmd0.SET_OFM_BLK_DEPTH_M1, block_depth - 1)
    writer.set(Cmd0.SET_IFM_IB_END, kernel.layout.ifm_end)
    writer.set(Cmd0.SET_AB_START, kernel.layout.accumulator_start)
    if kernel.ifm2 is not None:
        writer.set(Cmd0.SET_IFM2_IB_START, kernel.layout.ifm2_start)
    wide = wide_accumulators(command_shape(op))
    writer.set(Cmd0.SET_ACC_FORMAT, pack_param(Cmd0.SET_ACC_FORMAT, acc_format=AccFormat.I40 if wide else AccFormat.I32))
    if kernel.opcode is Cmd0.OP_POOL and scaling.ofm is not None:
        writer.set_value(Cmd1.SET_OFM_SCALE, scaling.ofm[0], scaling.ofm[1])
    if elementwise and kernel.mode != ElementwiseMode.CLZ:
        _write_ifm2(writer, kernel)


def _write_scaling(writer: CommandWriter, scaling: Scaling) -> None:
    """OPA_SCALE and OPB_SCALE (add, sub) and OFM_SCALE of an elementwise operation."""
    if scaling.opa is not None:
        writer.set_value(Cmd1.SET_OPA_SCALE, scaling.opa[0], scaling.opa[1])
        writer.set_value(Cmd1.SET_OPB_SCALE, scaling.opb)
    assert scaling.ofm is not None, "elementwise operations scale globally"
    writer.set_value(Cmd1.SET_OFM_SCALE, scaling.ofm[0] & 0xFFFF_FFFF, scaling.ofm[1])


def _write_kernel(writer: CommandWriter, kernel: KernelOperation) -> None:
    """KERNEL_HEIGHT/WIDTH_M1 (dilated extents) and KERNEL_STRIDE (strides, dilations, weight order)."""
    window = kernel.op.window()
    (kernel_height, kernel_width), (stride_y, stride_x) = window.dilated_kernel, window.strides
    writer.set(Cmd0.SET_KERNEL_HEIGHT_M1, kernel_height - 1)
    writer.set(Cmd0.SET_KERNEL_WIDTH_M1, kernel_width - 1)
    order = WeightOrder(kernel.traversal.value)
    dilation_y, dilation_x = window.dilations
    writer.set(Cmd0.SET_KERNEL_STRIDE, kernel_stride(stride_x, stride_y, dilation_x, dilation_y, order))


def _write_streams(writer: CommandWriter, kernel: KernelOperation, target: Target) -> None:
    """WEIGHT_* and SCALE_* of every core: each core's stream, back to back in the two buffers; a
    core without output channels gets the first core's address and length 0."""
    op = kernel.op
    assert isinstance(op, (npu.WeightedOp, npu.FullyConnectedOp)) and op.encoding is not None
    registers = (
        (op.weights, op.encoding.weight_stream_lengths(), Cmd0.SET_WEIGHT_REGION,
         ((Cmd1.SET_WEIGHT_BASE, Cmd1.SET_WEIGHT_LENGTH), (Cmd1.SET_WEIGHT1_BASE, Cmd1.SET_WEIGHT1_LENGTH))),
        (op.scale_bias, op.encoding.scale_stream_lengths(), Cmd0.SET_SCALE_REGION,
         ((Cmd1.SET_SCALE_BASE, Cmd1.SET_SCALE_LENGTH), (Cmd1.SET_SCALE1_BASE, Cmd1.SET_SCALE1_LENGTH))),
    )  # fmt: skip
    for buffer, lengths, region, cores in registers:
        if target.cores > len(cores):
            raise CommandStreamError(f"{kernel.where}: {target.cores} cores, the registers stream weights to {len(cores)}")
        writer.set(region, kernel.stream_regions[0 if region is Cmd0.SET_WEIGHT_REGION else 1])
        start = buffer.offset.data
        for core, (base, length) in enumerate(cores[: target.cores]):
            if core < len(lengths):
                writer.set_address(base, start)
                writer.set_value(length, lengths[core])
                start += lengths[core]
            else:
                writer.set_address(base, buffer.offset.data)
                writer.set_value(length, 0)


def _write_activation(writer: CommandWriter, kernel: KernelOperation) -> None:
    """ACTIVATION (clip, or a lookup table slot) and ACTIVATION_MIN/MAX."""
    op = kernel.op
    low, high = op.act_min.value.data, op.act_max.value.data
    function, clip = ActivationFunction.RELU, ClipRange.OFM_PRECISION
    if kernel.lut_slot is not None:
        function = ActivationFunction(ActivationFunction.TABLE_0 + kernel.lut_slot)
        if kernel.ofm.bits == 32:
            clip = ClipRange.FORCE_INT8
            low, high = max(low, _BYTE_RANGE[0]), min(high, _BYTE_RANGE[1])
    elif kernel.ofm.bits == 32 and (low, high) != (op.ofm.element_type.qmin, op.ofm.element_type.qmax):
        raise CommandStreamError(f"{kernel.where}: a 32-bit OFM is clipped to its storage range only, not [{low}, {high}]")
    smallest, largest = -(1 << (_ACTIVATION_RANGE.width - 1)), (1 << (_ACTIVATION_RANGE.width - 1)) - 1
    writer.set(Cmd0.SET_ACTIVATION, pack_param(Cmd0.SET_ACTIVATION, activation_function=function, activation_clip_range=clip))
    writer.set(Cmd0.SET_ACTIVATION_MIN, max(low, smallest))
    writer.set(Cmd0.SET_ACTIVATION_MAX, min(high, largest))


def _write_ifm2(writer: CommandWriter, kernel: KernelOperation) -> None:
    """IFM2 feature map (or scalar), zero point, precision and broadcast."""
    ifm2 = kernel.ifm2
    if ifm2 is not None:
        write_ifm2(writer, ifm2)
    writer.set(Cmd0.SET_IFM2_ZERO_POINT, ifm2.zero_point if ifm2 is not None else 0)
    writer.set(Cmd0.SET_IFM2_PRECISION, ifm2_precision(ifm2 if ifm2 is not None else kernel.ifm))
    broadcast: dict[str, int] = {"operand_order": OperandOrder.ORDER_A if kernel.reversed else OperandOrder.ORDER_B}
    if ifm2 is None:
        broadcast["broadcast_constant"] = 1
    else:
        broadcast |= {
            "broadcast_h": int(ifm2.height != kernel.ifm.height),
            "broadcast_w": int(ifm2.width != kernel.ifm.width),
            "broadcast_c": int(ifm2.depth != kernel.ifm.depth),
        }
    writer.set(Cmd0.SET_IFM2_BROADCAST, pack_param(Cmd0.SET_IFM2_BROADCAST, **broadcast))
    if kernel.scalar is not None:
        writer.set(Cmd0.SET_IFM2_SCALAR, kernel.scalar)
