"""npu-legalize: which rule of the target sends a layer to the CPU, said in full, and its boundaries.

The Ethos-U limits (common/ethos-u.toml, from Vela's supported-operator
checks): feature maps up to 65535 per axis, conv kernels up to 64 rows, 4096
columns and 4096 taps, strides 1..3, conv dilations 1..2, padded average
pools up to 8x8.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.dialects.npu import CPU_REASON_ATTR, PLACEMENT_ATTR
from npuc.ir import main_function
from npuc.passes.npu.legalize import LegalizePass, legalize
from npuc.targets import Target, load_target

from support.ethos_u_layers import INT8, binary, convolution, pool
from support.paths import TFLITE_MODELS

TARGET = load_target("ethos-u55-128")


def parse(text: str) -> ModuleOp:
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


def placement_of(module: ModuleOp, layer: str = "layer") -> tuple[str, str | None]:
    """(npu.placement, npu.cpu_reason or None) of the op named `layer`."""
    op = next(op for op in module.walk() if op.attributes.get("layer") == StringAttr(layer))
    reason = op.attributes.get(CPU_REASON_ATTR)
    placement = op.attributes[PLACEMENT_ATTR]
    assert isinstance(placement, StringAttr)
    return placement.data, reason.data if isinstance(reason, StringAttr) else None


def legalized(text: str, target: Target = TARGET) -> tuple[str, str | None]:
    """Placement and CPU reason of the layer `layer` of `text` on `target`."""
    module = parse(text)
    legalize(main_function(module), target)
    return placement_of(module)


def with_rule(kind: str, **changes: object) -> Target:
    """The ethos-u55-128 target with fields of its `kind` operator rule changed."""
    rule = TARGET.operator_rule(kind)
    assert rule is not None
    changed = replace(rule, **changes)
    return replace(TARGET, operators=tuple(changed if r.kind == kind else r for r in TARGET.operators))


def test_feature_maps_at_the_extent_limit_stay_on_the_npu():
    assert legalized(binary("add", (65535, 65535, 65535))) == ("npu", None)


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ((65536, 1, 8), "ifm height 65536 exceeds 65535"),
        ((1, 65536, 8), "ifm width 65536 exceeds 65535"),
        ((1, 1, 65536), "ifm depth 65536 exceeds 65535"),
    ],
)
def test_one_element_over_the_extent_limit_goes_to_the_cpu_naming_the_axis(shape, reason):
    assert legalized(binary("add", shape)) == ("cpu", reason)


def test_an_oversized_second_input_is_named_ifm2():
    # The first input broadcasts up to the second's height.
    small, large = INT8.act((1, 1, 1, 8), 0.05, -3), INT8.act((1, 65536, 1, 8), 0.03, 7)
    y = INT8.act((1, 65536, 1, 8), 0.07, 2)
    text = f"""
func.func @main(%a: {small}, %b: {large}) -> {y} {{
  %y = quantized.add %a, %b {{layer = "layer", activation = "none"}} : ({small}, {large}) -> {y}
  func.return %y : {y}
}}"""
    assert legalized(text) == ("cpu", "ifm2 height 65536 exceeds 65535")


def test_a_concat_is_judged_by_its_first_input_and_its_output():
    # Its other inputs are never larger than its output, which is checked.
    small, large = INT8.act((1, 1, 1, 8), 0.1, 0), INT8.act((1, 1, 1, 65536), 0.1, 0)
    y = INT8.act((1, 1, 1, 65544), 0.1, 0)
    text = f"""
