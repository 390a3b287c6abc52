"""The channel what-if (`npuc.dse.channels`): which layers it rounds, that rounding up keeps the model's
numbers, what it declines, and its advice in `npuc analyze`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

import npuc.api
from npuc.context import npuc_context
from npuc.dialects.common import layer_name
from npuc.dse.channels import (
    ChannelWhatIf,
    Measurement,
    channel_variants,
    off_brick_groups,
    with_channels,
)
from npuc.errors import ChannelVariantError
from npuc.report.advice import channel_variant_line
from npuc.targets import load_target

from support.paths import TEST

DIGITS_CNN = TEST / "models" / "digits_cnn.tflite"
TARGET = "ethos-u55-128"
BRICK = 16


class TinyNet:
    """Quantized IR text of a small int8 network with random weights, built op by op."""

    def __init__(self, input_shape: tuple[int, ...], seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.lines: list[str] = []
        self.count = 0
        self.input_type = self.activation(input_shape)
        self.types = {"%x": self.input_type}

    def activation(self, shape) -> str:
        scale, zero_point = self.rng.uniform(0.02, 0.08), int(self.rng.integers(-20, 20))
        return f"tensor<{'x'.join(map(str, shape))}x!quantized.uniform<i8:f32, {scale}:{zero_point}>>"

    def shape(self, value: str) -> list[int]:
        return [int(extent) for extent in self.types[value].removeprefix("tensor<").split("x!")[0].split("x")]

    def emit(self, text: str, result_type: str) -> str:
        self.count += 1
        name = f"%v{self.count}"
        self.lines.append(f"{name} = {text}")
        self.types[name] = result_type
        return name

    def constant(self, data: np.ndarray, axis: int | None) -> str:
        shape = "x".join(map(str, data.shape))
        storage = "i8" if data.dtype == np.int8 else "i32"
        values = f'"0x{data.tobytes().hex().upper()}"'
        if axis is None:
            return self.emit(f"quantized.constant dense<{values}> : tensor<{shape}x{storage}>",
                             f"tensor<{shape}x{storage}>")
        scales = ", ".join(f"{scale}:0" for scale in self.rng.uniform(0.002, 0.01, data.shape[axis]))
        result_type = f"tensor<{shape}x!quantized.uniform<i8:f32:{axis}, {{{scales}}}>>"
        return self.emit(f"quantized.constant dense<{values}> : tensor<{shape}x{storage}> -> {result_type}",
                         result_type)

    def layer(self, op: str, name: str, operands: list[str], result_type: str, properties: str = "") -> str:
        types = ", ".join(self.types[operand] for operand in operands)
        attributes = f'layer = "{name}"' + (f", {properties}" if properties else "")
        return self.emit(f"quantized.{op} {', '.join(operands)} {{{attributes}}} : ({types}) -> {result_type}",
                         result_type)

    def weighted(self, op: str, name: str, x: str, weights: np.ndarray, axis: int, properties: str) -> str:
        shape = self.shape(x)
        channels = weights.shape[axis]
        w = self.constant(weights, axis)
        b = self.constant(self.rng.integers(-400, 400, channels).astype(np.int32), None)
        return self.layer(op, name, [x, w, b], self.activation([*shape[:-1], channels]), properties)

    def conv(self, name: str, x: str, channels: int, activation: str = "relu") -> str:
        weights = self.rng.integers(-127, 128, (channels, 1, 1, self.shape(x)[-1])).astype(np.int8)
        window = "strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>"
        return self.weighted("conv2d", name, x, weights, 0, f'{window}, activation = "{activation}"')

    def depthwise(self, name: str, x: str, explicit_rescale: bool = False) -> str:
        channels = self.shape(x)[-1]
        weights = self.rng.integers(-127, 128, (1, 3, 3, channels)).astype(np.int8)
        window = "strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>"
        if explicit_rescale:  # (multiplier, shift) per channel
            pairs = [(int(self.rng.integers(1 << 30, 1 << 31)), int(self.rng.integers(-12, -6))) for _ in range(channels)]
            window += f", rescale = array<i32: {', '.join(str(n) for pair in pairs for n in pair)}>"
        return self.weighted("depthwise_conv2d", name, x, weights, 3, f'{window}, activation = "relu6"')

    def fully_connected(self, name: str, x: str, channels: int) -> str:
        weights = self.rng.integers(-127, 128, (channels, self.shape(x)[-1])).astype(np.int8)
        return self.weighted("fully_connected", name, x, weights, 0, 'activation = "none"')

    def add(self, name: str, first: str, second: str) -> str:
        return self.layer("add", name, [first, second], self.activation(self.shape(first)), 'activation = "none"')

    def unary(self, op: str, name: str, x: str, shape: list[int], properties: str = "", same: bool = False) -> str:
        result_type = self.types[x].replace("x".join(map(str, self.shape(x))), "x".join(map(str, shape)))
        result_type = result_type if same else self.activation(shape)
        attributes = f'layer = "{name}"' + (f", {properties}" if properties else "")
        return self.emit(f"quantized.{op} {x} {{{attributes}}} : {self.types[x]} -> {result_type}", result_type)

    def module(self, output: str) -> ModuleOp:
        body = "\n    ".join([*self.lines, f"func.return {output} : {self.types[output]}"])
        text = (f"builtin.module {{\n  func.func @main(%x: {self.input_type}) -> {self.types[output]} {{\n"
                f"    {body}\n  }}\n}}")
        module = Parser(npuc_context(), text).parse_module()
        module.verify()
        return module


def chain(explicit_rescale: bool = False) -> ModuleOp:
    """conv 16 -> conv 20 -> depthwise 20 -> conv 16: one off-brick group, ended by a conv."""
    net = TinyNet((1, 6, 6, 8))
    a = net.conv("a", "%x", 16)
    b = net.conv("b", a, 20)
    c = net.depthwise("c", b, explicit_rescale)
    return net.module(net.conv("d", c, 16, "none"))


def padded_chain(channel_padding: int = 0) -> ModuleOp:
    """conv 20 -> pad (spatial, or also over the channels) -> conv 16."""
    net = TinyNet((1, 4, 4, 8), seed=5)
    b = net.conv("b", "%x", 20)
    pads = f"paddings = array<i64: 0, 0, 1, 1, 1, 1, 0, {channel_padding}>, mode = \"constant\", value = 0 : i64"
    padded = net.unary("pad", "pad", b, [1, 6, 6, 20 + channel_padding], pads, same=True)
    return net.module(net.conv("d", padded, 16, "none"))


def chain_with_explicit_rescale() -> ModuleOp:
    """`chain` whose depthwise conv has a per-channel explicit rescale (as quantized rewrites make)."""
    return chain(explicit_rescale=True)


def residual() -> ModuleOp:
    """p (24) -> q (24); p + q -> r (16): p and q are tied by the add, q both writes and reads the group."""
    net = TinyNet((1, 6, 6, 8), seed=1)
    p = net.conv("p", "%x", 24)
    q = net.conv("q", p, 24)
    return net.module(net.conv("r", net.add("sum", p, q), 16, "none"))


def int8_input(module: ModuleOp, seed: int = 3) -> np.ndarray:
    shape = [int(extent) for extent in module.body.block.first_op.args[0].type.get_shape()]
    return np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)


def counting_measure(calls: list[int]):
    """A stand-in for the analyze path: the channel count of the model's widest tensor as 'cycles'."""

    def measure(module: ModuleOp) -> Measurement:
        calls.append(1)
        widest = max(value.type.get_shape()[-1] for op in module.walk() for value in op.results
                     if hasattr(value.type, "get_shape") and value.type.get_shape())
        return Measurement(widest, 0)

    return measure


