"""The command lines issue 14 saw end in a traceback: `npuc` and `npuc-opt` on bad paths, passes and IR.

A case calls the console script's `main` in process with its arguments.
A non-zero exit with the error on stderr becomes `CliRefused` (an
`NpucError`, so the runner checks that it is one line); an exception that
escapes `main` is what would have printed a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from npuc.errors import NpucError
from npuc.tools import npuc_main, npuc_opt

from fuzz.case import MAY_ACCEPT, MUST_REJECT, Case
from fuzz.family_ir import UNTERMINATED_HEX_DIGITS
from fuzz.seeds import conv_model, ir_seeds, tflite_conv


class CliRefused(NpucError):
    """The command exited non-zero; the message is what it wrote on stderr."""


def _files() -> dict[str, bytes]:
    """What every command line may name: a float ONNX model, an int8 TFLite model, IR, data, a file."""
    import numpy as np

    sample = io.BytesIO()
    np.save(sample, np.zeros((1, 3, 8, 8), np.float32))
    quantized = ir_seeds()["quantized"]
    start = quantized.index('dense<"0x') + len('dense<"0x')
    return {
        "model.onnx": conv_model().SerializeToString(),
        "model.tflite": tflite_conv(),
        "model.mlir": quantized.encode(),
        "syntax.mlir": quantized.replace("func.return", "func.retrun").encode(),
        "unterminated.mlir": quantized[: start + UNTERMINATED_HEX_DIGITS].encode(),
        "calib.npy": sample.getvalue(),
        "truncated.tflite": tflite_conv()[:300],
        "existing_file": b"",
        "vela.ini": b"[System_Config.X]\ncore_clock=\xff\n",
    }


COMMANDS = {
    "import-output-missing-dir": ("npuc", "import {dir}/model.onnx -o {dir}/missing/x.mlir", MUST_REJECT),
    "compile-output-is-file": ("npuc", "compile {dir}/model.tflite -o {dir}/existing_file", MUST_REJECT),
    "quantize-save-statistics-missing-dir": (
        "npuc", "quantize {dir}/model.onnx --calibration {dir}/calib.npy --save-statistics {dir}/missing/s.npz "
        "-o {dir}/q.mlir", MUST_REJECT),
    "quantize-save-layers-missing-dir": (
        "npuc", "quantize {dir}/model.onnx --calibration {dir}/calib.npy --save-layers {dir}/missing/l.json "
        "-o {dir}/q.mlir", MUST_REJECT),
    "run-output-missing-dir": ("npuc", "run {dir}/model.onnx --input {dir}/calib.npy -o {dir}/missing/y.npy",
                               MUST_REJECT),
    "run-input-missing": ("npuc", "run {dir}/model.onnx --input {dir}/missing.npy", MUST_REJECT),
    "run-unterminated-string": ("npuc", "run {dir}/unterminated.mlir --input {dir}/calib.npy", MUST_REJECT),
    "import-truncated-tflite": ("npuc", "import {dir}/truncated.tflite", MUST_REJECT),
    "import-directory": ("npuc", "import {dir}", MUST_REJECT),
    "compile-target-long": ("npuc", "compile {dir}/model.tflite -o {dir}/out --target " + "x" * 10_000, MUST_REJECT),
    "analyze-config-not-utf8": ("npuc", "analyze {dir}/model.tflite -o {dir}/out --system-config X "
                                "--config {dir}/vela.ini", MUST_REJECT),
    "analyze-report-unknown": ("npuc", "analyze {dir}/model.tflite -o {dir}/out --report nope", MUST_REJECT),
    "compile-budget-tiny": ("npuc", "compile {dir}/model.tflite -o {dir}/out --arena-cache-size 16", MUST_REJECT),
    "disasm-garbage": ("npuc", "disasm {dir}/calib.npy", MUST_REJECT),
    "compile-valid": ("npuc", "compile {dir}/model.tflite -o {dir}/out", MAY_ACCEPT),
    "opt-missing-file": ("npuc-opt", "{dir}/missing.mlir", MUST_REJECT),
    "opt-unknown-pass": ("npuc-opt", "{dir}/model.mlir -p no-such-pass", MUST_REJECT),
    "opt-bad-option": ("npuc-opt", "{dir}/model.mlir -p npu-tile{{target=nope}}", MUST_REJECT),
    "opt-syntax-error": ("npuc-opt", "{dir}/syntax.mlir", MUST_REJECT),
    "opt-unterminated-string": ("npuc-opt", "{dir}/unterminated.mlir", MUST_REJECT),
    "opt-valid": ("npuc-opt", "{dir}/model.onnx -p graph-fuse-activation", MAY_ACCEPT),
}
"""Command lines by case name: the program, its arguments ({dir}: the case's directory) and the expectation."""


def cases(seed: int) -> Iterator[Case]:
    """Every command line (`seed` is unused: the cases are enumerated); each is one issue 14 names."""
    del seed
    files = _files()
    for name, (program, arguments, expect) in COMMANDS.items():
        yield Case("cli", name, functools.partial(_command, program, arguments, files), expect,
                   issue=not name.endswith("-valid"))


def _command(program: str, arguments: str, files: dict[str, bytes], directory: Path) -> str:
    """Run `program` with `arguments` in process; its stdout, or `CliRefused` with its stderr."""
    for name, content in files.items():
        (directory / name).write_bytes(content)
    argv = arguments.format(dir=directory).split()
    stdout, stderr = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            if program == "npuc":
                npuc_main.main(argv)
            else:
                sys.argv = [program, *argv]
                npuc_opt.main()
        except SystemExit as exit_:
            code = exit_.code
    if code in (0, None):
        return stdout.getvalue()
    raise CliRefused(stderr.getvalue().rstrip("\n") or f"exit status {code} and nothing on stderr")
