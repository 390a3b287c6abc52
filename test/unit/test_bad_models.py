"""Models the quantizer and the reference interpreters must refuse by name, or handle, never crash on.

The quantizer: a 0-D or empty input, constants holding NaN (a batch norm's
negative variance folds into them), a model output that is a constant, an
ADD/SUB whose output is far narrower than its inputs (`x - x`). The
reference interpreters: an ADD whose scales TFLite cannot rescale (refused by
`run` and `compile` alike), softmax and max over nothing, and results or
padded inputs beyond `MEMORY_LIMIT_BYTES` (checked before allocating; these
run in a subprocess with an address-space limit, so a regression fails
instead of filling the machine's memory).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import tflite
from onnx import TensorProto, helper, numpy_helper

import npuc
from npuc.errors import (
    InputDataError,
    ModelVerificationError,
    NpucError,
    UnsupportedOperatorError,
)

from tflite_models.builder import TensorSpec, build_model

ADDRESS_SPACE_LIMIT = 6 << 30
"""Virtual memory the memory-limit subprocesses may map: room for npuc, far below the blow-ups."""

OPSET = 13


def onnx_model(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, list(initializers))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)
    return path


def value(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def constant(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def test_quantize_refuses_a_scalar_input(tmp_path):
    path = onnx_model(tmp_path / "scalar.onnx", [helper.make_node("Add", ["x", "one"], ["y"], name="add")],
                      [value("x", [])], [value("y", [])], [constant("one", 1.0)])
    module = npuc.import_model(path)
    with pytest.raises(InputDataError, match="quantize: input 'x' is 0-D"):
        npuc.quantize(module, [np.array(0.5, np.float32)])


def test_quantize_refuses_an_empty_input(tmp_path):
    path = onnx_model(tmp_path / "empty.onnx", [helper.make_node("Softmax", ["x"], ["y"], name="softmax")],
                      [value("x", [1, 0])], [value("y", [1, 0])])
    module = npuc.import_model(path)
    assert npuc.run(module, [np.zeros((1, 0), np.float32)])[0].shape == (1, 0)
    with pytest.raises(InputDataError, match=r"quantize: input 'x' has no elements \(shape \[1, 0\]\)"):
        npuc.quantize(module, [np.zeros((1, 0), np.float32)])


def test_max_over_nothing_is_minus_infinity(tmp_path):
    path = onnx_model(tmp_path / "max.onnx", [helper.make_node("ReduceMax", ["x"], ["y"], name="max", axes=[1])],
                      [value("x", [1, 0])], [value("y", [1, 1])])
    assert npuc.run(npuc.import_model(path), [np.zeros((1, 0), np.float32)])[0].tolist() == [[-np.inf]]


def test_quantize_names_the_layer_of_a_batch_norm_with_a_nan_mean(tmp_path):
    """A negative variance is refused at import (test_bad_onnx); a NaN mean makes a NaN shift, which quantize names."""
    channels = 4
    parameters = {"scale": 1.0, "shift": 0.0, "mean": float("nan"), "variance": 1.0}
    path = onnx_model(
        tmp_path / "batch_norm.onnx",
        [helper.make_node("BatchNormalization", ["x", *parameters], ["y"], name="batch_norm")],
        [value("x", [1, channels, 4, 4])], [value("y", [1, channels, 4, 4])],
        [constant(name, np.full(channels, parameter)) for name, parameter in parameters.items()],
    )
    module = npuc.import_model(path)
    samples = np.random.default_rng(0).uniform(0, 1, (4, 4, 4, channels)).astype(np.float32)
    with pytest.raises(UnsupportedOperatorError, match="batch_norm .*: a constant operand holds NaN or infinite"):
        npuc.quantize(module, [samples])


def test_a_constant_model_output_is_quantized(tmp_path):
    path = onnx_model(tmp_path / "constant_output.onnx", [helper.make_node("Relu", ["x"], ["r"], name="relu")],
                      [value("x", [1, 4])], [value("r", [1, 4]), value("c", [1, 4])],
                      [constant("c", [[0.0, 0.5, 1.0, 2.0]])])
    module = npuc.import_model(path)
    samples = np.random.default_rng(0).uniform(-1, 1, (8, 4)).astype(np.float32)
    npuc.quantize(module, [samples])
    outputs = npuc.run(module, [samples[:1]])
    np.testing.assert_allclose(outputs[1], [[0.0, 0.5, 1.0, 2.0]], atol=2.0 / 255)


def test_a_difference_of_a_value_with_itself_quantizes_and_runs(tmp_path):
    path = onnx_model(tmp_path / "difference.onnx",
                      [helper.make_node("Relu", ["x"], ["r"], name="relu"),
                       helper.make_node("Sub", ["r", "r"], ["y"], name="difference")],
                      [value("x", [1, 4])], [value("y", [1, 4])])
    samples = np.random.default_rng(0).uniform(0, 100, (8, 4)).astype(np.float32)
    module = npuc.import_model(path)
    npuc.quantize(module, [samples])
    assert npuc.run(module, [samples[:1]])[0].tolist() == [[0.0] * 4]
    lowered = npuc.compile_model(path, calibration=[samples]).module
    assert npuc.run(lowered, [samples[:1]])[0].tolist() == [[0.0] * 4]


def test_a_value_used_before_its_definition(tmp_path):
    path = tmp_path / "swapped.mlir"
    path.write_text(
        "func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
        '  %1 = graph.add %x, %0 {layer = "add", activation = "none"} : '
        "(tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>\n"
        "  %0 = graph.constant dense<1.0> : tensor<4xf32>\n"
        "  func.return %1 : tensor<4xf32>\n}\n"
    )
    with pytest.raises(NpucError):  # the IR verifier or the interpreter: never a KeyError
        npuc.run(npuc.import_model(path), [np.ones(4, np.float32)])


def add_with_scales(path: Path, scales: tuple[float, float, float]) -> Path:
    tensors = [TensorSpec((1, 4), np.int8, [scale], [0]) for scale in scales]
    path.write_bytes(build_model("ADD", tensors, [0, 1], [2], "AddOptions", FusedActivationFunction=0))
    return path


def test_an_add_whose_rescale_tflite_cannot_represent_is_refused_by_run_and_compile(tmp_path):
    model = add_with_scales(tmp_path / "add.tflite", (1e-30, 1e30, 1e-30))
    message = r"layer '\w+' \(quantized.add\): output scale 1e-30 is too small .* must be below 1"
    with pytest.raises(ModelVerificationError, match=message):
        npuc.run(npuc.import_model(model), [np.ones((1, 4), np.int8)] * 2)
    with pytest.raises(ModelVerificationError, match=message):
        npuc.compile_model(model)


def test_an_add_at_the_edge_of_the_rescale_runs(tmp_path):
    # 2 * 1 / (2^20 * 2^-19) = 1 is refused, 2 * 1 / (2^20 * 2^-18) = 1/2 runs.
    model = add_with_scales(tmp_path / "add.tflite", (1.0, 1.0, 2.0**-18))
    assert npuc.run(npuc.import_model(model), [np.zeros((1, 4), np.int8)] * 2)[0].tolist() == [[0] * 4]


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_limited(model: Path, data: Path) -> str:
    """`npuc run` under `ADDRESS_SPACE_LIMIT`; its single error line."""
    result = subprocess.run(
        [sys.executable, "-m", "npuc.tools.npuc_main", "run", str(model), "--input", str(data)],
        capture_output=True, text=True, check=False, preexec_fn=_limit_address_space, timeout=300,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def small_input(tmp_path) -> Path:
    path = tmp_path / "input.npy"
    np.save(path, np.random.default_rng(0).uniform(0, 1, (1, 1, 4, 4)).astype(np.float32))
    return path


def test_a_pad_to_60004_squared_is_refused_before_allocating(tmp_path, small_input):
    pads = numpy_helper.from_array(np.array([0, 0, 30000, 30000, 0, 0, 30000, 30000], np.int64), "pads")
    model = onnx_model(tmp_path / "pad.onnx", [helper.make_node("Pad", ["x", "pads"], ["y"], name="pad")],
                       [value("x", [1, 1, 4, 4])], [value("y", [1, 1, 60004, 60004])], [pads])
    line = run_limited(model, small_input)
    assert "layer 'pad' (graph.pad) result of shape [1, 60004, 60004, 1]" in line
    assert "beyond npuc's limit of 2147483648 bytes" in line


def test_a_resize_by_10000_is_refused_before_allocating(tmp_path, small_input):
    model = onnx_model(tmp_path / "resize.onnx",
                       [helper.make_node("Resize", ["x", "", "scales"], ["y"], name="resize", mode="nearest")],
                       [value("x", [1, 1, 4, 4])], [value("y", [1, 1, 40000, 40000])],
                       [constant("scales", [1, 1, 10000, 10000])])
    assert "layer 'resize' (graph.resize) result of shape [1, 40000, 40000, 1]" in run_limited(model, small_input)


def test_a_conv_dilated_by_2_31_is_refused_before_padding(tmp_path):
    dilation = 2**31 - 1
    tensors = [
        TensorSpec((1, 4, 4, 1), np.int8, [0.1], [0]),
        TensorSpec((2, 3, 3, 1), np.int8, [0.1, 0.1], [0, 0], 0, np.ones((2, 3, 3, 1), np.int8)),
        TensorSpec((2,), np.int32, [0.01, 0.01], [0, 0], 0, np.zeros(2, np.int32)),
        TensorSpec((1, 4, 4, 2), np.int8, [0.1], [0]),
    ]
    model = tmp_path / "dilated.tflite"
    model.write_bytes(build_model("CONV_2D", tensors, [0, 1, 2], [3], "Conv2DOptions", Padding=tflite.Padding.SAME,
                                  StrideH=1, StrideW=1, DilationHFactor=dilation, DilationWFactor=dilation))
    data = tmp_path / "input.npy"
    np.save(data, np.ones((1, 4, 4, 1), np.int8))
    assert "(quantized.conv2d): padded input of shape [1, 4294967298, 4294967298, 1]" in run_limited(model, data)
