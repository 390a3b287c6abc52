"""Structure-aware TFLite mutations: options tables, enums, operand counts, quantization, shapes, types.

Each case is a built single-operator model (`seeds.tflite_conv`,
`tflite_add`, `tflite_softmax`, `tflite_reshape`) with one thing wrong;
LiteRT with its reference kernels decides whether it is invalid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from fuzz.case import Case
from fuzz.family_bytes import model_case
from fuzz.seeds import (
    conv_tensors,
    tflite_add,
    tflite_conv,
    tflite_reshape,
    tflite_softmax,
)

INPUT, WEIGHTS, BIAS, OUTPUT = range(4)
"""Tensor indices of the built conv model."""

NAN = float("nan")
INF = float("inf")
INT32_MAX = 2**31 - 1

ISSUE_CASES = frozenset({
    "options-pool2d", "options-softmax", "padding-7", "inputs-1", "outputs-0", "input-scale-0",
    "input-scale-negative", "input-scale-nan", "input-zero-point-200", "bias-scales-2", "softmax-beta-nan",
    "reshape-minus-one-twice", "dilation-int32-max", "add-scale-ratio-1e60", "softmax-zero-size",
})  # fmt: skip
"""The cases issue 14 names."""


def cases(seed: int) -> Iterator[Case]:
    """Every structure-aware TFLite case (`seed` is unused: the cases are enumerated)."""
    del seed
    for name, build in _mutants():
        yield model_case("tflite-structure", name, {"model.tflite": build()}, issue=name in ISSUE_CASES)


def _mutants() -> Iterator[tuple[str, Callable[[], bytes]]]:
    yield from _options_mutants()
    yield from _operand_mutants()
    yield from _quantization_mutants()
    yield from _tensor_mutants()
    yield from _other_operator_mutants()


def _options_mutants():
    for table in ("Pool2DOptions", "SoftmaxOptions", "DepthwiseConv2DOptions", "ReshapeOptions", "AddOptions"):
        yield f"options-{table.removesuffix('Options').lower()}", lambda t=table: tflite_conv(options=t)
    yield "options-none", lambda: tflite_conv(options=None)
    for value in (2, 7, 127, -1):
        yield f"padding-{_label(value)}", lambda v=value: tflite_conv(Padding=v)
    for value in (4, 99, -1):
        yield f"activation-{_label(value)}", lambda v=value: tflite_conv(FusedActivationFunction=v)
    for field in ("StrideH", "StrideW"):
        for value in (0, -1, INT32_MAX):
            yield f"{field.lower()}-{_label(value)}", lambda f=field, v=value: tflite_conv(**{f: v})
    for value in (0, -1, INT32_MAX):
        yield f"dilation-{_label(value)}", lambda v=value: tflite_conv(DilationHFactor=v, DilationWFactor=v)


def _operand_mutants():
    for inputs, label in (((0,), "inputs-1"), ((0, 1), "inputs-2"), ((0, 1, 2, 2), "inputs-4"),
                          ((0, 1, 99), "inputs-index-99"), ((0, -2, 2), "inputs-index-minus-2"),
                          ((3, 1, 2), "inputs-output-as-input"), ((1, 0, 2), "inputs-swapped")):
        yield label, lambda i=inputs: tflite_conv(inputs=i)
    for outputs, label in (((), "outputs-0"), ((3, 3), "outputs-2"), ((99,), "outputs-index-99"),
                           ((0,), "outputs-input")):
        yield label, lambda o=outputs: tflite_conv(outputs=o)
    yield "operator-unknown-code", lambda: tflite_conv(operator="HASHTABLE_LOOKUP", options=None)
    yield "operator-depthwise-with-conv-tensors", lambda: tflite_conv(operator="DEPTHWISE_CONV_2D",
                                                                      options=None)


def _quantization_mutants():
    for value, label in ((0.0, "0"), (-0.05, "negative"), (NAN, "nan"), (INF, "inf"), (1e-45, "subnormal"),
                         (1e30, "1e30")):
        yield f"input-scale-{label}", lambda v=value: _conv_with(INPUT, scale=[v])
        yield f"output-scale-{label}", lambda v=value: _conv_with(OUTPUT, scale=[v])
    for value in (200, -129, 1 << 40):
        yield f"input-zero-point-{_label(value)}", lambda v=value: _conv_with(INPUT, zero_point=[v])
        yield f"output-zero-point-{_label(value)}", lambda v=value: _conv_with(OUTPUT, zero_point=[v])
    yield "input-scales-2", lambda: _conv_with(INPUT, scale=[0.05, 0.05], zero_point=[0, 0])
    yield "input-no-quantization", lambda: _conv_with(INPUT, scale=None, zero_point=None)
    yield "input-zero-points-missing", lambda: _conv_with(INPUT, zero_point=[])
    yield "weight-scales-2", lambda: _conv_with(WEIGHTS, scale=[0.01, 0.02], zero_point=[0, 0])
    yield "weight-scale-0", lambda: _conv_with(WEIGHTS, scale=[0.01, 0.0, 0.01, 0.01])
    yield "weight-scale-nan", lambda: _conv_with(WEIGHTS, scale=[0.01, NAN, 0.01, 0.01])
    yield "weight-zero-point-5", lambda: _conv_with(WEIGHTS, zero_point=[5, 0, 0, 0])
    yield "weight-quantized-dimension-5", lambda: _conv_with(WEIGHTS, quantized_dimension=5)
    yield "weight-quantized-dimension-3", lambda: _conv_with(WEIGHTS, quantized_dimension=3)
    yield "bias-scales-2", lambda: _conv_with(BIAS, scale=[0.0005, 0.001], zero_point=[0, 0])
    yield "bias-scale-wrong", lambda: _conv_with(BIAS, scale=[1.0] * 4)
    yield "bias-int8", lambda: _conv_with(BIAS, dtype=np.int8, data=np.zeros(4, np.int8))
    yield "bias-shape-3", lambda: _conv_with(BIAS, shape=(3,), data=np.zeros(3, np.int32))
    yield "add-scale-ratio-1e60", lambda: tflite_add(scales=(1e30, 1e-30, 0.1))
    yield "add-scale-ratio-1e-60", lambda: tflite_add(scales=(1e-30, 1e30, 0.1))
    yield "add-output-scale-tiny", lambda: tflite_add(scales=(0.05, 0.05, 1e-38))


def _tensor_mutants():
    for shape, label in (((1, 8, -8, 3), "negative"), ((1, 8, 0, 3), "zero"), ((1, 8, 8), "rank3"),
                         ((1, 1, 1, 1, 1, 8, 8, 3), "rank8"), ((1, 65536, 65536, 3), "huge")):
        yield f"input-shape-{label}", lambda s=shape: _conv_with(INPUT, shape=s)
    yield "output-shape-wrong", lambda: _conv_with(OUTPUT, shape=(1, 4, 4, 4))
    yield "output-shape-negative", lambda: _conv_with(OUTPUT, shape=(1, -8, 8, 4))
    yield "weights-data-short", lambda: _conv_with(WEIGHTS, data=np.zeros(7, np.int8))
    yield "weights-no-data", lambda: _conv_with(WEIGHTS, data=None)
    yield "weights-shape-mismatch", lambda: _conv_with(WEIGHTS, shape=(4, 3, 3, 5))
    yield "weights-float32", lambda: _conv_with(WEIGHTS, dtype=np.float32, data=np.zeros((4, 3, 3, 3), np.float32))
    yield "input-float32", lambda: _conv_with(INPUT, dtype=np.float32, scale=None, zero_point=None)
    yield "input-int64", lambda: _conv_with(INPUT, dtype=np.int64)


def _other_operator_mutants():
    for beta, label in ((NAN, "nan"), (INF, "inf"), (0.0, "0"), (-1.0, "negative")):
        yield f"softmax-beta-{label}", lambda b=beta: tflite_softmax(beta=b)
    yield "softmax-output-scale-wrong", lambda: tflite_softmax(output_scale=0.5)
    yield "softmax-zero-size", lambda: tflite_softmax(logits=0)
    yield "reshape-minus-one-twice", lambda: tflite_reshape((-1, -1), (1, 48))
    yield "reshape-count-mismatch", lambda: tflite_reshape((1, 47), (1, 47))
    yield "reshape-zero", lambda: tflite_reshape((0,), (0,))
    yield "reshape-minus-two", lambda: tflite_reshape((-2, 24), (2, 24))
    yield "add-shapes-not-broadcastable", lambda: tflite_add(shapes=((1, 4, 4, 2), (1, 3, 4, 2), (1, 4, 4, 2)))


def _conv_with(index: int, **changes) -> bytes:
    """The built conv model with tensor `index` changed (`TensorSpec` fields)."""
    tensors = conv_tensors()
    tensors[index] = dataclasses.replace(tensors[index], **changes)
    if tensors[index].scale is None:
        tensors[index] = dataclasses.replace(tensors[index], zero_point=None)
    return tflite_conv(tensors)


def _label(value: int) -> str:
    return {INT32_MAX: "int32-max", 1 << 40: "2-pow-40"}.get(value, str(value).replace("-", "minus"))
