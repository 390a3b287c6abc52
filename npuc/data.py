"""User data in and out of a model: the `.npy`/`.npz` conventions of npuc.

`npuc run`, `npuc quantize`, `npuc compile`, the `quantize` pass and the
library API all read samples and write outputs through this module, so one
convention holds everywhere:

- A model's *interface* (`model_interface`) is what its user sees: the IR
  shape of each `func.func @main` argument or result (or of each `npu.input` /
  `npu.output` of a lowered program), transposed back to NCHW when it carries
  `graph.layout = "NCHW"` (the IR itself is always NHWC). Float interfaces take `float32` data; integer ones (a model
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

import math
import os
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from xdsl.dialects.builtin import Float32Type, IntegerType, ModuleOp, TensorType
from xdsl.ir import Attribute

from npuc.dialects import npu
from npuc.dialects.common import layout_of
from npuc.dialects.quantized import quant_type
from npuc.errors import InputDataError, check_memory, writing
from npuc.ir import arg_attributes, main_function, result_attributes, tensor_name

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


@dataclass(frozen=True)
class TensorInterface:
    """One input or output as the model's user sees it."""

    name: str
    ir_shape: tuple[int, ...]
    dtype: np.dtype
    layout: str

    @property
    def shape(self) -> tuple[int, ...]:
        """The interface shape: the IR (NHWC) shape, as NCHW for an NCHW interface."""
        if self.layout == "NCHW" and len(self.ir_shape) == 4:
            return tuple(self.ir_shape[axis] for axis in NHWC_TO_NCHW)
        return self.ir_shape

    def to_ir_layout(self, array: np.ndarray) -> np.ndarray:
        """User data (interface layout) in the IR's NHWC layout."""
        if self.layout == "NCHW" and array.ndim == 4:
            return np.ascontiguousarray(array.transpose(NCHW_TO_NHWC))
        return array

    def to_interface_layout(self, array: np.ndarray) -> np.ndarray:
        """IR-layout data in the layout the user sees."""
        if self.layout == "NCHW" and array.ndim == 4:
            return np.ascontiguousarray(array.transpose(NHWC_TO_NCHW))
        return array


@dataclass(frozen=True)
class ModelInterface:
    """The inputs and outputs of a model, in order."""

    inputs: tuple[TensorInterface, ...]
    outputs: tuple[TensorInterface, ...]


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


def _function_tensors(
    types: Sequence[Attribute], attributes: list[dict[str, Attribute]], prefix: str
) -> tuple[TensorInterface, ...]:
    tensors = []
    for index, (tensor_type, attrs) in enumerate(zip(types, attributes)):
        assert isinstance(tensor_type, TensorType)
        tensors.append(
            TensorInterface(
                tensor_name(attrs, f"{prefix}{index}"),
                tuple(tensor_type.get_shape()),
                interface_dtype(tensor_type),
                layout_of(attrs),
            )
        )
    return tuple(tensors)


def _program_tensor(op: npu.InterfaceOp) -> TensorInterface:
    qtype = op.fm.element_type
    converted = op.host_conversion is not None
    return TensorInterface(
        op.tensor.data,
        op.fm.shape_values(),
        np.dtype(np.float32) if converted else qtype.numpy_dtype(),
        op.layout.data if op.layout is not None else "NHWC",
    )


def model_interface(module: ModuleOp) -> ModelInterface:
    """The interface of a model: from `@main`, or from a lowered npu program."""
    program_inputs = [op for op in module.ops if isinstance(op, npu.InputOp)]
    if program_inputs:
        outputs = [op for op in module.ops if isinstance(op, npu.OutputOp)]
        return ModelInterface(
            tuple(_program_tensor(op) for op in program_inputs),
            tuple(_program_tensor(op) for op in outputs),
        )
    func = main_function(module)
    return ModelInterface(
        _function_tensors(func.function_type.inputs.data, arg_attributes(func), "arg"),
        _function_tensors(func.function_type.outputs.data, result_attributes(func), "result"),
    )


NPY_MAGIC = b"\x93NUMPY"
"""How an `.npy` file (and each member of an `.npz` archive) starts."""

ZIP_MAGIC = b"PK"
"""How a zip archive (an `.npz` file) starts; a truncated one may have lost its end but not this."""

ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError)
"""What `zipfile` raises on a truncated, corrupt, encrypted or oddly compressed archive."""


def read_arrays(path: str) -> np.ndarray | dict[str, np.ndarray]:
    """The array of an `.npy` file, or the arrays of an `.npz` archive by name.

    Never unpickles (object arrays are refused) and checks each array's
    header before reading it: its shape times its item size must fit in
    the bytes the file holds and in `npuc.errors.MEMORY_LIMIT_BYTES`.
    Anything else than a readable `.npy`/`.npz` raises `InputDataError`
    naming the file and, in an archive, the member.
    """
    try:
        with open(path, "rb") as stream:
            start = stream.read(len(NPY_MAGIC))
            stream.seek(0)
            if start == NPY_MAGIC:
                return _read_npy(stream, os.fstat(stream.fileno()).st_size, path)
            if start.startswith(ZIP_MAGIC):
                return _read_npz(stream, path)
    except OSError as error:
        raise InputDataError(f"{path}: cannot read as .npy/.npz: {error.strerror or error}") from None
    raise InputDataError(f"{path}: cannot read as .npy/.npz: not a .npy or .npz file")


