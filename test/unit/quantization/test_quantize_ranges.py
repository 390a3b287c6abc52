"""Tests for where the quantizer takes ranges: unique value names, global pools, outputs behind reshapes."""

import numpy as np
import pytest
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region

from npuc.dialects import graph, quantized
from npuc.dialects.common import LAYER_ATTR, int_array
from npuc.dialects.quantized import quant_type
from npuc.ir import main_function
from npuc.quantization.driver import quantize_module
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import sqnr_db
from npuc.quantization.quantizer import calibrate, unique_names, value_names
from npuc.quantization.search import dequantized_layers, float_layers
from npuc.reference.graph_interpreter import run_graph
from npuc.reference.quantized_interpreter import run_quantized

from support.graph_models import float_constant


def build_lifted_conv_net() -> ModuleOp:
    """x[1,6,6,3] -> reshape and conv(relu) both named 'conv' (as a lifted 1-D conv) -> global avg pool -> reshape."""
    rng = np.random.default_rng(3)
    block = Block(arg_types=[TensorType(f32, [1, 6, 6, 3])])
    ops: list[Operation] = []

    def layer(op: Operation, name: str):
        op.attributes[LAYER_ATTR] = StringAttr(name)
        ops.append(op)
        return op.results[0]

    lifted = layer(graph.ReshapeOp(block.args[0], TensorType(f32, [1, 6, 6, 3])), "conv")
    weights = float_constant(rng.standard_normal((16, 3, 3, 3)) / 3, "conv_w")
    bias = float_constant(rng.standard_normal(16) * 0.1, "conv_b")
    ops += [weights, bias]
    conv = layer(graph.Conv2dOp(lifted, weights.output, bias.output, TensorType(f32, [1, 6, 6, 16]),
                                padding=(1, 1, 1, 1), activation="relu"), "conv")  # fmt: skip
    pooled = layer(graph.AvgPool2dOp(conv, TensorType(f32, [1, 1, 1, 16]), (6, 6)), "gap")
    flat = layer(graph.ReshapeOp(pooled, TensorType(f32, [1, 16])), "flatten")
    ops.append(ReturnOp(flat))
    block.add_ops(ops)
    func = FuncOp("main", ([block.args[0].type], [flat.type]), Region(block))
    func.arg_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr("x")})])
    func.res_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr("y")})])
    module = ModuleOp([func])
    module.verify()
    return module


def samples(count: int = 16, seed: int = 0) -> list[np.ndarray]:
    return [np.random.default_rng(seed).standard_normal((count, 6, 6, 3)).astype(np.float32)]


def _ops(module: ModuleOp) -> list[Operation]:
    return list(main_function(module).body.block.ops)


def test_unique_names_keep_the_last_and_number_the_earlier():
    assert unique_names(["a", "b", "a", "a", "c"]) == ["a@0", "b", "a@1", "a", "c"]


def test_values_sharing_a_layer_name_get_their_own_names():
    names = value_names(main_function(build_lifted_conv_net()))
    assert list(names.values()) == ["x", "conv@0", "conv", "gap", "flatten"]


def test_a_conv_is_not_calibrated_with_the_input_its_layer_name_shares():
    module = build_lifted_conv_net()
    quantize_module(module, samples())
    conv = next(op for op in _ops(module) if isinstance(op, quantized.Conv2dOp))
    # The fused relu's output alone: [0, max], zero point at the bottom; with the
    # input's (negative) values mixed in it would sit inside the range.
    assert quant_type(conv.ofm).zero_point == -128


def test_a_global_average_pool_becomes_a_mean_with_its_own_finer_range():
    module = build_lifted_conv_net()
    quantize_module(module, samples())
    module.verify()
    ops = _ops(module)
    assert not any(isinstance(op, quantized.AvgPool2dOp) for op in ops)
    (mean,) = [op for op in ops if isinstance(op, quantized.ReduceOp)]
    assert mean.kind.data == "mean" and list(mean.axes.get_values()) == [1, 2]
    assert mean.attributes[LAYER_ATTR] == StringAttr("gap")
    assert quant_type(mean.output).scale < quant_type(mean.input).scale / 2


def test_the_global_mean_tracks_the_float_mean():
    module = build_lifted_conv_net()
    quantize_module(module, samples())
    held_out = samples(16, seed=5)
    expected = run_graph(build_lifted_conv_net(), held_out).outputs[0]
    assert sqnr_db(expected, run_quantized(module, held_out).outputs[0]) >= 35.0


