"""npuc's default precision policy (`npuc.quantization.policy`): a classifier head and layer norms 16x8.

Small ONNX models built with onnx.helper: which layers the policy picks (the
ops after a last global pool, not a squeeze-and-excitation pool; a layer
norm's centring, normalisation and input, not its variance branch), that
`precision="uniform"` and a control file's `bits` turn it off, that the
mixed module exported as a .tflite runs bit-exactly in LiteRT's reference
kernels and, compiled for the Ethos-U, runs with no CPU operation and the
integer reference's results in both simulators.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import helper

import npuc.api
from npuc.dialects import quantized
from npuc.dialects.common import layer_name
from npuc.dialects.quantized import quant_type
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.ir import main_function
from npuc.passes import GRAPH_OPTIMISATION_PIPELINE
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import sqnr_db
from npuc.quantization.policy import sixteen_bit_layers
from npuc.sim.simulator import simulate

from support.litert import assert_litert_runs_it_bit_exactly
from support.onnx_models import make_model

rng = np.random.default_rng(23)


@pytest.fixture(autouse=True)
def fresh_rng() -> None:
    """Each test draws the same data whichever tests ran before it."""
    global rng
    rng = np.random.default_rng(23)


def normal(*shape: int, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape) + offset).astype(np.float32)


def classifier(squeeze_excite: bool = False, bias_offset: float = 0.0, ending: str = "") -> bytes:
    """conv(relu) [-> squeeze-and-excitation: global pool, 1x1 conv, sigmoid, mul] -> global pool -> flatten -> fc
    [-> `ending`: Softmax, or HardSwish and a second fc]."""
    initializers = {
        "w0": normal(8, 3, 3, 3, scale=0.3), "b0": normal(8, scale=0.1), "fc_w": normal(10, 8, scale=0.3),
        "fc_b": normal(10, scale=0.1, offset=bias_offset), "se_w": normal(8, 8, 1, 1, scale=0.3),
        "se_b": normal(8, scale=0.1),
    }  # fmt: skip
    node = helper.make_node
    nodes = [
        node("Conv", ["x", "w0", "b0"], ["c0"], name="conv", pads=[1, 1, 1, 1]),
        node("Relu", ["c0"], ["features"], name="relu"),
        node("GlobalAveragePool", ["features"], ["squeezed"], name="se_pool"),
        node("Conv", ["squeezed", "se_w", "se_b"], ["excite"], name="se_conv"),
        node("Sigmoid", ["excite"], ["gate"], name="se_gate"),
        node("Mul", ["features", "gate"], ["gated"], name="se_mul"),
        node("GlobalAveragePool", ["gated" if squeeze_excite else "features"], ["pooled"], name="pool"),
        node("Flatten", ["pooled"], ["flat"], name="flatten"),
        node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
    ]
    if not squeeze_excite:
        nodes = nodes[:2] + nodes[6:]
        for name in ("se_w", "se_b"):
            del initializers[name]
    if ending:
        nodes[-1].output[0] = "logits"
        nodes.append(node(ending, ["logits"], ["y" if ending == "Softmax" else "act"], name="ending"))
    if ending == "HardSwish":
        initializers.update({"fc2_w": normal(10, 10, scale=0.3), "fc2_b": normal(10, scale=0.1)})
        nodes.append(node("Gemm", ["act", "fc2_w", "fc2_b"], ["y"], name="fc2", transB=1))
    return make_model(nodes, {"x": (1, 3, 8, 8)}, {"y": (1, 10)}, initializers, opset=17)


def residual_layer_norm() -> bytes:
    """tokens + position -> LayerNormalization -> MatMul: a transformer's residual stream and its norm."""
    initializers = {
        "pos": normal(1, 6, 16, scale=0.5), "gamma": normal(16, scale=0.2, offset=1.0),
        "beta": normal(16, scale=0.2), "w": normal(16, 8, scale=0.3),
    }  # fmt: skip
    nodes = [
        helper.make_node("Add", ["x", "pos"], ["hidden"], name="position"),
        helper.make_node("LayerNormalization", ["hidden", "gamma", "beta"], ["normed"], name="norm", axis=-1),
        helper.make_node("MatMul", ["normed", "w"], ["y"], name="project"),
    ]
    return make_model(nodes, {"x": (1, 6, 16)}, {"y": (1, 6, 8)}, initializers, opset=17)


def optimised(model: bytes):
    module = import_onnx_bytes(model, "model.onnx")
    npuc.api.run_pipeline(module, ",".join(GRAPH_OPTIMISATION_PIPELINE))
    return module


def quantized_module(model: bytes, samples: np.ndarray, **options):
    module = optimised(model)
    npuc.api.quantize(module, [samples], QuantizationOptions(**options), report_samples=0)
    return module


def widths(module) -> dict[str, set[int]]:
    """The activation widths of the quantized layer ops' results, by layer name."""
    found: dict[str, set[int]] = {}
    for op in main_function(module).body.block.ops:
        if isinstance(op, quantized.ConstantOp | quantized.QuantizeOp | quantized.DequantizeOp):
            continue
        for result in op.results:
            qtype = quant_type(result)
            if qtype is not None:
                found.setdefault(layer_name(op), set()).add(qtype.bits)
    return found




CNN_SAMPLES = (8, 8, 8, 3)
TOKEN_SAMPLES = (8, 6, 16)


