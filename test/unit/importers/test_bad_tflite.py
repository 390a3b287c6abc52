"""Malformed TFLite models: each is refused with one `NpucError` line naming the file and the culprit.

Where the case claims TFLite refuses the model too, LiteRT (`ai_edge_litert`)
loads it first and must fail, so npuc is never stricter than the runtime by
accident. Models are built with npuc's TFLite writer
(`tflite_models.builder`) and, for corruptions the writer cannot express,
patched byte by byte.
"""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest
import tflite
from ai_edge_litert.interpreter import Interpreter
from flatbuffers.table import Table

from npuc.errors import ModelFormatError, ModelVerificationError, NpucError
from npuc.importers.tflite.importer import import_tflite_bytes

from tflite_models.builder import TensorSpec, build_model, reference_interpreter

I8 = {"dtype": np.int8, "scale": [0.05], "zero_point": [-3]}
"""An int8 activation quantized per tensor."""

CHANNELS = 4


def conv_model(
    ifm: dict | None = None, bias_scales: int = CHANNELS, weight_zero_points: int = CHANNELS,
    inputs: tuple[int, ...] = (0, 1, 2), outputs: tuple[int, ...] = (3,), **options: float,
) -> bytes:
    """A valid 3x3 VALID CONV_2D model, unless the arguments spoil one of its parts."""
    rng = np.random.default_rng(0)
    weights = rng.integers(-5, 5, (CHANNELS, 3, 3, 3)).astype(np.int8)
    fields = {"Padding": tflite.Padding.VALID, "StrideH": 1, "StrideW": 1, **options}
    return build_model(
        "CONV_2D",
        [
            TensorSpec([1, 5, 5, 3], **(ifm or I8), name="image"),
            TensorSpec([CHANNELS, 3, 3, 3], np.int8, [0.1] * CHANNELS, [0] * weight_zero_points, 0, weights, "weights"),
            TensorSpec([CHANNELS], np.int32, [0.005] * bias_scales, [0] * bias_scales, 0,
                       np.zeros(CHANNELS, np.int32), "bias"),
            TensorSpec([1, 3, 3, CHANNELS], **I8, name="features"),
        ],
        list(inputs), list(outputs), "Conv2DOptions", **fields,
    )  # fmt: skip


def litert_refuses(model: bytes) -> bool:
    """Whether LiteRT fails to load and allocate the model."""
    try:
        reference_interpreter(model)
    except (ValueError, RuntimeError):
        return True
    return False


def refuse(model: bytes, match: str) -> str:
    """Import `model`, expect `ModelFormatError` matching `match`; return its message."""
    with pytest.raises(ModelFormatError, match=match) as caught:
        import_tflite_bytes(model, "bad.tflite")
    message = str(caught.value)
    assert message.startswith("bad.tflite: ") and "\n" not in message
    return message


def test_the_base_model_is_valid() -> None:
    """The models below differ from this one by the corruption they test."""
    import_tflite_bytes(conv_model(), "good.tflite")
    assert not litert_refuses(conv_model())


# -- the flatbuffer ---------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 2, 4, 8, 100])
def test_a_truncated_file_is_refused(cut: int) -> None:
    # The last bytes hold the first objects written (buffer 0's empty table), which npuc never reads.
    model = conv_model()[:-cut]
    assert litert_refuses(model)
    refuse(model, "truncated or corrupt")


@pytest.mark.parametrize("back", [4, 8, 16, 200])
def test_bytes_inserted_are_refused(back: int) -> None:
    data = conv_model()
    model = data[:-back] + b"\x01\x02\x03" + data[-back:]
    with pytest.raises(ValueError):
        Interpreter(model_content=model)
    refuse(model, "not a valid TFLite model")


def test_an_offset_outside_the_file_is_named_with_its_byte() -> None:
    data = bytearray(conv_model())
    data[0:4] = struct.pack("<I", len(data) + 64)  # the root table offset
    refuse(bytes(data), r"root offset at byte 0 reaches outside the file|Model table at byte \d+ reaches outside")


