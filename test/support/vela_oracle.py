"""Vela's register command stream for the operations of a lowered npu module: the emitter tests' oracle.

`vela_operations` describes every command of a lowered module (one NPU
segment) with `ethosu.vela.api`'s operation classes, read straight from the
IR's properties: feature maps, kernels, padding, activation, block, weight
and scale streams, DMAs. Regions follow the documented mapping (weights
constants 0, the arena 1, a separate staging memory 2). Weight streams are Vela's
own `npu_encode_weights` of the layer's OHWI weights (per core), scale
records Vela's `npu_encode_bias` of scales from Vela's `quantise_scale`,
and `vela_stream` lets `npu_generate_register_command_stream` choose every
register, wait and BLOCKDEP. Nothing here calls npuc's emitter.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
from ethosu.vela.api import (
    NpuAccelerator,
    NpuActivation,
    NpuActivationOp,
    NpuAddressRange,
    NpuBlockTraversal,
    NpuConv2DOperation,
    NpuConvDepthWiseOperation,
    NpuDataType,
    NpuDmaOperation,
    NpuElementWiseOp,
    NpuElementWiseOperation,
    NpuFeatureMap,
    NpuKernel,
    NpuLayout,
    NpuOperation,
    NpuPadding,
    NpuPoolingOp,
    NpuPoolingOperation,
    NpuQuantization,
    NpuRoundingMode,
    NpuShape3D,
    NpuTileBox,
    npu_encode_bias,
    npu_encode_weights,
    npu_generate_register_command_stream,
)
from ethosu.vela.scaling import quantise_scale, reduced_quantise_scale
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.parser import Parser

from npuc.context import npuc_context
from npuc.dialects import npu, quantized
from npuc.dialects.common import array_values, constant_value
from npuc.targets import Target

DATA_TYPES = {8: NpuDataType.INT8, 16: NpuDataType.INT16, 32: NpuDataType.INT32}
ACTIVATIONS = {"none": (None, None), "relu": (0.0, None), "relu6": (0.0, 6.0)}
"""A fused activation as Vela's real-valued clamp."""


def vela_accelerator(target: Target) -> NpuAccelerator:
    """Vela's name of an npuc Ethos-U accelerator."""
    return NpuAccelerator[target.accelerator.replace("ethos-u", "Ethos_U").replace("-", "_")]


class Regions:
    """The documented regions: a constant's bytes 0, the arena 1, the staging memory 2 (1 when it is the arena)."""

    def __init__(self, module: ModuleOp, target: Target):
        self.constants = [op.buffer for op in module.ops if isinstance(op, npu.ConstantOp)]
        staging = 1 if target.staging_memory == target.arena_memory else 2
        self.scratch = {target.arena_memory: 1, target.staging_memory: staging}

    def __call__(self, memory: str, offset: int) -> int:
        constant = any(c.region.data == memory and c.offset.data <= offset < c.end for c in self.constants)
        return 0 if constant else self.scratch[memory]


def feature_map(fm: npu.FeatureMapAttr, region: Regions) -> NpuFeatureMap:
    """A dense NHWC map as Vela describes it (Vela derives the strides itself)."""
    height, width, depth = (1, 1, 1, *fm.shape_values())[-3:]
    described = NpuFeatureMap()
    described.data_type = DATA_TYPES[fm.element_type.bits]
    described.region = region(fm.region.data, fm.offset.data)
    described.shape = NpuShape3D(height, width, depth)
    described.tiles = NpuTileBox(height, height, width, [fm.offset.data, 0, 0, 0])
    # TFLite tensors carry float32 scales, which is what Vela reads from a model.
    described.quantization = NpuQuantization(float(np.float32(fm.element_type.scale)), fm.element_type.zero_point)
    described.layout = NpuLayout.NHWC
    return described


@dataclass(frozen=True)
class Layer:
    """What the oracle needs of the quantized layer a weighted command came from."""

    weights: np.ndarray  # OHWI int8 (depthwise: C x KH x KW x 1)
    bias: np.ndarray
    real_scales: np.ndarray  # ifm scale x weight scale / ofm scale, per output channel
    activation: str


def layer_of(text: str, activation: str, layer: str = "layer") -> Layer | None:
    """The oracle's view of the weighted layer named `layer` of quantized IR `text` (None if it is not one)."""
    module = Parser(npuc_context(), text).parse_module()
    op = next(op for op in module.walk() if op.attributes.get("layer") == StringAttr(layer))
    if not isinstance(op, (quantized.Conv2dOp, quantized.DepthwiseConv2dOp, quantized.FullyConnectedOp)):
        return None
    weights = constant_value(op.operands[1].owner.value)
    if isinstance(op, quantized.DepthwiseConv2dOp):
        weights = weights.transpose(3, 1, 2, 0)
    elif isinstance(op, quantized.FullyConnectedOp):
        weights = weights.reshape(weights.shape[0], 1, 1, weights.shape[1])
    scales = [np.float64(np.float32(quantized.quant_type(value).scale_array()))
              for value in (op.operands[0], op.operands[1], op.results[0])]
    return Layer(weights, constant_value(op.operands[2].owner.value), scales[0] * scales[1] / scales[2], activation)


