"""Int8 SQUARED_DIFFERENCE runs on the NPU as seven integer elementwise commands, bit-exact with LiteRT.

The per-operator models compile with the layer on the NPU; every pair of
int8 inputs of `squared_difference_same_shape` (65,536 pairs, in batches of
the model's shape) goes through the npu-IR simulator and the Ethos-U
register-stream simulator and must give LiteRT's BUILTIN_REF bytes: that
covers every rounding tie of the three rescales (the NPU's double rounding
against TFLite's doubling high multiply and rounding divide).
test/unit/sim/test_tflite_models_compiled.py and
test/unit/emit/ethos_u/test_tflite_package.py run the broadcast model too.
"""

from __future__ import annotations

from math import prod

import numpy as np
import pytest
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.emit.ethos_u.emitter import emit_program
from npuc.sim.simulator import simulate_sample

from support.ethos_u_run import assert_both_simulators_give, run_program
from support.paths import TFLITE_MODELS
from tflite_models.builder import run_model

MODELS = ["squared_difference_same_shape", "squared_difference_broadcast_mean"]
TARGETS = ["ethos-u55-128", "ethos-u65-256"]
SHAPE = (1, 4, 5, 8)
"""Input shape of `squared_difference_same_shape`."""


def _compiled(name: str, target: str) -> npuc.CompileResult:
    return npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), target)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_the_layer_is_seven_integer_elementwise_commands(name: str, target: str) -> None:
    program = _compiled(name, target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    commands = [op for op in program.ops if isinstance(op, npu.ComputeOp)]
    assert [op.kind.data for op in commands if isinstance(op, npu.ElementwiseOp)] == [
        "mul", "mul", "mul", "mul", "sub", "mul", "mul",
    ]  # fmt: skip
    assert [op.rounding.data for op in commands if isinstance(op, npu.ElementwiseOp) and op.rounding] == [
        "half_up", "double", "half_up", "double", "half_up", "half_up", "double",
    ]  # fmt: skip


@pytest.mark.parametrize("target", TARGETS)
def test_every_pair_of_int8_inputs_gives_litert_s_bytes(target: str) -> None:
    data = (TFLITE_MODELS / "squared_difference_same_shape.tflite").read_bytes()
    program = _compiled("squared_difference_same_shape", target).module
    stream = emit_program(program)
    values = np.arange(-128, 128, dtype=np.int8)
    first, second = (pairs.reshape(-1) for pairs in np.meshgrid(values, values, indexing="ij"))
    batch = prod(SHAPE)
    got_ir, got_stream, want = [], [], []
    for start in range(0, first.size, batch):
        inputs = [np.resize(side[start : start + batch], batch).reshape(SHAPE) for side in (first, second)]
        want.append(run_model(data, *inputs)[0])
        got_ir.append(simulate_sample(program, inputs)[0])
        got_stream.append(run_program(program, stream, inputs)[0])
    np.testing.assert_array_equal(np.concatenate(got_ir), np.concatenate(want))
    np.testing.assert_array_equal(np.concatenate(got_stream), np.concatenate(want))


TOKENS = "tensor<1x17x64x!quantized.uniform<i8:f32, 0.05:3>>"
MEANS = "tensor<1x17x1x!quantized.uniform<i8:f32, 0.01:-2>>"
SQUARES = "tensor<1x17x64x!quantized.uniform<i8:f32, 0.02:-128>>"
LAYER_NORM_SQUARES = f"""
func.func @main(%x: {TOKENS}, %m: {MEANS}) -> {SQUARES} {{
  %y = quantized.squared_difference %x, %m {{layer = "sd", activation = "none"}} : ({TOKENS}, {MEANS}) -> {SQUARES}
  func.return %y : {SQUARES}
}}"""
"""A layer norm's squared difference over a small ViT's 17 tokens of 64 channels."""


@pytest.mark.parametrize("target", TARGETS)
def test_a_vit_sized_layer_gets_blocks_its_int32_commands_fit(target: str) -> None:
    module = Parser(npuc_context(), LAYER_NORM_SQUARES).parse_module()
    rng = np.random.default_rng(5)
    inputs = [rng.integers(-128, 128, (1, 17, 64), dtype=np.int8), rng.integers(-128, 128, (1, 17, 1), dtype=np.int8)]
    expected = npuc.run(module.clone(), inputs)[0]
    program = npuc.compile_model(module, target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    assert_both_simulators_give(program, inputs, [expected])
