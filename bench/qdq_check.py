"""QDQ ONNX check: npuc's import of quantize_static models against onnxruntime.

For every shared model with a `model_float.onnx` and `calib.npy`, builds a QDQ
model in a temporary directory (`quantize_static`, calibrated on calib.npy,
per_channel=True, QuantFormat.QDQ, int8 activations and weights), imports it
with npuc, runs npuc's integer reference and onnxruntime on the calibration
samples, and prints the largest difference in output quantization steps.
Issue 4 requires at most 1 step for kws_dscnn.

    python bench/qdq_check.py [--models DIR] [MODEL ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime import quantization

from npuc import api
from npuc.errors import NpucError
from npuc.importers.onnx.importer import import_onnx

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def build_qdq(source: Path, samples: np.ndarray, target: Path) -> None:
    """quantize_static of `source` into `target`, calibrated on `samples` one at a time."""
    input_name = onnx.load(source).graph.input[0].name

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{input_name: sample[None]} for sample in samples])

        def get_next(self):
            return next(self.batches, None)

    quantization.quantize_static(
        str(source), str(target), Reader(), quant_format=quantization.QuantFormat.QDQ,
        per_channel=True, activation_type=quantization.QuantType.QInt8,
        weight_type=quantization.QuantType.QInt8,
    )


def output_scale(model: onnx.ModelProto) -> float:
    """The scale of the DequantizeLinear producing the first model output."""
    output = model.graph.output[0].name
    node = next(n for n in model.graph.node if output in n.output)
    scales = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return float(scales[node.input[1]].reshape(-1)[0])


def check(directory: Path) -> str:
    """One result line for the shared model in `directory`."""
    samples = np.load(directory / "calib.npy").astype(np.float32)
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "model_qdq.onnx"
        build_qdq(directory / "model_float.onnx", samples, path)
        try:
            module = import_onnx(str(path))
        except NpucError as error:
            return f"{directory.name}: import failed: {error}"
        session = ort.InferenceSession(str(path))
        name = session.get_inputs()[0].name
        expected = np.concatenate([session.run(None, {name: s[None]})[0] for s in samples])
        (actual,) = api.run(module, [samples])
        scale = output_scale(onnx.load(path))
    steps = np.abs(actual.reshape(expected.shape) - expected) / scale
    differing = int(np.count_nonzero(np.round(steps)))
    return (
        f"{directory.name}: max {steps.max():.2f} steps (scale {scale:.6g}), "
        f"{differing}/{steps.size} elements differ, {len(samples)} samples"
    )


def main(argv: list[str] | None = None) -> int:
    """Check the named shared models (default: all) and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="model directories under --models")
    parser.add_argument("--models", type=Path, default=MODELS)
    arguments = parser.parse_args(argv)
    ort.set_default_logger_severity(3)
    names = arguments.names or sorted(
        p.name for p in arguments.models.iterdir() if (p / "model_float.onnx").is_file()
    )
    for name in names:
        print(check(arguments.models / name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
