"""The register command stream of one-layer models against Vela's generator (`ethosu.vela.api`, the oracle).

Each model goes through npuc's back end for an Ethos-U target; its lowered
commands are described to Vela's `npu_generate_register_command_stream`
with Vela's own weight and scale encoders (`support.vela_oracle`), and the
two streams must be equal word for word: registers, their order, which are
written again, the DMA waits and BLOCKDEP. Where npuc means something Vela's
legacy generator does not do by default (TFLite's single rounding of a fully
connected layer and of int64-bias rescales, an average pool on the stored
values without zero points), the oracle is told so explicitly.
"""

from __future__ import annotations

import pytest

from npuc.dialects import npu
from npuc.emit.ethos_u.emitter import emit_program
from npuc.emit.ethos_u.registers import decode_commands, mnemonic
from npuc.targets import load_target

from support.ethos_u_layers import (
    INT16,
    binary,
    convolution,
    fully_connected,
    lower,
    pool,
)
from support.vela_oracle import (
    Regions,
    commands,
    layer_of,
    operation,
    streams,
    vela_stream,
)

pytestmark = pytest.mark.usefixtures("velas_codec")  # byte-for-byte with Vela's streams


def describe(words: list[int]) -> list[str]:
    """One line per command: mnemonic and value (for a readable diff)."""
    return [f"{mnemonic(command.opcode)} {command.value:#x}" for command in decode_commands(words)]


CASES = {
    "conv_part_kernel_first_relu": (convolution((8, 8, 4), 8, (3, 3), activation="relu", padding=(1, 1, 1, 1)), "relu"),
    "conv_depth_first": (convolution((6, 6, 64), 16, (3, 3)), "none"),
    "conv_depth_first_relu6_strided": (convolution((9, 9, 40), 24, (3, 3), activation="relu6", strides=(2, 2)), "relu6"),
    "conv_16x8_relu": (convolution((6, 6, 24), 16, (3, 3), INT16, activation="relu", padding=(1, 1, 1, 1)), "relu"),
    "conv_dilated": (convolution((12, 12, 16), 8, (3, 3), dilations=(2, 2)), "none"),
    "depthwise_relu6": (convolution((9, 9, 16), 16, (3, 3), activation="relu6", depthwise=True, strides=(2, 2)), "relu6"),
    "depthwise_16x8": (convolution((8, 8, 8), 8, (3, 3), INT16, depthwise=True, padding=(1, 1, 1, 1)), "none"),
    "fully_connected": (fully_connected(64, 10), "none"),
    "fully_connected_relu": (fully_connected(200, 24, activation="relu"), "relu"),
    "fully_connected_16x8": (fully_connected(64, 10, INT16), "none"),
    "max_pool": (pool("max", (8, 8, 16), (2, 2), strides=(2, 2)), "none"),
    "max_pool_relu6_padded": (pool("max", (8, 8, 16), (3, 3), activation="relu6", padding=(1, 1, 1, 1)), "relu6"),
    "max_pool_16": (pool("max", (8, 8, 16), (2, 2), INT16, strides=(2, 2)), "none"),
    "avg_pool": (pool("avg", (8, 8, 16), (3, 3)), "none"),
    "avg_pool_relu_padded": (pool("avg", (8, 8, 16), (3, 3), activation="relu", padding=(1, 1, 1, 1)), "relu"),
    "avg_pool_16": (pool("avg", (8, 8, 16), (2, 2), INT16, strides=(2, 2)), "none"),
    "add": (binary("add", (4, 4, 16)), "none"),
    "add_relu_broadcast": (binary("add", (4, 4, 16), activation="relu", second=(1, 1, 16)), "relu"),
    "add_equal_scales": (binary("add", (4, 4, 16), scales=(0.05, 0.05, 0.07)), "none"),
    "add_16x8_relu6": (binary("add", (4, 4, 16), INT16, activation="relu6"), "relu6"),
    "sub": (binary("sub", (4, 4, 16)), "none"),
    "mul": (binary("mul", (4, 4, 16)), "none"),
    "mul_relu_16x8": (binary("mul", (4, 4, 16), INT16, activation="relu"), "relu"),
}


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-512"])
@pytest.mark.parametrize("case", CASES)
def test_one_layer_stream_equals_velas(case, target):
    text, activation = CASES[case]
    description = load_target(target)
    layer = layer_of(text, activation)
    module = lower(text, target)
    (segment,) = emit_program(module).segments
    regions = Regions(module, description)
    operations = [
        operation(command, layer if isinstance(command, (npu.WeightedOp, npu.FullyConnectedOp)) else None,
                  description, activation, regions)
        for command in commands(module)
    ]
    assert describe(list(segment.words)) == describe(vela_stream(operations, description))
    assert list(segment.words) == vela_stream(operations, description)


@pytest.mark.parametrize("case", ["conv_part_kernel_first_relu", "depthwise_16x8", "fully_connected_16x8"])
@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-512"])
def test_constants_hold_velas_weight_streams_and_scale_records(case, target):
    text, activation = CASES[case]
    description = load_target(target)
    module = lower(text, target)
    command = next(op for op in module.ops if isinstance(op, (npu.WeightedOp, npu.FullyConnectedOp)))
    constants = {(op.buffer.region.data, op.buffer.offset.data): op.value.data.data
                 for op in module.ops if isinstance(op, npu.ConstantOp)}
    staged = {(op.dst.region.data, op.dst.offset.data): op.src for op in module.ops if isinstance(op, npu.DmaOp)}
    weights = staged.get((command.weights.region.data, command.weights.offset.data), command.weights)
    records = staged.get((command.scale_bias.region.data, command.scale_bias.offset.data), command.scale_bias)
    vela_weights, vela_records = streams(command, layer_of(text, activation), description)
    assert constants[(weights.region.data, weights.offset.data)] == b"".join(vela_weights)
    assert constants[(records.region.data, records.offset.data)] == b"".join(vela_records)
