"""quantized-canonicalize: normal forms of quantized ops that change no result."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from npuc.backend.planning import tensor_hwc, window
from npuc.dialects.common import int_array
from npuc.dialects.window_layers import Conv2dBase, Pool2dBase


@dataclass(frozen=True)
class QuantizedCanonicalizePass(ModulePass):
    """Give each quantized window the smallest stride that keeps its ofm, on axes with one window position.

    Along an axis where the ofm extent is 1 the window sits only at the
    start, so the stride is never applied: TFLite exports a global average
    pool as a pool whose stride equals its kernel (8x8 stride 8 over 8x8,
    24x5 stride 24 over 25x5), which a target limiting strides would
    otherwise send to the CPU. The new stride is `padded extent - dilated
    kernel + 1` (1 when the kernel covers the whole padded input), the
    smallest that still gives one position; the ofm shape and every value
    are unchanged (bit-exact by construction). Works on convolutions and
    pools of the `quantized` dialect anywhere in the module.
    """

    name = "quantized-canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for inner in op.walk():
            canonicalize_window(inner)


def canonicalize_window(op: Operation) -> None:
    """Lower the stride of `op` along each axis with one window position (see the pass)."""
    if not op.name.startswith("quantized.") or not isinstance(op, (Conv2dBase, Pool2dBase)):
        return
    op_window = window(op)
    assert op_window is not None
    height, width, _ = tensor_hwc(op.operands[0])
    top, left, bottom, right = op_window.padding
    padded = (height + top + bottom, width + left + right)
    strides = tuple(
        min(stride, extent - kernel + 1) if extent - kernel < stride else stride
        for kernel, extent, stride in zip(op_window.dilated_kernel, padded, op_window.strides)
    )
    if strides != op_window.strides:
        op.properties["strides"] = int_array(strides)
