"""The NPU layers npu-lower expands into several commands, through the modules that plan them.

An int8 softmax (`npuc.backend.softmax`: 28 pool and elementwise commands
and an exp lut), a squared difference (`npuc.backend.squared_difference`)
and a product of two computed tensors (`npuc.backend.batch_matmul`) work in
the scratch buffer npu-schedule and npu-allocate gave the layer; a
transpose or slice is strided copies (`npuc.backend.copies`), 1x1 max pools
over the storage type's whole range. Every command gets the layer's block
clipped to its OFM; an Ethos-U scalar wider than its register becomes a
one-element IFM2 constant (`ConstantPool.register_scalars`).
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, StringAttr, i32
from xdsl.ir import Attribute, Operation
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.addresses import Addresses
from npuc.backend.batch_matmul import batch_matmul_commands
from npuc.backend.constant_pool import SCALAR_SHAPE, ConstantPool
from npuc.backend.copies import copy_commands, copy_plan
from npuc.backend.planning import clip_block, describe, hwc, require
from npuc.backend.softmax import MAX_DEPTH, exp_table, softmax_commands
from npuc.backend.squared_difference import squared_difference_commands
from npuc.dialects import npu, quantized
from npuc.dialects.common import (
    UNIT_WINDOW,
    array_values,
    int_array,
    layer_name,
    value_shape,
)
from npuc.targets import BlockShape


def softmax_layer(addresses: Addresses, pool: ConstantPool, op: quantized.SoftmaxOp) -> list[Operation]:
    """The commands of an int8 softmax (`npuc.backend.softmax`) and its exp lut."""
    depth = value_shape(op.input)[-1]
    if depth > MAX_DEPTH:
        raise PassFailedException(
            f"{addresses.pass_name}: {describe(op)}: rows of {depth} elements exceed the {MAX_DEPTH} whose exps "
            "the NPU sums without overflow; the target's softmax rule must send it to the CPU"
        )
    layer_block = _layer_block(op, addresses.pass_name)
    ifm_type = quantized.quant_type(op.input)
    assert ifm_type is not None
    lut = pool.table(exp_table(ifm_type.scale, op.beta.value.data))
    commands = softmax_commands(
        addresses.feature_map(op.input),
        addresses.feature_map(op.output),
        addresses.scratch(op),
        lut,
        lambda ofm: clip_block(layer_block, ofm, addresses.target.ofm_ublock),
        layer_name(op),
    )
    return [pool.register_scalars(command) for command in commands]


def squared_difference_layer(
    addresses: Addresses, pool: ConstantPool, op: quantized.SquaredDifferenceOp
) -> list[Operation]:
    """The integer commands of an int8 squared difference (`npuc.backend.squared_difference`) in
    its scratch; inputs of lower rank are described with leading 1s (numpy broadcasting)."""
    layer_block = _layer_block(op, addresses.pass_name)
    rank = max(len(value_shape(op.results[0])), len(SCALAR_SHAPE))  # as wide scalars are described
    commands = squared_difference_commands(
        addresses.ranked_feature_map(op.operands[0], rank),
        addresses.ranked_feature_map(op.operands[1], rank),
        addresses.ranked_feature_map(op.results[0], rank),
        addresses.scratch(op),
        lambda fm: clip_block(layer_block, hwc(fm.shape_values()), addresses.target.ofm_ublock),
        layer_name(op),
    )
    return [pool.register_scalars(command) for command in commands]


def batch_matmul_layer(addresses: Addresses, pool: ConstantPool, op: quantized.BatchMatMulOp) -> list[Operation]:
    """The commands of an int8 product of two computed tensors (`npuc.backend.batch_matmul`) in its
    scratch."""
    layer_block = _layer_block(op, addresses.pass_name)
    layer = layer_name(op)
    ublock = addresses.target.ofm_ublock
    commands = batch_matmul_commands(
        addresses.feature_map(op.lhs),
        addresses.feature_map(op.rhs),
        addresses.feature_map(op.results[0]),
        addresses.scratch(op),
        lambda ifm, ofm: _copy_command(ifm, ofm, layer_block, layer, ublock),
        lambda fm: clip_block(layer_block, hwc(fm.shape_values()), ublock),
        layer,
    )
    return [pool.register_scalars(command) for command in commands]


def copy_layer(addresses: Addresses, op: Operation) -> list[Operation]:
    """The strided copies of a transpose or slice (`npuc.backend.copies`): 1x1 max pools over
    the storage type's whole range, each with the layer's block clipped to its OFM."""
    layer_block = _layer_block(op, addresses.pass_name)
    source, dest = addresses.feature_map(op.operands[0]), addresses.feature_map(op.results[0])
    return [
        _copy_command(ifm, ofm, layer_block, layer_name(op), addresses.target.ofm_ublock)
        for ifm, ofm in copy_commands(copy_plan(op, source, dest), source, dest)
    ]


def _copy_command(
    ifm: npu.FeatureMapAttr, ofm: npu.FeatureMapAttr, layer_block: BlockShape, layer: str, ublock: BlockShape
) -> Operation:
    """One strided copy: a 1x1 max pool over the storage type's whole range, with `layer_block`
    clipped to its OFM (in multiples of the target's OFM micro-block `ublock`)."""
    qtype = ofm.element_type
    properties: dict[str, Attribute] = {
        "kind": StringAttr("max"),
        "ifm": ifm,
        "ofm": ofm,
        "kernel": int_array(UNIT_WINDOW.kernel),
        "strides": int_array(UNIT_WINDOW.strides),
        "padding": int_array(UNIT_WINDOW.padding),
        "act_min": IntegerAttr(qtype.qmin, i32),
        "act_max": IntegerAttr(qtype.qmax, i32),
        "block": npu.block_attr(clip_block(layer_block, hwc(ofm.shape_values()), ublock)),
    }
    return npu.build_command(npu.PoolOp, properties, layer)


def _layer_block(op: Operation, pass_name: str) -> BlockShape:
    """The block npu-tile chose for `op` (`npu.block`), which each of its commands clips to its OFM."""
    block = require(op, npu.BLOCK_ATTR, "npu-tile", pass_name)
    assert isinstance(block, DenseArrayBase), f"{npu.BLOCK_ATTR} is set by npu-tile as an array"
    return BlockShape(*array_values(block))
