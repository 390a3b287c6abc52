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

import npuc
from npuc.backend.lookup_tables import LOOKUP_TABLE_OPS, activation_table
from npuc.dialects import npu
from npuc.ir import main_function

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
