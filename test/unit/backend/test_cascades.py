"""Cascades: the stripe schedule and rolling buffers, the search, and compiled programs bit for bit.

The schedule property is checked by replaying it on rolling buffers of row
numbers: every read finds the rows it wants, and one row less in any
buffer loses one. Compiled programs with cascades (`optimise=Size` cascades
every chain it can; a tight budget cascades what it must) run in npuc's
functional simulator and in the register-level Ethos-U simulator on the
emitted stream, against LiteRT's BUILTIN_REF kernels on the original model.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64
from xdsl.parser import Parser

import npuc
from npuc.api import QUANTIZED_REWRITES, run_pipeline
from npuc.backend import cascade_search, planning
from npuc.backend.blocks import candidate_blocks, search_input
from npuc.backend.cascade_costs import (
    Baseline,
    ChainCosts,
    stripe_heights,
    stripe_kinds,
    stripe_shape,
)
from npuc.backend.cascade_search import (
    chains,
    cheapest_plan,
    mark_cascade,
    plan_cycles,
    plan_memory,
    smallest_plan,
    thrifty_plans,
)
from npuc.backend.cascades import Link, cascade_steps, held_rows, rolling_rows
from npuc.backend.planning import clip_block
from npuc.backend.stripes import ifm_rows
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.dialects.common import Window
from npuc.emit.ethos_u.emitter import emit_program
from npuc.ir import main_function
from npuc.passes.npu.schedule import assign_memories
from npuc.sim.simulator import simulate_sample
from npuc.targets import BlockShape, load_target

from support.ethos_u_layers import conv_chain, lower
from support.ethos_u_run import run_program
from support.litert import random_inputs
from support.paths import TEST
from tflite_models.builder import run_model


@st.composite
def links(draw) -> list[Link]:
    """A chain of one to four windows with stripe heights, each reading the previous one's OFM."""
    height = draw(st.integers(4, 40))
    found = []
    for _ in range(draw(st.integers(1, 4))):
        kernel, stride, dilation = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        extent = dilation * (kernel - 1) + 1
        top, bottom = draw(st.integers(0, extent - 1)), draw(st.integers(0, extent - 1))
        window = Window((kernel, 1), (stride, 1), (dilation, 1), (top, 0, bottom, 0))
        ofm_height = window.output_size(height, 1)[0]
        if ofm_height < 1 or height + top + bottom < extent:
            break
        found.append(Link(window, height, ofm_height, draw(st.integers(1, ofm_height))))
        height = ofm_height
    if not found:
        found.append(Link(Window((1, 1)), height, height, 1))
    return found


def replay(links: list[Link], held: list[int]) -> bool:
    """Whether every read of the cascade's schedule finds its rows in rolling buffers of `held` rows."""
    buffers = [[-1] * rows for rows in held]
    computed = [0] * len(links)
    for step in cascade_steps(links):
        link = links[step.link]
        if step.link:
            buffer = buffers[step.link - 1]
            if any(buffer[row % len(buffer)] != row for row in link.reads(step.rows)):
                return False
        assert step.rows.start == computed[step.link], "each link computes its rows once, in order"
        computed[step.link] = step.rows.stop
        if step.link < len(links) - 1:
            for row in step.rows:
                buffers[step.link][row % held[step.link]] = row
    assert computed == [link.ofm_height for link in links] or computed[-1] == links[-1].ofm_height
    return True


@settings(max_examples=200, deadline=None)
@given(links())
def test_rolling_buffers_hold_every_row_until_its_last_read_and_no_row_more(links):
    held = rolling_rows(links, cascade_steps(links))
    assert replay(links, held)
    for index, rows in enumerate(held):
        if rows > 1:
            fewer = [*held[:index], rows - 1, *held[index + 1 :]]
            assert not replay(links, fewer), f"buffer {index} needs fewer than {rows} rows"


@settings(max_examples=200, deadline=None)
@given(links())
def test_each_buffers_rows_in_closed_form_are_those_the_schedule_needs(links):
    # held_rows sizes a buffer from its producer and consumer alone, the consumer computing all its
    # rows; the schedule of the whole cascade (rolling_rows over cascade_steps, checked above by replay)
    # agrees, and needs no more where the consumer stops early (its own consumer reads no more rows).
    steps = cascade_steps(links)
    needed = rolling_rows(links, steps)
    computed = [max((step.rows.stop for step in steps if step.link == index), default=0) for index in range(len(links))]
    for index, (producer, consumer) in enumerate(zip(links, links[1:])):
        if computed[index + 1] == consumer.ofm_height:
            assert held_rows(producer, consumer) == needed[index]
        else:
            assert held_rows(producer, consumer) >= needed[index]


