"""CPU operations are priced from the target's `[host_cpu]` rates, and no CPU operation costs 0 cycles.

A test target is generic-4tops with no NPU operators (every layer runs on the
host) and round host rates, so each layer's cycles can be worked out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.cost.host import host_macs
from npuc.cost.model import CPU, estimate
from npuc.dialects import npu
from npuc.errors import ModelVerificationError
from npuc.targets import load_target

from support.npu_text import INT8, fm, program

HOST = """[operators]

[host_cpu]
core = "Test-Core"
default_cycles_per_element = 7.0

[host_cpu.cycles_per_mac]
conv2d = 0.5
depthwise_conv2d = 1.0
fully_connected = 2.0
transpose_conv2d = 1.0
avg_pool2d = 0.5

[host_cpu.cycles_per_element]
tanh = 3.0

[host_cpu.cycles_per_input_element]
reduce = 2.0
"""

ACT = "!quantized.uniform<i8:f32, 0.05:-3>"
W = "!quantized.uniform<i8:f32, 0.02:0>"
WINDOW = 'dilations = array<i64: 1, 1>, activation = "none"'


def _tensor(shape: tuple[int, ...], element: str = ACT) -> str:
    return f"tensor<{'x'.join(map(str, shape))}x{element}>"


MODEL = f"""
func.func @main(%x: {_tensor((1, 4, 4, 8))}) -> {_tensor((1, 10))} {{
  %tw = quantized.constant dense<1> : tensor<4x3x3x8xi8> -> {_tensor((4, 3, 3, 8), W)}
  %tb = quantized.constant dense<0> : tensor<4xi32>
  %up = quantized.transpose_conv2d %x, %tw, %tb {{layer = "up", strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, {WINDOW}}} : ({_tensor((1, 4, 4, 8))}, {_tensor((4, 3, 3, 8), W)}, tensor<4xi32>) -> {_tensor((1, 8, 8, 4))}
  %cw = quantized.constant dense<1> : tensor<4x3x3x4xi8> -> {_tensor((4, 3, 3, 4), W)}
  %c = quantized.conv2d %up, %cw, %tb {{layer = "conv", strides = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, {WINDOW}}} : ({_tensor((1, 8, 8, 4))}, {_tensor((4, 3, 3, 4), W)}, tensor<4xi32>) -> {_tensor((1, 8, 8, 4))}
  %dw = quantized.constant dense<1> : tensor<1x3x3x4xi8> -> {_tensor((1, 3, 3, 4), W)}
  %d = quantized.depthwise_conv2d %c, %dw, %tb {{layer = "dw", strides = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, {WINDOW}}} : ({_tensor((1, 8, 8, 4))}, {_tensor((1, 3, 3, 4), W)}, tensor<4xi32>) -> {_tensor((1, 8, 8, 4))}
  %a = quantized.avg_pool2d %d {{layer = "avg", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({_tensor((1, 8, 8, 4))}) -> {_tensor((1, 4, 4, 4))}
  %m = quantized.max_pool2d %a {{layer = "max", kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({_tensor((1, 4, 4, 4))}) -> {_tensor((1, 3, 3, 4))}
  %t = quantized.tanh %m {{layer = "tanh"}} : {_tensor((1, 3, 3, 4))} -> {_tensor((1, 3, 3, 4))}
  %r = quantized.reshape %t {{layer = "flat"}} : {_tensor((1, 3, 3, 4))} -> {_tensor((1, 36))}
  %fw = quantized.constant dense<1> : tensor<10x36xi8> -> {_tensor((10, 36), W)}
  %fb = quantized.constant dense<0> : tensor<10xi32>
  %f = quantized.fully_connected %r, %fw, %fb {{layer = "fc", activation = "none"}} : ({_tensor((1, 36))}, {_tensor((10, 36), W)}, tensor<10xi32>) -> {_tensor((1, 10))}
  func.return %f : {_tensor((1, 10))}
}}
"""

EXPECTED = {
    "up": 16 * 4 * 3 * 3 * 8 * 1.0,  # input positions x weights (a transposed conv scatters each input), per MAC
    "conv": 64 * 4 * 3 * 3 * 4 * 0.5,  # output positions x weights, per MAC
    "dw": 64 * 3 * 3 * 4 * 1.0,  # output positions x weights (one per channel), per MAC
    "avg": 64 * 4 * 0.5,  # output elements x window taps
    "max": 36 * 7.0,  # not listed: the default per output element
    "tanh": 36 * 3.0,  # per output element
    "flat": 36 * 7.0,  # not listed: the default
    "fc": 360 * 2.0,  # 36 x 10 MACs
}


@pytest.fixture(scope="module")
def host_only(tmp_path_factory: pytest.TempPathFactory) -> str:
    """generic-4tops without NPU operators, with the round rates of `HOST`: the path of its file."""
    text = (resources.files("npuc.targets") / "data" / "generic-4tops.toml").read_text()
    head = text[: text.index("[operators.conv2d]")].replace('name = "generic-4tops"', 'name = "host-only"')
    path = tmp_path_factory.mktemp("host") / "host-only.toml"
    path.write_text(head + HOST)
    return str(path)


@pytest.fixture(scope="module")
def compiled(host_only: str) -> npuc.CompileResult:
    module = Parser(npuc_context(), MODEL).parse_module()
    module.verify()
    return npuc.compile_model(module, host_only)


def test_every_layer_is_priced_by_its_rate(compiled):
    cost = compiled.cost
    assert {layer.layer: layer.cpu_cycles for layer in cost.layers} == EXPECTED
    assert all(layer.on_cpu and layer.cycles == layer.cpu_cycles for layer in cost.layers)
    assert (cost.total_cycles, cost.npu_cycles, cost.cpu_cycles) == (sum(EXPECTED.values()), 0, sum(EXPECTED.values()))


def test_cpu_commands_run_one_after_the_other(compiled):
    cpu = [command for command in compiled.cost.commands if command.engine == CPU]
    assert [(c.start, c.end) for c in cpu] == [(c.start, c.start + c.cycles) for c in cpu]
    assert all(later.start == earlier.end for earlier, later in zip(cpu, cpu[1:]))


@pytest.mark.parametrize("name", ["ethos-u55-128", "ethos-u65-256", "generic-4tops"])
def test_no_cpu_operation_is_priced_at_zero(compiled, name):
    # The host-only module priced by each built-in target's host table: a CPU operation priced at
    # 0 cycles would make a model with CPU fallback look faster than it is.
    cost = estimate(compiled.module, replace(load_target(name), memories=compiled.target.memories))
    cpu = [command for command in cost.commands if command.engine == CPU]
    assert len(cpu) == len(EXPECTED)
    assert all(command.cycles > 0 for command in cpu)
    assert cost.total_cycles == cost.npu_cycles + cost.cpu_cycles


def _reduce_program() -> ModuleOp:
    source = _tensor((1, 8, 8, 4), INT8)
    result = _tensor((1, 1, 1, 4), INT8)
    return program(
        f'npu.cpu_op attributes {{layer = "mean", inputs = [{fm("sram", 0, (1, 8, 8, 4))}], '
        f'outputs = [{fm("sram", 4096, (1, 1, 1, 4))}]}} {{\n'
        f"^bb0(%a : {source}):\n"
        f'  %r = quantized.reduce %a {{layer = "mean", kind = "mean", axes = array<i64: 1, 2>}} : {source} -> {result}\n'
        f"  npu.yield %r : {result}\n}}"
    )


def test_a_reduction_is_priced_per_input_element(host_only):
    cost = estimate(_reduce_program(), load_target(host_only))
    assert cost.commands[0].cycles == 256 * 2


def test_a_host_clock_of_its_own_scales_to_npu_cycles(host_only):
    target = load_target(host_only)
    doubled = replace(target, host_cpu=replace(target.host_cpu, clock_hz=2 * target.clock_hz))
    assert estimate(_reduce_program(), doubled).commands[0].cycles == 256
    assert load_target("generic-4tops").host_clock_hz == 1.8e9


def test_macs_are_refused_for_an_op_without_them():
    cpu_op = next(op for op in _reduce_program().ops if isinstance(op, npu.CpuOp))
    with pytest.raises(ModelVerificationError, match="'quantized.reduce' has no multiply-accumulates"):
        host_macs(cpu_op.body.block.first_op)
