"""Inputs for compiled TFLite models and the LiteRT kernels that check them.

`random_inputs` draws one sample per model input over its storage type's
whole range; `special_operator` names the operator of a model that LiteRT
must run with its optimized kernel (`run_model`'s `operator`);
`assert_litert_runs_it_bit_exactly` exports a quantized module and checks
LiteRT's reference kernels give npuc's results.
"""

from __future__ import annotations

import numpy as np
import tflite

import npuc
from npuc.data import model_interface
from npuc.emit.tflite.export import export_tflite

from tflite_models.builder import OPTIMIZED_KERNEL_OPERATORS, reference_interpreter


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


def assert_litert_runs_it_bit_exactly(module, sample: np.ndarray) -> None:
    """The module exported as a .tflite (QUANTIZE ... DEQUANTIZE) gives in LiteRT's reference kernels npuc's results."""
    interpreter = reference_interpreter(export_tflite(module))
    (detail,) = interpreter.get_input_details()
    interpreter.set_tensor(detail["index"], sample)
    interpreter.invoke()
    (expected,) = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
    (actual,) = npuc.run(module, [sample])
    assert np.array_equal(actual, expected), f"{np.count_nonzero(actual != expected)} values differ"
