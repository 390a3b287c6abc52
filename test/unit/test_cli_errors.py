"""The error boundary of `npuc` and `npuc-opt`: every failure is one line on stderr and a non-zero exit.

Bad input (an `NpucError`) exits 1; an exception npuc did not foresee exits 2
with its type, its message and a request to report it; only `--debug` adds
the traceback. The in-process runs check the line and the status; the
subprocess runs check what a user's terminal gets (no Python warnings either).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npuc.errors import InputDataError
from npuc.tools import npuc_main, npuc_opt

from support.paths import EXAMPLES, MODELS

DIGITS = MODELS / "digits_cnn.tflite"
TINY_CNN = EXAMPLES / "tiny_cnn.onnx"
TINY_CNN_CALIBRATION = EXAMPLES / "tiny_cnn_calib.npy"
IDENTITY_IR = "func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  func.return %x : tensor<4xf32>\n}\n"


def error_line(capsys, status: int, prog: str = "npuc") -> str:
    """The single line on stderr after a run that exited with `status`."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{prog}: error: ")
    return lines[0]


def npuc(capsys, *args: str, status: int = 1) -> str:
    """Run `npuc ARGS` in process; the error line it printed before exiting with `status`."""
    with pytest.raises(SystemExit) as exited:
        npuc_main.main(list(args))
    assert exited.value.code == status
    return error_line(capsys, status)


def npuc_opt_run(capsys, monkeypatch, *args: str, status: int = 1) -> str:
    """Run `npuc-opt ARGS` in process; its error line."""
    monkeypatch.setattr(sys, "argv", ["npuc-opt", *args])
    with pytest.raises(SystemExit) as exited:
        npuc_opt.main()
    assert exited.value.code == status
    return error_line(capsys, status, "npuc-opt")


@pytest.fixture
def identity_ir(tmp_path: Path) -> Path:
    path = tmp_path / "identity.mlir"
    path.write_text(IDENTITY_IR)
    return path


def test_import_into_a_missing_directory(capsys, tmp_path):
    line = npuc(capsys, "import", str(DIGITS), "-o", str(tmp_path / "absent" / "x.mlir"))
    assert "absent/x.mlir: cannot write the IR: No such file or directory" in line


def test_compile_into_an_existing_file(capsys, tmp_path):
    existing = tmp_path / "existing"
    existing.write_text("")
    line = npuc(capsys, "compile", str(DIGITS), "-o", str(existing))
    assert "existing: cannot write the outputs there: it is a file, not a directory" in line


def test_the_output_directory_is_checked_before_compiling(capsys, monkeypatch, tmp_path):
    existing = tmp_path / "existing"
    existing.write_text("")
    monkeypatch.setattr("npuc.api.import_model", _boom)  # never reached
    assert "existing: cannot write the outputs there" in npuc(capsys, "analyze", str(DIGITS), "-o", str(existing))


@pytest.mark.parametrize("option", ["--save-statistics", "--save-layers"])
def test_quantize_saves_into_a_missing_directory(capsys, tmp_path, option):
    saved = tmp_path / "absent" / "saved"
    line = npuc(capsys, "quantize", str(TINY_CNN), "--calibration", str(TINY_CNN_CALIBRATION), "--report", "0",
                option, str(saved), "-o", str(tmp_path / "q.mlir"))
    assert f"{saved}" in line and "No such file or directory" in line


def test_run_writes_outputs_into_a_missing_directory(capsys, tmp_path):
    line = npuc(capsys, "run", str(TINY_CNN), "--input", str(TINY_CNN_CALIBRATION), "-o", str(tmp_path / "absent" / "y.npy"))
    assert "y.npy: cannot write the outputs" in line


def test_opt_missing_file(capsys, monkeypatch, tmp_path):
    line = npuc_opt_run(capsys, monkeypatch, str(tmp_path / "absent.mlir"))
    assert "absent.mlir: cannot read: No such file or directory" in line


def test_opt_unknown_pass(capsys, monkeypatch, identity_ir):
    line = npuc_opt_run(capsys, monkeypatch, str(identity_ir), "-p", "no-such-pass")
    assert "bad pass pipeline 'no-such-pass'" in line and "no-such-pass" in line


def test_opt_bad_pass_option(capsys, monkeypatch, identity_ir):
    line = npuc_opt_run(capsys, monkeypatch, str(identity_ir), "-p", "npu-tile{target=nope}")
    assert "npu-tile: unknown target 'nope'" in line


