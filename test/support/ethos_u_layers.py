"""One-layer quantized models as IR text, lowered for an Ethos-U target: what the emitter tests compile.

Each builder returns `@main` around one layer (conv, depthwise, fully
connected, max/average pool, add, mul) with seeded random int8 weights and
int32 (int8 data) or int64 (16x8) biases; `lower` runs the back end on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from npuc.api import backend_pipeline, run_pipeline
from npuc.backend.weight_staging import PAYS
from npuc.context import npuc_context
from npuc.dialects.common import conv_output_size


@dataclass(frozen=True)
class Data:
    """Activation storage of a model: 8 bits (asymmetric int8) or 16 bits (symmetric int16, int64 bias)."""

    bits: int

    def act(self, shape: tuple[int, ...], scale: float, zero_point: int) -> str:
        zero = zero_point if self.bits == 8 else 0
        return f"tensor<{'x'.join(map(str, shape))}x!quantized.uniform<i{self.bits}:f32, {scale}:{zero}>>"

    @property
    def bias(self) -> str:
        return "i32" if self.bits == 8 else "i64"


INT8, INT16 = Data(8), Data(16)


def _hex(values: np.ndarray) -> str:
    return '"0x' + values.tobytes().hex().upper() + '"'


def _weights(shape: tuple[int, ...], axis: int, seed: int) -> tuple[str, str]:
    """A random int8 constant of `shape`, per-channel symmetric along `axis`: (value, type)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(-127, 128, shape).astype(np.int8)
    scales = ", ".join(f"{0.002 + 0.0005 * i}:0" for i in range(shape[axis]))
    text = "x".join(map(str, shape))
    return f"dense<{_hex(values)}> : tensor<{text}xi8>", f"tensor<{text}x!quantized.uniform<i8:f32:{axis}, {{{scales}}}>>"


def _bias(channels: int, data: Data, seed: int) -> tuple[str, str]:
    values = np.random.default_rng(seed).integers(-3000, 3000, channels).astype(np.int32 if data.bits == 8 else np.int64)
    return f"dense<{_hex(values)}> : tensor<{channels}x{data.bias}>", f"tensor<{channels}x{data.bias}>"


def convolution(
    ifm: tuple[int, int, int], depth: int, kernel: tuple[int, int], data: Data = INT8, activation: str = "none",
    strides: tuple[int, int] = (1, 1), padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilations: tuple[int, int] = (1, 1), depthwise: bool = False,
) -> str:
    """`@main` around a conv2d (or depthwise conv, `depth` a multiple of the IFM depth) of an H x W x C IFM."""
    x = data.act((1, *ifm), 0.05, -3)
    layer, y, _ = _convolution("layer", "%x", x, ifm, depth, kernel, data, activation, strides, padding, dilations,
                               depthwise)
    return f"func.func @main(%x: {x}) -> {y} {{\n{layer}  func.return %layer : {y}\n}}"


