"""Generate the single-operator TFLite test models of this directory.

Usage: ``python test/tflite_models/make_models.py`` (from the repository
root, in the test environment). Every model is built from a `ModelSpec`,
written as ``<op>_<variant>.tflite`` next to this script and run once with
TFLite's reference kernels (ai_edge_litert, BUILTIN_REF) to prove TFLite
accepts it; stale ``.tflite`` files are removed. Generation is deterministic:
each model draws its weights and quantization parameters from a generator
seeded by its name, so adding a model leaves the others' bytes unchanged.

int8 models use asymmetric int8 activations; ``16x8`` models use int16
activations with zero point 0 and int8 weights (int64 bias unless the name
says int32), TFLite's 16x8 quantization mode.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tflite_models import layer_models, tensor_models  # noqa: F401  (registers the operator families)
from tflite_models.builder import run_model
from tflite_models.specs import (
    _FAMILIES,
    ACTIVATIONS,
    MODEL_DIRECTORY,
    SAME,
    ModelSpec,
    random_input,
)

__all__ = ["ACTIVATIONS", "SAME", "ModelSpec", "model_specs", "random_input"]


def model_specs() -> list[ModelSpec]:
    """Every test model, in a stable order."""

    def rng_for(name: str) -> np.random.Generator:
        return np.random.default_rng(zlib.crc32(name.encode()))

    specs = [spec for generate in _FAMILIES for spec in generate(rng_for)]
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names)), "model names must be unique"
    return specs


def main() -> None:
    """Write every model, check TFLite's reference kernels run it, drop stale files.

    The declared output shapes must be the ones TFLite computes, so that an
    importer reading the file sees consistent shapes.
    """
    specs = model_specs()
    rng = np.random.default_rng(0)
    for spec in specs:
        model = spec.build()
        try:
            outputs = run_model(model, *(random_input(t, rng) for t in spec.graph_inputs()))
        except (RuntimeError, ValueError) as error:
            raise SystemExit(f"{spec.name}: TFLite rejects the model: {error}") from error
        declared = [tuple(spec.tensors[i].shape) for i in spec.outputs]
        if declared != [o.shape for o in outputs]:
            raise SystemExit(f"{spec.name}: declared output shapes {declared} are not TFLite's")
        spec.path.write_bytes(model)
    current = {spec.path for spec in specs}
    for stale in set(MODEL_DIRECTORY.glob("*.tflite")) - current:
        stale.unlink()
    total = sum(spec.path.stat().st_size for spec in specs)
    print(f"wrote {len(specs)} models ({total / 1024:.0f} KiB) to {MODEL_DIRECTORY}")


if __name__ == "__main__":
    main()
