"""`npuc`: the compiler driver.

    npuc import MODEL [-o OUT.mlir]
    npuc run MODEL_OR_MLIR --input X.npy [-o Y.npy]
    npuc disasm MODEL.tflite|PAYLOAD.bin
    npuc quantize MODEL --calibration CALIB.npy [QUANTIZE OPTIONS] [-o OUT.mlir]
    npuc compile MODEL --target NAME [TARGET OPTIONS] [-o DIR] [--calibration CALIB.npy] [--report LIST]
    npuc analyze MODEL --target NAME [TARGET OPTIONS] [-o DIR] [--calibration CALIB.npy] [--report LIST]
                 [--channel-advice]
    npuc sweep MODEL [MODEL...] --targets LIST --arena-cache-size LIST --optimise LIST [--variants channels]
               [-j N] [-o DIR]

TARGET OPTIONS: [--config VELA.ini] [--system-config NAME] [--memory-mode NAME]
[--arena-cache-size BYTES] [--optimise Performance|Size] choose the system
configuration, memory mode, memory budget and schedule goal of an Ethos-U
accelerator, as Vela's options of the same names do. --report takes a comma-separated list of
text, csv, json, html, trace (default: all).

Bad input of any kind ends with one line on stderr and exit status 1; the
library raises `NpucError` subclasses and this module prints their message.
An exception npuc did not foresee is a bug: one line naming it, exit status 2
(`--debug` adds the traceback; `npuc.tools.boundary`).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from npuc.errors import ArenaBudgetError, NpucError, writing
from npuc.tools.boundary import (
    DEBUG_FLAG,
    DEBUG_HELP,
    OneLineArgumentParser,
    run_reporting_errors,
)


def _progress(message: str) -> None:
    """Progress of long steps, on a terminal only: scripts see one error line at most."""
    if sys.stderr.isatty():
        print(f"npuc: {message}", file=sys.stderr, flush=True)


def _write_ir(module, output: str | None) -> None:
    text = str(module) + "\n"
    if output:
        with writing(output, "the IR"):
            Path(output).write_text(text)
    else:
        sys.stdout.write(text)


def cmd_import(args: argparse.Namespace) -> None:
    """Print (or write) the graph IR of a model."""
    from npuc.api import import_model

    _write_ir(import_model(args.model), args.output)


def cmd_run(args: argparse.Namespace) -> None:
    """Execute a model or IR file with the reference interpreter."""
    import numpy as np

    from npuc.api import import_model, run
    from npuc.data import load_samples, model_interface, save_outputs, to_interface

    module = import_model(args.model)
    interface = model_interface(module)
    outputs = to_interface(run(module, load_samples(args.input, interface)), interface)
    if args.output:
        save_outputs(args.output, outputs, interface)
    else:
        with np.printoptions(threshold=64, precision=6):
            for output in outputs:
                print(f"{output.dtype} {list(output.shape)}")
                print(output)


def cmd_disasm(args: argparse.Namespace) -> None:
    """Print the register command streams of a `.tflite`'s ethos-u operators, or of a raw COP1 payload."""
    from npuc.emit.ethos_u.disasm import disassemble
    from npuc.errors import ModelFormatError

    try:
        data = Path(args.file).read_bytes()
    except OSError as error:
        raise ModelFormatError(f"{args.file}: cannot read ({error.strerror})") from None
    sys.stdout.write("\n".join(disassemble(data, args.file)) + "\n")


def _quantization_options(args: argparse.Namespace):
    """The `QuantizationOptions` the quantize options name."""
    from npuc.quantization.options import QuantizationOptions

    return QuantizationOptions(
        activation_bits=args.activation_bits,
        precision=args.precision,
        activation_strategy=args.activation_strategy,
        output_strategy=args.output_strategy,
        weight_strategy=args.weight_strategy,
        per_channel=not args.per_tensor,
        percentile=args.percentile,
        statistics=args.statistics or "",
        save_statistics=args.save_statistics or "",
        layers=args.layers or "",
        save_layers=args.save_layers or "",
        target_sqnr=args.target_sqnr,
        bias_correction=args.bias_correction,
    )


