"""Quantization parameters from float ranges and weights: TFLite's full-integer scheme.

- Activations: asymmetric int8 per tensor (or symmetric int16, zero point 0,
  scale = max(|min|, |max|) / 32767: TFLite's 16x8 scheme with int64 bias).
  The range [min, max] is widened to include 0, scale = (max - min) / 255
  (stored as a float32 value) and zero point = round(qmin - min / scale),
  clamped to [-128, 127], so that 0.0 is exactly representable (zero
  padding, ReLU).
- Weights: symmetric int8 per output channel (zero point 0, values in
  [-127, 127]), scale_c = max|w_c| / 127; an all-zero channel gets scale 1.
- Bias: int32 (int64 for 16x8), round(b / (ifm_scale * weight_scale_c)), saturated.

Pure arithmetic on numbers and arrays: the quantizer uses it, and so does the
QDQ importer, which reads a model whose parameters are already chosen.
"""

from __future__ import annotations

import numpy as np

from npuc.dialects.quantized import UniformQuantizedType, storage_of
from npuc.quantization.calibration import quantization_error
from npuc.reference import fixed_point

MIN_SCALE = 1e-9
"""Scale used for a range of zero width (or one too narrow for a normal float32 scale), which has
no natural scale. A narrow range keeps its own scale: a network whose outputs are all of the order
of 1e-12 (random weights do that) is quantized as finely as one of the order of 1."""

SMALLEST_SCALE = float(np.finfo(np.float32).tiny)
"""The smallest scale TFLite can store as a normal float32."""

WEIGHT_QMAX = 127
"""Symmetric int8 weights use [-127, 127] (TFLite's narrow range)."""


def activation_params(minimum: float, maximum: float, bits: int = 8) -> tuple[float, int]:
    """(scale, zero point) of `bits`-bit quantization of [min, max].

    8 bits: asymmetric; the range is nudged to include 0 so that 0.0
    quantizes exactly. 16 bits: symmetric (zero point 0) over max(|min|, |max|),
    as TFLite's 16x8 kernels require. The scale is rounded to float32 as
    TFLite stores it.
    """
    if not (np.isfinite(minimum) and np.isfinite(maximum)):
        raise ValueError(f"range [{minimum}, {maximum}] is not finite")
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if bits == 16:
        peak = max(abs(minimum), abs(maximum))
        return _scale(peak / qmax), 0
    low, high = min(minimum, 0.0), max(maximum, 0.0)
    scale = _scale((high - low) / (qmax - qmin))
    zero_point = int(fixed_point.round_half_away_from_zero(qmin - low / scale))
    return scale, int(np.clip(zero_point, qmin, qmax))


def _scale(natural: float) -> float:
    """`natural` as a float32 scale, or `MIN_SCALE` where it is too small to be one."""
    return float(np.float32(natural)) if natural >= SMALLEST_SCALE else MIN_SCALE


def activation_type(minimum: float, maximum: float, bits: int = 8) -> UniformQuantizedType:
    """The per-tensor quantized element type of a calibrated activation range."""
    scale, zero_point = activation_params(minimum, maximum, bits)
    return UniformQuantizedType(storage_of(bits), [scale], [zero_point])


def _channel_peaks(weights: np.ndarray, axis: int | None) -> np.ndarray:
    if axis is None:
        return np.array([np.max(np.abs(weights))], dtype=np.float64)
    reduce_axes = tuple(a for a in range(weights.ndim) if a != axis)
    return np.max(np.abs(weights), axis=reduce_axes).astype(np.float64)


def _mse_peaks(weights: np.ndarray, axis: int | None, peaks: np.ndarray) -> np.ndarray:
    """Per channel, the clipping of max|w| minimising the squared rounding+clipping error."""
    channels = weights.reshape(1, -1) if axis is None else np.moveaxis(weights, axis, 0)
    flat = channels.reshape(len(peaks), -1).astype(np.float64)
    factors = np.linspace(0.5, 1.0, 51)
    best = peaks.copy()
    for index, (row, peak) in enumerate(zip(flat, peaks)):
        if peak > 0:
            errors = quantization_error(
                row, np.ones_like(row), -peak * factors, peak * factors, 2 * WEIGHT_QMAX + 1
            )
            best[index] = peak * factors[int(np.argmin(errors))]
    return best


def weight_scales(
    weights: np.ndarray, axis: int | None, strategy: str = "minmax"
) -> np.ndarray:
    """Symmetric scales (float32) per channel along `axis` (one if None): peak / 127.

    The peak is max|w_c| (`minmax`) or its squared-error-optimal clipping (`mse`).
    """
    peaks = _channel_peaks(weights, axis)
    if strategy == "mse":
        peaks = _mse_peaks(weights, axis, peaks)
    scales = np.where(peaks > 0, peaks / WEIGHT_QMAX, 1.0)
    return scales.astype(np.float32)


def quantize_weights(
    weights: np.ndarray, axis: int, per_channel: bool = True, strategy: str = "minmax"
) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights, float32 scales) of symmetric per-channel (or per-tensor) quantization."""
    scales = weight_scales(weights, axis if per_channel else None, strategy)
    stored = fixed_point.quantize(
        weights, scales if per_channel else scales[0], 0, -WEIGHT_QMAX, WEIGHT_QMAX,
        axis=axis if per_channel else None,
    )  # fmt: skip
    return stored, scales


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of `test` against `reference`, in dB.

    Infinite when they are equal; the usual figure of merit of a quantized
    model against its float original (25 dB and above is a good int8 model).
    """
    reference = np.asarray(reference, dtype=np.float64)
    noise = float(np.sum((reference - np.asarray(test, dtype=np.float64)) ** 2))
    signal = float(np.sum(reference**2))
    if noise == 0.0:
        return float("inf")
    return 10.0 * float(np.log10(signal / noise)) if signal > 0 else float("-inf")


def quantize_bias(
    bias: np.ndarray, ifm_scale: float, scales: np.ndarray, bits: int = 8
) -> np.ndarray:
    """Bias at the implied scale ifm_scale * weight_scale_c, saturated.

    int32 for 8-bit activations, int64 for 16-bit ones (TFLite's 16x8).
    """
    bias_scales = float(ifm_scale) * scales.astype(np.float64)
    rounded = fixed_point.round_half_away_from_zero(bias.astype(np.float64) / bias_scales)
    if bits == 16:
        return np.clip(rounded, -(2.0**62), 2.0**62).astype(np.int64)
    return np.clip(rounded, fixed_point.INT32_MIN, fixed_point.INT32_MAX).astype(np.int32)
