"""The commands of layers computed in height stripes: alone, or interleaved in their cascade.

A layer with an `npu.stripe` lower than its OFM runs one command per stripe
of rows (`height_stripes`, each command built by
`npuc.backend.stripes.stripe_properties`). The layers of a cascade
(`npu.cascade`) run as one interleaved sequence of such commands, their
intermediates in rolling buffers (`cascade_commands`,
`npuc.backend.cascades`).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.ir import Attribute, Operation
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.cascades import cascade_chain, cascade_steps, rolling_rows
from npuc.backend.planning import describe, window
from npuc.backend.stripes import stripe_height, stripe_properties, stripe_ranges
from npuc.dialects import npu
from npuc.dialects.common import UNIT_WINDOW, layer_name
from npuc.dialects.npu_memory import HEIGHT_AXIS
from npuc.targets import BlockShape


def height_stripes(op: Operation, properties: dict[str, Attribute], ublock: BlockShape) -> list[dict[str, Attribute]]:
    """The properties of the command of each height stripe of `op` (`npu.stripe`), from those of its
    whole command: the whole command for a stripe as high as the OFM, else one per stripe (`ublock`, the
    target's OFM micro-block, clips each stripe's block)."""
    ofm = properties["ofm"]
    assert isinstance(ofm, npu.FeatureMapAttr)
    height = stripe_height(op, ofm)
    if height is None:
        return [properties]
    op_window = window(op) or UNIT_WINDOW
    return [
        stripe_properties(properties, op_window, rows, ublock, describe(op))
        for rows in stripe_ranges(ofm.shape_values()[HEIGHT_AXIS], height)
    ]


def cascade_commands(
    ops: Sequence[Operation],
    computes: Sequence[tuple[type[npu.ComputeOp], dict[str, Attribute]]],
    ublock: BlockShape,
    pass_name: str,
) -> list[Operation]:
    """The interleaved commands of a cascade (`npu.cascade`), from the whole command of each of its `ops`
    (`computes`), its intermediates in rolling buffers of the rows `npu.rolling_rows` gives; fails
    naming the op whose buffer is too small."""
    chain = cascade_chain(ops, pass_name)
    steps = cascade_steps(chain.links)
    needed = rolling_rows(chain.links, steps)
    for op, buffer_rows, rows in zip(ops, chain.held, needed):
        if buffer_rows < rows:
            raise PassFailedException(
                f"{pass_name}: the rolling buffer of {describe(op)} holds {buffer_rows} rows, its cascade needs "
                f"{rows}: run npu-schedule again"
            )
    commands: list[Operation] = []
    for step in steps:
        op, (op_type, properties) = ops[step.link], computes[step.link]
        held = {"ofm": chain.held[step.link]} if step.link < len(ops) - 1 else {}
        if step.link:
            held[chain.operands[step.link]] = chain.held[step.link - 1]
        command = stripe_properties(properties, chain.links[step.link].window, step.rows, ublock, describe(op), held)
        commands.append(npu.build_command(op_type, command, layer_name(op)))
    return commands
