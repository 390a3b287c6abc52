"""QDQ ONNX import: models from onnxruntime's quantize_static become quantized IR.

Each test builds a tiny float model with onnx.helper, quantizes it with
`quantize_static` (a few random calibration samples), imports it and compares
`npuc`'s integer reference with onnxruntime running the QDQ model.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime import quantization

from npuc import api
from npuc.dialects import quantized
from npuc.dialects.quantized import rounding_mode
from npuc.errors import UnsupportedOperatorError
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.reference import ort_kernels
from npuc.reference.int_handlers import QUANTIZED_HANDLERS
from npuc.reference.quantized_interpreter import (
    handlers_for,
)

RNG = np.random.default_rng(7)


def _initializer(name: str, *shape: int, scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _float_model(nodes, initializers, input_shape, output_shape) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "qdq_test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _conv_net() -> onnx.ModelProto:
    """Conv+Relu, depthwise, BN-style Mul/Add, average pool, flatten, MatMul, Softmax."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Mul", ["c2", "gamma"], ["m"]),
        helper.make_node("Add", ["m", "beta"], ["a"]),
        helper.make_node("Relu", ["a"], ["r2"]),
        helper.make_node("AveragePool", ["r2"], ["p"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"]),
    ]
    initializers = [
        _initializer("w1", 8, 3, 3, 3), _initializer("b1", 8, scale=0.1),
        _initializer("w2", 8, 1, 3, 3), _initializer("gamma", 8, 1, 1),
        _initializer("beta", 8, 1, 1, scale=0.1), _initializer("fc", 8, 5),
    ]
    return _float_model(nodes, initializers, [1, 3, 8, 8], [1, 5])


def _quantize(model: onnx.ModelProto, tmp_path, activation_type: str, samples: np.ndarray) -> bytes:
    """`quantize_static` of `model` in QDQ format, per-channel int8 weights."""
    source, target = tmp_path / "float.onnx", tmp_path / "qdq.onnx"
    onnx.save(model, source)

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": sample[None]} for sample in samples])

        def get_next(self):
            return next(self.batches, None)

    quantization.quantize_static(
        str(source), str(target), Reader(), quant_format=quantization.QuantFormat.QDQ,
        per_channel=True, activation_type=getattr(quantization.QuantType, activation_type),
        weight_type=quantization.QuantType.QInt8,
    )
    return target.read_bytes()


def _onnxruntime(data: bytes, inputs: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(data)
    return np.concatenate([session.run(None, {"x": sample[None]})[0] for sample in inputs])


@pytest.mark.parametrize("activation_type", ["QInt8", "QUInt8"])
def test_conv_net_matches_onnxruntime_within_one_step(tmp_path, activation_type):
    samples = RNG.uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32)
    data = _quantize(_conv_net(), tmp_path, activation_type, samples)
    module = import_onnx_bytes(data, "qdq.onnx")
    expected = _onnxruntime(data, samples)
    (actual,) = api.run(module, [samples.transpose(0, 2, 3, 1)])
    steps = np.abs(actual - expected) / (1 / 255)  # softmax output scale of quantize_static
    assert steps.max() <= 1e-3  # onnxruntime's rounding, reproduced


def test_qdq_module_is_marked_with_onnxruntime_rounding(tmp_path):
    samples = RNG.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    module = import_onnx_bytes(_quantize(_conv_net(), tmp_path, "QInt8", samples), "qdq.onnx")
    assert rounding_mode(module) == "onnxruntime"
    assert handlers_for(module) is not QUANTIZED_HANDLERS


def test_quantize_linear_rounds_half_to_even_and_saturates():
    values = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0], np.float32)
    stored = ort_kernels.quantize_linear(values, 1.0, 0, -128, 127, np.int8)
    assert stored.tolist() == [0, 2, 2, 0, -2, 127, -128]


def test_requantize_output_uses_float32_scale_per_channel():
    acc = np.array([[5, 5], [-3, 7]], np.int64)
    scales = ort_kernels.requantize_scales(0.5, np.array([1.0, 0.25]), 1.0)
    stored = ort_kernels.requantize_output(acc, scales, 3, -128, 127, np.int8)
    assert stored.tolist() == [[5, 4], [1, 4]]  # 2.5 -> 2, 0.625 -> 1, -1.5 -> -2, 0.875 -> 1


def test_softmax_int8_sums_to_one_and_keeps_order():
    x = np.array([[10, 0, -20, 10]], np.int8)
    y = ort_kernels.softmax_int8(x, 0.1, 1 / 256, -128)
    real = (y.astype(np.int32) + 128) / 256
    assert abs(real.sum() - 1) < 4 / 256 and y[0, 0] == y[0, 3] > y[0, 1] > y[0, 2]


def test_conv_net_imports_integer_ops_with_stored_weights(tmp_path):
    samples = RNG.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    module = import_onnx_bytes(_quantize(_conv_net(), tmp_path, "QInt8", samples), "qdq.onnx")
    names = [op.name for op in module.walk() if op.dialect_name() in ("graph", "quantized")]
    assert not any(name.startswith("graph.") for name in names)
    assert names.count("quantized.conv2d") == 1 and names.count("quantized.depthwise_conv2d") == 1
    assert names.count("quantized.fully_connected") == 1
    assert names[0] == "quantized.quantize" and names[-1] == "quantized.dequantize"
    conv = next(op for op in module.walk() if isinstance(op, quantized.Conv2dOp))
    weights_type = quantized.quant_type(conv.operands[1])
    assert weights_type is not None and weights_type.axis.data == 0 and len(weights_type.scales) == 8


def test_float_op_outside_qdq_is_named(tmp_path):
    samples = RNG.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    model = onnx.load_from_string(_quantize(_conv_net(), tmp_path, "QInt8", samples))
    # Drop the QuantizeLinear/DequantizeLinear pair after the softmax's input.
    graph = model.graph
    pair = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
            and n.output[0].startswith("logits")]
    softmax = next(n for n in graph.node if n.op_type == "Softmax")
    softmax.input[0] = pair[0].input[0]
    for node in pair:
        graph.node.remove(node)
    with pytest.raises(UnsupportedOperatorError, match=r"\(MatMul\): its result has no QuantizeLinear"):
        import_onnx_bytes(model.SerializeToString(), "qdq.onnx")