def _options_table(model: bytes) -> tuple[int, int]:
    """(position, vtable position) of operator 0's builtin options table."""
    table = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0).Operators(0).BuiltinOptions()
    return table.Pos, table.Pos - struct.unpack_from("<i", model, table.Pos)[0]


def patched(model: bytes, table: Table, slot: int, fmt: str, value: int) -> bytes:
    """`model` with field `slot` of the table at `table` set to `value` (the field must be present)."""
    vtable = table.Pos - struct.unpack_from("<i", model, table.Pos)[0]
    (field,) = struct.unpack_from("<H", model, vtable + 4 + 2 * slot)
    assert field, f"field {slot} is absent"
    patched_model = bytearray(model)
    struct.pack_into(fmt, patched_model, table.Pos + field, value)
    return bytes(patched_model)


def test_another_schema_version_is_refused() -> None:
    model = conv_model()
    root = tflite.Model.GetRootAsModel(model, 0)
    model = patched(model, root._tab, 0, "<I", 4)
    assert litert_refuses(model)
    refuse(model, "TFLite schema version 4, not 3")


def test_a_buffer_index_outside_the_buffers_is_refused() -> None:
    model = conv_model()
    weights = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0).Tensors(1)
    model = patched(model, weights._tab, 2, "<I", 99)
    assert litert_refuses(model)
    refuse(model, "a tensor refers to buffer 99 of")


def test_an_operator_code_beyond_the_builtins_is_refused() -> None:
    model = conv_model()
    code = tflite.Model.GetRootAsModel(model, 0).OperatorCodes(0)
    model = patched(model, code._tab, 3, "<i", 9999)
    assert litert_refuses(model)
    refuse(model, "operator code 9999 is no TFLite builtin operator")


def test_an_options_field_outside_the_file_is_refused() -> None:
    model = bytearray(conv_model())
    position, vtable = _options_table(bytes(model))
    slot_of_stride_w = 2  # Conv2DOptions: padding, stride_w, stride_h, ...
    struct.pack_into("<H", model, vtable + 4 + 2 * slot_of_stride_w, len(model) - position + 16)
    refuse(bytes(model), r"operator 'features' \(CONV_2D\): its builtin options table is corrupt")


def test_options_of_another_operator_are_refused() -> None:
    model = build_model(
        "CONV_2D",
        [TensorSpec([1, 5, 5, 3], **I8), TensorSpec([4, 3, 3, 3], np.int8, [0.1] * 4, [0] * 4, 0, np.ones((4, 3, 3, 3), np.int8)),
         TensorSpec([4], np.int32, [0.005] * 4, [0] * 4, 0, np.zeros(4, np.int32)), TensorSpec([1, 3, 3, 4], **I8)],
        [0, 1, 2], [3], "SoftmaxOptions", Beta=1.0,
    )  # fmt: skip
    assert litert_refuses(model)
    refuse(model, "its builtin options are SoftmaxOptions, which have no StrideH")


def test_a_missing_required_input_is_refused() -> None:
    model = build_model("CONV_2D", [TensorSpec([1, 5, 5, 3], **I8), TensorSpec([1, 3, 3, 4], **I8)], [0], [1],
                        "Conv2DOptions", StrideH=1, StrideW=1)  # fmt: skip
    assert litert_refuses(model)
    refuse(model, r"operator 't1' \(CONV_2D\): inputs \[0\]: the first 3 must be present")


def test_a_filter_depth_not_dividing_the_ifm_depth_is_refused() -> None:
    """A filter 3 deep over 4 channels makes no groups (a grouped CONV_2D's filter divides the ifm depth)."""
    model = build_model(
        "CONV_2D",
        [
            TensorSpec([1, 5, 5, 4], **I8, name="image"),
            TensorSpec([CHANNELS, 3, 3, 3], np.int8, [0.1] * CHANNELS, [0] * CHANNELS, 0,
                       np.ones((CHANNELS, 3, 3, 3), np.int8), "weights"),
            TensorSpec([CHANNELS], np.int32, [0.005] * CHANNELS, [0] * CHANNELS, 0, np.zeros(CHANNELS, np.int32), "bias"),
            TensorSpec([1, 3, 3, CHANNELS], **I8, name="features"),
        ],
        [0, 1, 2], [3], "Conv2DOptions", Padding=tflite.Padding.VALID, StrideH=1, StrideW=1,
    )  # fmt: skip
    assert litert_refuses(model)
    refuse(model, r"operator 'features' \(CONV_2D\): filter depth 3 does not divide the ifm depth 4")