def test_each_stripe_waits_for_the_rows_its_window_reads():
    # 3x3 convolution (padding 1) in stripes of 2 rows, then a 2x2/2 pool in stripes of 1: the pool's
    # first row reads conv rows 0-1; the conv's first stripe reads IFM rows 0-2.
    conv = Link(Window((3, 3), (1, 1), (1, 1), (1, 1, 1, 1)), 8, 8, 2)
    pool = Link(Window((2, 2), (2, 2)), 8, 4, 1)
    steps = cascade_steps([conv, pool])
    assert [(step.link, step.rows) for step in steps[:4]] == [(0, range(0, 2)), (1, range(0, 1)), (0, range(2, 4)), (1, range(1, 2))]
    assert ifm_rows(conv.window, range(0, 2), 8).ifm == range(0, 3)
    assert rolling_rows([conv, pool], steps) == [2]


def compiled(model: str, **options):
    return npuc.analyze_model(TEST / "models" / f"{model}.tflite", "ethos-u55-128", **options).module


def compute_commands(module) -> int:
    return sum(isinstance(op, npu.ComputeOp) for op in module.ops)


def wrapped_views(module) -> int:
    """Feature maps of commands that wrap: views of rolling buffers."""
    return sum(fm.wrap.data > 0 for op in module.ops if isinstance(op, npu.ComputeOp) for fm in (op.ifm, op.ofm))


