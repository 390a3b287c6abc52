"""Int8 activations run on the NPU as one elementwise command with a 256-entry lookup table.

The table is the layer's integer reference on every int8 input
(`npuc.backend.lookup_tables`); here it is checked against LiteRT's
BUILTIN_REF kernels on all 256 inputs of each per-operator model, and the
compiled models are checked to place the activation on the NPU as one
table command (their outputs are compared with LiteRT in both simulators by
test/unit/sim/test_tflite_models_compiled.py and
test/unit/emit/ethos_u/test_tflite_package.py).
"""

from __future__ import annotations

from math import prod

import numpy as np
import pytest
from xdsl.parser import Parser

import npuc
from npuc.backend.lookup_tables import LOOKUP_TABLE_OPS, activation_table
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.emit.ethos_u.emitter import emit_program
from npuc.ir import main_function
from npuc.sim.simulator import simulate_sample

from support.ethos_u_layers import convolution, lower
from support.ethos_u_run import run_program
from support.paths import TFLITE_MODELS
from tflite_models.builder import run_model

TABLE_MODELS = [
    "logistic_int8", "logistic_int8_wide", "tanh_int8", "tanh_int8_wide", "hard_swish_int8",
    "hard_swish_int8_wide", "leaky_relu_int8", "leaky_relu_int8_rescale", "prelu_scalar_slope",
    "gelu_int8", "gelu_int8_approximate",
]  # fmt: skip
TARGETS = ["ethos-u55-128", "ethos-u65-256"]


def _activation(name: str):
    module = npuc.import_model(TFLITE_MODELS / f"{name}.tflite")
    (op,) = [op for op in main_function(module).body.ops if isinstance(op, LOOKUP_TABLE_OPS)]
    return op


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_the_table_is_what_litert_computes_for_every_int8_input(name: str) -> None:
    model = (TFLITE_MODELS / f"{name}.tflite").read_bytes()
    op = _activation(name)
    shape = [dim for dim in op.operands[0].type.get_shape()]
    elements = prod(shape)
    inputs = np.resize(np.arange(-128, 128, dtype=np.int8), -(-256 // elements) * elements)
    litert = np.concatenate([
        run_model(model, chunk.reshape(shape))[0].reshape(-1) for chunk in inputs.reshape(-1, elements)
    ])  # fmt: skip
    np.testing.assert_array_equal(activation_table(op), litert[:256])


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", TABLE_MODELS)
def test_the_activation_is_one_npu_command_with_a_table(name: str, target: str) -> None:
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    (command,) = [op for op in program.ops if isinstance(op, npu.ComputeOp)]
    assert isinstance(command, npu.ElementwiseOp) and command.lut is not None
    assert command.lut.size.data == 256


def test_a_prelu_with_a_slope_per_channel_runs_on_the_cpu_saying_why() -> None:
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / "prelu_channel_slope.tflite"), "ethos-u55-128")
    (cpu,) = [op for op in program.module.ops if isinstance(op, npu.CpuOp)]
    assert cpu.reason is not None and cpu.reason.data.startswith("its 3 slopes differ")


@pytest.mark.parametrize("name", ["logistic_16x8", "tanh_16x8", "leaky_relu_16x8", "prelu_16x8"])
def test_int16_activations_stay_on_the_cpu(name: str) -> None:
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), "ethos-u55-128")
    (cpu,) = [op for op in program.module.ops if isinstance(op, npu.CpuOp)]
    assert cpu.reason is not None and cpu.reason.data == "ofm data type int16 not in int8"


def _with_activation(convolution_text: str, activation: str, result_type: str) -> str:
    """`convolution_text` (`@main` returning %layer) with `activation` of %layer as the result."""
    body, _, _ = convolution_text.rpartition("  func.return")
    header, _, rest = body.partition(") -> ")
    layer_type = rest.split(" {", 1)[0]
    body = header + ") -> " + result_type + " {" + rest.split(" {", 1)[1]
    return (
        f"{body}  %y = quantized.{activation} %layer {{layer = \"act\"}} : {layer_type} -> {result_type}\n"
        f"  func.return %y : {result_type}\n}}"
    )


SIGMOID_OUT = "tensor<1x6x6x16x!quantized.uniform<i8:f32, 0.00390625:-128>>"
FUSED = {
    "conv": _with_activation(convolution((6, 6, 8), 16, (3, 3), padding=(1, 1, 1, 1)), "logistic", SIGMOID_OUT),
    "depthwise": _with_activation(
        convolution((6, 6, 16), 16, (3, 3), padding=(1, 1, 1, 1), depthwise=True), "hard_swish",
        "tensor<1x6x6x16x!quantized.uniform<i8:f32, 0.05:-20>>",
    ),
}  # fmt: skip
"""A convolution and a depthwise convolution each read only by a lookup-table activation."""


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(FUSED))
def test_an_activation_after_a_convolution_is_fused_into_its_command(name: str, target: str) -> None:
    text = FUSED[name]
    module = lower(text, target)
    (command,) = [op for op in module.ops if isinstance(op, npu.ComputeOp)]
    assert isinstance(command, npu.WeightedOp) and command.lut is not None
    rng = np.random.default_rng(0)
    inputs = [rng.integers(-128, 128, (1, 6, 6, 8 if name == "conv" else 16), dtype=np.int8)]
    reference = npuc.run(Parser(npuc_context(), text).parse_module(), inputs)
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        np.testing.assert_array_equal(outputs[0], reference[0])