def test_the_head_after_the_last_global_pool_is_16x8_and_the_body_int8() -> None:
    module = optimised(classifier())
    assert sixteen_bit_layers(main_function(module)) == ["pool", "flatten", "fc"]
    bits = widths(quantized_module(classifier(), normal(*CNN_SAMPLES)))
    assert bits["conv"] == {8} and bits["pool"] == {16} and bits["fc"] == {16}


def test_a_squeeze_and_excitation_pool_is_not_a_head() -> None:
    # its pooled branch is multiplied back into the feature map
    module = optimised(classifier(squeeze_excite=True))
    assert sixteen_bit_layers(main_function(module)) == ["pool", "flatten", "fc"]


@pytest.mark.parametrize("ending, promoted", [("Softmax", []), ("HardSwish", ["fc2"])])
def test_only_head_layers_reaching_the_output_in_16_bits_are_promoted(ending: str, promoted: list[str]) -> None:
    # a softmax's int8 output (step 1/256) gains nothing from 16 bits before it; after an int8-only
    # hard swish, the layers after it are promoted
    module = optimised(classifier(ending=ending))
    assert sixteen_bit_layers(main_function(module)) == promoted


def test_a_layer_norm_its_input_and_its_affine_are_16x8_its_variance_int8() -> None:
    module = optimised(residual_layer_norm())
    assert sixteen_bit_layers(main_function(module)) == [
        "position", "norm/mean", "norm/centred", "norm/normalised", "norm/scaled", "norm",
    ]  # fmt: skip
    module = quantized_module(residual_layer_norm(), normal(*TOKEN_SAMPLES, scale=2.0))
    bits = widths(module)
    assert bits["norm/normalised"] == {16} and bits["position"] == {16}
    (fc,) = [op for op in main_function(module).body.block.ops if isinstance(op, quantized.FullyConnectedOp)]
    assert quant_type(fc.results[0]).bits == 8
    # TFLite has no int16 SQUARED_DIFFERENCE: its 16-bit inputs are requantized to int8 before it
    variance_branch = [op for op in main_function(module).body.block.ops
                       if isinstance(op, quantized.SquaredDifferenceOp | quantized.RsqrtOp)]  # fmt: skip
    assert len(variance_branch) == 2
    assert {quant_type(value).bits for op in variance_branch for value in (*op.operands, *op.results)} == {8}


def test_a_layer_norm_after_a_matmul_leaves_the_matmul_int8() -> None:
    # a conv-like producer would cost its MACs twice over in 16 bits; its output is requantized instead
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["hidden"], name="proj"),
        helper.make_node("LayerNormalization", ["hidden", "gamma", "beta"], ["y"], name="norm", axis=-1),
    ]
    initializers = {"w": normal(16, 16, scale=0.3), "gamma": normal(16, offset=1.0), "beta": normal(16)}
    model = make_model(nodes, {"x": (1, 6, 16)}, {"y": (1, 6, 16)}, initializers, opset=17)
    layers = sixteen_bit_layers(main_function(optimised(model)))
    assert "proj" not in layers and "norm/centred" in layers


def test_uniform_precision_is_pure_int8() -> None:
    for model, shape in ((classifier(), CNN_SAMPLES), (residual_layer_norm(), TOKEN_SAMPLES)):
        bits = widths(quantized_module(model, normal(*shape), precision="uniform"))
        assert set().union(*bits.values()) == {8}


def test_a_control_files_bits_override_the_policy(tmp_path) -> None:
    control = tmp_path / "layers.json"
    control.write_text(json.dumps({"layers": {"fc": {"bits": 8}}}))
    bits = widths(quantized_module(classifier(), normal(*CNN_SAMPLES), layers=str(control)))
    assert bits["pool"] == {16} and bits["fc"] == {8}


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(Exception, match="unknown precision 'fp8'"):
        QuantizationOptions(precision="fp8").check()


def test_a_fully_connected_bias_large_against_its_input_stays_within_int32() -> None:
    # logits that are nearly their bias (random-weight networks): at the pooled features' int16 step the
    # bias would pass int32, which an NPU scale record cannot hold with TFLite's single rounding;
    # the input is requantized to a coarser step instead
    samples = normal(*CNN_SAMPLES, scale=1e-3)
    module = quantized_module(classifier(bias_offset=50.0), samples)
    fc = next(op for op in main_function(module).body.block.ops if isinstance(op, quantized.FullyConnectedOp))
    bias = fc.operands[2].owner.value.get_values()
    assert max(abs(int(value)) for value in bias) <= 2**31 - 1
    assert isinstance(fc.operands[0].owner, quantized.RequantizeOp)
    (expected,) = npuc.run(optimised(classifier(bias_offset=50.0)), [samples])
    (int8,) = npuc.run(quantized_module(classifier(bias_offset=50.0), samples, precision="uniform"), [samples])
    assert sqnr_db(expected, npuc.run(module, [samples])[0]) >= sqnr_db(expected, int8)


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
@pytest.mark.parametrize("model, shape", [(classifier, CNN_SAMPLES), (residual_layer_norm, TOKEN_SAMPLES)])
def test_the_mixed_module_is_bit_exact_in_litert_and_on_the_npu(model, shape, target) -> None:
    samples = normal(*shape, scale=2.0)
    module = quantized_module(model(), samples)
    assert {16, 8} <= set().union(*widths(module).values())
    assert_litert_runs_it_bit_exactly(module, samples[:1])
    (expected,) = npuc.run(module, [samples[:2]])
    result = npuc.api.compile_model(module.clone(), target)
    assert result.report()["summary"]["cpu_operations"] == []
    np.testing.assert_array_equal(simulate(result.module, [samples[:2]])[0], expected)