def test_a_conv_without_its_bias_is_refused() -> None:
    """LiteRT's CONV_2D needs its bias, absent (-1) or left out."""
    for inputs in ((0, 1), (0, 1, -1)):
        model = conv_model(inputs=inputs)
        assert litert_refuses(model)
        refuse(model, r"operator 'features' \(CONV_2D\): inputs \[0, 1.*\]: the first 3 must be present")


def test_an_input_too_many_is_refused() -> None:
    model = conv_model(inputs=(0, 1, 2, 2))
    assert litert_refuses(model)
    refuse(model, r"\(CONV_2D\): inputs \[0, 1, 2, 2\]: 4 inputs, TFLite takes at most 3")


def test_a_second_output_is_refused() -> None:
    model = conv_model(outputs=(3, 3))
    assert litert_refuses(model)
    refuse(model, r"\(CONV_2D\): outputs \[3, 3\]: 2 outputs, TFLite takes 1")


def test_unpack_with_an_output_per_slice_too_many_is_refused() -> None:
    model = build_model(
        "UNPACK", [TensorSpec([2, 4], **I8), TensorSpec([4], **I8, name="a"), TensorSpec([4], **I8, name="b")],
        [0], [1, 2, 2], "UnpackOptions", Num=2, Axis=0,
    )  # fmt: skip
    assert litert_refuses(model)
    refuse(model, r"\(UNPACK\): 3 outputs for the 2 slices along axis 0")


def test_an_unknown_padding_kind_is_refused() -> None:
    refuse(conv_model(Padding=7), "padding 7 is neither SAME nor VALID")


# -- quantization parameters --------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "zero_point", "match"),
    [
        (0.0, 0, "scale 0.0 "),
        (-0.5, 0, "scale -0.5 "),
        (float("nan"), 0, "scale nan "),
        (0.5, 200, r"zero point 200 outside the int8 range \[-128, 127\]"),
    ],
)
def test_bad_quantization_parameters_name_the_tensor(scale: float, zero_point: int, match: str) -> None:
    refuse(conv_model(ifm={"dtype": np.int8, "scale": [scale], "zero_point": [zero_point]}), f"tensor 'image': .*{match}")


def test_a_bias_with_two_scales_for_four_channels_is_refused() -> None:
    model = conv_model(bias_scales=2)
    assert litert_refuses(model)
    refuse(model, "tensor 'bias': quantization with 2 scales for an axis of 4")


def test_scales_without_zero_points_are_refused() -> None:
    model = conv_model(weight_zero_points=0)
    assert litert_refuses(model)
    refuse(model, "tensor 'weights': quantization with 4 scales but 0 zero points")


def test_one_zero_point_for_four_scales_is_refused() -> None:
    model = conv_model(weight_zero_points=1)
    assert litert_refuses(model)
    refuse(model, "tensor 'weights': quantization with 4 scales but 1 zero points")


# -- operator options TFLite refuses ------------------------------------------------


def _softmax(beta: float) -> bytes:
    return build_model(
        "SOFTMAX", [TensorSpec([1, 8], **I8), TensorSpec([1, 8], np.int8, [1 / 256], [-128])], [0], [1],
        "SoftmaxOptions", Beta=beta,
    )  # fmt: skip


def test_softmax_with_a_nan_beta_is_refused() -> None:
    refuse(_softmax(float("nan")), r"operator 't1' \(SOFTMAX\): option Beta is nan")


@pytest.mark.parametrize("beta", [0.0, -1.0])
def test_softmax_with_a_beta_not_positive_is_refused(beta: float) -> None:
    with pytest.raises(ModelVerificationError, match=rf"operator 't1' \(SOFTMAX\): beta {beta} must be positive"):
        import_tflite_bytes(_softmax(beta), "bad.tflite")


