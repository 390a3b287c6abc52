"""Import-and-verify time of the ONNX importer on two real-sized models.

Times `npuc.importers.onnx.importer.import_onnx` (read, shape inference, constant
folding, conversion, per-node and whole-module verification) on
`light_densenet121.onnx` from the onnx wheel's test data (1,746 nodes, its
weights made by ConstantOfShape) and on the shared MobileNetV2
`model_float.onnx` (tf2onnx, 3.5 M weights). Prints the best and median of
several runs per model, the op count of the result, and whether each is
under the 3 s target.

    python bench/import_speed.py [--repeat N] [--profile]

`--profile` also prints the 15 most expensive functions of one import.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import onnx

from npuc.importers.onnx.importer import import_onnx

TARGET_SECONDS = 3.0
MODELS = {
    "light_densenet121": Path(onnx.__file__).parent / "backend/test/data/light/light_densenet121.onnx",
    "mobilenet_v2_100_224": Path(__file__).resolve().parents[2]
    / "shared/models/mobilenet_v2_100_224/model_float.onnx",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    slow = []
    print(f"{'model':22} {'nodes':>6} {'ops':>6} {'best s':>7} {'median s':>9}  target {TARGET_SECONDS:g} s")
    for name, path in MODELS.items():
        if not path.is_file():
            print(f"{name:22} missing: {path}")
            slow.append(name)
            continue
        nodes = len(onnx.load(str(path), load_external_data=False).graph.node)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            module = import_onnx(str(path))
            times.append(time.perf_counter() - start)
        ops = sum(1 for _ in module.walk())
        verdict = "ok" if min(times) < TARGET_SECONDS else "SLOW"
        if verdict != "ok":
            slow.append(name)
        print(f"{name:22} {nodes:6d} {ops:6d} {min(times):7.3f} {statistics.median(times):9.3f}  {verdict}")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(import_onnx, str(path))
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
