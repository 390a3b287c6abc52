"""The memory-hazard check on hand-written programs, one rule per test, and on compiled ones.

Programs are int8 add/copy chains over small feature maps: `npu.input` and
`npu.constant` write, `npu.elementwise` reads its two IFMs and writes its
OFM, `npu.output` is read by the host after the last command.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp, i8, i32
from xdsl.dialects.func import FuncOp

import npuc
from npuc.dialects import npu
from npuc.dialects.quantized import UniformQuantizedType
from npuc.errors import MEMORY_LIMIT_BYTES, MemoryHazardError, MemoryLimitError
from npuc.sim.hazards import (
    OWNER_BYTES,
    Access,
    accesses,
    byte_addresses,
    check_program,
)

from support.npu_text import INT8, dma, fm, ints, program
from support.paths import EXAMPLES

SHAPE, HALF, QUARTER = (1, 2, 2, 4), (1, 2, 1, 4), (1, 1, 1, 4)
"""16-, 8- and 4-byte feature maps."""

INPUTS = {SHAPE: (0, 16), HALF: (80, 88), QUARTER: (96, 100)}
"""Where the two inputs of each shape live (written by `npu.input`s)."""


def add(layer: str, ofm: str, shape: tuple[int, ...] = SHAPE, ifm: int | None = None) -> str:
    """An int8 add of two maps of `shape` (the inputs, or `ifm` and the second input) into `ofm`."""
    first, second = INPUTS[shape]
    return (
        f'npu.elementwise {{layer = "{layer}", kind = "add", ifm = {fm("sram", first if ifm is None else ifm, shape)}, '
        f'ifm2 = {fm("sram", second, shape)}, ofm = {ofm}, '
        f"act_min = -128 : i32, act_max = 127 : i32, block = {ints((2, 2, 8))}}}"
    )


def view(offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> str:
    """A strided int8 feature map (a slice of a wider one)."""
    return f"#npu.fm<sram, {offset}, [{', '.join(map(str, shape))}], [{', '.join(map(str, strides))}], {INT8}>"


def program_of(*commands: str) -> ModuleOp:
    inputs = [f'npu.input {{tensor = "in{index}", fm = {fm("sram", offset, shape)}}}'
              for index, (shape, offsets) in enumerate(INPUTS.items()) for offset in offsets]  # fmt: skip
    return program(*inputs, *commands)


def check(*commands: str) -> None:
    check_program(program_of(*commands))


def output(offset: int, shape: tuple[int, ...] = SHAPE) -> str:
    return f'npu.output {{tensor = "out", fm = {fm("sram", offset, shape)}}}'


def test_a_chain_with_reused_buffers_is_clean():
    check(
        add("a", fm("sram", 32, SHAPE)),
        add("b", fm("sram", 48, SHAPE), ifm=32),
        add("c", fm("sram", 32, SHAPE), ifm=48),  # a is dead: c reuses its bytes
        output(32),
    )


def test_an_ofm_over_its_own_ifm_is_a_hazard():
    # Shifted by one element: the OFM's blocks land on IFM elements later blocks still read.
    with pytest.raises(MemoryHazardError, match=r"command 6, a \(npu.elementwise\) writes its ofm at sram \[20, 36\) over its ifm2"):
        check(add("a", fm("sram", 20, SHAPE)))


def test_an_elementwise_ofm_exactly_on_its_ifm_is_in_place():
    # Same place, shape and strides: each element is written where it was read (a residual add, as Vela runs it).
    check(add("a", fm("sram", 16, SHAPE)), output(16))


def test_reading_bytes_nothing_wrote_is_a_hazard():
    with pytest.raises(MemoryHazardError, match=r"a \(npu.elementwise\) reads its ifm at sram \[200, 216\), but nothing wrote sram \[200, 216\)"):
        check(add("a", fm("sram", 32, SHAPE), ifm=200))


def test_a_buffer_overwritten_before_its_last_read_is_a_hazard():
    # b's OFM lands on the second half of a's, which c still reads: a's live range ended too early.
    with pytest.raises(MemoryHazardError, match=r"c \(npu.elementwise\) reads its ifm at sram \[32, 48\), the result of command 6, a \(npu.elementwise\), but command 7, b \(npu.elementwise\) overwrote part of it"):
        check(add("a", fm("sram", 32, SHAPE)), add("b", fm("sram", 40, HALF), HALF), add("c", fm("sram", 48, SHAPE), ifm=32))


def test_disjoint_slices_make_a_concat_and_a_slice_of_one_result_is_a_split():
    check(
        # two producers write the width halves of a 16-byte map, as concat inputs do
        add("left", view(32, HALF, (16, 8, 4, 1)), HALF),
        add("right", view(36, HALF, (16, 8, 4, 1)), HALF),
        output(32),
        # a reader of one producer's bytes only, as a split output is
        f'npu.output {{tensor = "split", fm = {view(36, HALF, (16, 8, 4, 1))}}}',
    )


def test_slices_that_overwrite_each_other_are_a_hazard():
    with pytest.raises(MemoryHazardError, match=r"gathered from slices that overwrite each other \(command 6, first \(npu.elementwise\); command 7, second \(npu.elementwise\); command 8, third \(npu.elementwise\)\)$"):
        check(
            add("first", fm("sram", 32, HALF), HALF),  # [32, 40)
            add("second", fm("sram", 36, QUARTER), QUARTER),  # [36, 40): over first's bytes
            add("third", fm("sram", 40, HALF), HALF),  # [40, 48)
            output(32),
        )


def test_a_writer_straddling_the_read_is_a_hazard():
    # [32, 48) gathered from a, b and late, but late's result runs on past it: it was not written
    # as a slice of this map (or the map's bytes were reused before this read).
    with pytest.raises(MemoryHazardError, match=r"which command 8, late \(npu.elementwise\) wrote only in part"):
        check(
            add("a", fm("sram", 32, HALF), HALF),  # [32, 40)
            add("b", fm("sram", 40, QUARTER), QUARTER),  # [40, 44)
            add("late", fm("sram", 44, HALF), HALF),  # [44, 52)
            output(32),
        )


def test_a_read_across_the_stripes_of_one_layer_is_one_result():
    # "a" computes its OFM [32, 48) in two row stripes; a halo read spans both.
    check(
        add("a", fm("sram", 32, HALF), HALF),  # rows 0: [32, 40)
        add("a", fm("sram", 40, HALF), HALF),  # row 1: [40, 48)
        output(36, (1, 1, 2, 4)),  # [36, 44): the end of one stripe, the start of the next
        output(32),
    )


def test_a_layers_stripes_and_another_result_are_read_together_as_slices():
    # "a" writes [32, 48) in two stripes, "b" the 4 bytes after: a read of all 20 is a concat of two results.
    check(
        add("a", fm("sram", 32, HALF), HALF),
        add("a", fm("sram", 40, HALF), HALF),
        add("b", fm("sram", 48, QUARTER), QUARTER),
        output(32, (1, 5, 1, 4)),
    )


def test_a_layer_rewriting_its_own_bytes_starts_a_new_result():
    # The second "a" command overwrites part of the first's bytes (a softmax step rewriting its scratch):
    # not a further stripe, so a read of the first result's bytes sees them overwritten.
    with pytest.raises(MemoryHazardError, match=r"the result of command 6, a \(npu.elementwise\), but command 7, a \(npu.elementwise\) overwrote part of it before$"):
        check(add("a", fm("sram", 32, SHAPE)), add("a", fm("sram", 40, HALF), HALF), output(32))


def test_only_ofm_writes_are_stripes():
    # A DMA of layer "a" next to a's OFM (its weights, staged) is not part of a's result.
    with pytest.raises(MemoryHazardError, match=r"which command 6, a \(npu.elementwise\) wrote only in part"):
        check(add("a", fm("sram", 32, HALF), HALF), dma("a", ("sram", 0), ("sram", 40), 8), output(36, (1, 1, 2, 4)))


def test_stripes_of_another_layer_do_not_join_a_result():
    with pytest.raises(MemoryHazardError, match=r"which command 6, a \(npu.elementwise\) wrote only in part"):
        check(
            add("a", fm("sram", 32, HALF), HALF),  # [32, 40)
            add("b", fm("sram", 40, SHAPE)),  # [40, 56)
            output(36, (1, 1, 2, 4)),  # [36, 44)
        )


def test_every_later_writer_of_a_result_is_named():
    with pytest.raises(MemoryHazardError, match=r"the result of command 6, a \(npu.elementwise\), but command 7, b \(npu.elementwise\); command 8, c \(npu.elementwise\) overwrote part of it before$"):
        check(
            add("a", fm("sram", 32, SHAPE)),  # [32, 48)
            add("b", fm("sram", 32, QUARTER), QUARTER),  # [32, 36)
            add("c", fm("sram", 44, QUARTER), QUARTER),  # [44, 48)
            output(32),
        )


def test_only_the_unwritten_bytes_of_a_read_are_named():
    # [0, 16) is the first input's, the program's first write; [32, 48) nobody's.
    with pytest.raises(MemoryHazardError, match=r"reads its output at sram \[0, 48\), but nothing wrote sram \[32, 48\) before$"):
        check(output(0, (1, 3, 4, 4)))


def test_an_ofm_over_a_later_operand_is_found_past_operands_in_other_memories():
    ifm_in_flash = fm("flash", 0, SHAPE)
    with pytest.raises(MemoryHazardError, match=r"writes its ofm at sram \[20, 36\) over its ifm2 at sram \[16, 32\)"):
        check(
            "npu.constant {buffer = #npu.buf<flash, 0, 16>, value = dense<1> : tensor<1x2x2x4xi8>}",
            add("a", fm("sram", 20, SHAPE)).replace(fm("sram", 0, SHAPE), ifm_in_flash),
        )


def test_a_dma_names_its_source_and_destination():
    with pytest.raises(MemoryHazardError, match=r"^command 6, w \(npu.dma\) reads its src at flash \[0, 16\), but nothing wrote flash \[0, 16\) before$"):
        check(dma("w", ("flash", 0), ("sram", 64), 16))
    with pytest.raises(MemoryHazardError, match=r"^command 6, w \(npu.dma\) writes its dst at sram \[8, 24\) over its src at sram \[0, 16\) \(sram \[8, 16\)\), which it is still reading$"):
        check(dma("w", ("sram", 0), ("sram", 8), 16))


def cpu(second_input: int, output: int) -> str:
    """A CPU op reading the first input and the map at `second_input`, writing `output`."""
    tensor = f"tensor<1x2x2x4x{INT8}>"
    return (
        f'npu.cpu_op attributes {{layer = "cpu", inputs = [{fm("sram", 0, SHAPE)}, {fm("sram", second_input, SHAPE)}], '
        f'outputs = [{fm("sram", output, SHAPE)}]}} {{\n^bb0(%a : {tensor}, %b : {tensor}):\n  npu.yield %b : {tensor}\n}}'
    )


def test_a_cpu_op_names_its_numbered_inputs_and_outputs():
    with pytest.raises(MemoryHazardError, match=r"cpu \(npu.cpu_op\) reads its input 1 at sram \[200, 216\), but nothing wrote"):
        check(cpu(200, 32))
    with pytest.raises(MemoryHazardError, match=r"cpu \(npu.cpu_op\) writes its output 0 at sram \[16, 32\) over its input 1 at sram \[16, 32\)"):
        check(cpu(16, 16))


@pytest.mark.parametrize("role", ["scale_bias", "lut"])
def test_scale_bias_and_lookup_tables_are_reads(role):
    conv = (
        f'npu.conv2d {{layer = "conv", ifm = {fm("sram", 0, SHAPE)}, ofm = {fm("sram", 32, SHAPE)}, '
        f"weights = #npu.buf<flash, 0, 16>, scale_bias = #npu.buf<flash, 64, 48>, kernel = {ints((1, 1))}, "
        f"strides = {ints((1, 1))}, dilations = {ints((1, 1))}, padding = {ints((0, 0, 0, 0))}, "
        f"act_min = -128 : i32, act_max = 127 : i32, block = {ints((2, 2, 8))}}}"
    )
    table = (
        f'npu.elementwise {{layer = "exp", kind = "add", ifm = {fm("sram", 0, SHAPE)}, ifm2 = {fm("sram", 16, SHAPE)}, '
        f"ofm = {fm('sram', 32, SHAPE)}, act_min = -128 : i32, act_max = 127 : i32, rescale = {ints((1, 0))}, "
        f'rounding = "half_up", lut = #npu.buf<flash, 64, 256>, block = {ints((2, 2, 8))}}}'
    )
    weights = "npu.constant {buffer = #npu.buf<flash, 0, 16>, value = dense<1> : tensor<4x1x1x4xi8>}"
    with pytest.raises(MemoryHazardError, match=rf"reads its {role} at flash \[64, \d+\), but nothing wrote flash"):
        check(weights, conv if role == "scale_bias" else table)


def test_a_region_past_npucs_memory_limit_is_refused_before_it_is_mapped():
    """The check keeps OWNER_BYTES per byte of a region: the furthest location decides, named by its command."""
    offset = MEMORY_LIMIT_BYTES // OWNER_BYTES
    with pytest.raises(MemoryLimitError, match=rf"^command 6, far \(npu.elementwise\): its ofm ends at sram byte {offset + 16}, "
                                               r"and mapping sram that far would take \d+ bytes, beyond npuc's limit"):  # fmt: skip
        check(add("far", fm("sram", offset, SHAPE)))


def test_only_program_commands_are_checked():
    module = program_of()
    module.body.block.add_op(FuncOp("main", ((), ())))
    with pytest.raises(MemoryHazardError, match=r"^hazard check: 'func.func' is not an npu program command$"):
        check_program(module)


def test_a_dma_over_staged_weights_still_to_be_read_is_a_hazard():
    weights = "#npu.buf<sram, 64, 16>"
    conv = (
        f'npu.conv2d {{layer = "conv", ifm = {fm("sram", 0, SHAPE)}, ofm = {fm("sram", 32, SHAPE)}, '
        f"weights = {weights}, scale_bias = #npu.buf<flash, 32, 48>, kernel = {ints((1, 1))}, "
        f"strides = {ints((1, 1))}, dilations = {ints((1, 1))}, padding = {ints((0, 0, 0, 0))}, "
        f"act_min = -128 : i32, act_max = 127 : i32, block = {ints((2, 2, 8))}}}"
    )
    constants = [
        "npu.constant {buffer = #npu.buf<flash, 0, 16>, value = dense<1> : tensor<4x1x1x4xi8>}",
        "npu.constant {buffer = #npu.buf<flash, 32, 48>, value = dense<0> : tensor<4x3xi32>}",
    ]
    check(*constants, dma("conv", ("flash", 0), ("sram", 64), 16), conv)
    with pytest.raises(MemoryHazardError, match=r"conv \(npu.conv2d\) reads its weights at sram \[64, 80\), the result of command 8, conv \(npu.dma\), but command 9, next \(npu.dma\) overwrote part of it"):
        check(*constants, dma("conv", ("flash", 0), ("sram", 64), 16), dma("next", ("flash", 0), ("sram", 72), 8), conv)


def test_strided_feature_maps_cover_their_elements_only():
    int8, int32 = UniformQuantizedType(i8, [0.1], [-3]), UniformQuantizedType(i32, [1.0], [0])
    assert list(byte_addresses(npu.FeatureMapAttr("sram", 10, (1, 2, 1, 3), (24, 12, 12, 4), int8))) == [
        10, 14, 18, 22, 26, 30,
    ]  # fmt: skip
    four_bytes = byte_addresses(npu.FeatureMapAttr("sram", 0, (1, 2), (8, 8), int32))
    assert list(four_bytes) == [0, 1, 2, 3, 8, 9, 10, 11]


def test_compiled_tiny_cnn_is_clean_and_its_conv_over_its_ifm_is_not():
    module = npuc.import_model(EXAMPLES / "tiny_cnn.onnx")
    calibration = [np.load(EXAMPLES / "tiny_cnn_calib.npy").transpose(0, 2, 3, 1)]
    compiled = npuc.compile_model(module, "ethos-u55-128", calibration).module
    check_program(compiled)
    conv = next(op for op in compiled.ops if isinstance(op, npu.Conv2dOp))
    conv.ofm = npu.FeatureMapAttr(conv.ifm.region.data, conv.ifm.offset.data, conv.ofm.shape_values(),
                                  conv.ofm.stride_values(), conv.ofm.element_type)  # fmt: skip
    with pytest.raises(MemoryHazardError, match=r"writes its ofm at sram .* over its ifm"):
        check_program(compiled)


def test_every_command_reads_and_writes_its_operands_by_role():
    copy = dma("copy", ("flash", 0), ("sram", 32), 4)
    module = program(
        "npu.constant {buffer = #npu.buf<flash, 0, 4>, value = dense<1> : tensor<4xi8>}",
        f'npu.input {{tensor = "x", fm = {fm("sram", 0, SHAPE)}}}',
        copy,
        f'npu.output {{tensor = "y", fm = {fm("sram", 32, QUARTER)}}}',
    )
    constant, source, move, sink = module.ops
    assert isinstance(constant, npu.ConstantOp) and isinstance(source, npu.InputOp)
    assert isinstance(move, npu.DmaOp) and isinstance(sink, npu.OutputOp)
    assert accesses(constant) == ([], [Access("constant", constant.buffer)])
    assert accesses(source) == ([], [Access("input", source.fm)])
    assert accesses(move) == ([Access("src", move.src)], [Access("dst", move.dst)])
    assert accesses(sink) == ([Access("output", sink.fm)], [])
