"""The `quantize` pass: post-training quantization of graph IR to quantized IR."""

from dataclasses import asdict, dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.errors import NpucError
from npuc.quantization.options import QuantizationOptions


@dataclass(frozen=True)
class QuantizePass(ModulePass, QuantizationOptions):
    """Quantize the float `graph` ops of @main into TFLite-style `quantized` ops.

    Calibration runs @main in float over the samples of `calibration` and
    records each tensor's statistics; each range is then chosen by the
    strategy options (see `npuc.quantization.quantizer` and `npuc.quantization.calibration`):
    activations become asymmetric int8 per tensor (range widened to include 0,
    scale = (max - min) / 255, zero point = round(-128 - min / scale)) or,
    with `activation_bits=16`, symmetric int16 (TFLite's 16x8, int64 bias);
    weights symmetric int8 per output channel (scale_c = max|w_c| / 127),
    biases int32 at scale ifm_scale * weight_scale_c. Pooling, reshape and
    transpose keep their input's parameters, add gets its own, sigmoid, tanh
    and softmax TFLite's fixed output scales, fused activations stay
    properties, standalone relu/clip become `quantized.clamp`. The float
    interface is kept: f32 arguments are followed by `quantized.quantize`,
    f32 results preceded by `quantized.dequantize`, and the function type
    stays f32. `layer` attributes and argument/result attributes are preserved.

    Options (paths are double-quoted strings: `-p 'quantize{calibration="c.npy"}'`,
    since xDSL's pipeline syntax only takes bare words of `[A-Za-z0-9_-]`):
    - `calibration` (default "", required unless `statistics` is given with a
      non-`auto` strategy): a `.npy` or `.npz` file of samples for @main, in
      the model's interface layout (conventions in `npuc.data`).
    - `activation_bits` (default 8): 8 or 16.
    - `precision` (default "mixed"): `mixed` quantizes a classifier head and
      layer norms 16x8 (`npuc.quantization.policy`, docs/quantization.md),
      the rest at `activation_bits`; `uniform` every layer at `activation_bits`.
    - `activation_strategy` (default "mse"): minmax, moving_average,
      percentile, entropy, mse or auto (best output SQNR of the others).
    - `output_strategy` (default "minmax"): for model outputs and softmax inputs.
    - `weight_strategy` (default "minmax"): minmax or mse.
    - `per_channel` (default true): per-channel weights, else per tensor.
    - `percentile` (default 99.999): what the percentile strategy keeps.
    - `statistics` / `save_statistics` (default ""): load / save calibration
      statistics (`.npz`).
    - `layers` / `save_layers` (default ""): per-layer control JSON to read /
      to write with the choices made (`npuc.quantization.control`): per layer
      `strategy`, `per_channel` and `bits` (8 or 16: mixed precision, with a
      `quantized.requantize` at each int8/int16 boundary).
    - `target_sqnr` (default 0: off): output SQNR (dB) on the calibration set
      to reach by promoting few layers to int16 (greedy by per-layer SQNR
      drop, re-measured after each promotion; `npuc.quantization.mixed`).
    - `bias_correction` (default true): subtract from each conv and
      depthwise conv bias the mean shift of its output that rounding its
      weights causes on the calibrated input (`npuc.quantization.bias_correction`).

    Assumes @main holds only graph ops (plus constants) whose weights and
    biases are `graph.constant`s; activations should already be fused
    (`graph-fuse-activation`) so that fused ops do not need a clamp.
    """

    name = "quantize"

    calibration: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not self.calibration and not self.statistics:
            raise PassFailedException(
                'quantize needs calibration data: quantize{calibration="FILE.npy"}'
            )
        settings = asdict(self)
        del settings["calibration"]
        quantize_with_file(op, self.calibration, QuantizationOptions(**settings))


def quantize_with_file(module: ModuleOp, path: str, options) -> None:
    """Load calibration samples from `path` (if any) for @main and quantize `module`.

    npuc's errors (bad data, bad options, unsupported ops) become
    `PassFailedException`s carrying the same one-line message.
    """
    from npuc.data import load_samples, model_interface
    from npuc.quantization.driver import quantize_module

    try:
        options.check()
        samples = load_samples(path, model_interface(module)) if path else []
        quantize_module(module, samples, options=options)
    except NpucError as error:
        raise PassFailedException(str(error)) from error