def conv_chain(ifm: tuple[int, int, int], depths: list[int], kernels: list[int]) -> str:
    """`@main` around convolutions in a chain (SAME padding, unit strides), named layer0, layer1, ..."""
    x = INT8.act((1, *ifm), 0.05, -3)
    lines, value, value_type, shape = [], "%x", x, ifm
    for index, (depth, kernel) in enumerate(zip(depths, kernels)):
        layer, value_type, shape = _convolution(
            f"layer{index}", value, value_type, shape, depth, (kernel, kernel), INT8, "none", (1, 1),
            (kernel // 2,) * 4, (1, 1), False,
        )  # fmt: skip
        lines.append(layer)
        value = f"%layer{index}"
    return f"func.func @main(%x: {x}) -> {value_type} {{\n{''.join(lines)}  func.return {value} : {value_type}\n}}"


def _convolution(
    name: str, ifm_value: str, ifm_type: str, ifm: tuple[int, int, int], depth: int, kernel: tuple[int, int],
    data: Data, activation: str, strides: tuple[int, int], padding: tuple[int, int, int, int],
    dilations: tuple[int, int], depthwise: bool,
) -> tuple[str, str, tuple[int, int, int]]:
    """The lines of one conv (depthwise conv) `%name` of `ifm_value`, its result type and H x W x C."""
    height, width, channels = ifm
    out_h = conv_output_size(height, kernel[0], strides[0], dilations[0], padding[0], padding[2])
    out_w = conv_output_size(width, kernel[1], strides[1], dilations[1], padding[1], padding[3])
    shape = (1, *kernel, depth) if depthwise else (depth, *kernel, channels)
    weights, weight_type = _weights(shape, 3 if depthwise else 0, seed=depth + channels)
    bias, bias_type = _bias(depth, data, seed=depth)
    y = data.act((1, out_h, out_w, depth), 0.1, 5)
    op = "quantized.depthwise_conv2d" if depthwise else "quantized.conv2d"
    lines = (
        f"  %{name}_w = quantized.constant {weights} -> {weight_type}\n"
        f"  %{name}_b = quantized.constant {bias}\n"
        f"  %{name} = {op} {ifm_value}, %{name}_w, %{name}_b {{layer = \"{name}\", "
        f"strides = array<i64: {strides[0]}, {strides[1]}>, dilations = array<i64: {dilations[0]}, {dilations[1]}>, "
        f"padding = array<i64: {', '.join(map(str, padding))}>, activation = \"{activation}\"}} : "
        f"({ifm_type}, {weight_type}, {bias_type}) -> {y}\n"
    )
    return lines, y, (out_h, out_w, depth)


def fully_connected(inputs: int, outputs: int, data: Data = INT8, activation: str = "none") -> str:
    """`@main` around a fully connected layer of a [1, inputs] IFM."""
    weights, weight_type = _weights((outputs, inputs), 0, seed=outputs)
    bias, bias_type = _bias(outputs, data, seed=inputs)
    x, y = data.act((1, inputs), 0.05, -3), data.act((1, outputs), 0.2, 1)
    return f"""
func.func @main(%x: {x}) -> {y} {{
  %w = quantized.constant {weights} -> {weight_type}
  %b = quantized.constant {bias}
  %y = quantized.fully_connected %x, %w, %b {{layer = "layer", activation = "{activation}"}} : ({x}, {weight_type}, {bias_type}) -> {y}
  func.return %y : {y}
}}"""


def pool(
    kind: str, ifm: tuple[int, int, int], kernel: tuple[int, int], data: Data = INT8, activation: str = "none",
    strides: tuple[int, int] = (1, 1), padding: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> str:
    """`@main` around a max or average pool (`kind` "max" or "avg")."""
    height, width, channels = ifm
    out_h = conv_output_size(height, kernel[0], strides[0], 1, padding[0], padding[2])
    out_w = conv_output_size(width, kernel[1], strides[1], 1, padding[1], padding[3])
    x, y = data.act((1, *ifm), 0.05, -3), data.act((1, out_h, out_w, channels), 0.05, -3)
    return f"""
func.func @main(%x: {x}) -> {y} {{
  %y = quantized.{kind}_pool2d %x {{layer = "layer", kernel = array<i64: {kernel[0]}, {kernel[1]}>, strides = array<i64: {strides[0]}, {strides[1]}>, padding = array<i64: {", ".join(map(str, padding))}>, activation = "{activation}"}} : ({x}) -> {y}
  func.return %y : {y}
}}"""


def binary(
    kind: str, shape: tuple[int, int, int], data: Data = INT8, activation: str = "none",
    scales: tuple[float, float, float] = (0.05, 0.03, 0.07), second: tuple[int, int, int] | None = None,
) -> str:
    """`@main` around an add, sub or mul of two inputs (the second of shape `second`: broadcast)."""
    a, b = data.act((1, *shape), scales[0], -3), data.act((1, *(second or shape)), scales[1], 7)
    y = data.act((1, *shape), scales[2], 2)
    return f"""
func.func @main(%a: {a}, %b: {b}) -> {y} {{
  %y = quantized.{kind} %a, %b {{layer = "layer", activation = "{activation}"}} : ({a}, {b}) -> {y}
  func.return %y : {y}
}}"""


def lower(text: str, target: str, weight_staging: str = PAYS) -> ModuleOp:
    """The model after npuc's back end (legalize, tile, schedule, allocate, lower) for `target`, weights
    staged by rule `weight_staging`."""
    module = Parser(npuc_context(), text).parse_module()
    run_pipeline(module, backend_pipeline(target, weight_staging=weight_staging))
    return module