def cmd_quantize(args: argparse.Namespace) -> None:
    """Quantize a float model, print the worst layers' errors and the quantized IR."""
    from npuc.api import import_model, quantize, run_pipeline
    from npuc.data import load_samples, model_interface, sample_count
    from npuc.passes import GRAPH_OPTIMISATION_PIPELINE
    from npuc.quantization.search import format_layer_errors

    options = _quantization_options(args)
    module = import_model(args.model)
    samples = load_samples(args.calibration, model_interface(module))
    _progress(f"calibrating on {sample_count(samples[0])} sample(s)")
    # The report compares with the float graph after the graph passes (folded
    # batch norms): the same layers, by name, as the quantized module holds.
    run_pipeline(module, ",".join(GRAPH_OPTIMISATION_PIPELINE))
    report = quantize(module, samples, options, report_samples=args.report_samples if args.report else 0)
    if report.promotion is not None:
        promoted = ", ".join(report.promotion.promoted) or "none"
        print(f"int16 layers for {options.target_sqnr:g} dB: {promoted} "
              f"(output SQNR {report.promotion.output_sqnr:.2f} dB)", file=sys.stderr)
        if report.promotion.note:
            print(f"note: {report.promotion.note}", file=sys.stderr)
    if args.report:
        print(format_layer_errors(report.layers, args.report), file=sys.stderr)
    _write_ir(module, args.output)


def _add_quantize_options(command: argparse.ArgumentParser) -> None:
    """The options of `npuc quantize` (defaults: `npuc.quantization.quantizer.QuantizationOptions`)."""
    from npuc.quantization.options import PRECISIONS, STRATEGIES

    command.add_argument("--calibration", required=True, help="calibration samples .npy/.npz")
    command.add_argument("--activation-bits", type=int, choices=(8, 16), default=8,
                         help="8: asymmetric int8; 16: symmetric int16 (16x8) (default 8)")
    command.add_argument("--precision", choices=PRECISIONS, default="mixed",
                         help="mixed: classifier head and layer norms 16x8, the rest at --activation-bits; "
                              "uniform: every layer at --activation-bits (default mixed)")
    command.add_argument("--activation-strategy", choices=(*STRATEGIES, "auto"), default="mse",
                         help="activation range strategy (default mse)")
    command.add_argument("--output-strategy", choices=STRATEGIES, default="minmax",
                         help="range strategy of model outputs and softmax inputs (default minmax)")
    command.add_argument("--weight-strategy", choices=("minmax", "mse"), default="minmax",
                         help="weight clipping (default minmax)")
    command.add_argument("--per-tensor", action="store_true", help="per-tensor weights (default per channel)")
    command.add_argument("--percentile", type=float, default=99.999, help="kept by 'percentile' (default 99.999)")
    command.add_argument("--statistics", help="use these saved statistics (.npz) instead of calibrating")
    command.add_argument("--save-statistics", help="save the calibration statistics (.npz) here")
    command.add_argument("--layers", help="per-layer control JSON (strategy, per_channel, bits by layer name)")
    command.add_argument("--save-layers", help="write the per-layer choices made as control JSON")
    command.add_argument("--target-sqnr", type=float, default=0.0, metavar="DB",
                         help="promote few layers to int16 until the output SQNR reaches DB (default 0: off)")
    command.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=True,
                         help="subtract from conv/depthwise biases the mean output shift their weight rounding "
                              "causes on the calibration set (default on)")
    command.add_argument("--report", type=int, default=10, metavar="N",
                         help="print the N worst layers' SQNR and cosine (0: none; default 10)")
    command.add_argument("--report-samples", type=int, default=32, metavar="N",
                         help="calibration samples the layer report runs (default 32)")


def _target(args: argparse.Namespace) -> str:
    """The target spec the target options name."""
    from npuc.targets import target_spec

    return target_spec(args.target, args.system_config, args.memory_mode, args.config)


BYTE_SUFFIXES = {"": 1, "K": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MIB": 1 << 20}
"""Suffixes `--arena-cache-size` accepts (case-insensitive): binary kilo- and megabytes."""


def _byte_count(text: str) -> int:
    """`--arena-cache-size`: a number of bytes, optionally with a K or M suffix (KiB, MiB)."""
    digits = text.strip().rstrip("KkMmIiBb")
    suffix = text.strip()[len(digits):].upper()
    if not digits.isdigit() or suffix not in BYTE_SUFFIXES:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of bytes (e.g. 262144, 256K, 1M)")
    return int(digits) * BYTE_SUFFIXES[suffix]


def _reports(text: str) -> list[str]:
    """`--report` as a list of formats; `NpucError` naming an unknown one."""
    from npuc.report import REPORT_FORMATS

    formats = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in formats if name not in REPORT_FORMATS]
    if unknown:
        raise NpucError(f"unknown report format '{unknown[0]}' (known: {', '.join(REPORT_FORMATS)})")
    return formats


