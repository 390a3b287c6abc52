"""Compile time against model depth: chains of 250, 500, 1,000 and 2,000 1x1 convolutions (issue 14).

Each chain is quantized IR: an 8x8x16 int8 input through N 1x1
convolutions of 16 channels, each with its own random weights and bias (so
no two layers share a constant), for ethos-u55-128. The script times
`analyze_model` (the whole back end and the estimate) on each and prints
the seconds, the seconds per layer and the growth from the previous chain:
a back end that is linear in the layer count doubles its time when the
chain doubles (growth about 2.0x; quadratic would be 4x). Issue 14 asks for
1,000 layers in under 10 s.

    python bench/compile_scaling.py [--layers 250,500,1000,2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from xdsl.parser import Parser

from npuc.api import analyze_model
from npuc.context import npuc_context

TARGET = "ethos-u55-128"
HEIGHT, WIDTH, CHANNELS = 8, 8, 16
LIMIT_LAYERS, LIMIT_SECONDS = 1000, 10.0


def _hex(values: np.ndarray) -> str:
    return '"0x' + values.tobytes().hex().upper() + '"'


def chain(layers: int, seed: int = 0) -> str:
    """Quantized IR of `@main`: `layers` 1x1 convolutions in a chain, each with its own constants."""
    rng = np.random.default_rng(seed)
    act = f"tensor<1x{HEIGHT}x{WIDTH}x{CHANNELS}x!quantized.uniform<i8:f32, 0.05:-3>>"
    weight_type = f"tensor<{CHANNELS}x1x1x{CHANNELS}x!quantized.uniform<i8:f32, 0.004:0>>"
    lines, value = [], "%x"
    for index in range(layers):
        weights = _hex(rng.integers(-127, 128, (CHANNELS, 1, 1, CHANNELS)).astype(np.int8))
        bias = _hex(rng.integers(-3000, 3000, CHANNELS).astype(np.int32))
        lines.append(
            f"  %w{index} = quantized.constant dense<{weights}> : tensor<{CHANNELS}x1x1x{CHANNELS}xi8> -> {weight_type}\n"
            f"  %b{index} = quantized.constant dense<{bias}> : tensor<{CHANNELS}xi32>\n"
            f"  %c{index} = quantized.conv2d {value}, %w{index}, %b{index} {{layer = \"conv{index}\", "
            f"strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, "
            f"activation = \"relu\"}} : ({act}, {weight_type}, tensor<{CHANNELS}xi32>) -> {act}\n"
        )
        value = f"%c{index}"
    return f"func.func @main(%x: {act}) -> {act} {{\n{''.join(lines)}  func.return {value} : {act}\n}}\n"


def seconds(layers: int) -> float:
    """Wall seconds of `analyze_model` on the chain of `layers` (parsing excluded)."""
    module = Parser(npuc_context(), chain(layers)).parse_module()
    start = time.perf_counter()
    analyze_model(module, TARGET)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="250,500,1000,2000", help="comma-separated chain lengths")
    counts = [int(text) for text in parser.parse_args().layers.split(",")]
    print(f"{'layers':>7} {'seconds':>8} {'ms/layer':>9} {'growth':>7}")
    previous: tuple[int, float] | None = None
    failed = False
    for count in counts:
        time_taken = seconds(count)
        growth = ""
        if previous is not None:
            growth = f"{time_taken / previous[1]:.2f}x"
        print(f"{count:>7} {time_taken:>8.2f} {1000 * time_taken / count:>9.2f} {growth:>7}")
        if count == LIMIT_LAYERS and time_taken >= LIMIT_SECONDS:
            failed = True
        previous = (count, time_taken)
    print(f"{LIMIT_LAYERS} layers under {LIMIT_SECONDS:.0f} s: {'FAIL' if failed else 'PASS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
