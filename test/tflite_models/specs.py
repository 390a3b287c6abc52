"""Model specs of the single-operator TFLite test models: tensors, operator, options, and the family registry.

`make_models.py` writes the models; `layer_models.py` and `tensor_models.py`
register the operator families (generators of specs) with `family`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite

from tflite_models.builder import TensorSpec, build_model

MODEL_DIRECTORY = Path(__file__).resolve().parent

ACTIVATIONS = {
    "none": tflite.ActivationFunctionType.NONE,
    "relu": tflite.ActivationFunctionType.RELU,
    "relu6": tflite.ActivationFunctionType.RELU6,
    "relu_n1_to_1": tflite.ActivationFunctionType.RELU_N1_TO_1,
}
SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID


@dataclass
class ModelSpec:
    """One single-operator model: its tensors, operator and builtin options."""

    name: str
    operator: str
    tensors: list[TensorSpec]
    inputs: list[int]
    outputs: list[int]
    options: str | None = None
    fields: dict[str, int | float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """Where the model file lives."""
        return MODEL_DIRECTORY / f"{self.name}.tflite"

    def build(self) -> bytes:
        """The serialised flatbuffer."""
        return build_model(
            self.operator, self.tensors, self.inputs, self.outputs, self.options, **self.fields
        )

    def graph_inputs(self) -> list[TensorSpec]:
        """The tensors fed by the user, in model input order."""
        return [self.tensors[i] for i in self.inputs if i >= 0 and self.tensors[i].data is None]


def random_input(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    """Random data for a model input: the full storage range, or floats spanning it."""
    if np.dtype(spec.dtype) == np.float32:
        return rng.uniform(-6.0, 6.0, size=spec.shape).astype(np.float32)
    info = np.iinfo(spec.dtype)
    return rng.integers(info.min, info.max, size=spec.shape, endpoint=True).astype(spec.dtype)


# --- tensor helpers ------------------------------------------------------------


def act(shape, dtype, scale: float, zero_point: int = 0, name: str = "input") -> TensorSpec:
    """A per-tensor quantized activation tensor."""
    return TensorSpec(tuple(shape), dtype, [scale], [zero_point], name=name)


def out(shape, dtype, scale: float, zero_point: int = 0) -> TensorSpec:
    """The output activation tensor."""
    return act(shape, dtype, scale, zero_point, name="output")


def const(values, name: str, dtype=np.int32) -> TensorSpec:
    """A constant non-quantized parameter tensor (shapes, axes, paddings)."""
    data = np.asarray(values, dtype=dtype)
    return TensorSpec(data.shape, dtype, data=data, name=name)


def weights(rng, shape, axis: int | None) -> tuple[TensorSpec, np.ndarray]:
    """Symmetric int8 weights, per channel along ``axis`` or per tensor (None)."""
    data = rng.integers(-127, 128, size=shape, dtype=np.int8)
    channels = shape[axis] if axis is not None else 1
    scales = rng.uniform(0.002, 0.02, size=channels).astype(np.float32)
    spec = TensorSpec(tuple(shape), np.int8, scales, [0] * channels, axis or 0, data, "weights")
    return spec, scales


def bias(rng, in_scale: float, weight_scales: np.ndarray, channels: int, dtype, limit: int | None = None) -> TensorSpec:
    """Bias with the implied scale in_scale * weight_scale (broadcast per channel), values within +-`limit`."""
    scales = np.broadcast_to(np.float32(in_scale) * weight_scales, (channels,)).astype(np.float32)
    if limit is None:
        limit = 3000 if dtype == np.int32 else 300000
    data = rng.integers(-limit, limit, size=channels).astype(dtype)
    return TensorSpec((channels,), dtype, scales, [0] * channels, 0, data, "bias")


def act_params(rng, dtype, low: float = 0.01, high: float = 0.1) -> tuple[float, int]:
    """A random (scale, zero point): asymmetric for int8, symmetric for int16."""
    scale = float(np.float32(rng.uniform(low, high) / (256 if dtype == np.int16 else 1)))
    zero_point = int(rng.integers(-40, 40)) if dtype == np.int8 else 0
    return scale, zero_point


def conv_out(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """TFLite's output extent for SAME/VALID padding."""
    if padding == SAME:
        return -(-size // stride)
    return (size - dilation * (kernel - 1) - 1) // stride + 1


# --- operator families -----------------------------------------------------------

Family = Callable[[Callable[[str], np.random.Generator]], Iterator[ModelSpec]]
_FAMILIES: list[Family] = []


def family(function: Family) -> Family:
    """Register a generator of model specs."""
    _FAMILIES.append(function)
    return function
