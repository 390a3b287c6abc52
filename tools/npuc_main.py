"""`npuc`: the compiler driver.

    npuc import MODEL [-o OUT.mlir]
    npuc run MODEL_OR_MLIR --input X.npy [-o Y.npy]
    npuc quantize MODEL --calibration CALIB.npy [-o OUT.mlir]
    npuc compile MODEL --target NAME [-o DIR] [--calibration CALIB.npy]

Bad input of any kind ends with one line on stderr and exit status 1; the
library raises `NpucError` subclasses and this module prints their message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npuc.errors import NpucError


def _progress(message: str) -> None:
    """Progress of long steps, on a terminal only: scripts see one error line at most."""
    if sys.stderr.isatty():
        print(f"npuc: {message}", file=sys.stderr, flush=True)


def _write_ir(module, output: str | None) -> None:
    text = str(module) + "\n"
    if output:
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


def cmd_quantize(args: argparse.Namespace) -> None:
    """Quantize a float model and print (or write) the quantized IR."""
    from npuc.api import import_model, quantize
    from npuc.data import load_samples, model_interface

    module = import_model(args.model)
    samples = load_samples(args.calibration, model_interface(module))
    _progress(f"calibrating on {len(samples[0])} sample(s)")
    _write_ir(quantize(module, samples), args.output)


def cmd_compile(args: argparse.Namespace) -> None:
    """Compile a model to a command stream and reports in a directory."""
    from npuc.api import compile_model, import_model, is_float_module
    from npuc.data import load_samples, model_interface

    _progress(f"importing {args.model}")
    module = import_model(args.model)
    calibration = None
    if is_float_module(module):
        if not args.calibration:
            raise NpucError(
                f"{args.model}: a float model needs --calibration CALIB.npy to be quantized"
            )
        calibration = load_samples(args.calibration, model_interface(module))
        _progress(f"quantizing (calibration: {len(calibration[0])} sample(s))")
    _progress(f"compiling for {args.target}")
    result = compile_model(module, args.target, calibration)
    result.source = args.model
    output = Path(args.output or Path(args.model).stem + "_npuc")
    written = result.write(output)
    print(result.summary())
    print(f"wrote {', '.join(str(path) for path in written)}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `npuc` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="npuc", description="npuc: an open neural-network compiler for NPUs"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("import", help="import a model and print its graph IR")
    command.add_argument("model", help="ONNX model (.onnx) or IR file (.mlir)")
    command.add_argument("-o", "--output", help="write the IR to this file")
    command.set_defaults(handler=cmd_import)

    command = commands.add_parser("run", help="run a model or IR with the reference interpreter")
    command.add_argument("model", help="ONNX model or graph/quantized IR file")
    command.add_argument("--input", required=True, help=".npy (one input) or .npz (by name)")
    command.add_argument("-o", "--output", help="write outputs to this .npy/.npz")
    command.set_defaults(handler=cmd_run)

    command = commands.add_parser("quantize", help="quantize a float model (post-training)")
    command.add_argument("model", help="ONNX model or graph IR file")
    command.add_argument("--calibration", required=True, help="calibration samples .npy/.npz")
    command.add_argument("-o", "--output", help="write the quantized IR to this file")
    command.set_defaults(handler=cmd_quantize)

    command = commands.add_parser("compile", help="compile a model to an NPU command stream")
    command.add_argument("model", help="ONNX model or graph/quantized IR file")
    command.add_argument("--target", default="ethos-u55-128", help="target name or .toml file")
    command.add_argument("--calibration", help="calibration samples for float models")
    command.add_argument("-o", "--output", help="output directory (default: MODEL_npuc)")
    command.set_defaults(handler=cmd_compile)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `npuc` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except NpucError as error:
        print(f"npuc: error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("npuc: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