def test_a_windowed_average_pool_keeps_its_input_quantization():
    module = build_lifted_conv_net()
    pool = next(op for op in _ops(module) if isinstance(op, graph.AvgPool2dOp))
    smaller = graph.AvgPool2dOp(pool.ifm, TensorType(f32, [1, 3, 3, 16]), (2, 2), (2, 2))
    smaller.attributes[LAYER_ATTR] = StringAttr("pool")
    main_function(module).body.block.insert_op_before(smaller, pool)
    pool.operands = [smaller.ofm]
    pool.kernel = int_array([3, 3])
    quantize_module(module, samples())
    (windowed,) = [op for op in _ops(module) if isinstance(op, quantized.AvgPool2dOp)]
    assert quant_type(windowed.ofm) == quant_type(windowed.ifm)


def test_layer_report_names_match_the_float_values():
    float_module, module = build_lifted_conv_net(), build_lifted_conv_net()
    quantize_module(module, samples())
    reference, test = float_layers(float_module, samples(4)), dequantized_layers(module, samples(4))
    assert set(test) == {"conv@0", "conv", "gap", "flatten"}
    assert all(reference[name].shape == test[name].shape for name in test)


@pytest.mark.parametrize("strategy", ["percentile", "mse"])
def test_the_output_strategy_reaches_through_a_reshape_to_the_result_it_shapes(strategy):
    module = build_lifted_conv_net()
    options = QuantizationOptions(activation_strategy=strategy, output_strategy="minmax")
    ranges = calibrate(module, samples(), options)
    pool = next(op for op in _ops(module) if isinstance(op, graph.AvgPool2dOp))
    observed = run_graph(module, samples(), keep_values=True).values[pool.ofm]
    assert ranges[pool.ofm] == pytest.approx((float(observed.min()), float(observed.max())))


def test_the_global_mean_of_a_16x8_model_is_int16_and_tracks_the_float_mean():
    module = build_lifted_conv_net()
    quantize_module(module, samples(), options=QuantizationOptions(activation_bits=16))
    module.verify()
    (mean,) = [op for op in _ops(module) if isinstance(op, quantized.ReduceOp)]
    assert quant_type(mean.output).bits == 16 and quant_type(mean.output).zero_point == 0
    expected = run_graph(build_lifted_conv_net(), samples(8, seed=5)).outputs[0]
    assert sqnr_db(expected, run_quantized(module, samples(8, seed=5)).outputs[0]) >= 50.0


def build_reshaped_concat_net() -> ModuleOp:
    """x[1,4,4,3] -> conv 'a' -> reshape [1,16,8] -> concat (axis 1) with a constant row [1,1,8] -> y[1,17,8]."""
    rng = np.random.default_rng(4)
    block = Block(arg_types=[TensorType(f32, [1, 4, 4, 3])])
    weights = float_constant(rng.standard_normal((8, 1, 1, 3)), "a_w")
    bias = float_constant(np.zeros(8), "a_b")
    token = float_constant(np.linspace(-10.0, 10.0, 8).reshape(1, 1, 8), "token")
    conv = graph.Conv2dOp(block.args[0], weights.output, bias.output, TensorType(f32, [1, 4, 4, 8]))
    reshape = graph.ReshapeOp(conv.ofm, TensorType(f32, [1, 16, 8]))
    concat = graph.ConcatOp([token.output, reshape.output], TensorType(f32, [1, 17, 8]), 1)
    for op, name in ((conv, "a"), (reshape, "flat"), (concat, "join")):
        op.attributes[LAYER_ATTR] = StringAttr(name)
    block.add_ops([weights, bias, token, conv, reshape, concat, ReturnOp(concat.output)])
    func = FuncOp("main", ([block.args[0].type], [concat.output.type]), Region(block))
    func.arg_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr("x")})])
    func.res_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr("y")})])
    return ModuleOp([func])


def test_a_concat_input_behind_a_reshape_gets_the_concat_range_at_its_producer():
    module = build_reshaped_concat_net()
    quantize_module(module, [np.random.default_rng(0).standard_normal((8, 4, 4, 3)).astype(np.float32)])
    ops = _ops(module)
    (concat,) = [op for op in ops if isinstance(op, quantized.ConcatOp)]
    (conv,) = [op for op in ops if isinstance(op, quantized.Conv2dOp)]
    assert quant_type(conv.ofm) == quant_type(concat.output)
    assert not any(isinstance(op, quantized.RequantizeOp) for op in ops)
