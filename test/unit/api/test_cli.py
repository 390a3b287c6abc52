"""The command-line drivers: bad input gives one line on stderr and a non-zero exit."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "npuc.tools.npuc_main", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("npuc: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def unsupported_model(path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu0"),
        helper.make_node("Tan", ["r"], ["t"], name="tan0"),
        helper.make_node("Erf", ["t"], ["y"], name="erf0"),
    ]
    graph = helper.make_graph(
        nodes,
        "unsupported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_text("these are my notes, not a model\n")
    assert_one_line_error(run_cli("import", str(path)), "notes.onnx")


def test_truncated_onnx(tmp_path: Path) -> None:
    complete = tmp_path / "complete.onnx"
    unsupported_model(complete)
    data = complete.read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    assert_one_line_error(run_cli("import", str(truncated)), "truncated.onnx")


def test_unsupported_operators_named_at_once(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    unsupported_model(path)
    assert_one_line_error(run_cli("compile", str(path)), "tan0", "Tan", "erf0", "Erf")


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("import", str(tmp_path / "absent.onnx")), "absent.onnx")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "model.pb"
    path.write_bytes(b"\x00\x01")
    assert_one_line_error(run_cli("import", str(path)), "model.pb")


def test_opt_reports_unsupported_onnx(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    unsupported_model(path)
    result = subprocess.run(
        [sys.executable, "-m", "npuc.tools.npuc_opt", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "tan0" in result.stderr and "erf0" in result.stderr


def test_opt_reads_external_weights_beside_the_model(tmp_path: Path) -> None:
    weights = numpy_helper.from_array(np.full((2, 4), 0.5, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [weights],
    )
    path = tmp_path / "model.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save_model(model, str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    result = subprocess.run(
        [sys.executable, "-m", "npuc.tools.npuc_opt", str(path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "graph.fully_connected" in result.stdout


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    # `npuc analyze ... | head -1`: the pipe's reader is gone before npuc writes.
    model = Path(__file__).parents[2] / "models" / "digits_cnn.tflite"
    ir = tmp_path / "add.mlir"
    ir.write_text("func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  func.return %x : tensor<4xf32>\n}\n")
    for command in (
        ["npuc.tools.npuc_main", "analyze", str(model), "--target", "ethos-u55-128", "-o", str(tmp_path / "out")],
        ["npuc.tools.npuc_opt", str(ir)],
    ):
        process = subprocess.Popen(
            [sys.executable, "-m", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        error = process.stderr.read()
        assert process.wait() == 141, error
        assert "Traceback" not in error
