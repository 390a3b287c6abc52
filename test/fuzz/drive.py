"""How a fuzz case reaches npuc: the public API calls the CLI makes, on files a case writes.

`exercise_model` is `npuc import`, `npuc run` and `npuc compile` in one:
a model (ONNX, TFLite or textual IR) that imports is also run on zero
inputs by the reference interpreters (or the simulator) and compiled for the
default target, so failures past the importer show too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

import npuc
from npuc.data import ModelInterface, model_interface

MAX_INPUT_ELEMENTS = 1 << 24
"""Largest input the driver builds to run a model: past it, only import and compile run (the data is the
user's to give; building it would be the driver's blow-up, not npuc's)."""

CALIBRATION_SAMPLES = 2
"""Calibration samples for a float model."""

CALIBRATION_SEED = 14
"""Seed of the calibration data (issue 14)."""


def write_files(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` (name relative to `directory` -> content) under `directory`."""
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def exercise_model(path: Path) -> object:
    """Import the model at `path`, run it on zero inputs and compile it for the default target."""
    module = npuc.import_model(path)
    interface = model_interface(module)
    inputs = zero_inputs(interface)
    if inputs is not None:
        npuc.run(module.clone(), inputs)
    if any(op.name.startswith("npu.") for op in module.walk()):
        return module  # already lowered: run is all there is
    calibration = None
    if npuc.api.is_float_module(module):
        calibration = calibration_samples(interface)
        if calibration is None:
            return module
    return npuc.compile_model(module, calibration=calibration)


def zero_inputs(interface: ModelInterface) -> list[np.ndarray] | None:
    """One zero sample per input in IR layout; None when an input has a negative dimension or is too large."""
    shapes = [tensor.ir_shape for tensor in interface.inputs]
    if any(dim < 0 for shape in shapes for dim in shape) or any(
        np.prod(shape, dtype=np.float64) > MAX_INPUT_ELEMENTS for shape in shapes
    ):
        return None
    return [np.zeros(tensor.ir_shape, tensor.dtype) for tensor in interface.inputs]


def calibration_samples(interface: ModelInterface) -> list[np.ndarray] | None:
    """Seeded random calibration samples in [0, 1) for a float model; None as for `zero_inputs`."""
    if zero_inputs(interface) is None:
        return None
    rng = np.random.default_rng(CALIBRATION_SEED)
    samples = []
    for tensor in interface.inputs:
        shape = tensor.ir_shape
        stacked = (CALIBRATION_SAMPLES, *shape[1:]) if shape and shape[0] == 1 else shape
        samples.append(rng.random(stacked).astype(np.float32))
    return samples