@pytest.mark.parametrize(("model", "options"), [
    ("ic_resnet8", {"optimise": "Size"}),
    ("kws_dscnn", {"optimise": "Size"}),
    ("digits_cnn", {"arena_cache_size": 5000}),
    ("kws_dscnn", {"arena_cache_size": 14_000}),  # Performance's cascades with weights read from the flash
])  # fmt: skip
def test_cascaded_programs_match_litert_in_both_simulators(model, options):
    module = compiled(model, **options)
    assert compute_commands(module) > compute_commands(compiled(model)), "the layers run in stripes"
    data = (TEST / "models" / f"{model}.tflite").read_bytes()
    inputs = random_inputs(module)
    expected = run_model(data, *inputs)
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        for got, want in zip(outputs, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_size_cascades_to_a_smaller_arena_and_performance_only_under_a_budget():
    size, performance = compiled("ic_resnet8", optimise="Size"), compiled("ic_resnet8")
    usage = {name: module.attributes[npu.MEMORY_USAGE_ATTR].data["sram"].value.data for name, module in
             (("size", size), ("performance", performance))}  # fmt: skip
    assert usage["size"] < usage["performance"]
    assert wrapped_views(size) > 0 and wrapped_views(performance) == 0
    assert compute_commands(size) > compute_commands(performance)
    budgeted = compiled("ic_resnet8", arena_cache_size=usage["performance"] - 1)
    assert budgeted.attributes[npu.MEMORY_USAGE_ATTR].data["sram"].value.data < usage["performance"]


def test_the_search_keeps_each_chain_within_its_capacity_and_costs_least_there():
    module = npuc.import_model(TEST / "models" / "ic_resnet8.tflite")
    run_pipeline(module, ",".join([*QUANTIZED_REWRITES, "npu-legalize", "npu-tile"]))
    func, target = main_function(module), load_target("ethos-u55-128")
    assign_memories(func, target)
    baseline = Baseline.of(func, target)
    found = chains(func)
    kinds = [[op.name.removeprefix("quantized.") for op in chain.ops] for chain in found]
    # Each residual block: its two convolutions and the add, broken where a map has two readers.
    assert kinds == [["conv2d", "conv2d", "add"], ["conv2d", "conv2d"], ["conv2d", "add"], ["conv2d", "conv2d"],
                     ["conv2d", "add", "avg_pool2d"]]
    for chain in found:
        costs = ChainCosts(baseline, target, chain)
        smallest = smallest_plan(costs)
        floor = max(segment.memory for segment in smallest)
        within = cheapest_plan(costs, floor)
        unbounded = cheapest_plan(costs, None)
        assert within is not None and unbounded is not None
        assert max(segment.memory for segment in within) <= floor
        assert cheapest_plan(costs, floor - 1) is None
        cycles = [sum(segment.cycles for segment in plan) for plan in (unbounded, within, smallest)]
        assert cycles == sorted(cycles)


def test_the_chosen_plans_ops_run_their_stripes_in_the_fastest_block_the_cost_model_finds():
    # The search weighs two blocks per stripe height (the whole OFM's clipped, Vela's search's for the
    # stripe); once a plan is chosen, each of its ops weighs every block its stripes can run in.
    module = Parser(npuc_context(), conv_chain((48, 48, 16), [64, 16], [3, 3])).parse_module()
    run_pipeline(module, "npu-legalize,npu-tile")
    func, target = main_function(module), load_target("ethos-u55-128")
    assign_memories(func, target)
    (chain,) = chains(func)
    costs = ChainCosts(Baseline.of(func, target), target, chain)
    better = 0
    for index, op in enumerate(chain.ops):
        for height in stripe_heights(48):
            link = costs.link(index, height)
            kinds = stripe_kinds(link)

            def cycles(block, index=index, link=link, kinds=kinds):
                return sum(count * costs._stripe_cycles(chain.ops[index], link, rows, reads, block)
                           for rows, reads, count in kinds)

            rows, reads, _ = max(kinds, key=lambda kind: kind[2])
            shape = stripe_shape(op, link, rows, reads)
            every = [clip_block(BlockShape(*block), shape.ofm[1:], target.ofm_ublock)
                     for block in candidate_blocks(search_input(shape, target), target)]
            fastest = cycles(costs.fastest_stripe_block(index, link))
            searched = cycles(costs.stripe_block(index, link))
            assert fastest <= searched
            assert fastest <= min(cycles(block) for block in every) * 1.02  # ranked on one stripe kind
            better += fastest < searched
    assert better >= 4


@pytest.mark.parametrize("thrift", [0.0, 0.1])
def test_the_thrifty_plans_lower_the_peak_as_far_as_their_cycles_allow(monkeypatch, thrift):
    # Two 3x3 convolutions through a 4x deeper intermediate: cascaded they need about half the bytes,
    # for a few % more cycles in tall stripes, more in lower ones.
    monkeypatch.setattr(cascade_search, "THRIFT", thrift)
    module = Parser(npuc_context(), conv_chain((48, 48, 16), [64, 16], [3, 3])).parse_module()
    run_pipeline(module, "npu-legalize,npu-tile")
    func, target = main_function(module), load_target("ethos-u55-128")
    assign_memories(func, target)
    baseline = Baseline.of(func, target)
    costs = [ChainCosts(baseline, target, chain) for chain in chains(func)]
    capacity = max(plan_memory(cheapest_plan(chain_costs, None)) for chain_costs in costs)
    fastest = [cheapest_plan(chain_costs, capacity) for chain_costs in costs]
    limit = sum(plan_cycles(plan) for plan in fastest) * (1 + thrift)
    plans = thrifty_plans(costs, capacity)
    peak = max(plan_memory(plan) for plan in plans)
    assert sum(plan_cycles(plan) for plan in plans) <= limit
    assert (peak < capacity) == (thrift > 0)
    # One byte lower, the chains' fastest plans take more cycles than THRIFT allows.
    lower = [cheapest_plan(chain_costs, peak - 1) or smallest_plan(chain_costs) for chain_costs in costs]
    assert sum(plan_cycles(plan) for plan in lower) > limit


def test_reports_count_each_layers_stripes_and_name_its_cascade():
    analysis = npuc.analyze_model(TEST / "models" / "ic_resnet8.tflite", "ethos-u55-128", optimise="Size")
    layers = {layer.layer: layer for layer in analysis.cost.layers}
    cascades = analysis.module.attributes[npu.CASCADES_ATTR].data
    assert len(cascades) >= 1
    for index, names in enumerate(cascades):
        members = [layers[name.data] for name in names.data]
        assert all(layer.cascade == index for layer in members)
        assert all(layer.stripes > 1 for layer in members)
    assert any(layer.cascade is None and layer.stripes == 1 for layer in layers.values())


def test_a_broadcast_operand_does_not_join_a_chain():
    # The global pool's one-row result is broadcast by the add: no stripe of it has rows of its own.
    t, row = "tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-3>>", "tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.05:-3>>"
    text = f"""
func.func @main(%x: {t}) -> {t} {{
  %p = quantized.avg_pool2d %x {{layer = "pool", kernel = array<i64: 8, 8>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({t}) -> {row}
  %a = quantized.add %x, %p {{layer = "add", activation = "none"}} : ({t}, {row}) -> {t}
  func.return %a : {t}
}}"""
    module = Parser(npuc_context(), text).parse_module()
    run_pipeline(module, "npu-legalize,npu-tile")
    func = main_function(module)
    assert [op.attributes["npu.placement"].data for op in func.body.ops if "layer" in op.attributes] == ["npu", "npu"]
    assert chains(func) == []


def test_the_advice_says_what_size_would_save_and_cost():
    analysis = npuc.analyze_model(TEST / "models" / "ic_resnet8.tflite", "ethos-u55-128", compare_size=True)
    size = npuc.analyze_model(TEST / "models" / "ic_resnet8.tflite", "ethos-u55-128", optimise="Size")
    sram = size.module.attributes[npu.MEMORY_USAGE_ATTR].data["sram"].value.data
    assert analysis.size_alternative == {"memory": "sram", "peak_bytes": sram, "cycles": size.cost.total_cycles}
    report = analysis.report()
    (line,) = [line for line in report["advice"] if line.startswith("--optimise Size")]
    performance = report["summary"]["peak_memory"]["sram"]
    assert line.startswith(f"--optimise Size: sram peak {sram:,} bytes instead of {performance:,} (-")
    assert npuc.analyze_model(TEST / "models" / "ic_resnet8.tflite", "ethos-u55-128").size_alternative is None


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256", "ethos-u65-512"])
def test_a_cascade_whose_stripes_wrap_in_both_directions_computes_the_whole_chain(target):
    # Two 3x3 convolutions, the second in stripes of 2 rows: the first computes 2 rows at a time into a
    # rolling buffer of 5 (a stripe reads rows 2k-1..2k+2 once rows up to 2k+4 exist; row y at y mod 5),
    # so its writes wrap as well as the second's reads.
    text = conv_chain((12, 10, 8), [16, 8], [3, 3])
    whole = lower(text, target)
    module = Parser(npuc_context(), text).parse_module()
    run_pipeline(module, f'npu-legalize{{target="{target}"}},npu-tile{{target="{target}"}}')
    func = main_function(module)
    ops = [op for op in func.body.ops if op.attributes.get("layer") in (StringAttr("layer0"), StringAttr("layer1"))]
    mark_cascade(ops, 2, 0, load_target(target))
    assert ops[0].attributes["npu.rolling_rows"] == IntegerAttr(5, i64)
    run_pipeline(module, ",".join(f'{name}{{target="{target}"}}' for name in ("npu-schedule", "npu-allocate", "npu-lower")))
    assert wrapped_views(module) > 0
    assert any(op.ofm.wrap.data for op in module.ops if isinstance(op, npu.ComputeOp))
    inputs = [np.random.default_rng(1).integers(-128, 128, (1, 12, 10, 8), dtype=np.int8)]
    expected = simulate_sample(whole, inputs)
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        np.testing.assert_array_equal(outputs[0], expected[0])


def test_a_cascades_ops_read_until_its_last_and_write_from_its_first_position():
    module = Parser(npuc_context(), conv_chain((8, 8, 4), [4, 4, 4], [3, 3, 3])).parse_module()
    run_pipeline(module, "npu-legalize,npu-tile")
    func, target = main_function(module), load_target("ethos-u55-128")
    ops = [op for op in func.body.ops if "layer" in op.attributes]
    mark_cascade(ops, 2, 0, target)
    assign_memories(func, target)
    _, holder = planning.buffers(func, target)
    positions = {op: index for index, op in enumerate(func.body.ops)}
    first, last = positions[ops[0]], positions[ops[-1]]
    assert holder[func.body.block.args[0]].end == last  # the cascade's IFM, read by its last stripes
    assert [holder[op.results[0]].start for op in ops] == [first] * 3
    rows = [op.attributes["npu.rolling_rows"].value.data for op in ops[:2]]
    assert [holder[op.results[0]].size for op in ops] == [rows[0] * 8 * 4, rows[1] * 8 * 4, 8 * 8 * 4]


@pytest.mark.parametrize(("budget", "cascaded"), [(36_000, True), (44_000, True), (52_000, False), (60_000, False)])
def test_every_budget_above_the_smallest_schedule_compiles_within_it(budget, cascaded):
    # ic_resnet8's Size schedule needs 34,816 bytes, its feature maps whole 49,152, and with all its
    # weights staged 68,896: below 49,152 the Performance search cascades, above it stages what fits.
    module = compiled("ic_resnet8", arena_cache_size=budget)
    assert module.attributes[npu.MEMORY_USAGE_ATTR].data["sram"].value.data <= budget
    assert (npu.CASCADES_ATTR in module.attributes) == cascaded
