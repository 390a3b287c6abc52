"""`npuc-opt`: the mlir-opt style driver over npuc's dialects and passes.

It is xDSL's opt main with every registered universe (npuc's included) and one
more frontend per model format, so `npuc-opt model.onnx -p quantize{...}`
imports the model before running the pipeline (`.onnx` into graph IR,
`.tflite` into quantized IR).
"""

import sys
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.xdsl_opt_main import xDSLOptMain

from npuc.errors import NpucError
from npuc.tools.npuc_main import stop_on_broken_pipe


class NpucOptMain(xDSLOptMain):
    """xDSL's opt driver with model files accepted as input."""

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

        self.available_frontends["onnx"] = import_onnx
        self.available_frontends["tflite"] = import_tflite


def main() -> None:
    """Entry point of the `npuc-opt` console script."""
    try:
        NpucOptMain(description="npuc modular optimizer driver").run()
    except NpucError as error:
        print(f"npuc-opt: error: {error}", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:
        stop_on_broken_pipe()


if __name__ == "__main__":
    main()
