"""Start-up and compile speed of the `npuc` command line against Vela's (issue 15, point 4).

Three figures, each against its limit:

- per shared model (`../shared/models/*/model.tflite`), the wall time of
  `npuc analyze MODEL --target ethos-u55-128 --system-config
  Ethos_U55_High_End_Embedded --memory-mode Shared_Sram --report json -o TMP`
  over that of the installed `vela` on the same model and configuration
  (`--accelerator-config ethos-u55-128`, the same system config and memory
  mode from Vela's own `config_files/Arm/vela.ini`): `--repeat` pairs, npuc
  and Vela run one after the other, and the median of the pairs' ratios
  (limits: 1.0 on every model, 0.7 on MobileNetV2). The medians of each
  tool's seconds and of the pairs' CPU-time ratios (user + system of the
  child) are printed beside it: on a machine other jobs load, CPU time
  varies less than wall time;
- `npuc --help`: the median wall time of `--repeat` runs of the console
  script (limit 0.15 s);
- in-process sweep throughput: `analyze_model` points per second for
  kws_dscnn on one core across the Ethos-U targets, the model imported
  once (each point lowers a copy) and every target analyzed once before
  the timed rounds (limit 20 points/s), and per second of CPU time.

Both tools run with Python's bytecode cache on (`PYTHONDONTWRITEBYTECODE`
removed from their environment), as installed tools do, after one untimed
run each. Exit status 1 if a figure is over its limit.

    python bench/compile_speed.py [--repeat N] [--models a,b] [--rounds N] [--npuc PATH]

`--npuc` times another `npuc` executable (an older checkout's, for a
before/after comparison); the throughput always measures the `npuc`
package this Python imports.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ethosu.vela

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
ACCELERATOR = "ethos-u55-128"
SYSTEM_CONFIG = "Ethos_U55_High_End_Embedded"
MEMORY_MODE = "Shared_Sram"
VELA_INI = Path(ethosu.vela.__file__).resolve().parents[1] / "config_files" / "Arm" / "vela.ini"
SWEEP_TARGETS = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512")
"""The built-in Ethos-U targets the throughput figure cycles through (each with its default configuration)."""

RATIO_LIMIT = 1.0
MOBILENET_RATIO_LIMIT = 0.7
HELP_LIMIT = 0.15
THROUGHPUT_LIMIT = 20.0


def tool(name: str) -> str:
    """The console script `name` beside this Python (its virtual environment), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise SystemExit(f"compile_speed: no '{name}' beside {sys.executable} or on PATH")
    return found


TOOL_ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run of `command`, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=TOOL_ENVIRONMENT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def npuc_command(npuc: str, model: Path, output: str) -> list[str]:
    return [npuc, "analyze", str(model), "--target", ACCELERATOR, "--system-config", SYSTEM_CONFIG,
            "--memory-mode", MEMORY_MODE, "--report", "json", "-o", output]


def vela_command(model: Path, output: str) -> list[str]:
    return [tool("vela"), str(model), "--accelerator-config", ACCELERATOR, "--config", str(VELA_INI),
            "--system-config", SYSTEM_CONFIG, "--memory-mode", MEMORY_MODE, "--output-dir", output]


def model_limit(model: Path) -> float:
    """The most npuc's time may be of Vela's on `model`."""
    return MOBILENET_RATIO_LIMIT if "mobilenet" in model.parent.name else RATIO_LIMIT


def compare_with_vela(npuc_tool: str, models: list[Path], repeat: int) -> bool:
    """Print the times of `npuc_tool` and Vela per model; whether every ratio is within its limit."""
    print(f"npuc analyze vs vela, {ACCELERATOR} {SYSTEM_CONFIG} {MEMORY_MODE}: medians of {repeat} pairs")
    print(f"{'model':22} {'npuc s':>7} {'vela s':>7} {'ratio':>6} {'limit':>6} {'cpu ratio':>9}")
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        for model in models:
            npuc, vela = npuc_command(npuc_tool, model, scratch + "/npuc"), vela_command(model, scratch + "/vela")
            timed(npuc), timed(vela)  # untimed: bytecode caches, file caches
            pairs = [(timed(npuc), timed(vela)) for _ in range(repeat)]
            ratio = statistics.median(n[0] / v[0] for n, v in pairs)
            cpu_ratio = statistics.median(n[1] / v[1] for n, v in pairs)
            within = ratio <= model_limit(model)
            ok &= within
            print(f"{model.parent.name:22} {statistics.median(n[0] for n, _ in pairs):7.3f} "
                  f"{statistics.median(v[0] for _, v in pairs):7.3f} {ratio:6.2f} {model_limit(model):6.2f} "
                  f"{cpu_ratio:9.2f}{'' if within else '  OVER'}")
    return ok


def help_time(npuc_tool: str, repeat: int) -> bool:
    """Print the median wall time of `npuc_tool --help`; whether it is within the limit."""
    command = [npuc_tool, "--help"]
    timed(command)
    seconds = statistics.median(timed(command)[0] for _ in range(repeat))
    within = seconds <= HELP_LIMIT
    print(f"npuc --help: {seconds:.3f} s (limit {HELP_LIMIT} s){'' if within else '  OVER'}")
    return within


def sweep_throughput(rounds: int) -> bool:
    """Print in-process analyze points per second for kws_dscnn across `SWEEP_TARGETS`; whether within the limit."""
    from npuc.api import analyze_model, import_model

    module = import_model(SHARED_MODELS / "kws_dscnn" / "model.tflite")
    point: Callable[[str], object] = lambda target: analyze_model(module.clone(), target)  # noqa: E731
    for target in SWEEP_TARGETS:
        point(target)  # untimed: each target's first point loads it and fills the per-process caches
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for target in SWEEP_TARGETS:
            point(target)
    points = rounds * len(SWEEP_TARGETS)
    rate, cpu_rate = points / (time.perf_counter() - start), points / (time.process_time() - cpu_start)
    within = rate >= THROUGHPUT_LIMIT
    how = ("npuc.dse is present; measured on analyze_model itself" if importlib.util.find_spec("npuc.dse")
           else "no npuc.dse (npuc sweep) here: analyze_model measured directly")
    print(f"sweep throughput, kws_dscnn x {len(SWEEP_TARGETS)} targets x {rounds} rounds, one core: "
          f"{rate:.1f} points/s (limit {THROUGHPUT_LIMIT:g}){'' if within else '  UNDER'}, "
          f"{cpu_rate:.1f} per CPU second; {how}")
    return within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--models", help="comma-separated shared model names (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over the targets for the throughput (default 5)")
    parser.add_argument("--npuc", help="the npuc executable to time (default: the one beside this Python)")
    args = parser.parse_args()
    npuc_tool = args.npuc or tool("npuc")
    models = sorted(SHARED_MODELS.glob("*/model.tflite"))
    if args.models:
        models = [model for model in models if model.parent.name in args.models.split(",")]
    ok = compare_with_vela(npuc_tool, models, args.repeat)
    ok &= help_time(npuc_tool, args.repeat)
    ok &= sweep_throughput(args.rounds)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
