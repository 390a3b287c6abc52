"""Running one kernel operation: read its feature maps, compute, run the output stage, write the OFM.

Convolutions read their weights (mlw-decoded and un-bricked, per core) and
their scale records from the regions the WEIGHT_* and SCALE_* registers
name; pooling and elementwise operations scale with OFM_SCALE. What the
hardware does per operation, where TFLite's definition of the operator fixes
it (the elementwise operand scaling, average pooling's divide), is written
beside the code that does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from npuc.emit.ethos_u.registers import (
    ActivationFunction,
    ClipRange,
    Cmd0,
    ElementwiseMode,
    IfmScaleMode,
    OfmScaleMode,
    PoolingMode,
    WeightOrder,
)
from npuc.errors import CommandStreamError
from npuc.sim.ethos_u import activation, kernels
from npuc.sim.ethos_u.memory import (
    LUT_BYTES,
    SHRAM_REGION,
    FeatureMap,
    Memory,
    full_box,
)
from npuc.sim.ethos_u.mlw import decode_weights
from npuc.sim.ethos_u.operation import KernelOperation, Stream
from npuc.sim.ethos_u.output_stage import (
    clip,
    lookup,
    rescale,
    shift_round,
    storage_range,
)
from npuc.sim.ethos_u.weight_stream import BrickLayout, scale_records, unbrick

LUT_SLOT_BYTES = 256


@dataclass
class Accelerator:
    """What the simulation needs of the accelerator: MACs, cores, SHRAM per core; the decoded-weight cache."""

    macs_per_cycle: int
    cores: int
    shram_bytes: int
    weight_cache: dict[tuple, np.ndarray] = field(default_factory=dict)

    @property
    def ofm_micro_block(self) -> int:
        """OFM channels per micro-block of the weight bricks: 4 on the 32-MAC Ethos-U55, else 8."""
        return 4 if self.macs_per_cycle == 32 else 8

    @property
    def lut_start(self) -> int:
        """SHRAM address of lookup-table slot 0."""
        return self.shram_bytes - LUT_BYTES


def stream_bytes(memory: Memory, stream: Stream, what: str, where: str) -> bytes:
    """The bytes of a weight, scale or DMA stream, bounds-checked."""
    region = memory.region(stream.region, where) if stream.region != SHRAM_REGION else memory.regions[SHRAM_REGION]
    memory.check(region, stream.address, stream.address + stream.length, what, where)
    return region.view()[stream.address : stream.address + stream.length].tobytes()


def _ifm_values(memory: Memory, fm: FeatureMap, where: str, what: str = "IFM") -> np.ndarray:
    return memory.read(fm, full_box(fm), what, where) - fm.zero_point


def _weights(op: KernelOperation, memory: Memory, accelerator: Accelerator, where: str) -> np.ndarray:
    """The OHWI weights of a convolution (I = 1 for depthwise), all cores' channels interleaved back."""
    depth = op.ofm.shape[2]
    cores = len(op.weights)
    depthwise = op.opcode is Cmd0.OP_DEPTHWISE
    result = None
    for core, stream in enumerate(op.weights):
        layout = BrickLayout(
            ofm_depth=len(range(core, depth, cores)),
            kernel_height=op.kernel.height,
            kernel_width=op.kernel.width,
            ifm_depth=1 if depthwise else op.ifm.shape[2],
            ofm_block_depth=(op.block[2] + cores - 1 - core) // cores,
            depthwise=depthwise,
            part_kernel_first=op.kernel.weight_order is WeightOrder.PART_KERNEL_FIRST,
            ifm_bits=op.ifm.element_bits,
            ofm_micro_block=accelerator.ofm_micro_block,
            dilation_y=op.kernel.dilation_y,
            dilation_x=op.kernel.dilation_x,
        )
        encoded = stream_bytes(memory, stream, f"weight stream (core {core})", where)
        key = (encoded, layout)
        if key not in accelerator.weight_cache:
            accelerator.weight_cache[key] = unbrick(decode_weights(encoded, where), layout, where)
        core_weights = accelerator.weight_cache[key]
        if result is None:
            result = np.zeros((depth, *core_weights.shape[1:]), np.int64)
        result[core::cores] = core_weights
    assert result is not None
    return result


