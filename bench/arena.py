"""npuc's arena against the peak-live-bytes lower bound on every shared model (issue 13, point 5).

For each `model.tflite`, target (ethos-u55-128 Shared_Sram, ethos-u65-256
Dedicated_Sram) and memory npu-allocate places: the buffer count, the lower
bound (`peak_live_bytes`), the arena `allocate` gives, the gap and the
allocation seconds. Exits 1 if a gap is over 2 %. Budgets (an arena smaller
than the whole-tensor schedule's) come with stripe scheduling.

    python bench/arena.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from npuc.api import QUANTIZED_REWRITES, import_model, run_pipeline
from npuc.backend.allocation import (
    allocate,
    arena_size,
    check_placement,
    peak_live_bytes,
)
from npuc.backend.planning import buffers, main_or_fail
from npuc.targets import load_target

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
TARGETS = (
    "ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram",
    "ethos-u65-256:Ethos_U65_High_End:Dedicated_Sram",
)
SCHEDULE = ("npu-legalize", "npu-tile", "npu-schedule")
LIMIT_PERCENT = 2.0


def main() -> int:
    """Print one row per model, target and memory; exit 1 if a gap is over the limit."""
    ok = True
    print(f"{'model':22s} {'target':14s} {'memory':7s} {'buffers':>7s} {'bound':>10s} {'arena':>10s} {'gap':>7s} {'seconds':>8s}")
    for model in sorted(SHARED_MODELS.glob("*/model.tflite")):
        for spec in TARGETS:
            module = import_model(model)
            run_pipeline(module, ",".join([*QUANTIZED_REWRITES, *(f"{name}{{target={json.dumps(spec)}}}" for name in SCHEDULE)]))
            target = load_target(spec)
            found, _ = buffers(main_or_fail(module, "bench"), target)
            for memory in target.memories:
                ranges = [b.live_range() for b in found if b.memory == memory.name]
                start = time.perf_counter()
                offsets = allocate(ranges, target.alignment)
                seconds = time.perf_counter() - start
                check_placement(ranges, offsets, alignment=target.alignment, memory=memory.name)
                bound = peak_live_bytes(ranges, target.alignment)
                arena = arena_size(ranges, offsets)
                gap = 100.0 * (arena - bound) / bound if bound else 0.0
                over = gap > LIMIT_PERCENT
                ok &= not over
                print(f"{model.parent.name:22s} {spec.split(':')[0]:14s} {memory.name:7s} {len(ranges):7d} {bound:10d} "
                      f"{arena:10d} {gap:6.2f}% {seconds:8.4f}{'  OVER' if over else ''}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
