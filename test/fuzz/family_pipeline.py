"""Bad pass pipelines, as `npuc-opt -p` takes them: unknown passes, bad options, bad syntax, wrong order.

Each pipeline runs through `npuc.run_pipeline` on the graph module of the
built ONNX conv and on the quantized module of the built TFLite conv.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import npuc

from fuzz.case import Case
from fuzz.seeds import conv_model, tflite_conv

TARGET = "ethos-u55-128"

PIPELINES = {
    "unknown-pass": "no-such-pass",
    "target-unknown": "npu-tile{target=nope}",
    "target-empty": "npu-tile{target=}",
    "target-newline": 'npu-tile{target="ethos\\nu55"}',
    "target-long": "npu-tile{target=" + "x" * 10_000 + "}",
    "target-system-unknown": f"npu-legalize{{target={TARGET}:No_Such_System}}",
    "target-config-missing": f'npu-legalize{{target="{TARGET}@/nonexistent/vela.ini"}}',
    "target-budget-negative": f'npu-legalize{{target="{TARGET}#arena_cache_size=-5"}}',
    "target-dev-null": "npu-legalize{target=/dev/null}",
    "option-unknown": "npu-tile{bogus=1}",
    "option-negative": f"npu-tile{{target={TARGET} max-stripe-height=-1}}",
    "option-not-a-number": f"npu-tile{{target={TARGET} max-stripe-height=abc}}",
    "option-twice": f"npu-tile{{target={TARGET} target=ethos-u65-256}}",
    "option-goal-unknown": f"npu-schedule{{target={TARGET} optimise=fastest}}",
    "brace-unclosed": f"npu-tile{{target={TARGET}",
    "brace-unopened": "npu-tile}",
    "quote-unclosed": 'npu-tile{target="ethos-u55-128}',
    "empty": "",
    "commas": ",,",
    "empty-between": "layer-cse,,layer-dce",
    "allocate-first": f"npu-allocate{{target={TARGET}}}",
    "lower-unplanned": f"npu-lower{{target={TARGET}}}",
    "schedule-untiled": f"npu-schedule{{target={TARGET}}}",
    "cost-model-unlowered": f"npu-cost-model{{target={TARGET}}}",
    "quantize-bits-7": "quantize{activation_bits=7}",
    "quantize-calibration-missing": "quantize{calibration=/nonexistent/calib.npy}",
    "quantize-percentile-nan": "quantize{activation_strategy=percentile percentile=nan}",
    "graph-pass-option": "graph-fuse-pad{x=1}",
    "npu-tile-on-graph": f"npu-tile{{target={TARGET}}}",
    "budget-tiny": npuc.api.backend_pipeline(f"{TARGET}#arena_cache_size=16"),
    "backend-twice": ",".join([npuc.api.backend_pipeline(TARGET)] * 2),
}
"""Pipeline texts by case name."""


def cases(seed: int) -> Iterator[Case]:
    """Every pipeline on both modules (`seed` is unused: the cases are enumerated)."""
    del seed
    for stage in ("graph", "quantized"):
        for name, pipeline in PIPELINES.items():
            yield Case("pipeline", f"{stage}-{name}", functools.partial(_run, stage, pipeline),
                       issue=name == "target-unknown" and stage == "quantized")


def _run(stage: str, pipeline: str, directory: Path) -> object:
    if stage == "graph":
        path = directory / "model.onnx"
        path.write_bytes(conv_model().SerializeToString())
    else:
        path = directory / "model.tflite"
        path.write_bytes(tflite_conv())
    return npuc.run_pipeline(npuc.import_model(path), pipeline)