@pytest.mark.parametrize("beta", [float("nan"), 0.0, -1.0])
def test_litert_cannot_run_softmax_with_such_a_beta(beta: float) -> None:
    """LiteRT aborts the process on it, so it loads the model in a child process."""
    script = (
        "import sys; from tflite_models.builder import reference_interpreter; "
        "reference_interpreter(sys.stdin.buffer.read())"
    )
    child = subprocess.run([sys.executable, "-c", script], input=_softmax(beta), capture_output=True,
                           cwd="test", check=False)  # fmt: skip
    assert child.returncode != 0


def _reshape(new_shape: list[int]) -> bytes:
    return build_model(
        "RESHAPE",
        [TensorSpec([1, 8], **I8), TensorSpec([2], np.int32, data=np.array(new_shape, np.int32)), TensorSpec([2, 4], **I8)],
        [0, 1], [2], "ReshapeOptions",
    )  # fmt: skip


def test_reshape_to_two_inferred_extents_is_refused() -> None:
    model = _reshape([-1, -1])
    assert litert_refuses(model)
    refuse(model, r"operator 't2' \(RESHAPE\): new shape \[-1, -1\]")


def test_reshape_with_one_inferred_extent_imports() -> None:
    import_tflite_bytes(_reshape([-1, 4]), "reshape.tflite")


def _split(num_splits: int) -> bytes:
    pieces = [TensorSpec([1, 4], **I8) for _ in range(2)]
    return build_model(
        "SPLIT", [TensorSpec([], np.int32, data=np.array(1, np.int32)), TensorSpec([1, 8], **I8), *pieces],
        [0, 1], [2, 3], "SplitOptions", NumSplits=num_splits,
    )  # fmt: skip


def test_split_whose_num_splits_is_not_its_output_count_is_refused() -> None:
    import_tflite_bytes(_split(2), "split.tflite")
    assert litert_refuses(_split(3))
    refuse(_split(3), r"operator 't2' \(SPLIT\): num_splits 3 but 2 outputs")


def _pack(values_count: int, second_scale: float = 0.05) -> bytes:
    second = {**I8, "scale": [second_scale]}
    return build_model(
        "PACK", [TensorSpec([1, 4], **I8), TensorSpec([1, 4], **second), TensorSpec([2, 1, 4], **I8)],
        [0, 1], [2], "PackOptions", ValuesCount=values_count, Axis=0,
    )  # fmt: skip


def test_pack_whose_values_count_is_not_its_input_count_is_refused() -> None:
    import_tflite_bytes(_pack(2), "pack.tflite")
    assert litert_refuses(_pack(3))
    refuse(_pack(3), r"operator 't2' \(PACK\): values_count 3 but 2 inputs")


def test_pack_of_inputs_quantized_unlike_its_output_is_refused() -> None:
    assert litert_refuses(_pack(2, second_scale=0.07))
    refuse(_pack(2, second_scale=0.07), "an input's quantization differs from the output's")


# -- messages -------------------------------------------------------------------------


def test_a_name_with_a_newline_stays_on_one_line() -> None:
    model = build_model("SOFTMAX", [TensorSpec([1, 8], **I8), TensorSpec([1, 8], np.int8, [1 / 256], [-128],
                                                                         name="probs\nEVIL")],
                        [0], [1], "SoftmaxOptions", Beta=float("inf"))  # fmt: skip
    message = refuse(model, "option Beta is inf")
    assert "'probs\\nEVIL'" in message


def test_every_failure_is_an_npuc_error() -> None:
    """A sweep: every truncation of a small model fails with an NpucError (or imports)."""
    data = conv_model()
    for end in range(0, len(data), 7):
        with pytest.raises(NpucError):
            import_tflite_bytes(data[:end], "cut.tflite")


def test_an_absent_operator_output_is_refused() -> None:
    model = build_model("SOFTMAX", [TensorSpec([1, 8], **I8), TensorSpec([1, 8], np.int8, [1 / 256], [-128])],
                        [0], [-1], "SoftmaxOptions", Beta=1.0)  # fmt: skip
    refuse(model, r"an operator has an absent \(-1\) output")
