"""What the `npuc` commands import: a command pays at start-up only for the machinery it uses (issue 15).

Each case runs the console script's entry (`npuc.tools.npuc_main.main`) in
a fresh interpreter and reads `sys.modules` once it is done. These are
structural checks, not timings: `bench/compile_speed.py` measures the
seconds. `npuc --help` builds every subcommand's parser, so argument parsing
must not reach the compiler (xDSL, numpy); analyzing a TFLite model needs
neither the ONNX importer nor plotly (unless an HTML report is written),
nor the reference interpreters or simulators (no check runs them), nor the
float dialect or the calibration data loader (the model is quantized); Vela's
weight codec loads only where weights are encoded (an Ethos-U target).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import MODELS

RUN_CLI = """
import sys
from npuc.tools.npuc_main import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
print("\\nMODULES", *sorted(sys.modules))
"""
"""Runs `npuc ARGS` and prints the modules loaded on its last line."""


def imported_by(*args: str) -> set[str]:
    """The modules loaded by `npuc ARGS` run in a fresh interpreter (which must succeed)."""
    done = subprocess.run([sys.executable, "-c", RUN_CLI, *args], capture_output=True, text=True, check=True)
    return set(done.stdout.rstrip().splitlines()[-1].split()[1:])


def loaded(modules: set[str], *packages: str) -> list[str]:
    """The packages of `packages` that `modules` holds (a package or any module inside it)."""
    return [package for package in packages if any(m == package or m.startswith(package + ".") for m in modules)]


def test_help_imports_no_compiler():
    assert loaded(imported_by("--help"), "xdsl", "numpy", "onnx", "plotly", "tflite", "ethosu", "npuc.api") == []


def test_a_subcommand_help_imports_no_compiler():
    assert loaded(imported_by("analyze", "--help"), "xdsl", "numpy", "onnx", "plotly") == []


def test_analyzing_a_tflite_model_imports_no_onnx_plotly_or_interpreter(tmp_path: Path):
    modules = imported_by("analyze", str(MODELS / "kws_dscnn.tflite"), "--report", "json,csv,text",
                          "-o", str(tmp_path))
    assert (tmp_path / "report.json").is_file()
    assert "npuc.backend.planning" in modules  # it did compile
    assert loaded(modules, "onnx", "onnxruntime", "plotly", "npuc.importers.onnx", "npuc.reference.interpreter",
                  "npuc.reference.quantized_interpreter", "npuc.reference.graph_interpreter", "npuc.sim") == []
    # the float dialect and the calibration data loader serve float models only
    assert loaded(modules, "npuc.dialects.graph", "npuc.data", "npuc.quantization.driver") == []


def test_a_target_storing_raw_weights_loads_no_weight_codec(tmp_path: Path):
    modules = imported_by("analyze", str(MODELS / "kws_dscnn.tflite"), "--target", "generic-4tops",
                          "--report", "json", "-o", str(tmp_path))
    assert "npuc.backend.planning" in modules
    assert loaded(modules, "ethosu") == []


BLAS_THREADS = """
import os, sys
from npuc.tools.npuc_main import main
main(sys.argv[1:])
print("\\nTHREADS", os.environ.get("OPENBLAS_NUM_THREADS"), len(os.listdir("/proc/self/task")))
"""
"""Runs `npuc ARGS` and prints OPENBLAS_NUM_THREADS and the process's thread count on its last line."""


def blas_threads(environment: dict[str, str], *args: str) -> list[str]:
    """OPENBLAS_NUM_THREADS and the thread count after `npuc ARGS` in a fresh interpreter with `environment`."""
    done = subprocess.run([sys.executable, "-c", BLAS_THREADS, *args], capture_output=True, text=True, check=True,
                          env=environment)
    return done.stdout.rstrip().splitlines()[-1].split()[1:]


def test_analyze_starts_blas_with_one_thread_unless_told(tmp_path: Path):
    if not Path("/proc/self/task").is_dir():
        pytest.skip("no /proc: thread count unknown")
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    args = ("analyze", str(MODELS / "kws_dscnn.tflite"), "--report", "json", "-o", str(tmp_path))
    assert blas_threads(environment, *args) == ["1", "1"]
    assert blas_threads({**environment, "OMP_NUM_THREADS": "2"}, *args)[0] == "None"  # the user's choice stands