func.func @main(%a: {small}, %b: {large}) -> {y} {{
  %y = quantized.concat %a, %b {{layer = "layer", axis = 3 : i64}} : ({small}, {large}) -> {y}
  func.return %y : {y}
}}"""
    assert legalized(text) == ("cpu", "ofm depth 65544 exceeds 65535")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (convolution((1, 4097, 1), 1, (1, 4097)), ("cpu", "kernel width 4097 outside 1..4096")),
        (convolution((2, 4096, 1), 1, (2, 4096)), ("cpu", "kernel area 8192 outside 1..4096")),
        (convolution((2, 2048, 1), 1, (2, 2048)), ("npu", None)),  # 4096 taps: the maximum
        (convolution((4, 8, 1), 1, (1, 1), strides=(1, 4)), ("cpu", "stride width 4 outside 1..3")),
        (convolution((4, 4, 1), 1, (1, 1), dilations=(3, 1)), ("cpu", "dilation height 3 outside 1..2")),
        (convolution((4, 4, 1), 1, (1, 1), dilations=(1, 3)), ("cpu", "dilation width 3 outside 1..2")),
    ],
    ids=["width", "area", "area-at-maximum", "stride-width", "dilation-height", "dilation-width"],
)
def test_kernel_rules_name_the_dimension_that_breaks_them(text, expected):
    assert legalized(text) == expected


@pytest.mark.parametrize(
    ("kernel", "padding", "reason"),
    [
        ((9, 1), (4, 0, 4, 0), "kernel height with padding 9 outside 1..8"),
        ((1, 9), (0, 4, 0, 4), "kernel width with padding 9 outside 1..8"),
    ],
)
def test_padded_average_pools_are_limited_per_kernel_dimension(kernel, padding, reason):
    assert legalized(pool("avg", (16, 16, 8), kernel, padding=padding)) == ("cpu", reason)


def test_padded_average_pools_keep_the_stride_rule():
    text = pool("avg", (16, 16, 8), (3, 3), strides=(4, 4), padding=(1, 1, 1, 1))
    assert legalized(text) == ("cpu", "stride height 4 outside 1..3")


def test_an_activation_the_target_lacks_goes_to_the_cpu_listing_the_ones_it_has():
    target = with_rule("conv2d", activations=("none", "relu"))
    text = convolution((4, 4, 8), 8, (1, 1), activation="relu6")
    assert legalized(text, target) == ("cpu", "activation relu6 not in none, relu")
    assert legalized(convolution((4, 4, 8), 8, (1, 1), activation="relu"), target) == ("npu", None)


def test_a_rule_without_kernel_limits_admits_any_kernel():
    target = with_rule("conv2d", kernel=None)
    assert legalized(convolution((80, 80, 1), 1, (80, 80)), target) == ("npu", None)


def test_legalizing_again_for_another_target_drops_the_old_cpu_reason():
    module = parse(convolution((4, 8, 1), 1, (1, 1), strides=(1, 4)))
    LegalizePass(target="ethos-u55-128").apply(npuc_context(), module)
    assert placement_of(module) == ("cpu", "stride width 4 outside 1..3")
    LegalizePass(target="generic-4tops").apply(npuc_context(), module)  # strides 1..4
    assert placement_of(module) == ("npu", None)


A = "tensor<1x4x8x!quantized.uniform<i8:f32, 0.05:3>>"
B = "tensor<1x8x5x!quantized.uniform<i8:f32, 0.04:-2>>"
PRODUCT = "tensor<1x4x5x!quantized.uniform<i8:f32, 0.1:1>>"
BATCH_MATMUL = f"""
func.func @main(%a: {A}, %b: {B}) -> {PRODUCT} {{
  %y = quantized.batch_matmul %a, %b {{layer = "layer"}} : ({A}, {B}) -> {PRODUCT}
  func.return %y : {PRODUCT}
}}"""



def test_an_int8_batch_matmul_of_two_activations_runs_on_the_npu_within_its_command_bound():
    assert legalized(BATCH_MATMUL) == ("npu", None)
    assert legalized(BATCH_MATMUL, with_rule("batch_matmul", max_commands=8)) == (
        "cpu", "a product of 9 commands exceeds the 8 the target allows"
    )


def test_a_batch_matmul_whose_rescale_shifts_left_runs_on_the_cpu():
    small = "tensor<1x4x5x!quantized.uniform<i8:f32, 0.001:1>>"
    text = BATCH_MATMUL.replace(PRODUCT, small)
    assert legalized(text) == (
        "cpu", "output scale below lhs scale x rhs scale: TFLite's rescale shifts the int32 sum left first"
    )


def test_a_16x8_fully_connected_bias_runs_on_the_npu_within_40_bits_and_on_the_cpu_beyond() -> None:
    # an Ethos-U scale record holds a 40-bit bias (the target's max_bias_bits), with the full 32-bit scale
    # TFLite's single rounding needs; beyond it the layer stays on the CPU with the rule it violates
    for name, placed in (("fully_connected_16x8_large_bias", "npu"), ("fully_connected_16x8_40bit_bias", "npu"),
                         ("fully_connected_16x8_43bit_bias", "cpu")):
        program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), "ethos-u55-128").module
        cpu = [op for op in program.ops if isinstance(op, npu.CpuOp)]
        assert ("cpu" if cpu else "npu") == placed, name
        if cpu:
            assert cpu[0].reason is not None and cpu[0].reason.data.endswith("does not fit 40 bits")
