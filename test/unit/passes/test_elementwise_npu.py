"""ADD, SUB and MUL on the NPU: one TFLite-semantics elementwise command each, bit-exact.

Every one-op add/sub/mul model of test/tflite_models (int8 and 16x8, same
shape and broadcast, fused activations) compiles with no CPU operation; the
simulated program equals the quantized reference bit for bit.
"""


import numpy as np
import pytest

import npuc
from npuc.data import model_interface
from npuc.dialects import npu
from npuc.sim.simulator import simulate_sample

from support.paths import TFLITE_MODELS

MODELS = TFLITE_MODELS
BINARY_MODELS = sorted(p.name for p in MODELS.glob("*.tflite") if p.name.split("_")[0] in ("add", "sub", "mul"))


def test_every_binary_model_is_covered() -> None:
    assert {name.split("_")[0] for name in BINARY_MODELS} == {"add", "sub", "mul"}


@pytest.mark.parametrize("name", BINARY_MODELS)
def test_binary_model_runs_as_one_elementwise_command(name: str) -> None:
    reference = npuc.import_model(MODELS / name)
    rng = np.random.default_rng(0)
    inputs = []
    for spec in model_interface(reference).inputs:
        info = np.iinfo(spec.dtype)
        inputs.append(rng.integers(info.min, info.max + 1, size=spec.ir_shape).astype(spec.dtype))
    program = npuc.compile_model(npuc.import_model(MODELS / name), "ethos-u55-128").module
    commands = [op for op in program.ops if isinstance(op, (npu.ElementwiseOp, npu.CpuOp))]
    assert [(type(op), op.kind.data) for op in commands] == [(npu.ElementwiseOp, name.split("_")[0])]
    expected = npuc.run(reference, inputs)[0]
    np.testing.assert_array_equal(simulate_sample(program, inputs)[0], expected)
