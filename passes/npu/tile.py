"""npu-tile: choose the OFM block and stripe of every NPU operation."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.blocks import choose_block as search_block
from npuc.backend.operators import STRIPED_OPS
from npuc.backend.planning import (
    clip_block,
    computes_on_npu,
    describe,
    layer_command_shape,
    layer_ops,
    main_or_fail,
    require,
    target_or_fail,
    tensor_hwc,
)
from npuc.cost.compute import CommandShape
from npuc.dialects.common import value_shape
from npuc.dialects.npu import BLOCK_ATTR, PLACEMENT_ATTR, STRIPE_ATTR, block_attr
from npuc.targets import BlockShape, Target


@dataclass(frozen=True)
class TilePass(ModulePass):
    """Set `npu.block` and `npu.stripe` on every NPU op that writes an OFM.

    The block is the one Vela's (Regor's) block search picks
    (`npuc.backend.blocks.choose_block`): among the micro-block multiples up to
    the target's `ofm_block_max` whose double-buffered IFM block and
    accumulators fit the shared buffer, the one fetching the fewest IFM and
    weight elements per OFM element. Following Vela's choice makes npuc
    compute in the blocks Vela's estimates assume. A block is clipped to
    the OFM: no extent exceeds the OFM's, rounded up to the OFM micro-block.
    The stripe is the whole OFM, or with `max-stripe-height` N, height
    stripes of at most N rows on every op of `STRIPED_OPS` with an NHWC
    OFM; npu-lower gives each stripe its own command, reading only the
    IFM rows it needs (`npuc.backend.stripes`). Fully connected ofm [N, O]
    reads as 1 x N x O.

    Assumes npu-legalize has run (every layer op has `npu.placement`).
    """

    name = "npu-tile"

    target: str = "ethos-u55-128"
    """Built-in target name or path of a target TOML file."""

    max_stripe_height: int = 0
    """Rows per stripe at most; 0: every stripe is the whole OFM."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = target_or_fail(self.target, self.name)
        if self.max_stripe_height < 0:
            raise PassFailedException(f"{self.name}: max-stripe-height must be >= 0, got {self.max_stripe_height}")
        tile(main_or_fail(op, self.name), target, self.max_stripe_height)


def tile(func: FuncOp, target: Target, max_stripe_height: int = 0) -> None:
    """Annotate the NPU ops of `func` with their OFM block and stripe on `target` (see `TilePass`).

    The block search is a function of the command's shape alone, so ops of
    one shape (the per-group convolutions of a grouped convolution, repeated
    blocks of a network) share one search.
    """
    blocks: dict[CommandShape, tuple[int, int, int] | None] = {}
    for op in layer_ops(func):
        require(op, PLACEMENT_ATTR, "npu-legalize", TilePass.name)
        if computes_on_npu(op):
            op.attributes[BLOCK_ATTR] = block_attr(choose_block(op, target, blocks))
            op.attributes[STRIPE_ATTR] = block_attr(stripe(op, max_stripe_height))


def stripe(op: Operation, max_stripe_height: int) -> tuple[int, int, int]:
    """The OFM stripe of `op`: the whole OFM, or at most `max_stripe_height` rows of a striped op's NHWC OFM."""
    height, width, depth = tensor_hwc(op.results[0])
    if max_stripe_height and isinstance(op, STRIPED_OPS) and len(value_shape(op.results[0])) == 4:
        height = min(height, max_stripe_height)
    return height, width, depth


def choose_block(
    op: Operation, target: Target, searched: dict[CommandShape, tuple[int, int, int] | None]
) -> tuple[int, int, int]:
    """The block Vela's search picks for `op` on `target` (`npuc.backend.blocks`), clipped to the OFM.

    `searched` holds the searches already made on `target`, by command shape;
    a new one is added to it.
    """
    shape = layer_command_shape(op)
    if shape not in searched:
        searched[shape] = search_block(shape, target)
    block = searched[shape]
    if block is None:
        raise PassFailedException(
            f"npu-tile: no OFM block of {target.name} fits {describe(op)} in "
            f"{target.shram_usable_bytes} bytes of shared buffer"
        )
    return clip_block(BlockShape(*block), tensor_hwc(op.results[0]), target.ofm_ublock)
