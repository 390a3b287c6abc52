"""Post-training quantization: npuc against onnxruntime's `quantize_static`.

For every `model_float.onnx` under the shared models folder, the float model
is quantized twice with the same calibration set: by npuc (default settings,
or the strategy options given) and by onnxruntime (`quantize_static`, QDQ,
per-channel, int8 activations and weights, MinMax). Each is compared with its
own float reference (npuc's float interpreter; onnxruntime on the float
model) on held-out inputs: the first `CALIBRATION_FRACTION` of `calib.npy`
calibrates, the rest tests (digits_cnn calibrates on all of `calib.npy` and
tests on `x_test.npy`). Prints the output SQNR of both, the digits_cnn int8
accuracy on `x_test.npy` against the int8 TFLite accuracy in `info.json`, and
the time npuc takes to calibrate and quantize MobileNetV2 on its whole
`calib.npy` (the acceptance limit is 60 s).

    python bench/ptq.py [--models DIR] [--only NAME] [--precision P] [--activation-strategy S]
                        [--weight-strategy S] [--per-tensor] [--skip-ort]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

import npuc
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import sqnr_db

DEFAULT_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
CALIBRATION_FRACTION = 0.6
TIMED_MODEL = "mobilenet_v2_100_224"


def split(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(calibration, held-out test) inputs of one model folder."""
    calib = np.load(folder / "calib.npy").astype(np.float32)
    if (folder / "x_test.npy").is_file():
        return calib, np.load(folder / "x_test.npy").astype(np.float32)
    count = math.ceil(len(calib) * CALIBRATION_FRACTION)
    return calib[:count], calib[count:]


def npuc_quantized(path: Path, calibration: np.ndarray, options: QuantizationOptions):
    """(float module, quantized module, graph passes + quantize seconds) of npuc."""
    reference = npuc.import_model(path)
    module = npuc.import_model(path)
    start = time.perf_counter()
    npuc.quantize(module, [calibration], options, report_samples=0)
    elapsed = time.perf_counter() - start
    return reference, module, elapsed


def npuc_outputs(module, inputs: np.ndarray) -> np.ndarray:
    """The first output of the module on `inputs` (reference interpreter, batched)."""
    return npuc.run(module, [inputs])[0]


def ort_outputs(path: Path, inputs: np.ndarray) -> np.ndarray:
    """The first output of an ONNX model on `inputs`, one sample at a time."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: inputs[i : i + 1]})[0] for i in range(len(inputs))])


def ort_quantized(path: Path, calibration: np.ndarray, directory: Path) -> Path:
    """onnxruntime's static QDQ int8 per-channel quantization of `path`."""
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    name = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.samples = iter([{name: calibration[i : i + 1]} for i in range(len(calibration))])

        def get_next(self):
            return next(self.samples, None)

    output = directory / f"{path.parent.name}_qdq.onnx"
    quantize_static(
        str(path), str(output), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
    )  # fmt: skip
    return output


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of `logits` against integer `labels`."""
    return float(np.mean(np.argmax(logits.reshape(len(labels), -1), axis=1) == labels))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--only", default="")
    parser.add_argument("--precision", default=QuantizationOptions.precision, help="mixed (default) or uniform")
    parser.add_argument("--activation-strategy", default=QuantizationOptions.activation_strategy)
    parser.add_argument("--weight-strategy", default=QuantizationOptions.weight_strategy)
    parser.add_argument("--per-tensor", action="store_true")
    parser.add_argument("--target-sqnr", type=float, default=0.0)
    parser.add_argument("--bias-correction", action=argparse.BooleanOptionalAction,
                        default=QuantizationOptions.bias_correction)
    parser.add_argument("--skip-ort", action="store_true")
    args = parser.parse_args()
    options = QuantizationOptions(
        precision=args.precision,
        activation_strategy=args.activation_strategy,
        weight_strategy=args.weight_strategy,
        per_channel=not args.per_tensor,
        target_sqnr=args.target_sqnr,
        bias_correction=args.bias_correction,
    )
    folders = sorted(p for p in args.models.iterdir() if (p / "model_float.onnx").is_file())
    if args.only:
        folders = [p for p in folders if p.name == args.only]
    print(f"{'model':24} {'calib':>5} {'test':>5} {'npuc dB':>8} {'ort dB':>8} {'quantize s':>10}")
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for folder in folders:
            path = folder / "model_float.onnx"
            calibration, test = split(folder)
            reference, module, seconds = npuc_quantized(path, calibration, options)
            float_out = npuc_outputs(reference, test)
            int_out = npuc_outputs(module, test)
            ours = sqnr_db(float_out, int_out)
            theirs = float("nan")
            if not args.skip_ort:
                ort_float = ort_outputs(path, test)
                ort_int = ort_outputs(ort_quantized(path, calibration, Path(scratch)), test)
                theirs = sqnr_db(ort_float, ort_int)
                failures += ours < theirs
            print(
                f"{folder.name:24} {len(calibration):5} {len(test):5} {ours:8.2f} {theirs:8.2f} {seconds:10.2f}",
                flush=True,
            )
            if (folder / "y_test.npy").is_file():
                info = json.loads((folder / "info.json").read_text())
                ours_accuracy = accuracy(int_out, np.load(folder / "y_test.npy"))
                tflite = info["tflite_int8_test_acc"]
                ok = ours_accuracy >= tflite - 0.005
                failures += not ok
                print(
                    f"  {folder.name} int8 accuracy on x_test: npuc {100 * ours_accuracy:.2f} % "
                    f"vs TFLite int8 {100 * tflite:.2f} % ({'ok' if ok else 'FAIL'})"
                )
            if folder.name == TIMED_MODEL:
                full = np.load(folder / "calib.npy").astype(np.float32)
                _, _, seconds = npuc_quantized(path, full, options)
                print(f"  {folder.name} calibration + quantization on all {len(full)} samples: {seconds:.1f} s (limit 60 s)")
                failures += seconds >= 60
    print("all acceptance figures met" if failures == 0 else f"{failures} acceptance figure(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
