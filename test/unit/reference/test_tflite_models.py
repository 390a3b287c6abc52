"""Every per-operator TFLite test model imports and runs bit-exactly as TFLite's reference.

The models in `test/tflite_models/` cover each operator npuc imports with
several parameter sets. Each is imported with `import_tflite`, run with
`npuc.run` on random stored integers (several seeds) and compared byte for
byte with ai_edge_litert's BUILTIN_REF kernels (the optimized kernel for the
operators whose reference kernel is wrong, see `builder.OPTIMIZED_KERNEL_OPERATORS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import npuc
from npuc.importers.tflite.importer import import_tflite_bytes
from npuc.importers.tflite.model import decode_model

from support.paths import TFLITE_MODELS
from tflite_models.builder import OPTIMIZED_KERNEL_OPERATORS, reference_interpreter

MODELS = TFLITE_MODELS
SEEDS = (0, 1, 2)



def _random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return rng.uniform(-4.0, 4.0, detail["shape"]).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, detail["shape"], dtype=dtype, endpoint=True)


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.tflite")), ids=lambda path: path.stem)
def test_model_is_bit_exact(path: Path) -> None:
    data = path.read_bytes()
    module = import_tflite_bytes(data, str(path))
    operators = {op.op_type for op in decode_model(data, str(path))[1]}
    special = sorted(operators & OPTIMIZED_KERNEL_OPERATORS)
    interpreter = reference_interpreter(data, special[0] if special else None)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        inputs = [_random_input(detail, rng) for detail in interpreter.get_input_details()]
        for detail, array in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        expected = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
        actual = npuc.run(module, inputs)
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            assert got.dtype == want.dtype and got.shape == want.shape, f"output {index}"
            differing = np.count_nonzero(want.view(np.uint8) != got.view(np.uint8))
            assert differing == 0, f"seed {seed}, output {index}: {differing} bytes differ"
