"""The valid inputs the fuzz families mutate: small ONNX and TFLite models, and their IR.

ONNX seeds are the bundled `examples/tiny_cnn.onnx` and models built here
with `onnx.helper`; TFLite seeds are the models in `test/models` and
single-operator models built with `test/tflite_models/builder.py`. Nothing
outside the repository is read.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

import npuc
from npuc.emit.tflite.flatbuffer import Model, Operator, Options, Subgraph, serialize

from tflite_models.builder import TensorSpec, build_model, to_tensor

REPOSITORY = Path(__file__).resolve().parents[2]
TINY_CNN = REPOSITORY / "examples" / "tiny_cnn.onnx"
TEST_MODELS = REPOSITORY / "test" / "models"
TFLITE_MODELS = ("digits_cnn", "kws_dscnn", "ic_resnet8")
"""Models of `test/models` the byte mutations start from (the small ones)."""

ONNX_OPSET = 13
WEIGHT_SEED = 7
"""Seed of the built models' weights."""

CONV_INPUT = (1, 3, 8, 8)
"""NCHW input of the built ONNX conv model."""

CONV_CHANNELS = 4


def conv_model(**attributes) -> onnx.ModelProto:
    """Conv 3->4 3x3 (pads 1) and Relu on a 1x3x8x8 input; `attributes` replace the Conv's."""
    rng = np.random.default_rng(WEIGHT_SEED)
    weights = rng.standard_normal((CONV_CHANNELS, CONV_INPUT[1], 3, 3)).astype(np.float32)
    bias = rng.standard_normal(CONV_CHANNELS).astype(np.float32)
    conv_attributes = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1], **attributes}
    nodes = [
        helper.make_node("Conv", ["input", "weight", "bias"], ["conv"], name="conv", **conv_attributes),
        helper.make_node("Relu", ["conv"], ["output"], name="relu"),
    ]
    return graph_model(
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, CONV_INPUT)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weights, "weight"), numpy_helper.from_array(bias, "bias")],
    )


def graph_model(nodes, inputs, outputs, initializers=(), opset: int = ONNX_OPSET) -> onnx.ModelProto:
    """A model of one graph at `opset`."""
    graph = helper.make_graph(nodes, "fuzz", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def add_model() -> onnx.ModelProto:
    """Two 1x4x4x2 inputs added, then Sigmoid."""
    shape = (1, 2, 4, 4)
    nodes = [
        helper.make_node("Add", ["a", "b"], ["sum"], name="add"),
        helper.make_node("Sigmoid", ["sum"], ["output"], name="sigmoid"),
    ]
    return graph_model(
        nodes,
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in ("a", "b")],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
    )


@functools.cache
def onnx_seeds() -> dict[str, bytes]:
    """Serialized valid ONNX models by name."""
    return {
        "tiny_cnn": TINY_CNN.read_bytes(),
        "conv": conv_model().SerializeToString(),
        "add": add_model().SerializeToString(),
    }


INPUT_SCALE, INPUT_ZERO_POINT = 0.05, -3
OUTPUT_SCALE, OUTPUT_ZERO_POINT = 0.1, 2
WEIGHT_SCALES = (0.01, 0.02, 0.015, 0.03)
CONV_IFM = (1, 8, 8, 3)
"""NHWC input of the built TFLite conv model."""


def conv_tensors() -> list[TensorSpec]:
    """Tensors of a valid int8 CONV_2D: input, per-channel weights, int32 bias, output."""
    rng = np.random.default_rng(WEIGHT_SEED)
    channels = len(WEIGHT_SCALES)
    weights = rng.integers(-127, 128, (channels, 3, 3, CONV_IFM[3])).astype(np.int8)
    bias = rng.integers(-1000, 1000, channels).astype(np.int32)
    return [
        TensorSpec(CONV_IFM, np.int8, [INPUT_SCALE], [INPUT_ZERO_POINT], name="input"),
        TensorSpec(weights.shape, np.int8, list(WEIGHT_SCALES), [0] * channels, 0, weights, "weights"),
        TensorSpec((channels,), np.int32, [INPUT_SCALE * s for s in WEIGHT_SCALES], [0] * channels, 0, bias,
                   "bias"),
        TensorSpec((*CONV_IFM[:3], channels), np.int8, [OUTPUT_SCALE], [OUTPUT_ZERO_POINT], name="output"),
    ]


