"""The simulator runs lowered npu programs from memory, bit-exact with the reference.

The example model ships with the repository; the simulator must agree with the
quantized interpreter on it, `npuc run` must accept the lowered IR (and the
emitted binary, decoded), and a program whose addresses are corrupted must not
agree any more: the simulator really reads what the commands address.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

import npuc
from npuc.data import load_samples, model_interface
from npuc.dialects import npu
from npuc.emit.command_stream import decode, encode
from npuc.errors import MemoryHazardError
from npuc.sim.simulator import simulate

from support.paths import EXAMPLES


@pytest.fixture(scope="module")
def compiled() -> tuple[ModuleOp, list[np.ndarray], np.ndarray]:
    """The example compiled for ethos-u55-128, test inputs and the reference output."""
    module = npuc.import_model(EXAMPLES / "tiny_cnn.onnx")
    interface = model_interface(module)
    npuc.quantize(module, load_samples(str(EXAMPLES / "tiny_cnn_calib.npy"), interface))
    inputs = load_samples(str(EXAMPLES / "tiny_cnn_test.npy"), interface)
    reference = npuc.run(module, inputs)[0]
    result = npuc.compile_model(module, "ethos-u55-128")
    return result.module, inputs, reference


def test_simulator_matches_quantized_reference(compiled) -> None:
    program, inputs, reference = compiled
    np.testing.assert_array_equal(simulate(program, inputs)[0], reference)


def test_decoded_binary_runs_identically(compiled) -> None:
    program, inputs, reference = compiled
    stream = encode(program)
    np.testing.assert_array_equal(simulate(decode(stream.stream, stream.blob), inputs)[0], reference)


def test_npuc_run_executes_lowered_ir(compiled, tmp_path: Path) -> None:
    program, _, reference = compiled
    ir_file = tmp_path / "model.npu.mlir"
    ir_file.write_text(str(program))
    output = tmp_path / "y.npy"
    subprocess.run(
        [
            sys.executable, "-m", "npuc.tools.npuc_main", "run", str(ir_file),
            "--input", str(EXAMPLES / "tiny_cnn_test.npy"), "-o", str(output),
        ],
        check=True,
    )
    np.testing.assert_array_equal(np.load(output), reference)


def test_corrupted_weight_address_is_a_read_of_unwritten_bytes(compiled) -> None:
    program, inputs, _ = compiled
    corrupted = program.clone()
    conv = next(op for op in corrupted.ops if isinstance(op, npu.Conv2dOp))
    weights = conv.weights
    conv.weights = npu.BufferAttr(weights.region.data, weights.offset.data + 16, weights.size.data)
    # The shifted weights reach bytes no command wrote, or the staged scale/bias table written after them.
    with pytest.raises(MemoryHazardError, match=r"conv1 \(npu.conv2d\) reads its weights at .* (but nothing wrote|wrote only in part)"):
        simulate(corrupted, inputs)
