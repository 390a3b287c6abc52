"""The TFLite flatbuffer writer, read back with the `tflite` package's generated reader.

The per-operator test models are written by it too (`tflite_models/builder.py`),
and a test checks they equal the committed files byte for byte.
"""

from __future__ import annotations

import numpy as np
import tflite

from npuc.emit.tflite.flatbuffer import (
    BUFFER_ALIGNMENT,
    Model,
    Operator,
    Options,
    Quantization,
    Subgraph,
    Tensor,
    serialize,
)


def _model() -> Model:
    weights = np.arange(-6, 6, dtype=np.int8).reshape(3, 1, 1, 4)
    tensors = (
        Tensor("input", (1, 2, 2, 4), tflite.TensorType.INT8, Quantization((0.5,), (-3,))),
        Tensor("weights", (3, 1, 1, 4), tflite.TensorType.INT8, Quantization((0.1, 0.2, 0.3), (0, 0, 0), 0),
               weights.tobytes()),
        Tensor("conv", (1, 2, 2, 3), tflite.TensorType.INT8, Quantization((0.25,), (1,))),
        Tensor("output", (1, 2, 2, 3), tflite.TensorType.INT8, Quantization((0.25,), (1,))),
        Tensor("big", (4,), tflite.TensorType.UINT8, None, b"\x01\x02\x03\x04"),
    )
    operators = (
        Operator("CONV_2D", (0, 1, -1), (2,), Options("Conv2DOptions", {"StrideH": 1, "StrideW": 1})),
        Operator("my-op", (2, 4), (3,), custom=True, custom_options=b"\x01\x04\x01"),
        Operator("CONV_2D", (0, 1, -1), (2,)),
        Operator("GELU", (3,), (3,)),
    )
    return Model((Subgraph(tensors, operators, (0,), (3,)),), "a test", (("OfflineMemoryAllocation", b"\x00" * 8),))


def test_tensors_keep_their_shapes_types_quantization_and_data() -> None:
    flatbuffer = tflite.Model.GetRootAsModel(serialize(_model()), 0)
    subgraph = flatbuffer.Subgraphs(0)
    weights = subgraph.Tensors(1)
    assert weights.Name() == b"weights" and list(weights.ShapeAsNumpy()) == [3, 1, 1, 4]
    assert weights.Type() == tflite.TensorType.INT8
    quantization = weights.Quantization()
    assert list(quantization.ScaleAsNumpy()) == list(np.float32([0.1, 0.2, 0.3]))
    assert list(quantization.ZeroPointAsNumpy()) == [0, 0, 0] and quantization.QuantizedDimension() == 0
    data = flatbuffer.Buffers(weights.Buffer()).DataAsNumpy().tobytes()
    assert data == np.arange(-6, 6, dtype=np.int8).tobytes()
    assert subgraph.Tensors(0).Buffer() == 0 and flatbuffer.Buffers(0).DataLength() == 0
    assert list(subgraph.InputsAsNumpy()) == [0] and list(subgraph.OutputsAsNumpy()) == [3]


def test_constant_data_starts_on_a_16_byte_boundary_of_the_file() -> None:
    data = serialize(_model())
    for payload in (np.arange(-6, 6, dtype=np.int8).tobytes(), b"\x01\x02\x03\x04"):
        assert data.index(payload) % BUFFER_ALIGNMENT == 0


def test_operator_codes_are_listed_once_in_first_use_order() -> None:
    flatbuffer = tflite.Model.GetRootAsModel(serialize(_model()), 0)
    codes = [flatbuffer.OperatorCodes(i) for i in range(flatbuffer.OperatorCodesLength())]
    assert [(code.BuiltinCode(), code.CustomCode()) for code in codes] == [
        (tflite.BuiltinOperator.CONV_2D, None), (tflite.BuiltinOperator.CUSTOM, b"my-op"),
        (tflite.BuiltinOperator.GELU, None),
    ]
    # codes above 127 keep the int8 deprecated field at its placeholder
    assert codes[2].DeprecatedBuiltinCode() == 127 < tflite.BuiltinOperator.GELU
    subgraph = flatbuffer.Subgraphs(0)
    assert [subgraph.Operators(i).OpcodeIndex() for i in range(subgraph.OperatorsLength())] == [0, 1, 0, 2]


def test_builtin_options_and_custom_options_are_the_operators_own() -> None:
    subgraph = tflite.Model.GetRootAsModel(serialize(_model()), 0).Subgraphs(0)
    conv, custom, plain = subgraph.Operators(0), subgraph.Operators(1), subgraph.Operators(2)
    assert conv.BuiltinOptionsType() == tflite.BuiltinOptions.Conv2DOptions
    assert list(conv.InputsAsNumpy()) == [0, 1, -1]
    assert custom.CustomOptionsAsNumpy().tobytes() == b"\x01\x04\x01" and custom.BuiltinOptionsType() == 0
    assert plain.BuiltinOptionsType() == 0 and plain.CustomOptionsLength() == 0


def test_metadata_names_a_buffer_of_its_own() -> None:
    flatbuffer = tflite.Model.GetRootAsModel(serialize(_model()), 0)
    assert flatbuffer.MetadataLength() == 1 and flatbuffer.Metadata(0).Name() == b"OfflineMemoryAllocation"
    buffer = flatbuffer.Metadata(0).Buffer()
    assert buffer not in {flatbuffer.Subgraphs(0).Tensors(i).Buffer() for i in range(5)}
    assert flatbuffer.Buffers(buffer).DataAsNumpy().tobytes() == b"\x00" * 8
    assert flatbuffer.Description() == b"a test" and flatbuffer.Version() == 3


def test_a_second_subgraph_has_tensors_of_its_own_and_shares_buffers_and_codes() -> None:
    main = _model().subgraphs[0]
    second = Subgraph((Tensor("x", (2,), tflite.TensorType.INT8, None, b"\x05\x06"),
                       Tensor("y", (2,), tflite.TensorType.INT8)), (Operator("GELU", (0,), (1,)),), (), (1,), "other")
    flatbuffer = tflite.Model.GetRootAsModel(serialize(Model((main, second))), 0)
    assert flatbuffer.SubgraphsLength() == 2 and flatbuffer.Subgraphs(1).Name() == b"other"
    assert flatbuffer.Subgraphs(1).TensorsLength() == 2
    constant = flatbuffer.Subgraphs(1).Tensors(0)
    assert flatbuffer.Buffers(constant.Buffer()).DataAsNumpy().tobytes() == b"\x05\x06"
    assert flatbuffer.OperatorCodesLength() == 3  # GELU is listed once for both subgraphs
    assert flatbuffer.Subgraphs(1).Operators(0).OpcodeIndex() == 2