CONV_OPTIONS = {
    "Padding": tflite.Padding.SAME, "StrideH": 1, "StrideW": 1, "DilationHFactor": 1, "DilationWFactor": 1,
    "FusedActivationFunction": tflite.ActivationFunctionType.RELU,
}  # fmt: skip
"""Conv2DOptions of the built TFLite conv model."""


def tflite_conv(tensors: list[TensorSpec] | None = None, inputs=(0, 1, 2), outputs=(3,),
                options: str | None = "Conv2DOptions", operator: str = "CONV_2D", **fields) -> bytes:
    """The built int8 CONV_2D model (graph input tensor 0, output tensor 3), with any of its parts replaced.

    Unlike `build_model`, the operator's operands may name tensors that do not exist.
    """
    fields = {**(CONV_OPTIONS if options == "Conv2DOptions" else {}), **fields}
    subgraph = Subgraph(
        tensors=tuple(to_tensor(spec) for spec in tensors or conv_tensors()),
        operators=(Operator(operator, tuple(inputs), tuple(outputs), Options(options, fields) if options else None),),
        inputs=(0,),
        outputs=(3,),
    )
    return serialize(Model((subgraph,), "npuc fuzz seed"))


def tflite_add(scales=(0.05, 0.05, 0.1), shapes=((1, 4, 4, 2),) * 3) -> bytes:
    """An int8 ADD of two inputs, with the given input, input and output scales and shapes."""
    tensors = [TensorSpec(shape, np.int8, [scale], [0], name=name)
               for shape, scale, name in zip(shapes, scales, ("a", "b", "output"))]
    return build_model("ADD", tensors, [0, 1], [2], "AddOptions", FusedActivationFunction=0)


def tflite_softmax(beta: float = 1.0, output_scale: float = 1 / 256, logits: int = 10) -> bytes:
    """An int8 SOFTMAX over `logits` logits with `beta`."""
    tensors = [TensorSpec((1, logits), np.int8, [0.1], [0], name="input"),
               TensorSpec((1, logits), np.int8, [output_scale], [-128], name="output")]
    return build_model("SOFTMAX", tensors, [0], [1], "SoftmaxOptions", Beta=beta)


def tflite_reshape(new_shape=(1, 48), output_shape=(1, 48)) -> bytes:
    """An int8 RESHAPE of a 1x4x4x3 input to `new_shape` (options and shape tensor)."""
    tensors = [TensorSpec((1, 4, 4, 3), np.int8, [0.1], [0], name="input"),
               TensorSpec((len(new_shape),), np.int32, data=np.asarray(new_shape, np.int32), name="shape"),
               TensorSpec(output_shape, np.int8, [0.1], [0], name="output")]
    return build_model("RESHAPE", tensors, [0, 1], [2])


@functools.cache
def tflite_seeds() -> dict[str, bytes]:
    """Serialized valid TFLite models by name."""
    seeds = {name: (TEST_MODELS / f"{name}.tflite").read_bytes() for name in TFLITE_MODELS}
    seeds["conv"] = tflite_conv()
    seeds["add"] = tflite_add()
    return seeds


@functools.cache
def ir_seeds() -> dict[str, str]:
    """Valid textual IR by stage: graph (tiny_cnn), quantized and npu (the built conv)."""
    from npuc.importers.tflite.importer import import_tflite_bytes

    quantized = import_tflite_bytes(tflite_conv(), "conv.tflite")
    lowered = npuc.compile_model(import_tflite_bytes(tflite_conv(), "conv.tflite"), like_vela=True).module  # its replacements name Vela's block
    return {
        "graph": str(npuc.import_model(TINY_CNN)),
        "quantized": str(quantized),
        "npu": str(lowered),
    }