def _read_npz(stream: IO[bytes], where: str) -> dict[str, np.ndarray]:
    """Every member of an `.npz` archive, each an `.npy` array keyed by its name without `.npy`."""
    arrays = {}
    try:
        with zipfile.ZipFile(stream) as archive:
            for member in archive.infolist():
                name = member.filename.removesuffix(".npy")
                if name == member.filename:
                    raise InputDataError(f"{where}: member '{name}' is not an .npy array")
                with archive.open(member) as member_stream:
                    arrays[name] = _read_npy(member_stream, member.file_size, f"{where}: array '{name}'")
    except ZIP_ERRORS as error:
        raise InputDataError(f"{where}: not a readable .npz archive: {' '.join(str(error).split())}") from None
    return arrays


def _read_npy(stream: IO[bytes], file_size: int, where: str) -> np.ndarray:
    """The array of an `.npy` stream of `file_size` bytes, its header checked before any data is read."""
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except (ValueError, EOFError, SyntaxError, TypeError) as error:
        raise InputDataError(f"{where}: bad .npy header: {' '.join(str(error).split())}") from None
    if dtype.hasobject:
        raise InputDataError(f"{where}: holds Python objects (dtype {dtype}); npuc reads numeric arrays only")
    if any(extent < 0 for extent in shape):
        raise InputDataError(f"{where}: bad .npy header: negative extent in shape {list(shape)}")
    size_bytes = math.prod(shape) * dtype.itemsize
    check_memory(size_bytes, f"{where}: array of shape {list(shape)} ({dtype})")
    if size_bytes > file_size - stream.tell():
        raise InputDataError(
            f"{where}: truncated: shape {list(shape)} ({dtype}) needs {size_bytes} bytes of data, "
            f"the file holds {max(file_size - stream.tell(), 0)}"
        )
    stream.seek(0)
    try:
        return np.lib.format.read_array(stream, allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        raise InputDataError(f"{where}: cannot read the array: {' '.join(str(error).split())}") from None


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


def load_samples(path: str, interface: ModelInterface) -> list[np.ndarray]:
    """Read samples for a model's inputs from a `.npy` or `.npz` file.

    Checks each array's shape and dtype against the input's interface (see the
    module docstring for the convention) and returns one array per input in
    IR layout (NHWC), N samples stacked on axis 0.
    """
    inputs = interface.inputs
    names = [tensor.name for tensor in inputs]
    content = read_arrays(path)
    if isinstance(content, np.ndarray):
        if len(inputs) != 1:
            raise InputDataError(
                f"{path}: the model has {len(inputs)} inputs; give an .npz keyed by "
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
    for array, tensor in zip(arrays, inputs):
        _check_sample_array(path, tensor.name, array, tensor.shape, tensor.dtype)
        samples.append(tensor.to_ir_layout(array))
    counts = {sample_count(sample) for sample in samples}
    if len(counts) > 1:
        listed = ", ".join(f"'{n}': {len(s)}" for n, s in zip(names, samples))
        raise InputDataError(f"{path}: inputs have different sample counts ({listed})")
    return samples


def sample_count(samples: np.ndarray) -> int:
    """N of samples stacked on axis 0; a 0-D array (the one sample of a scalar input) holds one."""
    return samples.shape[0] if samples.ndim else 1


def first_samples(samples: Sequence[np.ndarray], count: int | None) -> list[np.ndarray]:
    """The first `count` samples (all if None) of each input's stacked samples; a 0-D sample as it is."""
    return [array[:count] if array.ndim else array for array in samples]


def to_interface(outputs: Sequence[np.ndarray], interface: ModelInterface) -> list[np.ndarray]:
    """Convert a model's outputs from IR layout (NHWC) to its interface layout."""
    return [
        tensor.to_interface_layout(output)
        for output, tensor in zip(outputs, interface.outputs)
    ]


def save_outputs(path: str, outputs: Sequence[np.ndarray], interface: ModelInterface) -> None:
    """Write interface-layout outputs: `.npy` for one result, `.npz` by result name.

    A model with several results needs a `.npz` path; `outputs` are expected
    already in interface layout (see `to_interface`).
    """
    names = [tensor.name for tensor in interface.outputs]
    is_npz = Path(path).suffix == ".npz"
    if len(outputs) != 1 and not is_npz:
        raise InputDataError(
            f"{path}: the model has {len(outputs)} outputs; write them to an .npz file"
        )
    with writing(path, "the outputs"):
        if is_npz:
            np.savez(path, allow_pickle=True, **dict(zip(names, outputs)))  # explicit: no output name can pass for the flag
        else:
            np.save(path, outputs[0])