def test_opt_malformed_pipeline(capsys, monkeypatch, identity_ir):
    line = npuc_opt_run(capsys, monkeypatch, str(identity_ir), "-p", "npu-tile{target=nope")
    assert "bad pass pipeline" in line


def test_opt_syntax_error(capsys, monkeypatch, tmp_path):
    path = tmp_path / "bad.mlir"
    path.write_text("func.func @f( {\n")
    line = npuc_opt_run(capsys, monkeypatch, str(path))
    assert line.endswith("bad.mlir:1:15: Expected argument or type")


def test_opt_unknown_extension(capsys, monkeypatch, tmp_path):
    path = tmp_path / "model.txt"
    path.write_text(IDENTITY_IR)
    assert "model.txt: Unrecognized file extension 'txt'" in npuc_opt_run(capsys, monkeypatch, str(path))


def test_opt_output_into_a_missing_directory(capsys, monkeypatch, identity_ir, tmp_path):
    line = npuc_opt_run(capsys, monkeypatch, str(identity_ir), "-o", str(tmp_path / "absent" / "out.mlir"))
    assert "out.mlir: cannot write the output" in line


def test_opt_diagnostics_flags_keep_xdsl_behaviour(capsys, monkeypatch, tmp_path):
    # FileCheck tests rely on --parsing-diagnostics printing the error and exiting 0.
    path = tmp_path / "bad.mlir"
    path.write_text("func.func @f( {\n")
    monkeypatch.setattr(sys, "argv", ["npuc-opt", str(path), "--parsing-diagnostics"])
    npuc_opt.main()
    assert "Expected argument or type" in capsys.readouterr().out


def test_a_name_with_a_newline_stays_on_one_line(capsys, tmp_path):
    line = npuc(capsys, "import", str(tmp_path / "two\nlines.onnx"))
    assert "two\\nlines.onnx" in line


def _boom(*_args, **_kwargs):
    raise ValueError("boom\nsecond line")


def test_an_unforeseen_exception_is_one_line_asking_for_a_report(capsys, monkeypatch):
    monkeypatch.setattr("npuc.api.import_model", _boom)
    line = npuc(capsys, "import", str(DIGITS), status=2)
    assert "internal error: ValueError: boom second line" in line
    assert "please report" in line


@pytest.mark.parametrize("debug_first", [True, False])
def test_debug_adds_the_traceback(capsys, monkeypatch, debug_first):
    monkeypatch.setattr("npuc.api.import_model", _boom)
    args = ["--debug", "import", str(DIGITS)] if debug_first else ["import", str(DIGITS), "--debug"]
    with pytest.raises(SystemExit) as exited:
        npuc_main.main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.strip().splitlines()[-1].startswith("npuc: error: internal error: ValueError: boom")


def test_opt_debug_adds_the_traceback(capsys, monkeypatch, tmp_path):
    path = tmp_path / "bad.mlir"
    path.write_text("func.func @f( {\n")
    monkeypatch.setattr(sys, "argv", ["npuc-opt", str(path), "--debug"])
    with pytest.raises(SystemExit):
        npuc_opt.main()
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("npuc-opt: error: ")


def test_a_terminal_sees_one_line_and_no_warning(tmp_path):
    # A subprocess: what a user sees, Python warnings included. The float
    # conv overflows to inf (and inf - inf to NaN) in calibration.
    samples = tmp_path / "huge.npy"
    np.save(samples, np.full((1, 1, 16, 16), 3e38, dtype=np.float32))
    result = subprocess.run(
        [sys.executable, "-m", "npuc.tools.npuc_main", "quantize", str(TINY_CNN), "--calibration", str(samples)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == ["npuc: error: calibration gave no finite range for 'conv1' ([0.0, inf])"], result.stderr


def test_every_npuc_error_message_is_one_printable_line():
    assert str(InputDataError("input 'a\nb\x1b[2J' is bad")) == "input 'a\\nb\\x1b[2J' is bad"


def test_a_usage_error_is_one_line(capsys):
    line = npuc(capsys, "compile", str(DIGITS), "--optimise", "Fast", status=2)
    assert "argument --optimise: invalid choice: 'Fast'" in line and line.endswith("(see npuc compile --help)")


def test_opt_usage_error_is_one_line(capsys, monkeypatch, identity_ir):
    line = npuc_opt_run(capsys, monkeypatch, str(identity_ir), "--no-such-option", status=2)
    assert "unrecognized arguments: --no-such-option" in line
