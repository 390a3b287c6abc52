"""The `quantize` pass: post-training quantization of graph IR to quantized IR."""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.errors import NpucError


@dataclass(frozen=True)
class QuantizePass(ModulePass):
    """Quantize the float `graph` ops of @main into TFLite-style int8 `quantized` ops.

    Calibration runs @main in float over the samples of `calibration` and
    records each tensor's min/max. Then (see `npuc.quantization`):
    activations become asymmetric int8 per tensor (range widened to include 0,
    scale = (max - min) / 255, zero point = round(-128 - min / scale)),
    weights symmetric int8 per output channel (scale_c = max|w_c| / 127),
    biases int32 at scale ifm_scale * weight_scale_c. Pooling, reshape and
    transpose keep their input's parameters, add gets its own, fused
    activations stay properties, standalone relu/clip become
    `quantized.clamp`. The float interface is kept: f32 arguments are
    followed by `quantized.quantize`, f32 results preceded by
    `quantized.dequantize`, and the function type stays f32. `layer`
    attributes and argument/result attributes are preserved.

    Options:
    - `calibration` (default "", required): path of a `.npy` or `.npz` file of
      samples for @main, in the model's interface layout (conventions in
      `npuc.data`). xDSL's pipeline syntax only takes bare words of
      `[A-Za-z0-9_-]` unquoted, so a path is written as a double-quoted
      string: `-p 'quantize{calibration="calib/samples.npy"}'` (backslash
      escapes `\\"` and `\\\\` as in MLIR strings).
    - `activation_bits` (default 8): only 8 is supported.

    Assumes @main holds only graph ops (plus constants) whose weights and
    biases are `graph.constant`s; activations should already be fused
    (`graph-fuse-activation`) so that fused ops do not need a clamp.
    """

    name = "quantize"

    calibration: str = ""
    activation_bits: int = 8

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not self.calibration:
            raise PassFailedException(
                'quantize needs calibration data: quantize{calibration="FILE.npy"}'
            )
        if self.activation_bits != 8:
            raise PassFailedException(
                f"quantize supports only activation_bits=8, got {self.activation_bits}"
            )
        quantize_with_file(op, self.calibration, self.activation_bits)


def quantize_with_file(module: ModuleOp, path: str, activation_bits: int) -> None:
    """Load calibration samples from `path` for @main and quantize `module`.

    npuc's errors (bad data, unsupported ops) become `PassFailedException`s
    carrying the same one-line message.
    """
    from npuc.data import load_samples, model_interface
    from npuc.quantization import quantize_module

    try:
        samples = load_samples(path, model_interface(module))
        quantize_module(module, samples, activation_bits)
    except NpucError as error:
        raise PassFailedException(str(error)) from error
