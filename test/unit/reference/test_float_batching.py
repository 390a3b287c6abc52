"""The batch convention of the float reference: N samples along the leading axis.

Ops that act on the IR's axis 0, or broadcast a constant across it, must give
for a batch of N exactly what N separate runs give; what cannot run batched
stops with an error instead of a wrong result.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

from npuc.dialects import graph
from npuc.errors import InputDataError, ModelVerificationError
from npuc.ir import main_function
from npuc.reference.graph_interpreter import run_graph
from npuc.reference.interpreter import constant, interpret_block

from support.one_op import single_op_module, tensor

BATCH = 3

CASES = {
    # name: (make_op, IR input shape, constants)
    "concat axis 0 with a constant": (
        lambda x, c: graph.ConcatOp([x, c], tensor((3, 3, 4)), 0),
        (1, 3, 4),
        [np.ones((2, 3, 4))],
    ),
    "concat axis 1 with a constant": (
        lambda x, c: graph.ConcatOp([c, x], tensor((1, 5, 4)), 1),
        (1, 3, 4),
        [np.full((1, 2, 4), 7.0)],
    ),
    "split axis 0": (
        lambda x: graph.SplitOp(x, [tensor((1, 4)), tensor((2, 4))], 0),
        (3, 4),
        [],
    ),
    "reversed slice of axis 0": (
        lambda x: graph.SliceOp(x, tensor((2, 5)), (3, 0), (-1, 5), (-2, 1)),
        (4, 5),
        [],
    ),
    "edge pad of axis 0": (
        lambda x: graph.PadOp(x, tensor((5, 4)), (1, 2, 0, 1), "edge"),
        (2, 3),
        [],
    ),
    "reduce axis 0 keeping it": (
        lambda x: graph.ReduceOp(x, tensor((1, 4)), "sum", (0,)),
        (3, 4),
        [],
    ),
    "reduce axis 0 dropping it": (
        lambda x: graph.ReduceOp(x, tensor((2, 4)), "max", (0,)),
        (3, 2, 4),
        [],
    ),
    "softmax axis 0": (lambda x: graph.SoftmaxOp(x, x.type, 0), (3, 4), []),
    "transpose moving axis 0": (
        lambda x: graph.TransposeOp(x, tensor((3, 1, 4)), (1, 0, 2)),
        (1, 3, 4),
        [],
    ),
    "matmul with the batch in the rhs": (
        lambda x, c: graph.BatchMatMulOp(c, x, tensor((2, 4))),
        (3, 4),
        [np.arange(6.0).reshape(2, 3)],
    ),
    "add broadcasting over axis 0": (
        lambda x, c: graph.AddOp(x, c, tensor((3, 4))),
        (1, 4),
        [np.arange(12.0).reshape(3, 4)],
    ),
    "rank-1 mul with a rank-2 constant": (
        lambda x, c: graph.MulOp(x, c, tensor((2, 4))),
        (4,),
        [np.arange(8.0).reshape(2, 4)],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_batch_equals_separate_runs(name):
    make_op, shape, constants = CASES[name]
    module = single_op_module(make_op, [shape], constants)
    rng = np.random.default_rng(5)
    samples = [rng.normal(size=shape).astype(np.float32) for _ in range(BATCH)]
    batched = run_graph(module, [np.concatenate(samples)]).outputs
    separate = [run_graph(module, [sample]).outputs for sample in samples]
    for index, result in enumerate(batched):
        expected = np.concatenate([outputs[index] for outputs in separate])
        np.testing.assert_array_equal(result, expected)


def test_rank_0_result_cannot_hold_a_batch():
    module = single_op_module(lambda x: graph.ReduceOp(x, tensor(()), "sum", (0,)), [(4,)])
    assert run_graph(module, [np.ones(4, np.float32)]).outputs[0] == 4.0
    with pytest.raises(InputDataError, match=r"rank-0 result .* batch of 2"):
        run_graph(module, [np.ones(8, np.float32)])


def _two_input_add() -> ModuleOp:
    return single_op_module(lambda a, b: graph.AddOp(a, b, tensor((2, 3))), [(2, 3), (2, 3)])


def test_inputs_must_hold_the_same_batch():
    with pytest.raises(InputDataError, match=r"different batch sizes \[1, 2\]"):
        run_graph(_two_input_add(), [np.ones((2, 3)), np.ones((4, 3))])


def test_leading_extent_must_be_a_multiple_of_the_ir():
    with pytest.raises(InputDataError, match=r"input 'argument 1' has shape \[3, 3\]"):
        run_graph(_two_input_add(), [np.ones((2, 3)), np.ones((3, 3))])


def test_a_result_of_the_wrong_shape_stops_the_run():
    module = single_op_module(lambda x: graph.SigmoidOp(x, x.type), [(2, 3)])
    block = main_function(module).body.block
    handlers = {graph.ConstantOp: constant, graph.SigmoidOp: lambda op, xs: xs[0][:1]}
    with pytest.raises(ModelVerificationError, match=r"\(graph.sigmoid\) computed shape \[1, 3\], expected \[2, 3\]"):
        interpret_block(block, {block.args[0]: np.ones((2, 3), np.float32)}, handlers)
