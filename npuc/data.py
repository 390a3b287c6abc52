"""User data in and out of a model: the `.npy`/`.npz` conventions of npuc.

`npuc run`, `npuc quantize`, `npuc compile`, the `quantize` pass and the
library API all read samples and write outputs through this module, so one
convention holds everywhere:

- A model's *interface* is what its user sees: the IR shape of each
  `func.func @main` argument or result, transposed back to NCHW when its
  argument/result attributes carry `graph.layout = "NCHW"` (the IR itself is
  always NHWC). Float interfaces take `float32` data; integer ones (a model
  imported already quantized) take their storage dtype (`int8`, `int16`, ...).
- Samples: an array whose shape equals the interface shape is one sample; when
  the interface batch is 1, an array of shape `[N, *interface_shape[1:]]` is N
  samples stacked on the first axis. A `.npy` file feeds a model with one input;
  a `.npz` file holds one array per input, keyed by the input's `graph.name`
  (any model may use `.npz`; several inputs must, with the same N each).
- Outputs are written as one `.npy` (one result) or a `.npz` keyed by each
  result's `graph.name`, in interface layout.

Every mismatch raises `InputDataError` with one line naming the file, the
input and the expected versus actual shape or dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    Float32Type,
    IntegerType,
    StringAttr,
    TensorType,
)
from xdsl.dialects.func import FuncOp
from xdsl.ir import Attribute

from npuc.dialects.graph import layout_of
from npuc.dialects.quantized import quant_type
from npuc.errors import InputDataError

NAME_ATTR = "graph.name"
"""Argument/result attribute: the tensor's name in the original model."""

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


def _attribute_dicts(
    attrs: ArrayAttr[DictionaryAttr] | None, count: int
) -> list[dict[str, Attribute]]:
    if attrs is None:
        return [{} for _ in range(count)]
    return [dict(entry.data) for entry in attrs.data]


def arg_attributes(func: FuncOp) -> list[dict[str, Attribute]]:
    """The attribute dict of each function argument (empty when it has none)."""
    return _attribute_dicts(func.arg_attrs, len(func.function_type.inputs.data))


def result_attributes(func: FuncOp) -> list[dict[str, Attribute]]:
    """The attribute dict of each function result (empty when it has none)."""
    return _attribute_dicts(func.res_attrs, len(func.function_type.outputs.data))


def tensor_name(attributes: dict[str, Attribute], fallback: str) -> str:
    """The model tensor name recorded in an argument/result attribute dict."""
    attr = attributes.get(NAME_ATTR)
    return attr.data if isinstance(attr, StringAttr) else fallback


def interface_shape(ir_shape: Sequence[int], attributes: dict[str, Attribute]) -> tuple[int, ...]:
    """The shape the model's user sees for an IR (NHWC) shape and its attributes."""
    if layout_of(attributes) == "NCHW" and len(ir_shape) == 4:
        return tuple(ir_shape[axis] for axis in NHWC_TO_NCHW)
    return tuple(ir_shape)


def interface_dtype(tensor_type: Attribute) -> np.dtype:
    """The numpy dtype of user data for a function argument or result type."""
    assert isinstance(tensor_type, TensorType)
    qtype = quant_type(tensor_type)
    if qtype is not None:
        return qtype.numpy_dtype()
    element = tensor_type.element_type
    if isinstance(element, Float32Type):
        return np.dtype(np.float32)
    if isinstance(element, IntegerType):
        return np.dtype(f"int{element.width.data}")
    raise InputDataError(f"unsupported interface element type {element}")


def _to_ir_layout(array: np.ndarray, attributes: dict[str, Attribute]) -> np.ndarray:
    if layout_of(attributes) == "NCHW" and array.ndim == 4:
        return np.ascontiguousarray(array.transpose(NCHW_TO_NHWC))
    return array


def _to_interface_layout(array: np.ndarray, attributes: dict[str, Attribute]) -> np.ndarray:
    if layout_of(attributes) == "NCHW" and array.ndim == 4:
        return np.ascontiguousarray(array.transpose(NHWC_TO_NCHW))
    return array


