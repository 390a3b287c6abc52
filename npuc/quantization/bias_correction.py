"""Bias correction: the mean output shift that rounding a conv's weights causes, taken out through its bias.

Rounding the weights W of a convolution to Ŵ changes output channel c by
`sum (Ŵ - W)_c . x` over its taps and input channels: noise that a
following layer mostly averages away, plus a mean `sum (Ŵ - W)_c E[x]`
that it does not. A global pool (a classifier's mean over H and W) keeps
exactly that mean and drops the rest, so there the weight rounding's mean
is most of the output's error. Subtracting the expected shift from the float
bias before the bias is quantized removes it (Nagel et al. 2019, "Data-Free
Quantization Through Weight Equalization and Bias Correction", section 4.2,
with `E[x]` per input channel measured by calibration instead of derived
from batch-norm statistics). The correction changes only bias values: the
quantized model keeps its ops and stays TFLite-exact.

Convolutions and depthwise convolutions are corrected. Zero padding is
ignored (the border positions of a padded convolution read fewer inputs:
the estimate is their interior's). Fully connected layers are not: their
mean comes from one input row per sample (per token for a transformer's
projections), a few dozen observations where a conv has thousands, and on
npuc's benches correcting them lost SQNR on held-out inputs (an MLP
autoencoder's dense layers) and on a small ViT's projections, whose error
passes attention and GELU (docs/quantization.md). Transposed convolutions
are not either: their output positions read varying numbers of taps.
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import Operation

from npuc.dialects import graph


def weight_error_mean(op: Operation, weights: np.ndarray, restored: np.ndarray, input_mean: np.ndarray) -> np.ndarray | None:
    """Per output channel, the mean change of `op`'s output when `weights` become `restored` (the
    dequantized int8 weights), for inputs with per-channel mean `input_mean`; None for an op not corrected.

    Conv weights are OHWI (grouped: output channel c reads the input group
    `c // (O / groups)`), depthwise weights 1 x KH x KW x (C * multiplier)
    (output channel c reads input channel `c // multiplier`).
    """
    if not isinstance(op, graph.Conv2dOp | graph.DepthwiseConv2dOp):
        return None
    error = (restored.astype(np.float64) - weights.astype(np.float64)).sum(axis=(1, 2))
    mean = input_mean.astype(np.float64)
    if isinstance(op, graph.DepthwiseConv2dOp):
        multiplier = weights.shape[3] // mean.shape[0]
        return error[0] * mean[np.arange(weights.shape[3]) // multiplier]
    outputs, group_inputs = weights.shape[0], weights.shape[3]
    groups = mean.shape[0] // group_inputs
    read = mean.reshape(groups, group_inputs)[np.arange(outputs) // (outputs // groups)]
    return (error * read).sum(axis=1)