def _drive(args: argparse.Namespace, run, samples: int | None, doing: str, **options):
    """Import the model, calibrate a float one on `samples` samples (all if None) and `run` the back end.

    Returns the result of `run(module, target, calibration, ..., **options)`, the output
    directory and the report formats.
    """
    from npuc.api import import_model, is_float_module
    from npuc.report import check_output_directory

    formats = _reports(args.report)
    output = check_output_directory(args.output or Path(args.model).stem + "_npuc")
    _progress(f"importing {args.model}")
    module = import_model(args.model)
    calibration = None
    if is_float_module(module):
        if not args.calibration:
            raise NpucError(
                f"{args.model}: a float model needs --calibration CALIB.npy to be quantized"
            )
        from npuc.data import first_samples, load_samples, model_interface, sample_count

        calibration = first_samples(load_samples(args.calibration, model_interface(module)), samples)
        _progress(f"quantizing (calibration: {sample_count(calibration[0])} sample(s))")
    target = _target(args)
    _progress(f"{doing} for {target}")
    try:
        result = run(module, target, calibration, arena_cache_size=args.arena_cache_size, optimise=args.optimise,
                     **options)
    except ArenaBudgetError as error:
        raise error.with_source(args.model) from None
    result.source = args.model
    return result, output, formats


def _finish(document, written: list[Path]) -> None:
    """Print the summary of the report `document` and the files written."""
    from npuc.report.tables import summary_text

    print(summary_text(document), end="")
    print(f"wrote {', '.join(str(path) for path in written)}")


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that size the thread pool of numpy's BLAS."""


def _one_blas_thread() -> None:
    """Start numpy's BLAS with one thread unless the environment says otherwise (`BLAS_THREAD_VARIABLES`).

    OpenBLAS starts a thread per core when numpy loads: 60 to 130 ms of a
    `npuc analyze` of 0.7 s on two busy cores, for a compile that multiplies
    no large matrices (a float model calibrates on one sample; the reports
    are the same bytes either way). Without effect once numpy is loaded.
    """
    if "numpy" not in sys.modules and not any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


def cmd_compile(args: argparse.Namespace) -> None:
    """Compile a model to a command stream and reports in a directory."""
    _one_blas_thread()
    from npuc.api import compile_model
    from npuc.report import write_reports

    result, output, formats = _drive(args, compile_model, None, "compiling")
    document = result.report()  # once, for the files and the summary
    _finish(document, result.write_binaries(output) + write_reports(document, output, formats))
    if result.segments > 1:
        print(f"command_stream.bin: the Ethos-U payload of the first of {result.segments} NPU segments "
              "(CPU operations run between them)")


def cmd_analyze(args: argparse.Namespace) -> None:
    """Estimate a model's performance and write the reports (no binary)."""
    _one_blas_thread()
    from npuc.api import analyze_model

    # The estimate depends on shapes and placement, not on quantization
    # scales: one calibration sample is enough and keeps analysis fast.
    result, output, formats = _drive(args, analyze_model, 1, "analyzing", compare_size=True,
                                     channel_advice=args.channel_advice)
    from npuc.report import write_reports

    document = result.report()  # once, for the files and the summary
    _finish(document, write_reports(document, output, formats))


def _byte_counts(text: str) -> list[int | None]:
    """`npuc sweep --arena-cache-size`: comma-separated `_byte_count`s; `unlimited` (None) leaves the memory
    mode's own budget."""
    return [None if part.strip().lower() == "unlimited" else _byte_count(part) for part in _names(text)]


def _names(text: str) -> list[str]:
    """A comma-separated list of names; `argparse.ArgumentTypeError` if it names none."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"'{text}' names nothing (expected a comma-separated list)")
    return names


def _goals(text: str) -> list[str]:
    """`npuc sweep --optimise`: comma-separated schedule goals, any case, as Vela writes them (`Performance`, `Size`)."""
    from npuc.backend.budget import optimise_goal

    try:
        return [optimise_goal(goal).capitalize() for goal in _names(text)]
    except NpucError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _milliseconds(text: str) -> float:
    """`--latency-ms`: a positive number of milliseconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of milliseconds")
    return value