def _read(path: str) -> dict[str, np.ndarray] | np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputDataError(f"{path}: cannot read as .npy/.npz: {reason}") from error
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        return {key: loaded[key] for key in loaded.files}


def _check_sample_array(
    path: str, name: str, array: np.ndarray, shape: tuple[int, ...], dtype: np.dtype
) -> None:
    stacked = (
        len(shape) >= 1
        and shape[0] == 1
        and array.ndim == len(shape)
        and array.shape[1:] == shape[1:]
        and array.shape[0] >= 1
    )
    if array.shape != shape and not stacked:
        expected = list(shape)
        if shape and shape[0] == 1:
            expected_text = f"{expected} or [N, {', '.join(map(str, shape[1:]))}]"
        else:
            expected_text = str(expected)
        raise InputDataError(
            f"{path}: input '{name}' expects shape {expected_text}, got {list(array.shape)}"
        )
    if array.dtype != dtype:
        raise InputDataError(
            f"{path}: input '{name}' expects dtype {dtype.name}, got {array.dtype.name}"
        )


def load_samples(path: str, func: FuncOp) -> list[np.ndarray]:
    """Read samples for `func`'s arguments from a `.npy` or `.npz` file.

    Checks each array's shape and dtype against the argument's interface (see
    the module docstring for the convention) and returns one array per
    argument in IR layout (NHWC), N samples stacked on axis 0.
    """
    arg_types = func.function_type.inputs.data
    arg_attrs = arg_attributes(func)
    names = [tensor_name(attrs, f"arg{index}") for index, attrs in enumerate(arg_attrs)]
    content = _read(path)
    if isinstance(content, np.ndarray):
        if len(arg_types) != 1:
            raise InputDataError(
                f"{path}: the model has {len(arg_types)} inputs; give an .npz keyed by "
                f"input name ({', '.join(names)})"
            )
        arrays = [content]
    else:
        missing = [name for name in names if name not in content]
        if missing:
            raise InputDataError(
                f"{path}: no array for input(s) {', '.join(repr(n) for n in missing)} "
                f"(file has {', '.join(repr(k) for k in content) or 'no arrays'})"
            )
        arrays = [content[name] for name in names]
    samples = []
    for array, name, arg_type, attrs in zip(arrays, names, arg_types, arg_attrs):
        assert isinstance(arg_type, TensorType)
        shape = interface_shape(arg_type.get_shape(), attrs)
        _check_sample_array(path, name, array, shape, interface_dtype(arg_type))
        samples.append(_to_ir_layout(array, attrs))
    counts = {len(sample) for sample in samples}
    if len(counts) > 1:
        listed = ", ".join(f"'{n}': {len(s)}" for n, s in zip(names, samples))
        raise InputDataError(f"{path}: inputs have different sample counts ({listed})")
    return samples


def to_interface(outputs: Sequence[np.ndarray], func: FuncOp) -> list[np.ndarray]:
    """Convert `func`'s outputs from IR layout (NHWC) to its interface layout."""
    return [
        _to_interface_layout(output, attrs)
        for output, attrs in zip(outputs, result_attributes(func))
    ]


def save_outputs(path: str, outputs: Sequence[np.ndarray], func: FuncOp) -> None:
    """Write interface-layout outputs: `.npy` for one result, `.npz` by result name.

    A model with several results needs a `.npz` path; `outputs` are expected
    already in interface layout (see `to_interface`).
    """
    names = [
        tensor_name(attrs, f"result{index}")
        for index, attrs in enumerate(result_attributes(func))
    ]
    is_npz = Path(path).suffix == ".npz"
    if len(outputs) != 1 and not is_npz:
        raise InputDataError(
            f"{path}: the model has {len(outputs)} outputs; write them to an .npz file"
        )
    try:
        if is_npz:
            np.savez(path, **dict(zip(names, outputs)))
        else:
            np.save(path, outputs[0])
    except OSError as error:
        raise InputDataError(f"{path}: cannot write outputs: {error.strerror}") from error
