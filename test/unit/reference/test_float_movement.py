"""Float reference of the data-movement graph ops against onnxruntime.

Concat, split, slice, pad, resize (and ONNX Upsample), depth-to-space and
space-to-depth; feature maps are NCHW in ONNX and NHWC in the IR.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from npuc.dialects import graph
from npuc.dialects.movement import COORDINATE_MODES, NEAREST_MODES

from support.one_op import assert_close, nhwc, normal, run_onnx_node, run_op, tensor

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(99)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_concat_joins_along_an_axis(rng, axis):
    shapes = [[2, 3, 4] for _ in range(3)]
    for index, extent in enumerate((1, 3, 2)):
        shapes[index][axis] = extent
    pieces = {f"x{i}": normal(rng, *shape) for i, shape in enumerate(shapes)}
    (expected,) = run_onnx_node("Concat", pieces, axis=axis)
    (actual,) = run_op(
        lambda *values: graph.ConcatOp(values, tensor(expected.shape), axis), list(pieces.values())
    )
    assert_close(actual, expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_split_cuts_consecutive_pieces(rng, axis):
    x = normal(rng, 6, 6, 6)
    extents = np.array([2, 3, 1], np.int64)
    expected = run_onnx_node("Split", {"x": x}, {"split": extents}, outputs=3, axis=axis)
    actual = run_op(
        lambda v: graph.SplitOp(v, [tensor(piece.shape) for piece in expected], axis), [x]
    )
    assert len(actual) == 3
    for piece, reference in zip(actual, expected):
        assert_close(piece, reference)


SLICES = [
    (slice(1, 3), slice(None), slice(0, 6, 2)),
    (slice(None, None, -1), slice(4, 0, -2), slice(-2, None)),
    (slice(3, None, -2), slice(1, 4), slice(5, -7, -1)),
    (slice(0, 4, 3), slice(None, None, -3), slice(2, 3)),
]


def _onnx_bounds(python_slice: slice) -> tuple[int, int, int]:
    step = python_slice.step or 1
    start, stop = python_slice.start, python_slice.stop
    if start is None:
        start = 0 if step > 0 else INT64_MAX
    if stop is None:
        stop = INT64_MAX if step > 0 else INT64_MIN
    return start, stop, step


@pytest.mark.parametrize("slices", SLICES)
def test_slice_follows_python_range_semantics(rng, slices):
    x = normal(rng, 4, 5, 6)
    starts, ends, steps = zip(*(_onnx_bounds(s) for s in slices))
    bounds = {
        name: np.array(values, np.int64)
        for name, values in (("starts", starts), ("ends", ends), ("axes", (0, 1, 2)), ("steps", steps))
    }
    (expected,) = run_onnx_node("Slice", {"x": x}, bounds)
    np.testing.assert_array_equal(expected, x[slices])
    begin, end, strides = zip(*(s.indices(extent) for s, extent in zip(slices, x.shape)))
    (actual,) = run_op(
        lambda v: graph.SliceOp(v, tensor(expected.shape), begin, end, strides), [x]
    )
    assert_close(actual, expected)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("widths", [((0, 0), (1, 2), (2, 1)), ((1, 0), (0, 3), (0, 0))])
def test_pad_modes_match_onnx(rng, mode, widths):
    x = normal(rng, 2, 4, 5)
    onnx_pads = np.array([before for before, _ in widths] + [after for _, after in widths])
    initializers = {"pads": onnx_pads.astype(np.int64)}
    if mode == "constant":
        initializers["value"] = np.array(1.5, np.float32)
    (expected,) = run_onnx_node("Pad", {"x": x}, initializers, mode=mode)
    paddings = [width for pair in widths for width in pair]
    (actual,) = run_op(
        lambda v: graph.PadOp(v, tensor(expected.shape), paddings, mode, 1.5), [x]
    )
    assert_close(actual, expected)


OUTPUT_SIZES = [(8, 10), (3, 2), (6, 7), (1, 1)]


def _resize_case(rng, size, **attributes):
    x = normal(rng, 1, 3, 4, 5)
    sizes = np.array([1, 3, *size], np.int64)
    empty = np.zeros(0, np.float32)
    (expected,) = run_onnx_node(
        "Resize", {"x": x}, {"roi": empty, "scales": empty, "sizes": sizes}, **attributes
    )
    return nhwc(x), nhwc(expected)


@pytest.mark.parametrize(
    "coordinate_mode, nearest_mode", list(itertools.product(COORDINATE_MODES, NEAREST_MODES))
)
@pytest.mark.parametrize("size", OUTPUT_SIZES)
def test_nearest_resize_matches_onnx(rng, coordinate_mode, nearest_mode, size):
    x, expected = _resize_case(
        rng,
        size,
        mode="nearest",
        coordinate_transformation_mode=coordinate_mode,
        nearest_mode=nearest_mode,
    )
    (actual,) = run_op(
        lambda v: graph.ResizeOp(v, tensor(expected.shape), "nearest", coordinate_mode, nearest_mode),
        [x],
    )
    assert_close(actual, expected)


@pytest.mark.parametrize("coordinate_mode", COORDINATE_MODES)
@pytest.mark.parametrize("size", OUTPUT_SIZES)
def test_linear_resize_matches_onnx(rng, coordinate_mode, size):
    x, expected = _resize_case(
        rng, size, mode="linear", coordinate_transformation_mode=coordinate_mode
    )
    (actual,) = run_op(
        lambda v: graph.ResizeOp(v, tensor(expected.shape), "linear", coordinate_mode), [x]
    )
    assert_close(actual, expected)


@pytest.mark.parametrize(
    "onnx_mode, mode, nearest_mode", [("nearest", "nearest", "floor"), ("linear", "linear", "floor")]
)
def test_upsample_is_an_asymmetric_resize(rng, onnx_mode, mode, nearest_mode):
    """ONNX Upsample (opset 7-9) samples at out / scale: asymmetric, flooring for nearest."""
    x = normal(rng, 1, 2, 3, 4)
    scales = np.array([1, 1, 2, 3], np.float32)
    (expected,) = run_onnx_node("Upsample", {"x": x}, {"scales": scales}, opset=9, mode=onnx_mode)
    (actual,) = run_op(
        lambda v: graph.ResizeOp(v, tensor(nhwc(expected).shape), mode, "asymmetric", nearest_mode),
        [nhwc(x)],
    )
    assert_close(actual, nhwc(expected))


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("block", [2, 3])
def test_depth_to_space_modes_match_onnx(rng, mode, block):
    x = normal(rng, 2, 2 * block * block, 2, 3)
    (expected,) = run_onnx_node("DepthToSpace", {"x": x}, blocksize=block, mode=mode)
    (actual,) = run_op(
        lambda v: graph.DepthToSpaceOp(v, tensor(nhwc(expected).shape), block, mode), [nhwc(x)]
    )
    assert_close(actual, nhwc(expected))


def test_depth_to_space_dcr_is_tflite_order():
    """DCR: out[b, h*bs+i, w*bs+j, c] = in[b, h, w, (i*bs + j)*C + c]."""
    x = np.arange(1 * 1 * 1 * 8, dtype=np.float32).reshape(1, 1, 1, 8)
    (actual,) = run_op(lambda v: graph.DepthToSpaceOp(v, tensor((1, 2, 2, 2)), 2, "DCR"), [x])
    np.testing.assert_array_equal(actual[0, :, :, 0], [[0, 2], [4, 6]])
    np.testing.assert_array_equal(actual[0, :, :, 1], [[1, 3], [5, 7]])


@pytest.mark.parametrize("block, shape", [(2, (1, 2, 4, 6)), (3, (2, 3, 6, 3))])
def test_space_to_depth_matches_onnx(rng, block, shape):
    x = normal(rng, *shape)
    (expected,) = run_onnx_node("SpaceToDepth", {"x": x}, blocksize=block)
    (actual,) = run_op(
        lambda v: graph.SpaceToDepthOp(v, tensor(nhwc(expected).shape), block), [nhwc(x)]
    )
    assert_close(actual, nhwc(expected))
