"""`npuc-opt`: the mlir-opt style driver over npuc's dialects and passes.

It is xDSL's opt main with every registered universe (npuc's included) and one
more frontend per model format, so `npuc-opt model.onnx -p quantize{...}`
imports the model before running the pipeline (`.onnx` into graph IR,
`.tflite` into quantized IR).

Every failure ends in one line, `npuc-opt: error: ...` (`npuc.tools.boundary`):
a file that cannot be read or written, a pipeline naming an unknown pass or a
bad option, IR that does not parse or verify, a pass that rejects the module.
`--verify-diagnostics` and `--parsing-diagnostics` keep xDSL's behaviour
(print the diagnostic, exit 0) for FileCheck tests.
"""

import argparse
import sys
from functools import partial
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import DiagnosticException, ParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from npuc.api import PIPELINE_SPEC_ERRORS, bad_pipeline
from npuc.errors import ModelFormatError, NpucError, PipelineError, writing
from npuc.tools.boundary import (
    DEBUG_FLAG,
    DEBUG_HELP,
    run_reporting_errors,
    usage_error,
)


class NpucOptMain(xDSLOptMain):
    """xDSL's opt driver with model files accepted as input and failures as `NpucError`s."""

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)
        # xDSL makes the parser: its usage errors become one line here, like every other failure.
        arg_parser.error = partial(usage_error, arg_parser)  # type: ignore[method-assign]

    def register_all_frontends(self) -> None:
        super().register_all_frontends()

        def import_onnx(stream: IO[bytes]) -> ModuleOp:
            from npuc.importers.onnx.importer import import_onnx, import_onnx_bytes

            # A file is read by path so weights in external data files are found.
            if self.args.input_file is not None:
                return import_onnx(self.args.input_file)
            return import_onnx_bytes(stream.read(), self.get_input_name())

        def import_tflite(stream: IO[bytes]) -> ModuleOp:
            from npuc.importers.tflite.importer import import_tflite_bytes

            return import_tflite_bytes(stream.read(), self.get_input_name())

        from npuc.importers.mlir import checked_frontend

        # Text IR is scanned first for what would hang or exhaust xDSL's parser (npuc.importers.mlir).
        self.available_frontends["mlir"] = checked_frontend(self.available_frontends["mlir"], self.get_input_name)
        self.available_frontends["onnx"] = import_onnx
        self.available_frontends["tflite"] = import_tflite

    def setup_pipeline(self) -> None:
        try:
            super().setup_pipeline()
        except PIPELINE_SPEC_ERRORS as error:
            raise bad_pipeline(self.args.passes, error) from None

    def get_input_stream(self) -> tuple[IO[bytes], str]:
        try:
            return super().get_input_stream()
        except OSError as error:
            raise ModelFormatError(f"{self.args.input_file}: cannot read: {error.strerror or error}") from None

    def prepare_input(self) -> tuple[list[tuple[IO[bytes], int]], str]:
        try:
            return super().prepare_input()
        except ValueError as error:  # xDSL's "Unrecognized file extension"
            known = ", ".join(f".{extension}" for extension in self.available_frontends)
            raise ModelFormatError(f"{self.get_input_name()}: {error} (known: {known})") from None

    def prepare_output(self) -> IO[str]:
        with writing(self.args.output_file, "the output"):
            return super().prepare_output()


def bad_input(error: Exception) -> NpucError | None:
    """xDSL's exceptions that stand for bad input, as the `NpucError` the boundary prints; None for others.

    A parse error becomes `FILE:LINE:COL: message`; a verifier or pass
    failure its first line (or the `NpucError` a pass raised inside it).
    """
    if isinstance(error, ParseError):
        return ModelFormatError(f"{error.span.get_location()}: {error.msg}")
    if isinstance(error, DiagnosticException):
        if isinstance(error.__cause__, NpucError):
            return error.__cause__
        lines = str(error).strip().splitlines()
        return PipelineError(lines[0] if lines else type(error).__name__)
    return None


def main() -> None:
    """Entry point of the `npuc-opt` console script."""
    run_reporting_errors(
        "npuc-opt",
        lambda: NpucOptMain(description="npuc modular optimizer driver").run(),
        DEBUG_FLAG in sys.argv[1:],
        bad_input,
    )


if __name__ == "__main__":
    main()