def test_only_off_brick_layers_form_groups():
    groups = off_brick_groups(chain(), BRICK)
    assert [group.layers() for _, group in groups] == [("b", "c")]
    group = groups[0][1]
    assert [layer_name(op) for op in group.consumers] == ["d"]
    assert not group.declined and not group.reaches_output


def test_an_add_ties_its_producers_into_one_group():
    (_, group), = off_brick_groups(residual(), BRICK)
    assert group.layers() == ("p", "q")
    assert sorted(layer_name(op) for op in group.consumers) == ["q", "r"]


def test_digits_cnn_has_one_off_brick_layer_its_classifier():
    module = npuc.api.import_model(DIGITS_CNN)
    (_, group), = off_brick_groups(module, BRICK)
    assert (group.channels, group.reaches_output, group.declined) == (10, True, "")


@pytest.mark.parametrize("build", [chain, chain_with_explicit_rescale, residual, padded_chain])
def test_rounding_up_keeps_the_models_output_bit_exact(build):
    module = build()
    (seed, group), = off_brick_groups(module, BRICK)
    padded = with_channels(module, seed, group.channels // BRICK * BRICK + BRICK)
    assert off_brick_groups(padded, BRICK) == []
    x = int8_input(module)
    expected, = npuc.api.run(module, [x])
    actual, = npuc.api.run(padded, [x])
    np.testing.assert_array_equal(actual, expected)
    lowered = npuc.api.analyze_model(padded, TARGET).module  # what the what-if measures, run in the simulator
    simulated, = npuc.api.run(lowered, [x])
    np.testing.assert_array_equal(simulated, expected)


def test_a_per_channel_explicit_rescale_grows_with_the_channels():
    module = chain_with_explicit_rescale()
    (seed, _), = off_brick_groups(module, BRICK)
    depthwise, = [op for op in with_channels(module, seed, 32).walk() if layer_name(op) == "c"]
    multipliers, shifts = depthwise.explicit_rescale()
    original, = [op for op in module.walk() if layer_name(op) == "c"]
    kept_multipliers, kept_shifts = original.explicit_rescale()
    assert (multipliers[:20], shifts[:20]) == (kept_multipliers, kept_shifts)
    assert (multipliers[20:], shifts[20:]) == ((kept_multipliers[-1],) * 12, (kept_shifts[-1],) * 12)


def test_rounding_up_a_model_output_keeps_its_channels():
    module = npuc.api.import_model(DIGITS_CNN)
    (seed, _), = off_brick_groups(module, BRICK)
    padded = with_channels(module, seed, 16)
    x = int8_input(module)
    expected, = npuc.api.run(module, [x])
    actual, = npuc.api.run(padded, [x])
    assert actual.shape == (1, 16)
    np.testing.assert_array_equal(actual[:, :10], expected)


def test_rounding_down_drops_the_last_channels_everywhere_in_the_group():
    module = residual()
    (seed, _), = off_brick_groups(module, BRICK)
    narrower = with_channels(module, seed, 16)
    shapes = {layer_name(op): op.results[0].type.get_shape()[-1] for op in narrower.walk()
              if op.name.startswith("quantized.") and op.name != "quantized.constant"}
    assert shapes == {"p": 16, "q": 16, "sum": 16, "r": 16}
    assert npuc.api.run(narrower, [int8_input(module)])[0].shape == (1, 6, 6, 16)


def test_a_softmax_over_the_channels_declines_rounding_up_only():
    net = TinyNet((1, 12), seed=2)
    logits = net.fully_connected("logits", "%x", 20)
    module = net.module(net.unary("softmax", "probabilities", logits, [1, 20], "axis = 1 : i64, beta = 1.0 : f32"))
    calls: list[int] = []
    what_if, = channel_variants(module, load_target(TARGET), counting_measure(calls), Measurement(20, 0))
    assert "probabilities (quantized.softmax) normalises over the channels" in what_if.up.declined
    assert (what_if.down.channels, what_if.down.measurement, what_if.down.declined) == (16, Measurement(16, 0), "")
    assert len(calls) == 1


def test_a_reshape_moving_the_channels_declines_both_roundings():
    net = TinyNet((1, 2, 2, 8), seed=4)
    features = net.conv("features", "%x", 12)
    flat = net.unary("reshape", "flatten", features, [1, 48], same=True)
    module = net.module(net.fully_connected("classifier", flat, 16))
    what_if, = channel_variants(module, load_target(TARGET), counting_measure([]), Measurement(1, 0))
    assert what_if.down.declined == "fewer channels than one brick"
    assert what_if.up.declined == "flatten (quantized.reshape) may mix or move the channels"
    (seed, _), = off_brick_groups(module, BRICK)
    with pytest.raises(ChannelVariantError, match="flatten"):
        with_channels(module, seed, 16)


def test_a_pad_over_the_channels_declines_both_roundings():
    (_, group), = off_brick_groups(padded_chain(channel_padding=4), BRICK)
    assert group.declined == "pad (quantized.pad) may mix or move the channels"


def test_measured_on_the_analyze_path_rounding_down_saves():
    module = chain()
    what_if, = npuc.api.channel_what_if(module, TARGET)
    assert (what_if.channels, what_if.down.channels, what_if.up.channels) == (20, 16, 32)
    assert what_if.memory == load_target(TARGET).budget_memory
    assert what_if.down.measurement.cycles <= what_if.original.cycles
    assert what_if.original == npuc.api.analyze_model(module.clone(), TARGET).measurement()
    row = what_if.row()
    assert row["down_cycles_change"] == what_if.down.measurement.cycles - what_if.original.cycles <= 0
    assert row["layer"] == "b + c"


def _what_if(down: Measurement | None, up: Measurement | None, declined: str = "") -> ChannelWhatIf:
    from npuc.dse.channels import ChannelVariant

    return ChannelWhatIf(("conv2d_2",), 90, 16, "sram", Measurement(1000, 4096),
                         ChannelVariant(80, down, "" if down else declined), ChannelVariant(96, up, "" if up else declined))


def test_advice_says_what_rounding_up_and_down_measure():
    line = _what_if(Measurement(900, 4000), Measurement(1000, 4096)).advice()
    assert line == ("conv2d_2: 90 output channels cost the same as 96 (brick 16); "
                    "80 would save 100 cycles (-10.0 %) and 96 bytes of sram")
    line = _what_if(None, Measurement(1100, 4096), "fewer channels than one brick").advice()
    assert line == ("conv2d_2: 90 output channels (brick 16); 96 would cost +100 cycles (+10.0 %) and +0 bytes "
                    "of sram; 80 not measured: fewer channels than one brick")
    assert channel_variant_line(_what_if(None, None, "why").as_dict()) == (
        "conv2d_2: 90 output channels (brick 16); 96 not measured: why; 80 not measured: why")


def test_analyze_prints_the_channel_advice_and_reports_it(tmp_path):
    out = tmp_path / "reports"
    result = subprocess.run([sys.executable, "-m", "npuc.tools.npuc_main", "analyze", str(DIGITS_CNN),
                             "--channel-advice", "--report", "text,json", "-o", str(out)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "StatefulPartitionedCall_1:0: 10 output channels (brick 16); 16 would cost" in result.stdout
    assert "0 not measured: fewer channels than one brick" in result.stdout
    entry, = json.loads((out / "report.json").read_text())["summary"]["channel_variants"]
    assert (entry["channels"], entry["up"]["channels"], entry["down"]["declined"]) == (
        10, 16, "fewer channels than one brick")


def test_analyze_without_the_option_measures_no_variants():
    analysis = npuc.api.analyze_model(npuc.api.import_model(DIGITS_CNN), TARGET)
    assert analysis.channel_variants is None
    assert "channel_variants" not in analysis.report()["summary"]
