"""Every per-operator TFLite model, compiled, simulates bit for bit like the integer reference.

Each model of test/tflite_models compiles for ethos-u55-128 (Shared_Sram)
and ethos-u65-256 (Dedicated_Sram: intermediates in the staging SRAM) with
its NPU layers as commands and the rest as CPU regions; the simulator runs
the program on random inputs and must reproduce `npuc.run` on the imported
model exactly. This covers each lowering (multi-output CPU ops, 16x8 layers
with an int64 bias and their wide scale/bias table, memory views, the
softmax chain) end to end.
"""


import numpy as np
import pytest

import npuc
from npuc.data import model_interface
from npuc.sim.simulator import simulate_sample

from support.paths import TFLITE_MODELS

MODELS = TFLITE_MODELS
NAMES = sorted(path.name for path in MODELS.glob("*.tflite"))


def random_inputs(module) -> list[np.ndarray]:
    """One random sample per model input, over the whole range of its storage type."""
    rng = np.random.default_rng(0)
    inputs = []
    for spec in model_interface(module).inputs:
        if spec.dtype.kind == "f":
            inputs.append(rng.standard_normal(spec.ir_shape).astype(spec.dtype))
        else:
            info = np.iinfo(spec.dtype)
            inputs.append(rng.integers(info.min, info.max + 1, size=spec.ir_shape).astype(spec.dtype))
    return inputs


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
@pytest.mark.parametrize("name", NAMES)
def test_compiled_model_matches_the_reference(name: str, target: str) -> None:
    reference = npuc.import_model(MODELS / name)
    inputs = random_inputs(reference)
    expected = npuc.run(reference, inputs)
    program = npuc.compile_model(npuc.import_model(MODELS / name), target).module
    for got, want in zip(simulate_sample(program, inputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
