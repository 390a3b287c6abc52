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
import tflite

import npuc
from npuc.data import model_interface
from npuc.sim.simulator import simulate_sample

from support.paths import TFLITE_MODELS
from tflite_models.builder import OPTIMIZED_KERNEL_OPERATORS, run_model

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


def special_operator(data: bytes) -> str | None:
    """The model's operator that needs LiteRT's optimized kernel (`OPTIMIZED_KERNEL_OPERATORS`), if any."""
    model = tflite.Model.GetRootAsModel(data, 0)
    names = {
        name
        for index in range(model.OperatorCodesLength())
        for name, code in vars(tflite.BuiltinOperator).items()
        if code == max(model.OperatorCodes(index).BuiltinCode(), model.OperatorCodes(index).DeprecatedBuiltinCode())
    }
    return next(iter(sorted(names & OPTIMIZED_KERNEL_OPERATORS)), None)


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
@pytest.mark.parametrize("name", NAMES)
def test_compiled_model_matches_litert(name: str, target: str) -> None:
    data = (MODELS / name).read_bytes()
    program = npuc.compile_model(npuc.import_model(MODELS / name), target).module
    inputs = random_inputs(program)
    expected = run_model(data, *inputs, operator=special_operator(data))
    for got, want in zip(simulate_sample(program, inputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