def _jobs(text: str) -> int:
    """`-j`: a positive number of worker processes."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of processes")
    return int(text)


def cmd_sweep(args: argparse.Namespace) -> None:
    """Analyze every combination of models, targets, budgets and goals; write sweep.csv, .json and .html."""
    from npuc.dse.cache import PointCache
    from npuc.dse.executor import run_sweep
    from npuc.dse.grid import expand_grid
    from npuc.dse.point import OK
    from npuc.dse.table import summary_lines, sweep_document, write_sweep
    from npuc.report import check_output_directory

    output = check_output_directory(args.output)
    points = expand_grid(args.model, args.targets, args.arena_cache_size, args.optimise,
                         args.system_config, args.memory_mode, args.config, args.variants)
    cache = PointCache(None if args.no_cache else args.cache or output / "cache")
    run = run_sweep(points, args.calibration or (), cache=cache, jobs=args.jobs, executor=args.executor,
                    scheduler=args.scheduler)
    document = sweep_document(run.rows, args.latency_ms)
    written = write_sweep(document, output)
    compiled = sum(row["status"] == OK for row in run.rows)
    rate = f" ({len(points) / run.seconds:.1f} points/s)" if run.seconds > 0 else ""
    print(f"{len(points)} points: {compiled} compiled, {len(points) - compiled} did not; "
          f"{run.cached} from the cache, {run.analyzed} analyzed; {run.seconds:.1f} s{rate}")
    for line in summary_lines(document):
        print(line)
    print(f"wrote {', '.join(str(path) for path in written)}")


def _add_sweep_options(command: argparse.ArgumentParser) -> None:
    """The options of `npuc sweep`: the grid (lists), the target's Vela parts, where and how it runs."""
    command.add_argument("model", nargs="+", help="ONNX or TFLite models, or graph/quantized IR files")
    command.add_argument("--targets", type=_names, default=["ethos-u55-128"], metavar="LIST",
                         help="comma-separated accelerator or target names (default: ethos-u55-128)")
    command.add_argument("--arena-cache-size", type=_byte_counts, default=[None], metavar="LIST",
                         help="comma-separated memory budgets: bytes, with a K or M suffix (KiB, MiB), or "
                              "'unlimited' (the memory mode's own) (default: unlimited)")
    command.add_argument("--optimise", type=_goals, default=["Performance"], metavar="LIST",
                         help="comma-separated schedule goals: Performance, Size (default: Performance)")
    command.add_argument("--config", help="Vela configuration file (.ini) holding the system config and memory mode")
    command.add_argument("--system-config", help="Vela system configuration (default: each accelerator's)")
    command.add_argument("--memory-mode", help="Vela memory mode (default: each accelerator's)")
    command.add_argument("--calibration", action="append", metavar="CALIB",
                         help="calibration samples of a float model: once for all of them, or once per ONNX/IR "
                              "model in their order")
    command.add_argument("--variants", type=_names, default=[], metavar="LIST",
                         help="model variants measured at every point: 'channels' (each layer whose output "
                              "channel count is off the feature-map brick, rounded down and up to it; "
                              "channels.csv and the page's what-if table)")
    command.add_argument("--latency-ms", type=_milliseconds, metavar="MS",
                         help="latency target: the HTML page and the summary show each model's cheapest "
                              "configuration within it")
    command.add_argument("-j", "--jobs", type=_jobs, default=os.cpu_count() or 1, metavar="N",
                         help="local worker processes (default: the number of cores)")
    command.add_argument("--executor", choices=("local", "dask"), default="local",
                         help="where points run: local processes, or a Dask cluster (needs npuc[dask])")
    command.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler's address (--executor dask)")
    command.add_argument("--cache", metavar="DIR", help="cache of finished points (default: OUTPUT/cache)")
    command.add_argument("--no-cache", action="store_true", help="analyze every point; read and write no cache")
    command.add_argument("-o", "--output", default="sweep_npuc", help="output directory (default: sweep_npuc)")


