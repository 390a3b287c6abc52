"""npu-dialect IR written as text for tests: command builders, and an annotated module to lower."""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from npuc.context import npuc_context
from npuc.passes.npu.lower import LowerPass, lower_module
from npuc.targets import Target

INT8 = "!quantized.uniform<i8:f32, 0.1:-3>"


def fm(region: str, offset: int, shape: tuple[int, ...]) -> str:
    """A dense int8 `#npu.fm` attribute."""
    strides = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * shape[axis + 1]
    dims = ", ".join(map(str, shape))
    return f"#npu.fm<{region}, {offset}, [{dims}], [{', '.join(map(str, strides))}], {INT8}>"


def ints(values: tuple[int, ...]) -> str:
    return "array<i64: " + ", ".join(map(str, values)) + ">"


def conv(
    layer: str,
    ifm: tuple[int, int, int, int],
    depth: int,
    kernel: int = 1,
    block: tuple[int, int, int] = (16, 8, 8),
    weights: tuple[str, int] = ("sram", 4_000_000),
    ifm_offset: int = 0,
    ofm_offset: int = 2_000_000,
    kind: str = "conv2d",
) -> str:
    """An `npu.conv2d` (or depthwise) command with SAME padding and stride 1."""
    pad = kernel // 2
    ofm = (ifm[0], ifm[1], ifm[2], depth)
    weight_bytes = depth * kernel * kernel * (ifm[3] if kind == "conv2d" else 1)
    return (
        f'npu.{kind} {{layer = "{layer}", ifm = {fm("sram", ifm_offset, ifm)}, '
        f'ofm = {fm("sram", ofm_offset, ofm)}, weights = #npu.buf<{weights[0]}, {weights[1]}, {weight_bytes}>, '
        f"scale_bias = #npu.buf<flash, 0, {depth * 12}>, kernel = {ints((kernel, kernel))}, "
        f"strides = {ints((1, 1))}, dilations = {ints((1, 1))}, padding = {ints((pad,) * 4)}, "
        f"act_min = -128 : i32, act_max = 127 : i32, block = {ints(block)}}}"
    )


def dma(layer: str, src: tuple[str, int], dst: tuple[str, int], size: int) -> str:
    """An `npu.dma` command."""
    return (
        f'npu.dma {{layer = "{layer}", src = #npu.buf<{src[0]}, {src[1]}, {size}>, '
        f"dst = #npu.buf<{dst[0]}, {dst[1]}, {size}>}}"
    )


def fully_connected(layer: str, inputs: int, outputs: int, weights_region: str) -> str:
    """An `npu.fully_connected` command on a [1, inputs] IFM."""
    return (
        f'npu.fully_connected {{layer = "{layer}", ifm = {fm("sram", 0, (1, inputs))}, '
        f'ofm = {fm("sram", 65536, (1, outputs))}, '
        f"weights = #npu.buf<{weights_region}, 4096, {inputs * outputs}>, "
        f"scale_bias = #npu.buf<flash, 0, {outputs * 12}>, "
        f"act_min = -128 : i32, act_max = 127 : i32, block = {ints((1, 2, 8))}}}"
    )


def cpu_op(layer: str, shape: tuple[int, ...]) -> str:
    """An `npu.cpu_op` copying a feature map through a reshape."""
    tensor = f"tensor<{'x'.join(map(str, shape))}x{INT8}>"
    return (
        f'npu.cpu_op attributes {{layer = "{layer}", inputs = [{fm("sram", 0, shape)}], '
        f'outputs = [{fm("sram", 8192, shape)}]}} {{\n'
        f"^bb0(%a : {tensor}):\n"
        f'  %r = quantized.reshape %a {{layer = "{layer}"}} : {tensor} -> {tensor}\n'
        f"  npu.yield %r : {tensor}\n}}"
    )


