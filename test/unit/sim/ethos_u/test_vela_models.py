"""Vela's own output for every per-operator model runs bit-exactly in npuc's Ethos-U simulator.

`test/vela_models/` holds what Vela 5.2's default core makes of each
`test/tflite_models/*.tflite`, and of `npu_cpu_npu.tflite` (two ethos-u
operators around an operator Vela leaves on the CPU, which `npuc.run` runs in
the integer reference), for the Ethos-U55-128 (Shared_Sram) and the
Ethos-U65-256 (Dedicated_Sram) (`make_vela_models.py`; `manifest.json` says
why a model has no output: Vela leaves it on the CPU or fails). Each output is
imported and run with `npuc.run` (the `ethos-u` operator in the register
simulator) and compared byte for byte with TFLite's reference kernels on the
original model: the oracle is TFLite, not Vela and not npuc.

Where Vela's command stream itself computes something else than TFLite, the
test says so: a rescale that rounds differently may be off by one step
(`ROUNDING_DEVIATIONS`), and a wrong computation is an expected failure with
the reason (`VELA_DEVIATIONS`) that turns into an unexpected pass if Vela (or
the simulator) changes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import npuc
from npuc.importers.tflite.model import decode_model
from npuc.ir import arg_attributes, main_function, tensor_name

from support.paths import TEST, TFLITE_MODELS
from tflite_models.builder import OPTIMIZED_KERNEL_OPERATORS, reference_interpreter

VELA_MODELS = TEST / "vela_models"
MANIFEST = json.loads((VELA_MODELS / "manifest.json").read_text())
SEEDS = (0, 1, 2)
ROUNDING_DEVIATIONS = {
    "fully_connected_16x8",
    "fully_connected_16x8_per_tensor",
    "fully_connected_16x8_shallow",
    "fully_connected_16x8_40bit_bias",
    "fully_connected_16x8_large_bias",
}
"""Vela rescales a 16x8 FULLY_CONNECTED with TFLite's 15-bit int16 multiplier, rounding half up (as
TFLite's 16x8 convolution and TFLite Micro's FC do); LiteRT's reference FC rescales in double
precision, so an output near a rounding tie may differ by one."""
VELA_DEVIATIONS = {
    "sum_hw": "Vela 5.2's default core sums over H only: its convolution adds 4 rows and writes 12 values "
              "(W x C) where SUM over H and W has 3",
    "sum_16x8": "as sum_hw",
}
"""Models whose Vela output is not TFLite's computation, and why (found with this simulator)."""

CASES = [
    pytest.param(model, config, marks=pytest.mark.xfail(reason=VELA_DEVIATIONS[model], strict=True))
    if model in VELA_DEVIATIONS else (model, config)
    for model, configs in sorted(MANIFEST.items())
    for config in sorted(configs)
]


def _random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    info = np.iinfo(detail["dtype"])
    return rng.integers(info.min, info.max, detail["shape"], dtype=detail["dtype"], endpoint=True)


@pytest.mark.parametrize(("model", "config"), CASES)
def test_vela_output_runs_as_tflite_computes(model: str, config: str) -> None:
    entry = MANIFEST[model][config]
    if not entry.endswith(".tflite"):
        pytest.skip(entry)
    source = TFLITE_MODELS / f"{model}.tflite"
    original = (source if source.exists() else VELA_MODELS / f"{model}.tflite").read_bytes()
    operators = {operator.op_type for operator in decode_model(original, model)[1]}
    special = sorted(operators & OPTIMIZED_KERNEL_OPERATORS)
    interpreter = reference_interpreter(original, special[0] if special else None)
    module = npuc.import_model(VELA_MODELS / entry)
    assert any(op.name == "quantized.external" for op in module.walk()), "Vela's output has an ethos-u operator"
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        inputs = {detail["name"]: _random_input(detail, rng) for detail in interpreter.get_input_details()}
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], inputs[detail["name"]])
        interpreter.invoke()
        names = [tensor_name(attributes, "") for attributes in arg_attributes(main_function(module))]
        actual = npuc.run(module, [inputs[name] for name in names])
        expected = [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            assert got.dtype == want.dtype and got.shape == want.shape, f"output {index}"
            if model in ROUNDING_DEVIATIONS:
                steps = np.abs(want.astype(np.int64) - got.astype(np.int64)).max()
                assert steps <= 1, f"seed {seed}, output {index}: off by {steps} steps"
                continue
            differing = np.count_nonzero(want.view(np.uint8) != got.view(np.uint8))
            assert differing == 0, f"seed {seed}, output {index}: {differing} bytes differ"
