"""The output unit's TANH and SIGMOID functions for 16-bit results, as TFLite defines int16 tanh and logistic.

The operation's OFM scaling has already brought the input to TFLite's fixed
point (real value x as x * 3 * 4096, in 32 bits). Both functions interpolate
the 256-entry table of sigmoid(i / 24) in 0.16 format, TFLite's
`sigmoid_table_uint16`, between neighbours on the low bits of |x| and use
the symmetry of the function for negative x; tanh(x) is 2 sigmoid(2x) - 1,
read off the same table at twice the step:

- sigmoid: i = |x| >> 9, fraction |x| & 511, r = (t[i] << 9) + fraction *
  (t[i+1] - t[i]) (0x7FFF << 10 from i = 255 on); the result is
  (r + 2^9) >> 10 for x >= 0 and (2^25 - r + 2^9 - 1) >> 10 below.
- tanh: i = |x| >> 8, fraction |x| & 255, r = (t[i] << 8) + fraction *
  (t[i+1] - t[i]) (0xFFFF << 8 from i = 255 on); the result is
  (r - 2^23 + 2^7) >> 8 for x >= 0 and (-r + 2^23 + 2^7 - 1) >> 8 below.
"""

from __future__ import annotations

import numpy as np

SIGMOID_TABLE = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
], dtype=np.int64)
"""TFLite's sigmoid(i / 24) in 0.16 fixed point (tensorflow/lite/kernels/internal/common.h)."""


def _interpolate(magnitude: np.ndarray, step_bits: int, saturated: int) -> np.ndarray:
    index = magnitude >> step_bits
    inside = index < 255
    low = SIGMOID_TABLE[np.minimum(index, 254)]
    high = SIGMOID_TABLE[np.minimum(index, 254) + 1]
    fraction = magnitude & ((1 << step_bits) - 1)
    return np.where(inside, (low << step_bits) + fraction * (high - low), saturated)


def sigmoid(values: np.ndarray) -> np.ndarray:
    """TFLite's int16 logistic of inputs in 3 * 4096 fixed point, in Q0.15."""
    result = _interpolate(np.abs(values), 9, 0x7FFF << 10)
    return np.where(values >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1) >> 10


def tanh(values: np.ndarray) -> np.ndarray:
    """TFLite's int16 tanh of inputs in 3 * 4096 fixed point, in Q0.15."""
    result = _interpolate(np.abs(values), 8, 0xFFFF << 8)
    return np.where(values >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1) >> 8