def _add_target_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--target", default="ethos-u55-128",
                         help="accelerator or target name, or a target .toml file (default: ethos-u55-128)")
    command.add_argument("--config", help="Vela configuration file (.ini) holding the system config and memory mode")
    command.add_argument("--system-config", help="Vela system configuration (default: the accelerator's)")
    command.add_argument("--memory-mode", help="Vela memory mode (default: the accelerator's)")
    command.add_argument("--arena-cache-size", type=_byte_count, metavar="BYTES",
                         help="memory budget, overriding the memory mode's arena_cache_size: the SRAM of "
                              "arena and cache (Shared_Sram, Sram_Only), the cache (Dedicated_Sram); "
                              "bytes, or with a K or M suffix (KiB, MiB)")
    command.add_argument("--optimise", default="Performance", choices=("Performance", "Size"),
                         help="Performance: the fastest schedule that fits the budget; Size: the smallest "
                              "arena (default: Performance)")
    command.add_argument("--calibration", help="calibration samples for float models")
    command.add_argument("--report", default="text,csv,json,html,trace",
                         help="reports to write: comma-separated text, csv, json, html, trace (default: all)")
    command.add_argument("-o", "--output", help="output directory (default: MODEL_npuc)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `npuc` and its subcommands."""
    parser = OneLineArgumentParser(prog="npuc", description="npuc: an open neural-network compiler for NPUs")
    parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)
    # Accepted after the subcommand too; SUPPRESS keeps a subcommand from resetting it to False.
    debug = OneLineArgumentParser(add_help=False)
    debug.add_argument(DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("import", parents=[debug], help="import a model and print its graph IR")
    command.add_argument("model", help="ONNX (.onnx) or TFLite (.tflite) model, or IR file (.mlir)")
    command.add_argument("-o", "--output", help="write the IR to this file")
    command.set_defaults(handler=cmd_import)

    command = commands.add_parser(
        "run", parents=[debug], help="run a model or IR with the reference interpreter (ethos-u operators in the Ethos-U simulator)"
    )
    command.add_argument("model", help="ONNX or TFLite model (with ethos-u operators too), or graph/quantized/npu IR")
    command.add_argument("--input", required=True, help=".npy (one input) or .npz (by name)")
    command.add_argument("-o", "--output", help="write outputs to this .npy/.npz")
    command.set_defaults(handler=cmd_run)

    command = commands.add_parser("disasm", parents=[debug], help="print the Ethos-U register command streams, one command a line")
    command.add_argument("file", help=".tflite with ethos-u operators, or a raw COP1 driver payload")
    command.set_defaults(handler=cmd_disasm)

    command = commands.add_parser("quantize", parents=[debug], help="quantize a float model (post-training)")
    command.add_argument("model", help="ONNX model or graph IR file")
    _add_quantize_options(command)
    command.add_argument("-o", "--output", help="write the quantized IR to this file")
    command.set_defaults(handler=cmd_quantize)

    command = commands.add_parser(
        "compile", parents=[debug], help="compile a model to an NPU command stream (Ethos-U: a deployable _npuc.tflite) and reports"
    )
    command.add_argument("model", help="ONNX or TFLite model, or graph/quantized IR file")
    _add_target_options(command)
    command.set_defaults(handler=cmd_compile)

    command = commands.add_parser("analyze", parents=[debug], help="estimate a model's performance and write the reports")
    command.add_argument("model", help="ONNX or TFLite model, or graph/quantized IR file")
    _add_target_options(command)
    command.add_argument("--channel-advice", action="store_true",
                         help="also analyze every layer whose output channel count is off the feature-map brick "
                              "with that count rounded down and up to the brick (two more analyses per layer), "
                              "for advice lines and the JSON report's channel_variants")
    command.set_defaults(handler=cmd_analyze)

    command = commands.add_parser(
        "sweep", parents=[debug], help="analyze a grid of models, targets, budgets and goals: CSV, JSON and HTML"
    )
    _add_sweep_options(command)
    command.set_defaults(handler=cmd_sweep)
    return parser


GC_THRESHOLDS = (20_000, 100, 100)
"""Python's cyclic garbage collector's generation thresholds for a command (Python's defaults: 700, 10,
10). Importing xDSL, numpy and the dialects and building IR allocate millions of objects and free few
cycles: with the defaults the collector rescans the imported objects hundreds of times, about a tenth
of `npuc analyze`'s CPU time, for no memory saved (same peak resident size on MobileNetV2)."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `npuc` console script."""
    gc.set_threshold(*GC_THRESHOLDS)
    args = build_parser().parse_args(argv)
    run_reporting_errors("npuc", lambda: args.handler(args), args.debug)


if __name__ == "__main__":
    main()