def streams(command: npu.WeightedOp | npu.FullyConnectedOp, layer: Layer, target: Target) -> tuple[list[bytes], list[bytes]]:
    """Vela's weight streams and padded scale records of each core of `command`."""
    cores = min(target.cores, layer.weights.shape[0])
    block = command.block_shape()[2]
    depthwise = isinstance(command, npu.DepthwiseConv2dOp)
    traversal = NpuBlockTraversal[command.encoding.traversal.data.upper()]
    bits = command.ifm.element_type.bits
    dilation = (1, 1) if isinstance(command, npu.FullyConnectedOp) else tuple(reversed(array_values(command.dilations)))
    wide = layer.bias.dtype == np.int64 and not isinstance(command, npu.FullyConnectedOp)
    weights, records = [], []
    for core in range(cores):
        volume = np.ascontiguousarray(layer.weights[core::cores], dtype=np.int16)
        weights.append(bytes(npu_encode_weights(
            vela_accelerator(target), volume, dilation, bits, -(-(block - core) // cores), depthwise, traversal,
        )))  # fmt: skip
        core_records = b"".join(
            bytes(npu_encode_bias(np.int64(bias), *(reduced_quantise_scale if wide else quantise_scale)(real)))
            for bias, real in zip(layer.bias[core::cores], layer.real_scales[core::cores])
        )
        records.append(core_records + bytes(-len(core_records) % target.alignment))
    return weights, records


def _ranges(buffer: npu.BufferAttr, parts: list[bytes], region: Regions) -> list[NpuAddressRange]:
    address, ranges = buffer.offset.data, []
    for part in parts:
        ranges.append(NpuAddressRange(region(buffer.region.data, buffer.offset.data), address, len(part)))
        address += len(part)
    return ranges


def _activation(command: npu.ComputeOp, activation: str) -> NpuActivation:
    described = NpuActivation(NpuActivationOp.NONE_OR_RELU)
    described.min, described.max = ACTIVATIONS[activation]
    return described


def _window(command: npu.WindowedOp) -> tuple[NpuKernel, NpuPadding]:
    window = command.window()
    kernel = NpuKernel(window.kernel[1], window.kernel[0], window.strides[1], window.strides[0],
                       window.dilations[1], window.dilations[0])
    return kernel, NpuPadding(*window.padding)


def operation(command, layer: Layer | None, target: Target, activation: str, region: Regions) -> NpuOperation:
    """Vela's description of one lowered command (`layer` for weighted ones)."""
    if isinstance(command, npu.DmaOp):
        return NpuDmaOperation(
            NpuAddressRange(region(command.src.region.data, command.src.offset.data), command.src.offset.data,
                            command.src.size.data),
            NpuAddressRange(region(command.dst.region.data, command.dst.offset.data), command.dst.offset.data,
                            command.dst.size.data),
        )
    if isinstance(command, npu.PoolOp):
        described = NpuPoolingOperation(NpuPoolingOp.MAX if command.kind.data == "max" else NpuPoolingOp.AVERAGE)
        described.kernel, described.padding = _window(command)
    elif isinstance(command, npu.ElementwiseOp):
        described = NpuElementWiseOperation(NpuElementWiseOp[command.kind.data.upper()])
        described.ifm2 = feature_map(command.ifm2, region)
    else:
        assert layer is not None
        if isinstance(command, npu.DepthwiseConv2dOp):
            described = NpuConvDepthWiseOperation()
        else:
            described = NpuConv2DOperation()
            described.block_traversal = NpuBlockTraversal[command.encoding.traversal.data.upper()]
        if isinstance(command, npu.FullyConnectedOp):
            described.kernel, described.padding = NpuKernel(1, 1), NpuPadding(0, 0, 0, 0)
            # TFLite rounds a fully connected product once, with the whole multiplier (Vela's legacy core: TFL).
            described.rounding_mode = NpuRoundingMode.NATURAL
        else:
            described.kernel, described.padding = _window(command)
        if layer.bias.dtype == np.int64:  # TFLite's int64 rescale rounds once (so does Vela's own 16-bit lowering)
            described.rounding_mode = NpuRoundingMode.NATURAL
        weights, records = streams(command, layer, target)
        described.weights = _ranges(command.weights, weights, region)
        described.biases = _ranges(command.scale_bias, records, region)
    described.ifm, described.ofm = feature_map(command.ifm, region), feature_map(command.ofm, region)
    described.activation = _activation(command, activation)
    if isinstance(command, npu.PoolOp) and command.kind.data == "avg":
        # TFLite averages the stored values (input and output share their quantization); Vela's legacy
        # generator subtracts and adds the zero point, which moves ties across it: npuc programs 0, and
        # the clamp bounds stay the same stored values.
        scale, zero_point = described.ofm.quantization
        for fm in (described.ifm, described.ofm):
            fm.quantization = NpuQuantization(scale, 0)
        bounds = (described.activation.min, described.activation.max)
        described.activation.min, described.activation.max = (
            None if bound is None else bound + zero_point * scale for bound in bounds
        )
    described.block_config = NpuShape3D(*command.block_shape())
    return described


def vela_stream(operations: list[NpuOperation], target: Target) -> list[int]:
    """Vela's register command stream of `operations` (its configuration warnings silenced)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return list(npu_generate_register_command_stream(operations, vela_accelerator(target)))


def commands(module: ModuleOp) -> list:
    """The DMA and compute commands of a lowered module, in program order."""
    return [op for op in module.ops if isinstance(op, (npu.DmaOp, npu.ComputeOp))]
