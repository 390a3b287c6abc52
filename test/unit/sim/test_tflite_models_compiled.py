"""Every per-operator TFLite model, compiled, simulates bit for bit like TFLite's reference kernels.

Each model of test/tflite_models compiles for ethos-u55-128 (Shared_Sram)
and ethos-u65-256 (Dedicated_Sram: intermediates in the staging SRAM) with
its NPU layers as commands and the rest as CPU regions; the simulator runs
the program on random inputs and must reproduce ai_edge_litert's BUILTIN_REF
kernels exactly. The expected bytes come from LiteRT directly, not from
npuc's integer reference (which shares its kernels with the simulator), so a
kernel bug both share fails here: the models with asymmetric SAME padding,
strides of 3 and dilations are there for that. This covers each lowering
(multi-output CPU ops, 16x8 layers with an int64 bias and their wide
scale/bias table, memory views, the softmax chain) end to end, and the
simulator's memory-hazard check on every program.
"""

import numpy as np
import pytest

import npuc
from npuc.sim.simulator import simulate_sample

from support.litert import random_inputs, special_operator
from support.paths import TFLITE_MODELS
from tflite_models.builder import run_model

MODELS = TFLITE_MODELS
NAMES = sorted(path.name for path in MODELS.glob("*.tflite"))


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
@pytest.mark.parametrize("name", NAMES)
def test_compiled_model_matches_litert(name: str, target: str) -> None:
    data = (MODELS / name).read_bytes()
    program = npuc.compile_model(npuc.import_model(MODELS / name), target).module
    inputs = random_inputs(program)
    expected = run_model(data, *inputs, operator=special_operator(data))
    for got, want in zip(simulate_sample(program, inputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
