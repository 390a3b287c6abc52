"""The whole spine on an NCHW ONNX model: Conv+Relu, MaxPool, Conv, Gemm.

Float IR against onnxruntime, quantized IR against the float output (SQNR),
the emitted npu program in the simulator against the quantized reference (bit
for bit), and `npuc compile` writing all of its outputs.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import npuc
from npuc.data import load_samples, model_interface, to_interface
from npuc.quantization.params import sqnr_db
from npuc.sim.simulator import simulate


def spine_model(path: Path) -> None:
    """Conv(1->6, 3x3)+Relu, MaxPool 2x2, Conv(6->8, 3x3, stride 2), Flatten, Gemm(->10)."""
    rng = np.random.default_rng(7)

    def tensor(name: str, shape: tuple[int, ...], scale: float) -> onnx.TensorProto:
        values = rng.standard_normal(shape).astype(np.float32) * scale
        return numpy_helper.from_array(values, name)

    initializers = [
        tensor("w1", (6, 1, 3, 3), 0.5),
        tensor("b1", (6,), 0.1),
        tensor("w2", (8, 6, 3, 3), 0.2),
        tensor("b2", (8,), 0.1),
        tensor("w3", (10, 8 * 3 * 3), 0.15),
        tensor("b3", (10,), 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["c2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "spine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def smooth_images(count: int, seed: int) -> np.ndarray:
    """Random images with spatial structure (blurred noise), NCHW float32."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((count, 1, 14, 14)).astype(np.float32)
    blurred = (noise[:, :, :-2, :-2] + noise[:, :, 1:-1, 1:-1] + noise[:, :, 2:, 2:]) / 3
    return blurred.astype(np.float32)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("spine")
    files = {
        "model": directory / "spine.onnx",
        "calibration": directory / "calibration.npy",
        "test": directory / "test.npy",
    }
    spine_model(files["model"])
    np.save(files["calibration"], smooth_images(64, seed=1))
    np.save(files["test"], smooth_images(32, seed=2))
    return files


def onnxruntime_outputs(model: Path, inputs: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"x": sample[None]})[0] for sample in inputs])


def test_float_ir_matches_onnxruntime(model_files: dict[str, Path]) -> None:
    module = npuc.import_model(model_files["model"])
    interface = model_interface(module)
    inputs = load_samples(str(model_files["test"]), interface)
    ours = to_interface(npuc.run(module, inputs), interface)[0]
    theirs = onnxruntime_outputs(model_files["model"], np.load(model_files["test"]))
    assert np.max(np.abs(ours - theirs)) <= 1e-4


def test_quantized_ir_sqnr_and_simulator(model_files: dict[str, Path]) -> None:
    float_module = npuc.import_model(model_files["model"])
    test_inputs = load_samples(str(model_files["test"]), model_interface(float_module))
    float_output = npuc.run(float_module, test_inputs)[0]

    module = npuc.import_model(model_files["model"])
    npuc.quantize(module, load_samples(str(model_files["calibration"]), model_interface(module)))
    quantized_output = npuc.run(module, test_inputs)[0]
    assert sqnr_db(float_output, quantized_output) >= 25.0

    result = npuc.compile_model(module, "ethos-u55-128")
    simulated = simulate(result.module, test_inputs)[0]
    np.testing.assert_array_equal(simulated, quantized_output)


def test_compile_command_writes_everything(model_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable, "-m", "npuc.tools.npuc_main", "compile", str(model_files["model"]),
            "--target", "ethos-u55-128", "--calibration", str(model_files["calibration"]),
            "-o", str(out),
        ],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in ("command_stream.bin", "weights.bin", "model.npu.mlir", "layers.csv", "report.json"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["total_cycles"] > 0
    assert "cycles" in result.stdout.lower()
    assert "sram" in result.stdout.lower()


def test_run_command_on_graph_ir(model_files: dict[str, Path], tmp_path: Path) -> None:
    ir_file = tmp_path / "spine.mlir"
    output = tmp_path / "y.npy"
    subprocess.run(
        [sys.executable, "-m", "npuc.tools.npuc_main", "import", str(model_files["model"]), "-o", str(ir_file)],
        check=True,
    )
    subprocess.run(
        [
            sys.executable, "-m", "npuc.tools.npuc_main", "run", str(ir_file),
            "--input", str(model_files["test"]), "-o", str(output),
        ],
        check=True,
    )
    theirs = onnxruntime_outputs(model_files["model"], np.load(model_files["test"]))
    assert np.max(np.abs(np.load(output) - theirs)) <= 1e-4