def add(layer: str, region: str, shape: tuple[int, ...], block: tuple[int, int, int]) -> str:
    """An `npu.elementwise` add of two feature maps of `shape` in `region`."""
    return (
        f'npu.elementwise {{layer = "{layer}", kind = "add", ifm = {fm(region, 0, shape)}, '
        f"ifm2 = {fm(region, 4096, shape)}, ofm = {fm(region, 8192, shape)}, "
        f"act_min = -128 : i32, act_max = 127 : i32, block = {ints(block)}}}"
    )


def program(*commands: str, target: str = "ethos-u55-128") -> ModuleOp:
    """A verified lowered module holding `commands`, for `target`."""
    body = "\n".join(commands)
    text = f'builtin.module attributes {{npu.target = "{target}"}} {{\n{body}\n}}'
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


ANNOTATED_MODULE = """
builtin.module attributes {npu.memory_usage = {flash = 1792 : i64, sram = 1664 : i64}} {
  func.func @main(%x: tensor<1x8x8x4xf32> {graph.name = "image", graph.layout = "NCHW"}, %side: tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>> {graph.name = "side", npu.memory = "sram", npu.offset = 1536 : i64}) -> (tensor<1x10xf32> {graph.name = "logits"}, tensor<10x!quantized.uniform<i8:f32, 0.25:0>> {graph.name = "flat"}, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> {graph.name = "transposed"}) {
    %q = quantized.quantize %x {npu.placement = "host", npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x8x8x4xf32> -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<[1, -2, 3, -4, 5, -6, 7, -8]> : tensor<8xi32>
    %ws = npu.stage %w to "sram" {npu.memory = "sram", npu.offset = 256 : i64} : tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
    %c = quantized.conv2d %q, %ws, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 8, 8, 8>, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %m = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 0 : i64} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %t = quantized.transpose %m {layer = "transpose1", perm = array<i64: 0, 2, 1, 3>, npu.placement = "cpu", npu.cpu_reason = "transpose is not an NPU operator", npu.memory = "sram", npu.offset = 1280 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %r = quantized.reshape %m {layer = "flatten", npu.placement = "npu", npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>
    %fw = quantized.constant {npu.memory = "flash", npu.offset = 400 : i64} dense<2> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>
    %fb = quantized.constant {npu.memory = "flash", npu.offset = 1680 : i64} dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]> : tensor<10xi32>
    %f = quantized.fully_connected %r, %fw, %fb {layer = "fc1", activation = "none", npu.placement = "npu", npu.block = array<i64: 1, 1, 16>, npu.stripe = array<i64: 1, 1, 16>, npu.memory = "sram", npu.offset = 128 : i64} : (tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>
    %a = quantized.add %f, %side {layer = "add1", activation = "relu6", npu.placement = "npu", npu.block = array<i64: 1, 1, 16>, npu.stripe = array<i64: 1, 1, 16>, npu.memory = "sram", npu.offset = 1552 : i64} : (tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>, tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>>
    %y = quantized.dequantize %a {npu.placement = "host"} : tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>> -> tensor<1x10xf32>
    %flat = quantized.reshape %a {layer = "flat", npu.placement = "npu"} : tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>> -> tensor<10x!quantized.uniform<i8:f32, 0.25:0>>
    func.return %y, %flat, %t : tensor<1x10xf32>, tensor<10x!quantized.uniform<i8:f32, 0.25:0>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}
"""
"""Conv + relu with staged weights, max pool, CPU transpose, reshapes, fc, add,
as npu-legalize/tile/schedule/allocate leave it."""


def parse(text: str) -> ModuleOp:
    """A verified module from IR text."""
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


def lowered(text: str = ANNOTATED_MODULE, target: Target | None = None) -> ModuleOp:
    """The module after npu-lower (for `target`, default the pass's), verified."""
    module = parse(text)
    if target is None:
        LowerPass().apply(npuc_context(), module)
    else:
        lower_module(module, target)
    module.verify()
    return module