def _scales(op: KernelOperation, memory: Memory, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bias, scale and shift per OFM channel from the scale records (all cores interleaved back)."""
    depth = op.ofm.shape[2]
    cores = len(op.scales)
    records = np.zeros((3, depth), np.int64)
    for core, stream in enumerate(op.scales):
        raw = stream_bytes(memory, stream, f"scale stream (core {core})", where)
        records[:, core::cores] = scale_records(raw, len(range(core, depth, cores)), where)
    return records[0], records[1], records[2]


def _padded_ifm(op: KernelOperation, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The IFM as the kernel walks it (upscaled, padded with zeros) and the mask of real elements."""
    kernel, ofm = op.kernel, op.ofm.shape
    height = (ofm[0] - 1) * kernel.stride_y + kernel.dilation_y * (kernel.height - 1) + 1
    width = (ofm[1] - 1) * kernel.stride_x + kernel.dilation_x * (kernel.width - 1) + 1
    upscaled = kernels.upscale(values, op.upscale)
    real = np.ones(upscaled.shape[:2] + (1,), np.int64)
    return kernels.pad(upscaled, op.padding, height, width), kernels.pad(real, op.padding, height, width)


def _convolution(op: KernelOperation, memory: Memory, accelerator: Accelerator, where: str) -> np.ndarray:
    padded, _ = _padded_ifm(op, _ifm_values(memory, op.ifm, where))
    weights = _weights(op, memory, accelerator, where)
    if op.opcode is Cmd0.OP_DEPTHWISE:
        accumulators = kernels.depthwise(padded, weights, op.kernel, op.ofm.shape)
    else:
        accumulators = kernels.convolution(padded, weights, op.kernel, op.ofm.shape)
    bias, scale, shift = _scales(op, memory, where)
    return rescale(accumulators + bias, scale, shift, op.output.rounding)


def _pooling(op: KernelOperation, memory: Memory, where: str) -> np.ndarray:
    mode = op.mode
    assert isinstance(mode, PoolingMode)
    padded, real = _padded_ifm(op, _ifm_values(memory, op.ifm, where))
    accumulators, count = kernels.pooling(padded, real, mode, op.kernel, op.ofm.shape)
    output = op.output
    padding = op.padding
    if mode is PoolingMode.AVERAGE and (padding.top or padding.left or padding.bottom or padding.right):
        # With padding the window's element count varies: the hardware divides by the real elements,
        # rounding half away from zero (TFLite's average pool), before the output scaling.
        magnitude = (np.abs(accumulators) + count // 2) // np.maximum(count, 1)
        accumulators = np.where(accumulators < 0, -magnitude, magnitude)
    if output.scale_mode is OfmScaleMode.GLOBAL:
        return rescale(accumulators, output.scale, output.shift, output.rounding)
    return accumulators


def _operands(op: KernelOperation, memory: Memory, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Operand A and B of an elementwise operation (IFM2 broadcast to the OFM), zero points removed.

    IFM_UPSCALE upscales the IFM here too, cut to the OFM's extent.
    """
    height, width, _ = op.ofm.shape
    first = kernels.upscale(_ifm_values(memory, op.ifm, where), op.upscale)[:height, :width]
    if op.ifm2 is None:
        return first, None
    if op.scalar is not None:
        second = np.full((1, 1, 1), op.scalar - op.ifm2.zero_point, np.int64)
    else:
        second = _ifm_values(memory, op.ifm2, where, "IFM2")
    second = np.broadcast_to(second, first.shape)
    return (second, first) if op.reversed_operands else (first, second)


def _add_operands(op: KernelOperation, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ADD/SUB operands after the input scaling IFM_PRECISION's scale_mode selects.

    OPA_OPB_16 multiplies operand A by OPA_SCALE and B by OPB_SCALE. OPA_32
    (OPB_32) rescales A (B) with OPA_SCALE's 32-bit scale and shift, as TFLite
    rescales an ADD input shifted left by 20 bits (15 for 16-bit elements),
    and takes the other operand at half that shift, which is TFLite's
    rescale by exactly one half.
    """
    scale, shift = op.opa_scale
    if op.ifm_scale_mode is IfmScaleMode.OPA_OPB_16:
        return first * scale, second * op.opb_scale
    left_shift = 20 if op.ifm.element_bits == 8 else 15
    rescaled_first = op.ifm_scale_mode is IfmScaleMode.OPA_32
    scaled = first if rescaled_first else second
    halved = second if rescaled_first else first
    scaled = rescale(scaled << left_shift, scale, shift + left_shift, op.ifm_rounding)
    halved = halved << (left_shift - 1)
    return (scaled, halved) if rescaled_first else (halved, scaled)


def _elementwise(op: KernelOperation, memory: Memory, where: str) -> np.ndarray:
    mode = op.mode
    assert isinstance(mode, ElementwiseMode)
    first, second = _operands(op, memory, where)
    output = op.output
    if second is None:
        if mode is ElementwiseMode.CLZ:
            return kernels.elementwise(mode, first, first)
        raise CommandStreamError(f"{where}: elementwise {mode.name} is not simulated")
    if mode in (ElementwiseMode.ADD, ElementwiseMode.SUB):
        first, second = _add_operands(op, first, second)
        values = first + second if mode is ElementwiseMode.ADD else first - second
    elif mode is ElementwiseMode.MUL:
        values = first * second
        if op.ifm.element_bits == 32:
            return shift_round(values, output.shift, output.rounding)
    elif mode is ElementwiseMode.SHR:
        return shift_round(first, np.clip(second, 0, 63), output.rounding)
    else:
        return kernels.elementwise(mode, first, second)
    return rescale(values, output.scale, output.shift, output.rounding)


def run_kernel(op: KernelOperation, memory: Memory, accelerator: Accelerator, where: str) -> None:
    """Execute one kernel operation on `memory`."""
    if op.opcode in (Cmd0.OP_CONV, Cmd0.OP_DEPTHWISE):
        values = _convolution(op, memory, accelerator, where)
    elif op.opcode is Cmd0.OP_POOL:
        values = _pooling(op, memory, where)
    else:
        values = _elementwise(op, memory, where)
    ofm, output = op.ofm, op.output
    if output.function is ActivationFunction.TANH:
        values = activation.tanh(values)
    elif output.function is ActivationFunction.SIGMOID:
        values = activation.sigmoid(values)
    # The zero point belongs to the 8- and 16-bit output path: a 32-bit result gets it only when
    # clipped to 8 or 16 bits for a table lookup (Vela's int32 softmax steps carry a zero point
    # that the hardware must not add).
    narrow = ofm.element_bits < 32 or output.clip_range is not ClipRange.OFM_PRECISION
    values = clip(values + (ofm.zero_point if narrow else 0), output.clip_min, output.clip_max,
                  output.clip_range, ofm.element_bits, ofm.signed)
    if output.function >= ActivationFunction.TABLE_0:
        slot = output.function - ActivationFunction.TABLE_0
        shram = memory.regions[SHRAM_REGION].view()
        table = shram[accelerator.lut_start + slot * LUT_SLOT_BYTES :].tobytes()
        values = lookup(values, output.function, table, ofm.element_bits, ofm.signed, where)
    low, high = storage_range(ofm.element_bits, ofm.signed)
    memory.write(ofm, full_box(ofm), np.clip(values, low, high), "OFM", where)

