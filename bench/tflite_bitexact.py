"""Bit-exactness of npuc's TFLite import + integer reference against TFLite.

For every `model.tflite` under the shared models folder, imports the model
with npuc, runs `npuc.run` on int8 inputs from 10 random seeds, runs the same
inputs through `ai_edge_litert` with the BUILTIN_REF op resolver (TFLite's
reference kernels) and prints, per model, how many output bytes differ. The
acceptance criterion is 0 for every model.

    python bench/tflite_bitexact.py [--models DIR] [--seeds N] [--layers]

`--layers` also compares every intermediate tensor of the first seed (litert
keeps them with `experimental_preserve_all_tensors`) and names the first
layer whose bytes differ, to find the operator at fault.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import npuc
from npuc.importers.tflite.importer import import_tflite
from npuc.ir import main_function
from npuc.reference.quantized_interpreter import run_quantized

DEFAULT_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def reference_interpreter(path: Path, keep_tensors: bool = False) -> Interpreter:
    """A litert interpreter on TFLite's reference kernels."""
    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=keep_tensors,
    )
    interpreter.allocate_tensors()
    return interpreter


def random_inputs(interpreter: Interpreter, seed: int) -> list[np.ndarray]:
    """Uniformly random stored integers for every model input."""
    rng = np.random.default_rng(seed)
    arrays = []
    for detail in interpreter.get_input_details():
        info = np.iinfo(detail["dtype"])
        arrays.append(rng.integers(info.min, info.max + 1, detail["shape"], dtype=detail["dtype"]))
    return arrays


def run_reference(interpreter: Interpreter, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of the litert reference run on `inputs`."""
    for detail, array in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], array)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def differing_bytes(expected: list[np.ndarray], actual: list[np.ndarray]) -> int:
    """How many bytes of the outputs differ (shape mismatches count every byte)."""
    count = 0
    for want, got in zip(expected, actual):
        got = np.asarray(got)
        if want.shape != got.shape or want.dtype != got.dtype:
            count += want.nbytes
            continue
        count += int(np.count_nonzero(want.view(np.uint8) != got.view(np.uint8)))
    return count


def first_differing_layer(path: Path, module, inputs: list[np.ndarray]) -> str:
    """The first op of `@main` (program order) whose result differs from TFLite's tensor."""
    interpreter = reference_interpreter(path, keep_tensors=True)
    run_reference(interpreter, inputs)
    by_name = {d["name"]: d["index"] for d in interpreter.get_tensor_details()}
    execution = run_quantized(module, inputs, keep_values=True)
    for op in main_function(module).body.ops:
        layer = op.attributes.get("layer")
        if layer is None or not op.results or layer.data not in by_name:
            continue
        want = interpreter.get_tensor(by_name[layer.data])
        got = execution.values.get(op.results[-1])
        if got is None or got.shape != want.shape:
            continue  # an intermediate step of a multi-op layer
        differing = int(np.count_nonzero(got != want))
        if differing:
            return f"{layer.data} ({op.name}): {differing} of {want.size} elements differ"
    return "no intermediate tensor differs"


def check_model(path: Path, seeds: int, layers: bool) -> int:
    """Print and return the number of differing output bytes over `seeds` runs."""
    start = time.perf_counter()
    module = import_tflite(str(path))
    interpreter = reference_interpreter(path)
    total, size = 0, 0
    for seed in range(seeds):
        inputs = random_inputs(interpreter, seed)
        expected = run_reference(interpreter, inputs)
        try:
            actual = npuc.run(module, inputs)
        except npuc.NpucError as error:
            print(f"{path.parent.name:24s} error: {error}")
            return -1
        total += differing_bytes(expected, actual)
        size += sum(array.nbytes for array in expected)
    elapsed = time.perf_counter() - start
    print(f"{path.parent.name:24s} {total:6d} differing bytes of {size} ({elapsed:.1f} s)")
    if total and layers:
        print(f"{'':24s} first difference: {first_differing_layer(path, module, random_inputs(interpreter, 0))}")
    return total


def main() -> None:
    """Check every shared TFLite model; exit 1 unless all are bit-exact."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--layers", action="store_true", help="locate the first differing layer")
    args = parser.parse_args()
    paths = sorted(args.models.glob("*/model.tflite"))
    if not paths:
        sys.exit(f"no */model.tflite under {args.models}")
    results = [check_model(path, args.seeds, args.layers) for path in paths]
    sys.exit(0 if all(result == 0 for result in results) else 1)


if __name__ == "__main__":
    main()
